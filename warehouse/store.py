"""The one door to DuckDB: connect, migrate, read what dedup needs, and write a run atomically."""

from __future__ import annotations

import json
import os
import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from config.settings import SourceSettings
from tasks.dedup import KnownArticle
from tasks.health import SourceState
from tasks.models import Article, CleanedArticle, RawDocument, Reject, RunCounts, Story

LOGGER = logging.getLogger(__name__)
SQL_DIR = Path(__file__).resolve().parent / "sql"
_MIGRATION_NAME = re.compile(r"^(\d{3})_[\w-]+\.sql$")
_LOCK_MESSAGE = re.compile(r"lock", re.IGNORECASE)
_PID = re.compile(r"PID (\d+)")
_DUCKDB_MAGIC = b"DUCK"

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
UNION SELECT content_hash FROM store.rejects WHERE content_hash IS NOT NULL
"""
SQL_KNOWN_REJECTS = "SELECT DISTINCT source, locator, reason FROM store.rejects"
SQL_KNOWN_ARTICLES = """
SELECT article_id, text_hash, url, minhash, story_id,
       CASE WHEN coalesce(published_at, ingested_at) >= ? THEN story_terms END AS story_terms,
       coalesce(published_at, ingested_at) AS seen_at, duplicate_of
FROM store.articles
"""
SQL_STORY_MEMBERS = """
SELECT story_id, article_id, title, text, source, duplicate_of, coalesce(language, 'en'), title_derived
FROM store.articles WHERE story_id IN (SELECT unnest(?::VARCHAR[]))
ORDER BY coalesce(published_at, ingested_at), ingested_at, article_id
"""
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
SQL_INSERT_REPROCESSED = "INSERT INTO reprocessed VALUES (?, ?)"
SQL_APPLY_REPROCESSED = """
UPDATE store.articles AS a SET summary = r.summary, summary_version = ?, tag_version = ?
FROM reprocessed AS r WHERE a.article_id = r.article_id
"""
SQL_DELETE_TAGS = "DELETE FROM store.article_tags WHERE article_id IN (SELECT article_id FROM reprocessed)"
SQL_INSERT_RAW = "INSERT INTO store.raw_inputs VALUES (?, ?, ?, ?, ?, ?, ?)"
ARTICLE_COLUMNS = (
    "article_id", "content_hash", "source", "locator", "url", "path", "guid", "title", "title_derived", "byline",
    "dateline", "credit", "published_at", "language", "site_name", "text", "word_count", "text_hash", "story_id",
    "duplicate_of", "duplicate_kind", "similarity", "minhash", "story_terms", "summary", "run_id", "ingested_at",
    "clean_version", "dedup_version", "summary_version", "tag_version",
)
SQL_INSERT_ARTICLE = (f"INSERT INTO store.articles ({', '.join(ARTICLE_COLUMNS)}) "
                      f"VALUES ({', '.join('?' for _ in ARTICLE_COLUMNS)})")
SQL_INSERT_TAG = "INSERT INTO store.article_tags VALUES (?, ?, ?, ?, ?)"
SQL_DELETE_STORIES = "DELETE FROM store.stories WHERE story_id IN (SELECT unnest(?::VARCHAR[]))"
SQL_INSERT_STORY = ("INSERT INTO store.stories (story_id, title, summary, run_id, updated_at, summary_version) "
                    "VALUES (?, ?, ?, ?, ?, ?)")
SQL_INSERT_REJECT = "INSERT INTO store.rejects VALUES (?, ?, ?, ?, ?, ?)"


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
    return {row[0] for row in con.execute(SQL_KNOWN_HASHES).fetchall()}


def known_rejects(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str, str]]:
    """(source, locator, reason) of rejects already recorded, so a run does not repeat them."""
    return {tuple(row) for row in con.execute(SQL_KNOWN_REJECTS).fetchall()}  # type: ignore[misc]


def load_known_articles(con: duckdb.DuckDBPyConnection, story_since: datetime) -> list[KnownArticle]:
    """What dedup needs of every stored article; story terms only for those seen since story_since."""
    known = []
    for aid, thash, url, minhash, story_id, terms, seen_at, dup in con.execute(
            SQL_KNOWN_ARTICLES, [story_since]).fetchall():
        known.append(KnownArticle(
            article_id=aid, text_hash=thash, canonical_url=url, minhash=minhash, story_id=story_id,
            story_terms=json.loads(terms) if terms else {}, seen_at=_aware(seen_at), duplicate_of=dup))
    return known


def story_members(con: duckdb.DuckDBPyConnection, story_ids: list[str]) -> list[tuple]:
    """Stored members of the given stories, oldest first: (story_id, article_id, title, text, source,
    duplicate_of, language, title_derived)."""
    if not story_ids:
        return []
    return con.execute(SQL_STORY_MEMBERS, [story_ids]).fetchall()


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


def write_run(con: duckdb.DuckDBPyConnection, run_id: str, articles: list[Article], rejects: list[Reject],
              stories: list[Story], counts: RunCounts, source_states: list[SourceState] | None = None,
              configured_urls: dict[str, str] | None = None, versions: dict[str, str] | None = None) -> None:
    """Store a run's inputs, articles, tags, stories, rejects and source states, and mark it completed,
    in one transaction."""
    now = _now()
    with transaction(con):
        seen_raw: set[str] = set()
        raw_rows = []
        for a in articles:
            d = a.doc
            if d.content_hash not in seen_raw:
                seen_raw.add(d.content_hash)
                raw_rows.append([d.content_hash, d.media_type, len(d.raw), d.raw, d.source, d.locator, run_id])
        if raw_rows:
            con.executemany(SQL_INSERT_RAW, raw_rows)
        if articles:
            con.executemany(SQL_INSERT_ARTICLE, [_article_row(a, run_id, now, versions or {}) for a in articles])
        tag_rows = [[a.article_id, t.issue, t.score, list(t.evidence), run_id] for a in articles for t in a.tags]
        if tag_rows:
            con.executemany(SQL_INSERT_TAG, tag_rows)
        if stories:
            story_version = (versions or {}).get("story_summary")
            con.execute(SQL_DELETE_STORIES, [[s.story_id for s in stories]])
            con.executemany(SQL_INSERT_STORY, [[s.story_id, s.title, s.summary, run_id, now, story_version]
                                               for s in stories])
        if rejects:
            con.executemany(SQL_INSERT_REJECT, [[run_id, r.source, r.locator, r.reason, r.content_hash, now]
                                                for r in rejects])
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
        if articles:
            con.executemany(SQL_INSERT_REPROCESSED, [[a.article_id, a.summary] for a in articles])
        con.execute(SQL_APPLY_REPROCESSED, [versions.get("summary"), versions.get("tag")])
        con.execute(SQL_DELETE_TAGS)
        tag_rows = [[a.article_id, t.issue, t.score, list(t.evidence), run_id] for a in articles for t in a.tags]
        if tag_rows:
            con.executemany(SQL_INSERT_TAG, tag_rows)
        if stories:
            con.execute(SQL_DELETE_STORIES, [[s.story_id for s in stories]])
            con.executemany(SQL_INSERT_STORY, [[s.story_id, s.title, s.summary, run_id, now,
                                                versions.get("story_summary")] for s in stories])
        finish_run(con, run_id, "completed", RunCounts(discovered=len(articles)))
