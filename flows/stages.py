"""Thin Prefect task wrappers around the pipeline stages; each takes and returns a whole batch."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import duckdb
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from config.settings import CleanSettings, DedupSettings, Settings, SummarySettings, TagSettings
from tasks import clean, dedup, discover, feeds, stories, summarise, tag
from tasks.health import HealthPolicy, SourceState
from tasks.http import HttpClient
from tasks.versions import stage_versions
from tasks.models import Article, RawDocument, Reject, RunCounts, Story
from warehouse import store


@task(name="discover", cache_policy=NO_CACHE)
def discover_task(con: duckdb.DuckDBPyConnection, settings: Settings) -> discover.Discovery:
    """List new inputs of the folder and file sources, skipping stored content."""
    found = discover.discover_files(list(settings.sources), settings.discover,
                                    store.known_content_hashes(con), store.known_rejects(con))
    get_run_logger().info("discover: %d found, %d already stored, %d new, %d rejected",
                          found.discovered, found.skipped, len(found.documents), len(found.rejects))
    return found


@task(name="poll feeds", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 10])
def feeds_task(con: duckdb.DuckDBPyConnection, settings: Settings) -> feeds.FeedPoll:
    """Poll the due feed sources and fetch their new entries' pages; failures go to source health."""
    sources = [s for s in settings.sources if s.kind == "feed" and s.enabled]
    if not sources:
        return feeds.FeedPoll()
    states = store.load_source_states(con, sources)
    urls, guids = store.known_urls_and_guids(con)
    policy = HealthPolicy(base_interval_minutes=settings.feeds.min_poll_interval_minutes,
                          max_backoff_hours=settings.feeds.max_backoff_hours,
                          disable_after=settings.feeds.disable_after)
    with HttpClient(settings.http) as client:
        poll = feeds.poll_feeds(sources, states, client, datetime.now(timezone.utc), urls, guids,
                                validator_max_age_days=settings.feeds.validator_max_age_days, policy=policy)
    known = store.known_content_hashes(con)
    fresh = [d for d in poll.documents if d.content_hash not in known]
    poll.skipped = len(poll.documents) - len(fresh)
    poll.documents = fresh
    get_run_logger().info("poll feeds: %d polled, %d entries seen, %d new pages, %d rejected, %d failing",
                          len(poll.states), poll.entries_seen, len(fresh), len(poll.rejects), len(poll.problems))
    return poll


@task(name="clean", cache_policy=NO_CACHE)
def clean_task(docs: list[RawDocument], settings: CleanSettings) -> tuple[list[Article], list[Reject]]:
    """Clean a batch of inputs into articles; unusable inputs come back as rejects."""
    cleaned, rejects = clean.clean_documents(docs, settings)
    for _, c in cleaned:  # a page's own canonical link or og:url may carry tracking parameters
        if c.canonical_url:
            c.canonical_url = feeds.canonical_url(c.canonical_url)
    articles = [Article(article_id=doc.content_hash[:16], doc=doc, cleaned=c) for doc, c in cleaned]
    get_run_logger().info("clean: %d articles, %d rejected", len(articles), len(rejects))
    return articles, rejects


@task(name="dedup", cache_policy=NO_CACHE)
def dedup_task(con: duckdb.DuckDBPyConnection, articles: list[Article], settings: DedupSettings) -> list[Article]:
    """Mark exact and near duplicates and assign stories, against the warehouse and the batch."""
    now = datetime.now(timezone.utc)
    dedup.prepare(articles, settings)
    known = store.load_known_articles(con, now - timedelta(days=settings.story_window_days))
    dedup.assign(articles, known, settings, now)
    dups = sum(1 for a in articles if a.duplicate_of)
    get_run_logger().info("dedup: %d articles checked against %d stored, %d duplicates", len(articles),
                          len(known), dups)
    return articles


@task(name="summarise", cache_policy=NO_CACHE)
def summarise_task(articles: list[Article], settings: SummarySettings) -> list[Article]:
    """Write each article's extractive summary."""
    summarise.summarise_articles(articles, settings)
    get_run_logger().info("summarise: %d articles (%s, %d sentences)", len(articles), settings.algorithm,
                          settings.sentences)
    return articles


@task(name="tag", cache_policy=NO_CACHE)
def tag_task(articles: list[Article], taxonomy: tag.Taxonomy, settings: TagSettings) -> list[Article]:
    """Tag each article with the issues of the taxonomy it matches, with evidence."""
    tag.tag_articles(articles, taxonomy, settings)
    get_run_logger().info("tag: %d tags on %d articles", sum(len(a.tags) for a in articles), len(articles))
    return articles


@task(name="stories", cache_policy=NO_CACHE)
def stories_task(con: duckdb.DuckDBPyConnection, articles: list[Article], story_sentences: int) -> list[Story]:
    """Gather the stories the batch joined and summarise each across its articles."""
    ids = sorted({a.story_id for a in articles if a.story_id})
    result = stories.build_stories(articles, store.story_members(con, ids), story_sentences)
    get_run_logger().info("stories: %d touched", len(result))
    return result


@task(name="store", cache_policy=NO_CACHE)
def store_task(con: duckdb.DuckDBPyConnection, run_id: str, articles: list[Article], rejects: list[Reject],
               story_list: list[Story], counts: RunCounts, settings: Settings,
               source_states: list[SourceState]) -> None:
    """Write the whole run in one transaction."""
    configured = {s.name: s.url for s in settings.sources if s.kind == "feed" and s.url}
    versions = stage_versions(settings.dedup, settings.summary, settings.tags)
    store.write_run(con, run_id, articles, rejects, story_list, counts, source_states, configured, versions)
    get_run_logger().info("store: %d articles, %d rejects, %d stories written", len(articles), len(rejects),
                          len(story_list))
