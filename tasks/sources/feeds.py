"""Reads feeds: parses RSS, Atom and JSON Feed, canonicalises links, and polls a batch of feed sources."""

from __future__ import annotations

import dataclasses
import html
import io
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import feedparser

from config.settings import SourceSettings
from tasks.sources.health import (POLICY_REFUSALS, HealthPolicy, SourceState, is_due, not_due_reason,
                                  record_failure, record_success)
from tasks.sources.http import HTML_ACCEPT, FetchError, FetchResult, HttpClient, content_charset
from tasks.records import InputCopy, RawDocument, Reject
from tasks.sources.urls import absolute_url, canonical_link, canonical_url, guid_key, link_scheme
from tasks.text.hashing import page_hash, sha256_hex
from tasks.text.header import parse_zoned_date, plausible_date
from tasks.text.normalise import fragment_text, html_line, one_line, word_count

LOGGER = logging.getLogger(__name__)

MIN_FEED_CONTENT_WORDS = 50  # feed text long enough to stand in for a page that cannot be fetched
# The end of the reason of a page that failed in a way that may pass (a timeout, a 5xx): its feed is read
# again at the next poll and the page fetched again; any other rejected entry is not fetched again.
RETRY_NOTE = "fetched again at the next poll"
REFUSED_PAGE = "page fetch failed: refused address"
# A page's media types; also feedparser's type of a text construct whose value is HTML markup (an Atom
# type="html" or "xhtml" title, an RSS title it found escaped markup in), not text: 'she&#8217;s', '<i>The Pitt</i>'
HTML_TYPES = ("text/html", "application/xhtml+xml")
FEED_HEADERS = ("content-type", "content-language")  # the response headers feedparser may use
ENTITY_DECLARATION = re.compile(rb"<!ENTITY\b[^>]*>")
DOCTYPE_WITH_SUBSET = re.compile(rb"<!DOCTYPE\b[^\[>]*(?:\[.*?\]\s*)?>", re.DOTALL | re.IGNORECASE)
HTML_START = re.compile(rb"^(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)\b",
                        re.IGNORECASE | re.DOTALL)
UNDECLARED_RSS_PREFIX = re.compile(rb"<(/?)rss:")
DECLARED_WIDE_ENCODING = re.compile(rb"^((?:\xef\xbb\xbf)?\s*<\?xml[^>]*?encoding\s*=\s*[\"'])(utf-?(?:16|32)[^\"']*)",
                                    re.IGNORECASE)
WIDE_CHARSET = re.compile(r";\s*charset\s*=\s*[\"']?utf-?(?:16|32)[^;]*", re.IGNORECASE)
ENTITY = re.compile(r"&(?:#[0-9]+|#x[0-9a-f]+|[a-z][a-z0-9]*);", re.IGNORECASE)
# An HTML entity that XML does not define ('&colon;', '&rsquo;'): in a feed that uses it undeclared (malformed),
# feedparser's fallback parser leaves the ones it does not know as they are written, 'Re&colon; Double-entry'
HTML_ONLY_ENTITY = re.compile(r"&(?!(?:amp|lt|gt|quot|apos);)[a-z][a-z0-9]*;", re.IGNORECASE)
EMAIL_ONLY = re.compile(r"<?[^\s@<>]+@[^\s@<>]+>?")
LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # text that cannot be stored or encoded as UTF-8


class FeedParseError(ValueError):
    """A feed body that yields no usable entries; kind is "parse error" or "empty"."""

    def __init__(self, message: str, kind: str = "parse error") -> None:
        super().__init__(one_line(message))
        self.kind = kind


@dataclass(frozen=True)
class FeedEntry:
    """One feed item as the feed describes it (url canonical, dates aware UTC, never invented)."""

    guid: str | None
    url: str | None
    title: str | None
    published_at: datetime | None
    content: str | None
    author: str | None
    refused_scheme: str | None = None  # the scheme of a link given but not followed (not http(s)), e.g. "file"


@dataclass(frozen=True)
class ParsedFeed:
    """A parsed feed: its title, its usable entries and, for a damaged feed, why it was damaged."""

    title: str | None
    entries: tuple[FeedEntry, ...]
    bozo_reason: str | None = None
    unread: int = 0  # entries with neither link nor guid: nothing to know them by, so not read


