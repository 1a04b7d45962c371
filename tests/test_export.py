"""Export of the public views for a range of days, as Parquet and as CSV, read back with DuckDB."""

from __future__ import annotations

import csv
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
import pytest

from flows.export import main
from tasks.records import Article, CleanedArticle, RawDocument, RunCounts, Story, Tag
from warehouse import connect, write

HOSTILE_TEXT = 'A text with "quotes", commas, a line break\nand; semicolons, =SUM(A1) and a tab\there.'


def _article(aid: str, day: date, story: str, text: str, tags: tuple[str, ...] = ()) -> Article:
    doc = RawDocument(source="wire", locator=f"/in/{aid}.txt", content_hash=aid * 4, raw=b"x", media_type="text/plain")
    cleaned = CleanedArticle(title=f"Title {aid[0]}", text=text,
                             published_at=datetime(day.year, day.month, day.day, 12, tzinfo=timezone.utc))
    return Article(article_id=aid, doc=doc, cleaned=cleaned, text_hash=aid, story_id=story,
                   summary=["First sentence.", "Second, with a comma."],
                   tags=[Tag(t, 3.0 - i, ("term one", "term two")) for i, t in enumerate(tags)])


@pytest.fixture()
def config(tmp_path: Path, write_config) -> Path:
    """A warehouse with articles on three days (two stories), written by two runs."""
    path = write_config()
    con = connect.connect(tmp_path / "catalog.sqlite")
    try:
        runs = {"run-1": [_article("a" * 16, date(2025, 12, 30), "s1", "Old news about the harbour.", ("economy",))],
                "run-2": [_article("b" * 16, date(2026, 1, 2), "s2", HOSTILE_TEXT, ("defence", "economy")),
                          _article("c" * 16, date(2026, 1, 5), "s2", "More on the same story.", ())]}
        for run_id, articles in runs.items():
            write.begin_run(con, run_id, None, "wire")
            ids = {a.story_id: [b.article_id for b in articles if b.story_id == a.story_id] for a in articles}
            stories = [Story(sid, f"Story {sid}", members, members, ["wire"], ["S."]) for sid, members in ids.items()]
            write.write_run(con, run_id, articles, [], stories, RunCounts(discovered=len(articles)))
    finally:
        con.close()
    return path


def test_parquet_export_of_a_date_range_reads_back_in_duckdb(config, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["--config", str(config), "--since", "2026-01-01", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["article_tags.parquet", "articles.parquet", "runs.parquet",
                                                     "stories.parquet"]
    with duckdb.connect() as con:
        articles = con.execute(f"SELECT article_id, tags, story_title, text, summary_sentences FROM "
                               f"'{out / 'articles.parquet'}' ORDER BY article_id").fetchall()
        tags = con.execute(f"SELECT article_id, issue, evidence_terms FROM '{out / 'article_tags.parquet'}'").fetchall()
        stories = con.execute(f"SELECT story_id, article_count FROM '{out / 'stories.parquet'}'").fetchall()
        runs = con.execute(f"SELECT run_id FROM '{out / 'runs.parquet'}' ORDER BY started_at").fetchall()
    assert [a[0] for a in articles] == ["b" * 16, "c" * 16], "the December article is left out"
    assert articles[0][1:4] == (["defence", "economy"], "Story s2", HOSTILE_TEXT)
    assert articles[0][4] == ["First sentence.", "Second, with a comma."]
    assert sorted(t[:2] for t in tags) == [("b" * 16, "defence"), ("b" * 16, "economy")]
    assert tags[0][2] == ["term one", "term two"]
    assert stories == [("s2", 2)]
    assert runs == [("run-1",), ("run-2",)], "runs started in the range (today)"
    assert "articles.parquet (2 rows)" in capsys.readouterr().out


def test_csv_export_joins_lists_and_keeps_text_exact(config, tmp_path):
    out = tmp_path / "csv"
    assert main(["--config", str(config), "--format", "csv", "--until", "2026-01-03", "--out", str(out)]) == 0
    with (out / "articles.csv").open(newline="", encoding="utf-8") as handle:
        rows = {r["article_id"]: r for r in csv.DictReader(handle)}
    assert set(rows) == {"a" * 16, "b" * 16}
    assert rows["b" * 16]["text"] == HOSTILE_TEXT
    assert rows["b" * 16]["tags"] == "defence; economy"
    assert rows["b" * 16]["summary_sentences"] == "First sentence.; Second, with a comma."
    with (out / "runs.csv").open(newline="", encoding="utf-8") as handle:
        assert list(csv.DictReader(handle)) == [], "the runs started today, after --until"


def test_bad_ranges_paths_and_warehouses_stop_with_one_line(config, tmp_path, capsys):
    assert main(["--config", str(config), "--since", "2026-02-01", "--until", "2026-01-01", "--out",
                 str(tmp_path / "x")]) == 2
    assert "is after --until" in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["--config", str(config), "--out", str(blocker / "sub")]) == 2
    assert "cannot write there" in capsys.readouterr().err
    assert main(["--config", str(config), "--warehouse", str(tmp_path / "none.sqlite"), "--out",
                 str(tmp_path / "y")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no warehouse at" in err[0]
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists(), "no folder left by a failed export"
    with pytest.raises(SystemExit) as stop:
        main(["--config", str(config), "--out", str(tmp_path / "z"), "--format", "xlsx"])
    assert stop.value.code == 2
