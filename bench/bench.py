"""Speed benchmark: plain trafilatura against the ingest flow, a re-run, and incremental runs on large warehouses."""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from bench import DEFAULT_DATA, PROJECT_ROOT, Table, write_report
from bench.pages import UNSUPPORTED_LANGUAGES, PageSource, write_pages

DEFAULT_OUT = PROJECT_ROOT / "bench" / "out" / "bench.json"
PREFECT_HOME = PROJECT_ROOT / "bench" / "out" / "prefect-bench"
TAXONOMY = PROJECT_ROOT / "config" / "issues.toml"
STAGES = ("discover", "poll feeds", "clean", "fingerprint", "dedup", "summarise", "tag", "story members", "stories",
          "store")
NEW_SHARE = 0.01             # the incremental runs add this share of the page count as new pages
# The new pages are BBC articles held out of the folder's pages (see bench.pages): a real day's new
# articles, which the pipeline's dedup should find new. Fewer than this share found new is reported.
MIN_NEW_FOUND = 0.9
SERVER_START_SECONDS = 300   # a fresh Prefect database takes a while to migrate on a busy machine
RUN_TIMEOUT_SECONDS = 7200
TASK_RUN_WAIT_SECONDS = 30   # task runs reach the API shortly after the flow returns
RSS_SAMPLE_SECONDS = 0.1

# Targets, checked and printed by the benchmark.
MIN_THROUGHPUT_SHARE = 0.5   # pipeline throughput / plain trafilatura throughput
MAX_RERUN_SHARE = 0.02       # re-run time / first run time
MAX_GROWTH = 1.5             # time per new article at the largest / the smallest preload
MAX_RSS_MB = 1536            # peak RSS at the largest preload
MAX_SQL_SECONDS = 1.0        # a query from `make sql` at the largest preload, the whole command


# --- the reference: plain trafilatura over all cores ---------------------------------------------------------

def _extract_file(path: str) -> int:
    """Extract one page with trafilatura's defaults; return the length of the text (0 when none)."""
    import trafilatura

    with open(path, "rb") as handle:
        text = trafilatura.extract(handle.read())
    return len(text or "")


def plain_trafilatura(paths: list[Path], processes: int) -> dict[str, float]:
    """Time trafilatura.extract over the pages with a Pool of `processes`, one page per task."""
    start = time.perf_counter()
    with multiprocessing.Pool(processes) as pool:
        lengths = pool.map(_extract_file, [str(p) for p in paths], chunksize=1)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "pages": len(paths), "texts": sum(1 for n in lengths if n),
            "processes": processes}


# --- one flow run, in a process of its own --------------------------------------------------------------------

