"""Reading the warehouse: what discovery, feeds, dedup, stories and reprocessing need of stored data."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import duckdb

from config.settings import SourceSettings
from tasks.records import Article, CleanedArticle, InputCopy, KnownArticle, KnownProbe, RawDocument, SourceState
from tasks.sources.urls import guid_key

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
SQL_CURRENT_SNAPSHOT = "SELECT id FROM ducklake_current_snapshot('news')"

SQL_KNOWN_HASHES = """
SELECT content_hash FROM store.raw_inputs
UNION ALL SELECT content_hash FROM store.rejects WHERE content_hash IS NOT NULL
"""
SQL_KNOWN_REJECTS = "SELECT DISTINCT locator, reason FROM store.rejects"
# the rejects of the last completed run: a configured path still missing is news only when that run did not say it
SQL_LAST_RUN_REJECTS = """
SELECT locator, reason FROM store.rejects
WHERE run_id = (SELECT run_id FROM store.runs WHERE status = 'completed' ORDER BY started_at DESC, run_id DESC LIMIT 1)
"""
# completed runs started before a time that found nothing (RunDigest.found_something): no article, no copy,
# and no reject but those the completed run before it had said too (a configured folder still missing)
SQL_QUIET_RUNS = """
WITH done AS (
    SELECT run_id, started_at, new_articles, duplicates,
           lag(run_id) OVER (ORDER BY started_at, run_id) AS previous
    FROM store.runs WHERE status = 'completed'
)
SELECT d.run_id FROM done AS d
WHERE d.started_at < ? AND d.new_articles = 0 AND d.duplicates = 0
  AND NOT EXISTS (SELECT 1 FROM store.input_copies AS c WHERE c.run_id = d.run_id)
  AND NOT EXISTS (SELECT 1 FROM store.rejects AS x WHERE x.run_id = d.run_id AND NOT EXISTS (
      SELECT 1 FROM store.rejects AS p WHERE p.run_id = d.previous AND p.locator = x.locator AND p.reason = x.reason))
ORDER BY d.run_id
"""
# seen_at as microseconds since the epoch: turning 100k TIMESTAMPTZ values into datetimes in DuckDB's
# client costs more than reading everything else; Python builds them from integers much faster.
SQL_KNOWN_ARTICLES = """
SELECT article_id, text_hash, url, minhash, story_id,
       CASE WHEN coalesce(published_at, ingested_at) >= ? THEN story_terms END AS story_terms,
       epoch_us(coalesce(published_at, ingested_at)) AS seen_at_us, duplicate_of, facts, word_count, title, source
FROM store.articles
"""
# The same columns for the rows a probe picked (below): the story window, and the others by row id.
SQL_KNOWN_ROWS = SQL_KNOWN_ARTICLES + """WHERE coalesce(published_at, ingested_at) >= ? OR list_contains(?::BIGINT[], rowid)
ORDER BY rowid
"""
# list_contains is applied inside the table scan, so only the matching rows' texts are read; an IN
# (subquery) is a join, which reads the text of every stored article first.
# With a probe, only what can change dedup's decisions for a batch is loaded: the story window, the
# batch's text hashes and URL slugs,
# every article whose signature shares at least ? positions with one of the batch's, and (below)
# the originals these duplicate.
# tasks.sources.urls.url_slug in SQL (the last path segment, lower-cased); tests/test_urls.py checks they agree.
SQL_URL_SLUG = "lower(regexp_extract(rtrim(split_part(split_part(url, '#', 1), '?', 1), '/'), '[^/]*$'))"
SQL_KNOWN_PICK = """
WITH signatures AS (
    SELECT generate_subscripts(?::BLOB[], 1) AS i, regexp_extract_all(hex(unnest(?::BLOB[])), '.{16}') AS parts
), probe AS (
    SELECT i, (generate_subscripts(parts, 1) - 1)::SMALLINT AS position, ('0x' || unnest(parts))::UBIGINT AS value
    FROM signatures
), near AS (
    SELECT v.article_id FROM store.signature_values AS v
    JOIN probe AS q ON v.position = q.position AND v.value = q.value
    GROUP BY v.article_id, q.i HAVING count(*) >= ?
)
SELECT rowid, duplicate_of, coalesce(published_at, ingested_at) >= ? AS in_window FROM store.articles
WHERE coalesce(published_at, ingested_at) >= ?
   OR list_contains(?::VARCHAR[], text_hash)
   OR list_contains(?::VARCHAR[], """ + SQL_URL_SLUG + """)
   OR article_id IN (SELECT article_id FROM near)
