"""The ingest flow (discover, clean, dedup, summarise, tag, store, report) and its command line."""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID

from flows import before_prefect

before_prefect()

from prefect import flow, get_run_logger  # noqa: E402
from prefect.client.orchestration import get_client  # noqa: E402
from prefect.client.schemas.filters import (  # noqa: E402
    FlowRunFilter,
    FlowRunFilterDeploymentId,
    FlowRunFilterExpectedStartTime,
    FlowRunFilterId,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType  # noqa: E402
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact  # noqa: E402
from prefect.runtime import deployment, flow_run  # noqa: E402
from prefect.utilities.annotations import quote  # noqa: E402
from prefect.states import Cancelled, Failed, State  # noqa: E402

from config.settings import ConfigError, with_overrides  # noqa: E402
from flows import cli, stages  # noqa: E402
from flows.runs import new_run_id, resolve_run, setup_failure  # noqa: E402
from flows.spread import Spread  # noqa: E402
from tasks import s1_discover as discover  # noqa: E402
from tasks.records import Article, InputCopy, Reject, RunCounts  # noqa: E402
from tasks.s8_report import (RunDigest, SourceProblem, fit_for_ui, render_digest, summary_line,  # noqa: E402
                             write_digest)
from tasks.sources.feeds import FeedPoll  # noqa: E402
from warehouse import connect, lake, read, write  # noqa: E402

if TYPE_CHECKING:
    import duckdb

    from config.settings import WarehouseSettings

DIGEST_ARTIFACT_KEY = "ingest-digest"
STORIES_ARTIFACT_KEY = "ingest-stories"
PAGE_ARTIFACT_KEY = "ingest-page"
MAX_ARTIFACT_CHARS = 200_000  # the Prefect API refuses a digest artifact of ~2 MB (a 2,000-article run)
MAX_TABLE_ROWS = 1_000


def _run_name() -> str:
    """ingest <sources> <time, UTC>: a deployment's run is named by the time it was scheduled for (the
    runner starts it a moment early), a one-off run by when it started."""
    params = flow_run.parameters or {}
    what = ", ".join(Path(s).name or s for s in params.get("sources") or []) or "configured sources"
    when = (flow_run.scheduled_start_time if deployment.id else None) or datetime.now(timezone.utc)
    return f"ingest {what} {when.astimezone(timezone.utc):%Y-%m-%d %H:%M}"


def superseded_reason(max_lateness_minutes: float) -> str | None:
    """Why this scheduled run, gone late, should be skipped (a newer run is due), or None to run it."""
    if not deployment.id:
        return None
    scheduled = flow_run.scheduled_start_time
    now = datetime.now(timezone.utc)
    late_minutes = (now - scheduled).total_seconds() / 60
    if late_minutes <= max_lateness_minutes:
        return None
    with get_client(sync_client=True) as client:
        newer = client.read_flow_runs(limit=1, flow_run_filter=FlowRunFilter(
            id=FlowRunFilterId(not_any_=[UUID(str(flow_run.id))]),
            deployment_id=FlowRunFilterDeploymentId(any_=[UUID(str(deployment.id))]),
            expected_start_time=FlowRunFilterExpectedStartTime(after_=scheduled + timedelta(seconds=1), before_=now),
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[
                StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING, StateType.COMPLETED]))))
    if not newer:
        return None
    return (f"skipped: started {late_minutes:.0f} min after its scheduled time "
            f"(limit {max_lateness_minutes:g}) and a newer run is due")


def run_counts(found: discover.Discovery, poll: FeedPoll, articles: list[Article], rejects: list[Reject],
               copies: list[InputCopy]) -> RunCounts:
    """What the run saw and did (a copy of bytes stored before counts as already stored; for the rest see
    stages.outcome_counts)."""
    # feed entries seen but not fetched (their URL or guid is stored) count as already stored
    fetched = len(poll.documents) + poll.skipped + len(poll.rejects) + sum(
        1 for c in poll.copies if c.stored_by_run is None)
    return RunCounts(discovered=found.discovered + poll.entries_seen,
                     skipped=found.skipped + poll.skipped + max(0, poll.entries_seen - fetched),
                     **stages.outcome_counts(articles, rejects, copies))


def source_problems(poll: FeedPoll) -> list[SourceProblem]:
    """Failing and disabled sources, for the top of the digest."""
    problems = [SourceProblem(source, status, detail) for source, status, detail in poll.problems]
    named = {p.source for p in problems}
    problems += [SourceProblem(st.source, "disabled", st.disabled_reason or "")
                 for st in poll.states if st.disabled and st.source not in named]
    return problems


