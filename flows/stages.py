"""Thin Prefect task wrappers around the pipeline stages; each takes and returns a whole batch."""

from __future__ import annotations

import dataclasses
import functools
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb

from flows import before_prefect

before_prefect()

from prefect import get_run_logger, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402

from config.settings import CleanSettings, DedupSettings, Settings, SummarySettings, TagSettings  # noqa: E402
from flows import pool, progress  # noqa: E402
from tasks import s1_discover as discover  # noqa: E402
from tasks import s2_clean as clean  # noqa: E402
from tasks import s3_fingerprint as fingerprint  # noqa: E402
from tasks import s4_dedup as dedup  # noqa: E402
from tasks import s5_summarise as summarise  # noqa: E402
from tasks import s6_tag as tag  # noqa: E402
from tasks import s7_stories as stories  # noqa: E402
from tasks.records import Article, InputCopy, RawDocument, Reject, RunCounts, Story  # noqa: E402
from tasks.s8_report import RunDigest  # noqa: E402
from tasks.s8_report_chart import trend_from_counts  # noqa: E402
from tasks.s8_report_html import render_page, write_page  # noqa: E402
from tasks.sources import feeds  # noqa: E402
from tasks.sources.health import HealthPolicy, SourceState  # noqa: E402
from tasks.sources.http import HttpClient  # noqa: E402
from tasks.versions import stage_versions  # noqa: E402
from warehouse import connect, queries, read, write  # noqa: E402
from warehouse.lake import WriteConflict  # noqa: E402

PREPARED_FIELDS = ("word_count", "text_hash", "minhash", "facts", "story_terms")
SUMMARY_FIELDS = ("summary",)
TAG_FIELDS = ("tags",)


def without_raw(article: Article) -> Article:
    """A copy of an article for a worker process, without the input bytes the later stages never read."""
    return dataclasses.replace(article, doc=dataclasses.replace(article.doc, raw=b""))


@task(name="discover", cache_policy=NO_CACHE)
@connect.interrupts_kept()
def discover_task(con: duckdb.DuckDBPyConnection, settings: Settings) -> discover.Discovery:
    """List new inputs of the folder and file sources, skipping stored content."""
    with progress.stage("discover", "inputs") as bar:
        found = discover.discover_files(list(settings.sources), settings.discover,
                                        read.known_content_hashes(con), read.known_rejects(con),
                                        read.last_run_rejects(con))
        found.copies += read.copies_of_stored(con, found.known)
        bar.finish(found.discovered)
    logger = get_run_logger()
    logger.info("discover: %d found, %d seen before, %d new, %d copies, %d rejected", found.discovered,
                found.skipped, len(found.documents), len(found.copies), len(found.rejects))
    if line := found.passed_over_line(settings.discover.extensions):
        logger.info("discover: %s", line)
    for reject in found.missing:  # which source and why, in the run's log (the UI's Logs tab), as for feeds
        logger.warning("source %s: %s: %s", reject.source, reject.locator, reject.reason)
    return found


@task(name="poll feeds", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 10])
@connect.interrupts_kept()
def feeds_task(con: duckdb.DuckDBPyConnection, settings: Settings, poll_now: bool = False) -> feeds.FeedPoll:
    """Poll the due feed sources (all of them with poll_now) and fetch their new entries' pages;
    failures go to source health."""
    sources = [s for s in settings.sources if s.kind == "feed" and s.enabled]
    if not sources:
        return feeds.FeedPoll()
    states = read.load_source_states(con, sources)
    urls, guids = read.known_urls_and_guids(con)
    policy = HealthPolicy(base_interval_minutes=settings.feeds.min_poll_interval_minutes,
                          max_backoff_hours=settings.feeds.max_backoff_hours,
                          disable_after=settings.feeds.disable_after)
    with HttpClient(settings.http) as client, progress.stage("poll feeds", "feeds", len(sources)):
        poll = feeds.poll_feeds(sources, states, client, datetime.now(timezone.utc), urls, guids,
                                validator_max_age_days=settings.feeds.validator_max_age_days, policy=policy,
                                poll_now=poll_now, known_rejects=read.known_rejects(con))
    known = read.known_content_hashes(con)
    fresh = [d for d in poll.documents if d.content_hash not in known]
    poll.copies += read.copies_of_stored(con, [(d.source, d.locator, d.content_hash) for d in poll.documents
                                               if d.content_hash in known])
    poll.skipped += len(poll.documents) - len(fresh)
    poll.documents = fresh
    logger = get_run_logger()
    logger.info("poll feeds: %d polled, %d not due, %d entries seen, %d new pages, %d rejected, %d failing",
                len(poll.states), len(poll.not_polled), poll.entries_seen, len(fresh), len(poll.rejects),
                len(poll.problems))
    # which feed failed and why, in the run's log (the UI's Logs tab), not only on the serving process's console
    for source, _, detail in poll.problems:
        logger.warning("feed %s failed: %s", source, detail)
    for state in poll.states:
        before = states.get(state.source)
        if state.disabled and not (before and before.disabled):
            logger.warning("feed source %s disabled: %s", state.source, state.disabled_reason)
    return poll