@dataclass
class FeedPoll:
    """The outcome of polling a batch of feeds: new documents, rejects, updated source states, problems."""

    documents: list[RawDocument] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    states: list[SourceState] = field(default_factory=list)
    entries_seen: int = 0
    skipped: int = 0  # pages fetched whose content is already stored, and rejects recorded before
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # (source, status label, detail)
    not_polled: list[tuple[str, str]] = field(default_factory=list)  # (source, why: not due, disabled)
    copies: list[InputCopy] = field(default_factory=list)  # pages with the bytes of one fetched earlier


@dataclass
class _FeedUpdate:
    """A feed fetched and parsed this poll, waiting for its entries' pages."""

    source: SourceSettings
    state: SourceState
    changes: dict[str, object]
    notes: list[str]  # what was odd in the feed, for its status
    entries: list[FeedEntry]
    title: str | None = None  # the feed's own title

    @property
    def status(self) -> str:
        """The feed's status: 'ok', or 'ok (note; note)'."""
        return _with_notes("ok", self.notes)


def parse_feed(body: bytes, headers: dict[str, str], base_url: str) -> ParsedFeed:
    """Parse an RSS, Atom or JSON feed body; raise FeedParseError when it yields no usable entries.

    A damaged feed that still yields entries is returned with bozo_reason set. Entity declarations
    are removed before parsing, so entity-expansion attacks ("billion laughs") cannot blow up.
    """
    if not body.strip():
        raise FeedParseError("empty: feed body is empty", kind="empty")
    headers = {k.lower(): v for k, v in headers.items()}
    json_feed = _parse_json_feed(body, base_url)
    if json_feed is not None:
        return json_feed
    notes = []
    body, stripped = _strip_entity_declarations(body)
    if stripped:
        notes.append("entity declarations removed")
    if b"<rss:" in body and b"xmlns:rss" not in body:
        # Some generators prefix every RSS element with an undeclared "rss:"; read them as plain RSS.
        body = UNDECLARED_RSS_PREFIX.sub(rb"<\1", body).replace(b"rss:version=", b"version=")
        notes.append("undeclared rss: prefix removed")
    given = {k: headers[k] for k in FEED_HEADERS if k in headers}
    body, given, false_encoding = _drop_false_wide_encoding(body, given)
    if false_encoding:
        notes.append(f"declared {false_encoding} but not UTF-16/32: read as UTF-8")
    given["content-location"] = base_url  # the base for relative links
    # A file-like object: given bytes, feedparser would first try to open them as a local path.
    # Entry links are resolved here; resolving every URI inside content HTML too costs feedparser
    # several times the parse itself on large feeds.
    try:
        result = feedparser.parse(io.BytesIO(body), response_headers=given, resolve_relative_uris=False)
    except Exception as exc:  # noqa: BLE001 - whatever the parser trips on, the feed is unusable
        raise FeedParseError(f"parse error: feedparser failed: {exc.__class__.__name__}: {exc}") from None
    if result.get("bozo"):
        notes.append(_describe(result.get("bozo_exception")))
    bozo_reason = one_line("; ".join(notes)) or None
    entries = tuple(e for e in (_entry(raw, base_url) for raw in result.entries) if e is not None)
    if not result.get("version") and _looks_like_html(body, headers):
        raise FeedParseError("parse error: not a feed: HTML page")
    if not entries:
        if result.get("bozo") or not result.get("version"):
            raise FeedParseError(f"parse error: {bozo_reason or 'not a recognised feed format'}")
        if result.entries:
            raise FeedParseError(f"empty: none of the feed's {len(result.entries)} entries has a link or guid",
                                 kind="empty")
        raise FeedParseError("empty: feed has no entries", kind="empty")
    title = _title(result.feed)
    return ParsedFeed(title=title, entries=entries, bozo_reason=bozo_reason,
                      unread=len(result.entries) - len(entries))


def _strip_entity_declarations(body: bytes) -> tuple[bytes, bool]:
    """The body without its DOCTYPE internal subset and ENTITY declarations, and whether any were found."""
    if b"<!ENTITY" not in body:
        return body, False
    match = DOCTYPE_WITH_SUBSET.search(body)
    if match:
        body = body[:match.start()] + body[match.end():]
    return ENTITY_DECLARATION.sub(b"", body), True


