"""Read-only queries over the public views and macros (articles, article_tags, stories, runs,
search_hits), for the digest page, search and export: each takes a connection and reads them by their
bare names, so it works on any connection that has them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

# Articles per issue per day of publication (utc_day, views.sql), and per issue with no day (day NULL) for
# articles with no publication date read in those days: a folder of undated articles read at once is no
# surge of news on the day it was read. Duplicates are left out, so a syndicated copy is not counted twice.
SQL_ISSUE_DAYS = """
SELECT t.issue, utc_day(a.published_at) AS day, count(DISTINCT a.article_id) AS articles
FROM article_tags AS t JOIN articles AS a USING (article_id)
WHERE a.duplicate_of IS NULL
  AND article_day(a.published_at, a.ingested_at) BETWEEN ? AND ?
GROUP BY ALL
ORDER BY day NULLS LAST, issue
"""


def issue_days(con: duckdb.DuckDBPyConnection, first_day: date,
               last_day: date) -> list[tuple[str, date | None, int]]:
    """(issue, day, articles) for every issue and UTC day of publication from first_day to last_day with
    tagged articles; day None counts the articles with no publication date read in those days."""
    return con.execute(SQL_ISSUE_DAYS, [first_day, last_day]).fetchall()

# Search: the macros of views.sql (search_hits over search_articles), so the command line and SQL
# users get the same ranking and folding.
SQL_SEARCH = """
SELECT article_id, score, title, source, location, day, day_is_ingested, story, tags, copies
FROM search_hits(?, since := ?, issue_name := ?, top := ?)
"""
SQL_QUERY_TOKENS = "SELECT search_tokens(?)"


@dataclass(frozen=True)
class SearchHit:
    """One ranked hit: an original article, with the duplicates folded under it."""

    article_id: str
    score: float
    title: str | None
    source: str
    location: str | None
    day: date
    day_is_ingested: bool
    story: str | None
    tags: tuple[str, ...]
    copies: tuple[dict, ...]


def query_tokens(con: duckdb.DuckDBPyConnection, query: str) -> list[str]:
    """The query's words as the index holds them (stop words and one-letter words gone, plurals cut)."""
    return con.execute(SQL_QUERY_TOKENS, [query]).fetchone()[0]


def tagged_issues(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every issue some stored article is tagged with, by name."""
    return [issue for (issue,) in con.execute("SELECT DISTINCT issue FROM article_tags ORDER BY issue").fetchall()]


def search(con: duckdb.DuckDBPyConnection, query: str, since: date | None = None, issue: str | None = None,
           limit: int = 10) -> list[SearchHit]:
    """The best `limit` hits for the query, best first (BM25 over title and text, duplicates folded)."""
    rows = con.execute(SQL_SEARCH, [query, since, issue, limit]).fetchall()
    return [SearchHit(aid, score, title, source, location, day, ingested, story, tuple(tags), tuple(copies))
            for aid, score, title, source, location, day, ingested, story, tags, copies in rows]


# Export: the public views for a range of days (article_day), each a
# query over the temp table export_articles (the article ids in the range), so the files agree. The
# runs' day and the tag lists are written out here rather than with the newer utc_day and tag_list
# macros, so that export works on a lake whose views the next run has not rebuilt yet.
SQL_EXPORT_RANGE = """
CREATE OR REPLACE TEMP TABLE export_articles AS
SELECT article_id FROM articles
WHERE ($since IS NULL OR article_day(published_at, ingested_at) >= $since)
  AND ($until IS NULL OR article_day(published_at, ingested_at) <= $until)
"""
SQL_EXPORT_ARTICLES = """
SELECT a.*, coalesce(t.tags, []) AS tags, s.title AS story_title
FROM articles AS a SEMI JOIN export_articles USING (article_id)
LEFT JOIN (SELECT article_id, list(issue ORDER BY score DESC, issue) AS tags FROM article_tags
           GROUP BY article_id) AS t USING (article_id)
LEFT JOIN stories AS s USING (story_id)
ORDER BY coalesce(a.published_at, a.ingested_at), a.article_id
"""
SQL_EXPORT_TAGS = """
SELECT t.* FROM article_tags AS t SEMI JOIN export_articles USING (article_id)
ORDER BY t.article_id, t.score DESC, t.issue
"""
SQL_EXPORT_STORIES = """
SELECT s.* FROM stories AS s
WHERE s.story_id IN (SELECT a.story_id FROM articles AS a SEMI JOIN export_articles USING (article_id))
ORDER BY s.first_seen, s.story_id
"""
SQL_EXPORT_RUNS = """
SELECT r.* FROM runs AS r
WHERE ($since IS NULL OR CAST(timezone('UTC', r.started_at) AS DATE) >= $since)
  AND ($until IS NULL OR CAST(timezone('UTC', r.started_at) AS DATE) <= $until)
ORDER BY r.started_at
"""


def export_views(con: duckdb.DuckDBPyConnection, since: date | None, until: date | None
                 ) -> dict[str, duckdb.DuckDBPyRelation]:
    """The rows to export of each public view, as relations to write (to_parquet, to_csv)."""
    days = {"since": since, "until": until}
    con.execute(SQL_EXPORT_RANGE, days)
    return {"articles": con.sql(SQL_EXPORT_ARTICLES), "article_tags": con.sql(SQL_EXPORT_TAGS),
            "stories": con.sql(SQL_EXPORT_STORIES), "runs": con.sql(SQL_EXPORT_RUNS, params=days)}
