"""The public views read as an analyst reads them: the values the README documents, on a real lake."""

from __future__ import annotations

from datetime import datetime, timezone

from tasks.records import SOURCE_DEFAULT_EVIDENCE, Article, CleanedArticle, RawDocument, RunCounts, Tag
from warehouse import connect, write


def _article(aid: str, tags: list[Tag], published_at: datetime | None = None) -> Article:
    doc = RawDocument(source="desk", locator=f"/in/{aid}.txt", content_hash=aid * 4, raw=b"x",
                      media_type="text/plain")
    cleaned = CleanedArticle(title=f"Title {aid}", text=f"Text of {aid}.", published_at=published_at)
    return Article(article_id=aid, doc=doc, cleaned=cleaned, text_hash=aid, story_id=aid,
                   summary=[f"Summary of {aid}."], tags=tags)


def test_a_tag_given_by_the_source_has_no_score_not_zero(tmp_path):
    con = connect.connect(tmp_path / "catalog.sqlite")
    try:
        write.begin_run(con, "run-1", None, "desk")
        articles = [_article("a1", [Tag("defence", 0.8, ("nato", "troops")),
                                    Tag("desk_pick", 0.0, SOURCE_DEFAULT_EVIDENCE)])]
        write.write_run(con, "run-1", articles, [], [], RunCounts(new_articles=1))
        rows = con.execute("SELECT issue, score, evidence FROM article_tags ORDER BY issue").fetchall()
        assert rows == [("defence", 0.8, "nato, troops"), ("desk_pick", None, "source default")]
        # averages leave it out; the tag is still listed, after the scored ones
        assert con.execute("SELECT avg(score) FROM article_tags WHERE article_id = 'a1'").fetchone()[0] == 0.8
        assert con.execute("SELECT tag_list('a1')").fetchone()[0] == ["defence", "desk_pick"]
    finally:
        con.close()


def test_utc_day_is_the_utc_date_whatever_the_session_time_zone(tmp_path):
    con = connect.connect(tmp_path / "catalog.sqlite")
    try:
        write.begin_run(con, "run-1", None, "desk")
        late = datetime(2026, 12, 7, 0, 30, tzinfo=timezone.utc)  # still 6 December in Los Angeles
        write.write_run(con, "run-1", [_article("a1", [], published_at=late)], [], [], RunCounts(new_articles=1))
        con.execute("SET TimeZone = 'America/Los_Angeles'")
        day = datetime(2026, 12, 7).date()
        assert con.execute("SELECT article_day(published_at, ingested_at) FROM articles").fetchone()[0] == day
        # a date, or a timestamp without a time zone, is taken as UTC already: its own day
        assert con.execute("SELECT utc_day(DATE '2026-12-07'), utc_day(TIMESTAMP '2026-12-07 00:30:00'), "
                           "utc_day(TIMESTAMPTZ '2026-12-06 16:30:00-08')").fetchone() == (day, day, day)
    finally:
        con.close()
