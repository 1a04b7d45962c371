"""Opening the warehouse: where the lake is, DuckLake loaded offline, the lake attached, runs taking turns,
migrations and views."""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

import duckdb

from config.settings import WarehouseSettings, catalog_location, load_settings

LOGGER = logging.getLogger(__name__)
SQL_DIR = Path(__file__).resolve().parent / "sql"
VIEWS_FILE = SQL_DIR / "views.sql"
LAKE = "news"  # the name the lake is attached under; its main schema holds the public views
_MIGRATION_NAME = re.compile(r"^(\d{3})_[\w-]+\.sql$")
_BUSY_MESSAGE = re.compile(r"lock|unique file handle conflict|already attached", re.IGNORECASE)
_PID = re.compile(r"PID (\d+)")
_SQLITE_MAGIC = b"SQLite format 3\x00"
_DUCKDB_MAGIC = b"DUCK"
# Each catalog needs DuckLake and the scanner of its database, loaded by file path from the pinned wheels.
_PACKAGES = {"ducklake": ("duckdb_extension_ducklake", "ducklake"),
             "sqlite": ("duckdb_extension_sqlite_scanner", "sqlite_scanner"),
             "postgres": ("duckdb_extension_postgres_scanner", "postgres_scanner")}
# DuckDB checks an extension's signature on every load: 0.2-0.4 s for each of these 35-MB files, on
# every connection. The files come from the pinned wheels next to DuckDB's own binary (the same trust),
# and only files found inside those packages are loaded, so the check is skipped.
_DUCKDB_CONFIG = {"allow_unsigned_extensions": "true", "autoinstall_known_extensions": "false"}
CONFLICT_RETRIES = 8
T = TypeVar("T")

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
SQL_USE_LAKE = "USE news"

# LOAD and ATTACH take no bound parameters: their one value each (a file path, a catalog) is written
# as a quoted literal by quoted() below, the only place where a value enters SQL text.
SQL_LOAD = "LOAD {}"
SQL_ATTACH = "ATTACH {} AS news (DATA_PATH {})"
SQL_ATTACH_READ = "ATTACH {} AS news (READ_ONLY)"
# A writer keeps a SQLite catalog in write-ahead-log mode (the mode stays in the file): a reader's open
# transaction then never blocks a run's commit. In the default rollback mode the commit waits for every
# reader and fails with "database is locked" after 5 s.
SQL_ATTACH_SQLITE = "ATTACH {} AS news (DATA_PATH {}, META_JOURNAL_MODE 'wal')"
# a file catalog's files are beside it wherever it is: a warehouse folder copied or moved keeps working
SQL_ATTACH_BESIDE = "ATTACH {} AS news (DATA_PATH {}, OVERRIDE_DATA_PATH true)"
SQL_ATTACH_BESIDE_SQLITE = "ATTACH {} AS news (DATA_PATH {}, OVERRIDE_DATA_PATH true, META_JOURNAL_MODE 'wal')"
SQL_ATTACH_BESIDE_READ = "ATTACH {} AS news (DATA_PATH {}, OVERRIDE_DATA_PATH true, READ_ONLY)"
SQL_ATTACH_TURN = "ATTACH {} AS newsdesk_turn"


class WarehouseError(RuntimeError):
    """The warehouse cannot be used; str() is a one-line reason."""


class WarehouseBusy(WarehouseError):
    """Another process holds the warehouse's run lock (a local run is writing)."""


class WriteConflict(WarehouseError):
    """Another writer committed a conflicting change first (shared catalogs); the write can be retried."""


def now() -> datetime:
    return datetime.now(timezone.utc)


def quoted(value: str) -> str:
    """A SQL string literal holding exactly value (for LOAD and ATTACH, which bind no parameters)."""
    if "\x00" in value:
        raise WarehouseError(f"warehouse: a NUL character in {value!r}")
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class Lake:
    """Where a warehouse lives: its catalog database and the folder (or URL) of its Parquet files."""

    scheme: str      # sqlite, postgres or duckdb
    target: str      # the catalog file (absolute) or the PostgreSQL connection string
    data_path: str = ""  # empty: the folder CATALOG.files beside a file catalog
    key: str = "[warehouse].catalog"  # where the location was given, named in error messages

    @property
    def uri(self) -> str:
        return f"ducklake:{self.scheme}:{self.target}"

    @property
    def file(self) -> Path | None:
        """The catalog file, for sqlite and duckdb catalogs."""
        return None if self.scheme == "postgres" else Path(self.target)

    @property
    def shared(self) -> bool:
        """Writers on several machines commit side by side (a PostgreSQL catalog); else runs take turns."""
        return self.scheme == "postgres"

    @property
    def turn_file(self) -> Path | None:
        """The lock file local runs take turns on (a duckdb catalog is locked by DuckDB itself)."""
        return self.file.with_name(self.file.name + ".lock") if self.scheme == "sqlite" else None

    @property
    def data_folder(self) -> str:
        """The data path given to DuckLake: the configured one, else the folder CATALOG.files beside a
        file catalog (an absolute path: DuckLake reads relative ones against the working folder)."""
        if self.data_path:
            return self.data_path if "://" in self.data_path else self.data_path.rstrip("/") + "/"
        return f"{self.file}.files/" if self.file else ""

    def data_dir(self) -> Path | None:
        """The local folder of the data files (None for object storage URLs)."""
        return None if "://" in self.data_folder or not self.data_folder else Path(self.data_folder)

    def __str__(self) -> str:
        return f"{self.scheme}:{self.target}"


