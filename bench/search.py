"""Search benchmark: query latency over a warehouse of 100,000 stored articles (`make bench-search`)."""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from bench import DEFAULT_DATA, BBC_SET, PROJECT_ROOT, Table, write_report

DEFAULT_OUT = PROJECT_ROOT / "bench" / "out" / "search.json"
PER_DAY = 1_000          # the synthetic history is spread as if ingested at this rate
REPEATS = 5
TARGET_SECONDS = 1.0
QUERIES = ("security guarantees", "nato", "election campaign labour", "oil prices rise", "mobile phone music",
           "football", "chancellor gordon brown budget tax", "ukraine ceasefire talks berlin")


def _real_articles(data: Path) -> list:
    """The BBC development articles and the seeds, cleaned, fingerprinted and tagged as a run would."""
    from config.settings import CleanSettings, DedupSettings, DiscoverSettings, SourceSettings, TagSettings
    from tasks import s1_discover, s2_clean, s3_fingerprint, s6_tag
    from tasks.records import Article

    sources = [SourceSettings("bbc", "folder", path=data / BBC_SET / "articles"),
               SourceSettings("seeds", "folder", path=PROJECT_ROOT / "seeds")]
    found = s1_discover.discover_files(sources, DiscoverSettings(), set(), set())
    cleaned, _ = s2_clean.clean_documents(found.documents, CleanSettings())
    articles = [Article(article_id=doc.content_hash[:16], doc=doc, cleaned=c, story_id=doc.content_hash[:16])
                for doc, c in cleaned]
    s3_fingerprint.prepare(articles, DedupSettings())
    s6_tag.tag_articles(articles, s6_tag.load_taxonomy(PROJECT_ROOT / "config" / "issues.toml"), TagSettings())
    return articles


def build(warehouse: Path, data: Path, size: int) -> dict[str, float]:
    """A warehouse of `size` articles: the real ones, then synthetic ones modelled on them (bench.preload,
    which writes through the store like a run, search index included)."""
    from bench.bench import preload
    from tasks.records import RunCounts
    from warehouse import connect, write

    started = time.perf_counter()
    articles = _real_articles(data)
    con = connect.connect(warehouse)
    try:
        write.begin_run(con, "real", None, "bbc, seeds")
        write.write_run(con, "real", articles, [], [], RunCounts(discovered=len(articles)))
    finally:
        con.close()
    real_seconds = time.perf_counter() - started
    started = time.perf_counter()
    added = preload(warehouse, size, PER_DAY)
    return {"real_articles": len(articles), "real_seconds": round(real_seconds, 1), "synthetic_articles": added,
            "preload_seconds": round(time.perf_counter() - started, 1)}


def _timed(call) -> tuple[float, object]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def measure(warehouse: Path) -> dict[str, object]:
    """Latency of each query (best and median of REPEATS, on one read-only connection), with --issue and
    --since, and of the whole command line once (a new process: imports, connect, query, print)."""
    from warehouse import connect, queries

    con = connect.connect(warehouse, read_only=True)
    rows = []
    try:
        stored = con.execute("SELECT count(*) FROM articles").fetchone()[0]
        postings = con.execute("SELECT count(*) FROM store.search_terms").fetchone()[0]
        since = date.today() - timedelta(days=30)
        cases = [(q, {}) for q in QUERIES] + [("security guarantees", {"issue": "defence"}),
                                              ("oil prices rise", {"since": since})]
        for query, options in cases:
            times = []
            for _ in range(REPEATS):
                seconds, hits = _timed(lambda: queries.search(con, query, limit=10, **options))
                times.append(seconds)
            label = query + "".join(f" --{k} {v}" for k, v in options.items())
            rows.append({"query": label, "best_ms": round(min(times) * 1000, 1),
                         "median_ms": round(statistics.median(times) * 1000, 1), "hits": len(hits),
                         "top": hits[0].title if hits else None})
    finally:
        con.close()
    command = [sys.executable, "-m", "flows.search", "security guarantees", "--warehouse", str(warehouse)]
    cli_seconds, result = _timed(lambda: subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True))
    return {"stored": stored, "postings": postings, "queries": rows, "cli_seconds": round(cli_seconds, 2),
            "cli_top": (result.stdout.splitlines() or [""])[0]}


def main(argv: list[str] | None = None) -> int:
    """Build the warehouse, measure, print a table and write bench/out/search.json."""
    parser = argparse.ArgumentParser(prog="python -m bench.search", description=__doc__)
    parser.add_argument("--articles", type=int, default=100_000, help="articles stored (default %(default)s)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared development data")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--keep", type=Path, metavar="FILE",
                        help="build the warehouse in FILE and keep it (an existing FILE is measured as it is)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="newsdesk-search-bench-") as folder:
        warehouse = args.keep or Path(folder) / "catalog.sqlite"
        built = build(warehouse, args.data, args.articles) if not warehouse.exists() else {"reused": str(warehouse)}
        print(f"warehouse of {args.articles:,} articles: {built}")
        files = [warehouse, *Path(f"{warehouse}.files").rglob("*")]
        report = {"build": built, **measure(warehouse),
                  "size_mb": round(sum(f.stat().st_size for f in files if f.is_file()) / 1e6, 1)}
    table = Table(f"Search over {report['stored']:,} stored articles ({report['postings']:,} postings)",
                  ["query", "best ms", "median ms", "hits", "top hit"],
                  [[r["query"], r["best_ms"], r["median_ms"], r["hits"], (r["top"] or "")[:50]]
                   for r in report["queries"]],
                  [f"command line, whole process: {report['cli_seconds']} s ({report['cli_top'][:60]})"])
    print(table.render())
    write_report(args.out, report)
    slowest = max(r["median_ms"] for r in report["queries"]) / 1000
    print(f"slowest median {slowest:.3f} s: target under {TARGET_SECONDS} s "
          f"{'met' if slowest < TARGET_SECONDS else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
