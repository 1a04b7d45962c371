"""Writing the warehouse: a run's start, its rows as one snapshot, its end; reprocessed summaries and tags."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from datetime import datetime

import duckdb

from tasks.records import Article, InputCopy, Reject, RunCounts, SourceState, Story
from warehouse.connect import now, retrying, transaction
from warehouse.lake import WriteConflict

SQL_RUNNING = "SELECT run_id, host, pid FROM store.runs WHERE status = 'running'"
SQL_ABANDON = """
UPDATE store.runs SET status = 'abandoned', finished_at = ?,
       message = 'the process stopped before the run finished; nothing of it was stored'
WHERE status = 'running' AND list_contains(?::VARCHAR[], run_id)
"""
SQL_BEGIN_RUN = """
INSERT INTO store.runs (run_id, flow_run_id, started_at, status, sources, kind, host, pid)
VALUES (?, ?, ?, 'running', ?, ?, ?, ?)
"""
SQL_FINISH_RUN = """
UPDATE store.runs SET finished_at = ?, status = ?, discovered = ?, skipped = ?, new_articles = ?,
       duplicates = ?, rejected = ?, message = ?, snapshot_id = coalesce(?, snapshot_id)
WHERE run_id = ?
"""
# The snapshot a transaction will commit as, when no other writer commits first (always so for local
# catalogs, where runs take turns); checked after the commit and corrected when another writer did.
SQL_CURRENT_SNAPSHOT = "SELECT id FROM ducklake_current_snapshot('news')"
SQL_LAST_SNAPSHOT = "SELECT id FROM ducklake_last_committed_snapshot('news')"
SQL_SET_SNAPSHOT = "UPDATE store.runs SET snapshot_id = ? WHERE run_id = ?"
SQL_COMMIT_MESSAGE = "CALL news.set_commit_message('newsdesk', ?, extra_info => ?)"
SQL_INSERT_SIGNATURE_VALUES = """
INSERT INTO store.signature_values
SELECT article_id, (generate_subscripts(parts, 1) - 1)::SMALLINT, ('0x' || unnest(parts))::UBIGINT
FROM (SELECT article_id, regexp_extract_all(hex(minhash), '.{16}') AS parts
      FROM store.articles WHERE run_id = ? AND minhash IS NOT NULL)
"""
# The search index of a run's articles, in the run's transaction (the token rule and the postings are
# the macros of sql/007_search.sql); postings in key order, so a search skips blocks without its keys.
SQL_INDEX_RUN_POSTINGS = "CREATE OR REPLACE TEMP TABLE search_run AS SELECT * FROM search_postings(?::VARCHAR[])"
SQL_INDEX_RUN_TERMS = "INSERT INTO store.search_terms SELECT * FROM search_run ORDER BY term_key"
SQL_INDEX_RUN_DOCS = "INSERT INTO store.search_docs SELECT * FROM search_documents()"
SQL_INDEX_RUN_DONE = "DROP TABLE search_run"
SQL_DELETE_SOURCE_STATES = "DELETE FROM store.source_state WHERE source IN (SELECT unnest(?::VARCHAR[]))"
SQL_INSERT_SOURCE_STATE = """
INSERT INTO store.source_state VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
SQL_REPROCESSED_TABLE = "CREATE OR REPLACE TEMP TABLE reprocessed (article_id VARCHAR, summary VARCHAR[], facts VARCHAR[])"
SQL_INSERT_REPROCESSED = ("INSERT INTO reprocessed SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[][]), "
                          "unnest(?::VARCHAR[][])")
