"""Writes the public views for a range of days as Parquet or CSV files: `make export ARGS="--out DIR"`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb

from config.settings import ConfigError
from flows import cli
from flows.runs import resolve_settings
from warehouse import lake, queries


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = cli.parser("python -m flows.export", __doc__)
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="the folder to write the files to")
    parser.add_argument("--format", choices=queries.EXPORT_FORMATS, default="parquet", help="parquet (default) or csv")
    parser.add_argument("--since", type=cli.day, metavar="YYYY-MM-DD", help="first day (publication, else ingestion)")
    parser.add_argument("--until", type=cli.day, metavar="YYYY-MM-DD", help="last day, included")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Export; 0 done, 2 a bad config, warehouse, date range or output folder (one line on stderr)."""
    args = _arguments(argv)
    if args.since and args.until and args.since > args.until:
        return cli.fail(f"--since {args.since} is after --until {args.until}")
    try:
        settings = resolve_settings(args.config, warehouse_path=args.warehouse)
        args.out.mkdir(parents=True, exist_ok=True)
        con = cli.open_for_reading(settings)
    except OSError as exc:
        return cli.fail(f"{args.out}: cannot write there ({exc.strerror})")
    except (ConfigError, lake.WarehouseError) as exc:
        return cli.fail(exc)
    try:
        written = queries.export_files(con, args.out, args.format, args.since, args.until)
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