def merge_cleaned(parts: list[tuple[list[Article], list[Reject]]]) -> tuple[list[Article], list[Reject]]:
    """The articles and rejects of clean_task's parts, in order."""
    return [a for articles, _ in parts for a in articles], [r for _, rejects in parts for r in rejects]


@task(name="clean", cache_policy=NO_CACHE)
def clean_task(docs: list[RawDocument], settings: CleanSettings, workers: int = 1) -> tuple[list[Article], list[Reject]]:
    """Clean a batch of inputs into articles; unusable inputs come back as rejects."""
    with progress.stage("clean", "inputs", len(docs)) as bar:
        mapper = functools.partial(pool.map_chunks, workers=workers, progress=bar.advance)
        cleaned, rejects = clean.clean_documents(docs, settings, mapper)
    articles = [Article(article_id=doc.content_hash[:16], doc=doc, cleaned=c) for doc, c in cleaned]
    get_run_logger().info("clean: %d articles, %d rejected", len(articles), len(rejects))
    return articles, rejects


@task(name="fingerprint", cache_policy=NO_CACHE)
def fingerprint_task(articles: list[Article], settings: DedupSettings, workers: int = 1) -> list[Article]:
    """Word counts, text hashes, MinHash signatures and story term vectors for a batch."""
    with progress.stage("fingerprint", "articles", len(articles)) as bar:
        pool.update_in_place(fingerprint.prepare, articles, settings, fields=PREPARED_FIELDS, send=without_raw,
                             workers=workers, progress=bar.advance)
    get_run_logger().info("fingerprint: %d articles", len(articles))
    return articles


@task(name="dedup", cache_policy=NO_CACHE)
@connect.interrupts_kept()
def dedup_task(con: duckdb.DuckDBPyConnection, articles: list[Article], settings: DedupSettings) -> list[Article]:
    """Mark exact and near duplicates and assign stories, against the warehouse and the batch
    (the articles carry their fingerprints)."""
    now = datetime.now(timezone.utc)
    if not articles:
        get_run_logger().info("dedup: no new articles to check")
        return articles
    with progress.stage("dedup", "articles", len(articles)):
        known = read.load_known_articles(con, now - timedelta(days=settings.story_window_days),
                                         dedup.known_probe(articles, settings))
        dedup.assign(articles, known, settings, now)
    dups = sum(1 for a in articles if a.duplicate_of)
    get_run_logger().info("dedup: %d articles checked against %d stored candidates, %d duplicates", len(articles),
                          len(known), dups)
    return articles


@task(name="summarise", cache_policy=NO_CACHE)
def summarise_task(articles: list[Article], settings: SummarySettings, workers: int = 1) -> list[Article]:
    """Write each article's extractive summary."""
    with progress.stage("summarise", "articles", len(articles)) as bar:
        pool.update_in_place(summarise.summarise_articles, articles, settings, fields=SUMMARY_FIELDS,
                             send=without_raw, workers=workers, progress=bar.advance)
    get_run_logger().info("summarise: %d articles (%s, %d sentences)", len(articles), settings.algorithm,
                          settings.sentences)
    return articles


@task(name="tag", cache_policy=NO_CACHE)
def tag_task(articles: list[Article], taxonomy: tag.Taxonomy, settings: TagSettings, workers: int = 1) -> list[Article]:
    """Tag each article with the issues of the taxonomy it matches, with evidence."""
    with progress.stage("tag", "articles", len(articles)) as bar:
        pool.update_in_place(tag.tag_articles, articles, taxonomy, settings, fields=TAG_FIELDS, send=without_raw,
                             workers=workers, progress=bar.advance)
    get_run_logger().info("tag: %d tags on %d articles", sum(len(a.tags) for a in articles), len(articles))
    return articles