"""
# Reading rows by id costs more per row than reading them all in order: past this share, read all.
PROBE_MAX_SHARE = 0.5
SQL_ARTICLE_COUNT = "SELECT count(*) FROM store.articles"
SQL_KNOWN_PARENTS = "SELECT rowid, duplicate_of FROM store.articles WHERE list_contains(?::VARCHAR[], article_id)"
SQL_STORY_MEMBERS = """
SELECT story_id, article_id, title, text, source, duplicate_of, coalesce(language, 'en'), title_derived
FROM store.articles WHERE list_contains(?::VARCHAR[], story_id)
ORDER BY coalesce(published_at, ingested_at), ingested_at, article_id
"""
SQL_STORY_TITLES = "SELECT story_id, title FROM store.stories WHERE list_contains(?::VARCHAR[], story_id)"
SQL_ARTICLE_TITLES = "SELECT article_id, title FROM store.articles WHERE list_contains(?::VARCHAR[], article_id)"
# Inputs whose bytes are stored or rejected already: those with no outcome of their own yet (not the
# stored input itself met again, nor a copy recorded before) are copies, with who holds the bytes. An
# input is its locator and bytes: the same file read under another source name (a folder named another
# way on the command line, or inside two configured folders) is the input met again, not a copy.
SQL_COPIES_OF_STORED = """
WITH candidates AS (
    SELECT unnest(?::VARCHAR[]) AS source, unnest(?::VARCHAR[]) AS locator, unnest(?::VARCHAR[]) AS content_hash
), recorded AS (
    SELECT source, locator, content_hash FROM store.articles
    WHERE content_hash IN (SELECT content_hash FROM candidates)
    UNION ALL SELECT source, locator, content_hash FROM store.rejects
    WHERE content_hash IN (SELECT content_hash FROM candidates)
    UNION ALL SELECT source, locator, content_hash FROM store.input_copies
    WHERE content_hash IN (SELECT content_hash FROM candidates)
), holders AS (
    SELECT content_hash, first_locator AS locator, run_id, 0 AS priority, NULL::TIMESTAMPTZ AS since FROM store.raw_inputs
    WHERE content_hash IN (SELECT content_hash FROM candidates)
    UNION ALL SELECT content_hash, locator, run_id, 1, rejected_at FROM store.rejects
    WHERE content_hash IN (SELECT content_hash FROM candidates)
), holder AS (
    SELECT * FROM holders QUALIFY row_number() OVER (PARTITION BY content_hash ORDER BY priority, since) = 1
)
SELECT c.source, c.locator, c.content_hash, h.locator, h.run_id, h.priority = 1
FROM candidates AS c JOIN holder AS h USING (content_hash)
WHERE NOT EXISTS (SELECT 1 FROM recorded AS r
                  WHERE r.locator = c.locator AND r.content_hash = c.content_hash)
"""
SQL_SOURCE_STATES = """
SELECT source, url, configured_url, etag, last_modified, validators_at, body_hash, last_status, last_error,
       last_success, last_polled, consecutive_failures, next_poll_at, disabled, disabled_reason
FROM store.source_state
"""
SQL_MOVED_FEEDS = "SELECT source, url, configured_url FROM store.source_state WHERE url <> configured_url"
SQL_KNOWN_URLS = "SELECT url FROM store.articles WHERE url IS NOT NULL UNION SELECT locator FROM store.articles"
SQL_KNOWN_GUIDS = "SELECT DISTINCT source, guid FROM store.articles WHERE guid IS NOT NULL"
SQL_STORED_ARTICLES = """
SELECT article_id, content_hash, source, locator, url, guid, title, title_derived, text, language, story_id,
       duplicate_of, word_count, facts
FROM store.articles ORDER BY ingested_at, article_id
"""


def current_snapshot(con: duckdb.DuckDBPyConnection) -> int:
    """The lake's latest committed snapshot: what reads see now (a write checks the lake has not moved on)."""
    return con.execute(SQL_CURRENT_SNAPSHOT).fetchone()[0]


