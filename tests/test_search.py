"""Search: the token rule, the index written with the run, BM25 ranking, folding, filters and the command line."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from flows.search import main
from tasks.records import Article, CleanedArticle, RawDocument, RunCounts, Tag
from tests.conftest import ROOT, SEEDS
from warehouse import connect, queries, write

NOW = datetime.now(timezone.utc)


def _article(aid: str, title: str, text: str, dup: str | None = None, days_ago: float = 0,
             tags: tuple[str, ...] = ()) -> Article:
    doc = RawDocument(source="wire", locator=f"/in/{aid}.txt", content_hash=aid * 4, raw=b"x",
                      media_type="text/plain")
    cleaned = CleanedArticle(title=title, text=text, published_at=NOW - timedelta(days=days_ago))
    return Article(article_id=aid, doc=doc, cleaned=cleaned, text_hash=aid, story_id=dup or aid, duplicate_of=dup,
                   duplicate_kind="near" if dup else None, tags=[Tag(t, 2.0, ("x",)) for t in tags])


FILLER = "The council met on Tuesday and talked about roads, parks, schools and the city budget for next year. "
ARTICLES = [
    _article("a" * 16, "Ferry fares frozen", FILLER * 3 + "The ferry operator wanted higher fares.",
             tags=("transport",)),
    _article("b" * 16, "Council budget", FILLER * 3 + "A ferry was mentioned once.", days_ago=40),
    _article("c" * 16, "Ferry fares frozen again", FILLER * 3 + "The ferry operator wanted higher fares for ferries.",
             dup="a" * 16),
    _article("d" * 16, "Harbour lights", FILLER * 2 + "Lighthouse keepers and harbour pilots met the mayor."),
]


@pytest.fixture()
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "catalog.sqlite"
    con = connect.connect(path)
    try:
        write.begin_run(con, "run-1", None, "wire")
        write.write_run(con, "run-1", ARTICLES, [], [], RunCounts())
    finally:
        con.close()
    return path


def _read(path: Path) -> duckdb.DuckDBPyConnection:
    return connect.connect(path, read_only=True)


def test_the_token_rule_lowercases_splits_drops_stop_words_and_plurals(warehouse):
    with _read(warehouse) as con:
        tokens = queries.query_tokens(con, "The US offered NATO-like security guarantees; Ukraine's allies, "
                                           "policies and glass buses — Élysée, Кремль, 2026 a b")
    assert tokens == ["us", "offered", "nato", "like", "security", "guarantee", "ukraine", "ally", "policy",
                      "glass", "buse", "elysee", "кремль", "2026"]


def test_each_run_indexes_its_articles_in_its_transaction(warehouse):
    with _read(warehouse) as con:
        docs = dict(con.execute("SELECT article_id, length FROM store.search_docs").fetchall())
        keys = con.execute("SELECT list(term_key) FROM store.search_terms WHERE article_id = ?",
                           ["d" * 16]).fetchone()[0]
        expected = con.execute("SELECT list(search_key(t)) FROM (SELECT DISTINCT unnest(search_tokens(?)) AS t)",
                               [ARTICLES[3].cleaned.title + " " + ARTICLES[3].cleaned.text]).fetchone()[0]
    assert set(docs) == {a.article_id for a in ARTICLES} and all(n > 0 for n in docs.values())
    assert sorted(keys) == sorted(expected)


def test_an_older_warehouse_is_indexed_by_the_migration_as_a_run_would(warehouse):
    with _read(warehouse) as con:
        written = con.execute("SELECT term_key, article_id, tf FROM store.search_terms ORDER BY ALL").fetchall()
    con = connect.connect(warehouse)
    con.execute("DROP TABLE store.search_terms; DROP TABLE store.search_docs; "  # as version 6 left it
                "ALTER TABLE store.articles DROP COLUMN facts; ALTER TABLE store.articles DROP COLUMN feed_text_reason; "
                "DELETE FROM store.schema_version WHERE version >= 7")
    con.close()
    connect.connect(warehouse).close()  # migrates: 007 indexes what is stored
    with _read(warehouse) as con:
        assert con.execute("SELECT term_key, article_id, tf FROM store.search_terms ORDER BY ALL").fetchall() == written


def test_bm25_ranks_title_and_repeated_matches_first_and_folds_duplicates(warehouse):
    with _read(warehouse) as con:
        scores = dict(con.execute("SELECT article_id, score FROM search_articles('ferry fares')").fetchall())
        hits = queries.search(con, "ferry fares")
    assert set(scores) == {"a" * 16, "b" * 16, "c" * 16}
    assert scores["a" * 16] > scores["b" * 16], "in the title and twice in the text beats once in the text"
    assert [h.article_id for h in hits] == ["a" * 16, "b" * 16], "the copy is folded under its original"
    assert [c["article_id"] for c in hits[0].copies] == ["c" * 16] and hits[0].copies[0]["kind"] == "near"
    assert hits[0].score == pytest.approx(max(scores["a" * 16], scores["c" * 16]))
    assert hits[0].tags == ("transport",)


def test_since_and_issue_keep_only_matching_hits(warehouse):
    with _read(warehouse) as con:
        recent = queries.search(con, "ferry", since=date.today() - timedelta(days=7))
        tagged = queries.search(con, "ferry", issue="transport")
        nothing = queries.search(con, "ferry", issue="no_such_issue")
        shouted = con.execute("SELECT article_id FROM search_hits('ferry', issue_name := 'TRANSPORT')").fetchall()
    assert [h.article_id for h in recent] == ["a" * 16], "the 40-day-old budget story is left out"
    assert [h.article_id for h in tagged] == ["a" * 16] and nothing == []
    assert shouted == [("a" * 16,)], "an issue in any case, as the command line takes it"


def test_since_and_issue_judge_the_original_shown_not_only_a_matching_copy(tmp_path):
    # a copy read today of a 40-day-old original, tagged with an issue the original is not: the hit shown
    # is the original (its date, its tags), so --since and --issue must hold for it, or the line printed
    # under `--since` carries a day before it and the one under `--issue` lacks that issue
    old = _article("b" * 16, "Council budget", FILLER * 3 + "A ferry was mentioned once.", days_ago=40)
    copy = _article("e" * 16, "Council budget, again", FILLER * 3 + "A ferry was mentioned once more.",
                    dup="b" * 16, tags=("transport",))
    path = tmp_path / "catalog.sqlite"
    con = connect.connect(path)
    try:
        write.begin_run(con, "run-1", None, "wire")
        write.write_run(con, "run-1", [old, copy], [], [], RunCounts())
    finally:
        con.close()
    since = date.today() - timedelta(days=7)
    with _read(path) as con:
        recent = queries.search(con, "ferry", since=since)
        tagged = queries.search(con, "ferry", issue="transport")
        everything = queries.search(con, "ferry")
    assert [h.day for h in recent if h.day < since] == [], "no hit shown dated before since"
    assert [h.tags for h in tagged if "transport" not in h.tags] == [], "every hit shown has the issue"
    assert [h.article_id for h in everything] == ["b" * 16] and len(everything[0].copies) == 1


def test_command_line_errors_say_one_line_and_exit_2(tmp_path, write_config, capsys, warehouse):
    config = write_config()
    assert main(["ferry", "--config", str(config), "--warehouse", str(tmp_path / "none.sqlite")]) == 2
    assert "no warehouse at" in capsys.readouterr().err
    assert main(["the of and", "--config", str(config), "--warehouse", str(warehouse)]) == 2
    assert "no word to search for" in capsys.readouterr().err
    assert main(["ferry", "--issue", "Defence", "--config", str(config), "--warehouse", str(warehouse)]) == 2
    with connect.open_warehouse(warehouse) as con:
        tagged = ", ".join(queries.tagged_issues(con))
    assert "transport" in tagged and capsys.readouterr().err.splitlines() == [
        f"error: --issue Defence: no stored article is tagged with it (tagged: {tagged})"]
    assert main(["ferry", "--issue", " Transport ", "--config", str(config), "--warehouse", str(warehouse)]) == 0
    assert capsys.readouterr().out.startswith("1. ")
    with pytest.raises(SystemExit) as stop:
        main(["ferry", "--limit", "0"])
    assert stop.value.code == 2
    assert "--limit" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main(["ferry", "--since", "2026-13-01"])
    assert stop.value.code == 2
    err = capsys.readouterr().err  # one line, as every bad input
    assert err.splitlines() == ["error: python -m flows.search: argument --since: not a date like 2026-01-31: "
                                "'2026-13-01' (--help lists the options)"], err
    con = connect.connect(warehouse)  # a warehouse without the search macros, as one of before version 7
    con.execute("DROP MACRO TABLE search_hits")
    con.close()
    assert main(["ferry", "--config", str(config), "--warehouse", str(warehouse)]) == 2
    assert "no search index yet" in capsys.readouterr().err


def test_search_finds_the_seeds_story_by_security_guarantees(prefect_api, tmp_path, write_config, capsys):
    from flows.ingest import ingest

    shutil.copytree(SEEDS, tmp_path / "in")
    config = write_config(f'[[sources]]\nname = "seeds"\nkind = "folder"\npath = "{(tmp_path / "in").as_posix()}"\n')
    assert ingest(config_path=str(config), return_state=True).is_completed()
    assert main(["security guarantees", "--config", str(config), "--limit", "5"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1. ") and out.count("story: US offers 'NATO-like' security to Ukraine") == 2
    assert "tags: security_guarantees" in out and "seeds · " in out
    with connect.connect(tmp_path / "catalog.sqlite", read_only=True) as con:
        both = con.execute("SELECT min(t.issue) FROM article_tags AS t GROUP BY t.issue HAVING count(*) = 2 "
                           "ORDER BY 1 LIMIT 1").fetchone()[0]
    assert main(["security guarantees", "--config", str(config), "--issue", both]) == 0
    assert capsys.readouterr().out.count("story: US offers") == 2, f"both seeds are tagged {both}"
    assert main(["security guarantees", "--config", str(config), "--issue", "no_such_issue"]) == 2
    assert capsys.readouterr().err.startswith("error: --issue no_such_issue: no stored article is tagged with it")
    assert main(["zebra crossing", "--config", str(config), "--issue", both]) == 0
    assert capsys.readouterr().out == f"no article matches 'zebra crossing' tagged {both}\n"
    assert main(["security guarantees", "--config", str(config), "--since", "2090-01-01"]) == 0
    assert capsys.readouterr().out == ("no article matches 'security guarantees' dated on or after 2090-01-01 "
                                       "(some do without that limit)\n"), "a date typed too far ahead says so"
    assert main(["zebra crossing", "--config", str(config)]) == 0
    assert capsys.readouterr().out == "no article matches 'zebra crossing'\n"


def test_make_search_takes_a_query_with_quotes(tmp_path, write_config, warehouse):
    # an unbalanced quote, as typed: the query reaches the search as it is (it finds the ferry stories)
    found = subprocess.run(["make", "-s", "search", 'Q=ferry "fares', f"ARGS=--config {write_config()}"], cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
    assert found.returncode == 0, found.stdout + found.stderr
    assert "Ferry fares frozen" in found.stdout, found.stdout


def test_output_to_a_reader_that_left_ends_quietly(tmp_path, write_config, warehouse):
    # `make search Q=ferry | head -1`: the reader stops early; the search ends without a BrokenPipeError traceback
    import os
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone before the first hit is printed
    config = write_config()
    try:
        done = subprocess.run([sys.executable, "-m", "flows.search", "ferry", "--config", str(config),
                               "--warehouse", str(warehouse)], cwd=ROOT, stdout=write_end, stderr=subprocess.PIPE,
                              text=True, timeout=300)
        made = subprocess.run(["make", "-s", "search", "Q=ferry", f"ARGS=--config {config} --warehouse {warehouse}"],
                              cwd=ROOT, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (141, "")
    assert (made.returncode, made.stderr) == (0, ""), "make search counts a reader that stopped as done"
