"""The reprocess flow: re-summarise and re-tag every stored article with the current config, no refetching."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

from flows import before_prefect

before_prefect()

from prefect import flow, get_run_logger  # noqa: E402
from prefect.runtime import flow_run  # noqa: E402
from prefect.states import Failed, State  # noqa: E402

from config.settings import ConfigError  # noqa: E402
from flows import cli, stages  # noqa: E402
from flows.runs import new_run_id, resolve_run, setup_failure  # noqa: E402
from flows.spread import Spread  # noqa: E402
from tasks.s3_fingerprint import fill_missing_facts  # noqa: E402
from tasks.versions import stage_versions  # noqa: E402
from tasks.records import RunCounts  # noqa: E402
from warehouse import connect, lake, read, write  # noqa: E402


def _run_name() -> str:
    """What the run does, as the UI's run list shows it: 'reprocess stored articles 2026-01-05 08:30'."""
    warehouse = (flow_run.parameters or {}).get("warehouse_path")
    where = f" in {Path(warehouse).name}" if warehouse else ""
    return f"reprocess stored articles{where} {datetime.now(timezone.utc):%Y-%m-%d %H:%M}"


@flow(name="reprocess", flow_run_name=_run_name, log_prints=False)
def reprocess(config_path: str | None = None, warehouse_path: str | None = None) -> str | State:
    """Re-summarise and re-tag all stored articles, and rewrite story summaries, in one transaction."""
    logger = get_run_logger()
    try:
        settings, taxonomy = resolve_run(config_path, warehouse_path=warehouse_path)
        con = connect.connect(settings.warehouse, existing=True, waiting=logger.warning)  # never a new, empty lake
    except (ConfigError, lake.WarehouseError) as exc:
        message = setup_failure(exc)
        logger.error("%s", message)
        return Failed(message=message)
    run_id = new_run_id(datetime.now(timezone.utc))
    try:
        write.begin_run(con, run_id, str(flow_run.id or ""), "stored articles", kind="reprocess",
                        exclusive=not lake.lake_of(settings.warehouse).shared)
        default_tags = {s.name: s.tags for s in settings.sources}
        articles = read.stored_articles(con, default_tags)
        filled = fill_missing_facts(articles)  # articles stored before dedup kept facts get them now
        spread = Spread.for_flow(settings.parallel)
        articles = spread.update(stages.summarise_task, articles, settings.summary, fields=stages.SUMMARY_FIELDS)
        articles = spread.update(stages.tag_task, articles, taxonomy, settings.tags, fields=stages.TAG_FIELDS)
        titles = read.story_titles(con, sorted({a.story_id for a in articles if a.story_id}))
        story_list = spread.stories(articles, [], settings.summary.story_sentences, titles)  # all members in articles
        versions = stage_versions(settings.dedup, settings.summary, settings.tags)
        write.write_reprocessed(con, run_id, articles, story_list, versions)
        message = (f"reprocess {run_id}: {len(articles)} articles re-summarised ({versions['summary']}) "
                   f"and re-tagged ({versions['tag']}), {len(story_list)} stories"
                   + (f", facts kept for {filled} articles stored without them" if filled else ""))
        logger.info("%s", message)
        return message
    except Exception as exc:
        interrupt = connect.interrupt_behind(exc)  # a query stopped by Ctrl-C: stopped, as ingest is, not failed
        if interrupt is not None:
            raise interrupt from None
        write.finish_run(con, run_id, "failed", RunCounts(), f"{exc.__class__.__name__}: {exc}"[:500])
        raise
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    """Run the reprocess flow once from the command line."""
    args = cli.parser("python -m flows.reprocess", __doc__).parse_args(argv)
    settings = cli.checked_settings(args, existing=True)
    if isinstance(settings, int):
        return settings
    return cli.run_once(reprocess, settings, config_path=args.config, warehouse_path=args.warehouse)


if __name__ == "__main__":
    sys.exit(main())
