"""Builds the speed benchmark's pages: real HTML pages and BBC texts wrapped as news sites' article pages."""

from __future__ import annotations

import gzip
import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cached_property
from html import escape
from pathlib import Path

from bench import BbcArticle, load_bbc

EXTRACTION_SET = "extraction-dev"
SEED = 20240611
# Past the real pages, every SYNDICATED_EVERY-th generated page is another outlet's copy of a BBC
# article (a near or exact duplicate); the others mix sentences of three articles of one category.
SYNDICATED_EVERY = 5
REMIX_SOURCES = 3
MAX_AGE_HOURS = 72  # generated pages carry a publication time within the last three days
# Held-out BBC articles (the incremental runs' new pages) are ones whose 4-word shingles overlap no
# other article of the set by more than these shares (Jaccard, and containment of the smaller text),
# so no page of the sequence, which only uses the other articles, is a near copy of them.
HELD_OUT_MAX_JACCARD = 0.05
HELD_OUT_MAX_CONTAINMENT = 0.1
HELD_OUT_MAX_SHARE = 0.5    # at most this share of the BBC articles is held out
HELD_OUT_SERIAL = 10_000_000  # new pages' serials (in their URLs) start here, apart from the sequence's
SHINGLE_WORDS = 4
# Languages whose stemmers need packages the project does not install: a page in one of them stops a
# run, so the page set leaves them out (and says how many it left out).
UNSUPPORTED_LANGUAGES = frozenset({"pl", "el"})
LANGUAGE_SAMPLE_CHARS = 20_000

_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")
_HTML_LANG_RE = re.compile(rb"<html[^>]*?\blang\s*=\s*[\"']?([A-Za-z]{2})", re.I)
_NOT_TEXT_RE = re.compile(r"<(script|style|noscript)\b.*?</\1\s*>|<!--.*?-->", re.I | re.S)
_TAG_RE = re.compile(r"<[^>]+>")
_NOISE_RE = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class Page:
    """One benchmark page: its file name and its bytes."""

    name: str
    html: bytes


@dataclass(frozen=True)
class _Site:
    """One news site's template: its name, domain, section names and boilerplate."""

    name: str
    domain: str
    sections: tuple[str, ...]
    footer_links: tuple[str, ...]
    newsletter: str


SITES = (
    _Site("The Morning Ledger", "morningledger.example", ("World", "Business", "Politics", "Sport", "Tech", "Culture"),
          ("About us", "Contact", "Careers", "Advertise", "Privacy policy", "Cookie settings", "Terms of use"),
          "Get the Morning Ledger briefing in your inbox every weekday."),
    _Site("Harbour City Post", "harbourpost.example", ("Local", "National", "Money", "Sport", "Science", "Arts"),
          ("Help", "Subscribe", "Our journalism", "Corrections", "Privacy", "Accessibility", "Sitemap"),
          "Sign up for our free evening newsletter."),
    _Site("Northern Wire", "northernwire.example", ("News", "Economy", "Politics", "Football", "Digital", "Life"),
          ("Imprint", "Data protection", "Newsletter", "RSS", "Apps", "Jobs", "Media kit"),
          "Subscribe to Northern Wire Daily: the five stories you need."),
)
CATEGORY_SECTION = {"business": 1, "entertainment": 5, "politics": 2, "sport": 3, "tech": 4}
AUTHORS = ("Jane Whitfield", "Tomas Berg", "Amina Yusuf", "Oliver Grant", "Priya Nair", "Lukas Meyer",
           "Sara Lindgren", "David Okoye", "Claire Dubois", "Marco Rossi")
AGENCIES = ("Reuters", "AFP", "Associated Press", "PA Media")
TRENDING = ("Markets slide as rate fears return", "Storm warnings issued for the coast",
            "Council approves new cycle lanes", "Star striker signs three-year deal",
            "Ten gadgets worth buying this year", "Inside the race to build faster chips",
            "Festival line-up announced", "What the budget means for you")


def page_language(html: bytes) -> str:
    """A page's language: its <html lang> attribute, else a guess from its visible text."""
    declared = _HTML_LANG_RE.search(html[:5000])
    if declared:
        return declared.group(1).decode("ascii").lower()
    import py3langid

    return py3langid.classify(" ".join(visible_text(html).split())[:LANGUAGE_SAMPLE_CHARS])[0]