def _drop_false_wide_encoding(body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str], str | None]:
    """Body and headers without a UTF-16/32 claim that 8-bit bytes contradict, and the claim dropped.

    feedparser trusts such a claim, and when the body's length happens to be even it decodes the whole
    feed as UTF-16 nonsense. Real UTF-16/32 text starts with a byte order mark or, being XML markup,
    has NUL bytes near the start; without either the claim is false and the body is read as UTF-8.
    """
    if body.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in body[:4096]:
        return body, headers, None
    claim = None
    match = DECLARED_WIDE_ENCODING.match(body)
    if match:
        claim = match.group(2).decode("ascii", "replace")
        body = body[:match.start(2)] + b"utf-8" + body[match.end(2):]
    content_type = headers.get("content-type", "")
    charset = WIDE_CHARSET.search(content_type)
    if charset:
        claim = claim or charset.group(0).split("=", 1)[1].strip(" \"'")
        headers = {**headers, "content-type": WIDE_CHARSET.sub("", content_type)}
    return body, headers, claim


def _looks_like_html(body: bytes, headers: dict[str, str]) -> bool:
    """True when the body is an HTML page rather than a feed."""
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    return content_type == "text/html" or bool(HTML_START.match(body[:4096]))


def _describe(exc: object) -> str:
    """A one-line description of feedparser's bozo exception."""
    if exc is None:
        return "malformed feed"
    text = re.sub(r"^<unknown>:", "line ", str(exc)).strip()
    return one_line(text or exc.__class__.__name__)


def _entry(raw: dict, base_url: str) -> FeedEntry | None:
    """A FeedEntry from one feedparser entry; None when it has neither link nor guid."""
    get = dict.get  # plain lookups: feedparser's own get() maps some missing keys to others
    guid = _text(get(raw, "id"))
    link = _text(get(raw, "link"))
    if link and get(raw, "guidislink") and link == guid and link_scheme(link) not in ("http", "https"):
        link = None  # feedparser's copy of a linkless entry's id (an Atom urn:, a tag: guid): the entry has no link
    if not link:
        link = next((_text(get(item, "href")) for item in get(raw, "links") or []
                     if get(item, "rel", "alternate") == "alternate" and get(item, "href")), None)
    url = absolute_url(link, base_url)
    if url is None and guid is None:
        return None
    content = None
    for item in get(raw, "content") or []:
        value = _text(get(item, "value"))
        if value and len(value) > len(content or ""):
            content = value
    return FeedEntry(
        guid=guid, url=url, title=_title(raw),
        published_at=_first_date(raw),
        content=content or _text(get(raw, "summary")), author=_author(raw),
        refused_scheme=link_scheme(link) if link and url is None else None)


# An ISO 8601 date ('2024-05-01', '20240501', '24-05-01', '--05-01'): feedparser rolls an impossible one
# over (2024-02-30 to 1 March, 2024-13-45 to 1 January 2025) and fills in a missing month or day.
_ISO_DATE_START = re.compile(r"\s*(?:-|\d{4}|\d{2}-)")


def _first_date(raw: dict) -> datetime | None:
    """The entry's first readable date of published, updated and created, as an aware UTC datetime that
    plausible_date accepts. An ISO 8601 text is read from the text itself, strictly (a whole date, a
    missing zone as UTC); for the rest (RFC 822, whose impossible days feedparser refuses) feedparser's
    UTC struct_time is used, unless the text names a time zone that tasks.text.header knows (feedparser
    reads the ones it does not know, CEST, AEDT, IST, as UTC)."""
    for key in ("published", "updated", "created"):
        text, parsed = dict.get(raw, key), dict.get(raw, f"{key}_parsed")
        if isinstance(text, str) and _ISO_DATE_START.match(text):
            when = _iso_date(text, naive_is_utc=True)
        elif isinstance(text, str) and (zoned := parse_zoned_date(text)) is not None:
            when = plausible_date(zoned)  # its zone read by our table: feedparser reads CEST, AEDT, IST as UTC
        else:
            try:
                year, month, day, hour, minute, second = tuple(parsed)[:6]  # type: ignore[arg-type]
                when = plausible_date(datetime(year, month, day, hour, minute, min(second, 59), tzinfo=timezone.utc))
            except (TypeError, ValueError, OverflowError):
                when = None
        if when is not None:
            return when
    return None