# Facts are filled in for articles stored before they were kept (they are never changed once written).
SQL_APPLY_REPROCESSED = """
UPDATE store.articles AS a SET summary = r.summary, summary_version = ?, tag_version = ?,
       facts = coalesce(a.facts, r.facts)
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
    ("dedup_version", "VARCHAR"), ("summary_version", "VARCHAR"), ("tag_version", "VARCHAR"), ("facts", "VARCHAR[]"),
    ("feed_text_reason", "VARCHAR"),
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
COPY_TYPES = ("VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "TIMESTAMPTZ")
SQL_INSERT_COPIES = "INSERT INTO store.input_copies SELECT " + ", ".join(f"unnest(?::{t}[])" for t in COPY_TYPES)


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


def _article_row(a: Article, run_id: str, stamp: datetime, versions: dict[str, str]) -> list:
    c, d = a.cleaned, a.doc
    is_file = not d.locator.startswith(("http://", "https://"))
    return [
        a.article_id, d.content_hash, d.source, d.locator, c.canonical_url or d.url,
        d.locator if is_file else None, d.guid, c.title, c.title_derived, c.byline, c.dateline, c.credit,
        c.published_at, c.language, c.site_name, c.text, a.word_count, a.text_hash, a.story_id,
        a.duplicate_of, a.duplicate_kind, a.similarity, a.minhash,
        json.dumps(a.story_terms, sort_keys=True) if a.story_terms else None, a.summary, run_id, stamp,
        versions.get("clean"), versions.get("dedup"), versions.get("summary"), versions.get("tag"),
        _facts_column(a.facts), c.feed_text_reason,
    ]


def _replace_stories(con: duckdb.DuckDBPyConnection, stories: list[Story], run_id: str, stamp: datetime,
                     version: str | None) -> None:
    """Write the given stories, replacing their stored rows (inside the caller's transaction)."""
    if not stories:
        return
    con.execute(SQL_DELETE_STORIES, [[s.story_id for s in stories]])
    for columns in _column_batches([[s.story_id, s.title, s.summary, run_id, stamp, version] for s in stories]):
        con.execute(SQL_INSERT_STORIES, columns)


def _alive(pid: int | None) -> bool:
    """Whether a process of this machine with that id is running (not this one)."""
    if not pid or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _dead_runs(con: duckdb.DuckDBPyConnection, exclusive: bool) -> list[str]:
    """Runs left 'running' by a process that is gone: with the run lock held (exclusive) every one;
    with a shared catalog, those of this machine whose process has ended (other machines' runs may be
    writing now)."""
    host = socket.gethostname()
    return [run_id for run_id, run_host, pid in con.execute(SQL_RUNNING).fetchall()
            if exclusive or run_host is None or (run_host == host and not _alive(pid))]


def begin_run(con: duckdb.DuckDBPyConnection, run_id: str, flow_run_id: str | None, sources: str,
              kind: str = "ingest", exclusive: bool = True) -> list[str]:
    """Mark runs left 'running' by a dead process as abandoned, then record this run as running
    (exclusive: this process holds the run lock, so no other run is writing)."""
    def attempt() -> list[str]:
        with transaction(con):
            abandoned = _dead_runs(con, exclusive)
            if abandoned:
                con.execute(SQL_ABANDON, [now(), abandoned])
            con.execute(SQL_BEGIN_RUN, [run_id, flow_run_id, now(), sources, kind, socket.gethostname(),
                                        os.getpid()])
        return abandoned

    return retrying(con, attempt)


def finish_run(con: duckdb.DuckDBPyConnection, run_id: str, status: str, counts: RunCounts,
               message: str | None = None) -> None:
    """Record a run's end state and counts (used on its own when a run fails)."""
    retrying(con, lambda: _finish(con, run_id, status, counts, message, None))


def _finish(con: duckdb.DuckDBPyConnection, run_id: str, status: str, counts: RunCounts, message: str | None,
            snapshot_id: int | None) -> None:
    con.execute(SQL_FINISH_RUN, [now(), status, counts.discovered, counts.skipped, counts.new_articles,
                                 counts.duplicates, counts.rejected, message, snapshot_id, run_id])


def _committed(con: duckdb.DuckDBPyConnection, run_id: str, expected: int) -> int:
    """The snapshot the run's transaction committed as; when another writer's commit came in between
    (shared catalogs), the run's row is corrected to it."""
    snapshot = con.execute(SQL_LAST_SNAPSHOT).fetchone()[0]
    if snapshot != expected:
        retrying(con, lambda: con.execute(SQL_SET_SNAPSHOT, [snapshot, run_id]))
    return snapshot


def index_runs(con: duckdb.DuckDBPyConnection, run_ids: list[str]) -> None:
    """Add the stored articles of these runs to the search index (inside the caller's transaction)."""
    con.execute(SQL_INDEX_RUN_POSTINGS, [run_ids])
    con.execute(SQL_INDEX_RUN_TERMS)
    con.execute(SQL_INDEX_RUN_DOCS)
    con.execute(SQL_INDEX_RUN_DONE)


def write_run(con: duckdb.DuckDBPyConnection, run_id: str, articles: list[Article], rejects: list[Reject],
              stories: list[Story], counts: RunCounts, source_states: list[SourceState] | None = None,
              configured_urls: dict[str, str] | None = None, versions: dict[str, str] | None = None,
              checked_snapshot: int | None = None, copies: list[InputCopy] | None = None) -> int:
    """Store a run's inputs, articles, tags, stories, rejects, copies and source states, and mark it
    completed, in one transaction: one snapshot of the lake, whose id is returned and kept in the run's row.

    The check at commit time (shared catalogs, where another writer may store the same articles):
    raises WriteConflict, storing nothing, when the lake has moved on from checked_snapshot (the
    snapshot the batch was checked against) by the time the transaction starts, or when another
    writer commits while it runs (every run's commit changes store.runs, so two overlapping commits
    always conflict in DuckLake). The caller checks the batch again against the lake as it is now and
    retries.
    """
    stamp = now()
    with transaction(con):
        current = con.execute(SQL_CURRENT_SNAPSHOT).fetchone()[0]
        if checked_snapshot is not None and current != checked_snapshot:
            raise WriteConflict(f"warehouse: another writer committed since snapshot {checked_snapshot}")
        snapshot = current + 1
        con.execute(SQL_COMMIT_MESSAGE, [f"{run_id}: {counts.new_articles} new, {counts.duplicates} duplicates",
                                         json.dumps({"run_id": run_id})])
        seen_raw: set[str] = set()
        raw_rows = []
        for a in articles:
            d = a.doc
            if d.content_hash not in seen_raw:
                seen_raw.add(d.content_hash)
                raw_rows.append([d.content_hash, d.media_type, len(d.raw), d.raw, d.source, d.locator, run_id])
        for columns in _column_batches(raw_rows, RAW_BULK_BYTES):
            con.execute(SQL_INSERT_RAW, columns)
        for columns in _column_batches([_article_row(a, run_id, stamp, versions or {}) for a in articles]):
            con.execute(SQL_INSERT_ARTICLES, columns)
        if articles:
            con.execute(SQL_INSERT_SIGNATURE_VALUES, [run_id])
            index_runs(con, [run_id])
        for columns in _column_batches(_tag_rows(articles, run_id)):
            con.execute(SQL_INSERT_TAGS, columns)
        _replace_stories(con, stories, run_id, stamp, (versions or {}).get("story_summary"))
        for columns in _column_batches([[run_id, r.source, r.locator, r.reason, r.content_hash, stamp]
                                        for r in rejects]):
            con.execute(SQL_INSERT_REJECTS, columns)
        for columns in _column_batches([[run_id, c.source, c.locator, c.content_hash, c.original, stamp]
                                        for c in copies or []]):
            con.execute(SQL_INSERT_COPIES, columns)
        if source_states:
            con.execute(SQL_DELETE_SOURCE_STATES, [[st.source for st in source_states]])
            con.executemany(SQL_INSERT_SOURCE_STATE,
                            [_state_row(st, configured_urls or {}, run_id) for st in source_states])
        _finish(con, run_id, "completed", counts, None, snapshot)
    return _committed(con, run_id, snapshot)


def write_reprocessed(con: duckdb.DuckDBPyConnection, run_id: str, articles: list[Article], stories: list[Story],
                      versions: dict[str, str]) -> int:
    """Replace summaries, tags and story summaries of stored articles, and fill in the facts of those stored
    before facts were kept, in one transaction (one snapshot)."""
    stamp = now()

    def attempt() -> int:
        with transaction(con):
            snapshot = con.execute(SQL_CURRENT_SNAPSHOT).fetchone()[0] + 1
            con.execute(SQL_COMMIT_MESSAGE, [f"{run_id}: reprocessed {len(articles)} articles",
                                             json.dumps({"run_id": run_id})])
            con.execute(SQL_REPROCESSED_TABLE)
            rows = [[a.article_id, a.summary, _facts_column(a.facts)] for a in articles]
            for columns in _column_batches(rows):
                con.execute(SQL_INSERT_REPROCESSED, columns)
            con.execute(SQL_APPLY_REPROCESSED, [versions.get("summary"), versions.get("tag")])
            con.execute(SQL_DELETE_TAGS)
            for columns in _column_batches(_tag_rows(articles, run_id)):
                con.execute(SQL_INSERT_TAGS, columns)
            _replace_stories(con, stories, run_id, stamp, versions.get("story_summary"))
            _finish(con, run_id, "completed", RunCounts(discovered=len(articles)), None, snapshot)
        return _committed(con, run_id, snapshot)

    return retrying(con, attempt)


def _facts_column(facts: frozenset[str] | None) -> list[str] | None:
    """An article's facts as the facts column holds them: sorted, or NULL when not worked out (read._facts)."""
    return None if facts is None else sorted(facts)