def lake_of(settings: WarehouseSettings) -> Lake:
    """The lake the warehouse settings name."""
    scheme, target = settings.catalog.split(":", 1)
    return Lake(scheme, target, settings.data_path)


def as_lake(where: Lake | WarehouseSettings | str | Path, data_path: str = "") -> Lake:
    """A lake from settings, a catalog string (sqlite:PATH, postgres:CONNINFO, duckdb:PATH) or a plain file
    path, which means a SQLite catalog there with its data beside it."""
    if isinstance(where, Lake):
        return where
    if isinstance(where, WarehouseSettings):
        return lake_of(where)
    try:
        scheme, target = catalog_location(str(where), Path.cwd()).split(":", 1)
    except ValueError as exc:
        raise WarehouseError(f"warehouse {where}: {exc}") from None
    return Lake(scheme, target, data_path, key="--warehouse")


def _extension_file(name: str) -> str:
    package, stem = _PACKAGES[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise WarehouseError(f"warehouse: the {package} package is not installed (make install)")
    path = Path(next(iter(spec.submodule_search_locations))) / "extensions" / f"v{duckdb.__version__}" \
        / f"{stem}.duckdb_extension"
    if not path.is_file():
        raise WarehouseError(f"warehouse: {path} is missing; {package} must match duckdb {duckdb.__version__}")
    return str(path)


def load_statement(lake: Lake) -> str:
    """The SQL that loads DuckLake and the catalog's scanner from the pinned packages, by file path."""
    names = ["ducklake"] + ([lake.scheme] if lake.scheme in ("sqlite", "postgres") else [])
    return "; ".join(SQL_LOAD.format(quoted(_extension_file(name))) for name in names)


def attach_statement(lake: Lake, read_only: bool) -> str:
    """The SQL that attaches the lake as `news`: with the configured data path (one that differs from the
    lake's own is an error), or for a file catalog without one, the folder beside it."""
    if not lake.data_path and lake.file:
        attach = (SQL_ATTACH_BESIDE_READ if read_only else
                  SQL_ATTACH_BESIDE_SQLITE if lake.scheme == "sqlite" else SQL_ATTACH_BESIDE)
        return attach.format(quoted(lake.uri), quoted(lake.data_folder))
    if read_only:
        return SQL_ATTACH_READ.format(quoted(lake.uri))
    attach = SQL_ATTACH_SQLITE if lake.scheme == "sqlite" else SQL_ATTACH
    return attach.format(quoted(lake.uri), quoted(lake.data_folder))


def turn_statement(lake: Lake) -> str:
    """The SQL that takes the lake's run lock: DuckDB's own exclusive lock on a small file beside the
    catalog, held until the connection closes (a killed process lets go of it at once)."""
    return SQL_ATTACH_TURN.format(quoted(str(lake.turn_file)))


def new_connection(lake: Lake) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with DuckLake and the catalog's scanner loaded."""
    con = duckdb.connect(config=_DUCKDB_CONFIG)
    try:
        con.execute(load_statement(lake))
    except BaseException:
        con.close()
        raise
    return con


def _writable_folder(folder: Path) -> str | None:
    """Why files cannot be created in folder (or its nearest existing parent), or None when they can.
    Tried for real, as permissions alone mislead (root, /proc, read-only mounts)."""
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            return f"{folder} does not exist"
        probe = probe.parent
    if not probe.is_dir():
        return f"{probe} is not a folder"
    try:
        handle, name = tempfile.mkstemp(dir=probe, prefix=".newsdesk-probe-")
    except OSError as exc:
        return f"{probe} is not writable ({exc.strerror})"
    os.close(handle)
    os.unlink(name)
    return None


def _file_kind(path: Path) -> str | None:
    """'sqlite', 'duckdb', 'empty' or None (something else) for an existing catalog file."""
    try:
        with path.open("rb") as handle:
            header = handle.read(16)
    except OSError as exc:
        raise WarehouseError(f"warehouse {path}: unreadable ({exc.strerror})") from None
    if not header:
        return "empty"
    if header == _SQLITE_MAGIC:
        return "sqlite"
    return "duckdb" if header[8:12] == _DUCKDB_MAGIC else None


def check(where: Lake | WarehouseSettings | str | Path, read_only: bool = False, inspect: bool = True) -> Lake:
    """Refuse, with a one-line reason naming the key and without changing anything, a warehouse location
    that cannot be used: an unknown scheme, a catalog file that is not one, a folder that is not writable.

    inspect reads the first bytes of an existing catalog file: only before this process opens the
    lake, because closing any file handle on a SQLite file drops every lock the process holds on it
    (POSIX), those of its open SQLite connections included.
    """
    lake = as_lake(where)
    if lake.file:
        path = lake.file
        if path.exists():
            if not path.is_file():
                raise WarehouseError(f"{lake.key}: {lake}: not a file")
            kind = _file_kind(path) if inspect else lake.scheme
            if kind == "duckdb" and lake.scheme == "sqlite":
                raise WarehouseError(
                    f"{lake.key}: {path} is a single-file warehouse of an earlier version; move it into a lake "
                    f"with: python -m warehouse.upgrade {path} --warehouse NEW_CATALOG")
            if kind not in (lake.scheme, "empty"):
                raise WarehouseError(f"{lake.key}: {path} is not a {lake.scheme} database (nor empty)")
        elif read_only:
            raise WarehouseError(f"{lake.key}: no warehouse at {path} yet (a first run creates it)")
        elif not path.parent.is_dir():
            raise WarehouseError(f"{lake.key}: {lake}: folder {path.parent} does not exist")
        else:
            problem = _writable_folder(path.parent)
            if problem:
                raise WarehouseError(f"{lake.key}: {lake}: no catalog can be made there: {problem}")
        if not read_only and os.path.exists(path) and not os.access(path, os.W_OK):
            raise WarehouseError(f"{lake.key}: {path} is read-only")
    if not read_only:
        if lake.shared and not lake.data_path:
            raise WarehouseError("[warehouse].data_path: required with a postgres catalog")
        folder = lake.data_dir()
        problem = _writable_folder(folder) if folder else None
        if problem:
            raise WarehouseError(f"[warehouse].data_path: {folder}: {problem}")
    return lake


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _with_turn_wait(lake: Lake, lock_wait_seconds: float, step: Callable[[], None]) -> None:
    """Run step (which takes the lake's run lock), retrying while another process holds it."""
    deadline = time.monotonic() + lock_wait_seconds
    delay = 0.2
    while True:
        try:
            step()
            return
        except (duckdb.IOException, duckdb.BinderException) as exc:
            message = str(exc)
            if not _BUSY_MESSAGE.search(message):
                raise
            if time.monotonic() >= deadline:
                pid = _PID.search(message)
                holder = f" by process {pid.group(1)}" if pid else " by this process"
                raise WarehouseBusy(f"warehouse {lake} is in use{holder}; waited {lock_wait_seconds:g} s, "
                                    "try again later") from None
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def connect(where: Lake | WarehouseSettings | str | Path, lock_wait_seconds: float = 30.0,
            read_only: bool = False, import_legacy: bool = True) -> duckdb.DuckDBPyConnection:
    """Open the warehouse: DuckLake attached as `news` and in use (the views answer to their bare names).

    A writer (read_only=False) first takes the lake's run lock, waiting up to lock_wait_seconds for
    another local run (not with a shared PostgreSQL catalog, whose writers commit side by side), then
    migrates the lake; a new file lake with a single-file warehouse of an earlier version beside it
    (news.duckdb) imports it (import_legacy). A reader takes no lock and never waits: it reads the last
    committed snapshot.
    """
    if isinstance(where, WarehouseSettings):
        lock_wait_seconds = where.lock_wait_seconds
    lake = check(where, read_only, inspect=False)
    con = new_connection(lake)
    try:
        if not read_only and lake.turn_file:
            _with_turn_wait(lake, lock_wait_seconds, lambda: con.execute(turn_statement(lake)))
        if lake.scheme == "duckdb" and not read_only:  # DuckDB's own lock on the catalog file
            _with_turn_wait(lake, lock_wait_seconds, lambda: con.execute(attach_statement(lake, read_only)))
        else:
            con.execute(attach_statement(lake, read_only))
        con.execute(SQL_USE_LAKE)
        if not read_only and migrate(con) == 0 and import_legacy and lake.file:
            _import_legacy(con, lake.file)
    except WarehouseError:
        con.close()
        raise
    except duckdb.Error as exc:
        con.close()
        message = _first_line(exc)
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


def wait_for_turn(where: Lake | WarehouseSettings | str | Path, lock_wait_seconds: float) -> None:
    """Wait, changing nothing, while another local run holds the warehouse; WarehouseBusy after the wait."""
    lake = as_lake(where)
    if lake.turn_file is None or not lake.turn_file.exists():
        return
    con = duckdb.connect()
    try:
        _with_turn_wait(lake, lock_wait_seconds, lambda: con.execute(turn_statement(lake)))
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
