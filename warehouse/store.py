"""The one door to DuckDB: connect, migrate, read what dedup needs, and write a run atomically."""

from __future__ import annotations

import importlib.util
import json
import os
import logging
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb

from config.settings import SourceSettings
from tasks.records import (Article, CleanedArticle, InputCopy, KnownArticle, KnownProbe, RawDocument, Reject,
                           RunCounts, SourceState, Story)

LOGGER = logging.getLogger(__name__)
SQL_DIR = Path(__file__).resolve().parent / "sql"
_MIGRATION_NAME = re.compile(r"^(\d{3})_[\w-]+\.sql$")
_LOCK_MESSAGE = re.compile(r"lock", re.IGNORECASE)
_PID = re.compile(r"PID (\d+)")
_DUCKDB_MAGIC = b"DUCK"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

SQL_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS main.schema_version (version INTEGER NOT NULL, applied_at TIMESTAMPTZ NOT NULL)
"""
SQL_CURRENT_VERSION = "SELECT coalesce(max(version), 0) FROM main.schema_version"
SQL_RECORD_VERSION = "INSERT INTO main.schema_version VALUES (?, ?)"
SQL_ABANDON_RUNNING = """
UPDATE store.runs SET status = 'abandoned', finished_at = ?,
       message = 'the process stopped before the run finished; nothing of it was stored'
WHERE status = 'running' RETURNING run_id
"""
SQL_BEGIN_RUN = """
INSERT INTO store.runs (run_id, flow_run_id, started_at, status, sources, kind) VALUES (?, ?, ?, 'running', ?, ?)
"""
SQL_FINISH_RUN = """
UPDATE store.runs SET finished_at = ?, status = ?, discovered = ?, skipped = ?, new_articles = ?,
       duplicates = ?, rejected = ?, message = ?
WHERE run_id = ?
"""
SQL_KNOWN_HASHES = """
SELECT content_hash FROM store.raw_inputs
UNION ALL SELECT content_hash FROM store.rejects WHERE content_hash IS NOT NULL
"""
SQL_KNOWN_REJECTS = "SELECT DISTINCT source, locator, reason FROM store.rejects"
# seen_at as microseconds since the epoch: turning 100k TIMESTAMPTZ values into datetimes in DuckDB's
# client costs more than reading everything else; Python builds them from integers much faster.
SQL_KNOWN_ARTICLES = """
SELECT article_id, text_hash, url, minhash, story_id,
       CASE WHEN coalesce(published_at, ingested_at) >= ? THEN story_terms END AS story_terms,
       epoch_us(coalesce(published_at, ingested_at)) AS seen_at_us, duplicate_of
