"""Main-text extraction on trafilatura's evaluation pages: plain trafilatura against the cleaning step."""

from __future__ import annotations

import gzip
import json
import logging
import multiprocessing
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import trafilatura

from bench import PROJECT_ROOT, Table, part_main
from bench.eval_titles import title_scores
from tasks.s2_clean import clean_html
from tasks.text.normalise import RejectedInput, decode_bytes

EXTRACTION_SET = "extraction-dev"
DEFAULT_OUT = PROJECT_ROOT / "bench" / "out" / "eval_extraction.json"
WORKERS = 2
METHODS = ("trafilatura", "clean_html")


@dataclass(frozen=True)
class Page:
    """One evaluation page: its URL, file and the snippets that must and must not be extracted."""

    url: str
    file: Path
    with_: tuple[str, ...]
    without: tuple[str, ...]
    title: str | None
    date: str | None


def normalise(text: str | None) -> str:
    """Collapse all whitespace runs to single spaces."""
    return " ".join((text or "").split())


def load_pages(data_dir: Path, limit: int | None = None) -> list[Page]:
    """Read evaldata.json: every page with its snippets and labels (the first `limit` pages)."""
    root = Path(data_dir) / EXTRACTION_SET
    entries = json.loads((root / "evaldata.json").read_text(encoding="utf-8"))
    pages = [Page(url, root / "html" / f"{e['file']}.gz", tuple(e.get("with") or ()), tuple(e.get("without") or ()),
                  e["title"] if "title" in e else None, e["date"] if "date" in e else None)
             for url, e in sorted(entries.items())]
    return pages[:limit] if limit else pages


def _page_text(path: Path) -> str:
    """A page's HTML as text, decoded the way the pipeline decodes inputs."""
    raw = gzip.decompress(path.read_bytes())
    try:
        return decode_bytes(raw)
    except RejectedInput:
        return raw.decode("utf-8", errors="replace")


def _found(text: str, snippets: tuple[str, ...]) -> list[bool]:
    """Whether each snippet occurs in the text, both whitespace-normalised."""
    return [normalise(s) in text for s in snippets]


def _warm_up() -> None:
    """Load each worker's models (language identifier, date parser) before any page is timed."""
    logging.disable(logging.WARNING)
    page = "<html><body><article><p>" + "A short warm-up paragraph of plain words. " * 20 + "</p></article></body></html>"
    trafilatura.extract(page)
    clean_html(page, "https://example.org/warm-up")


def evaluate_page(page: Page) -> dict[str, object]:
    """Extract one page both ways and record which snippets each finds, with times and metadata."""
    logging.disable(logging.WARNING)  # odd pages make trafilatura chatty; the scores say what matters
    html = _page_text(page.file)
    out: dict[str, object] = {"url": page.url, "file": page.file.name}
    # CPU time is reported beside wall time: on a shared machine the wall clock mostly measures the others.
    wall, cpu = time.perf_counter(), time.process_time()
    plain = trafilatura.extract(html)
    seconds = {"trafilatura": (time.perf_counter() - wall, time.process_time() - cpu)}
    wall, cpu = time.perf_counter(), time.process_time()
    ours = clean_html(html, page.url)
    seconds["clean_html"] = (time.perf_counter() - wall, time.process_time() - cpu)
    out["seconds"] = seconds
    for name, text in (("trafilatura", plain), ("clean_html", ours.text)):
        flat = normalise(text)
        out[name] = {"with": _found(flat, page.with_), "without": _found(flat, page.without), "chars": len(flat)}
    meta = trafilatura.extract_metadata(html, default_url=page.url)
    out["title"] = {"label": page.title, "clean_html": ours.title, "trafilatura": meta.title if meta else None}
    out["date"] = {"label": page.date, "clean_html": ours.published_at.date().isoformat() if ours.published_at
                   else None, "trafilatura": meta.date if meta else None}
    return out