@task(name="story members", cache_policy=NO_CACHE)
@connect.interrupts_kept()
def story_members_task(con: duckdb.DuckDBPyConnection, articles: list[Article]) -> tuple[list[tuple], dict[str, str]]:
    """The stored articles of the stories the batch joined, and those stories' current titles."""
    return stored_story_context(con, articles)


def stored_story_context(con: duckdb.DuckDBPyConnection, articles: list[Article]) -> tuple[list[tuple], dict[str, str]]:
    """The stored members and current titles of the stories the articles belong to."""
    story_ids = sorted({a.story_id for a in articles if a.story_id})
    return read.story_members(con, story_ids), read.story_titles(con, story_ids)


@task(name="stories", cache_policy=NO_CACHE)
def stories_task(articles: list[Article], members: list[tuple], story_sentences: int, workers: int = 1,
                 titles: dict[str, str] | None = None) -> list[Story]:
    """Gather the stories the batch joined and summarise each across its articles and stored members."""
    calls = story_calls(articles, members, story_sentences, workers, titles=titles)
    with progress.stage("stories", "stories", len({a.story_id for a in articles if a.story_id})) as bar:
        parts = pool.starmap(stories.build_stories, calls, workers, done=lambda part: bar.advance(len(part)))
    result = [story for part in parts for story in part]
    get_run_logger().info("stories: %d touched", len(result))
    return result


def story_calls(articles: list[Article], members: list[tuple], story_sentences: int, workers: int,
                min_items: int = pool.MIN_ITEMS, titles: dict[str, str] | None = None) -> list[tuple]:
    """build_stories arguments for consecutive groups of the batch's stories (in order of first
    appearance), each with all of its stories' articles and stored members, so the parts add up to
    the stories of the whole batch in the same order."""
    titles = titles or {}
    order = list(dict.fromkeys(a.story_id for a in articles if a.story_id))
    groups = pool.chunked(order, workers)
    if workers < 2 or len(groups) < 2 or len(order) < min_items:
        return [(articles, members, story_sentences, titles)]
    group_of = {story_id: i for i, group in enumerate(groups) for story_id in group}
    calls: list[tuple[list[Article], list[tuple], int, dict[str, str]]] = [
        ([], [], story_sentences, {s: titles[s] for s in group if s in titles}) for group in groups]
    for article in articles:
        if article.story_id:
            calls[group_of[article.story_id]][0].append(without_raw(article))
    for row in members:
        calls[group_of[row[0]]][1].append(row)
    return calls


STORE_ATTEMPTS = 12


@dataclass
class Stored:
    """What a run stored: the same as it brought to the store, unless another writer stored some of it first."""

    articles: list[Article]
    rejects: list[Reject]
    stories: list[Story]
    counts: RunCounts
    snapshot_id: int
    copies: list[InputCopy] = dataclasses.field(default_factory=list)


@task(name="store", cache_policy=NO_CACHE)
@connect.interrupts_kept()
def store_task(con: duckdb.DuckDBPyConnection, run_id: str, articles: list[Article], rejects: list[Reject],
               story_list: list[Story], counts: RunCounts, settings: Settings,
               source_states: list[SourceState], checked_at: int | None = None,
               copies: list[InputCopy] | None = None) -> Stored:
    """Write the whole run in one transaction (one snapshot).

    checked_at is the snapshot the batch was checked against (read before discovery). With a shared
    catalog another writer may have committed since, or commit first: then nothing of this run is
    stored yet, and the batch is checked again against what is stored now (inputs stored meanwhile are
    dropped as already stored; the rest are deduplicated again and their stories rebuilt) before the
    next try. With a local catalog runs take turns, so the first try stores.
    """
    configured = {s.name: s.url for s in settings.sources if s.kind == "feed" and s.url}
    versions = stage_versions(settings.dedup, settings.summary, settings.tags)
    for attempt in range(1, STORE_ATTEMPTS + 1):
        try:
            with progress.stage("store", "articles", len(articles)):
                snapshot = write.write_run(con, run_id, articles, rejects, story_list, counts, source_states,
                                           configured, versions, checked_snapshot=checked_at, copies=copies)
            break
        except WriteConflict:
            if attempt == STORE_ATTEMPTS:
                raise
            time.sleep(random.uniform(0, 0.05 * attempt))  # two losers do not collide again in step
            checked_at = read.current_snapshot(con)
            articles, rejects, story_list, counts, copies = recheck(con, articles, rejects, counts, settings,
                                                                    copies or [])
            get_run_logger().info("store: another writer committed first; %d articles left after checking again",
                                  len(articles))
    get_run_logger().info("store: %d articles, %d rejects, %d stories written (snapshot %d)", len(articles),
                          len(rejects), len(story_list), snapshot)
    return Stored(articles, rejects, story_list, counts, snapshot, list(copies or []))