FROM store.articles
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
SQL_KNOWN_ROWS = """
SELECT article_id, text_hash, url, minhash, story_id,
       CASE WHEN coalesce(published_at, ingested_at) >= ? THEN story_terms END AS story_terms,
       epoch_us(coalesce(published_at, ingested_at)) AS seen_at_us, duplicate_of
FROM store.articles WHERE coalesce(published_at, ingested_at) >= ? OR list_contains(?::BIGINT[], rowid)
ORDER BY rowid
"""
SQL_INSERT_SIGNATURE_VALUES = """
INSERT INTO store.signature_values
SELECT article_id, (generate_subscripts(parts, 1) - 1)::SMALLINT, ('0x' || unnest(parts))::UBIGINT
FROM (SELECT article_id, regexp_extract_all(hex(minhash), '.{16}') AS parts
      FROM store.articles WHERE run_id = ? AND minhash IS NOT NULL)
"""
# The search index of a run's articles, in the run's transaction (the token rule and the postings are
# the macros of sql/007_search.sql); postings in key order, so a search skips blocks without its keys.
SQL_INDEX_RUN_POSTINGS = "CREATE OR REPLACE TEMP TABLE search_run AS SELECT * FROM search_postings([?])"
SQL_INDEX_RUN_TERMS = "INSERT INTO store.search_terms SELECT * FROM search_run ORDER BY term_key"
SQL_INDEX_RUN_DOCS = "INSERT INTO store.search_docs SELECT article_id, sum(tf) FROM search_run GROUP BY article_id"
SQL_INDEX_RUN_DONE = "DROP TABLE search_run"
SQL_STORY_MEMBERS = """
SELECT story_id, article_id, title, text, source, duplicate_of, coalesce(language, 'en'), title_derived
FROM store.articles WHERE list_contains(?::VARCHAR[], story_id)
ORDER BY coalesce(published_at, ingested_at), ingested_at, article_id
"""
SQL_STORY_TITLES = "SELECT story_id, title FROM store.stories WHERE list_contains(?::VARCHAR[], story_id)"
SQL_SOURCE_STATES = """
SELECT source, url, configured_url, etag, last_modified, validators_at, body_hash, last_status, last_error,
       last_success, last_polled, consecutive_failures, next_poll_at, disabled, disabled_reason
FROM store.source_state
"""
SQL_DELETE_SOURCE_STATES = "DELETE FROM store.source_state WHERE source IN (SELECT unnest(?::VARCHAR[]))"
SQL_INSERT_SOURCE_STATE = """
INSERT INTO store.source_state VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
SQL_KNOWN_URLS = "SELECT url FROM store.articles WHERE url IS NOT NULL UNION SELECT locator FROM store.articles"
SQL_KNOWN_GUIDS = "SELECT DISTINCT guid FROM store.articles WHERE guid IS NOT NULL"
SQL_STORED_ARTICLES = """
SELECT article_id, content_hash, source, locator, url, guid, title, title_derived, text, language, story_id,
       duplicate_of, word_count
