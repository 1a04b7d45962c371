"""Cleaning: turn raw text, Markdown or HTML into one readable article with its metadata."""

from __future__ import annotations

import bisect
import functools
import itertools
import logging
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING

import trafilatura
from trafilatura.baseline import block_text
from trafilatura.metadata import (META_URL, examine_meta, examine_title_element, extract_author, extract_meta_json,
                                  extract_sitename, extract_title, extract_url, find_date)
from trafilatura.settings import Document

from config.settings import CleanSettings
from tasks.records import CleanedArticle, RawDocument, Reject
from tasks.sources.urls import canonical_link, canonical_url, url_slug
from tasks.text.header import (byline_of, date_is_written, date_is_written_unambiguously, dateline_of,
                               derive_title, dotted_header, header_fields, parse_date, plausible_date)
from tasks.text.language import detect_language
from tasks.text.normalise import (RejectedInput, decode_bytes, ends_like_sentence, fragment_text, is_fragment,
                                  is_link_item, looks_like_headline, looks_like_html, one_line, to_paragraphs,
                                  word_count)

if TYPE_CHECKING:
    from lxml.html import HtmlElement

__all__ = ["RejectedInput", "clean_chunk", "clean_documents", "clean_html", "clean_text", "decode_bytes"]

LOGGER = logging.getLogger(__name__)

FOOTER_ZONE = 0.6  # where the last 40 % of paragraphs begins
MAX_CREDIT_WORDS = 8
MAX_REPORTING_WORDS = 40
SHORT_AGENCY_CHARS = 4
# Longer texts are dumps, not articles; summarising costs grow with the square of the sentences.
MAX_ARTICLE_WORDS = 20_000

_REPORTING = re.compile(
    r"^(?:additional\s+)?(?:reporting|writing|editing|compiled|produced|research|written)\s+by\b", re.I)
_CREDIT_PREFIX = re.compile(r"^(?:[-\u2014\u2013(\s]+|sources?\s*:)+", re.I)
_CREDIT_WITH = re.compile(r"^(?:with|via)\s+(.+)$", re.I)
_CREDIT_FILLER = frozenset({
    "and", "with", "from", "by", "via", "source", "sources", "news", "agency", "agencies", "wire", "wires",
    "staff", "contributed", "contributing", "to", "this", "report", "reports", "inputs", "input", "the",
    "of", "writer", "writers", "service", "services", "reporters", "correspondents", "desk", "files",
})
_CREDIT_PUNCT = re.compile(r"[-\u2014\u2013/,&():;.|+\s]+")
_ADVERT = frozenset({"advertisement", "advertisement:", "sponsored content", "ad", "scroll to continue"})
# A paragraph that is nothing but unrendered WordPress shortcodes with attributes ('[time-brightcove
# not-tgx="true"]', '[caption id="attachment_7"]'), each maybe closed at once ('[video mp4="…"][/video]'): markup
# a site's feed or page let through, not words of the article. A bracketed word alone ('[dependencies]', a TOML
# table in a code sample) is no shortcode here.
_QUOTES = "\"'\u201c\u201d\u2033"
_SHORTCODE = re.compile(rf"(?:\[/?[a-z][\w-]*(?:\s+[\w-]+=[{_QUOTES}][^\]{_QUOTES}]*[{_QUOTES}])+\s*/?\]\s*"
                        r"(?:\[/[a-z][\w-]*\]\s*)*)+")
# A WordPress caption left unrendered, '[caption id="…"]<the image's caption>[/caption]', is the photo's words,
# not the article's: it goes with its markup, and so does a shortcode opening a paragraph of the article's text.
_CAPTION_BLOCK = re.compile(r"\[caption\b[^\]]*\].*?\[/caption\]\s*", re.S)
_LEADING_MARKUP = re.compile(rf"(?:{_CAPTION_BLOCK.pattern}|{_SHORTCODE.pattern})+", re.S)
# The line a blog's feed puts under each post (WordPress with Yoast SEO, in English and German): "The post
# <title> appeared first on <site>." It is no part of the article, and the feed's text stands in for a page.
# Other plugins write "first appeared on", which is ordinary English ("The post office first appeared on the
# river road in 1850"): that wording counts only when a site's name ends the line, up to six words each
# capitalised or a domain ("… first appeared on Valley Voice.", "… on example.com.").
MAX_FEED_NOTICE_WORDS = 40  # a longer paragraph is the article's own, whatever its words
_SITE_WORD = r"(?:[A-Z0-9][\w.&'\u2019-]*|[\w-]+\.[a-z]{2,}[\w./-]*)"
_FEED_NOTICE = re.compile(r"(?:The post|Der Beitrag) .+ (?:(?:appeared first on|erschien zuerst auf) .+"
                          rf"|first appeared on {_SITE_WORD}(?: {_SITE_WORD}){{0,5}}\.?)", re.S)
