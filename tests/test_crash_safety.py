"""Crash safety: command-line runs killed with SIGKILL at random points leave every input stored exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.soak import (COMMIT_WINDOW_SECONDS, RunClock, calibrate, check_warehouse, cli_env, crash_trial,
                        kill_fractions, make_corpus, stored_articles)

FILES = 200
TRIALS = 2  # killed at random points of the run
COMMIT_TRIALS = 1  # killed while the run's transaction is written to the log and checkpointed
SEED = 11


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    paths = make_corpus(folder, FILES, SEED)
    assert len({p.read_bytes() for p in paths}) == FILES
    return folder


def test_generated_corpus_is_distinct_and_article_sized(corpus: Path) -> None:
    files = sorted(corpus.iterdir())
    kinds = {p.suffix for p in files}
    assert len(files) == FILES and kinds == {".txt", ".md", ".html"}
    for path in files:
        if path.suffix != ".html":
            assert 60 <= len(path.read_text(encoding="utf-8").split()) <= 310, path.name


def test_killed_runs_leave_each_input_exactly_once(prefect_api, tmp_path: Path, corpus: Path) -> None:
    env = cli_env(prefect_api)
    typical, baseline, expected = calibrate(tmp_path / "calibration", corpus, FILES, env)
    assert baseline.ok, baseline.problems
    assert baseline.articles + baseline.rejects == FILES and len(expected) == baseline.articles
    outcomes = []
    clock = RunClock(typical)
    plan = [(point, False) for point in kill_fractions(TRIALS, SEED)]
    plan += [(0.0, True)] * COMMIT_TRIALS  # killed the moment the transaction writes its first data file
    for point, at_commit in plan:
        delay = point * (COMMIT_WINDOW_SECONDS if at_commit else clock.typical)
        trial = crash_trial(tmp_path / "trial", corpus, FILES, delay, env, at_commit=at_commit)
        if trial.phase != "after commit":
            clock.add(trial.rerun_seconds)
        check = trial.check
        assert trial.rerun_exit == 0, trial.stderr_tail
        assert check.ok, (delay, at_commit, trial.phase, check.problems)
        assert check.inputs == FILES and check.articles + check.rejects == FILES
        assert check.runs.get("running", 0) == 0
        if trial.phase == "mid-run":
            assert check.runs == {"abandoned": 1, "completed": 1}, check.runs
        assert stored_articles(tmp_path / "trial" / "catalog.sqlite") == expected, "a crash changed what is stored"
        assert trial.orphans_left == 0, "maintain removes the data files a killed commit left behind"
        if at_commit:
            assert trial.phase == "mid-run" and trial.orphans > 0, \
                (trial.phase, trial.files_at_kill, trial.orphans, "no partial run visible, its files orphaned")
        outcomes.append((round(delay, 2), at_commit, trial.phase, trial.killed, trial.files_at_kill, trial.orphans))
    print(f"crash trials (delay s, at commit, phase, killed, data files at the kill, orphaned): {outcomes}")
    assert sum(killed for _, _, _, killed, _, _ in outcomes) >= 1, outcomes
    assert all(killed and phase != "before the warehouse" for _, at_commit, phase, killed, _, _ in outcomes
               if at_commit), \
        "commit trials kill a live run that has reached its commit"


def test_check_finds_a_broken_warehouse(tmp_path: Path) -> None:
    """The warehouse check itself can fail: half-written rows and a run left running are all reported."""
    from warehouse import connect, write

    db = tmp_path / "catalog.sqlite"
    con = connect.connect(db)
    write.begin_run(con, "r1", None, "corpus")
    con.execute("INSERT INTO store.raw_inputs (content_hash, media_type, size_bytes, raw, first_source, "
                "first_locator, run_id) VALUES ('h1', 'text/plain', 1, 'x'::BLOB, 's', 'a.txt', 'r1')")
    con.execute("INSERT INTO store.article_tags (article_id, issue, score, evidence, run_id) "
                "VALUES ('ghost', 'defence', 1.0, ['army'], 'r1')")
    con.close()
    check = check_warehouse(db, 1)
    found = " | ".join(check.problems)
    for problem in ("differ from the files", "tag rows of missing articles", "raw inputs without an article",
                    "runs left running"):
        assert problem in found
    with connect.connect(db) as con:
        con.execute("DELETE FROM store.runs")
    assert "runs left running" not in " | ".join(check_warehouse(db, 1).problems)