def visible_text(html: bytes) -> str:
    """A page's text without markup, scripts, styles and comments (roughly, for sampling)."""
    return _TAG_RE.sub(" ", _NOT_TEXT_RE.sub(" ", html.decode("utf-8", "replace")))


def _extraction_pages(data_dir: Path) -> list[tuple[str, bytes]]:
    """The extraction set's pages as (name, HTML bytes), in file-name order, without unsupported languages."""
    folder = Path(data_dir) / EXTRACTION_SET / "html"
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not found (pass --data pointing at the shared data)")
    pages = []
    for path in sorted(folder.glob("*.html.gz")):
        try:
            html = gzip.decompress(path.read_bytes())
        except (OSError, EOFError):
            continue  # a truncated archive is not a page
        if page_language(html) not in UNSUPPORTED_LANGUAGES:
            pages.append((path.name.removesuffix(".html.gz"), html))
    return pages


def _sentences(text: str) -> list[str]:
    """A BBC body's sentences, paragraph breaks dropped."""
    return [s.strip() for para in text.split("\n") for s in _SENTENCE_RE.split(para) if s.strip()]


def _paragraphs(sentences: list[str], rng: random.Random) -> list[str]:
    """Group sentences into paragraphs of one to three sentences."""
    paras, i = [], 0
    while i < len(sentences):
        step = rng.randint(1, 3)
        paras.append(" ".join(sentences[i:i + step]))
        i += step
    return paras


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[str]:
    """The distinct runs of `size` consecutive lowercase words of a text (as the pipeline's dedup compares)."""
    words = _NOISE_RE.sub(" ", text.casefold()).split()
    return {" ".join(words[i:i + size]) for i in range(max(1, len(words) - size + 1))} if words else set()


def overlaps(queries: list[set[str]], others: list[set[str]] | None = None) -> list[tuple[float, float]]:
    """For each query shingle set, its largest Jaccard and largest containment (of the smaller set) with
    any set of `others` (by default: with any other query set)."""
    against = queries if others is None else others
    postings: dict[str, list[int]] = {}
    for j, s in enumerate(against):
        for shingle in s:
            postings.setdefault(shingle, []).append(j)
    out = []
    for i, s in enumerate(queries):
        shared: dict[int, int] = {}
        for shingle in s:
            for j in postings.get(shingle, ()):
                if others is not None or j != i:
                    shared[j] = shared.get(j, 0) + 1
        jaccard = max((n / (len(s) + len(against[j]) - n) for j, n in shared.items()), default=0.0)
        containment = max((n / min(len(s), len(against[j])) for j, n in shared.items()), default=0.0)
        out.append((jaccard, containment))
    return out


