"""The shipped taxonomy on NYT front-page items coded with CAP major topics, through the real ingest flow."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench import (BOOTSTRAP_RESAMPLES, PROJECT_ROOT, TOPICS_SET, Table, bootstrap_indices, class_f1, in_half,
                   part_main)
from bench.flow_tags import ingest, write_texts

DEFAULT_TAXONOMY = PROJECT_ROOT / "config" / "issues.toml"
DEFAULT_OUT = PROJECT_ROOT / "bench" / "out" / "eval_topics.json"
# The CAP major (policy) topics scored; 11, 22 and 25 do not exist.
POLICY_CODES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 23)
SMALL_CODES = (4, 5, 13, 18, 21)
# Each code's issue in the shipped taxonomy (the code book's suggestions; 24-31 are the newspaper-only
# codes, which have extra issues). 99 (other) has none.
CODE_ISSUES = {
    1: "macroeconomics", 2: "civil_rights", 3: "health", 4: "agriculture", 5: "labour", 6: "education",
    7: "environment", 8: "energy", 9: "immigration", 10: "transportation", 12: "law_and_crime",
    13: "social_welfare", 14: "housing", 15: "business", 16: "defence", 17: "technology", 18: "foreign_trade",
    19: "international_affairs", 20: "government_operations", 21: "public_lands", 23: "culture",
    24: "state_and_local_government", 26: "weather_and_disasters", 27: "fires_and_accidents", 29: "sport",
    30: "obituaries", 31: "religion",
}
ELECTIONS_SUBTOPIC = 2012   # campaigns and elections, coded 20 (government operations)
# The taxonomy's finer current-affairs issues, scored as the CAP topic they belong to.
ISSUE_CODES = {**{issue: code for code, issue in CODE_ISSUES.items()},
               "elections": 20, "security_guarantees": 16, "ceasefire_and_peace_talks": 19,
               "territorial_dispute": 19, "sanctions": 19, "climate_change": 7, "inflation": 1,
               "artificial_intelligence": 17, "cybersecurity": 17, "entertainment_and_arts": 23}


def load_topics(data_dir: Path) -> list[dict]:
    """The NYT dev items: id, title, text (the coders' gist), label (major topic), subtopic, text_type."""
    path = Path(data_dir) / TOPICS_SET / "nyt_frontpage_cap_dev.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found (pass --data pointing at the shared data)")
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def item_key(item: dict) -> str:
    """An item's key for the tuning/report split."""
    return str(item["id"])


def item_gist(item: dict) -> str:
    """The coders' gist as a sentence: a closing full stop added where it has none, or the cleaner would
    take the short line for page furniture."""
    gist = item["text"].strip()
    if gist and gist[-1] not in ".!?\"'”’)":
        gist += "."
    return gist


def item_text(item: dict) -> str:
    """The small page of one item: headline, blank line, the coders' gist as a sentence (item_gist)."""
    return f"{item['title'] or '(no headline)'}\n\n{item_gist(item)}".strip()


def item_issues(item: dict) -> frozenset[str]:
    """The issues an item is an example of, for training: its code's issue (and elections for 20/2012)."""
    found = {CODE_ISSUES[item["label"]]} if item["label"] in CODE_ISSUES else set()
    if item["subtopic"] == ELECTIONS_SUBTOPIC:
        found.add("elections")
    return frozenset(found)


