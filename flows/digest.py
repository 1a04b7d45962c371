"""Prints (or opens) the latest HTML digest page: `make digest`."""

from __future__ import annotations

import sys
import webbrowser
from pathlib import Path

from config.settings import ConfigError
from flows import cli
from flows.runs import resolve_settings
from tasks.s8_report_html import LATEST_PAGE
from warehouse.lake import WarehouseError, check


def latest_page(reports_dir: Path) -> Path:
    """The latest run's page; FileNotFoundError with a one-line reason when no run wrote one yet."""
    page = reports_dir / LATEST_PAGE
    if not page.is_file():
        raise FileNotFoundError(f"no digest page yet: {page} does not exist (a run writes it: make run)")
    return page


def main(argv: list[str] | None = None) -> int:
    """Print the latest page's path; with --open, also open it in the default browser."""
    parser = cli.parser("python -m flows.digest", __doc__)
    parser.add_argument("--open", action="store_true", help="open the page in the default browser")
    args = parser.parse_args(argv)
    try:
        warehouse = resolve_settings(args.config, warehouse_path=args.warehouse).warehouse
        if args.warehouse:  # another warehouse's digests are beside it: it must be there
            check(warehouse, read_only=True)
        page = latest_page(warehouse.reports_dir)
    except (ConfigError, WarehouseError, FileNotFoundError) as exc:
        return cli.fail(exc)
    print(page)
    if args.open and not webbrowser.open(page.as_uri()):
        print(f"no browser to open it with here; open {page.as_uri()}", file=sys.stderr)
    return cli.EXIT_DONE


if __name__ == "__main__":
    sys.exit(main())
