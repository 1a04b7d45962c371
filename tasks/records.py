"""Plain data records passed between the pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class RawDocument:
    """One input as discovered: its bytes, where it came from and what the source said of it."""

    source: str
    locator: str
    content_hash: str
    raw: bytes
    media_type: str  # "text/plain", "text/markdown" or "text/html"
    url: str | None = None
    feed_title: str | None = None
    feed_published_at: datetime | None = None
    guid: str | None = None
    feed_content: str | None = None
    default_tags: tuple[str, ...] = ()
    site_name: str | None = None  # the feed's own title: the site's name when its page names none
    feed_author: str | None = None  # the entry's author as its feed names it: the byline when the text has none
    charset: str | None = None  # the encoding the server named for the bytes (Content-Type's charset)
    in_place_of: str | None = None  # why the feed's text is the input, not the page ("page fetch failed: http 404")


@dataclass
class CleanedArticle:
    """The readable article recovered from one input, with the metadata found in it."""

    title: str | None
    text: str
    dateline: str | None = None
    credit: str | None = None
    byline: str | None = None
    published_at: datetime | None = None
    language: str | None = None
    site_name: str | None = None
    canonical_url: str | None = None
    title_derived: bool = False
    feed_text_reason: str | None = None  # why the text is the feed entry's own: "page fetch failed: dns"


@dataclass(frozen=True)
class Reject:
    """An input the run could not use, with a one-line reason."""

    source: str
    locator: str
    reason: str
    content_hash: str | None = None


@dataclass(frozen=True)
class InputCopy:
    """An input whose bytes another input already has: one read earlier in this run (stored_by_run
    None), or one a past run stored or rejected. It gets no article of its own; it is recorded as a
    copy of that input, so every input has an outcome that can be found by its path."""

    source: str
    locator: str
    content_hash: str
    original: str                      # the locator of the input first read with these bytes
    stored_by_run: str | None = None   # the run that stored or rejected the original; None: this run
    original_rejected: bool = False    # the original was rejected (known for a past run's)


@dataclass(frozen=True)
class Tag:
    """An issue tag with its score and the terms that earned it."""

    issue: str
    score: float
    evidence: tuple[str, ...]


# the evidence of a tag a source gives every article of it ([[sources]] tags): not scored (score 0.0)
SOURCE_DEFAULT_EVIDENCE = ("source default",)


def given_by_source(evidence: tuple[str, ...] | list[str]) -> bool:
    """True for a tag's evidence that only says the source gives it (one article's, or several joined)."""
    return bool(evidence) and set(evidence) == set(SOURCE_DEFAULT_EVIDENCE)


@dataclass
class Article:
    """A cleaned input on its way into the warehouse, gathering each stage's result."""

    article_id: str
    doc: RawDocument
    cleaned: CleanedArticle
    word_count: int = 0
    text_hash: str = ""
    duplicate_of: str | None = None
    duplicate_kind: str | None = None
    similarity: float | None = None
    story_id: str | None = None
    minhash: bytes | None = None
    facts: frozenset[str] | None = None  # numbers, days, months and names, compared exactly by dedup
    story_terms: dict[str, float] = field(default_factory=dict)
    summary: list[str] = field(default_factory=list)
    tags: list[Tag] = field(default_factory=list)


@dataclass
class Story:
    """A story touched by a run: its articles (stored before and new) and its summary."""

    story_id: str
    title: str | None
    article_ids: list[str] = field(default_factory=list)
    new_article_ids: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    copy_ids: list[str] = field(default_factory=list)  # members that duplicate another (stored before or new)


@dataclass
class RunCounts:
    """What one run saw and did, stage by stage."""

    discovered: int = 0
    skipped: int = 0
    new_articles: int = 0
    duplicates: int = 0
    rejected: int = 0


@dataclass(frozen=True)
class KnownArticle:
    """What the warehouse remembers of a stored article, enough to match new ones against it."""

    article_id: str
    text_hash: str
    canonical_url: str | None
    minhash: bytes | None
    story_id: str | None
    story_terms: dict[str, float]
    seen_at: datetime
    duplicate_of: str | None
    facts: frozenset[str] | None = None  # None: stored before facts were kept (no fact check against it)
    word_count: int | None = None  # None: not known (no short-text rule against it)
    title: str | None = None
    source: str | None = None  # None: not known (nothing counts as its source's boilerplate)


@dataclass
class SourceState:
    """What the warehouse remembers of one feed source between polls."""

    source: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    validators_at: datetime | None = None
    body_hash: str | None = None
    last_status: str | None = None
    last_error: str | None = None
    last_success: datetime | None = None
    last_polled: datetime | None = None
    consecutive_failures: int = 0
    next_poll_at: datetime | None = None
    disabled: bool = False
    disabled_reason: str | None = None


@dataclass(frozen=True)
class KnownProbe:
    """What a batch can match among stored articles, so that only those need loading."""

    text_hashes: list[str]
    url_slugs: list[str]   # tasks.sources.urls.url_slug of each article URL
    signatures: list[bytes]
    min_equal: int         # stored signatures sharing fewer positions with each of these are not near copies
