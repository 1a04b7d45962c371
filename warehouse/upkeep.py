"""Upkeep of the lake: small files merged, old snapshots expired, files no snapshot needs deleted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import duckdb

from warehouse.connect import VIEWS_FILE, now, retrying, transaction

# Rows of small writes kept in the catalog database (data inlining) move out to Parquet files first.
SQL_FLUSH_INLINED = "CALL ducklake_flush_inlined_data('news')"
SQL_MERGE = "CALL ducklake_merge_adjacent_files('news')"
SQL_EXPIRE = "CALL ducklake_expire_snapshots('news', older_than => ?)"
SQL_CLEANUP_OLD = "CALL ducklake_cleanup_old_files('news', cleanup_all => true)"
SQL_DELETE_ORPHANS = "CALL ducklake_delete_orphaned_files('news', older_than => ?)"
SQL_ORPHANS = "CALL ducklake_delete_orphaned_files('news', dry_run => true, older_than => ?)"
SQL_DATA_FILES = "SELECT count(*) FROM __ducklake_metadata_news.ducklake_data_file WHERE end_snapshot IS NULL"
SQL_SNAPSHOTS = "SELECT count(*) FROM news.snapshots()"
SQL_INLINED_TABLES = "SELECT table_name FROM __ducklake_metadata_news.ducklake_inlined_data_tables"
# Other PostgreSQL sessions holding a lock on a table of inlined rows (a reader's open transaction): the
# flush may drop such a table, and in PostgreSQL that DROP waits for them, with every later reader queued
# behind it. pg_locks is readable by every role.
SQL_PG_INLINED_HOLDERS = """SELECT * FROM postgres_query('__ducklake_metadata_news', $$
SELECT count(DISTINCT l.pid) FROM pg_locks AS l JOIN pg_class AS c ON c.oid = l.relation
WHERE c.relname ~ '^ducklake_inlined_data_[0-9]+_[0-9]+$' AND l.pid <> pg_backend_pid()$$)"""
# With a shared catalog, a run on another machine may be writing files it has not committed yet: only
# files older than this are orphans for sure. With the run lock held, no other run is writing.
SHARED_ORPHAN_AGE = timedelta(days=1)


@dataclass(frozen=True)
class Upkeep:
    """What one maintain pass did."""

    flushed_tables: int
    merged: int
    expired_snapshots: int
    deleted_old_files: int
    deleted_orphans: int
    data_files: int
    snapshots: int
    inlined_held_by: int = 0  # other sessions holding the catalog's inlined rows (the flush was skipped)

    def summary(self) -> str:
        held = (f"; rows of small writes left in the catalog: another session holds them ({self.inlined_held_by} "
                "with a transaction open), moved out at the next maintain") if self.inlined_held_by else ""
        return (f"maintain: {self.merged} merge(s), {self.expired_snapshots} snapshot(s) expired, "
                f"{self.deleted_old_files + self.deleted_orphans} file(s) deleted "
                f"({self.deleted_orphans} orphaned); {self.data_files} data files and {self.snapshots} snapshots "
                f"remain{held}")


def _orphan_cutoff(exclusive: bool):
    return now() if exclusive else now() - SHARED_ORPHAN_AGE


def maintain(con: duckdb.DuckDBPyConnection, keep_snapshots_days: float, exclusive: bool) -> Upkeep:
    """Merge adjacent small files, expire snapshots older than keep_snapshots_days, and delete the files
    no remaining snapshot needs, including orphans a killed run left behind (exclusive: a local catalog
    whose run lock this process holds, so no other run is writing files now; else a shared one, where rows
    of small writes another session holds stay inlined until the next pass)."""
    held_by, flushed = (0 if exclusive else _inlined_holders(con)), 0
    if not held_by:
        inlined = _inlined_tables(con)
        flushed = len(retrying(con, lambda: con.execute(SQL_FLUSH_INLINED).fetchall()))
        if inlined - _inlined_tables(con):
            retrying(con, lambda: _new_schema_version(con))
    merged = len(retrying(con, lambda: con.execute(SQL_MERGE).fetchall()))
    expired = len(retrying(con, lambda: con.execute(SQL_EXPIRE, [now() - timedelta(days=keep_snapshots_days)])
                           .fetchall()))
    old = len(con.execute(SQL_CLEANUP_OLD).fetchall())
    orphans = len(con.execute(SQL_DELETE_ORPHANS, [_orphan_cutoff(exclusive)]).fetchall())
    return Upkeep(flushed_tables=flushed, merged=merged, expired_snapshots=expired, deleted_old_files=old,
                  deleted_orphans=orphans, data_files=con.execute(SQL_DATA_FILES).fetchone()[0],
                  snapshots=con.execute(SQL_SNAPSHOTS).fetchone()[0], inlined_held_by=held_by)


def _inlined_holders(con: duckdb.DuckDBPyConnection) -> int:
    """How many other sessions of a shared (PostgreSQL) catalog hold locks on its tables of inlined rows.
    Only asked there: a local catalog's readers (SQLite) read their snapshot while the flush goes on."""
    return int(con.execute(SQL_PG_INLINED_HOLDERS).fetchone()[0])


def _inlined_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {row[0] for row in con.execute(SQL_INLINED_TABLES).fetchall()}


def _new_schema_version(con: duckdb.DuckDBPyConnection) -> None:
    """Give the lake a new schema version (the public views written again, unchanged), so that every open
    session reads the catalog afresh at its next statement.

    A flush drops the catalog tables of rows inlined under an older table schema (after a migration), without
    a new schema version; DuckLake caches a table's inlined tables by schema version in each session that
    attached the lake, so a session opened before (make sql, open_warehouse) went on reading the dropped tables
    and failed at every query ("ducklake_inlined_data_6_2 does not exist") until it attached again
    (duckdb/ducklake#1305, #1413). A transaction held open across the flush still fails once: its snapshot's
    catalog was read before; its next transaction reads the new one."""
    with transaction(con):
        con.execute(VIEWS_FILE.read_text(encoding="utf-8"))


def orphaned_files(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Data files in the lake's folder that no snapshot refers to (left by a run killed before its commit)."""
    return [row[0] for row in con.execute(SQL_ORPHANS, [now()]).fetchall()]
