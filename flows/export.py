"""Writes the public views for a range of days as Parquet or CSV files: `make export ARGS="--out DIR"`."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

import duckdb

from config.settings import ConfigError
from flows import cli
from flows.runs import resolve_settings
from warehouse import lake, queries

FORMATS = ("parquet", "csv")
LIST_SEPARATOR = "; "  # a CSV cell holds a list as its items joined by this


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = cli.parser("python -m flows.export", __doc__)
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="the folder to write the files to")
    parser.add_argument("--format", choices=FORMATS, default="parquet", help="parquet (default) or csv")
    parser.add_argument("--since", type=cli.day, metavar="YYYY-MM-DD", help="first day (publication, else ingestion)")
    parser.add_argument("--until", type=cli.day, metavar="YYYY-MM-DD", help="last day, included")
    return parser.parse_args(argv)


def for_csv(relation: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """The relation with each list column as text (items joined by LIST_SEPARATOR), as a spreadsheet
    wants a cell."""
    columns = [f"array_to_string(\"{name}\", '{LIST_SEPARATOR}') AS \"{name}\"" if str(kind).endswith("[]")
               else f'"{name}"' for name, kind in zip(relation.columns, relation.types)]
    return relation.project(", ".join(columns))


def write_files(con: duckdb.DuckDBPyConnection, out: Path, file_format: str, since: date | None,
                until: date | None) -> dict[str, int]:
    """Write one file per view into out; return the rows written per file name."""
    written = {}
    for name, relation in queries.export_views(con, since, until).items():
        path = out / f"{name}.{file_format}"
        if file_format == "csv":
            for_csv(relation).to_csv(str(path), header=True)
        else:
            relation.to_parquet(str(path))
        written[path.name] = len(relation)
    return written


def main(argv: list[str] | None = None) -> int:
    """Export; 0 done, 2 a bad config, warehouse, date range or output folder (one line on stderr)."""
    args = _arguments(argv)
    if args.since and args.until and args.since > args.until:
        return cli.fail(f"--since {args.since} is after --until {args.until}")
    try:
        settings = resolve_settings(args.config, warehouse_path=args.warehouse)
        con = cli.open_for_reading(settings)  # first: a warehouse that cannot be read leaves no folder behind
    except (ConfigError, lake.WarehouseError) as exc:
        return cli.fail(exc)
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        con.close()
        return cli.fail(f"{args.out}: cannot write there ({exc.strerror})")
    try:
        written = write_files(con, args.out, args.format, args.since, args.until)
    except duckdb.IOException as exc:
        return cli.fail(f"{args.out}: cannot write there ({str(exc).splitlines()[0]})")
    except duckdb.Error as exc:
        return cli.fail(f"warehouse {lake.lake_of(settings.warehouse)}: cannot read its views "
                        f"({str(exc).splitlines()[0]})")
    finally:
        con.close()
    span = f"{args.since or 'the first day'} to {args.until or 'the last'}"
    print(f"wrote {', '.join(f'{name} ({rows:,} rows)' for name, rows in written.items())} to {args.out}, {span}")
    return cli.EXIT_DONE


if __name__ == "__main__":
    sys.exit(main())