def _parse_json_feed(body: bytes, base_url: str) -> ParsedFeed | None:
    """A ParsedFeed for a JSON Feed (jsonfeed.org) body; None when the body is not one."""
    if not body.lstrip().startswith((b"{", b"\xef\xbb\xbf")):
        return None
    try:
        doc = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(doc, dict) or "jsonfeed.org" not in str(doc.get("version", "")):
        return None
    entries = []
    items = doc.get("items")
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        guid = _text(str(item["id"])) if item.get("id") is not None else None
        url = absolute_url(_text(item.get("url")) or _text(item.get("external_url")), base_url)
        if url is None and guid is None:
            continue
        authors = item.get("authors") or ([item["author"]] if isinstance(item.get("author"), dict) else [])
        authors = authors if isinstance(authors, list) else []
        author = next((_text(a.get("name")) for a in authors if isinstance(a, dict) and a.get("name")), None)
        entries.append(FeedEntry(
            guid=guid, url=url, title=_text(item.get("title")),
            published_at=_iso_date(item.get("date_published")) or _iso_date(item.get("date_modified")),
            content=_text(item.get("content_html")) or _text(item.get("content_text"))
            or _text(item.get("summary")), author=author))
    if not entries:
        raise FeedParseError("empty: feed has no entries", kind="empty")
    return ParsedFeed(title=_text(doc.get("title")), entries=tuple(entries))