_ISO_STAMP = re.compile(r"\b(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}(?::\d{2})?)(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})")
_HTML_DATE_PARAMS = {"extensive_search": False, "original_date": True}
# Runs a chunk function over a batch (maybe in worker processes): (func, items, *args) -> results in order.
ChunkMapper = Callable[..., list]


@dataclass
class _Found:
    """Metadata gathered while stripping; the first value found for a field wins."""

    title: str | None = None
    dateline: str | None = None
    agency: str | None = None
    byline: str | None = None
    credit: str | None = None
    published_at: datetime | None = None
    published_is_update: bool = False

    def set(self, name: str, value: str | None) -> None:
        """Record a field unless it already has a value."""
        if value and getattr(self, name) is None:
            setattr(self, name, value)

    def set_date(self, value: datetime, is_update: bool) -> None:
        """Record a date plausible_date accepts; a publication date replaces an earlier 'updated' one."""
        if plausible_date(value) is None:
            return
        if self.published_at is None or (self.published_is_update and not is_update):
            self.published_at, self.published_is_update = value, is_update

    def set_header(self, fields: list[tuple[str, object]]) -> None:
        """Record the fields of a byline or date line (header_fields): its dates and its byline."""
        for kind, value in fields:
            if kind == "date":
                self.set_date(*value)  # type: ignore[misc]
            else:
                self.set("byline", value)  # type: ignore[arg-type]


@dataclass(frozen=True)
class _Rules:
    """Effective phrase lists of one settings object, with the agency names compiled."""

    footer: tuple[str, ...]
    agencies: tuple[str, ...]
    agency_patterns: tuple[re.Pattern[str], ...]


def _rules_for(settings: CleanSettings) -> _Rules:
    """The rules of a settings object, built once per distinct settings value."""
    try:
        return _cached_rules(settings)
    except TypeError:  # settings holding lists are not hashable
        return _build_rules(settings)


@functools.lru_cache(maxsize=32)
def _cached_rules(settings: CleanSettings) -> _Rules:
    """Cached form of _build_rules."""
    return _build_rules(settings)


def _build_rules(settings: CleanSettings) -> _Rules:
    """Merge built-in and extra phrases, lower-cased, longest first; short agency codes match in capitals."""
    footer = {p.strip().lower() for p in (*settings.footer_phrases, *settings.extra_footer_phrases)}
    agencies = {a.strip().lower() for a in (*settings.agencies, *settings.extra_agencies)}
    ordered = tuple(sorted(filter(None, agencies), key=len, reverse=True))
    patterns = tuple(
        re.compile(rf"(?<!\w){re.escape(a.upper())}(?!\w)") if len(a) <= SHORT_AGENCY_CHARS
        else re.compile(rf"(?<!\w){re.escape(a)}(?!\w)", re.I) for a in ordered)
    return _Rules(tuple(sorted(filter(None, footer), key=len, reverse=True)), ordered, patterns)


def _is_footer_line(line: str, rules: _Rules) -> bool:
    """A line opening a footer block: starts with a footer phrase and is not an ordinary sentence."""
    low = line.lower()
    if not low.startswith(rules.footer):  # one call in C rules out most lines
        return False
    for phrase in rules.footer:
        if not low.startswith(phrase):
            continue
        rest = low[len(phrase):]
        if phrase[-1].isalnum() and rest[:1].isalnum():
            continue  # the phrase is only the start of a longer word
        rest = rest.strip()
        if not rest or rest[0] in ":|\u00bb\u203a>-\u2013\u2014(\u00a9" or rest[0].isdigit():
            return True
        if not (ends_like_sentence(line) and word_count(line) >= 5):
            return True
    return False


def _agency_in(line: str, rules: _Rules) -> tuple[str, bool]:
    """Blank out agency names in a line and say whether there was any."""
    found = False
    for pattern in rules.agency_patterns:
        line, hits = pattern.subn(" ", line)
        found = found or hits > 0
    return line, found


def _credit_of(line: str, rules: _Rules) -> str | None:
    """The credit named by a short closing line ('Agencies - Xinhua', '(Reuters)', 'Reporting by ...')."""
    if _REPORTING.match(line) and word_count(line) <= MAX_REPORTING_WORDS:
        return line.rstrip(". ")
    if word_count(line) > MAX_CREDIT_WORDS:
        return None
    display = _CREDIT_PREFIX.sub("", line).strip().rstrip(".)").strip()
    bare = _CREDIT_WITH.match(display)
    if bare and bare[1].lower() in rules.agencies:
        display = bare[1]  # "With AFP" credits AFP
    if display.lower() in rules.agencies:
        return display
    remainder, found = _agency_in(line, rules)
    leftover = [w for w in _CREDIT_PUNCT.split(remainder.lower()) if w and w not in _CREDIT_FILLER]
    return display if found and not leftover else None


