"""Opening the warehouse: DuckLake loaded, the lake attached, runs taking turns, migrations and views,
transactions and retries when another writer commits first."""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

import duckdb

from config.settings import WarehouseSettings, load_settings
from warehouse.lake import (SQL_LAKE_DATA_PATH, SQL_USE_LAKE, Lake, WarehouseBusy, WarehouseError, WriteConflict,
                            as_lake, attach_statement, check, data_path_problem, lake_of, load_statement,
                            turn_statement)

LOGGER = logging.getLogger(__name__)
SQL_DIR = Path(__file__).resolve().parent / "sql"
VIEWS_FILE = SQL_DIR / "views.sql"
_MIGRATION_NAME = re.compile(r"^(\d{3})_[\w-]+\.sql$")
_BUSY_MESSAGE = re.compile(r"lock|unique file handle conflict|already attached", re.IGNORECASE)
_PID = re.compile(r"PID (\d+)")
# Two processes making a new lake in one PostgreSQL database at the same moment: the later one's first
# attach fails on the catalog tables the other has just made, and succeeds when tried again.
_NEW_LAKE_RACE = re.compile(r"already exists|duplicate key", re.IGNORECASE)
ATTACH_TRIES = 5
# DuckDB checks an extension's signature on every load: 0.2-0.4 s for each of these 35-MB files, on
# every connection. The files come from the pinned wheels next to DuckDB's own binary (the same trust),
# and only files found inside those packages are loaded, so the check is skipped.
_DUCKDB_CONFIG = {"allow_unsigned_extensions": "true", "autoinstall_known_extensions": "false"}
CONFLICT_RETRIES = 8
T = TypeVar("T")

SQL_NO_PROGRESS_BAR = "SET enable_progress_bar = false"  # maintain's merges would draw one into the flow's log
SQL_HAS_VERSION_TABLE = """
SELECT count(*) FROM duckdb_tables() WHERE database_name = 'news' AND schema_name = 'store'
AND table_name = 'schema_version'
"""
SQL_VERSION_TABLE = """
CREATE SCHEMA IF NOT EXISTS store;
CREATE TABLE IF NOT EXISTS store.schema_version (version INTEGER NOT NULL, applied_at TIMESTAMPTZ NOT NULL);
"""
SQL_CURRENT_VERSION = "SELECT coalesce(max(version), 0) FROM store.schema_version"
SQL_RECORD_VERSION = "INSERT INTO store.schema_version VALUES (?, ?)"
SQL_VIEWS_DIGEST = "SELECT max(digest) FROM store.views_version"
SQL_CLEAR_VIEWS_DIGEST = "DELETE FROM store.views_version"
SQL_SET_VIEWS_DIGEST = "INSERT INTO store.views_version VALUES (?, ?)"


def now() -> datetime:
    return datetime.now(timezone.utc)


def new_connection(lake: Lake) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with DuckLake and the catalog's scanner loaded."""
    con = duckdb.connect(config=_DUCKDB_CONFIG)
    try:
        con.execute(SQL_NO_PROGRESS_BAR)
        con.execute(load_statement(lake))
    except BaseException:
        con.close()
        raise
    return con


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _with_turn_wait(lake: Lake, lock_wait_seconds: float, step: Callable[[], None],
                    waiting: Callable[[str], None] | None = None) -> None:
    """Run step (which takes the lake's run lock), retrying while another process holds it; waiting, when
    given, is told once that the wait began."""
    deadline = time.monotonic() + lock_wait_seconds
    delay = 0.2
    told = False
    while True:
        try:
            step()
            return
        except (duckdb.IOException, duckdb.BinderException) as exc:
            message = str(exc)
            if not _BUSY_MESSAGE.search(message):
                raise
            pid = _PID.search(message)
            holder = f" by process {pid.group(1)}" if pid else " by this process"
            if time.monotonic() >= deadline:
                raise WarehouseBusy(f"warehouse {lake} is in use{holder}; waited {lock_wait_seconds:g} s, "
                                    "try again later") from None
            if waiting is not None and not told:
                waiting(f"warehouse {lake} is in use{holder} (another run writing): waiting up to "
                        f"{lock_wait_seconds:g} s for its turn")
                told = True
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def _attach(con: duckdb.DuckDBPyConnection, lake: Lake, read_only: bool) -> None:
    """Attach the lake; with a shared catalog, again when another process was making it at that moment."""
    for attempt in range(1, ATTACH_TRIES + 1):
        try:
            con.execute(attach_statement(lake, read_only))
            return
        except duckdb.Error as exc:
            if not lake.shared or attempt == ATTACH_TRIES or not _NEW_LAKE_RACE.search(str(exc)):
                raise
            time.sleep(0.2 * attempt)


