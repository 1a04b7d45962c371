"""Crash-safety soak: kill -9 command-line ingest runs at random points, run again, check the warehouse."""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TAXONOMY = PROJECT_ROOT / "config" / "issues.toml"
RUN_TIMEOUT = 600
# The run's one transaction writes its Parquet files before the catalog commits them; the schema
# migrations and the 'running' row before it write none (small writes stay in the catalog).
COMMIT_WINDOW_SECONDS = 0.3  # commit trials kill within this long after the transaction's first data file

# --- a corpus of distinct, realistic articles -------------------------------------------------------

PLACES = ("Lisbon", "Nairobi", "Osaka", "Valparaiso", "Tallinn", "Winnipeg", "Hanoi", "Accra", "Porto Alegre",
          "Gdansk", "Aarhus", "Cebu", "Tbilisi", "Leeds", "Marseille", "Dunedin", "Bilbao", "Kraków", "Mombasa",
          "Tromsø", "Halifax", "Medellín", "Chennai", "Salzburg", "Da Nang", "Cork", "Bergen", "Kigali")
PEOPLE = ("Maria Okafor", "Jonas Lindqvist", "Aiko Tanaka", "Rafael Duarte", "Priya Raman", "Tomasz Wójcik",
          "Amara Nwosu", "Helen Price", "Kwame Mensah", "Sofia Marchetti", "Lars Holm", "Nadia Haddad",
          "Diego Paredes", "Ingrid Solberg", "Chen Wei", "Fatima Zahra", "Owen Gallagher", "Yusuf Demir")
ROLES = ("the mayor", "a spokesperson for the ministry", "the head of the port authority", "a union organiser",
         "the chief economist", "a local shop owner", "the hospital director", "a senior engineer",
         "the transport commissioner", "a climate researcher", "the school principal", "a fisheries inspector")
ORGS = ("the city council", "the regional water board", "the national statistics office", "the central bank",
        "the health ministry", "the harbour company", "the teachers' union", "the rail operator",
        "the energy regulator", "the university hospital", "the farmers' cooperative", "the coast guard")
SUBJECTS = ("tram line", "flood barrier", "school meals programme", "wind farm", "ferry service",
            "housing scheme", "bus fare", "hospital wing", "recycling plant", "bridge repair", "fishing quota",
            "library extension", "cycle network", "heat pump subsidy", "vaccination drive", "night market")
VERBS = ("approved", "postponed", "expanded", "cancelled", "announced", "reviewed", "defended", "criticised",
         "funded", "suspended", "relaunched", "questioned")
CONSEQUENCES = ("could affect thousands of commuters", "drew sharp criticism from residents",
                "was welcomed by business groups", "is expected to cost more than planned",
                "ends a dispute that lasted two years", "raised questions about oversight",
                "may delay other projects", "surprised many observers", "will be reviewed next spring",
                "follows months of negotiations")
UNITS = ("million euros", "thousand passengers", "tonnes", "households", "jobs", "kilometres", "beds")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
QUOTES = ("We have listened to people and we are acting on what they told us",
          "This is not the end of the process, it is the beginning",
          "Nobody should have to wait this long for a basic service",
          "The numbers simply do not add up for families here",
          "We will keep pushing until the work is finished",
          "It is a fair compromise that protects the most vulnerable",
          "The decision was taken without proper consultation",
          "Our teams worked through the night to get this done")


def sentence(rng: random.Random, serial: int) -> str:
    place, person, role = rng.choice(PLACES), rng.choice(PEOPLE), rng.choice(ROLES)
    org, subject, verb = rng.choice(ORGS), rng.choice(SUBJECTS), rng.choice(VERBS)
    n, m = rng.randint(2, 97), rng.randint(100, 9800)
    forms = (
        f"On {rng.choice(DAYS)}, {org} in {place} {verb} the {subject}, a decision that "
        f"{rng.choice(CONSEQUENCES)}.",
        f"\u201c{rng.choice(QUOTES)},\u201d said {person}, {role}, speaking to reporters in {place}.",
        f"Figures published by {org} show the {subject} reached {m:,} {rng.choice(UNITS)} in "
        f"{rng.choice(MONTHS)}, up {n} percent on the year before.",
        f"Critics argue that the {subject} has been {verb} too often, and {person} said a public hearing "
        f"would be held before {rng.choice(MONTHS)} {rng.randint(1, 28)}.",
        f"The plan, first proposed {rng.randint(2, 9)} years ago, {rng.choice(CONSEQUENCES)}, "
        f"according to documents seen by this newspaper.",
        f"Residents of {place} said they had been told little about the {subject} until {org} {verb} it "
        f"last {rng.choice(DAYS)}.",
        f"Reference number {serial}-{m} was given to the case by {org}, which said it would publish its "
        f"findings in {rng.choice(MONTHS)}.",
    )
    return rng.choice(forms)