def _take_header(paras: list[str], found: _Found, take_title: bool) -> list[str]:
    """Remove header elements from the top (byline and date lines, datelines, headlines) up to the lead."""
    i = 0
    while i < len(paras):
        first, has_body = paras[i], len(paras) - i > 1
        dotted = dotted_header(first)  # 'By . Jane Smith . PUBLISHED: . 14:11 EST, 25 October 2013 . The lead'
        fields = None if dotted else header_fields(first)
        dateline = None if dotted or fields else dateline_of(first)
        if dotted and (has_body or dotted[1]):
            found.set_header(dotted[0])
            if dotted[1]:  # the lead itself, with the header cut off
                paras, i = [*to_paragraphs(dotted[1]), *paras[i + 1:]], -1
        elif fields:
            found.set_header(fields)
        elif dateline and (has_body or dateline[2] is not None):
            found.set("dateline", dateline[0])
            found.set("agency", dateline[1])
            if dateline[2] is not None:  # the lead itself, with its dateline cut off
                paras, i = [*to_paragraphs(dateline[2]), *paras[i + 1:]], -1
        elif take_title and has_body and looks_like_headline(first):
            found.set("title", first)
        else:
            break
        i += 1
    return paras[i:]


def _take_byline_after_lead(paras: list[str], found: _Found) -> list[str]:
    """Move a byline placed right after the lead ("By Sarah Whitfield, Transport Correspondent", with or
    without a date) out of the text; the lead stays first."""
    if len(paras) < 3:  # a lead, the byline and at least one more paragraph
        return paras
    fields = header_fields(paras[1])
    if not fields or not any(kind == "byline" for kind, _ in fields):
        return paras
    found.set_header(fields)
    return [paras[0], *paras[2:]]


def _trim_tail(paras: list[str], found: _Found, rules: _Rules, drop_lists: bool, feed_text: bool) -> list[str]:
    """Cut footer blocks and drop trailing link lists, fragments, a feed's 'appeared first on' line (feed_text:
    the text is a feed's own), credit lines and a closing byline, until none is left."""
    footers = [i for i, p in enumerate(paras) if i and _is_footer_line(p, rules)]
    end = len(paras)
    while True:
        # A footer-phrase line in the last 40 % ends the article; cutting can bring an earlier one in range.
        k = bisect.bisect_left(footers, max(1, math.ceil(end * FOOTER_ZONE)))
        cut = footers[k] if k < len(footers) and footers[k] < end else None
        end = end if cut is None else cut
        before = end
        while end:
            last = paras[end - 1]
            credit, signed = _credit_of(last, rules), byline_of(last)
            if credit:
                found.set("credit", credit)
            elif signed:  # an article signed at its end ("By Daniel Okafor"): the byline, unless one came first
                found.set("byline", signed)
            elif not (_is_footer_line(last, rules) or (drop_lists and is_link_item(last)) or is_fragment(last)
                      or (feed_text and len(last.split()) <= MAX_FEED_NOTICE_WORDS and _FEED_NOTICE.fullmatch(last))):
                break
            end -= 1
        if cut is None and end == before:
            return paras[:end]


def _without_leading_markup(paragraph: str) -> str:
    """A paragraph without the unrendered shortcodes and captions that open it ('' when that is all it is)."""
    markup = _LEADING_MARKUP.match(paragraph) if paragraph.startswith("[") else None
    return paragraph[markup.end():].lstrip() if markup else paragraph


def _strip_once(paras: list[str], found: _Found, rules: _Rules, take_title: bool, drop_lists: bool,
                feed_text: bool) -> list[str]:
    """One round of header and footer removal; depends only on the paragraphs, never on what was found."""
    paras = [p for p in map(_without_leading_markup, paras) if p and p.lower() not in _ADVERT]
    paras = _take_byline_after_lead(_take_header(paras, found, take_title), found)
    return _trim_tail(paras, found, rules, drop_lists, feed_text)


def _strip_boilerplate(paras: list[str], rules: _Rules, take_title: bool,
                       drop_lists: bool = True, feed_text: bool = False) -> tuple[str, _Found]:
    """Strip until nothing changes, so that cleaning the resulting text again leaves it as it is."""
    found = _Found()
    while True:  # each round that changes something removes paragraphs or characters, so this ends
        stripped = _strip_once(paras, found, rules, take_title, drop_lists, feed_text)
        if stripped == paras:
            return "\n\n".join(paras), found
        paras = stripped


def _article(text: str, found: _Found, title: str | None = None, **fields: object) -> CleanedArticle:
    """Assemble a CleanedArticle, deriving a title from the lead when none was found."""
    title = title or found.title
    derived = False
    if not title and text:
        title, derived = derive_title(text.split("\n\n", 1)[0]), True
    credit = found.credit or (found.agency.strip() if found.agency else None)
    values: dict[str, object] = {
        "dateline": found.dateline, "credit": credit, "byline": found.byline,
        # the headline too: a short text's few words can pass for another language ("tour de france...")
        "published_at": found.published_at,
        "language": detect_language(f"{title}\n\n{text}" if title and not derived else text) if text else None,
    }
    values.update({k: v for k, v in fields.items() if v is not None})
    return CleanedArticle(title=title, text=text, title_derived=derived and title is not None, **values)