def _iso_date(value: object, naive_is_utc: bool = False) -> datetime | None:
    """An ISO 8601 (RFC 3339) date as an aware UTC datetime that plausible_date accepts; None if absent,
    unparsable, impossible (2024-02-30), partial (2024-05) or without a zone (unless naive_is_utc)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None and naive_is_utc:
        parsed = parsed.replace(tzinfo=timezone.utc)
    if parsed.tzinfo is None:
        return None
    try:
        return plausible_date(parsed.astimezone(timezone.utc))
    except OverflowError:  # its zone takes it before year 1 or past 9999 ('0001-01-01T00:00:00+01:00')
        return None


def _title(item: dict) -> str | None:
    """The title of a feedparser entry or feed as plain text: a title its feed marks as HTML loses its
    tags and has its entities decoded; a plain-text one ('#include </etc/shadow>') stays as it is, but for
    the HTML entities its parser left undecoded ('Re&colon; Double-entry' is 'Re: Double-entry')."""
    title = _text(dict.get(item, "title"))
    detail = dict.get(item, "title_detail") or {}
    if title and dict.get(detail, "type") in HTML_TYPES:
        return _text(html_line(title))
    if title and HTML_ONLY_ENTITY.search(title):
        title = _text(HTML_ONLY_ENTITY.sub(lambda entity: html.unescape(entity[0]), title))
    return title


def _author(raw: dict) -> str | None:
    """The entry's author by name: feedparser's author_detail name ('Hanno Böck' of RSS's
    'nospam@example.com (Hanno Böck)'), else its author text; None for a bare e-mail address."""
    detail = dict.get(raw, "author_detail") or {}
    author = _text(dict.get(detail, "name")) or _text(dict.get(raw, "author"))
    if author and ENTITY.search(author):  # encoded twice by its feed: 'Jane&nbsp;Doe', 'Smith &amp; Jones'
        author = _text(" ".join(html.unescape(author).split()))
    return None if author and EMAIL_ONLY.fullmatch(author) else author  # 'test@example.com' names nobody


def _text(value: object) -> str | None:
    """A stripped string, or None for nothing or whitespace; lone surrogates (from JSON escapes) become U+FFFD."""
    if not isinstance(value, str):
        return None
    return LONE_SURROGATE.sub("\ufffd", value).strip() or None


def _conditional_headers(state: SourceState, now: datetime, max_age_days: float) -> dict[str, str]:
    """If-None-Match / If-Modified-Since from the stored validators, unless they are too old to trust."""
    if state.validators_at is None or now - state.validators_at > timedelta(days=max_age_days):
        return {}
    headers = {}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    return headers


def poll_feeds(sources: list[SourceSettings], states: dict[str, SourceState], client: HttpClient,
               now: datetime, known_urls: set[str], known_guids: set[str | tuple[str, str]],
               validator_max_age_days: float = 7.0, policy: HealthPolicy | None = None,
               poll_now: bool = False, known_rejects: set[tuple[str, str]] | None = None) -> FeedPoll:
    """Poll the enabled feed sources that are due (all of them with poll_now: a person named them),
    and fetch the pages of their new entries.

    Feeds are fetched conditionally; an unchanged feed costs one request. Entries already known (by
    canonical URL or guid, as guid_key gives it: a GUID that is no URI only within its source), already
    rejected for good (known_rejects: (locator, reason) recorded before, other than a page to fetch again
    or, once the client allows private addresses, a page refused as one) or already met earlier in this
    poll are skipped, so a story carried by two feeds is fetched once and a dead link is not fetched at every change of its
    feed. A reject recorded before with the same reason is not recorded again (a page retried after a
    timeout that times out again). A source that fails is backed off (see tasks.sources.health) and
    listed in problems; the other sources go on. A source not polled is listed in not_polled with the
    reason.
    """
    known_rejects = known_rejects or set()
    # a page refused as a private address is the machine's rule, not the entry's fault: read once allowed
    settled = {locator for locator, reason in known_rejects if not reason.endswith(RETRY_NOTE)
               and not (client.allows_private and reason.startswith(REFUSED_PAGE))}
    policy = policy or HealthPolicy()
    poll = FeedPoll()
    due: list[tuple[SourceSettings, SourceState]] = []
    for src in sources:
        if src.kind != "feed" or not src.enabled or not src.url:
            continue
        state = states.get(src.name) or SourceState(source=src.name, url=src.url)
        # refused as a private address last time (this machine's rule, nothing was asked of the feed), and the
        # run now allows such addresses, as the refusal's line said to: poll it now, not after the interval
        refusal_lifted = client.allows_private and state.last_status in POLICY_REFUSALS and not state.disabled
        if poll_now or refusal_lifted or is_due(state, now):
            due.append((src, state))
        else:
            poll.not_polled.append((src.name, not_due_reason(state, now)))
    responses = client.fetch_many(
        [(state.url, _conditional_headers(state, now, validator_max_age_days)) for _, state in due])
    seen_urls: set[str] = set()
    seen_guids: set[str | tuple[str, str]] = set()
    updates: list[_FeedUpdate] = []
    for (src, state), response in zip(due, responses):
        update = _read_feed(src, state, response, now, policy, poll)
        if update is None:
            continue
        entries, own_urls, own_guids, repeated, shared_guid, same_page = [], set(), set(), 0, 0, 0
        links_of: dict[str, set[str]] = {}
        for entry in update.entries:
            links_of.setdefault(entry.guid, set()).update([entry.url] if entry.guid and entry.url else [])
        # a guid this feed gives several links tells none of them apart: such entries are known by their links
        shared = {guid for guid, links in links_of.items() if len(links) > 1}
        for entry in update.entries:
            guid = guid_key(src.name, entry.guid) if entry.guid else None
            if entry.url and entry.url not in seen_urls and guid in own_guids:
                shared_guid += 1  # this feed gives two links one guid: two articles, each read by its link
            elif _among(entry.url, guid, seen_urls, seen_guids):
                if entry.url in own_urls and guid is not None and guid not in own_guids:
                    same_page += 1  # an entry of its own linking to an earlier entry's page: the page is read once
                else:
                    repeated += _among(entry.url, guid, own_urls, own_guids)  # the feed lists it twice: read once
                continue  # met earlier in this poll (two feeds carry it): one input, counted under the first
            own_urls.update([entry.url] if entry.url else [])
            own_guids.update([guid] if guid else [])
            poll.entries_seen += 1
            seen_urls.update([entry.url] if entry.url else [])
            seen_guids.update([guid] if guid else [])
            known_by = None if entry.guid in shared else guid
            if (entry.url or entry.guid) not in settled and not _among(entry.url, known_by, known_urls, known_guids):
                entries.append(entry)
        update.entries = entries
        if repeated:
            update.notes.append(f"{repeated} {'entry repeats' if repeated == 1 else 'entries repeat'} the link or "
                                "guid of an earlier entry: read once")
        if same_page:
            update.notes.append(f"{same_page} {'entry links' if same_page == 1 else 'entries link'} to an earlier "
                                "entry's page under a guid of its own: the page is read once, and the entry's own "
                                "text is not stored")
        if shared_guid:
            update.notes.append(f"{shared_guid} {'entry shares' if shared_guid == 1 else 'entries share'} an earlier "
                                "entry's guid under another link: each read by its link")
        updates.append(update)
    _fetch_entries(updates, client, poll, now, policy)
    fresh = [r for r in poll.rejects if (r.locator, r.reason) not in known_rejects]
    poll.skipped += len(poll.rejects) - len(fresh)
    poll.rejects = fresh
    return poll


def _read_feed(src: SourceSettings, state: SourceState, response: FetchResult | FetchError,
               now: datetime, policy: HealthPolicy, poll: FeedPoll) -> _FeedUpdate | None:
    """Settle a feed that failed, did not change or cannot be parsed; otherwise its parsed update."""
    if isinstance(response, FetchError):
        _fail(src, state, now, policy, poll, response.label, str(response),
              retry_after=response.retry_after, permanent=response.permanent)
        return None
    if response.permanent_redirect:
        LOGGER.info("feed %s moved permanently to %s", src.name, response.permanent_redirect)
        state = dataclasses.replace(state, url=response.permanent_redirect)
    # said in every status until the feed is named by its new URL (a new URL in the config starts its health
    # afresh); a feed given by --source alone is named by its URL too, so the note names no config
    moved = [f"moved permanently to {state.url}; named by {src.url}"] if state.url != src.url else []
    if response.status == 304:
        poll.states.append(record_success(state, now, _with_notes("not modified", moved), policy))
        return None
    changes: dict[str, object] = {
        "etag": response.headers.get("etag"), "last_modified": response.headers.get("last-modified"),
        "validators_at": now, "body_hash": sha256_hex(response.body)}
    if changes["body_hash"] == state.body_hash:
        poll.states.append(record_success(dataclasses.replace(state, **changes), now, _with_notes("unchanged", moved),
                                          policy))
        return None
    try:
        parsed = parse_feed(response.body, response.headers, response.url)
    except FeedParseError as exc:
        _fail(src, state, now, policy, poll, exc.kind, str(exc))
        return None
    except Exception as exc:  # noqa: BLE001 - whatever else one feed trips on fails that feed, not the poll
        LOGGER.exception("parsing feed %s failed", src.name)
        _fail(src, state, now, policy, poll, "parse error",
              one_line(f"parse error: {exc.__class__.__name__}: {exc}"))
        return None
    notes = [*moved, *([f"bozo: {parsed.bozo_reason}"] if parsed.bozo_reason else [])]
    if parsed.unread:
        notes.append(f"{parsed.unread} of {parsed.unread + len(parsed.entries)} entries have neither link nor guid: "
                     "not read")
    return _FeedUpdate(src, state, changes, notes, list(parsed.entries), parsed.title)


def _with_notes(status: str, notes: list[str]) -> str:
    """A feed's status with what was odd about it: 'ok', or 'ok (note; note)'."""
    return f"{status} ({'; '.join(notes)})" if notes else status