def _slug(title: str) -> str:
    """A URL slug for a headline."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60] or "story"


def article_page(site: _Site, serial: int, headline: str, paragraphs: list[str], category: str,
                 published: datetime, author: str, credit: str | None = None) -> str:
    """A full article page of a news site: head metadata, navigation, the article, related links, footer."""
    section = site.sections[CATEGORY_SECTION.get(category, 0)]
    url = f"https://www.{site.domain}/{section.lower()}/{_slug(headline)}-{serial}"
    stamp = published.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    nav = "\n".join(f'      <li><a href="/{s.lower()}">{escape(s)}</a></li>' for s in site.sections)
    body = "\n".join(f"      <p>{escape(p)}</p>" for p in paragraphs)
    if credit:
        body += f"\n      <p>{escape(credit)}</p>"
    related = "\n".join(f'        <li><a href="/{section.lower()}/{_slug(t)}">{escape(t)}</a></li>'
                        for t in TRENDING[serial % 4:serial % 4 + 4])
    footer = " | ".join(f'<a href="/{_slug(f)}">{escape(f)}</a>' for f in site.footer_links)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{escape(headline)} | {escape(site.name)}</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="description" content="{escape(paragraphs[0][:150] if paragraphs else headline)}">
  <link rel="canonical" href="{url}">
  <meta property="og:type" content="article">
  <meta property="og:title" content="{escape(headline)}">
  <meta property="og:url" content="{url}">
  <meta property="og:site_name" content="{escape(site.name)}">
  <meta property="article:published_time" content="{stamp}">
  <meta name="author" content="{escape(author)}">
  <link rel="stylesheet" href="/static/site.css">
  <script>window.dataLayer = window.dataLayer || []; dataLayer.push({{"section": "{section}"}});</script>
</head>
<body class="article-page">
  <div id="cookie-banner" class="banner">We use cookies to improve your experience.
    <button>Accept all</button> <a href="/cookies">Manage preferences</a></div>
  <header class="site-header">
    <a class="logo" href="/">{escape(site.name)}</a>
    <nav class="primary"><ul>
{nav}
    </ul></nav>
    <form class="search" action="/search"><input name="q" placeholder="Search"></form>
  </header>
  <main>
    <nav class="breadcrumb"><a href="/">Home</a> &rsaquo; <a href="/{section.lower()}">{escape(section)}</a></nav>
    <article class="story">
      <h1>{escape(headline)}</h1>
      <p class="byline">By <a rel="author" href="/authors/{_slug(author)}">{escape(author)}</a></p>
      <time datetime="{stamp}">{published:%d %B %Y, %H:%M}</time>
      <div class="story-body">
{body}
      </div>
      <div class="share">Share this article: <a href="#">Facebook</a> <a href="#">X</a> <a href="#">Email</a></div>
    </article>
    <aside class="related">
      <h2>Related stories</h2>
      <ul>
{related}
      </ul>
    </aside>
    <section class="newsletter"><h2>Newsletter</h2><p>{escape(site.newsletter)}</p>
      <form><input type="email" placeholder="Your email"><button>Sign up</button></form></section>
  </main>
  <footer class="site-footer">
    <p>{footer}</p>
    <p>&copy; {published.year} {escape(site.name)}. All rights reserved.</p>
  </footer>
</body>
</html>
"""


