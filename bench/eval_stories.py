"""Story grouping on the BBC News Summary articles: which pairs of different articles end up in one story,
against pairs a reader labelled as one story or not (bench/story_pairs.json).

The labelled pairs: within each half, every pair of articles whose story vectors (tasks.s3_fingerprint.story_terms,
weighted by the half's idf as tasks.s4_dedup.TermIndex weighs them) have a cosine of at least 0.2 — 235 pairs in
the tuning half, 284 in the report half — read (headline and the start of each text) and labelled "same" (one
news event or one developing story a news desk would put under one heading: a doping case and its verdict, a
film's box-office run week to week), "different" (the same beat, person or company, another event) or "unsure"
(left out of the scores). The reader saw neither the scores nor the settings. Pairs under 0.2 were not read:
recall here is recall among the pairs a setting in this range could join.

The run: every article of the half as one batch through prepare and assign, with the shipped [dedup] settings.
The BBC texts carry no dates, so all of them fall in one story window — harder than a real stream, where the
window keeps apart reports days apart. A pair counts as joined when both articles got one story_id (through
any chain of matches, as the pipeline joins them).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

from bench import DEFAULT_DATA, HALVES, PROJECT_ROOT, Table, bootstrap_indices, in_half, load_bbc, write_report
from bench.eval_dedup import NOW, Item, cleaned_texts, to_article
from config.settings import DedupSettings, load_settings
from tasks.s3_fingerprint import prepare
from tasks.s4_dedup import assign

LABELS = PROJECT_ROOT / "bench" / "story_pairs.json"
DEFAULT_OUT = PROJECT_ROOT / "bench" / "out" / "eval_stories.json"
PREVIOUS_THRESHOLD = 0.3  # story_threshold before it was chosen on these labels
GRID = (0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6)  # --grid: what the tuning half chose from


def load_pairs(half: str, path: Path = LABELS) -> list[dict]:
    """The labelled pairs of one half."""
    return [p for p in json.loads(path.read_text(encoding="utf-8")) if p["half"] == half]


def stories(data_dir: Path, half: str, settings: DedupSettings) -> dict[str, str]:
    """Each article of the half (by its key) and the story the pipeline puts it in, all in one batch."""
    articles = in_half(load_bbc(Path(data_dir)), half)
    items = [Item(a.key, "distinct", a.category, a.key, a.headline, a.body) for a in articles]
    texts = cleaned_texts(items, cleaned=True)
    batch = [to_article(i, texts[i.article_id]) for i in items]
    prepare(batch, settings)
    assign(batch, [], settings, NOW)
    return {a.article_id: a.story_id or a.article_id for a in batch}


def score(pairs: list[dict], story_of: dict[str, str]) -> dict[str, object]:
    """Precision, recall and F1 of joining the labelled pairs ('unsure' left out), with a 95 % bootstrap
    interval of F1 over the pairs."""
    kept = [p for p in pairs if p["label"] in ("same", "different")]
    same = np.array([p["label"] == "same" for p in kept])
    joined = np.array([story_of[p["a"]] == story_of[p["b"]] for p in kept])

    def f1(s: np.ndarray, j: np.ndarray) -> float:
        tp = float(np.sum(s & j))
        return 2 * tp / (float(s.sum()) + float(j.sum())) if s.sum() + j.sum() else 0.0

    tp = int(np.sum(same & joined))
    draws = bootstrap_indices(len(kept))
    spread = np.array([f1(same[d], joined[d]) for d in draws])
    low, high = np.percentile(spread, [2.5, 97.5])
    return {"pairs": len(kept), "same": int(same.sum()), "joined": int(joined.sum()), "true_joins": tp,
            "false_joins": int(np.sum(~same & joined)), "missed": int(np.sum(same & ~joined)),
            "precision": round(tp / joined.sum(), 4) if joined.sum() else 0.0,
            "recall": round(tp / same.sum(), 4) if same.sum() else 0.0,
            "f1": round(f1(same, joined), 4), "f1_interval": [round(float(low), 4), round(float(high), 4)]}


def run(data_dir: Path, half: str = "report", thresholds: tuple[float, ...] | None = None) -> dict:
    """Score the shipped story_threshold (and the previous one, or each of thresholds) on one half."""
    shipped = load_settings().dedup
    pairs = load_pairs(half)
    chosen = thresholds or tuple(dict.fromkeys((shipped.story_threshold, PREVIOUS_THRESHOLD)))
    rows = {}
    for threshold in chosen:
        settings = dataclasses.replace(shipped, story_threshold=threshold)
        rows[f"{threshold:g}"] = score(pairs, stories(data_dir, half, settings))
    return {"half": half, "shipped_threshold": shipped.story_threshold, "labels": str(LABELS.relative_to(PROJECT_ROOT)),
            "unsure": sum(p["label"] == "unsure" for p in pairs), "by_threshold": rows}


def table(results: dict) -> Table:
    """One row per threshold scored."""
    out = Table(f"Story grouping against labelled pairs ({results['half']} half, BBC articles, one batch)",
                ["story_threshold", "pairs", "same", "joined", "false joins", "missed", "P", "R", "F1", "F1 95 % interval"])
    for threshold, s in results["by_threshold"].items():
        mark = " (shipped)" if float(threshold) == results["shipped_threshold"] else ""
        out.rows.append([f"{threshold}{mark}", s["pairs"], s["same"], s["joined"], s["false_joins"], s["missed"],
                         s["precision"], s["recall"], s["f1"], f"[{s['f1_interval'][0]:.3f}, {s['f1_interval'][1]:.3f}]"])
    out.notes.append(f"Pairs with a story-vector cosine of at least 0.2, labelled by reading ({results['labels']}; "
                     f"{results['unsure']} 'unsure' left out). A pair is joined when both articles share a story_id. "
                     "Undated texts: every article is in one story window.")
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line: score one half (--grid: every threshold of GRID, for choosing on the tuning half)."""
    parser = argparse.ArgumentParser(prog="python -m bench.eval_stories", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--half", choices=HALVES, default="report")
    parser.add_argument("--grid", action="store_true", help=f"score every story_threshold of {GRID}")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    results = run(args.data, args.half, GRID if args.grid else None)
    print(table(results).render())
    write_report(args.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