def outcome_counts(articles: list[Article], rejects: list[Reject], copies: Sequence[InputCopy]) -> dict[str, int]:
    """new_articles, duplicates and rejected of a batch. A copy of an input read in this run counts as a
    duplicate, or as a reject when those bytes were rejected; a copy of bytes stored before, not here."""
    rejected_bytes = {r.content_hash for r in rejects if r.content_hash}
    this_run = [c for c in copies if c.stored_by_run is None]
    copies_rejected = sum(1 for c in this_run if c.content_hash in rejected_bytes)
    return {"new_articles": sum(1 for a in articles if not a.duplicate_of),
            "duplicates": sum(1 for a in articles if a.duplicate_of) + len(this_run) - copies_rejected,
            "rejected": len(rejects) + copies_rejected}


def recheck(con: duckdb.DuckDBPyConnection, articles: list[Article], rejects: list[Reject], counts: RunCounts,
            settings: Settings, copies: Sequence[InputCopy] = ()
            ) -> tuple[list[Article], list[Reject], list[Story], RunCounts, list[InputCopy]]:
    """A batch checked again against the warehouse as it is now: inputs another writer stored meanwhile
    are dropped and recorded as copies of what it stored (already stored, as discovery records them when
    it finds them stored), the others deduplicated again and their stories rebuilt."""
    known = read.known_content_hashes(con)
    kept = [a for a in articles if a.doc.content_hash not in known]
    kept_rejects = [r for r in rejects if not r.content_hash or r.content_hash not in known]
    # copies of this run's inputs whose bytes the other writer stored: copies of its input now
    stale = [c for c in copies if c.stored_by_run is None and c.content_hash in known]
    now_stored = [*((a.doc.source, a.doc.locator, a.doc.content_hash) for a in articles
                    if a.doc.content_hash in known),
                  *((r.source, r.locator, r.content_hash) for r in rejects if r.content_hash in known),
                  *((c.source, c.locator, c.content_hash) for c in stale)]
    copies = [c for c in copies if c not in stale] + read.copies_of_stored(con, now_stored)
    now = datetime.now(timezone.utc)
    if kept:
        stored = read.load_known_articles(con, now - timedelta(days=settings.dedup.story_window_days),
                                          dedup.known_probe(kept, settings.dedup))
        dedup.assign(kept, stored, settings.dedup, now)
    members, titles = stored_story_context(con, kept)
    story_list = stories.build_stories(kept, members, settings.summary.story_sentences, titles) if kept else []
    dropped = len(articles) - len(kept) + len(rejects) - len(kept_rejects) + len(stale)
    counts = dataclasses.replace(counts, skipped=counts.skipped + dropped,
                                 **outcome_counts(kept, kept_rejects, copies))
    return kept, kept_rejects, story_list, counts, copies


@task(name="report page", cache_policy=NO_CACHE)
@connect.interrupts_kept()
def page_task(con: duckdb.DuckDBPyConnection, digest: RunDigest, settings: Settings) -> Path:
    """Write the run's HTML digest page, with the issue trend of the last days read from the warehouse."""
    now = datetime.now(timezone.utc)
    days = settings.report.trend_days
    rows = queries.issue_days(con, now.date() - timedelta(days=days - 1), now.date())
    trend = trend_from_counts(rows, now.date(), days, settings.report.trend_issues)
    path = write_page(render_page(digest, trend, now), settings.warehouse.reports_dir, digest.run_id,
                      latest=digest.found_something)
    get_run_logger().info("report page: %s (%d issues in the trend)", path, len(trend.series))
    return path