class PageSource:
    """An endless, deterministic sequence of pages: the real pages in shuffled order, then generated ones.

    With held_out > 0, that many BBC articles are kept out of the sequence altogether (neither as
    pages of their own nor as sources of copies and remixes): new_pages() wraps them as pages that
    are new to a warehouse holding any stretch of the sequence.
    """

    def __init__(self, data_dir: Path, now: datetime | None = None, seed: int = SEED, held_out: int = 0) -> None:
        self.data_dir = Path(data_dir)
        self.now = (now or datetime.now(timezone.utc)).replace(minute=0, second=0, microsecond=0)
        self.seed = seed
        self.held_out = max(0, held_out)

    @cached_property
    def _bbc(self) -> list[BbcArticle]:
        return load_bbc(self.data_dir)

    @cached_property
    def _reserved(self) -> list[int]:
        """Indices of the held-out BBC articles: distinct from every other article, spread over categories."""
        if not self.held_out:
            return []
        sets = [shingles(f"{a.headline}\n{a.body}") for a in self._bbc]
        eligible = [i for i, (jaccard, containment) in enumerate(overlaps(sets))
                    if jaccard < HELD_OUT_MAX_JACCARD and containment < HELD_OUT_MAX_CONTAINMENT]
        limit = min(len(eligible), int(len(self._bbc) * HELD_OUT_MAX_SHARE))
        if self.held_out > limit:
            raise ValueError(f"{self.held_out} new pages asked for, but at most {limit} BBC articles can be held out")
        rng = random.Random(self.seed + 1)
        queues: dict[str, list[int]] = {}
        for i in eligible:
            queues.setdefault(self._bbc[i].category, []).append(i)
        for queue in queues.values():
            rng.shuffle(queue)
        picked: list[int] = []
        while len(picked) < self.held_out:  # round robin over the categories
            for category in sorted(queues):
                if queues[category] and len(picked) < self.held_out:
                    picked.append(queues[category].pop())
        return picked

    @cached_property
    def _pool(self) -> list[int]:
        """Indices of the BBC articles the sequence may use: all but the held-out ones."""
        reserved = set(self._reserved)
        return [i for i in range(len(self._bbc)) if i not in reserved]

    @cached_property
    def _by_category(self) -> dict[str, list[BbcArticle]]:
        groups: dict[str, list[BbcArticle]] = {}
        for i in self._pool:
            groups.setdefault(self._bbc[i].category, []).append(self._bbc[i])
        return groups

    @cached_property
    def _real(self) -> list[tuple[str, int]]:
        """(kind, index) of every real page, shuffled once: extraction pages and BBC originals mixed."""
        order = [("x", i) for i in range(len(self._extraction))] + [("b", i) for i in self._pool]
        random.Random(self.seed).shuffle(order)
        return order

    @cached_property
    def _extraction(self) -> list[tuple[str, bytes]]:
        return _extraction_pages(self.data_dir)

    def _wrap(self, k: int, rng: random.Random, article: BbcArticle, headline: str, sentences: list[str],
              site: _Site, credit: str | None = None) -> bytes:
        published = self.now - timedelta(hours=rng.randrange(MAX_AGE_HOURS), minutes=rng.randrange(60))
        html = article_page(site, k, headline, _paragraphs(sentences, rng), article.category, published,
                            rng.choice(AUTHORS), credit)
        return html.encode("utf-8")

    def page(self, k: int) -> Page:
        """The k-th page of the sequence."""
        rng = random.Random(self.seed * 1_000_003 + k)
        if k < len(self._real):
            kind, index = self._real[k]
            if kind == "x":
                name, html = self._extraction[index]
                return Page(f"p{k:06d}-x-{_slug(name)[:40]}.html", html)
            article = self._bbc[index]
            html = self._wrap(k, rng, article, article.headline, _sentences(article.body), SITES[k % len(SITES)])
            return Page(f"p{k:06d}-bbc-{article.category}-{article.name}.html", html)
        if k % SYNDICATED_EVERY == 0:  # another outlet's copy: its own headline and an agency credit
            article = self._bbc[self._pool[rng.randrange(len(self._pool))]]
            headline = f"{article.headline}: what we know"
            html = self._wrap(k, rng, article, headline, _sentences(article.body), SITES[(k + 1) % len(SITES)],
                              credit=f"Additional reporting by {rng.choice(AGENCIES)}")
            return Page(f"p{k:06d}-copy-{article.category}-{article.name}.html", html)
        category = rng.choice(sorted(self._by_category))
        picks = rng.sample(self._by_category[category], REMIX_SOURCES)
        parts = [_sentences(a.body) for a in picks]
        mixed = [s for group in zip(*parts) for s in group]
        html = self._wrap(k, rng, picks[0], f"{picks[0].headline} as {picks[1].headline.lower()}", mixed,
                          SITES[k % len(SITES)])
        return Page(f"p{k:06d}-mix-{category}.html", html)

    def pages(self, start: int, count: int) -> list[Page]:
        """Pages start .. start + count - 1 of the sequence."""
        return [self.page(k) for k in range(start, start + count)]

    def new_pages(self) -> list[Page]:
        """The held-out BBC articles, each wrapped as a news site's article page like the sequence's originals."""
        pages = []
        for j, index in enumerate(self._reserved):
            serial = HELD_OUT_SERIAL + j
            rng = random.Random(self.seed * 1_000_003 + serial)
            article = self._bbc[index]
            html = self._wrap(serial, rng, article, article.headline, _sentences(article.body),
                              SITES[j % len(SITES)])
            pages.append(Page(f"n{j:06d}-bbc-{article.category}-{article.name}.html", html))
        return pages

    def new_page_overlap(self, start: int, count: int) -> tuple[float, float]:
        """The largest 4-word-shingle Jaccard and containment between a new page's text and any text that
        pages start .. start + count - 1 draw on (BBC sources; extraction pages by their visible text)."""
        if not self._reserved:
            return 0.0, 0.0
        bbc: set[int] = set()
        extraction: set[int] = set()
        for k in range(start, start + count):
            if k >= len(self._real):
                bbc.update(self._pool)  # generated pages draw on the whole pool
                break
            kind, index = self._real[k]
            (extraction if kind == "x" else bbc).add(index)
        used = [f"{self._bbc[i].headline}\n{self._bbc[i].body}" for i in sorted(bbc)]
        used += [visible_text(self._extraction[i][1]) for i in sorted(extraction)]
        new = [shingles(f"{self._bbc[i].headline}\n{self._bbc[i].body}") for i in self._reserved]
        found = overlaps(new, [shingles(t) for t in used])
        return max(j for j, _ in found), max(c for _, c in found)


def write_pages(pages: list[Page], folder: Path) -> list[Path]:
    """Write pages into a folder (created if needed) and return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for page in pages:
        path = folder / page.name
        path.write_bytes(page.html)
        paths.append(path)
    return paths
