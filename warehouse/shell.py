"""`make sql`: the DuckDB command line (duckdb-cli, the version of the extensions) with the warehouse
attached read-only as `news` and in use, so the views answer to their bare names."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from config.settings import ConfigError, load_settings, with_overrides
from flows.cli import Parser, print_error
from warehouse.connect import connect
from warehouse.lake import SQL_USE_LAKE, Lake, WarehouseError, attach_statement, check, load_statement


def startup_sql(lake: Lake) -> str:
    """What the command line runs first: load DuckLake offline, attach the lake read-only, use it."""
    return f"{load_statement(lake)}; {attach_statement(lake, read_only=True)}; {SQL_USE_LAKE};"


def duckdb_cli() -> str:
    """The duckdb executable installed beside this Python (the pinned duckdb-cli)."""
    found = shutil.which("duckdb", path=str(Path(sys.executable).parent))
    if not found:
        raise WarehouseError("the DuckDB command line is not installed (make install pins duckdb-cli)")
    return found


def main(argv: list[str] | None = None) -> int:
    """Start the DuckDB command line on the warehouse; arguments it does not know here go to duckdb
    (e.g. -c 'SELECT count(*) FROM articles' runs one query and exits)."""
    parser = Parser(prog="python -m warehouse.shell", description=__doc__)  # a bad option: one line, exit 2
    parser.add_argument("--config", help="pipeline config (default: config/pipeline.toml)")
    parser.add_argument("--warehouse", metavar="CATALOG", help="the warehouse (default from the config)")
    args, rest = parser.parse_known_args(argv)
    try:
        settings = with_overrides(load_settings(args.config), warehouse=args.warehouse)
        lake = check(settings.warehouse, read_only=True)
        if lake.scheme == "postgres":  # a server that does not answer is one line here, not the CLI's error
            connect(lake, read_only=True).close()
        init = startup_sql(lake)
        program = duckdb_cli()
    except (ConfigError, WarehouseError) as exc:
        print_error(exc)  # one `error: ` line per problem, as every command prints them
        return 2
    # -unsigned: the extension files are loaded by path from the pinned wheels (see connect.py)
    os.execv(program, [program, "-unsigned", "-cmd", init, *rest])
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