def _prf(tp: int, fp: int, fn: int) -> dict[str, float | int]:
    """Counts with precision, recall and F1 = 2TP / (2TP + FP + FN)."""
    return {"tp": tp, "fp": fp, "fn": fn,
            "precision": round(tp / (tp + fp), 4) if tp + fp else 0.0,
            "recall": round(tp / (tp + fn), 4) if tp + fn else 0.0,
            "f1": round(2 * tp / (2 * tp + fp + fn), 4) if tp + fp + fn else 0.0}


def _title_key(title: str | None) -> str:
    """A title compared without case and spacing."""
    return normalise(title).casefold()


def _days_apart(value: str | None, label: str) -> int | None:
    """Whole days between a returned date and the label (None when either does not parse)."""
    try:
        return abs((date.fromisoformat((value or "")[:10]) - date.fromisoformat(label[:10])).days)
    except ValueError:
        return None


def metadata_scores(results: list[dict], method: str) -> dict[str, float | int]:
    """Title and date agreement with the labels, and dates returned where the label has none."""
    titled = [r for r in results if r["title"]["label"]]
    exact = sum(_title_key(r["title"][method]) == _title_key(r["title"]["label"]) for r in titled)
    # A site name added to the heading ("Title | Site") or dropped from it still names the page.
    partial = sum(bool(_title_key(r["title"][method])) and (
        _title_key(r["title"]["label"]) in _title_key(r["title"][method])
        or _title_key(r["title"][method]) in _title_key(r["title"]["label"])) for r in titled)
    labelled = [r for r in results if r["date"]["label"] is not None]
    dated = [r for r in labelled if r["date"]["label"]]
    undated = [r for r in labelled if not r["date"]["label"]]
    return {
        "titles": len(titled), "title_exact": round(exact / len(titled), 4) if titled else 0.0,
        "title_contained": round(partial / len(titled), 4) if titled else 0.0,
        "dates": len(dated),
        "date_match": round(sum(r["date"][method] == r["date"]["label"] for r in dated) / len(dated), 4)
        if dated else 0.0,
        "date_missing": sum(not r["date"][method] for r in dated),
        # The label is the publisher's local day; a time near midnight can fall on the next or previous UTC day.
        "date_one_day_off": sum(_days_apart(r["date"][method], r["date"]["label"]) == 1 for r in dated),
        "undated_labels": len(undated),
        "date_where_label_has_none": sum(bool(r["date"][method]) for r in undated),
    }


def differences(results: list[dict], pages: dict[str, Page]) -> list[dict[str, object]]:
    """Pages where the two methods disagree on a snippet, with the snippets each side got right."""
    out = []
    for r in results:
        page = pages[r["url"]]
        plain, ours = r["trafilatura"], r["clean_html"]
        lost = [s for s, a, b in zip(page.with_, plain["with"], ours["with"]) if a and not b]
        gained = [s for s, a, b in zip(page.with_, plain["with"], ours["with"]) if b and not a]
        dropped = [s for s, a, b in zip(page.without, plain["without"], ours["without"]) if a and not b]
        kept = [s for s, a, b in zip(page.without, plain["without"], ours["without"]) if b and not a]
        if lost or gained or dropped or kept:
            out.append({"url": r["url"], "file": r["file"], "with_lost": lost, "with_gained": gained,
                        "without_removed": dropped, "without_added": kept})
    return out