def _fail(src: SourceSettings, state: SourceState, now: datetime, policy: HealthPolicy, poll: FeedPoll,
          label: str, detail: str, retry_after: float | None = None, permanent: bool = False) -> None:
    """Record a source-level failure in the poll."""
    LOGGER.info("feed %s failed: %s", src.name, detail)  # the flow logs it to the run (flows.stages.feeds_task)
    poll.states.append(record_failure(state, now, label, detail, policy, retry_after=retry_after,
                                      permanent=permanent))
    poll.problems.append((src.name, label, detail))


def _among(url: str | None, guid: str | tuple[str, str] | None, urls: set[str],
           guids: set[str | tuple[str, str]]) -> bool:
    """True for an entry whose URL or guid (as guid_key gives it) is in the sets."""
    return bool((url and url in urls) or (guid and guid in guids))


def _fetch_entries(updates: list[_FeedUpdate], client: HttpClient, poll: FeedPoll, now: datetime,
                   policy: HealthPolicy) -> None:
    """Fetch every new entry's page in one batch and turn each into a document or a reject.

    A feed whose pages failed transiently keeps its old validators and body hash, so the next poll
    reads it again and retries those entries (the ones stored meanwhile are then known).
    """
    wanted = [(u, e) for u in updates for e in u.entries if e.url]
    pages = client.fetch_many([(e.url, {"Accept": HTML_ACCEPT}) for _, e in wanted]) if wanted else []
    page_of = {id(e): page for (_, e), page in zip(wanted, pages)}
    first: dict[str, str] = {}  # content hash -> the locator of the page first fetched with it
    for update in updates:
        retry_later = False
        for entry in update.entries:
            page = page_of.get(id(entry))
            item = _document(update.source, entry, page, update.title)
            if isinstance(item, Reject):
                poll.rejects.append(item)
                retry_later |= isinstance(page, FetchError) and page.transient
            elif item.content_hash in first:  # two links to one page: one document
                if item.locator != first[item.content_hash]:  # the same bytes at another address: a copy
                    poll.copies.append(InputCopy(item.source, item.locator, item.content_hash,
                                                 first[item.content_hash]))
            else:
                first[item.content_hash] = item.locator
                poll.documents.append(item)
        state = update.state if retry_later else dataclasses.replace(update.state, **update.changes)
        poll.states.append(record_success(state, now, update.status, policy))


