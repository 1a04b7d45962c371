"""Search while a run is writing: the warehouse is a DuckLake, readers read the last committed snapshot."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from flows.search import main
from tasks.records import RunCounts
from tests.test_search import _article
from warehouse import connect, queries, write


@pytest.fixture()
def catalog(tmp_path: Path) -> Path:
    """A warehouse with one run stored."""
    path = tmp_path / "catalog.sqlite"
    con = connect.connect(path)
    try:
        write.begin_run(con, "run-1", None, "wire")
        write.write_run(con, "run-1", [_article("a" * 16, "Security guarantees for Ukraine",
                                                "Allies discussed security guarantees in Berlin. " * 8)],
                        [], [], RunCounts())
    finally:
        con.close()
    return path


def test_search_answers_from_the_last_commit_while_a_run_is_writing(catalog, write_config, capsys):
    writer = connect.connect(catalog)  # holds the run lock, as a run does
    try:
        write.begin_run(writer, "run-2", None, "wire")
        writer.execute("BEGIN TRANSACTION")  # the run's store step, as write_run does it, left open
        new = _article("b" * 16, "Security pact signed", "The new pact gives security guarantees. " * 8)
        for columns in write._column_batches([write._article_row(new, "run-2", connect.now(), {})]):
            writer.execute(write.SQL_INSERT_ARTICLES, columns)
        write.index_runs(writer, ["run-2"])
        assert main(["security guarantees", "--config", str(write_config()), "--warehouse", str(catalog)]) == 0
        during = capsys.readouterr().out
        writer.execute("COMMIT")
    finally:
        writer.close()
    assert during.startswith("1. Security guarantees for Ukraine") and "Security pact" not in during
    with connect.connect(catalog, read_only=True) as reader:
        after = sorted(h.title for h in queries.search(reader, "security guarantees"))
    assert after == ["Security guarantees for Ukraine", "Security pact signed"], "committed: found"


def test_a_failed_run_leaves_no_postings(catalog):
    writer = connect.connect(catalog)
    try:
        write.begin_run(writer, "run-3", None, "wire")
        broken = _article("c" * 16, "Broken", "text")
        broken.cleaned.text = None  # the articles table refuses it: the whole run is rolled back
        with pytest.raises(duckdb.Error):
            write.write_run(writer, "run-3", [_article("d" * 16, "Ferry news", "ferry " * 30), broken], [], [],
                            RunCounts())
    finally:
        writer.close()
    with connect.connect(catalog, read_only=True) as reader:
        assert queries.search(reader, "ferry") == []
        assert reader.execute("SELECT count(*) FROM store.search_docs").fetchone()[0] == 1
