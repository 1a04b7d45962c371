"""Moving a single-file warehouse of an earlier version (news.duckdb) into the lake: every row, run history
included, in one snapshot. `python -m warehouse.upgrade OLD.duckdb [--warehouse CATALOG]`."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import duckdb

from config.settings import ConfigError, load_settings, with_overrides
from flows.cli import Parser, print_error
from warehouse.connect import connect, retrying, transaction
from warehouse.lake import WarehouseError, duckdb_file_holds, quoted
from warehouse.write import index_runs

LOGGER = logging.getLogger(__name__)
LEGACY_NAME = "news.duckdb"  # the single file earlier versions kept in warehouse/
LEGACY_VERSION = 4           # the schema version the last single-file release migrated every file to

SQL_ATTACH_OLD = "ATTACH {} AS old (READ_ONLY)"
SQL_DETACH_OLD = "DETACH old"
SQL_OLD_VERSION = "SELECT coalesce(max(version), 0) FROM old.main.schema_version"
SQL_LAKE_ROWS = "SELECT (SELECT count(*) FROM store.runs) + (SELECT count(*) FROM store.articles)"
SQL_COMMIT_MESSAGE = "CALL news.set_commit_message('newsdesk', ?, extra_info => ?)"
# BY NAME: the lake's tables have every column the file's have, and more (runs.snapshot_id, host, pid)
SQL_COPY = """
INSERT INTO store.runs BY NAME SELECT * FROM old.store.runs;
INSERT INTO store.raw_inputs BY NAME SELECT * FROM old.store.raw_inputs;
INSERT INTO store.articles BY NAME SELECT * FROM old.store.articles;
INSERT INTO store.article_tags BY NAME SELECT * FROM old.store.article_tags;
INSERT INTO store.stories BY NAME SELECT * FROM old.store.stories;
INSERT INTO store.rejects BY NAME SELECT * FROM old.store.rejects;
INSERT INTO store.source_state BY NAME SELECT * FROM old.store.source_state;
INSERT INTO store.signature_values BY NAME SELECT * FROM old.store.signature_values;
"""
SQL_IMPORTED_RUNS = "SELECT coalesce(list(DISTINCT run_id), []) FROM store.articles"
SQL_OLD_COUNTS = """
SELECT (SELECT count(*) FROM old.store.runs), (SELECT count(*) FROM old.store.articles),
       (SELECT count(*) FROM old.store.rejects)
"""


def import_file(con: duckdb.DuckDBPyConnection, old: Path) -> tuple[int, int, int]:
    """Copy every row of a single-file warehouse into the (empty) lake `con` has open, in one transaction;
    return the runs, articles and rejects copied. The file is only read."""
    old = Path(old).resolve()
    try:  # the file first: a file that is no warehouse is said so whatever the lake holds
        con.execute(SQL_ATTACH_OLD.format(quoted(str(old))))
    except duckdb.Error as exc:
        raise WarehouseError(f"{old}: cannot open as a DuckDB warehouse ({str(exc).splitlines()[0]})") from None
    try:
        try:
            version = con.execute(SQL_OLD_VERSION).fetchone()[0]
        except duckdb.CatalogException:
            raise WarehouseError(f"{old}: a DuckDB file, but not a newsdesk warehouse (no schema_version table)") \
                from None
        if version != LEGACY_VERSION:
            raise WarehouseError(f"{old}: schema version {version}, expected {LEGACY_VERSION}; run it once with "
                                 "the release that wrote it to bring it up to date")
        if retrying(con, lambda: con.execute(SQL_LAKE_ROWS).fetchone()[0]):
            raise WarehouseError(f"warehouse: the lake already holds runs or articles; import {old} into a new one")
        counts = con.execute(SQL_OLD_COUNTS).fetchone()
        with transaction(con):
            con.execute(SQL_COMMIT_MESSAGE, [f"imported {old}", json.dumps({"imported_from": str(old)})])
            con.execute(SQL_COPY)
            index_runs(con, con.execute(SQL_IMPORTED_RUNS).fetchone()[0])  # the file had no search index
    except duckdb.Error as exc:
        raise WarehouseError(f"{old}: import failed ({str(exc).splitlines()[0]})") from None
    finally:
        con.execute(SQL_DETACH_OLD)
    LOGGER.info("imported %s: %d runs, %d articles, %d rejects", old, *counts)
    return counts


def legacy_file_beside(catalog: Path) -> Path | None:
    """A single-file warehouse of an earlier version in the catalog's folder (warehouse/news.duckdb)."""
    old = catalog.parent / LEGACY_NAME
    try:
        with old.open("rb") as handle:
            return old if handle.read(12)[8:12] == b"DUCK" else None
    except OSError:
        return None


def main(argv: list[str] | None = None) -> int:
    """Import OLD into the configured (or given) warehouse, which must not hold runs yet."""
    parser = Parser(prog="python -m warehouse.upgrade", description=__doc__)  # a bad option: one line, exit 2
    parser.add_argument("old", nargs="?", default=None, metavar="OLD.duckdb",
                        help="the single-file warehouse (default: news.duckdb beside the catalog)")
    parser.add_argument("--config", help="pipeline config (default: config/pipeline.toml)")
    parser.add_argument("--warehouse", metavar="CATALOG", help="the lake to import into (default from the config)")
    args = parser.parse_args(argv)
    try:
        settings = with_overrides(load_settings(args.config), warehouse=args.warehouse).warehouse
        catalog = settings.catalog.split(":", 1)[1]
        old = Path(args.old) if args.old else legacy_file_beside(Path(catalog))
        if old is None or not old.is_file():
            raise WarehouseError(f"no single-file warehouse at {old or Path(catalog).parent / LEGACY_NAME}")
        holds = duckdb_file_holds(old)  # before the lake is made: a wrong file leaves nothing behind
        if holds == "lake catalog":
            raise WarehouseError(f"{old}: the DuckDB catalog of a lake, not a single-file warehouse of an earlier "
                                 f"version (name it duckdb:{old} to use it)")
        if holds == "other":
            raise WarehouseError(f"{old}: a DuckDB file, but not a newsdesk warehouse (no schema_version table)")
        con = connect(settings, import_legacy=False)
        try:
            runs, articles, rejects = import_file(con, old)
        finally:
            con.close()
    except (ConfigError, WarehouseError) as exc:
        print_error(exc)  # one `error: ` line per problem, as every command prints them
        return 2
    print(f"imported {old} into {settings.catalog}: {runs} runs, {articles} articles, {rejects} rejects")
    return 0


if __name__ == "__main__":
    sys.exit(main())