# Markdown front matter (Jekyll, Hugo, Obsidian): a YAML block between --- lines at the very top.
_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n(?P<yaml>.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S)
_FRONT_TITLE_KEYS, _FRONT_DATE_KEYS = ("title",), ("date", "published", "pubdate", "publishdate")
_FRONT_AUTHOR_KEYS = ("author", "authors", "byline")
MAX_FRONT_MATTER_CHARS = 20_000


def _front_date(value: object) -> datetime | None:
    """A front matter date as UTC: with a time zone the moment, without one the day at 00:00 UTC (as
    parse_date reads a written date); None for anything else, or a date plausible_date refuses."""
    try:
        if isinstance(value, datetime):
            when = value.astimezone(timezone.utc) if value.tzinfo else datetime(value.year, value.month, value.day,
                                                                                  tzinfo=timezone.utc)
        elif isinstance(value, date):
            when = datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
        else:
            when = parse_date(value) if isinstance(value, str) else None
    except (ValueError, OverflowError):
        return None
    return plausible_date(when)


def _front_matter(raw: str, found: _Found) -> str:
    """The text without its front matter, whose title, date and author go into found. A block that is
    not YAML mapping keys to values is left as text."""
    match = _FRONT_MATTER.match(raw)
    if not match:
        return raw
    if len(match["yaml"]) > MAX_FRONT_MATTER_CHARS:
        return raw
    fields = _front_fields(match["yaml"])
    if not isinstance(fields, dict):
        return raw
    fields = {str(k).lower(): v for k, v in fields.items()}
    if not set(fields) & {*_FRONT_TITLE_KEYS, *_FRONT_DATE_KEYS, *_FRONT_AUTHOR_KEYS}:
        return raw  # a "key: value" lead between rules, not front matter
    title = next((fields[k] for k in _FRONT_TITLE_KEYS if isinstance(fields.get(k), str)), None)
    found.set("title", " ".join(title.split()) if title else None)
    when = next((d for d in (_front_date(fields.get(k)) for k in _FRONT_DATE_KEYS) if d), None)
    if when is not None:
        found.set_date(when, False)
    found.set("byline", next((name for name in (_front_names(fields.get(k)) for k in _FRONT_AUTHOR_KEYS) if name),
                             None))
    return raw[match.end():]


_FRONT_LINE = re.compile(r"^(?P<key>[A-Za-z_][\w-]*)[ \t]*:(?:[ \t]+(?P<value>.*?))?[ \t]*$")


def _front_fields(block: str) -> object:
    """A front matter block's keys and values, every scalar a string (dates are read by parse_date, so a
    date that cannot be is unknown instead of breaking the block). A block YAML cannot read (a bracket left
    open) is read line by line: its top-level `key: value` lines, quotes removed; None when it has none."""
    import yaml

    try:
        return yaml.load(block, Loader=yaml.BaseLoader)  # noqa: S506 - BaseLoader builds only str, list, dict
    except yaml.YAMLError:
        pass
    found = {m["key"]: (m["value"] or "").strip("'\"") for m in map(_FRONT_LINE.match, block.splitlines()) if m}
    return found or None


def _front_names(value: object) -> str | None:
    """A front matter author (a name, or a list of names) as one byline; None for anything else."""
    names = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    joined = ", ".join(" ".join(n.split()) for n in names if isinstance(n, str) and n.strip())
    return joined or None


def clean_text(raw: str, settings: CleanSettings | None = None, feed_text: bool = False) -> CleanedArticle:
    """Clean plain text or Markdown: front matter, headline, dateline, byline, date lines, credit and footers
    (feed_text: the text is a feed entry's own, which may close with a blog's 'appeared first on' line)."""
    rules = _rules_for(settings or CleanSettings())
    front = _Found()
    raw = _front_matter(raw, front)
    text, found = _strip_boilerplate(to_paragraphs(raw), rules, take_title=True,  # the body's headline too
                                     feed_text=feed_text)
    for name in ("title", "byline", "dateline", "agency", "credit"):
        front.set(name, getattr(found, name))
    if found.published_at is not None and front.published_at is None:
        front.set_date(found.published_at, found.published_is_update)
    return _article(text, front)