def _document(src: SourceSettings, entry: FeedEntry, page: FetchResult | FetchError | None,
              feed_title: str | None = None) -> RawDocument | Reject:
    """The entry's page as a document; else its feed content when long enough; else a reject.
    The feed's title goes with it, as the site's name for a page that names none."""
    if isinstance(page, FetchResult):
        content_type = page.headers.get("content-type", "").split(";")[0].strip().lower()
        html = not content_type or content_type in HTML_TYPES
        # an article as plain text is read as a .txt file is (bytes with NULs are no text: the feed's own text, if any)
        if page.body and (html or (content_type == "text/plain" and b"\0" not in page.body[:4096])):
            link = canonical_link(page.body, page.url) if html else None
            # the input is the entry's link, as the feed gives it (the rejects of its entries, the links known
            # next time): a link that redirects is then known whatever the page it led to
            return RawDocument(
                source=src.name, locator=entry.url or canonical_url(page.url),
                content_hash=page_hash(page.body, entry.content),
                raw=page.body, media_type="text/html" if html else "text/plain", url=link or canonical_url(page.url),
                feed_title=entry.title, feed_published_at=entry.published_at, guid=entry.guid,
                feed_content=entry.content, default_tags=tuple(src.tags), site_name=feed_title,
                feed_author=entry.author, charset=content_charset(page.headers))
        reason = f"not an HTML page ({content_type})" if page.body else "empty page"
    elif isinstance(page, FetchError):
        reason = page.label
    elif entry.refused_scheme in ("http", "https"):
        reason = "entry's link has no host, so not fetched,"
    elif entry.refused_scheme is not None:
        reason = f"entry's link is not http(s) ({entry.refused_scheme or 'no scheme'}), so not fetched,"
    else:
        reason = "entry has no link"
    locator = entry.url or entry.guid or ""
    words = word_count(fragment_text(entry.content or ""))
    if words >= MIN_FEED_CONTENT_WORDS:
        raw = (entry.content or "").encode("utf-8")
        return RawDocument(
            source=src.name, locator=locator, content_hash=sha256_hex(raw), raw=raw, media_type="text/html",
            url=entry.url, feed_title=entry.title, feed_published_at=entry.published_at, guid=entry.guid,
            feed_content=entry.content, default_tags=tuple(src.tags), site_name=feed_title, feed_author=entry.author,
            in_place_of=f"page fetch failed: {reason}" if page is not None else reason.rstrip(","))
    short = f" ({words} word{'s' if words > 1 else ''}, needs {MIN_FEED_CONTENT_WORDS})" if words else ""
    if page is None:
        return Reject(src.name, locator, f"{reason} and too little feed content{short}")
    return Reject(src.name, locator, f"page fetch failed: {reason}" +
                  (f"; the feed's text is too short to use instead{short}" if words else "") +
                  (f"; {RETRY_NOTE}" if isinstance(page, FetchError) and page.transient else ""))