def connect(where: Lake | WarehouseSettings | str | Path, lock_wait_seconds: float = 30.0,
            read_only: bool = False, import_legacy: bool = True, existing: bool = False,
            waiting: Callable[[str], None] | None = None) -> duckdb.DuckDBPyConnection:
    """Open the warehouse: DuckLake attached as `news` and in use (the views answer to their bare names).

    A writer (read_only=False) first takes the lake's run lock, waiting up to lock_wait_seconds for
    another local run (not with a shared PostgreSQL catalog, whose writers commit side by side), then
    migrates the lake; a new file lake with a single-file warehouse of an earlier version beside it
    (news.duckdb) imports it (import_legacy). A reader takes no lock and never waits: it reads the last
    committed snapshot. waiting, when given, is told in one line when the writer starts to wait.
    """
    if isinstance(where, WarehouseSettings):
        lock_wait_seconds = where.lock_wait_seconds
    lake = check(where, read_only, inspect=False, existing=existing)  # existing: a file lake must be there already
    con = new_connection(lake)
    try:
        if not read_only and lake.turn_file:
            _with_turn_wait(lake, lock_wait_seconds, lambda: con.execute(turn_statement(lake)), waiting)
        if lake.scheme == "duckdb" and not read_only:  # DuckDB's own lock on the catalog file
            _with_turn_wait(lake, lock_wait_seconds, lambda: con.execute(attach_statement(lake, read_only)), waiting)
        else:
            _attach(con, lake, read_only)
        stored = con.execute(SQL_LAKE_DATA_PATH).fetchone()
        problem = data_path_problem(lake, stored[0] if stored else None, read_only)
        if problem:
            raise WarehouseError(problem)
        con.execute(SQL_USE_LAKE)
        if not read_only and migrate(con) == 0 and import_legacy and lake.file:
            _import_legacy(con, lake.file)
    except WarehouseError:
        con.close()
        raise
    except duckdb.Error as exc:
        con.close()
        message = _first_line(exc)
        if "data_path is not set" in message:  # a new postgres lake named without a data path
            if lake.key == "--warehouse":  # the config's data_path is not used for another warehouse named so
                raise WarehouseError(f"--warehouse: {lake}: a new lake needs a folder or URL for its data files "
                                     "that every writer reaches, which --warehouse cannot give; make it with a "
                                     "config whose [warehouse] catalog names it and sets data_path") from None
            raise WarehouseError(f"[warehouse].data_path: {lake}: a new lake needs a folder or URL for its data "
                                 "files that every writer reaches; set [warehouse] data_path in the config") from None
        key = "[warehouse].data_path" if "DATA_PATH" in message else lake.key
        raise WarehouseError(f"{key}: {lake}: cannot open ({message})") from None
    return con


def _import_legacy(con: duckdb.DuckDBPyConnection, catalog: Path) -> None:
    """On a new lake's first connection: import news.duckdb from beside its catalog, if there is one."""
    from warehouse import upgrade  # it opens lakes with this module

    old = upgrade.legacy_file_beside(catalog)
    if old is not None:
        LOGGER.warning("warehouse: importing %s, the single-file warehouse of an earlier version", old)
        upgrade.import_file(con, old)