def _html_date(value: str | None, html: str, url: str | None) -> datetime | None:
    """The page date as UTC (if plausible_date accepts it), refusing a day htmldate may have filled in
    unless the page or URL writes that date: the 1st (it reads a year as 1 January, 2024-05 and an
    impossible 2024-02-30 as the 1st of the month) and today's day of the month (its dateutil fallback
    takes a missing day from today); and a date whose day and month could be either way round
    (05/04/2026) unless the page or URL also writes it in a form that reads one way."""
    parsed = plausible_date(parse_date(value)) if value else None
    if parsed is None:
        return None
    day = parsed.date()
    haystack = f"{url or ''}\n{html}"
    if day.day in (1, date.today().day) and not date_is_written(day, haystack):
        LOGGER.debug("discarding %s: its day may be filled in, and the page does not write it", value)
        return None
    if day.day <= 12 and day.day != day.month and not date_is_written_unambiguously(day, haystack):
        # 05/04/2026 is 5 April or 4 May: htmldate reads it day first, plain text reads it as no date
        LOGGER.debug("discarding %s: the page writes it only as day and month either way round", value)
        return None
    iso_day = f"{day:%Y-%m-%d}"
    # A full timestamp for the same day adds the time of day. The regex scan starts where the day is
    # first written so: a plain substring search finds that much faster, and no such stamp begins earlier.
    start = html.find(f"{iso_day}T")
    if start < 0:
        return parsed
    for stamp in _ISO_STAMP.finditer(html, start):
        if stamp[1] == iso_day:
            return parse_date(f"{stamp[1]} {stamp[2]} {stamp[3]}") or parsed
    return parsed


def _page_metadata(tree: HtmlElement, url: str | None, date_params: dict[str, object],
                   site_name: str | None = None) -> Document:
    """The page's title, author, URL, date and site name, as trafilatura 2.3.1's extract_metadata finds them.

    Its steps in its order, less the categories, tags and licence, which nothing here reads and which
    cost about a third of it. None of the steps changes the tree. tests/test_clean.py compares the two.
    One addition: when the page names no site, site_name (a feed's title) stands before the URL's host.
    """
    meta = examine_meta(tree)
    if meta.author and " " not in meta.author:
        meta.author = None
    try:
        meta = extract_meta_json(tree, meta)
    except Exception as exc:  # bugs in trafilatura's JSON-LD reader
        LOGGER.warning("error in JSON metadata extraction: %s", exc)
    meta.title = meta.title or extract_title(tree)
    meta.author = meta.author or extract_author(tree)
    meta.url = meta.url or extract_url(tree, url)
    meta.date = find_date(tree, **{**date_params, "url": meta.url})
    meta.sitename = meta.sitename or extract_sitename(tree)
    if meta.sitename:
        meta.sitename = meta.sitename.lstrip("@")  # a Twitter handle
        if meta.sitename and "." not in meta.sitename and not meta.sitename[0].isupper():
            meta.sitename = meta.sitename.title()
    elif site_name:
        meta.sitename = site_name
    elif meta.url and (host := META_URL.match(meta.url)):
        meta.sitename = host[1]
    meta.clean_and_trim()
    return meta


# The page's headline among the titles it offers. trafilatura takes the first of og:title and the other
# title meta tags, the JSON-LD headline, then a heading or the <title>; on many pages that first one is
# the site's or the section's name ("Pressemitteilungen" in og:title, a logo in the only <h1>, a CMS's
# name as JSON-LD headline). The <title> element and the URL's slug name the article on nearly every page:
# a title sharing no word with either (nor, from a meta tag, a main heading), or naming the site itself,
# gives way to a title of two words or more that does not, and that is more than the same name with words
# around it.
_TITLE_WORD = re.compile(r"\w+")
_SPELLED_OUT = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_HOST = re.compile(r"https?://(?:www\d*\.)?([^/:?#]+)", re.I)
_SOCIAL_TITLE = '//meta[@property="og:title" or @name="twitter:title" or @property="twitter:title"]/@content'
_SEPARATOR_CHARS = "|–—•·»›⋆~:/-"
_TITLE_SEPARATOR = re.compile(r"\s+(?:[|–—•·»›⋆~-]|//|::)\s+")
MAX_TITLE_HEADINGS = 40  # the headings looked at for a title, in page order
MAX_SITE_NAME_WORDS = 3
MIN_SLUG_PART_CHARS = 4  # a shorter word counts as in the slug only as a whole word of it


def _ascii_fold(text: str) -> str:
    """Lower case without accents ("Café" -> "cafe")."""
    return "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))


def _title_words(text: str) -> set[str]:
    """The words of a title that can tell it apart: three letters or more, or with a digit; accents
    folded, and German letters also spelled out as a URL spells them ("Grüße" is also "gruesse")."""
    words = {w for w in _TITLE_WORD.findall(text.casefold()) if len(w) >= 3 or any(c.isdigit() for c in w)}
    return {_ascii_fold(w) for w in words} | {_ascii_fold(w.translate(_SPELLED_OUT)) for w in words}


def _compact(text: str) -> str:
    """Letters and digits only, folded: "L-Mag" and "l-mag.de"'s "l-mag" are both "lmag"."""
    return "".join(c for c in _ascii_fold(text) if c.isalnum())