def _publish(digest: RunDigest, markdown: str, path: Path | None, page: Path | None = None) -> None:
    """Publish the digest, a one-row-per-story table (both cut to a size the UI can show: the digest
    file and the warehouse views hold everything) and a link to the HTML page, with stable keys."""
    if page:
        create_link_artifact(key=PAGE_ARTIFACT_KEY, link=page.as_uri(), link_text=str(page),
                             description=f"The HTML digest page of run {digest.run_id}, a file on the machine "
                                         "that ran it. Browsers do not follow a file:// link from a web page: copy "
                                         "the path into the address bar there, or run make digest ARGS=--open")
    whole_at = f"the whole digest is in {path}" if path else "the whole digest is in the flow run's return value"
    create_markdown_artifact(key=DIGEST_ARTIFACT_KEY, markdown=fit_for_ui(markdown, MAX_ARTIFACT_CHARS, whole_at),
                             description=summary_line(digest))
    # largest first, as the digest orders them (and so the rows a cut leaves out are the smallest)
    ordered = sorted(digest.stories, key=lambda s: (-len(s.article_ids), s.title or "", s.story_id))
    rows = [{"title": s.title or "", "articles": len(s.article_ids), "sources": ", ".join(s.sources),
             "tags": ", ".join(s.tags[:5]), "story_id": s.story_id} for s in ordered[:MAX_TABLE_ROWS]]
    shown = f"the first {MAX_TABLE_ROWS:,} of {len(digest.stories):,}" if len(digest.stories) > MAX_TABLE_ROWS \
        else "the"
    create_table_artifact(key=STORIES_ARTIFACT_KEY, table=rows or [{"title": "(no new stories)", "articles": 0,
                                                                    "sources": "", "tags": "", "story_id": ""}],
                          description=f"{shown.capitalize()} stories touched by run {digest.run_id} "
                                      "(all of them: the stories view)")


def _open_warehouse(warehouse: WarehouseSettings, dry_run: bool, cleanup: contextlib.ExitStack,
                    waiting: Callable[[str], None]) -> duckdb.DuckDBPyConnection:
    """The run's warehouse connection, closed when cleanup unwinds. A dry run on a warehouse not made yet
    (nothing stored to compare with, and nothing to be made) runs on a scratch lake, deleted then too."""
    if dry_run and lake.not_made_yet(warehouse):
        scratch = tempfile.mkdtemp(prefix="newsdesk-dry-run-")
        cleanup.callback(shutil.rmtree, scratch, ignore_errors=True)
        con = connect.connect(f"sqlite:{Path(scratch) / 'catalog.sqlite'}")
    else:
        con = connect.connect(warehouse, waiting=waiting)
    cleanup.callback(con.close)
    return con


