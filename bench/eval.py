"""Measure the pipeline's quality on the shared development data and print one table per part."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench import DEFAULT_DATA, HALVES, PROJECT_ROOT, Table, write_report

DEFAULT_OUT = PROJECT_ROOT / "bench" / "out" / "eval.json"


def _summaries(args: argparse.Namespace) -> tuple[Sequence[Table | str], dict[str, object]]:
    """Summary ROUGE against Lead-k and sumy."""
    from bench import eval_summaries

    return eval_summaries.run(args.data, args.limit, args.workers, args.variants, args.half)


def _tags(args: argparse.Namespace) -> tuple[Sequence[Table | str], dict[str, object]]:
    """Tagging F1 of issues learned from the other half's examples, through the ingest flow."""
    from bench import eval_tags

    results = eval_tags.run(args.data, args.limit, args.half)
    return [eval_tags.table(results)], results


def _topics(args: argparse.Namespace) -> tuple[Sequence[Table | str], dict[str, object]]:
    """Macro-F1 of the shipped taxonomy on NYT front-page topics, through the ingest flow."""
    from bench import eval_topics

    results = eval_topics.run(args.data, args.limit and args.limit * 20, args.half)
    return [eval_topics.table(results)], results


def _dedup(args: argparse.Namespace) -> tuple[Sequence[Table | str], dict[str, object]]:
    """Near-duplicate precision/recall on syndication variants of the BBC articles."""
    from bench import eval_dedup

    results = eval_dedup.run(args.data, args.limit, args.half)
    return [eval_dedup.table(results)], results


def _stories(args: argparse.Namespace) -> tuple[Sequence[Table | str], dict[str, object]]:
    """Story grouping against pairs of BBC articles labelled one story or not."""
    from bench import eval_stories

    results = eval_stories.run(args.data, args.half)
    return [eval_stories.table(results)], results


def _extraction(args: argparse.Namespace) -> tuple[Sequence[Table | str], dict[str, object]]:
    """Snippet F1 of our HTML cleaning against plain trafilatura."""
    from bench import eval_extraction

    results = eval_extraction.run(args.data, args.limit)
    return [eval_extraction.table(results)], results


# What was chosen on which data, said with every run (the README repeats it).
TUNING = {
    "summaries": "sentence models, their regularisation and the budget switch fitted and chosen on the tuning halves "
                 "of news-highlights-dev and bbc-news-summary-dev (bench/train_sentence_scorer.py)",
    "tags": "issue-model settings (C, min_df, keyword scale, min_score) chosen on the NYT tuning half; the five "
            "categories are learned in the run from the BBC tuning half's articles",
    "topics": "config/models/issues_nyt_cap.npz and issues_nyt_cap_chars.npz fitted, their settings (C, "
              "sub-topic parts, the character model) chosen by cross-validation, and "
              "min_score and the keyword scale chosen, on the NYT tuning half (bench/train_issue_model.py); "
              "the shipped character model is fitted on all of the NYT dev set, so it is refitted on the "
              "tuning half before the report half is scored",
    "dedup": "FACT_WEIGHT and the fact check (FACT_CONTAINMENT, python -m bench.tune_fact_check) chosen on templated "
             "series and syndication variants built from the BBC tuning half",
    "stories": "story_threshold chosen on the BBC tuning half's labelled pairs (python -m bench.eval_stories --half "
               "tune --grid: best F1 of 0.25 to 0.6)",
    "extraction": "text extraction: nothing tuned (trafilatura's evaluation set is only measured); the HTML title "
                  "rule (tasks/s2_clean.py _headline) was shaped on the tuning half of its title labels (python -m "
                  "bench.eval_titles), and titles are reported per half",
}

# Each part takes the parsed arguments and returns its tables (Table or ready-made text) and its numbers.
Part = Callable[[argparse.Namespace], tuple[Sequence[Table | str], dict[str, object]]]
PARTS: dict[str, Part] = {
    "summaries": _summaries,
    "tags": _tags,
    "topics": _topics,
    "dedup": _dedup,
    "stories": _stories,
    "extraction": _extraction,
}


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.eval", description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder (default: %(default)s)")
    parser.add_argument("--only", default=",".join(PARTS),
                        help=f"comma-separated parts to run (default: {','.join(PARTS)})")
    parser.add_argument("--limit", type=int, default=None, help="at most N articles per category (quick runs)")
    parser.add_argument("--workers", type=int, default=2, help="processes for the summary part (default: 2)")
    parser.add_argument("--variants", action="store_true", help="also score the variants tried while tuning")
    parser.add_argument("--half", choices=HALVES, default="report",
                        help="which half of each dev set to score (default: %(default)s; settings were tuned on 'tune')")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON report (default: %(default)s)")
    args = parser.parse_args(argv)
    args.only = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = [p for p in args.only if p not in PARTS]
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)} (known: {', '.join(PARTS)})")
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the chosen parts, print their tables and write the numbers as JSON."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = _arguments(argv)
    if not args.data.is_dir():  # one line, not a traceback from the first part that reads it
        print(f"error: --data {args.data}: no such folder (the shared dev data sets; pass --data PATH)",
              file=sys.stderr)
        return 2
    report: dict[str, object] = {"data": str(args.data), "limit": args.limit, "half": args.half,
                                 "parts": args.only, "tuning": {name: TUNING[name] for name in args.only}}
    skipped = [p for p in PARTS if p not in args.only]
    print(f"make eval: parts {', '.join(args.only)} on the {args.half} half of each dev set"
          + (f" (not run: {', '.join(skipped)})" if skipped else "") + (f"; --limit {args.limit}" if args.limit else ""))
    for name in args.only:
        print(f"  {name}: {TUNING[name]}")
    print(flush=True)
    for name in args.only:
        started = time.perf_counter()
        tables, numbers = PARTS[name](args)
        numbers["wall_seconds"] = round(time.perf_counter() - started, 1)
        report[name] = numbers
        for table in tables:
            print(table.render() if isinstance(table, Table) else table, end="\n\n", flush=True)
    write_report(args.out, report)
    print(f"parts run: {', '.join(args.only)} ({args.half} half); numbers written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