@dataclass(frozen=True)
class _TitleEvidence:
    """What a page says about its own headline: the words of its <title>, its URL slugs (compact, as a
    slug often runs words together: "bischofswort"), its main headings, and the names of its site."""

    words: frozenset[str]
    slugs: tuple[str, ...]
    headings: frozenset[str]
    site_names: frozenset[str]
    host_labels: frozenset[str]

    def shares(self, title: str) -> bool:
        """Whether the title has a word of the <title> or the slug (True when the page has neither)."""
        if not self.words and not self.slugs:
            return True
        words = _title_words(title)
        return not words or any(w in self.words or any(
            w in slug if len(w) >= MIN_SLUG_PART_CHARS else w in _title_words(slug) for slug in self.slugs)
            for w in words)

    def mostly_shares(self, title: str) -> bool:
        """Whether half the title's words or more are in the <title> or the slug."""
        words = _title_words(title)
        found = [w for w in words
                 if w in self.words or len(w) >= MIN_SLUG_PART_CHARS and any(w in slug for slug in self.slugs)]
        return bool(words) and 2 * len(found) >= len(words)

    def names_site(self, title: str) -> bool:
        """Whether a title is the site's own name rather than a page's."""
        compact = _compact(title)
        words = [_compact(w) for w in _TITLE_WORD.findall(title.replace("_", " "))]
        return compact in self.site_names or any(
            (compact.startswith(label) and not _inside_word(words[0], label, str.startswith)
             or compact.endswith(label) and not _inside_word(words[-1], label, str.endswith))
            and (len(title.split()) <= MAX_SITE_NAME_WORDS or 3 * len(label) >= 2 * len(compact))
            for label in self.host_labels)


def _inside_word(word: str, label: str, at: Callable[[str, str], bool]) -> bool:
    """Whether the host's label is only the start (or end) of a longer word: "Newsom vetoes bill" does not
    name news.example, where "SPIEGEL ONLINE" names spiegel.de and "Rosa-Luxemburg-Stiftung" rosalux.de."""
    return len(word) > len(label) and at(word, label)


def _title_evidence(tree: HtmlElement, page_title: str, sitename: str | None,
                    urls: tuple[str | None, ...]) -> _TitleEvidence:
    """The page's evidence for its headline. A site name trafilatura took from the <title> (the part with
    a dot in it) is only its guess, and often the headline ("... kosteten 57.000 Euro"): not the site's name."""
    slugs, names, labels = [], set(), set()
    for url in urls:
        if not url:
            continue
        if slug := _compact(url_slug(url).rsplit(".", 1)[0]):
            slugs.append(slug)
        if host := _HOST.match(url):
            name = host[1].lower()
            names |= {_compact(name), _compact(name.rsplit(".", 1)[0])}
            if len(label := _compact(name.split(".", 1)[0])) >= MIN_SLUG_PART_CHARS:
                labels.add(label)
    if sitename and sitename != extract_sitename(tree):
        names.add(_compact(sitename))
    names.discard("")
    headings = frozenset(_compact(block_text(h)) for h in itertools.islice(tree.iter("h1"), MAX_TITLE_HEADINGS))
    return _TitleEvidence(frozenset(_title_words(page_title)), tuple(slugs), headings, frozenset(names),
                          frozenset(labels))


def _headline(tree: HtmlElement, title: str | None, sitename: str | None, url: str | None,
              meta_url: str | None) -> str | None:
    """The page's headline: trafilatura's title unless the page's evidence says it is not the article's,
    then the first of the page's other titles the evidence bears out (else trafilatura's after all)."""
    if not title:
        return title
    page_title, first, second = examine_title_element(tree)
    evidence = _title_evidence(tree, page_title, sitename, (url, meta_url))
    # a meta tag's title that the <title> does not bear out but that is also a main heading stands:
    # two of the page's own sources agree (an og:title beside a <title> written for search engines)
    if not evidence.names_site(title) and (evidence.shares(title) or (
            _compact(title) in evidence.headings and title == examine_meta(tree).title)):
        return _without_site_name(title, evidence)
    rejected = _compact(title)

    def better(candidate: str | None, strict: bool) -> bool:
        if not candidate or len(candidate.split()) < 2 or rejected in _compact(candidate):
            return False
        if evidence.names_site(candidate):
            return False
        return evidence.mostly_shares(candidate) if strict else evidence.shares(candidate)

    others: list[tuple[str | None, bool]] = [(extract_title(tree), False)]
    others += [(found, False) for found in tree.xpath(_SOCIAL_TITLE)]
    # the <title>'s parts as trafilatura reads them, one without a dot first; the whole only when unsplit
    parts = sorted((p for p in (first, second) if p), key=lambda p: "." in p) if first or second else [page_title]
    others += [(part, False) for part in parts]
    if evidence.words or evidence.slugs:  # any heading may be the article's: one the page mostly bears out
        headings = itertools.islice(tree.iter("h1", "h2", "h3"), MAX_TITLE_HEADINGS)
        others += [(" ".join(block_text(h).split()), True) for h in headings]
    found = next((" ".join(c.split()) for c, strict in others if better(c, strict)), None)
    return _without_site_name(found, evidence) if found else title


