"""Titles the cleaning step stores for HTML pages, against the title labels of trafilatura's evaluation set.

Only the cleaning step runs (no plain-trafilatura extraction beside it), so this is the quick loop for the
title rule. Pages are split into the project's fixed halves by their file name in the set (bench.half_of):
the title rule is tuned on "tune"; "report" is scored beside it.
"""

from __future__ import annotations

import logging
import multiprocessing
import sys
from pathlib import Path

from bench import HALVES, PROJECT_ROOT, Table, half_of, part_main

DEFAULT_OUT = PROJECT_ROOT / "bench" / "out" / "eval_titles.json"
WORKERS = 2


def page_key(file: Path | str) -> str:
    """A page's key for the halves: its file name in the set, without the .gz the copy here adds."""
    return Path(file).name.removesuffix(".gz")


def title_key(title: str | None) -> str:
    """A title compared without case and spacing."""
    return " ".join((title or "").split()).casefold()


def title_match(title: str | None, label: str) -> tuple[bool, bool]:
    """Whether a title matches its label exactly, and leniently (one contains the other; a site name
    added to the heading, "Title | Site", or dropped from it still names the page)."""
    got, want = title_key(title), title_key(label)
    return got == want, bool(got) and (want in got or got in want)


def title_scores(rows: list[dict], method: str = "clean_html") -> dict[str, dict[str, float | int]]:
    """Exact and lenient title agreement per half, from rows with "file" and "title": {"label", method}."""
    out: dict[str, dict[str, float | int]] = {}
    for half in (*HALVES, "all"):
        titled = [r for r in rows if r["title"]["label"] and (half == "all" or half_of(page_key(r["file"])) == half)]
        matches = [title_match(r["title"][method], r["title"]["label"]) for r in titled]
        out[half] = {"titles": len(titled),
                     "exact": round(sum(e for e, _ in matches) / len(titled), 4) if titled else 0.0,
                     "lenient": round(sum(c for _, c in matches) / len(titled), 4) if titled else 0.0,
                     "missing": sum(not r["title"][method] for r in titled)}
    return out


def _title_of(page) -> dict[str, object]:
    """The title clean_html gives one page."""
    from bench.eval_extraction import _page_text
    from tasks.s2_clean import clean_html

    logging.disable(logging.WARNING)
    return {"url": page.url, "file": page.file.name,
            "title": {"label": page.title, "clean_html": clean_html(_page_text(page.file), page.url).title}}


def run(data_dir: Path, limit: int | None = None, half: str | None = None) -> dict:
    """clean_html's title for every labelled page (of one half, or both), scored per half."""
    from bench.eval_extraction import load_pages

    pages = [p for p in load_pages(data_dir, limit)
             if p.title and (half is None or half_of(page_key(p.file)) == half)]
    ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    with ctx.Pool(WORKERS) as pool:
        rows = pool.map(_title_of, pages, chunksize=4)
    misses = [{"file": page_key(r["file"]), "half": half_of(page_key(r["file"])), "label": r["title"]["label"],
               "clean_html": r["title"]["clean_html"]}
              for r in rows if not title_match(r["title"]["clean_html"], r["title"]["label"])[0]]
    return {"pages": len(rows), "scores": title_scores(rows), "misses": misses}


def table(results: dict) -> str:
    """Exact and lenient title agreement, one row per half."""
    text = Table(f"clean_html titles against the labels ({results['pages']} labelled pages)",
                 ["half", "titles", "exact", "lenient", "no title"])
    for half, s in results["scores"].items():
        if s["titles"]:
            text.rows.append([half, s["titles"], s["exact"], s["lenient"], s["missing"]])
    text.notes.append("exact: equal after case and whitespace normalisation; lenient: one contains the other. "
                      "Halves by bench.half_of(file name); the title rule is tuned on 'tune' only.")
    return text.render()


def main(argv: list[str] | None = None) -> int:
    """Command line: run, print the table, write bench/out/eval_titles.json (misses included)."""
    return part_main(argv, "python -m bench.eval_titles", __doc__, run, table, DEFAULT_OUT, "only the first N pages")


if __name__ == "__main__":
    sys.exit(main())
