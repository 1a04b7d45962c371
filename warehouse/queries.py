"""Read-only queries over the public views (articles, article_tags, stories, runs), for the digest page:
each takes a connection and reads the views by their bare names, so it works on any connection that
has them."""

from __future__ import annotations

from datetime import date

import duckdb

# Articles per issue per day. A day is the UTC date of publication, or of ingestion when the
# publication date is unknown; duplicates are left out, so a syndicated copy is not counted twice.
SQL_ISSUE_DAYS = """
SELECT t.issue, CAST(timezone('UTC', coalesce(a.published_at, a.ingested_at)) AS DATE) AS day,
       count(DISTINCT a.article_id) AS articles
FROM article_tags AS t JOIN articles AS a USING (article_id)
WHERE a.duplicate_of IS NULL
  AND CAST(timezone('UTC', coalesce(a.published_at, a.ingested_at)) AS DATE) BETWEEN ? AND ?
GROUP BY ALL
ORDER BY day, issue
"""


def issue_days(con: duckdb.DuckDBPyConnection, first_day: date, last_day: date) -> list[tuple[str, date, int]]:
    """(issue, day, articles) for every issue and UTC day from first_day to last_day with tagged articles."""
    return [(issue, day, articles) for issue, day, articles
            in con.execute(SQL_ISSUE_DAYS, [first_day, last_day]).fetchall()]
