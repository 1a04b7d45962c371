"""Where the warehouse lives: a lake's catalog and data path, checked before use, and the SQL that loads
DuckLake offline and attaches the lake. Imports no DuckDB, so `make sql` starts quickly."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shlex
import tempfile
from dataclasses import dataclass
from pathlib import Path

from config.settings import WarehouseSettings, catalog_location

LAKE = "news"  # the name the lake is attached under; its main schema holds the public views
_SQLITE_MAGIC = b"SQLite format 3\x00"
_DUCKDB_MAGIC = b"DUCK"
# Each catalog needs DuckLake and the scanner of its database, loaded by file path from the pinned wheels.
_PACKAGES = {"ducklake": ("duckdb_extension_ducklake", "ducklake"),
             "sqlite": ("duckdb_extension_sqlite_scanner", "sqlite_scanner"),
             "postgres": ("duckdb_extension_postgres_scanner", "postgres_scanner")}

SQL_USE_LAKE = "USE news"

# LOAD and ATTACH take no bound parameters: their one value each (a file path, a catalog) is written
# as a quoted literal by quoted() below, the only place where a value enters SQL text.
SQL_LOAD = "LOAD {}"
SQL_ATTACH = "ATTACH {} AS news (DATA_PATH {})"
SQL_ATTACH_READ = "ATTACH {} AS news (READ_ONLY)"
SQL_ATTACH_STORED = "ATTACH {} AS news"  # the data path the lake keeps (a new lake needs one given)
# A writer keeps a SQLite catalog in write-ahead-log mode (the mode stays in the file): a reader's open
# transaction then never blocks a run's commit. In the default rollback mode the commit waits for every
# reader and fails with "database is locked" after 5 s.
SQL_ATTACH_SQLITE = "ATTACH {} AS news (DATA_PATH {}, META_JOURNAL_MODE 'wal')"
# a file catalog's files are beside it wherever it is: a warehouse folder copied or moved keeps working
SQL_ATTACH_BESIDE = "ATTACH {} AS news (DATA_PATH {}, OVERRIDE_DATA_PATH true)"
SQL_ATTACH_BESIDE_SQLITE = ("ATTACH {} AS news (DATA_PATH {}, OVERRIDE_DATA_PATH true, "
                            "META_JOURNAL_MODE 'wal')")
SQL_ATTACH_BESIDE_READ = "ATTACH {} AS news (DATA_PATH {}, OVERRIDE_DATA_PATH true, READ_ONLY)"
SQL_ATTACH_TURN = "ATTACH {} AS newsdesk_turn"
# what a DuckDB file holds, looked at read-only (duckdb_file_holds)
SQL_ATTACH_PROBE = "ATTACH {} AS probe (READ_ONLY)"
SQL_PROBE_TABLES = "SELECT table_name FROM duckdb_tables() WHERE database_name = 'probe'"
# the data path a lake keeps, set when it was made: in a SQLite catalog file, and in an attached lake's catalog
SQL_STORED_DATA_PATH = "SELECT value FROM ducklake_metadata WHERE key = 'data_path'"
SQL_LAKE_DATA_PATH = "SELECT value FROM __ducklake_metadata_news.ducklake_metadata WHERE key = 'data_path'"


class WarehouseError(RuntimeError):
    """The warehouse cannot be used; str() is a one-line reason."""


class WarehouseBusy(WarehouseError):
    """Another process holds the warehouse's run lock (a local run is writing)."""


class WriteConflict(WarehouseError):
    """Another writer committed a conflicting change first (shared catalogs); the write can be retried."""


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
        return self.files_beside or ""

    @property
    def files_beside(self) -> str | None:
        """The folder CATALOG.files beside a file catalog, where its data files are when no data path is given."""
        return f"{self.file}.files/" if self.file else None

    def data_dir(self) -> Path | None:
        """The local folder of the data files (None for object storage URLs)."""
        return None if "://" in self.data_folder or not self.data_folder else Path(self.data_folder)

    def __str__(self) -> str:
        return f"{self.scheme}:{self.target}"


def lake_of(settings: WarehouseSettings) -> Lake:
    """The lake the warehouse settings name."""
    scheme, target = settings.catalog.split(":", 1)
    return Lake(scheme, target, settings.data_path, key=settings.named_by)


def not_made_yet(settings: WarehouseSettings) -> bool:
    """True for a file lake whose catalog does not exist yet (the first run makes it)."""
    file = lake_of(settings).file
    return file is not None and not file.exists()


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
    return Lake(scheme, target, data_path, key="catalog")  # given in code (open_warehouse's catalog), not a config