FROM store.articles ORDER BY ingested_at, article_id
"""
SQL_REPROCESSED_TABLE = "CREATE OR REPLACE TEMP TABLE reprocessed (article_id VARCHAR, summary VARCHAR[])"
SQL_INSERT_REPROCESSED = "INSERT INTO reprocessed SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[][])"
SQL_APPLY_REPROCESSED = """
UPDATE store.articles AS a SET summary = r.summary, summary_version = ?, tag_version = ?
FROM reprocessed AS r WHERE a.article_id = r.article_id
"""
SQL_DELETE_TAGS = "DELETE FROM store.article_tags WHERE article_id IN (SELECT article_id FROM reprocessed)"
# Rows are written column-wise, one statement per BULK_ROWS rows: each column is bound as one typed
# list and unnested, which is many times quicker than executemany's one statement per row.
BULK_ROWS = 1000
RAW_BULK_BYTES = 64_000_000  # raw inputs are also cut by size, to bound the memory one statement binds
RAW_TYPES = ("VARCHAR", "VARCHAR", "BIGINT", "BLOB", "VARCHAR", "VARCHAR", "VARCHAR")
SQL_INSERT_RAW = "INSERT INTO store.raw_inputs SELECT " + ", ".join(f"unnest(?::{t}[])" for t in RAW_TYPES)
ARTICLE_COLUMNS = (
    ("article_id", "VARCHAR"), ("content_hash", "VARCHAR"), ("source", "VARCHAR"), ("locator", "VARCHAR"),
    ("url", "VARCHAR"), ("path", "VARCHAR"), ("guid", "VARCHAR"), ("title", "VARCHAR"), ("title_derived", "BOOLEAN"),
    ("byline", "VARCHAR"), ("dateline", "VARCHAR"), ("credit", "VARCHAR"), ("published_at", "TIMESTAMPTZ"),
    ("language", "VARCHAR"), ("site_name", "VARCHAR"), ("text", "VARCHAR"), ("word_count", "INTEGER"),
    ("text_hash", "VARCHAR"), ("story_id", "VARCHAR"), ("duplicate_of", "VARCHAR"), ("duplicate_kind", "VARCHAR"),
    ("similarity", "DOUBLE"), ("minhash", "BLOB"), ("story_terms", "VARCHAR"), ("summary", "VARCHAR[]"),
    ("run_id", "VARCHAR"), ("ingested_at", "TIMESTAMPTZ"), ("clean_version", "VARCHAR"),
    ("dedup_version", "VARCHAR"), ("summary_version", "VARCHAR"), ("tag_version", "VARCHAR"),
)
SQL_INSERT_ARTICLES = (f"INSERT INTO store.articles ({', '.join(c for c, _ in ARTICLE_COLUMNS)}) "
                       f"SELECT {', '.join(f'unnest(?::{t}[])' for _, t in ARTICLE_COLUMNS)}")
TAG_TYPES = ("VARCHAR", "VARCHAR", "DOUBLE", "VARCHAR[]", "VARCHAR")
SQL_INSERT_TAGS = "INSERT INTO store.article_tags SELECT " + ", ".join(f"unnest(?::{t}[])" for t in TAG_TYPES)
SQL_DELETE_STORIES = "DELETE FROM store.stories WHERE story_id IN (SELECT unnest(?::VARCHAR[]))"
STORY_TYPES = ("VARCHAR", "VARCHAR", "VARCHAR[]", "VARCHAR", "TIMESTAMPTZ", "VARCHAR")
SQL_INSERT_STORIES = ("INSERT INTO store.stories (story_id, title, summary, run_id, updated_at, summary_version) "
                      "SELECT " + ", ".join(f"unnest(?::{t}[])" for t in STORY_TYPES))
REJECT_TYPES = ("VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "TIMESTAMPTZ")
SQL_INSERT_REJECTS = "INSERT INTO store.rejects SELECT " + ", ".join(f"unnest(?::{t}[])" for t in REJECT_TYPES)

# Inputs whose bytes are stored or rejected already: those with no outcome of their own yet (not the
# stored input itself met again, nor a copy recorded before) are copies, with who holds the bytes.
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
                  WHERE r.source = c.source AND r.locator = c.locator AND r.content_hash = c.content_hash)
"""
COPY_TYPES = ("VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "TIMESTAMPTZ")
SQL_INSERT_COPIES = "INSERT INTO store.input_copies SELECT " + ", ".join(f"unnest(?::{t}[])" for t in COPY_TYPES)


def _mark_pandas_absent() -> None:
    """Let the DuckDB client learn once, not once per value, that pandas is not installed.

    Without pandas, DuckDB's Python client tries to import it for every value it binds, and each failed
    import searches sys.path again: that was most of the time of a large insert. A None entry in
    sys.modules makes those imports fail at once, with the same ModuleNotFoundError as before.
    """
    if "pandas" not in sys.modules and importlib.util.find_spec("pandas") is None:
        sys.modules["pandas"] = None  # type: ignore[assignment]


_mark_pandas_absent()


class WarehouseError(RuntimeError):
    """The warehouse cannot be used; str() is a one-line reason."""


class WarehouseBusy(WarehouseError):
    """Another process holds the warehouse's write lock."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def connect(path: Path, lock_wait_seconds: float = 30.0, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse file, waiting for another writer up to lock_wait_seconds, and migrate it."""
    path = Path(path)
    check_path(path)
    deadline = time.monotonic() + lock_wait_seconds
    delay = 0.2
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as exc:
            message = str(exc)
            if not _LOCK_MESSAGE.search(message):
                raise WarehouseError(f"warehouse {path}: cannot open ({message.splitlines()[0]})") from None
            if time.monotonic() >= deadline:
                pid = _PID.search(message)
                holder = f" by process {pid.group(1)}" if pid else ""
                raise WarehouseBusy(
                    f"warehouse {path} is in use{holder}; waited {lock_wait_seconds:g} s, try again later"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
        except duckdb.Error as exc:
            raise WarehouseError(f"warehouse {path}: cannot open ({str(exc).splitlines()[0]})") from None
    if not read_only:
        try:
            migrate(con)
        except duckdb.Error as exc:
            con.close()
            raise WarehouseError(f"warehouse {path}: cannot prepare schema ({str(exc).splitlines()[0]})") from None
    return con


def check_path(path: Path) -> None:
    """Refuse, with a one-line reason and without touching it, a path that cannot hold a warehouse."""
    path = Path(path)
    if not path.parent.is_dir():
        raise WarehouseError(f"warehouse {path}: folder {path.parent} does not exist")
    if not path.exists():
        if not os.access(path.parent, os.W_OK):
            raise WarehouseError(f"warehouse {path}: folder {path.parent} is not writable")
        return
    if not path.is_file():
        raise WarehouseError(f"warehouse {path}: not a regular file")
    try:
        with path.open("rb") as handle:
            header = handle.read(12)
    except OSError as exc:
        raise WarehouseError(f"warehouse {path}: unreadable ({exc.strerror})") from None
    if header and header[8:12] != _DUCKDB_MAGIC:
        raise WarehouseError(f"warehouse {path}: not a DuckDB database file")


def migrations() -> list[tuple[int, Path]]:
    """The numbered schema migrations shipped with the project, in order."""
    found = []
    for file in SQL_DIR.glob("*.sql"):
        match = _MIGRATION_NAME.match(file.name)
        if match:
            found.append((int(match.group(1)), file))
    return sorted(found)


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Apply every migration newer than the stored version, each in its own transaction; rebuild views."""
    con.execute(SQL_VERSION_TABLE)
    current = con.execute(SQL_CURRENT_VERSION).fetchone()[0]
    for version, file in migrations():
        if version <= current:
            continue
        with transaction(con):
            con.execute(file.read_text(encoding="utf-8"))
            con.execute(SQL_RECORD_VERSION, [version, _now()])
        current = version
        LOGGER.info("warehouse migrated to version %d", version)
    con.execute((SQL_DIR / "views.sql").read_text(encoding="utf-8"))
    return current


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run a block in one transaction: all of it is stored, or none of it."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def begin_run(con: duckdb.DuckDBPyConnection, run_id: str, flow_run_id: str | None, sources: str,
              kind: str = "ingest") -> list[str]:
    """Mark runs left 'running' by a dead process as abandoned, then record this run as running."""
    with transaction(con):
        abandoned = [r[0] for r in con.execute(SQL_ABANDON_RUNNING, [_now()]).fetchall()]
        con.execute(SQL_BEGIN_RUN, [run_id, flow_run_id, _now(), sources, kind])
    return abandoned


def finish_run(con: duckdb.DuckDBPyConnection, run_id: str, status: str, counts: RunCounts,
               message: str | None = None) -> None:
    """Record a run's end state and counts (used on its own when a run fails)."""
    con.execute(SQL_FINISH_RUN, [_now(), status, counts.discovered, counts.skipped, counts.new_articles,
                                 counts.duplicates, counts.rejected, message, run_id])


def known_content_hashes(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Hashes of every input already stored or already rejected, so discovery can skip them."""
    return set(con.execute(SQL_KNOWN_HASHES).fetchnumpy()["content_hash"].tolist())


def known_rejects(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str, str]]:
    """(source, locator, reason) of rejects already recorded, so a run does not repeat them."""
    return {tuple(row) for row in con.execute(SQL_KNOWN_REJECTS).fetchall()}  # type: ignore[misc]


def load_known_articles(con: duckdb.DuckDBPyConnection, story_since: datetime,
                        probe: KnownProbe | None = None) -> list[KnownArticle]:
    """What dedup needs of stored articles, oldest row first; story terms only for those seen since story_since.

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
    ids, hashes, urls, minhashes, stories, terms, seen_us, duplicates = (
        columns[name].tolist() for name in ("article_id", "text_hash", "url", "minhash", "story_id", "story_terms",
                                            "seen_at_us", "duplicate_of"))
    return [KnownArticle(article_id=aid, text_hash=thash, canonical_url=url,
                         minhash=None if minhash is None else bytes(minhash), story_id=story_id,
                         story_terms=json.loads(story_terms) if story_terms else {},
                         seen_at=_EPOCH + timedelta(microseconds=us), duplicate_of=dup)
            for aid, thash, url, minhash, story_id, story_terms, us, dup
            in zip(ids, hashes, urls, minhashes, stories, terms, seen_us, duplicates)]


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


def copies_of_stored(con: duckdb.DuckDBPyConnection, inputs: list[tuple[str, str, str]]) -> list[InputCopy]:
    """Of (source, locator, content_hash) inputs whose bytes are stored or rejected already, those not
    recorded yet: copies, each with the locator and run of the input that brought the bytes first."""
    if not inputs:
        return []
    sources, locators, hashes = (list(column) for column in zip(*inputs))
    rows = con.execute(SQL_COPIES_OF_STORED, [sources, locators, hashes]).fetchall()
    return [InputCopy(source, locator, content_hash, original, run_id, rejected)
            for source, locator, content_hash, original, run_id, rejected in rows]


def _insert_copies(con: duckdb.DuckDBPyConnection, run_id: str, copies: list[InputCopy], now: datetime) -> None:
    """Record the run's copies (inside the run's transaction)."""
    for columns in _column_batches([[run_id, c.source, c.locator, c.content_hash, c.original, now] for c in copies]):
        con.execute(SQL_INSERT_COPIES, columns)


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


def known_urls_and_guids(con: duckdb.DuckDBPyConnection) -> tuple[set[str], set[str]]:
    """Canonical URLs (and locators) and GUIDs of stored articles, so feeds do not fetch them again."""
    urls = {row[0] for row in con.execute(SQL_KNOWN_URLS).fetchall()}
    guids = {row[0] for row in con.execute(SQL_KNOWN_GUIDS).fetchall()}
    return urls, guids


def _state_row(state: SourceState, configured: dict[str, str], run_id: str) -> list:
    return [state.source, state.url, configured.get(state.source, state.url), state.etag, state.last_modified,
            state.validators_at, state.body_hash, state.last_status, state.last_error, state.last_success,
            state.last_polled, state.consecutive_failures, state.next_poll_at, state.disabled,
            state.disabled_reason, run_id]


def _column_batches(rows: list[list], max_bytes: int | None = None) -> Iterator[list[list]]:
    """The rows as column lists, one set per insert statement: at most BULK_ROWS rows and, when
    max_bytes is set, about that many bytes of bytes values."""
    batch: list[list] = []
    size = 0
    for row in rows:
        weight = sum(len(v) for v in row if isinstance(v, bytes)) if max_bytes else 0
        if batch and (len(batch) >= BULK_ROWS or (max_bytes and size + weight > max_bytes)):
            yield [list(column) for column in zip(*batch)]
            batch, size = [], 0
        batch.append(row)
        size += weight
    if batch:
        yield [list(column) for column in zip(*batch)]


def _tag_rows(articles: list[Article], run_id: str) -> list[list]:
    """One article_tags row per tag of each article."""
    return [[a.article_id, t.issue, t.score, list(t.evidence), run_id] for a in articles for t in a.tags]


def _article_row(a: Article, run_id: str, now: datetime, versions: dict[str, str]) -> list:
    c, d = a.cleaned, a.doc
    is_file = not d.locator.startswith(("http://", "https://"))
    return [
        a.article_id, d.content_hash, d.source, d.locator, c.canonical_url or d.url,
        d.locator if is_file else None, d.guid, c.title, c.title_derived, c.byline, c.dateline, c.credit,
        c.published_at, c.language, c.site_name, c.text, a.word_count, a.text_hash, a.story_id,
        a.duplicate_of, a.duplicate_kind, a.similarity, a.minhash,
        json.dumps(a.story_terms, sort_keys=True) if a.story_terms else None, a.summary, run_id, now,
        versions.get("clean"), versions.get("dedup"), versions.get("summary"), versions.get("tag"),
    ]


def _index_run(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Add the run's stored articles to the search index (inside the caller's transaction)."""
    con.execute(SQL_INDEX_RUN_POSTINGS, [run_id])
    con.execute(SQL_INDEX_RUN_TERMS)
    con.execute(SQL_INDEX_RUN_DOCS)
    con.execute(SQL_INDEX_RUN_DONE)


def write_run(con: duckdb.DuckDBPyConnection, run_id: str, articles: list[Article], rejects: list[Reject],
              stories: list[Story], counts: RunCounts, source_states: list[SourceState] | None = None,
              configured_urls: dict[str, str] | None = None, versions: dict[str, str] | None = None,
              copies: list[InputCopy] | None = None) -> None:
    """Store a run's inputs, articles, tags, stories, rejects, copies and source states, and mark it
    completed, in one transaction."""
    now = _now()
    with transaction(con):
        seen_raw: set[str] = set()
        raw_rows = []
        for a in articles:
            d = a.doc
            if d.content_hash not in seen_raw:
                seen_raw.add(d.content_hash)
                raw_rows.append([d.content_hash, d.media_type, len(d.raw), d.raw, d.source, d.locator, run_id])
        for columns in _column_batches(raw_rows, RAW_BULK_BYTES):
            con.execute(SQL_INSERT_RAW, columns)
        for columns in _column_batches([_article_row(a, run_id, now, versions or {}) for a in articles]):
            con.execute(SQL_INSERT_ARTICLES, columns)
        if articles:
            con.execute(SQL_INSERT_SIGNATURE_VALUES, [run_id])
            _index_run(con, run_id)
        for columns in _column_batches(_tag_rows(articles, run_id)):
            con.execute(SQL_INSERT_TAGS, columns)
        if stories:
            story_version = (versions or {}).get("story_summary")
            con.execute(SQL_DELETE_STORIES, [[s.story_id for s in stories]])
            for columns in _column_batches([[s.story_id, s.title, s.summary, run_id, now, story_version]
                                            for s in stories]):
                con.execute(SQL_INSERT_STORIES, columns)
        for columns in _column_batches([[run_id, r.source, r.locator, r.reason, r.content_hash, now]
                                        for r in rejects]):
            con.execute(SQL_INSERT_REJECTS, columns)
        _insert_copies(con, run_id, copies or [], now)
        if source_states:
            con.execute(SQL_DELETE_SOURCE_STATES, [[st.source for st in source_states]])
            con.executemany(SQL_INSERT_SOURCE_STATE,
                            [_state_row(st, configured_urls or {}, run_id) for st in source_states])
        finish_run(con, run_id, "completed", counts)



def stored_articles(con: duckdb.DuckDBPyConnection, default_tags: dict[str, tuple[str, ...]]) -> list[Article]:
    """Every stored article as it was cleaned, ready to be summarised and tagged again without refetching."""
    articles = []
    for (aid, chash, source, locator, url, guid, title, derived, text, lang, story_id, dup,
         words) in con.execute(SQL_STORED_ARTICLES).fetchall():
        doc = RawDocument(source=source, locator=locator, content_hash=chash, raw=b"", media_type="",
                          url=url, guid=guid, default_tags=default_tags.get(source, ()))
        cleaned = CleanedArticle(title=title, text=text, language=lang, canonical_url=url, title_derived=derived)
        articles.append(Article(article_id=aid, doc=doc, cleaned=cleaned, word_count=words, story_id=story_id,
                                duplicate_of=dup))
    return articles


def write_reprocessed(con: duckdb.DuckDBPyConnection, run_id: str, articles: list[Article], stories: list[Story],
                      versions: dict[str, str]) -> None:
    """Replace summaries, tags and story summaries of stored articles, in one transaction."""
    now = _now()
    with transaction(con):
        con.execute(SQL_REPROCESSED_TABLE)
        for columns in _column_batches([[a.article_id, a.summary] for a in articles]):
            con.execute(SQL_INSERT_REPROCESSED, columns)
        con.execute(SQL_APPLY_REPROCESSED, [versions.get("summary"), versions.get("tag")])
        con.execute(SQL_DELETE_TAGS)
        for columns in _column_batches(_tag_rows(articles, run_id)):
            con.execute(SQL_INSERT_TAGS, columns)
        if stories:
            con.execute(SQL_DELETE_STORIES, [[s.story_id for s in stories]])
            for columns in _column_batches([[s.story_id, s.title, s.summary, run_id, now,
                                             versions.get("story_summary")] for s in stories]):
                con.execute(SQL_INSERT_STORIES, columns)
        finish_run(con, run_id, "completed", RunCounts(discovered=len(articles)))