def open_warehouse(catalog: str | Path | None = None, read_only: bool = True,
                   config: str | Path | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection to the warehouse with the views reachable by their bare names (articles,
    stories, runs, ...). The catalog (or a plain path: a SQLite catalog) defaults to the config's;
    read-only unless asked, so it never waits for a run and a run never waits for it."""
    settings = load_settings(config).warehouse
    lake = lake_of(settings) if catalog is None else as_lake(catalog)
    return connect(lake, settings.lock_wait_seconds, read_only=read_only)


def wait_for_turn(where: Lake | WarehouseSettings | str | Path, lock_wait_seconds: float,
                  waiting: Callable[[str], None] | None = None) -> None:
    """Wait, changing nothing, while another local run holds the warehouse (waiting is told once when the
    wait begins); WarehouseBusy after the wait."""
    lake = as_lake(where)
    if lake.turn_file is None or not lake.turn_file.exists():
        return
    con = duckdb.connect()
    try:
        _with_turn_wait(lake, lock_wait_seconds, lambda: con.execute(turn_statement(lake)), waiting)
    finally:
        con.close()


def migrations() -> list[tuple[int, Path]]:
    """The numbered schema migrations shipped with the project, in order."""
    found = []
    for file in SQL_DIR.glob("*.sql"):
        match = _MIGRATION_NAME.match(file.name)
        if match:
            found.append((int(match.group(1)), file))
    return sorted(found)


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The lake's schema version (0: a new lake)."""
    if not con.execute(SQL_HAS_VERSION_TABLE).fetchone()[0]:
        return 0
    return con.execute(SQL_CURRENT_VERSION).fetchone()[0]


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Apply every migration newer than the lake's version, each in its own transaction (one snapshot
    each), and rebuild the views when views.sql changed; return the version the lake had (0: new).
    An up-to-date lake is only read."""
    current = found = retrying(con, lambda: schema_version(con))
    wanted = migrations()
    if current == 0:
        retrying(con, lambda: _in_transaction(con, lambda: con.execute(SQL_VERSION_TABLE)))
    for version, file in wanted:
        if version <= current:
            continue

        def apply(version: int = version, file: Path = file) -> None:
            if schema_version(con) < version:  # another writer may have applied it meanwhile
                con.execute(file.read_text(encoding="utf-8"))
                con.execute(SQL_RECORD_VERSION, [version, now()])

        retrying(con, lambda: _in_transaction(con, apply))
        current = version
        LOGGER.info("warehouse migrated to version %d", version)
    digest = hashlib.sha256(VIEWS_FILE.read_bytes()).hexdigest()

    def rebuild_views() -> None:
        if con.execute(SQL_VIEWS_DIGEST).fetchone()[0] != digest:
            con.execute(VIEWS_FILE.read_text(encoding="utf-8"))
            con.execute(SQL_CLEAR_VIEWS_DIGEST)
            con.execute(SQL_SET_VIEWS_DIGEST, [digest, now()])

    if con.execute(SQL_VIEWS_DIGEST).fetchone()[0] != digest:
        retrying(con, lambda: _in_transaction(con, rebuild_views))
    return found


def interrupt_behind(exc: BaseException) -> KeyboardInterrupt | None:
    """The Ctrl-C (or SIGTERM, raised as KeyboardInterrupt) that stopped a DuckDB query, if that is what exc is.

    DuckDB's Python client stops a query on KeyboardInterrupt and raises RuntimeError('Query interrupted')
    from it instead, which a run took for a failure (exit 1, tracebacks, status failed) rather than for the
    interrupt it is."""
    cause = exc.__cause__
    return cause if isinstance(exc, RuntimeError) and isinstance(cause, KeyboardInterrupt) else None


@contextmanager
def interrupts_kept() -> Iterator[None]:
    """Queries in this block (or function, as a decorator) stopped by Ctrl-C raise the KeyboardInterrupt itself."""
    try:
        yield
    except RuntimeError as exc:
        interrupt = interrupt_behind(exc)
        if interrupt is None:
            raise
        raise interrupt from None


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run a block in one transaction (one snapshot of the lake): all of it is stored, or none of it.
    A commit that loses to another writer's conflicting change raises WriteConflict."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    try:
        con.execute("COMMIT")
    except duckdb.Error as exc:
        if is_conflict(exc):
            _rollback_quietly(con)
            detail = next((line for line in str(exc).splitlines() if "conflict" in line.lower()), _first_line(exc))
            raise WriteConflict(f"warehouse: another writer committed first ({detail.strip()})") from None
        raise


def _rollback_quietly(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("ROLLBACK")
    except duckdb.Error:
        pass  # a failed commit has usually ended the transaction already


def _in_transaction(con: duckdb.DuckDBPyConnection, body: Callable[[], T]) -> T:
    with transaction(con):
        return body()


def is_conflict(exc: BaseException) -> bool:
    """A DuckLake commit lost to another writer's change to the same table (retrying can succeed)."""
    return isinstance(exc, WriteConflict) or (isinstance(exc, duckdb.TransactionException)
                                              and "conflict" in str(exc).lower())


def retrying(con: duckdb.DuckDBPyConnection, attempt: Callable[[], T], retries: int = CONFLICT_RETRIES) -> T:
    """attempt() again, a little later each time, while it loses to another writer's commit."""
    delay = 0.05
    for left in range(retries, -1, -1):
        try:
            return attempt()
        except (WriteConflict, duckdb.TransactionException) as exc:
            if not left or not is_conflict(exc):
                raise
            LOGGER.info("warehouse: another writer committed first; trying again")
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
    raise AssertionError("unreachable")


def _mark_pandas_absent() -> None:
    """Let the DuckDB client learn once, not once per value, that pandas is not installed.

    Without pandas, DuckDB's Python client tries to import it for every value it binds, and each failed
    import searches sys.path again: that was most of the time of a large insert. A None entry in
    sys.modules makes those imports fail at once, with the same ModuleNotFoundError as before.
    """
    if "pandas" not in sys.modules and importlib.util.find_spec("pandas") is None:
        sys.modules["pandas"] = None  # type: ignore[assignment]


_mark_pandas_absent()