def _without_site_name(title: str, evidence: _TitleEvidence) -> str:
    """The title less the site's name before or after it ("Headline | Site", "SITE - Headline"); the page's
    main heading is its headline as written ("Apple - the company that ..." on apple.com)."""
    parts = _TITLE_SEPARATOR.split(title)
    if _compact(title) in evidence.headings:
        return title
    rest = ""
    if len(parts) > 1 and evidence.names_site(parts[-1]):
        rest = title[:title.rindex(parts[-1])].strip().rstrip(_SEPARATOR_CHARS)
    elif len(parts) > 1 and evidence.names_site(parts[0]):
        rest = title[len(parts[0]):].strip().lstrip(_SEPARATOR_CHARS)
    return " ".join(rest.split()) or title


def _page_url(html: str, meta_url: str | None, url: str | None) -> str | None:
    """The page's own canonical address: its canonical link, else the URL its metadata gives (og:url),
    else the address it was fetched from; in canonical form (tracking parameters dropped)."""
    found = canonical_link(html, url) or meta_url or url
    return canonical_url(found) if found else None


_PAGE_TAG = re.compile(r"<(?:html|head|body)\b", re.I)


def _as_page(html: str) -> str:
    """The markup as trafilatura takes it: a fragment with no <html>, <head> or <body> (a feed's text, a
    saved article body) inside a page of its own. trafilatura refuses markup that does not name html in
    its first 50 characters unless it parses to two blocks or more, logging an ERROR, so a one-paragraph
    fragment ("<p>...</p>") would be "no article text" and a line in the run's log for each."""
    return html if _PAGE_TAG.search(html) else f"<html><body>{html}</body></html>"


def clean_html(html: str, url: str | None = None, settings: CleanSettings | None = None,
               site_name: str | None = None, feed_text: bool = False) -> CleanedArticle:
    """Extract the article from an HTML page with trafilatura, then apply the text rules
    (site_name: the site's name when the page names none, such as the title of the feed linking it;
    feed_text: the HTML is a feed entry's own text, as in clean_text)."""
    rules = _rules_for(settings or CleanSettings())
    date_params = {**_HTML_DATE_PARAMS, "max_date": datetime.now().strftime("%Y-%m-%d")}
    try:
        # Parsed once: the metadata reads this tree, and bare_extraction works on its own copy of it, so
        # a page without article text needs neither a second parse nor a second metadata pass.
        tree = trafilatura.load_html(_as_page(html))
        meta = _page_metadata(tree, url, date_params, site_name) if tree is not None else Document()
        if tree is not None:
            meta.title = _headline(tree, meta.title, meta.sitename, url, meta.url)
        # With links and images off, the URL the metadata found would change nothing in the extraction.
        doc = None if tree is None else trafilatura.bare_extraction(
            tree, url=url, include_comments=False, include_tables=True, include_images=False,
            include_links=False, include_formatting=False)
        if doc is None or not (doc.text or "").strip():
            # No article text; keep what the page says about itself for a feed-content fallback.
            return CleanedArticle(title=" ".join((meta.title or "").split()) or None, text="",
                                  published_at=_html_date(meta.date, html, url), site_name=meta.sitename or None,
                                  canonical_url=_page_url(html, meta.url, url))
        title = " ".join((meta.title or "").split()) or None
        paras = to_paragraphs(doc.text)
        if paras and title and paras[0].casefold() == title.casefold():
            paras = paras[1:]  # the page heading repeated as the first line
        # trafilatura has already weighed each list by its link density in the markup; a list it kept
        # (ingredients, specifications, key points) is part of the article, so only text rules apply.
        text, found = _strip_boilerplate(paras, rules, take_title=False, drop_lists=False, feed_text=feed_text)
        published = _html_date(meta.date, html, url) or found.published_at
        found.byline = " ".join((meta.author or "").split()) or found.byline
        return _article(text, found, title=title, published_at=published, site_name=meta.sitename or None,
                        canonical_url=_page_url(html, meta.url, url))
    except Exception as exc:  # odd markup must cost this page only
        LOGGER.warning("HTML extraction failed for %s: %s: %s", url, type(exc).__name__, exc)
        return CleanedArticle(title=None, text="")


def _clean_feed_content(content: str, url: str | None, settings: CleanSettings,
                        site_name: str | None = None) -> CleanedArticle:
    """Clean the feed's own copy of an article: a whole page, an HTML fragment or plain text."""
    if looks_like_html(content):
        cleaned = clean_html(content, url, settings, site_name, feed_text=True)
        if word_count(cleaned.text) >= settings.min_words:
            return cleaned
    return clean_text(fragment_text(content), settings, feed_text=True)