def macro_interval(gold: np.ndarray, predicted: np.ndarray, codes: tuple[int, ...],
                   resamples: int = BOOTSTRAP_RESAMPLES // 4) -> tuple[float, float]:
    """95 % bootstrap interval of macro-F1 over items resampled with replacement."""
    values = [class_f1(gold[i], predicted[i], codes).mean() for i in bootstrap_indices(len(gold), resamples)]
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def score(items: list[dict], top: dict[str, str | None]) -> dict[str, object]:
    """Macro- and micro-F1 of the top tags over the policy topics (and all codes), per-code F1 of the small ones."""
    gold = np.array([i["label"] for i in items])
    predicted = np.array([ISSUE_CODES.get(top.get(item_key(i)) or "", 0) for i in items])
    policy = np.isin(gold, POLICY_CODES)
    per_code = class_f1(gold[policy], predicted[policy], POLICY_CODES)
    low, high = macro_interval(gold[policy], predicted[policy], POLICY_CODES)
    all_codes = tuple(sorted(set(gold.tolist())))
    other = np.where(np.isin(predicted, list(CODE_ISSUES)), predicted, 99)  # no tag or an unmapped one = "other"
    return {
        "items": int(policy.sum()), "macro_f1": round(float(per_code.mean()), 4),
        "macro_f1_interval": [round(low, 4), round(high, 4)],
        "micro_f1": round(float(np.mean(gold[policy] == predicted[policy])), 4),
        "untagged_share": round(float(np.mean(predicted[policy] == 0)), 4),
        "outside_policy_share": round(float(np.mean(~np.isin(predicted[policy], POLICY_CODES))), 4),
        "per_code_f1": {str(c): round(float(f), 4) for c, f in zip(POLICY_CODES, per_code)},
        "all_codes_macro_f1": round(float(class_f1(gold, other, all_codes).mean()), 4),
    }


def _taxonomy_copy(taxonomy: Path, path: Path, model_paths: list[Path] | None) -> Path:
    """A copy of the taxonomy at path, as it is but for its [model] table: reading model_paths instead, or
    (None) left out, with every issue's examples and the [other] examples, for the hand-written keywords
    alone (an issue with no keywords then goes too)."""
    import tomlkit

    document = tomlkit.parse(taxonomy.read_text(encoding="utf-8"))
    if model_paths is None:
        document.pop("model", None)
        document.pop("other", None)  # examples of news about none of the issues: learned from with the examples
        issues = document.get("issues", {})
        for name in list(issues):
            if issues[name].get("keywords"):
                issues[name].pop("examples", None)
            else:
                del issues[name]
    else:
        document["model"]["path"] = [p.as_posix() for p in model_paths]
    path.write_text(tomlkit.dumps(document), encoding="utf-8")
    return path


def _without_model(taxonomy: Path, folder: Path) -> Path:
    """A copy of the taxonomy with its [model] table left out: the hand-written keywords alone."""
    return _taxonomy_copy(taxonomy, folder / "keywords_only.toml", None)


def _tuning_half_models(taxonomy: Path, data_dir: Path, folder: Path) -> tuple[Path, list[str]]:
    """The taxonomy as scored on the report half: a model file fitted on all of the dev set (meta
    fitted_on) has seen the report half, so its recipe is fitted again on the tuning half alone and a copy
    of the taxonomy reads that instead. Returns the taxonomy to run and a line per refitted file."""
    import tomllib

    from bench.train_issue_model import refit_on_tuning_half
    from tasks.issue_model import load_model
    from tasks.s6_tag import _model_files  # the [model] path rule (a path or a list, read from the root)

    paths = _model_files(tomllib.loads(taxonomy.read_text(encoding="utf-8")).get("model"), PROJECT_ROOT) or []
    chosen, refitted = [], []
    for index, path in enumerate(paths):
        name = path.relative_to(PROJECT_ROOT).as_posix() if path.is_relative_to(PROJECT_ROOT) else path.as_posix()
        model = load_model(path)
        again = refit_on_tuning_half(model, data_dir)
        if again is model:
            chosen.append(path)
            continue
        chosen.append(folder / f"tuning-half-{index}-{path.name}")
        again.save(chosen[-1])
        refitted.append(f"{name} was fitted on {model.meta.get('fitted_on', 'unknown')} items of issue-topics-dev, "
                        f"the report half among them: scored here is its recipe fitted on the tuning half alone "
                        f"({again.meta['items']} items)")
    if not refitted:
        return taxonomy, []
    return _taxonomy_copy(taxonomy, folder / "tuning_half.toml", chosen), refitted


def run(data_dir: Path, limit: int | None = None, half: str | None = "report",
        taxonomy: Path = DEFAULT_TAXONOMY) -> dict[str, object]:
    """Ingest the half's items as small pages through the real flow, once with the shipped taxonomy and
    once with its keywords alone, and score each item's top tag."""
    items = in_half(load_topics(data_dir), half, key=item_key)
    if limit:
        items = items[:limit]
    results: dict[str, object] = {"half": half or "all", "items": len(items), "taxonomy": str(taxonomy)}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="eval-topics-") as tmp:
        root = Path(tmp)
        write_texts({item_key(i): item_text(i) for i in items}, root / "pages")
        scored, results["refitted"] = ((taxonomy, []) if half != "report"
                                       else _tuning_half_models(taxonomy, data_dir, root))
        for name, path in (("shipped", scored), ("keywords_only", _without_model(taxonomy, root))):
            # the items are a headline and a one-line gist: let them through the length check
            run_ = ingest(root / "pages", path, root / name, "[clean]\nmin_words = 1\n")
            results[name] = {**score(items, run_["top"]), "stored": len(run_["stored"]),
                             "flow_seconds": run_["seconds"]}
    results["seconds"] = round(time.perf_counter() - started, 1)
    return results


def table(results: dict) -> str:
    """Macro-F1 with its interval and the small topics' F1, for both taxonomies."""
    out = Table(f"Default taxonomy on NYT front-page topics, {results['half']} half ({results['items']} items), "
                "through the ingest flow", ["taxonomy", "macro-F1 (21 CAP)", "95 % interval", "micro-F1",
                                            "no tag", "all-codes macro-F1",
                                            *(f"F1 {c}" for c in SMALL_CODES)])
    shipped = "shipped (models + keywords)" + (", refitted: see below" if results.get("refitted") else "")
    for name, label in (("shipped", shipped), ("keywords_only", "hand-written keywords only")):
        r = results[name]
        out.rows.append([label, r["macro_f1"], f"{r['macro_f1_interval'][0]:.3f}-{r['macro_f1_interval'][1]:.3f}",
                         r["micro_f1"], r["untagged_share"], r["all_codes_macro_f1"],
                         *(r["per_code_f1"][str(c)] for c in SMALL_CODES)])
    out.notes += [
        "One page per item (headline, blank line, the coders' gist ending with a full stop), [clean] min_words = 1, "
        "shipped [tags] "
        "min_score and max_tags; top tag mapped to its CAP code (bench/eval_topics.py ISSUE_CODES), no tag "
        "= a miss. On the report half, model files fitted on the tuning half are scored as they are, and a file "
        "fitted on more (the shipped character model: all of issue-topics-dev) by its recipe fitted on the "
        "tuning half alone (bench/train_issue_model.py).",
        *results.get("refitted", []),
        f"Wall time {results['seconds']:.0f} s."]
    return out.render()


def main(argv: list[str] | None = None) -> int:
    """Command line: run on the report half, print the table, write bench/out/eval_topics.json."""
    return part_main(argv, "python -m bench.eval_topics", __doc__, run, table, DEFAULT_OUT,
                     "at most N items (quick runs)")


if __name__ == "__main__":
    sys.exit(main())