def run(data_dir: Path, limit: int | None = None) -> dict:
    """Extract every page with plain trafilatura and with clean_html (2 processes) and score both."""
    pages = load_pages(data_dir, limit)
    started, cpu = time.perf_counter(), time.process_time()
    ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    with ctx.Pool(WORKERS, initializer=_warm_up) as pool:
        results = pool.map(evaluate_page, pages, chunksize=4)
    wall_seconds = time.perf_counter() - started
    scores: dict[str, object] = {}
    for method in METHODS:
        tp = sum(sum(r[method]["with"]) for r in results)
        fn = sum(len(r[method]["with"]) - sum(r[method]["with"]) for r in results)
        fp = sum(sum(r[method]["without"]) for r in results)
        wall = [r["seconds"][method][0] for r in results]
        cpu = [r["seconds"][method][1] for r in results]
        scores[method] = {
            **_prf(tp, fp, fn),
            "empty_pages": sum(1 for r in results if not r[method]["chars"]),
            "ms_per_page": round(1000 * sum(wall) / len(wall), 1),
            "cpu_ms_per_page": round(1000 * sum(cpu) / len(cpu), 1),
            "cpu_ms_per_page_max": round(1000 * max(cpu), 1),
            **metadata_scores(results, method),
            "title_by_half": title_scores(results, method),
        }
    diffs = differences(results, {p.url: p for p in pages})
    return {
        "pages": len(pages), "snippets_with": sum(len(p.with_) for p in pages),
        "snippets_without": sum(len(p.without) for p in pages), "workers": WORKERS,
        "wall_seconds": round(wall_seconds, 1),
        "cpu_seconds": round(sum(sum(c for _, c in r["seconds"].values()) for r in results), 1),
        "methods": scores,
        "pages_differing": len(diffs),
        "difference_counts": dict(Counter(k for d in diffs for k in
                                          ("with_lost", "with_gained", "without_removed", "without_added")
                                          for _ in d[k])),
        "differences": diffs,
    }


def table(results: dict) -> str:
    """Snippet precision/recall/F1, time per page and metadata agreement, side by side, as markdown."""
    methods = results["methods"]
    text = Table(f"Extraction on {results['pages']} pages ({results['snippets_with']} 'with', "
                 f"{results['snippets_without']} 'without' snippets)",
                 ["method", "TP", "FP", "FN", "precision", "recall", "F1", "empty pages", "wall ms/page",
                  "CPU ms/page", "max CPU ms"])
    labels = {"trafilatura": "trafilatura.extract (defaults)", "clean_html": "clean_html (.text)"}
    for name in METHODS:
        m = methods[name]
        text.rows.append([labels[name], m["tp"], m["fp"], m["fn"], m["precision"], m["recall"], m["f1"],
                          m["empty_pages"], m["ms_per_page"], m["cpu_ms_per_page"], m["cpu_ms_per_page_max"]])
    counts = results["difference_counts"]
    text.notes.append(
        f"{results['pages_differing']} pages differ: clean_html loses {counts.get('with_lost', 0)} and gains "
        f"{counts.get('with_gained', 0)} 'with' snippets, removes {counts.get('without_removed', 0)} and adds "
        f"{counts.get('without_added', 0)} 'without' ones. Wall time {results['wall_seconds']} s with "
        f"{results['workers']} processes ({results['cpu_seconds']} CPU s in the two extractions).")
    meta = Table("Title and date against the labels",
                 ["method", "titles", "title exact", "title contained", "dates", "date match", "date 1 day off",
                  "date missing", "undated labels", "date where none"])
    metadata_labels = {"trafilatura": "trafilatura.extract_metadata", "clean_html": "clean_html"}
    for name in METHODS:
        m = methods[name]
        meta.rows.append([metadata_labels[name], m["titles"], m["title_exact"], m["title_contained"], m["dates"],
                          m["date_match"], m["date_one_day_off"], m["date_missing"], m["undated_labels"],
                          m["date_where_label_has_none"]])
    meta.notes.append("title compared case- and space-insensitively; 'contained': one title contains the other. "
                      "date: the calendar day (YYYY-MM-DD; clean_html's in UTC, the label's local); 'date where "
                      "none': a date returned for a page whose label is empty.")
    halves = Table("Titles by half (bench.half_of of the page's file name)",
                   ["method", "half", "titles", "title exact", "title contained"])
    for name in METHODS:
        for half in ("tune", "report"):
            s = methods[name]["title_by_half"][half]
            halves.rows.append([metadata_labels[name], half, s["titles"], s["exact"], s["lenient"]])
    halves.notes.append("The title rule was shaped on the 'tune' half only; 'report' is the held-out half.")
    return text.render() + "\n\n" + meta.render() + "\n\n" + halves.render()


def main(argv: list[str] | None = None) -> int:
    """Command line: run, print the tables, write bench/out/eval_extraction.json."""
    return part_main(argv, "python -m bench.eval_extraction", __doc__, run, table, DEFAULT_OUT, "only the first N pages")

if __name__ == "__main__":
    sys.exit(main())
