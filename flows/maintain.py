"""The maintain flow: merge the lake's small files, expire old snapshots, delete files nothing needs (and old digests of quiet runs)."""

from __future__ import annotations

import dataclasses
import sys
from datetime import timedelta

from flows import before_prefect

before_prefect()

from prefect import flow, get_run_logger  # noqa: E402
from prefect.states import Failed, State  # noqa: E402

from config.settings import ConfigError, ParallelSettings  # noqa: E402
from flows import cli  # noqa: E402
from flows.runs import resolve_settings, setup_failure  # noqa: E402
from tasks.s8_report import remove_run_pages  # noqa: E402
from warehouse import connect, lake, read, upkeep  # noqa: E402


@flow(name="maintain", flow_run_name="maintain the warehouse", log_prints=False)
def maintain(config_path: str | None = None, warehouse_path: str | None = None) -> str | State:
    """Merge adjacent small files, expire snapshots older than [warehouse] keep_snapshots_days, and delete
    the data files no remaining snapshot needs (orphans of killed runs included), and the digest files of
    runs older than that which found nothing."""
    logger = get_run_logger()
    try:
        settings = resolve_settings(config_path, None, warehouse_path)
        file = lake.lake_of(settings.warehouse).file
        if warehouse_path is None and file is not None and not file.exists():  # before the first ingest
            nothing = f"no warehouse at {file} yet: nothing to maintain"
            logger.info("%s", nothing)
            return nothing
        con = connect.connect(settings.warehouse, existing=True, waiting=logger.warning)  # never a new, empty lake
    except (ConfigError, lake.WarehouseError) as exc:
        message = setup_failure(exc)
        logger.error("%s", message)
        return Failed(message=message)
    try:
        with connect.interrupts_kept():  # Ctrl-C during a merge: stopped (one line), not a failed run
            done = upkeep.maintain(con, settings.warehouse.keep_snapshots_days,
                                   exclusive=not lake.lake_of(settings.warehouse).shared)
            cutoff = connect.now() - timedelta(days=settings.warehouse.keep_snapshots_days)
            quiet = read.quiet_runs(con, cutoff)
    finally:
        con.close()
    # the digests of runs that found nothing, once past time travel's reach: a run every half hour wrote
    # 17,000 such pages a year (their rows stay in runs; a run that stored or rejected anything keeps its page)
    removed = remove_run_pages(settings.warehouse.reports_dir, quiet)
    summary = f"{done.summary()}; {removed} digest file(s) of quiet runs removed"
    logger.info("%s", summary)
    return summary


def main(argv: list[str] | None = None) -> int:
    """Run the maintain flow once from the command line."""
    args = cli.parser("python -m flows.maintain", __doc__).parse_args(argv)
    settings = cli.checked_settings(args, existing=True)
    if isinstance(settings, int):
        return settings
    # no CPU stages here: never start a Dask cluster for it, whatever [parallel] says
    return cli.run_once(maintain, dataclasses.replace(settings, parallel=ParallelSettings()), config_path=args.config,
                    warehouse_path=args.warehouse)


if __name__ == "__main__":
    sys.exit(main())