def article(rng: random.Random, serial: int) -> tuple[str, list[str]]:
    """A headline and paragraphs of 60 to 300 words in all (headline included)."""
    target = rng.randint(60, 300)
    title = (f"{rng.choice(PLACES)}: {rng.choice(ORGS).capitalize()} {rng.choice(VERBS)} "
             f"{rng.choice(SUBJECTS)} (report {serial})")
    paragraphs: list[str] = []
    words = len(title.split())
    while True:
        count = rng.randint(1, 3)
        sentences = [sentence(rng, serial) for _ in range(count)]
        added = sum(len(s.split()) for s in sentences)
        if words + added > target and words >= 60:
            break
        if words + added > 300:
            sentences = sentences[:1]
            added = len(sentences[0].split())
            if words + added > 300:
                break
        paragraphs.append(" ".join(sentences))
        words += added
    if serial % 2 == 0:  # a unique closing sentence keeps every article's words distinct
        paragraphs[-1] += f" The {serial}th item of the series closes here."
    else:
        paragraphs.append(f"Update {serial}: this story will be updated as more details become available.")
    return title, paragraphs


def _html(title: str, paragraphs: list[str], place: str) -> str:
    body = "\n".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{escape(title)} | "
            f"The {place} Courier</title></head>\n<body><header><nav><a href=\"/\">Home</a> "
            f"<a href=\"/local\">Local</a> <a href=\"/sport\">Sport</a></nav></header>\n<main><article>"
            f"<h1>{escape(title)}</h1>\n{body}\n</article></main>\n<footer><p>Copyright 2025 The {place} Courier. "
            f"All rights reserved.</p></footer></body></html>\n")


def make_corpus(folder: Path, count: int = 200, seed: int = 20250101) -> list[Path]:
    """Write count distinct article files (txt, md and some HTML) into folder; return their paths."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for serial in range(count):
        title, paragraphs = article(rng, serial)
        kind = rng.random()
        if kind < 0.3:
            path = folder / f"article_{serial:04d}.html"
            path.write_text(_html(title, paragraphs, rng.choice(PLACES)), encoding="utf-8")
        elif kind < 0.45:
            path = folder / f"article_{serial:04d}.md"
            path.write_text(f"# {title}\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
        else:
            path = folder / f"article_{serial:04d}.txt"
            path.write_text(title + "\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


# --- running the command line -----------------------------------------------------------------------

def write_config(folder: Path, source: Path, lock_wait_seconds: float = 30, extra: str = "") -> Path:
    """A pipeline config in folder: warehouse and reports there, one folder source."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pipeline.toml"
    path.write_text(
        f'[warehouse]\ncatalog = "{(folder / "catalog.sqlite").as_posix()}"\n'
        f'reports_dir = "{(folder / "reports").as_posix()}"\nlock_wait_seconds = {lock_wait_seconds}\n'
        f'[tags]\ntaxonomy = "{TAXONOMY.as_posix()}"\n{extra}\n'
        f'[[sources]]\nname = "corpus"\nkind = "folder"\npath = "{source.as_posix()}"\n', encoding="utf-8")
    return path