def known_content_hashes(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Hashes of every input already stored or already rejected, so discovery can skip them."""
    return set(con.execute(SQL_KNOWN_HASHES).fetchnumpy()["content_hash"].tolist())


def last_run_rejects(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    """(locator, reason) of the rejects the last completed run recorded."""
    return {tuple(row) for row in con.execute(SQL_LAST_RUN_REJECTS).fetchall()}  # type: ignore[misc]


def quiet_runs(con: duckdb.DuckDBPyConnection, before: datetime) -> list[str]:
    """The completed runs started before a time that found nothing: no article, no copy, no reject the run
    before had not said too (the runs whose page did not become latest.html)."""
    return [row[0] for row in con.execute(SQL_QUIET_RUNS, [before]).fetchall()]


def known_rejects(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    """(locator, reason) of rejects already recorded, so a run does not repeat them (whatever the source
    was called when the input was read)."""
    return {tuple(row) for row in con.execute(SQL_KNOWN_REJECTS).fetchall()}  # type: ignore[misc]


def load_known_articles(con: duckdb.DuckDBPyConnection, story_since: datetime,
                        probe: KnownProbe | None = None) -> list[KnownArticle]:
    """What dedup needs of stored articles, oldest row first; story terms only for those seen since story_since
    (facts: None for articles stored before they were kept).

    Without a probe, every stored article. With one, those that can change what dedup decides for
    the batch: the articles seen since story_since, those with one of its text hashes or URL slugs,
    those whose signature shares at least min_equal positions with one of its signatures, and the
    originals any of these duplicate.
    """
    picked = None if probe is None else _probed_rows(con, story_since, probe)
    if picked is not None and picked[0] < con.execute(SQL_ARTICLE_COUNT).fetchone()[0] * PROBE_MAX_SHARE:
        # the window by its own condition, the rest by row id: both filters skip what they do not need
        columns = con.execute(SQL_KNOWN_ROWS, [story_since, story_since, picked[1]]).fetchnumpy()
    else:  # column-wise fetches are 3x quicker than row tuples
        columns = con.execute(SQL_KNOWN_ARTICLES, [story_since]).fetchnumpy()
    ids, hashes, urls, minhashes, stories, terms, seen_us, duplicates, facts, words, titles, sources = (
        columns[name].tolist() for name in ("article_id", "text_hash", "url", "minhash", "story_id", "story_terms",
                                            "seen_at_us", "duplicate_of", "facts", "word_count", "title", "source"))
    return [KnownArticle(article_id=aid, text_hash=thash, canonical_url=url,
                         minhash=None if minhash is None else bytes(minhash), story_id=story_id,
                         story_terms=json.loads(story_terms) if story_terms else {},
                         seen_at=_EPOCH + timedelta(microseconds=us), duplicate_of=dup,
                         facts=_facts(found), word_count=count, title=title, source=source)
            for aid, thash, url, minhash, story_id, story_terms, us, dup, found, count, title, source
            in zip(ids, hashes, urls, minhashes, stories, terms, seen_us, duplicates, facts, words, titles, sources)]


def _probed_rows(con: duckdb.DuckDBPyConnection, story_since: datetime, probe: KnownProbe) -> tuple[int, list[int]]:
    """How many stored articles a probe picks, and the row ids of those outside the story window
    (with the originals the picked ones duplicate)."""
    picked = con.execute(SQL_KNOWN_PICK, [probe.signatures, probe.signatures, probe.min_equal, story_since,
                                          story_since, probe.text_hashes, probe.url_slugs]).fetchall()
    rows = {row for row, _, _ in picked}
    outside = {row for row, _, in_window in picked if not in_window}
    originals = {dup for _, dup, _ in picked if dup}
    asked: set[str] = set()
    while originals - asked:  # stored duplicates point at originals; follow the links to the end
        ask = sorted(originals - asked)
        asked.update(ask)
        found = con.execute(SQL_KNOWN_PARENTS, [ask]).fetchall()
        rows.update(row for row, _ in found)
        outside.update(row for row, _ in found)
        originals.update(dup for _, dup in found if dup)
    return len(rows), sorted(outside)


def story_members(con: duckdb.DuckDBPyConnection, story_ids: list[str]) -> list[tuple]:
    """Stored members of the given stories, oldest first: (story_id, article_id, title, text, source,
    duplicate_of, language, title_derived)."""
    if not story_ids:
        return []
    return con.execute(SQL_STORY_MEMBERS, [story_ids]).fetchall()


def story_titles(con: duckdb.DuckDBPyConnection, story_ids: list[str]) -> dict[str, str]:
    """The current titles of the given stored stories (a story without one is left out)."""
    if not story_ids:
        return {}
    return {story_id: title for story_id, title in con.execute(SQL_STORY_TITLES, [story_ids]).fetchall() if title}


def article_titles(con: duckdb.DuckDBPyConnection, article_ids: list[str]) -> dict[str, str | None]:
    """The titles of the given stored articles (None: an article with no title), by article id."""
    if not article_ids:
        return {}
    return dict(con.execute(SQL_ARTICLE_TITLES, [sorted(set(article_ids))]).fetchall())


def copies_of_stored(con: duckdb.DuckDBPyConnection, inputs: list[tuple[str, str, str]]) -> list[InputCopy]:
    """Of (source, locator, content_hash) inputs whose bytes are stored or rejected already, those not
    recorded yet: copies, each with the locator and run of the input that brought the bytes first."""
    if not inputs:
        return []
    sources, locators, hashes = (list(column) for column in zip(*inputs))
    rows = con.execute(SQL_COPIES_OF_STORED, [sources, locators, hashes]).fetchall()
    return [InputCopy(source, locator, content_hash, original, run_id, rejected)
            for source, locator, content_hash, original, run_id, rejected in rows]


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def load_source_states(con: duckdb.DuckDBPyConnection, sources: list[SourceSettings]) -> dict[str, SourceState]:
    """The stored state of each feed source; a new source, or one whose configured URL changed, starts fresh."""
    stored = {row[0]: row for row in con.execute(SQL_SOURCE_STATES).fetchall()}
    states: dict[str, SourceState] = {}
    for src in sources:
        if src.kind != "feed" or not src.url:
            continue
        row = stored.get(src.name)
        if row is None or row[2] != src.url:
            states[src.name] = SourceState(source=src.name, url=src.url)
            continue
        (name, url, _, etag, modified, validators_at, body_hash, status, error, success, polled, failures,
         next_poll, disabled, disabled_reason) = row
        states[src.name] = SourceState(
            source=name, url=url, etag=etag, last_modified=modified, validators_at=_aware(validators_at),
            body_hash=body_hash, last_status=status, last_error=error, last_success=_aware(success),
            last_polled=_aware(polled), consecutive_failures=failures, next_poll_at=_aware(next_poll),
            disabled=disabled, disabled_reason=disabled_reason)
    return states


def moved_feeds(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, str]]:
    """Feeds a permanent redirect moved: source -> (the configured URL it moved from, the URL it is polled at)."""
    return {source: (configured, url) for source, url, configured in con.execute(SQL_MOVED_FEEDS).fetchall()}


def known_urls_and_guids(con: duckdb.DuckDBPyConnection) -> tuple[set[str], set[str | tuple[str, str]]]:
    """Canonical URLs (and locators) and GUIDs of stored articles (as guid_key gives them: a GUID that is no
    URI with its source), so feeds do not fetch them again."""
    urls = {row[0] for row in con.execute(SQL_KNOWN_URLS).fetchall()}
    guids = {guid_key(source, guid) for source, guid in con.execute(SQL_KNOWN_GUIDS).fetchall()}
    return urls, guids


def stored_articles(con: duckdb.DuckDBPyConnection, default_tags: dict[str, tuple[str, ...]]) -> list[Article]:
    """Every stored article as it was cleaned, ready to be summarised and tagged again without refetching
    (facts: None for an article stored before they were kept)."""
    articles = []
    for (aid, chash, source, locator, url, guid, title, derived, text, lang, story_id, dup,
         words, found) in con.execute(SQL_STORED_ARTICLES).fetchall():
        doc = RawDocument(source=source, locator=locator, content_hash=chash, raw=b"", media_type="",
                          url=url, guid=guid, default_tags=default_tags.get(source, ()))
        cleaned = CleanedArticle(title=title, text=text, language=lang, canonical_url=url, title_derived=derived)
        articles.append(Article(article_id=aid, doc=doc, cleaned=cleaned, word_count=words, story_id=story_id,
                                duplicate_of=dup, facts=_facts(found)))
    return articles


def _facts(stored: list[str] | None) -> frozenset[str] | None:
    """An article's facts as stored; NULL (stored before facts were kept) stays None."""
    return None if stored is None else frozenset(stored)