def _extension_file(name: str) -> str:
    package, stem = _PACKAGES[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise WarehouseError(f"warehouse: the {package} package is not installed (make install)")
    version = importlib.metadata.version("duckdb")  # not duckdb.__version__: importing duckdb costs 0.2 s
    folder = Path(next(iter(spec.submodule_search_locations))) / "extensions" / f"v{version}"
    path = folder / f"{stem}.duckdb_extension"
    if not path.is_file():
        raise WarehouseError(f"warehouse: {path} is missing; {package} must match duckdb {version}")
    return str(path)


def load_statement(lake: Lake) -> str:
    """The SQL that loads DuckLake and the catalog's scanner from the pinned packages, by file path."""
    names = ["ducklake"] + ([lake.scheme] if lake.scheme in ("sqlite", "postgres") else [])
    return "; ".join(SQL_LOAD.format(quoted(_extension_file(name))) for name in names)


def attach_statement(lake: Lake, read_only: bool) -> str:
    """The SQL that attaches the lake as `news`: with the configured data path (one that differs from the
    lake's own is an error), or for a file catalog without one, the folder beside it; a postgres catalog
    without one uses the path the lake keeps (a new lake cannot be made so: connect says which key)."""
    if not lake.data_path and lake.file:
        attach = (SQL_ATTACH_BESIDE_READ if read_only else
                  SQL_ATTACH_BESIDE_SQLITE if lake.scheme == "sqlite" else SQL_ATTACH_BESIDE)
        return attach.format(quoted(lake.uri), quoted(lake.data_folder))
    if read_only:
        return SQL_ATTACH_READ.format(quoted(lake.uri))
    if not lake.data_path:  # a postgres catalog named without one (--warehouse): the path it keeps
        return SQL_ATTACH_STORED.format(quoted(lake.uri))
    attach = SQL_ATTACH_SQLITE if lake.scheme == "sqlite" else SQL_ATTACH
    return attach.format(quoted(lake.uri), quoted(lake.data_folder))


def turn_statement(lake: Lake) -> str:
    """The SQL that takes the lake's run lock: DuckDB's own exclusive lock on a small file beside the
    catalog, held until the connection closes (a killed process lets go of it at once)."""
    return SQL_ATTACH_TURN.format(quoted(str(lake.turn_file)))


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


def data_path_problem(lake: Lake, stored: str | None, read_only: bool) -> str | None:
    """Why the lake's data files would not be found where these settings look for them, given the data path
    the lake keeps (stored, set when it was made), or None. A writer given another data_path is refused (the
    lake's is fixed); a file catalog given none reads its files beside it (a warehouse folder moved keeps
    working), unless they are not there but in the folder the lake keeps: then every run and reader would
    fail on a missing Parquet file."""
    if not stored or "://" in stored:
        return None
    kept = stored.rstrip("/") + "/"
    if lake.data_path:
        if read_only or "://" in lake.data_folder or kept == lake.data_folder:
            return None  # a reader reads the lake's own data path
        said = (f"[warehouse].data_path: {lake.data_folder}: the lake {lake} keeps its data files in {kept} "
                "(set when it was made)")
        if Path(kept).is_dir():
            return f"{said}; set data_path to that"
        if lake.files_beside:  # moved: a file catalog finds its files beside it when no data_path is given
            return (f"{said}, which does not exist; a moved lake reads its data files beside its catalog: move them "
                    f"to {lake.files_beside} and leave data_path empty")
        return f"{said}, which does not exist; a lake's data path cannot change: put its data files back there"
    beside = lake.data_dir()
    if beside is None or kept == lake.data_folder or not Path(kept).is_dir():
        return None
    if beside.is_dir() and any(p.suffix == ".parquet" for p in beside.rglob("*")):
        return None  # the files are beside the catalog (the folder was moved): they are used
    if lake.key != "[warehouse].catalog":  # named on the command line (--warehouse) or in code: no data path given
        return (f"{lake.key}: {lake}: its data files are in {kept}, not beside it in {beside}; name it with a "
                f"config whose [warehouse] data_path is that")
    return (f"[warehouse].data_path: empty, so the data files of {lake} are looked for beside it in {beside}, but "
            f"the lake keeps them in {kept}; set data_path to that")


def _stored_data_path(path: Path) -> str | None:
    """The data path a SQLite catalog file keeps (None when it cannot be read: the lake's own open says why)."""
    import sqlite3

    try:
        con = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        try:
            row = con.execute(SQL_STORED_DATA_PATH).fetchone()
        finally:
            con.close()
    except sqlite3.Error:
        return None
    return row[0] if row else None


def check_reports(settings: WarehouseSettings) -> None:
    """Refuse, with a one-line reason and before a run changes anything, a reports_dir where the run's
    digest cannot be written (it is written after the run's rows are committed)."""
    problem = _writable_folder(settings.reports_dir)
    if problem:
        # the folder is named once: "/x is not writable", or "/x: /proc is not writable" for a parent
        named = "" if problem.startswith(f"{settings.reports_dir} ") else f"{settings.reports_dir}: "
        raise WarehouseError(f"[warehouse].reports_dir: {named}{problem}")


def duckdb_file_holds(path: Path) -> str:
    """What a DuckDB file holds: 'lake catalog' (DuckLake's tables), 'warehouse' (a single-file warehouse of
    an earlier version: its schema_version table) or 'other'. WarehouseError when it cannot be opened to
    look (not a DuckDB file, or a writer holds it). The file is only read."""
    import duckdb

    try:
        con = duckdb.connect()
        try:
            con.execute(SQL_ATTACH_PROBE.format(quoted(str(path))))
            tables = {name for (name,) in con.execute(SQL_PROBE_TABLES).fetchall()}
        finally:
            con.close()
    except duckdb.Error as exc:
        raise WarehouseError(f"{path}: cannot open as a DuckDB warehouse ({str(exc).splitlines()[0]})") from None
    if "ducklake_metadata" in tables:
        return "lake catalog"
    return "warehouse" if "schema_version" in tables else "other"


def _lake_catalog(path: Path) -> bool:
    """True when the DuckDB file is known to be a lake's catalog (False when it cannot be told)."""
    try:
        return duckdb_file_holds(path) == "lake catalog"
    except WarehouseError:
        return False


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


def check(where: Lake | WarehouseSettings | str | Path, read_only: bool = False, inspect: bool = True,
          existing: bool = False) -> Lake:
    """Refuse, with a one-line reason naming the key and without changing anything, a warehouse location
    that cannot be used: an unknown scheme, a catalog file that is not one, a folder that is not writable,
    and a catalog file that does not exist yet when reading or when asked for an existing one (commands
    that work on what is stored: a mistyped path must not become a new, empty lake).

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
            if kind == "duckdb" and lake.scheme == "sqlite" and _lake_catalog(path):
                raise WarehouseError(f"{lake.key}: {path} is the DuckDB catalog of a lake (a plain path means a "
                                     f"SQLite one): name it duckdb:{path}")
            if kind == "duckdb" and lake.scheme == "sqlite":
                raise WarehouseError(
                    f"{lake.key}: {path} is a single-file warehouse of an earlier version; move it into a lake "
                    f"with: python -m warehouse.upgrade {path} --warehouse NEW_CATALOG")
            if kind not in (lake.scheme, "empty"):
                raise WarehouseError(f"{lake.key}: {path} is not a {lake.scheme} database (nor empty)")
            # only while this process has not opened the lake (inspect): closing Python's own SQLite handle would
            # drop the locks DuckDB's SQLite holds on it; connect asks the attached lake instead
            problem = data_path_problem(lake, _stored_data_path(path), read_only) if inspect and kind == "sqlite" else None
            if problem:
                raise WarehouseError(problem)
        elif read_only or existing:
            raise WarehouseError(f"{lake.key}: no warehouse at {path} yet (a first run creates it)")
        elif not path.parent.is_dir():
            # not made here: a mistyped folder would hold a new, empty warehouse the next command cannot find
            raise WarehouseError(f"{lake.key}: {lake}: folder {path.parent} does not exist (make it first, "
                                 f"mkdir -p {shlex.quote(str(path.parent))}, or correct the path)")
        else:
            problem = _writable_folder(path.parent)
            if problem:
                raise WarehouseError(f"{lake.key}: {lake}: no catalog can be made there: {problem}")
        if not read_only and os.path.exists(path) and not os.access(path, os.W_OK):
            raise WarehouseError(f"{lake.key}: {path} is read-only")
        if not read_only and lake.scheme == "sqlite" and path.exists():  # its write-ahead log goes beside it
            problem = _writable_folder(path.parent)
            if problem:
                raise WarehouseError(f"{lake.key}: {lake}: cannot write beside the catalog: {problem}")
    if not read_only:
        folder = lake.data_dir()
        problem = _writable_folder(folder) if folder else None
        if problem:
            raise WarehouseError(f"[warehouse].data_path: {folder}: {problem}")
    return lake
