"""Tests for tasks.sources.urls: the one home of the URL rules (canonical form, tracking parameters,
slug, canonical link), and that dedup and the warehouse use the same rule."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from config.settings import DedupSettings
from tasks.records import Article, CleanedArticle, KnownArticle, RawDocument
from tasks.s3_fingerprint import prepare
from tasks.s4_dedup import assign
from tasks.sources.urls import article_url, canonical_link, canonical_url, url_slug
from warehouse.read import SQL_URL_SLUG

FEEDS = Path(__file__).resolve().parent / "data" / "feeds"
SITE = "https://news.example.org"


# --- canonical URLs ---------------------------------------------------------------------------------

@pytest.mark.parametrize("url, expected", [
    ("HTTPS://News.Example.ORG:443/a/b/?utm_source=x&id=3&utm_medium=y#top", "https://news.example.org/a/b?id=3"),
    ("http://example.org:80", "http://example.org/"),
    ("http://example.org:8080/x/", "http://example.org:8080/x"),
    ("https://example.org/?fbclid=1&gclid=2&mc_cid=3&mc_eid=4&igshid=5&ref=6", "https://example.org/"),
    ("https://example.org/p?b=2&a=1&UTM_Campaign=z&a=0", "https://example.org/p?b=2&a=1&a=0"),
    ("https://example.org/search?q=a%20b&flag", "https://example.org/search?q=a%20b&flag"),
    ("https://example.org/story?reference=1", "https://example.org/story?reference=1"),
    ("https://[2001:DB8::1]:443/x", "https://[2001:db8::1]/x"),
    ("mailto:desk@example.org", "mailto:desk@example.org"),
])
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


_SEGMENT = st.text(alphabet="abcXYZ019-._~%/", max_size=8)
_PARAM = st.tuples(st.sampled_from(["id", "q", "utm_source", "fbclid", "Ref", "page", "a b"]),
                   st.text(alphabet="abc12%+", max_size=4))


@given(scheme=st.sampled_from(["http", "HTTPS", "hTTp"]), host=st.sampled_from(["Example.ORG", "news.example.org"]),
       port=st.sampled_from(["", ":80", ":443", ":8080"]), path=st.lists(_SEGMENT, max_size=4),
       params=st.lists(_PARAM, max_size=5), fragment=st.text(alphabet="abc#", max_size=4),
       slash=st.booleans())
def test_canonical_url_is_idempotent_and_clean(scheme: str, host: str, port: str, path: list[str],
                                               params: list[tuple[str, str]], fragment: str, slash: bool) -> None:
    query = "&".join(f"{k}={v}" for k, v in params)
    url = f"{scheme}://{host}{port}/{'/'.join(path)}{'/' if slash else ''}{'?' + query if query else ''}" \
          f"{'#' + fragment if fragment else ''}"
    once = canonical_url(url)
    assert canonical_url(once) == once
    assert "#" not in once and "utm_source" not in once and "fbclid" not in once
    assert once.startswith(("http://", "https://")) and once.split("/", 3)[2] == once.split("/", 3)[2].lower()
    kept = [f"{k}={v}" for k, v in params if k not in ("utm_source", "fbclid", "Ref")]
    assert once.partition("?")[2] == "&".join(kept)


def test_canonical_link_resolved_against_page_url() -> None:
    page = (FEEDS / "articles" / "floods.html").read_bytes()
    assert canonical_link(page, "https://news.example.org/articles/floods.html?id=7") == \
        "https://news.example.org/news/2025/03/floods-close-northern-highway"
    upper = (FEEDS / "articles" / "telescope.html").read_text()
    assert canonical_link(upper, "https://x.example.org/") == "https://science.example.org/2025/telescope-first-light"


def test_canonical_link_absent_or_unusable() -> None:
    assert canonical_link((FEEDS / "articles" / "talks.html").read_bytes(), SITE) is None
    assert canonical_link(b"", SITE) is None
    assert canonical_link('<link rel="canonical" href="javascript:alert(1)">', SITE) is None
    assert canonical_link('<head><base href="https://cdn.example.org/a/"><link rel="canonical" href="b"></head>',
                          SITE) == "https://cdn.example.org/a/b"


# --- the article URL dedup compares ------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "expected"), [
    ("HTTPS://News.Example.COM/world/story-1/?utm_source=rss&utm_medium=feed#top",
     "https://news.example.com/world/story-1"),
    ("https://news.example.com:443/world/story-1?b=2&fbclid=abc&a=1&gclid=x",
     "https://news.example.com/world/story-1?b=2&a=1"),
    ("http://news.example.com:8080/a/", "http://news.example.com:8080/a"),
    ("https://news.example.com/world/story-1?ref=rss&ito=1&ocid=x", "https://news.example.com/world/story-1"),
    ("https://news.example.com/", None),
    ("https://news.example.com", None),
    ("/relative/path", None),
    ("mailto:desk@example.org", None),
    ("", None),
    (None, None),
])
def test_article_url(raw: str | None, expected: str | None) -> None:
    assert article_url(raw) == expected


def _article(article_id: str, text: str, url: str) -> Article:
    doc = RawDocument(source="feed", locator=url, content_hash=article_id * 4, raw=b"", media_type="text/html",
                      url=url)
    return Article(article_id=article_id, doc=doc, cleaned=CleanedArticle(title=None, text=text, canonical_url=url))


def test_dedup_strips_every_tracking_parameter_the_feed_rule_strips() -> None:
    """The same article reached with ?ref=/ito=/ocid= links is a URL duplicate (the old dedup rule kept
    those parameters and let the copy through as a new article)."""
    settings = DedupSettings()
    stored = _article("a" * 16, "The harbour wall will be rebuilt before winter, the council said. " * 5,
                      "https://paper.example.org/local/harbour-wall")
    prepare([stored], settings)
    known = [KnownArticle(article_id=stored.article_id, text_hash=stored.text_hash, canonical_url=stored.cleaned.canonical_url,
                          minhash=stored.minhash, story_id="story-1", story_terms=stored.story_terms,
                          seen_at=datetime.now(timezone.utc), duplicate_of=None)]
    again = _article("b" * 16, "Completely different words about a tram line and a library reopening. " * 5,
                     "https://paper.example.org/local/harbour-wall?ref=homepage&ito=792&ocid=socialflow")
    assign([again], known, settings, datetime.now(timezone.utc))
    assert (again.duplicate_of, again.duplicate_kind) == (stored.article_id, "url")


_SLUG_URLS = [
    "https://news.example.org/world/2025/story-one", "https://news.example.org/world/story-one/",
    "https://news.example.org/World/Story-One?id=3#top", "https://news.example.org/a/b/?q=1/2",
    "https://news.example.org", "https://news.example.org/", "https://news.example.org/x#frag/ment",
    "https://news.example.org/caf\u00e9/\u00c9T\u00c9", "https://news.example.org/a//", "no-slashes-at-all",
    "https://news.example.org/%C3%A9t%C3%A9", "https://news.example.org/a?b#c?d", "",
]


def _sql_slugs(urls: list[str]) -> list[str]:
    con = duckdb.connect()
    try:
        return [row[0] for row in con.execute(
            f"SELECT {SQL_URL_SLUG} FROM (SELECT unnest(?::VARCHAR[]) AS url, generate_subscripts(?::VARCHAR[], 1) AS i)"
            " ORDER BY i", [urls, urls]).fetchall()]
    finally:
        con.close()


def test_sql_slug_equals_python_slug() -> None:
    assert _sql_slugs(_SLUG_URLS) == [url_slug(u) for u in _SLUG_URLS]


@hypothesis_settings(deadline=None)  # DuckDB's first query in a process can take longer than hypothesis's 200 ms
@given(st.lists(st.text(alphabet="abcXYZ\u00e9\u00c9019-._~%/?#=&:", max_size=30), min_size=1, max_size=20))
def test_sql_slug_equals_python_slug_on_generated_urls(paths: list[str]) -> None:
    urls = [f"https://news.example.org/{p}" for p in paths]
    assert _sql_slugs(urls) == [url_slug(u) for u in urls]