def cli_env(api_url: str | None) -> dict[str, str]:
    """The environment for a command-line run against the Prefect API at api_url."""
    env = {**os.environ, "PREFECT_LOGGING_LEVEL": "WARNING", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PYTHONUNBUFFERED": "1"}
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


def start_cli(config: Path, env: dict[str, str], *args: str) -> subprocess.Popen:
    """Start `python -m flows.ingest --config CONFIG ...` in its own process group."""
    return subprocess.Popen([sys.executable, "-m", "flows.ingest", "--config", str(config), *args],
                            cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def run_cli(config: Path, env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess, float]:
    """Run the command line to completion; return its result and how long it took."""
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "flows.ingest", "--config", str(config), *args],
                            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    return result, time.monotonic() - started


def kill_hard(proc: subprocess.Popen) -> bool:
    """SIGKILL the process group of proc; True when it was still running."""
    alive = proc.poll() is None
    if alive:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            alive = False
    proc.communicate()
    return alive


# --- checking the warehouse -------------------------------------------------------------------------

@dataclass
class WarehouseCheck:
    """What the warehouse holds after a trial, and every broken promise found in it."""

    files: int
    articles: int = 0
    rejects: int = 0
    inputs: int = 0  # distinct content hashes over articles and rejects
    runs: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _scalar(con, sql: str) -> int:
    return int(con.execute(sql).fetchone()[0] or 0)


def check_warehouse(db: Path, files: int) -> WarehouseCheck:
    """Check that each of `files` inputs is stored exactly once, consistently, and no run is left running."""
    from warehouse import open_warehouse

    check = WarehouseCheck(files=files)
    with open_warehouse(db) as con:
        check.articles = _scalar(con, "SELECT count(*) FROM store.articles")
        check.rejects = _scalar(con, "SELECT count(*) FROM store.rejects")
        check.inputs = _scalar(con, "SELECT count(DISTINCT h) FROM (SELECT content_hash AS h FROM store.articles "
                                    "UNION ALL SELECT content_hash FROM store.rejects)")
        check.runs = dict(con.execute("SELECT status, count(*) FROM store.runs GROUP BY status").fetchall())
        counts = {
            "inputs stored (distinct content hashes) differ from the files": abs(check.inputs - files),
            "reject rows without a content hash": _scalar(
                con, "SELECT count(*) FROM store.rejects WHERE content_hash IS NULL"),
            "duplicate article_id": _scalar(
                con, "SELECT count(*) - count(DISTINCT article_id) FROM store.articles"),
            "articles sharing a content hash": _scalar(
                con, "SELECT count(*) - count(DISTINCT content_hash) FROM store.articles"),
            "inputs both stored and rejected": _scalar(
                con, "SELECT count(*) FROM store.articles a JOIN store.rejects r USING (content_hash)"),
            "inputs rejected more than once": _scalar(
                con, "SELECT count(*) - count(DISTINCT content_hash) FROM store.rejects"),
            "articles without a summary": _scalar(
                con, "SELECT count(*) FROM store.articles WHERE summary IS NULL OR len(summary) = 0"),
            "tag rows of missing articles": _scalar(
                con, "SELECT count(*) FROM store.article_tags t ANTI JOIN store.articles a USING (article_id)"),
            "tag rows from another run than their article": _scalar(
                con, "SELECT count(*) FROM store.article_tags t JOIN store.articles a USING (article_id) "
                     "WHERE t.run_id <> a.run_id"),
            "duplicate tag rows": _scalar(
                con, "SELECT count(*) FROM (SELECT article_id, issue FROM store.article_tags "
                     "GROUP BY ALL HAVING count(*) > 1)"),
            "raw inputs without an article": _scalar(
                con, "SELECT count(*) FROM store.raw_inputs r ANTI JOIN store.articles a USING (content_hash)"),
            "articles without their raw input": _scalar(
                con, "SELECT count(*) FROM store.articles a ANTI JOIN store.raw_inputs r USING (content_hash)"),
            "duplicate raw inputs": _scalar(
                con, "SELECT count(*) - count(DISTINCT content_hash) FROM store.raw_inputs"),
            "rows of runs that did not complete": _scalar(
                con, "SELECT (SELECT count(*) FROM store.articles WHERE run_id NOT IN "
                     "(SELECT run_id FROM store.runs WHERE status = 'completed')) + (SELECT count(*) FROM "
                     "store.rejects WHERE run_id NOT IN (SELECT run_id FROM store.runs WHERE status = 'completed'))"),
            "runs left running": check.runs.get("running", 0),
            "failed runs": check.runs.get("failed", 0),
        }
    check.problems = [f"{what}: {n}" for what, n in counts.items() if n]
    return check


# --- one trial --------------------------------------------------------------------------------------

@dataclass
class Trial:
    """One kill -9 trial: when the first run was killed, and what the warehouse held after the rerun."""

    delay: float
    killed: bool  # the first run was still running when the signal came
    phase: str  # where the killed run was: "before the warehouse", "mid-run" or "after commit"
    first_exit: int | None
    rerun_exit: int
    rerun_seconds: float
    abandoned: int
    check: WarehouseCheck
    stderr_tail: str = ""
    files_at_kill: int = 0  # data files in the lake's folder just before the kill
    orphans: int = 0  # of them, those no snapshot refers to after the kill (a commit cut short)
    orphans_left: int = 0  # orphaned data files left after maintain


def _run_statuses(db: Path) -> dict[str, int]:
    """Run counts by status in a warehouse ({} when it has no runs table yet)."""
    from warehouse import WarehouseError, open_warehouse

    try:
        with open_warehouse(db) as con:
            if not _scalar(con, "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'news' "
                                "AND schema_name = 'store' AND table_name = 'runs'"):
                return {}
            return dict(con.execute("SELECT status, count(*) FROM store.runs GROUP BY status").fetchall())
    except WarehouseError:
        return {}


def data_files(db: Path) -> int:
    """How many Parquet files the lake's folder (beside its catalog) holds."""
    return sum(1 for _ in Path(f"{db}.files").rglob("*.parquet"))


def orphaned_files(db: Path, remove: bool = False) -> int:
    """Data files of the lake that no snapshot refers to; with remove, after a maintain pass (as the
    maintain flow does it)."""
    from warehouse import connect, upkeep

    con = connect.connect(db, lock_wait_seconds=60)
    try:
        if remove:
            upkeep.maintain(con, keep_snapshots_days=7, exclusive=True)
        return len(upkeep.orphaned_files(con))
    finally:
        con.close()


def _wait_for_commit(proc: subprocess.Popen, db: Path, after: float, timeout: float) -> None:
    """Wait until the run's transaction writes its first data file (its commit is under way), then
    `after` seconds more; or until the run exits or timeout passes."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        if data_files(db):
            if after > 0:
                time.sleep(after)
            return
        time.sleep(0.002)


def crash_trial(work: Path, corpus: Path, files: int, delay: float, env: dict[str, str],
                at_commit: bool = False) -> Trial:
    """Start a run, SIGKILL it, run again to completion, and check the warehouse.

    The kill comes `delay` seconds after the start, or with at_commit `delay` seconds after the run's
    transaction writes its first data file (the files, then the catalog's commit). Afterwards maintain
    must remove every data file the killed run left unreferenced.
    """
    if work.exists():
        shutil.rmtree(work)
    config = write_config(work, corpus)
    proc = start_cli(config, env)
    db = work / "catalog.sqlite"
    try:
        if at_commit:
            _wait_for_commit(proc, db, delay, RUN_TIMEOUT)
        else:
            deadline = time.monotonic() + delay
            while time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.02)
    finally:
        files_at_kill = data_files(db)
        killed = kill_hard(proc)
    before = _run_statuses(db)
    orphans = orphaned_files(db) if before else 0
    phase = ("after commit" if before.get("completed") else "mid-run" if before.get("running")
             else "before the warehouse")
    result, seconds = run_cli(config, env)
    check = check_warehouse(db, files)
    abandoned = check.runs.get("abandoned", 0)
    if result.returncode != 0:
        check.problems.append(f"the run after the crash exited {result.returncode}")
    if abandoned != before.get("running", 0):
        check.problems.append(f"{before.get('running', 0)} run(s) left running by the crash, "
                              f"{abandoned} marked abandoned")
    if check.runs.get("completed", 0) != 1 + before.get("completed", 0):
        check.problems.append(f"completed runs {check.runs.get('completed', 0)}, expected "
                              f"{1 + before.get('completed', 0)}")
    orphans_left = orphaned_files(db, remove=True)
    if orphans_left:
        check.problems.append(f"{orphans_left} orphaned data files left after maintain")
    return Trial(delay=delay, killed=killed, phase=phase, first_exit=None if killed else proc.returncode,
                 rerun_exit=result.returncode, rerun_seconds=seconds, abandoned=abandoned, check=check,
                 stderr_tail=result.stderr[-2000:], files_at_kill=files_at_kill, orphans=orphans,
                 orphans_left=orphans_left)


def stored_articles(db: Path) -> set[tuple]:
    """(content_hash, title, text, summary) of every stored article, to compare warehouses."""
    from warehouse import open_warehouse

    with open_warehouse(db) as con:
        return {tuple(r) for r in con.execute(
            "SELECT content_hash, title, text, array_to_string(summary, ' ') FROM store.articles").fetchall()}


def calibrate(work: Path, corpus: Path, files: int, env: dict[str, str]) -> tuple[float, WarehouseCheck, set[tuple]]:
    """One uninterrupted run on a fresh warehouse: its duration (the typical run time), check and articles."""
    if work.exists():
        shutil.rmtree(work)
    config = write_config(work, corpus)
    result, seconds = run_cli(config, env)
    if result.returncode != 0:
        raise RuntimeError(f"calibration run exited {result.returncode}: {result.stderr[-2000:]}")
    db = work / "catalog.sqlite"
    return seconds, check_warehouse(db, files), stored_articles(db)


def kill_fractions(trials: int, seed: int) -> list[float]:
    """Seeded random points in [0, 1) of a run, one in each equal slice, shuffled: where to kill each trial."""
    rng = random.Random(seed)
    points = [(i + rng.random()) / trials for i in range(trials)]
    rng.shuffle(points)
    return points


class RunClock:
    """The typical duration of an uninterrupted run: the median of the latest ones (machine load drifts)."""

    def __init__(self, first: float, keep: int = 5) -> None:
        self.durations = [first]
        self.keep = keep

    def add(self, seconds: float) -> None:
        self.durations = [*self.durations, seconds][-self.keep:]

    @property
    def typical(self) -> float:
        ordered = sorted(self.durations)
        return ordered[len(ordered) // 2]


def main(argv: list[str] | None = None) -> int:
    """Run the soak and print its counts; exit 1 when any trial broke a promise."""
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--trials", type=int, default=20, help="kill -9 trials (default 20)")
    parser.add_argument("--commit-trials", type=int, default=10,
                        help="more trials killed while the run commits its transaction (default 10)")
    parser.add_argument("--files", type=int, default=200, help="generated article files (default 200)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the corpus and the kill delays")
    parser.add_argument("--api-url", help="a running Prefect API (default: start a test-harness server)")
    args = parser.parse_args(argv)

    prefect_home = None
    if "PREFECT_HOME" not in os.environ:
        prefect_home = os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="newsdesk-soak-prefect-")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    work = Path(tempfile.mkdtemp(prefix="newsdesk-soak-"))
    corpus = work / "corpus"
    make_corpus(corpus, args.files, args.seed)
    started = time.monotonic()

    def soak(api_url: str) -> int:
        for signum in (signal.SIGINT, signal.SIGTERM):  # stop cleanly: kill the trial, stop the server
            signal.signal(signum, lambda number, frame: sys.exit(128 + number))
        env = cli_env(api_url)
        typical, baseline, expected = calibrate(work / "calibration", corpus, args.files, env)
        print(f"calibration: {args.files} files, one uninterrupted run {typical:.1f} s, "
              f"{baseline.articles} articles + {baseline.rejects} rejects, "
              f"{'ok' if baseline.ok else 'FAILED: ' + '; '.join(baseline.problems)}", flush=True)
        failed = 0
        phases: dict[str, int] = {}

        def report(label: str, when: str, trial: Trial) -> None:
            nonlocal failed
            c = trial.check
            if stored_articles(work / "trial" / "catalog.sqlite") != expected:
                c.problems.append("stored articles differ from an uninterrupted run's")
            failed += not c.ok
            phase = trial.phase if trial.killed else f"{trial.phase}, exited {trial.first_exit} before the kill"
            phases[trial.phase] = phases.get(trial.phase, 0) + 1
            print(f"{label}: kill -9 {when} ({phase}); rerun exit {trial.rerun_exit} in {trial.rerun_seconds:.1f} s; "
                  f"inputs {c.inputs}/{c.files} ({c.articles} articles, {c.rejects} rejects); "
                  f"runs {dict(sorted(c.runs.items()))}; {'ok' if c.ok else 'FAILED: ' + '; '.join(c.problems)}",
                  flush=True)
            if not c.ok and trial.stderr_tail:
                print(trial.stderr_tail, file=sys.stderr)

        clock = RunClock(typical)
        for number, point in enumerate(kill_fractions(args.trials, args.seed), 1):
            typical = clock.typical
            trial = crash_trial(work / "trial", corpus, args.files, point * typical, env)
            if trial.phase != "after commit":  # the rerun stored everything: an uninterrupted run
                clock.add(trial.rerun_seconds)
            report(f"trial {number:2d}", f"at {point * typical:5.1f} s ({point:4.0%} of {typical:.0f} s)", trial)
        rng = random.Random(args.seed + 1)
        for number in range(1, args.commit_trials + 1):
            after = 0.0 if number % 2 else rng.random() * COMMIT_WINDOW_SECONDS  # half at once: mid-write
            trial = crash_trial(work / "trial", corpus, args.files, after, env, at_commit=True)
            report(f"commit trial {number:2d}", f"{after * 1000:3.0f} ms after the transaction's first data file "
                   f"({trial.files_at_kill} data files at the kill, {trial.orphans} orphaned)", trial)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        where = ", ".join(f"{n} {phase}" for phase, n in sorted(phases.items()))
        total = args.trials + args.commit_trials
        print(f"soak: {total} trials ({args.trials} at random points, {args.commit_trials} during the commit; "
              f"{where}): {total - failed} held every input exactly once, {failed} failed; "
              f"peak run RSS {peak:.0f} MiB; {time.monotonic() - started:.0f} s in total")
        return 1 if failed or not baseline.ok else 0

    try:
        if args.api_url:
            return soak(args.api_url)
        from prefect.settings import PREFECT_API_URL
        from prefect.testing.utilities import prefect_test_harness

        with prefect_test_harness(server_startup_timeout=120):
            return soak(PREFECT_API_URL.value())
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if prefect_home:
            shutil.rmtree(prefect_home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