def _own_peak_bytes() -> int:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not carried over from the parent)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _tree_rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants (Linux /proc), in bytes."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
                    break
            for thread in Path(f"/proc/{current}/task").iterdir():
                stack.extend(int(c) for c in (thread / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return total


class RssSampler(threading.Thread):
    """Samples the resident memory of this process and its workers until stopped; keeps the peak."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = 0
        self._done = threading.Event()

    def run(self) -> None:
        """Sample until stop() is called."""
        while not self._done.is_set():
            self.peak = max(self.peak, _tree_rss_bytes(os.getpid()))
            self._done.wait(RSS_SAMPLE_SECONDS)

    def stop(self) -> int:
        """Stop sampling and return the peak in bytes."""
        self._done.set()
        self.join()
        self.peak = max(self.peak, _tree_rss_bytes(os.getpid()))
        return self.peak


def _stage_seconds(flow_run_id: object) -> dict[str, float]:
    """Seconds each stage task of a flow run took, read back from the Prefect API."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    deadline = time.monotonic() + TASK_RUN_WAIT_SECONDS
    while True:
        with get_client(sync_client=True) as client:
            runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
        done = [r for r in runs if r.start_time and r.end_time]
        # a run with nothing new skips the stages that would get nothing; store always runs, last
        if (len(done) == len(runs) and any(r.name.startswith("store-") for r in runs)) \
                or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    seconds: dict[str, float] = {}
    for run in done:
        name = run.name.rsplit("-", 1)[0]
        seconds[name] = seconds.get(name, 0.0) + (run.end_time - run.start_time).total_seconds()
    return seconds


def _run_counts(warehouse: Path) -> dict[str, int]:
    """The counts of the latest run recorded in a warehouse."""
    from warehouse import open_warehouse

    with open_warehouse(warehouse) as con:
        row = con.execute("SELECT discovered, skipped, new_articles, duplicates, rejected FROM runs "
                          "ORDER BY started_at DESC LIMIT 1").fetchone()
        stored = con.execute("SELECT count(*) FROM store.articles").fetchone()[0]
    keys = ("discovered", "skipped", "new_articles", "duplicates", "rejected")
    return {**dict(zip(keys, row or (0,) * len(keys))), "stored": stored}


def flow_run(config: Path, folder: Path, warehouse: Path) -> dict[str, object]:
    """Run the ingest flow once in this process and measure it: wall time, stages, counts, memory.

    What the command line does before the flow (reading the config and taxonomy, checking the
    warehouse path) is done first and not timed, as are the imports.
    """
    from flows import pool as parallel
    from flows import spread
    from flows.cli import wait_for_warehouse
    from flows.ingest import ingest
    from flows.runs import resolve_run
    from warehouse import lake

    settings, _ = resolve_run(str(config), [str(folder)], str(warehouse))
    lake.check(settings.warehouse)
    wait_for_warehouse(settings)
    sampler = RssSampler()
    sampler.start()
    start = time.perf_counter()
    state = spread.with_runner(ingest, settings.parallel)(sources=[str(folder)], config_path=str(config),
                                                          warehouse_path=str(warehouse), return_state=True)
    seconds = time.perf_counter() - start
    parallel.shutdown()
    tree_peak = sampler.stop()
    if not state.is_completed():
        raise RuntimeError(f"the flow run ended {state.type.value}: {state.message}")
    stages = _stage_seconds(state.state_details.flow_run_id)
    return {"seconds": seconds, "stages": stages, "counts": _run_counts(warehouse),
            "rss_mb": _own_peak_bytes() / 2**20,
            "tree_rss_mb": tree_peak / 2**20, "workers": parallel.worker_count(settings.parallel.workers),
            "runner": settings.parallel.runner}


def _run_in_child(args: argparse.Namespace) -> int:
    """The --child entry point: one measured flow run, its result written as JSON."""
    result = flow_run(args.config, args.folder, args.warehouse)
    args.result.write_text(json.dumps(result), encoding="utf-8")
    return 0


@dataclass
class Bench:
    """The temporary folders of one benchmark and the Prefect API its runs report to."""

    root: Path
    api_url: str
    runs: list[dict[str, object]] = field(default_factory=list)

    def config(self, warehouse: Path, runner: str = "processes") -> Path:
        """A pipeline config with its warehouse and reports in the temporary folder."""
        path = warehouse.with_suffix(".toml")
        path.write_text(f'[warehouse]\ncatalog = "{warehouse.as_posix()}"\n'
                        f'reports_dir = "{(self.root / "reports").as_posix()}"\nlock_wait_seconds = 5\n'
                        f'[tags]\ntaxonomy = "{TAXONOMY.as_posix()}"\n[parallel]\nrunner = "{runner}"\n',
                        encoding="utf-8")
        return path

    def run(self, label: str, folder: Path, warehouse: Path, runner: str = "processes") -> dict[str, object]:
        """One flow run in a fresh process (as `make run` would be), measured there."""
        result_path = self.root / f"result-{len(self.runs)}.json"
        env = {**os.environ, "PREFECT_API_URL": self.api_url, "PREFECT_LOGGING_LEVEL": "WARNING"}
        command = [sys.executable, "-m", "bench.bench", "--child", "--config", str(self.config(warehouse, runner)),
                   "--folder", str(folder), "--warehouse", str(warehouse), "--result", str(result_path)]
        print(f"  {label} ...", end="", flush=True)
        done = subprocess.run(command, cwd=PROJECT_ROOT, env=env, timeout=RUN_TIMEOUT_SECONDS,
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{label}: the run failed:\n{done.stderr[-3000:]}")
        result = {"label": label, **json.loads(result_path.read_text(encoding="utf-8"))}
        counts = result["counts"]
        print(f" {result['seconds']:.1f} s ({counts['new_articles']} new, {counts['duplicates']} duplicates, "
              f"{counts['rejected']} rejected, {counts['skipped']} skipped)")
        self.runs.append(result)
        return result


def _start_api() -> tuple[object | None, str]:
    """The Prefect API to report to: $PREFECT_API_URL, else a local server started for the benchmark."""
    if os.environ.get("PREFECT_API_URL"):
        return None, os.environ["PREFECT_API_URL"]
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    server.start(timeout=SERVER_START_SECONDS)
    return server, server.api_url


# --- a large warehouse, quickly: synthetic stored articles -------------------------------------------------------

SYNTHETIC_SOURCE = "archive"
PRELOAD_BATCH = 10_000
DUPLICATE_SHARE = 0.1       # synthetic articles that are near copies of an earlier one ...
COPY_KEEP = 0.75            # ... keeping this share of its signature
COPY_LOOKBACK = 2_000       # ... among the articles stored just before
JOIN_SHARE = 0.35           # originals that join a recent story rather than start their own
RECENT_STORIES = 50
REPLACED_TERMS = 0.5        # share of a template's story terms swapped for other words of the vocabulary
VOCABULARY = 50_000
MINHASH_PRIME = (1 << 61) - 1
SQL_TEMPLATES = """
SELECT title, text, language, minhash, story_terms, summary, word_count FROM store.articles
WHERE duplicate_of IS NULL AND minhash IS NOT NULL AND story_terms IS NOT NULL ORDER BY article_id
"""
SQL_STORED = "SELECT count(*) FROM store.articles"


@dataclass(frozen=True)
class _Template:
    """A stored article whose text, signature width and story terms synthetic articles borrow."""

    title: str
    text: str
    language: str | None
    minhash: bytes
    terms: dict[str, float]
    summary: list[str]
    words: int


def _signatures(rng: np.random.Generator, words: np.ndarray, width: int) -> np.ndarray:
    """MinHash-like signatures: each value the minimum of `words` uniform hashes below the Mersenne prime."""
    uniform = rng.random((len(words), width))
    return ((1.0 - uniform ** (1.0 / np.maximum(words, 1)[:, None])) * MINHASH_PRIME).astype("<u8")


def _terms(rng: np.random.Generator, template: dict[str, float], vocabulary: list[str]) -> dict[str, float]:
    """A template's story terms with about half of them swapped for words drawn from a Zipf-like vocabulary."""
    out: dict[str, float] = {}
    for term, weight in template.items():
        if rng.random() < REPLACED_TERMS:
            term = vocabulary[min(len(vocabulary) - 1, int(len(vocabulary) * rng.random() ** 3))]
        out[term] = out.get(term, 0.0) + weight
    norm = sum(w * w for w in out.values()) ** 0.5
    return {t: w / norm for t, w in out.items()}


def synthetic_articles(templates: list[_Template], ages: np.ndarray, first: int, rng: np.random.Generator,
                       history: list[tuple[str, str]]) -> list:
    """Stored-looking articles published `ages` seconds ago (one article per age, oldest first).

    history holds (original article_id, story_id) of every synthetic article made so far, numbered
    from 0 (this batch starts at `first`); it grows as articles are made.
    """
    from tasks.records import Article, CleanedArticle, RawDocument

    now = datetime.now(timezone.utc).timestamp()
    count = len(ages)
    picks = rng.integers(0, len(templates), count)
    words = np.array([templates[i].words for i in picks])
    width = len(templates[0].minhash) // 8
    signatures = _signatures(rng, words, width)
    vocabulary = sorted({t for tpl in templates for t in tpl.terms}) + [f"term{k}" for k in range(VOCABULARY)]
    articles = []
    for k in range(count):
        serial = first + k
        tpl = templates[picks[k]]
        content_hash = hashlib.sha256(f"synthetic {serial}".encode()).hexdigest()
        article_id = content_hash[:16]
        url = f"https://{SYNTHETIC_SOURCE}.example/{serial // 1000}/{article_id}"
        published = datetime.fromtimestamp(now - ages[k], timezone.utc)
        doc = RawDocument(source=SYNTHETIC_SOURCE, locator=url, content_hash=content_hash,
                          raw=f"<html><title>{tpl.title}</title>{serial}</html>".encode(), media_type="text/html",
                          url=url)
        cleaned = CleanedArticle(title=tpl.title, text=tpl.text, language=tpl.language, published_at=published,
                                 site_name="Archive", canonical_url=url)
        article = Article(article_id=article_id, doc=doc, cleaned=cleaned, word_count=tpl.words,
                          text_hash=hashlib.sha256(content_hash.encode()).hexdigest(),
                          story_terms=_terms(rng, tpl.terms, vocabulary), summary=list(tpl.summary))
        if k and rng.random() < DUPLICATE_SHARE:  # a near copy of an article a little earlier in the batch
            j = k - 1 - int(rng.integers(0, min(k, COPY_LOOKBACK)))
            original, story = history[first + j]
            keep = rng.random(width) < COPY_KEEP
            signatures[k] = np.where(keep, signatures[j], signatures[k])
            article.duplicate_of, article.duplicate_kind, article.story_id = original, "near", story
            article.similarity = round(float(keep.mean()), 4)
        else:
            recent = [h[1] for h in history[-RECENT_STORIES:]]
            joins = recent and rng.random() < JOIN_SHARE
            article.story_id = recent[int(rng.integers(0, len(recent)))] if joins else article_id
        article.minhash = signatures[k].tobytes()
        history.append((article.duplicate_of or article_id, article.story_id))
        articles.append(article)
    return articles


def preload(warehouse: Path, target: int, per_day: int, seed: int = 7) -> int:
    """Add synthetic stored articles until the warehouse holds `target`; return how many were added.

    Their text, signature width and story terms come from the articles already stored; they are
    spread over target / per_day days of publication times (the history a warehouse of that size
    would have at that ingest rate), and written with the store's own write_run, 10k per run.
    """
    from tasks.records import RunCounts
    from warehouse import connect, write

    con = connect.connect(warehouse)
    try:
        con.execute("SET enable_progress_bar = false")
        stored = con.execute(SQL_STORED).fetchone()[0]
        templates = [_Template(title or "Untitled", text, language, minhash, json.loads(terms), list(summary or []),
                               words) for title, text, language, minhash, terms, summary, words
                     in con.execute(SQL_TEMPLATES).fetchall()]
        if not templates:
            raise RuntimeError(f"{warehouse}: no stored article to model synthetic ones on")
        rng = np.random.default_rng(seed)
        history: list[tuple[str, str]] = []
        missing = max(0, target - stored)
        ages = np.sort(rng.uniform(0, target / per_day * 86400, missing))[::-1]
        for first in range(0, missing, PRELOAD_BATCH):
            count = min(PRELOAD_BATCH, missing - first)
            articles = synthetic_articles(templates, ages[first:first + count], first, rng, history)
            run_id = f"preload-{first:07d}"
            write.begin_run(con, run_id, None, SYNTHETIC_SOURCE)
            dups = sum(1 for a in articles if a.duplicate_of)
            write.write_run(con, run_id, articles, [], [], RunCounts(discovered=count, new_articles=count - dups,
                                                                     duplicates=dups))
        return missing
    finally:
        con.close()


# --- the report ----------------------------------------------------------------------------------------------

def _mb(run: dict[str, object]) -> float:
    """Peak resident memory of a run: the flow process with its workers."""
    return round(max(float(run["rss_mb"]), float(run["tree_rss_mb"])), 1)


def tables(report: dict[str, object]) -> list[Table]:
    """The benchmark's results as aligned tables: runs, stages, targets."""
    ref, first, rerun = report["reference"], report["first"], report["rerun"]
    pages = int(ref["pages"])
    runs = Table("Throughput", ["run", "pages", "articles", "new", "duplicates", "seconds", "pages/s", "vs plain",
                                "peak RSS MB"])
    runs.rows.append([f"plain trafilatura.extract, Pool({ref['processes']})", pages, int(ref["texts"]), "-", "-",
                      round(ref["seconds"], 2), round(pages / ref["seconds"], 2), 1.0, "-"])
    pipeline = [("pipeline, first run", first), ("pipeline, re-run of the same folder", rerun)]
    if report.get("dask"):
        pipeline.insert(1, ("pipeline, first run, Dask LocalCluster", report["dask"]))
    for label, run in pipeline:
        counts = run["counts"]
        runs.rows.append([label, pages, int(counts["new_articles"] + counts["duplicates"]),
                          int(counts["new_articles"]), int(counts["duplicates"]),
                          round(run["seconds"], 2), round(pages / run["seconds"], 2),
                          round(ref["seconds"] / run["seconds"], 3), _mb(run)])
    for inc in report["incremental"]:
        counts = inc["best"]["counts"]
        runs.rows.append([f"+{inc['new_pages']} new pages, {inc['stored']:,} stored", inc["new_pages"],
                          int(counts["new_articles"] + counts["duplicates"]), int(counts["new_articles"]),
                          int(counts["duplicates"]), round(inc["best"]["seconds"], 2),
                          round(inc["new_pages"] / inc["best"]["seconds"], 2), "-", _mb(inc["best"])])
    overlap = report.get("new_page_overlap", {})
    runs.notes = [f"Every pipeline row is one real `ingest` flow run in a fresh process on a Prefect API, with a "
                  f"DuckLake (SQLite catalog, Parquet files) in a temporary folder; {report['workers']} worker "
                  f"processes; incremental rows show the fastest of {report['repeats']} runs. Interpreter start "
                  "and imports are not timed.",
                  "The new pages are BBC articles held out of the folder's pages (and of the copies and remixes "
                  "among them); largest 4-word-shingle Jaccard of a new page with any text the folder draws on: "
                  f"{overlap.get('jaccard', 0.0):.3f} (containment {overlap.get('containment', 0.0):.3f}). "
                  "`new` and `duplicates` are the run's own counts (a re-run skips unchanged pages)."]
    short = [i for i in report["incremental"] if any(r["counts"]["new_articles"] < MIN_NEW_FOUND * i["new_pages"]
                                                     for r in i["runs"])]
    if short:
        runs.notes.append("WARNING: fewer than {:.0%} of the new pages were found new at {}.".format(
            MIN_NEW_FOUND, ", ".join(f"{i['stored']:,} stored" for i in short)))
    columns = [("first", first), ("re-run", rerun)] + [(f"+new @{i['stored'] // 1000}k", i["best"])
                                                       for i in report["incremental"]]
    stages = Table("Seconds per stage", ["stage", *[c for c, _ in columns]])
    for stage in STAGES:
        stages.rows.append([stage, *[round(float(r["stages"].get(stage, 0.0)), 2) for _, r in columns]])
    stages.rows.append(["flow (artifacts, digest, Prefect)",
                        *[round(float(r["seconds"]) - sum(r["stages"].values()), 2) for _, r in columns]])
    stages.rows.append(["total", *[round(float(r["seconds"]), 2) for _, r in columns]])
    targets = Table("Targets", ["target", "measured", "limit", "result"])
    for row in report["targets"]:
        targets.rows.append([row["target"], row["measured"], row["limit"], "PASS" if row["pass"] else "FAIL"])
    return [runs, stages, targets]


def check_targets(report: dict[str, object]) -> list[dict[str, object]]:
    """Each target with its measured value and whether it passes."""
    ref, first, rerun, inc = report["reference"], report["first"], report["rerun"], report["incremental"]
    share = ref["seconds"] / first["seconds"]
    rows = [
        {"target": "pipeline throughput / plain trafilatura", "measured": round(share, 3),
         "limit": f">= {MIN_THROUGHPUT_SHARE}", "pass": share >= MIN_THROUGHPUT_SHARE},
        {"target": "re-run time / first run time", "measured": round(rerun["seconds"] / first["seconds"], 4),
         "limit": f"<= {MAX_RERUN_SHARE}", "pass": rerun["seconds"] / first["seconds"] <= MAX_RERUN_SHARE},
    ]
    if len(inc) >= 2:
        small, large = inc[0], inc[-1]
        growth = large["per_article"] / small["per_article"]
        rows.append({"target": f"s per new article at {large['stored']:,} / at {small['stored']:,} stored",
                     "measured": round(growth, 3), "limit": f"<= {MAX_GROWTH}", "pass": growth <= MAX_GROWTH})
    if inc:
        peak = max(_mb(r) for r in inc[-1]["runs"])
        rows.append({"target": f"peak RSS MB at {inc[-1]['stored']:,} stored", "measured": peak,
                     "limit": f"< {MAX_RSS_MB}", "pass": peak < MAX_RSS_MB})
        for name, seconds in inc[-1].get("sql_seconds", {}).items():
            rows.append({"target": f"make sql, {name} query at {inc[-1]['stored']:,} stored (s, whole command)",
                         "measured": seconds, "limit": f"< {MAX_SQL_SECONDS}", "pass": seconds < MAX_SQL_SECONDS})
    return rows


# --- the benchmark -------------------------------------------------------------------------------------------

def _lake_files(catalog: Path) -> list[Path]:
    """A local lake's catalog file, its data folder beside it, and its run lock file."""
    return [catalog, catalog.with_name(catalog.name + ".files"), catalog.with_name(catalog.name + ".lock")]


def _copy(source: Path, target: Path) -> None:
    """Copy a lake (its catalog and the data files beside it) and flush it to disk, so the run on it does
    not pay for writing the copy."""
    shutil.copyfile(source, target)
    shutil.copytree(_lake_files(source)[1], _lake_files(target)[1])
    for path in [target, *_lake_files(target)[1].rglob("*.parquet")]:
        with path.open("rb+") as handle:
            os.fsync(handle.fileno())


def _remove(catalog: Path) -> None:
    for path in _lake_files(catalog):
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)


SQL_TIMED = {"count": "SELECT count(*), max(ingested_at) FROM articles",
             "stories": "SELECT title, article_count, sources FROM stories WHERE last_seen >= now() - INTERVAL 2 DAY "
                        "ORDER BY article_count DESC LIMIT 20"}


def sql_seconds(catalog: Path, repeats: int = 3) -> dict[str, float]:
    """Wall time of `make sql ARGS="-c '...'"` for the README's two queries on a lake (fastest of repeats):
    the command line started, the lake attached, the query answered."""
    times = {}
    for name, sql in SQL_TIMED.items():
        best = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "warehouse.shell", "--warehouse", str(catalog), "-c", sql],
                                  cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
            best = min(best, time.perf_counter() - started)
            if done.returncode != 0:
                raise RuntimeError(f"make sql failed: {done.stderr[-2000:]}")
        times[name] = round(best, 3)
    return times


def incremental(bench: Bench, base: Path, folder: Path, new_paths: list[Path], sizes: list[int], repeats: int,
                per_day: int) -> list[dict[str, object]]:
    """Add the new pages to the folder, then run on copies of the base warehouse preloaded to each size."""
    for path in new_paths:
        shutil.copy2(path, folder / path.name)
    results = []
    for size in sizes:
        loaded = bench.root / f"preloaded-{size}.sqlite"
        _copy(base, loaded)
        started = time.perf_counter()
        added = preload(loaded, size, per_day)
        print(f"  preloaded {added:,} synthetic articles to {size:,} in {time.perf_counter() - started:.1f} s")
        sql = sql_seconds(loaded)
        print(f"  make sql at {size:,} stored: " + ", ".join(f"{k} {v:.2f} s" for k, v in sql.items()))
        runs = []
        for attempt in range(repeats):
            copy = bench.root / f"incremental-{size}-{attempt}.sqlite"
            _copy(loaded, copy)
            runs.append(bench.run(f"+{len(new_paths)} pages at {size:,} stored (#{attempt + 1})", folder, copy))
            _remove(copy)
        _remove(loaded)
        best = min(runs, key=lambda r: float(r["seconds"]))
        results.append({"stored": size, "new_pages": len(new_paths), "runs": runs, "best": best, "sql_seconds": sql,
                        "per_article": float(best["seconds"]) / len(new_paths),
                        "new_articles": [int(r["counts"]["new_articles"]) for r in runs],
                        "duplicates": [int(r["counts"]["duplicates"]) for r in runs]})
    return results


def run_benchmark(args: argparse.Namespace) -> dict[str, object]:
    """Build the pages, time the reference and the flow runs, and return the report."""
    root = Path(tempfile.mkdtemp(prefix="newsdesk-bench-"))
    try:
        source = PageSource(args.data, held_out=max(1, round(args.pages * NEW_SHARE)))
        folder, staged = root / "pages", root / "new-pages"
        started = time.perf_counter()
        paths = write_pages(source.pages(0, args.pages), folder)
        new_paths = write_pages(source.new_pages(), staged)
        jaccard, containment = source.new_page_overlap(0, args.pages)
        print(f"built {len(paths)} pages (+{len(new_paths)} new, held out of them: largest shingle Jaccard "
              f"{jaccard:.3f}, containment {containment:.3f}) in {time.perf_counter() - started:.1f} s; "
              f"extraction pages in {', '.join(sorted(UNSUPPORTED_LANGUAGES))} left out")
        processes = os.cpu_count() or 1
        print(f"plain trafilatura.extract over {len(paths)} pages, Pool({processes}) ...", end="", flush=True)
        reference = plain_trafilatura(paths, processes)
        print(f" {reference['seconds']:.1f} s")
        os.environ.setdefault("PREFECT_HOME", str(PREFECT_HOME))
        os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        PREFECT_HOME.mkdir(parents=True, exist_ok=True)
        server, api_url = _start_api()
        try:
            bench = Bench(root, api_url)
            (root / "empty").mkdir()
            bench.run("warm-up on an empty folder", root / "empty", root / "warm-up.sqlite")
            base = root / "base.sqlite"
            first = bench.run(f"first run over {len(paths)} pages", folder, base)
            rerun = bench.run("re-run over the unchanged folder", folder, base)
            dask = bench.run(f"first run over {len(paths)} pages, CPU stages on a local Dask cluster", folder,
                             root / "dask.sqlite", runner="dask") if args.dask else None
            inc = incremental(bench, base, folder, new_paths, args.preload, args.repeats, args.per_day)
        finally:
            if server is not None:
                server.stop()
        report: dict[str, object] = {
            "when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "pages": len(paths),
            "cpus": processes, "workers": first["workers"], "repeats": args.repeats, "per_day": args.per_day,
            "load_average": os.getloadavg(), "reference": reference, "first": first, "rerun": rerun, "dask": dask,
            "new_page_overlap": {"jaccard": round(jaccard, 4), "containment": round(containment, 4)},
            "incremental": inc}
        report["targets"] = check_targets(report)
        return report
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def _sizes(text: str) -> list[int]:
    """Parse a comma-separated list of warehouse sizes ('10000,100000' or '10k,100k')."""
    sizes = []
    for part in text.split(","):
        part = part.strip().lower()
        if part:
            sizes.append(int(float(part[:-1]) * 1000) if part.endswith("k") else int(part))
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"expected sizes like 10000,100000, got {text!r}")
    return sorted(sizes)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench", description=__doc__)
    parser.add_argument("--pages", type=int, default=2000, help="pages in the folder (default: %(default)s)")
    parser.add_argument("--preload", type=_sizes, default=[10_000, 100_000],
                        help="warehouse sizes for the incremental runs (default: 10000,100000)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=5,
                        help="runs per incremental size; the fastest counts (default: %(default)s)")
    parser.add_argument("--per-day", type=int, default=2000,
                        help="articles per day the preloaded history was ingested at (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON report (default: %(default)s)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--no-dask", dest="dask", action="store_false",
                        help="skip the first run on a local Dask cluster (prefect-dask's task runner)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--warehouse", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.pages < 1 or args.repeats < 1 or args.per_day < 1:
        parser.error("--pages, --repeats and --per-day must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print its tables (targets as PASS/FAIL) and write the JSON report."""
    args = _arguments(argv)
    if args.child:
        return _run_in_child(args)
    report = run_benchmark(args)
    for table in tables(report):
        print()
        print(table.render())
    write_report(args.out, report)
    print(f"\nreport written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
