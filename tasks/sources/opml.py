"""Reads and writes OPML subscription lists (Miniflux, FreshRSS, Feedly, NetNewsWire and the like)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element, ParseError, SubElement, indent, tostring

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from config.settings import SourceSettings
from tasks.sources.urls import canonical_url, is_http_url, written_url

# Outline types that name something other than an RSS/Atom/JSON feed (FreshRSS scrapes web pages
# with XPath; OPML outlines may also be links or included outlines): not sources we can poll.
NOT_FEED_TYPES = frozenset({"html+xpath", "xml+xpath", "json+dotnotation", "jsonfeed+dotnotation", "link",
                            "include", "html+xpath+json+dotnotation"})
# Folders readers put every uncategorised feed in: not a category anyone chose, so not a tag.
DEFAULT_FOLDERS = frozenset({"all", "uncategorized", "uncategorised", "sans catégorie", "unsorted", "feeds",
                             "subscriptions", "default"})
FEED_SCHEME = re.compile(r"^feed:(//)?", re.IGNORECASE)
_NOT_TAG_CHARACTERS = re.compile(r"[^\w]+")


class OpmlError(ValueError):
    """The file is not a usable OPML document; str() is a one-line reason."""


@dataclass(frozen=True)
class OpmlFeed:
    """One feed of a subscription list: its title (may be empty), feed URL, site URL and tags."""

    title: str
    xml_url: str
    html_url: str = ""
    tags: tuple[str, ...] = ()


@dataclass
class OpmlList:
    """What a subscription list holds: its feeds (each URL once) and the outlines that are not feeds."""

    feeds: list[OpmlFeed] = field(default_factory=list)
    not_feeds: list[str] = field(default_factory=list)  # one line each, saying which outline and why


def tag_name(category: str) -> str:
    """A category as a tag: lower case, runs of other characters than letters and digits as one '_'
    (so the OPML folder "World News" and the issue world_news are one tag)."""
    return _NOT_TAG_CHARACTERS.sub("_", category.strip().lower()).strip("_")


def _attribute(outline: Element, name: str) -> str:
    """An outline attribute by name, whatever its case (xmlUrl, xmlurl, XMLURL all occur)."""
    for key, value in outline.attrib.items():
        if key.rsplit("}", 1)[-1].lower() == name.lower():
            return " ".join(value.split())
    return ""


def _category_tags(value: str) -> list[str]:
    """Tags from an OPML 2.0 category attribute: comma-separated, slash-delimited paths."""
    return [part for path in value.split(",") for part in path.split("/") if part.strip()]


def _feed_url(value: str) -> str:
    """The feed URL, with the feed: pseudo-scheme some readers write (feed://host/…, feed:https://…)
    turned into http(s)."""
    url = written_url(value)
    match = FEED_SCHEME.match(url)
    if match:
        rest = url[match.end():]
        url = rest if rest.lower().startswith(("http://", "https://")) else "http://" + rest
    return url


def _label(outline: Element) -> str:
    return _attribute(outline, "title") or _attribute(outline, "text")


def _walk(parent: Element, folders: tuple[str, ...]) -> Iterator[tuple[Element, tuple[str, ...]]]:
    """Every outline under parent with the folder titles above it, depth first, in document order."""
    for outline in parent:
        if not isinstance(outline.tag, str) or outline.tag.rsplit("}", 1)[-1].lower() != "outline":
            continue
        yield outline, folders
        yield from _walk(outline, (*folders, _label(outline)))


def _tags(folders: Iterable[str], category: str) -> tuple[str, ...]:
    names = [*folders, *_category_tags(category)]
    tags = (tag_name(n) for n in names if n.strip().lower() not in DEFAULT_FOLDERS)
    return tuple(dict.fromkeys(t for t in tags if t))


def _root(data: bytes) -> Element:
    """The <opml> element of the document, parsed without entities or DTDs (OpmlError otherwise)."""
    try:
        root = fromstring(data, forbid_dtd=True)
    except ParseError as exc:
        raise OpmlError(f"not well-formed XML ({exc})") from None
    except DefusedXmlException as exc:
        raise OpmlError(f"refused: the file declares a DTD or entities ({exc.__class__.__name__})") from None
    if root.tag.rsplit("}", 1)[-1].lower() != "opml":
        raise OpmlError(f"not an OPML document (its root element is <{root.tag}>, not <opml>)")
    body = next((child for child in root if isinstance(child.tag, str) and child.tag.lower() == "body"), None)
    if body is None:
        raise OpmlError("not an OPML document (no <body>)")
    return body


def parse_opml(data: bytes) -> OpmlList:
    """The feeds of an OPML file: each outline with an xmlUrl is a feed, named by its title (or text),
    tagged with the folders it sits in and its category attribute. A URL listed twice (Feedly puts a
    feed in every folder it belongs to) is one feed with the tags of both. Raises OpmlError."""
    found = OpmlList()
    by_url: dict[str, int] = {}
    for outline, folders in _walk(_root(data), ()):
        kind = _attribute(outline, "type").lower()
        raw_url = _attribute(outline, "xmlUrl")
        if not raw_url:
            if _attribute(outline, "htmlUrl"):
                page = _attribute(outline, "htmlUrl")
                found.not_feeds.append(f"{_label(outline) or '(untitled)'}: a web page ({page}), no feed URL (xmlUrl)")
            continue
        if kind in NOT_FEED_TYPES:
            found.not_feeds.append(f"{_label(outline) or raw_url}: type {kind}, not a feed")
            continue
        feed = OpmlFeed(_label(outline), _feed_url(raw_url), _attribute(outline, "htmlUrl"),
                        _tags(folders, _attribute(outline, "category")))
        key = feed_key(feed.xml_url)
        if key in by_url:
            known = found.feeds[by_url[key]]
            found.feeds[by_url[key]] = OpmlFeed(known.title or feed.title, known.xml_url,
                                                known.html_url or feed.html_url,
                                                tuple(dict.fromkeys(known.tags + feed.tags)))
            continue
        by_url[key] = len(found.feeds)
        found.feeds.append(feed)
    return found


def feed_key(url: str) -> str:
    """What makes two feed URLs the same feed: the canonical URL without its scheme (http and https,
    host case, default ports, a trailing slash, fragments and tracking parameters do not count)."""
    canonical = canonical_url(url)
    return canonical.split("://", 1)[1] if "://" in canonical else canonical


def fallback_name(feed: OpmlFeed) -> str:
    """A name for a feed the list gives no title: its site's host, else its feed URL's host and path."""
    site = urlsplit(feed.html_url).hostname if is_http_url(feed.html_url) else None  # is_http_url: it splits
    if site:
        return site.removeprefix("www.")
    parts = urlsplit(feed.xml_url)
    return f"{(parts.hostname or '').removeprefix('www.')}{parts.path.rstrip('/')}" or feed.xml_url


def render_opml(feeds: Iterable[OpmlFeed], title: str, now: datetime | None = None) -> str:
    """An OPML 2.0 document of the feeds, as readers write them: one folder per first tag (untagged
    feeds at the top), every tag also in the category attribute, so nothing is lost on re-import."""
    root = Element("opml", version="2.0")
    head = SubElement(root, "head")
    SubElement(head, "title").text = title
    SubElement(head, "dateCreated").text = format_datetime(now or datetime.now(timezone.utc), usegmt=True)
    body = SubElement(root, "body")
    folders: dict[str, Element] = {}
    for feed in feeds:
        parent = body
        if feed.tags:
            if feed.tags[0] not in folders:
                folders[feed.tags[0]] = SubElement(body, "outline", text=feed.tags[0], title=feed.tags[0])
            parent = folders[feed.tags[0]]
        attributes = {"type": "rss", "text": feed.title, "title": feed.title, "xmlUrl": feed.xml_url}
        if feed.html_url:
            attributes["htmlUrl"] = feed.html_url
        if feed.tags:
            attributes["category"] = ",".join(f"/{tag}" for tag in feed.tags)
        SubElement(parent, "outline", attributes)
    indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root, encoding="unicode") + "\n"


@dataclass
class ImportPlan:
    """What importing a list into the config does: sources to add, feeds already there, and the rest."""

    added: list[dict[str, object]] = field(default_factory=list)   # [[sources]] tables, in list order
    configured: list[tuple[OpmlFeed, str]] = field(default_factory=list)  # (feed, the configured name)
    refused: list[str] = field(default_factory=list)               # one line each: what and why


def _unique(name: str, taken: set[str]) -> str:
    """The name, or the name with the first free " (n)" after it."""
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name} ({n})", n + 1
    return candidate


def plan_import(found: OpmlList, sources: Iterable[SourceSettings]) -> ImportPlan:
    """Turn a list's feeds into new feed sources: each named by its title (or its site's host when it
    has none, made unique among the source names), tagged with its categories; a feed whose URL
    (as feed_key compares them) is already configured is skipped, and so is a URL that is not http(s)."""
    sources = list(sources)
    known = {feed_key(s.url): s.name for s in sources if s.kind == "feed" and s.url}
    names = {s.name for s in sources}
    plan = ImportPlan(refused=list(found.not_feeds))
    for feed in found.feeds:
        if not is_http_url(feed.xml_url):
            plan.refused.append(f"{feed.title or feed.xml_url}: {feed.xml_url} is not an http(s) URL")
            continue
        key = feed_key(feed.xml_url)
        if key in known:
            plan.configured.append((feed, known[key]))
            continue
        name = _unique(feed.title or fallback_name(feed), names)
        names.add(name)
        known[key] = name
        table: dict[str, object] = {"name": name, "kind": "feed", "url": feed.xml_url}
        if feed.tags:
            table["tags"] = list(feed.tags)
        plan.added.append(table)
    return plan