def _clean_one(doc: RawDocument, settings: CleanSettings) -> CleanedArticle | str:
    """Clean one document, or return the one-line reason it cannot be used."""
    if not doc.raw.strip():
        return "empty file"
    try:
        text = decode_bytes(doc.raw, doc.charset, markup=doc.media_type == "text/html")
    except RejectedInput as exc:
        return one_line(str(exc))
    if not text.strip():
        return "empty file"
    is_html = (doc.media_type == "text/html" and "<" in text) or looks_like_html(text)
    if doc.media_type == "text/html" and not is_html:
        text = fragment_text(text)  # HTML with no tag (a feed's text) is still HTML: 'AT&amp;T' is 'AT&T'
    # the feed's text stands in for a page it could not fetch: a heading or first line in it is no headline
    title_from_feed_text = doc.feed_content is not None and doc.raw == doc.feed_content.encode("utf-8")
    cleaned = (clean_html(text, doc.url, settings, doc.site_name, feed_text=title_from_feed_text) if is_html
               else clean_text(text, settings, feed_text=title_from_feed_text))
    words = word_count(cleaned.text)
    if words < max(settings.min_words, 1) and doc.feed_content:
        fallback = _clean_feed_content(doc.feed_content, doc.url, settings, doc.site_name)
        if word_count(fallback.text) > words and word_count(fallback.text) >= settings.min_words:
            # the page's own headline stays; the feed's text read first is no page, its heading no headline
            title_from_feed_text = title_from_feed_text or not (cleaned.title and not cleaned.title_derived)
            if not title_from_feed_text:
                fallback.title, fallback.title_derived = cleaned.title, False
            fallback.published_at = cleaned.published_at or fallback.published_at
            fallback.site_name = cleaned.site_name or fallback.site_name
            fallback.canonical_url = cleaned.canonical_url or fallback.canonical_url
            fallback.feed_text_reason = (f"the page gave {words} word{'' if words == 1 else 's'}" if words
                                         else "the page gave no article text")
            cleaned, words = fallback, word_count(fallback.text)
    if not cleaned.text:
        if is_html:
            return "no article text found in HTML"
        written = word_count(text)  # a note of a few words is too little text, not all boilerplate
        if written < settings.min_words:
            return _too_little(written, settings.min_words)
        return "no text left after removing boilerplate"
    if words < settings.min_words:
        return _too_little(words, settings.min_words)
    if words > MAX_ARTICLE_WORDS:
        return f"too much text for one article: {words:,} words (maximum {MAX_ARTICLE_WORDS:,})"
    if doc.feed_title and doc.feed_title.strip() and (cleaned.title is None or cleaned.title_derived
                                                      or title_from_feed_text):
        cleaned.title, cleaned.title_derived = " ".join(doc.feed_title.split()), False
    if doc.feed_published_at is not None:
        cleaned.published_at = doc.feed_published_at
    if doc.in_place_of:  # the feed's text was the input: the page could not be had
        cleaned.feed_text_reason = doc.in_place_of
    cleaned.site_name = cleaned.site_name or doc.site_name  # feed content in plain text names no site
    if not cleaned.byline and doc.feed_author:  # the feed names who wrote it; the text or page did not
        author = " ".join(doc.feed_author.split())
        cleaned.byline = byline_of(author) or author  # "By Ann Lee" (a feed that writes it so) is "Ann Lee"
    return cleaned


def _too_little(words: int, minimum: int) -> str:
    """The reason a text too short to store is rejected."""
    return f"too little text: {words} word{'' if words == 1 else 's'} (minimum {minimum})"


def clean_chunk(docs: list[RawDocument], settings: CleanSettings) -> list[CleanedArticle | str]:
    """Clean each document of a chunk into its article, or the one-line reason it cannot be used.

    A module-level function of plain data, so worker processes can run it on their share of a batch.
    """
    outcomes: list[CleanedArticle | str] = []
    for doc in docs:
        try:
            outcomes.append(_clean_one(doc, settings))
        except Exception as exc:  # one bad document must not stop the batch
            LOGGER.exception("cleaning failed for %s", doc.locator)
            outcomes.append(one_line(f"cleaning failed: {type(exc).__name__}: {exc}"))
    return outcomes


def clean_documents(docs: list[RawDocument], settings: CleanSettings, map_chunks: ChunkMapper | None = None
                    ) -> tuple[list[tuple[RawDocument, CleanedArticle]], list[Reject]]:
    """Clean a batch; each unusable document becomes a Reject with a one-line reason, never an error.

    map_chunks, when given, runs clean_chunk over parts of the batch (in worker processes) and
    returns the outcomes in document order; without it the batch is cleaned here.
    """
    outcomes = map_chunks(clean_chunk, docs, settings) if map_chunks else clean_chunk(docs, settings)
    kept: list[tuple[RawDocument, CleanedArticle]] = []
    rejects: list[Reject] = []
    for doc, outcome in zip(docs, outcomes, strict=True):
        if isinstance(outcome, str):
            # the feed's text stood in for a page: the reason says why, or the page's failure would be lost
            reason = f"{doc.in_place_of}; the feed's text instead: {outcome}" if doc.in_place_of else outcome
            rejects.append(Reject(doc.source, doc.locator, one_line(reason), doc.content_hash))
        else:
            kept.append((doc, outcome))
    return kept, rejects
