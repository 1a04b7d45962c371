"""Search on a DuckLake warehouse (a SQLite catalog and Parquet files, where DuckDB's fts cannot index):
the project's migrations and macros as they are, and a search answering while a run's transaction is open."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import duckdb
import pytest

from tasks.records import Article, CleanedArticle, RawDocument, RunCounts
from warehouse import queries, store

EXTENSIONS = {"duckdb_extension_ducklake": "ducklake", "duckdb_extension_sqlite_scanner": "sqlite_scanner"}


def _extension(package: str, stem: str) -> Path:
    """An extension file shipped by its pinned PyPI package (loaded by path: nothing is downloaded)."""
    spec = importlib.util.find_spec(package)
    assert spec is not None, f"{package} is not installed (make install)"
    path = Path(next(iter(spec.submodule_search_locations))) / "extensions" / f"v{duckdb.__version__}" \
        / f"{stem}.duckdb_extension"
    assert path.is_file(), path
    return path


def _lake(folder: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A new DuckDB process-local instance attached to the lake in folder, the lake in use."""
    con = duckdb.connect(config={"allow_unsigned_extensions": "true", "autoinstall_known_extensions": "false"})
    for package, stem in EXTENSIONS.items():
        con.execute(f"LOAD '{_extension(package, stem)}'")
    options = ", READ_ONLY" if read_only else ""
    con.execute(f"ATTACH 'ducklake:sqlite:{folder / 'catalog.sqlite'}' AS news "
                f"(DATA_PATH '{folder / 'files'}/'{options})")
    con.execute("USE news")
    return con


def _article(aid: str, title: str, text: str) -> Article:
    doc = RawDocument(source="wire", locator=f"/in/{aid}.txt", content_hash=aid * 4, raw=b"x", media_type="text/plain")
    return Article(article_id=aid, doc=doc, cleaned=CleanedArticle(title=title, text=text), text_hash=aid,
                   story_id=aid)


def _begin(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    con.execute("INSERT INTO store.runs (run_id, started_at, status) VALUES (?, now(), 'running')", [run_id])


@pytest.fixture()
def lake(tmp_path: Path) -> Path:
    """A lake migrated by the project's own migrate(), with one run stored through write_run."""
    writer = _lake(tmp_path)
    try:
        assert store.migrate(writer) >= 7
        _begin(writer, "run-1")
        store.write_run(writer, "run-1", [_article("a" * 16, "Security guarantees for Ukraine",
                                                   "Allies discussed security guarantees in Berlin. " * 8)],
                        [], [], RunCounts())
    finally:
        writer.close()
    return tmp_path


def test_search_answers_from_the_last_commit_while_a_run_is_writing(lake):
    writer = _lake(lake)
    reader = _lake(lake, read_only=True)
    try:
        _begin(writer, "run-2")
        writer.execute("BEGIN TRANSACTION")  # a run's store step, as write_run does it, left open
        new = _article("b" * 16, "Security pact signed", "The new pact gives security guarantees. " * 8)
        for columns in store._column_batches([store._article_row(new, "run-2", store._now(), {})]):
            writer.execute(store.SQL_INSERT_ARTICLES, columns)
        store._index_run(writer, "run-2")
        during = [h.title for h in queries.search(reader, "security guarantees")]
        writer.execute("COMMIT")
        after = [h.title for h in queries.search(_lake(lake, read_only=True), "security guarantees")]
    finally:
        writer.close()
        reader.close()
    assert during == ["Security guarantees for Ukraine"], "the open run's article is not visible yet"
    assert sorted(after) == ["Security guarantees for Ukraine", "Security pact signed"], "committed: found"


def test_a_failed_run_leaves_no_postings_on_the_lake(lake):
    writer = _lake(lake)
    try:
        _begin(writer, "run-3")
        broken = _article("c" * 16, "Broken", "text")
        broken.cleaned.text = None
        with pytest.raises(duckdb.Error):
            store.write_run(writer, "run-3", [_article("d" * 16, "Ferry news", "ferry " * 30), broken], [], [],
                            RunCounts())
    finally:
        writer.close()
    reader = _lake(lake, read_only=True)
    try:
        assert queries.search(reader, "ferry") == []
        assert reader.execute("SELECT count(*) FROM store.search_docs").fetchone()[0] == 1
    finally:
        reader.close()