@flow(name="ingest", flow_run_name=_run_name, log_prints=False)
def ingest(sources: list[str] | None = None, config_path: str | None = None,
           warehouse_path: str | None = None, dry_run: bool = False,
           allow_private_hosts: bool | None = None) -> str | State:
    """Ingest the configured sources (or the given ones) into the warehouse and publish a digest."""
    logger = get_run_logger()
    with contextlib.ExitStack() as cleanup:  # the connection closed, a dry run's scratch lake deleted
        try:
            configured, taxonomy = resolve_run(config_path, None, warehouse_path, allow_private_hosts)
            settings = with_overrides(configured, sources=sources)  # a bad --source is said before the warehouse opens
            if not dry_run:  # the digest is written after the commit: its folder is checked before
                lake.check_reports(settings.warehouse)
            con = _open_warehouse(settings.warehouse, dry_run, cleanup, logger.warning)
            if sources:  # a feed named by the URL a permanent redirect moved it to is its configured source
                settings = with_overrides(configured, sources=sources, moved_feeds=read.moved_feeds(con))
        except (ConfigError, lake.WarehouseError) as exc:
            message = setup_failure(exc)
            logger.error("%s", message)
            return Failed(message=message)
        skip = superseded_reason(settings.schedule.max_lateness_minutes)
        if skip:
            logger.warning("%s", skip)
            return Cancelled(message=skip)
        started = datetime.now(timezone.utc)
        run_id = new_run_id(started)
        counts = RunCounts()
        committed = False  # once the run's rows are stored, its row in runs says so, whatever fails after
        try:
            source_names = [s.name for s in settings.sources if s.enabled]
            abandoned = [] if dry_run else write.begin_run(con, run_id, str(flow_run.id or ""),
                                                           ", ".join(source_names),
                                                           exclusive=not lake.lake_of(settings.warehouse).shared)
            checked_at = None if dry_run else read.current_snapshot(con)  # what the batch is checked against
            spread = Spread.for_flow(settings.parallel)
            logger.info("CPU stages: %s",
                        f"chunk tasks on the Dask cluster (~{spread.workers} workers)" if spread.cluster
                        else f"{spread.workers} worker process{'es' if spread.workers > 1 else ''} on this machine")
            found = stages.discover_task(con, settings)
            poll = stages.feeds_task(con, settings, poll_now=bool(sources))  # sources named by a person: poll now
            documents, copies = discover.split_copies(found.documents + poll.documents)
            copies = found.copies + poll.copies + copies
            articles, clean_rejects = stages.merge_cleaned(
                spread.run(stages.clean_task, documents, settings.clean))
            articles = spread.update(stages.fingerprint_task, articles, settings.dedup, fields=stages.PREPARED_FIELDS)
            if articles:  # nothing new (a re-run): no task runs for the stages that would get nothing
                articles = stages.dedup_task(con, quote(articles), settings.dedup)
            articles = spread.update(stages.summarise_task, articles, settings.summary, fields=stages.SUMMARY_FIELDS)
            articles = spread.update(stages.tag_task, articles, taxonomy, settings.tags, fields=stages.TAG_FIELDS)
            members, titles = stages.story_members_task(con, quote(articles)) if articles else ([], {})
            story_list = spread.stories(articles, members, settings.summary.story_sentences, titles)
            rejects = found.rejects + poll.rejects + clean_rejects
            counts = run_counts(found, poll, articles, rejects, copies)
            if not dry_run:
                stored = stages.store_task(con, run_id, quote(articles), quote(rejects), quote(story_list), counts,
                                           settings, quote(poll.states), checked_at, quote(copies))
                articles, rejects, story_list, counts = stored.articles, stored.rejects, stored.stories, stored.counts
                copies = stored.copies
                committed = True
            in_run = {a.article_id for a in articles}
            stored_titles = read.article_titles(con, [a.duplicate_of for a in articles
                                                      if a.duplicate_of and a.duplicate_of not in in_run])
            digest = RunDigest(run_id=run_id, started_at=started, counts=counts, sources=source_names,
                               articles=articles, stories=story_list, rejects=rejects, abandoned_runs=abandoned,
                               dry_run=dry_run, source_problems=source_problems(poll),
                               skipped_sources=[SourceProblem(name, "skipped", why) for name, why in poll.not_polled],
                               copies=copies, stored_titles=stored_titles, said_before=found.said_before,
                               source_folders={s.name: str(s.path) for s in settings.sources
                                               if s.kind == "folder" and s.path})
            markdown = render_digest(digest)
            path = write_digest(markdown, settings.warehouse.reports_dir, run_id) if not dry_run else None
            page = stages.page_task(con, quote(digest), settings) if not dry_run else None
            _publish(digest, markdown, path, page)
            logger.info("%s%s", summary_line(digest), f"; digest at {path} and {page}" if path else "")
            return markdown
        except Exception as exc:
            interrupt = connect.interrupt_behind(exc)  # Ctrl-C during a query of the flow's own: stopped, not failed
            if interrupt is not None:
                raise interrupt from None
            message = f"{exc.__class__.__name__}: {' '.join(str(exc).split())}"[:500]
            if not (dry_run or committed):
                write.finish_run(con, run_id, "failed", counts, message)
            raise


def main(argv: list[str] | None = None) -> int:
    """Run the ingest flow once from the command line; print the digest; return the exit code."""
    parser = cli.parser("python -m flows.ingest", __doc__)
    parser.add_argument("--source", action="append", metavar="PATH_OR_URL",
                        help="a folder, file or feed URL, or a configured source's name, to read instead of the "
                             "configured sources (repeatable)")
    parser.add_argument("--dry-run", action="store_true", help="do everything but store")
    parser.add_argument("--allow-private-hosts", action="store_true", default=None,
                        help="allow feeds and pages on loopback or private addresses")
    args = parser.parse_args(argv)
    settings = cli.checked_settings(args, args.source, args.allow_private_hosts, dry_run=args.dry_run,
                                    reports=not args.dry_run)
    if isinstance(settings, int):
        return settings
    return cli.run_once(ingest, settings, sources=args.source, config_path=args.config, warehouse_path=args.warehouse,
                        dry_run=args.dry_run, allow_private_hosts=args.allow_private_hosts)


if __name__ == "__main__":
    sys.exit(main())
