"""Concurrency: command-line runs on one warehouse at the same time wait or stop cleanly; data stays intact."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from bench.soak import check_warehouse, cli_env, make_corpus, start_cli, write_config
from warehouse import connect, open_warehouse

FILES = 60


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    make_corpus(folder, FILES, seed=3)
    return folder


def _finish(proc: subprocess.Popen, timeout: float = 600) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def _assert_clean_refusal(code: int, stderr: str) -> str:
    """A run that gave up: non-zero exit, no traceback, and a last line saying the warehouse is in use."""
    assert code in (1, 2), stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "is in use" in last and "try again later" in last, stderr[-3000:]
    return last


def _runs(db: Path) -> list[tuple]:
    with open_warehouse(db) as con:
        return con.execute(
            "SELECT status, new_articles + duplicates, rejected FROM runs ORDER BY started_at").fetchall()


@pytest.mark.parametrize("lock_wait", [120, 1])
def test_two_runs_started_together(prefect_api, tmp_path: Path, corpus: Path, lock_wait: float) -> None:
    cfg = write_config(tmp_path / "w", corpus, lock_wait_seconds=lock_wait)
    env = cli_env(prefect_api)
    procs = [start_cli(cfg, env), start_cli(cfg, env)]
    results = [_finish(p) for p in procs]
    codes = sorted(code for code, _, _ in results)
    print(f"lock wait {lock_wait} s: exits {codes}; stderr of the runs that gave up: "
          + " | ".join(repr(err) for code, _, err in results if code))
    for code, _, err in results:
        if code != 0:
            _assert_clean_refusal(code, err)
        else:
            assert "Traceback" not in err, err[-3000:]
    assert codes[0] == 0, [err[-1500:] for _, _, err in results]
    if lock_wait > 60:
        assert codes == [0, 0], "with a long enough wait both runs succeed, one after the other"
    check = check_warehouse(tmp_path / "w" / "catalog.sqlite", FILES)
    assert check.ok, check.problems
    runs = _runs(tmp_path / "w" / "catalog.sqlite")
    assert [r[0] for r in runs].count("completed") == codes.count(0)
    assert sum(r[1] + r[2] for r in runs) == FILES, runs
    with open_warehouse(tmp_path / "w" / "catalog.sqlite") as con:
        spans = con.execute("SELECT started_at, finished_at FROM runs ORDER BY started_at").fetchall()
    assert all(later[0] >= earlier[1] for earlier, later in zip(spans, spans[1:])), "runs never overlap"


def test_run_waits_for_a_writer_then_succeeds(prefect_api, tmp_path: Path, corpus: Path) -> None:
    cfg = write_config(tmp_path / "w", corpus, lock_wait_seconds=120)
    db = tmp_path / "w" / "catalog.sqlite"
    holder = connect.connect(db)  # another process's writer: this test process holds the run lock
    holder.execute("CREATE TABLE held (x INTEGER)")
    proc = start_cli(cfg, cli_env(prefect_api))
    time.sleep(8)
    assert proc.poll() is None, "the run waits while the warehouse is held"
    holder.close()
    code, out, err = _finish(proc)
    assert code == 0, err[-3000:]
    assert "Traceback" not in err and "# Ingest run" in out
    assert "(another run writing): waiting up to 120 s for its turn" in err.splitlines()[0], "said as it began"
    assert check_warehouse(db, FILES).ok


def test_run_gives_up_on_a_held_warehouse_with_one_line(prefect_api, tmp_path: Path, corpus: Path) -> None:
    import os

    cfg = write_config(tmp_path / "w", corpus, lock_wait_seconds=1)
    db = tmp_path / "w" / "catalog.sqlite"
    holder = connect.connect(db)
    holder.execute("CREATE TABLE held (x INTEGER)")
    snapshot = holder.execute("SELECT max(snapshot_id) FROM news.snapshots()").fetchone()[0]
    try:
        code, out, err = _finish(start_cli(cfg, cli_env(prefect_api)))
    finally:
        holder.close()
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 2 and "waiting up to 1 s" in err.splitlines()[0], err
    last = _assert_clean_refusal(code, err)
    assert f"by process {os.getpid()}" in last and "waited 1 s" in last
    with open_warehouse(db) as con:
        assert con.execute("SELECT max(snapshot_id) FROM news.snapshots()").fetchone()[0] == snapshot, \
            "nothing was changed"
        assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 0


def test_a_batch_checked_again_counts_its_copies_as_the_run_does(tmp_path: Path) -> None:
    """After a write conflict the batch is checked again; its counts keep the rule of flows.ingest.run_counts."""
    from datetime import datetime, timezone

    from config.settings import load_settings
    from flows.stages import outcome_counts, recheck
    from tasks.records import Article, CleanedArticle, InputCopy, RawDocument, Reject, RunCounts

    doc = RawDocument(source="s", locator="/in/a.txt", content_hash="a" * 64, raw=b"a", media_type="text/plain")
    article = Article(article_id="a" * 16, doc=doc, text_hash="t" * 64, story_id="a" * 16, summary=["A."],
                      cleaned=CleanedArticle(title="A", text="A report of some length about the harbour.",
                                             published_at=datetime(2025, 1, 1, tzinfo=timezone.utc)))
    reject = Reject(source="s", locator="/in/bad.html", reason="too short", content_hash="b" * 64)
    copies = [InputCopy("s", "/in/a-copy.txt", "a" * 64, "/in/a.txt"),
              InputCopy("s", "/in/bad-copy.html", "b" * 64, "/in/bad.html")]
    con = connect.connect(tmp_path / "catalog.sqlite")
    try:
        _, _, _, counts, _ = recheck(con, [article], [reject], RunCounts(discovered=4), load_settings(), copies)
    finally:
        con.close()
    assert (counts.new_articles, counts.duplicates, counts.rejected) == (1, 1, 2)
    assert outcome_counts([article], [reject], copies) == {"new_articles": 1, "duplicates": 1, "rejected": 2}
