"""Feed parsing, URL canonicalisation and poll_feeds end to end against a real server on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from config.settings import CleanSettings, HttpSettings, SourceSettings
from tasks.sources.feeds import (FeedParseError, ParsedFeed, SourceState, parse_feed,
                         poll_feeds, word_count)
from tasks.sources.http import HttpClient
from tasks.records import RawDocument, Reject
from tasks.s2_clean import clean_documents
from tests.conftest import hits

FEEDS = Path(__file__).resolve().parent / "data" / "feeds"
NOW = datetime(2025, 3, 6, 12, 0, tzinfo=timezone.utc)
SITE = "https://news.example.org"
RSS_TYPE = "application/rss+xml"
# world.rss has one entry with neither link nor guid: nothing to know it by, so it is not read, and the feed says so
WORLD_OK = "ok (1 of 4 entries have neither link nor guid: not read)"
PAGES = ("floods", "rates", "talks", "telescope", "comet")


def feed_bytes(name: str, base: str = SITE) -> bytes:
    """A recorded feed with its @BASE@ links pointed at base."""
    return (FEEDS / name).read_bytes().replace(b"@BASE@", base.encode())


@pytest.fixture()
def client():
    with HttpClient(HttpSettings(connect_timeout=1.0, read_timeout=2.0, total_timeout=5.0, retries=0,
                                 allow_private_hosts=True)) as http:
        yield http


def base(server: HTTPServer) -> str:
    return server.url_for("").rstrip("/")


def serve_feed(server: HTTPServer, path: str, name: str, content_type: str = RSS_TYPE,
               headers: dict[str, str] | None = None) -> None:
    server.expect_request(path).respond_with_data(feed_bytes(name, base(server)), content_type=content_type,
                                                  headers=headers)


def serve_pages(server: HTTPServer, *names: str) -> None:
    for name in names:
        server.expect_request(f"/articles/{name}.html").respond_with_data(
            (FEEDS / "articles" / f"{name}.html").read_bytes(), content_type="text/html; charset=utf-8")


def feed_source(server: HTTPServer, name: str, path: str, tags: tuple[str, ...] = ()) -> SourceSettings:
    return SourceSettings(name=name, kind="feed", url=server.url_for(path), tags=tags)


# --- parsing ----------------------------------------------------------------------------------------

def test_rss_parsed() -> None:
    feed = parse_feed(feed_bytes("world.rss"), {"content-type": RSS_TYPE}, f"{SITE}/feeds/world.rss")
    assert isinstance(feed, ParsedFeed) and feed.title == "World Desk" and feed.bozo_reason is None
    assert [e.guid for e in feed.entries] == ["world-1001", "world-1002", "world-1003"]  # linkless item skipped
    floods, rates, talks = feed.entries
    assert floods.url == f"{SITE}/articles/floods.html?id=7"
    assert rates.url == f"{SITE}/articles/rates.html"
    assert floods.title == "Floods close northern highway" and floods.author == "Ana Ruiz"
    assert floods.published_at == datetime(2025, 3, 4, 8, 30, tzinfo=timezone.utc)
    assert floods.published_at.utcoffset() == timedelta(0)
    assert floods.content.startswith("<p>Heavy rain") and word_count(floods.content) >= 50
    assert rates.content == "The central bank left its main rate unchanged."
    assert talks.published_at is None  # no date in the feed: none invented


def test_atom_parsed() -> None:
    feed = parse_feed(feed_bytes("science.atom"), {"content-type": "application/atom+xml"},
                      f"{SITE}/feeds/science.atom")
    assert feed.title == "Science Desk"
    telescope, floods, comet = feed.entries
    assert telescope.url == f"{SITE}/articles/telescope.html"  # relative link resolved
    assert telescope.guid == "urn:uuid:0b7e2f3a-61c4-4d2e-8f50-9a3c1e6b4d22"
    assert telescope.published_at == datetime(2025, 3, 5, 8, 15, tzinfo=timezone.utc)
    assert telescope.content == "<p>The observatory released its first images on Wednesday.</p>"
    assert telescope.author == "Lena Okafor"
    assert floods.url == f"{SITE}/articles/floods.html?id=7"  # fbclid dropped
    assert floods.published_at == datetime(2025, 3, 4, 9, 0, tzinfo=timezone.utc)  # from <updated>
    assert comet.published_at is None


def test_json_feed_parsed() -> None:
    feed = parse_feed(feed_bytes("wires.json"), {"content-type": "application/feed+json"}, f"{SITE}/wires.json")
    port, markets = feed.entries
    assert feed.title == "Wire Desk"
    assert (port.guid, port.url, port.author) == ("wire-77", f"{SITE}/articles/wire-77.html", "Wire Staff")
    assert port.published_at == datetime(2025, 3, 6, 7, 0, tzinfo=timezone.utc)
    assert (markets.url, markets.published_at, markets.content) == (None, None, "Shares rose at the open.")


def test_malformed_rss_is_recovered_with_reason() -> None:
    feed = parse_feed(feed_bytes("broken.rss"), {"content-type": RSS_TYPE}, f"{SITE}/feeds/broken.rss")
    assert [e.url for e in feed.entries] == [f"{SITE}/articles/ferry.html", f"{SITE}/articles/harbour-wall.html"]
    assert feed.entries[0].published_at == datetime(2025, 3, 3, 7, 0, tzinfo=timezone.utc)
    assert feed.bozo_reason and "\n" not in feed.bozo_reason


def _rss_dates(*dates: str) -> bytes:
    """An RSS feed of one item per pubDate, linked /articles/0.html, /articles/1.html, ..."""
    items = "".join(f"<item><title>Item {i}</title><link>{SITE}/articles/{i}.html</link><pubDate>{d}</pubDate></item>"
                    for i, d in enumerate(dates))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Dates</title>{items}</channel></rss>'.encode()


def test_impossible_partial_old_and_future_feed_dates_are_not_dates() -> None:
    """feedparser rolls an impossible ISO date over (2024-13-45 to 1 January 2025) and fills a partial one in
    (2024-05 to 1 May): none of them is a date the feed gave, so they stay NULL, as does the far future."""
    soon, later = datetime.now(timezone.utc) + timedelta(hours=3), datetime.now(timezone.utc) + timedelta(days=3)
    refused = ["2024-13-45", "2024-02-30", "2024-00-10", "2024-02-30T10:00:00Z", "2024-05-01T25:00:00Z",
               "2024", "2024-05", "Sat, 30 Feb 2024 10:00:00 GMT", "Mon, 01 Jan 2099 00:00:00 GMT",
               "Thu, 01 Jan 1970 00:00:00 GMT", later.strftime("%a, %d %b %Y %H:%M:%S GMT"), later.isoformat()]
    kept = {"2024-05-01T10:00:00+02:00": datetime(2024, 5, 1, 8, 0, tzinfo=timezone.utc),
            "2024-05-01": datetime(2024, 5, 1, tzinfo=timezone.utc),
            "20240501T100000Z": datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc),
            "2024-W18-3": datetime(2024, 5, 1, tzinfo=timezone.utc),  # ISO week 18, Wednesday
            "Wed, 01 May 2024 10:00:00 +0200": datetime(2024, 5, 1, 8, 0, tzinfo=timezone.utc),
            soon.strftime("%a, %d %b %Y %H:%M:%S GMT"): soon.replace(microsecond=0)}
    feed = parse_feed(_rss_dates(*refused, *kept), {"content-type": RSS_TYPE}, SITE)
    assert [e.published_at for e in feed.entries] == [None] * len(refused) + list(kept.values())


def test_html_entities_left_undecoded_in_a_malformed_feed_are_decoded_in_titles() -> None:
    # A real Atom feed writes 'Re&colon; Double-entry accounting at scale': an HTML5 entity XML does not
    # define, so the feed is malformed and feedparser's fallback parser leaves the name it does not know
    # as written. A plain-text title that writes markup or escapes on purpose keeps them.
    atom = (b'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Notes&period;</title>'
            b'<entry><id>a1</id><link href="https://notes.example.com/a1"/>'
            b'<title>Re&colon; Ledgers &mdash; at scale</title></entry>'
            b'<entry><id>a2</id><link href="https://notes.example.com/a2"/>'
            b'<title type="text">#include &lt;/etc/shadow&gt; &amp;amp;</title></entry></feed>')
    feed = parse_feed(atom, {"content-type": "application/atom+xml"}, "https://notes.example.com/atom.xml")
    assert feed.bozo_reason and "undefined entity" in feed.bozo_reason
    assert feed.title == "Notes."
    assert [e.title for e in feed.entries] == ["Re: Ledgers \u2014 at scale", "#include </etc/shadow> &amp;"]


def test_rfc822_dates_in_zones_feedparser_does_not_know_are_not_read_as_utc() -> None:
    """feedparser reads a zone name it does not know (CEST, AEDT, IST) as UTC: 10:00 CEST is 08:00 UTC, and
    10:00 AEDT the day before in UTC, not 10:00 UTC. Zones it knows, and numeric ones, read as before."""
    dates = {"Wed, 01 May 2024 10:00:00 CEST": datetime(2024, 5, 1, 8, 0, tzinfo=timezone.utc),
             "Wed, 01 May 2024 10:00:00 CET": datetime(2024, 5, 1, 9, 0, tzinfo=timezone.utc),
             "Wed, 01 May 2024 10:00:00 AEDT": datetime(2024, 4, 30, 23, 0, tzinfo=timezone.utc),
             "Wed, 01 May 2024 10:00:00 IST": datetime(2024, 5, 1, 4, 30, tzinfo=timezone.utc),
             "Wed, 01 May 2024 10:00:00 EDT": datetime(2024, 5, 1, 14, 0, tzinfo=timezone.utc),
             "Wed, 01 May 2024 10:00:00 +0100": datetime(2024, 5, 1, 9, 0, tzinfo=timezone.utc),
             "Wed, 01 May 2024 10:00:00 GMT": datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc),
             "Wed, 01 May 2024 10:00:00 UT": datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc),
             "Wed, 01 May 2024 10:00:00 MEST": datetime(2024, 5, 1, 8, 0, tzinfo=timezone.utc)}
    feed = parse_feed(_rss_dates(*dates), {"content-type": RSS_TYPE}, SITE)
    assert [e.published_at for e in feed.entries] == list(dates.values())


def test_an_impossible_published_date_falls_back_to_updated() -> None:
    atom = (b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>'
            b'<entry><id>a</id><link href="https://news.example.org/a"/><title>A</title>'
            b'<published>2024-02-30T10:00:00Z</published><updated>2024-03-02T09:00:00Z</updated></entry>'
            b'<entry><id>b</id><link href="https://news.example.org/b"/><title>B</title>'
            b'<published>2099-01-01T00:00:00Z</published></entry></feed>')
    feed = parse_feed(atom, {"content-type": "application/atom+xml"}, SITE)
    assert [e.published_at for e in feed.entries] == [datetime(2024, 3, 2, 9, 0, tzinfo=timezone.utc), None]


def test_json_feed_future_and_impossible_dates_are_not_dates() -> None:
    items = [{"id": str(i), "url": f"{SITE}/{i}", "date_published": d}
             for i, d in enumerate(("2099-01-01T00:00:00Z", "2024-02-30T00:00:00Z", "2024-05-01T10:00:00Z"))]
    body = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": items}).encode()
    feed = parse_feed(body, {"content-type": "application/feed+json"}, SITE)
    assert [e.published_at for e in feed.entries] == [None, None, datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)]


def test_html_page_at_feed_url_is_a_parse_error() -> None:
    with pytest.raises(FeedParseError) as info:
        parse_feed((FEEDS / "homepage.html").read_bytes(), {"content-type": "text/html"}, SITE)
    assert info.value.kind == "parse error" and "not a feed: HTML page" in str(info.value)
    with pytest.raises(FeedParseError, match="not a feed: HTML page"):
        parse_feed((FEEDS / "homepage.html").read_bytes(), {}, SITE)  # no header: told by the body


def test_feed_without_entries_is_empty() -> None:
    with pytest.raises(FeedParseError) as info:
        parse_feed((FEEDS / "empty.rss").read_bytes(), {"content-type": RSS_TYPE}, SITE)
    assert info.value.kind == "empty" and str(info.value).startswith("empty:")


@pytest.mark.parametrize("body", [b"", b"   \n", b"this is not a feed at all", b"\x00\x01\x02garbage"])
def test_garbage_is_rejected(body: bytes) -> None:
    with pytest.raises(FeedParseError):
        parse_feed(body, {}, SITE)


def test_billion_laughs_is_bounded() -> None:
    started = time.monotonic()
    feed = parse_feed((FEEDS / "billion_laughs.rss").read_bytes(), {"content-type": RSS_TYPE}, SITE)
    assert time.monotonic() - started < 2.0
    assert feed.bozo_reason and "entity declarations removed" in feed.bozo_reason
    assert all(len(e.title or "") + len(e.content or "") < 1000 for e in feed.entries)


def test_body_is_never_opened_as_a_local_path(tmp_path: Path) -> None:
    secret = tmp_path / "secret.rss"
    secret.write_bytes(feed_bytes("world.rss"))
    with pytest.raises(FeedParseError):
        parse_feed(str(secret).encode(), {}, SITE)


# --- polling ----------------------------------------------------------------------------------------

def test_poll_two_feeds_sharing_a_story_fetch_it_once(server: HTTPServer, client: HttpClient) -> None:
    serve_feed(server, "/feeds/world.rss", "world.rss", headers={"ETag": '"w1"'})
    serve_feed(server, "/feeds/science.atom", "science.atom", content_type="application/atom+xml")
    serve_pages(server, *PAGES)
    sources = [feed_source(server, "world", "/feeds/world.rss", ("world",)),
               feed_source(server, "science", "/feeds/science.atom", ("science",))]
    poll = poll_feeds(sources, {}, client, NOW, set(), set())
    site = base(server)
    assert hits(server, "/articles/floods.html") == 1
    assert poll.entries_seen == 5 and not poll.rejects and not poll.problems
    by_url = {d.url: d for d in poll.documents}
    assert set(by_url) == {f"{site}/news/2025/03/floods-close-northern-highway", f"{site}/articles/rates.html",
                           f"{site}/articles/talks.html", "https://science.example.org/2025/telescope-first-light",
                           f"{site}/articles/comet.html"}
    floods = by_url[f"{site}/news/2025/03/floods-close-northern-highway"]
    assert isinstance(floods, RawDocument)
    assert (floods.source, floods.locator, floods.media_type) == ("world", f"{site}/articles/floods.html?id=7",
                                                                  "text/html")
    assert floods.raw == (FEEDS / "articles" / "floods.html").read_bytes()
    # the page's bytes with the entry's own text: one page behind which a site hides every article is no copy
    assert floods.content_hash == hashlib.sha256(floods.raw + b"\x00feed text\x00" +
                                                 floods.feed_content.encode("utf-8")).hexdigest()
    assert (floods.guid, floods.feed_title, floods.default_tags) == ("world-1001", "Floods close northern highway",
                                                                      ("world",))
    assert floods.feed_published_at == datetime(2025, 3, 4, 8, 30, tzinfo=timezone.utc)
    assert floods.feed_content.startswith("<p>Heavy rain")
    assert by_url[f"{site}/articles/comet.html"].default_tags == ("science",)
    states = {s.source: s for s in poll.states}
    assert states["world"].last_status == WORLD_OK
    assert states["world"].etag == '"w1"'
    assert states["world"].validators_at == NOW and states["world"].body_hash
    assert states["science"].next_poll_at == NOW + timedelta(minutes=30)


def test_second_poll_sends_validators_and_gets_304(server: HTTPServer, client: HttpClient) -> None:
    body = feed_bytes("world.rss", base(server))
    seen_validators: list[tuple[str | None, str | None]] = []

    def conditional(request: Request) -> Response:
        seen_validators.append((request.headers.get("If-None-Match"), request.headers.get("If-Modified-Since")))
        if request.headers.get("If-None-Match") == '"w1"':
            return Response(status=304)
        return Response(body, content_type=RSS_TYPE,
                        headers={"ETag": '"w1"', "Last-Modified": "Wed, 05 Mar 2025 15:00:00 GMT"})

    server.expect_request("/feeds/world.rss").respond_with_handler(conditional)
    serve_pages(server, *PAGES)
    sources = [feed_source(server, "world", "/feeds/world.rss")]
    first = poll_feeds(sources, {}, client, NOW, set(), set())
    assert len(first.documents) == 3
    later = NOW + timedelta(hours=1)
    second = poll_feeds(sources, {s.source: s for s in first.states}, client, later, set(), set())
    assert seen_validators == [(None, None), ('"w1"', "Wed, 05 Mar 2025 15:00:00 GMT")]
    assert second.documents == [] and second.rejects == [] and second.entries_seen == 0
    (state,) = second.states
    assert state.last_status == "not modified" and state.last_success == later
    assert hits(server, "/articles/floods.html") == 1


def test_stale_validators_dropped_and_unchanged_body_skipped(server: HTTPServer, client: HttpClient) -> None:
    body = feed_bytes("world.rss", base(server))
    serve_feed(server, "/feeds/world.rss", "world.rss")
    source = feed_source(server, "world", "/feeds/world.rss")
    state = SourceState(source="world", url=source.url, etag='"old"', validators_at=NOW - timedelta(days=8),
                        body_hash=hashlib.sha256(body).hexdigest())
    poll = poll_feeds([source], {"world": state}, client, NOW, set(), set())
    request = server.log[0][0]
    assert "If-None-Match" not in request.headers
    assert poll.documents == [] and poll.states[0].last_status == "unchanged"
    assert poll.states[0].validators_at == NOW and poll.states[0].etag is None
    assert hits(server, "/articles/floods.html") == 0


def test_known_urls_and_guids_are_skipped(server: HTTPServer, client: HttpClient) -> None:
    serve_feed(server, "/feeds/world.rss", "world.rss")
    serve_pages(server, *PAGES)
    site = base(server)
    poll = poll_feeds([feed_source(server, "world", "/feeds/world.rss")], {}, client, NOW,
                      known_urls={f"{site}/articles/floods.html?id=7"}, known_guids={("world", "world-1002")})
    assert [d.guid for d in poll.documents] == ["world-1003"]
    assert hits(server, "/articles/floods.html") == 0 and hits(server, "/articles/rates.html") == 0
    assert poll.entries_seen == 3


def test_missing_pages_fall_back_to_long_feed_content_or_reject(server: HTTPServer, client: HttpClient) -> None:
    serve_feed(server, "/feeds/world.rss", "world.rss")
    serve_pages(server, "talks")  # floods and rates answer 404
    site = base(server)
    poll = poll_feeds([feed_source(server, "world", "/feeds/world.rss", ("world",))], {}, client, NOW, set(), set())
    floods = next(d for d in poll.documents if d.guid == "world-1001")
    assert floods.raw == floods.feed_content.encode("utf-8") and floods.media_type == "text/html"
    assert floods.locator == floods.url == f"{site}/articles/floods.html?id=7"
    assert floods.content_hash == hashlib.sha256(floods.raw).hexdigest()
    assert floods.default_tags == ("world",)
    assert poll.rejects == [Reject("world", f"{site}/articles/rates.html", "page fetch failed: http 404; the feed's "
                                   "text is too short to use instead (8 words, needs 50)")]
    assert {d.guid for d in poll.documents} == {"world-1001", "world-1003"}
    assert poll.states[0].last_status == WORLD_OK


def test_titles_the_feed_marks_as_html_are_stored_as_plain_text(server: HTTPServer, client: HttpClient) -> None:
    # As real feeds send them (kottke.org, time.com): an Atom type="html" title in CDATA with numeric
    # entities, an RSS title with escaped markup, and a plain-text Atom title that only looks like markup.
    # The pages answer 404, so the feed's own text and titles are what is kept.
    story = " ".join(f"Sentence {i} of the feed's own copy of the story, long enough to stand in." for i in range(8))
    site = base(server)
    atom = (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f'<title type="html">Science &amp;amp; technology</title>'
            f'<entry><id>a1</id><link href="{site}/a/1"/>'
            f'<title type="html"><![CDATA[ Charli XCX: she&#8217;s still a fan &#038; more&#8230; ]]></title>'
            f'<content type="html">&lt;p&gt;{story}&lt;/p&gt;</content></entry>'
            f'<entry><id>a2</id><link href="{site}/a/2"/><title type="text">#include &lt;/etc/shadow&gt;</title>'
            f'<content type="html">&lt;p&gt;{story} Two.&lt;/p&gt;</content></entry></feed>')
    rss = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Tech</title>'
           f'<item><title>How &#060;i&gt;The Pitt&#060;/i&gt;&#8217;s AI drama plays out</title>'
           f'<link>{site}/r/1</link><description>&lt;p&gt;{story} Three.&lt;/p&gt;</description></item>'
           f'</channel></rss>')
    server.expect_request("/feeds/marked.atom").respond_with_data(atom, content_type="application/atom+xml")
    server.expect_request("/feeds/marked.rss").respond_with_data(rss, content_type=RSS_TYPE)
    sources = [feed_source(server, "atom", "/feeds/marked.atom"), feed_source(server, "rss", "/feeds/marked.rss")]
    poll = poll_feeds(sources, {}, client, NOW, set(), set())
    assert not poll.rejects and not poll.problems
    titles = {d.url: (d.feed_title, d.site_name) for d in poll.documents}
    assert titles == {f"{site}/a/1": ("Charli XCX: she\u2019s still a fan & more\u2026", "Science & technology"),
                      f"{site}/a/2": ("#include </etc/shadow>", "Science & technology"),
                      f"{site}/r/1": ("How The Pitt\u2019s AI drama plays out", "Tech")}


def test_the_feeds_author_is_the_byline_when_the_text_names_none(server: HTTPServer, client: HttpClient) -> None:
    # The pages answer 404, so each article is the feed's own text, which names no author; the feed does
    # (RSS <author> as 'email (name)', Atom <author><name>). A byline in the text itself comes first, and a
    # bare e-mail address is no byline.
    site = base(server)
    story = " ".join(f"Sentence {i} of the feed's own copy of the story, long enough to stand in." for i in range(8))
    rss = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Blog</title>'
           f'<item><title>Plain</title><link>{site}/p/1</link><author>nate@example.org (Nate Barbettini)</author>'
           f'<description>&lt;p&gt;{story}&lt;/p&gt;</description></item>'
           f'<item><title>Signed</title><link>{site}/p/2</link><author>desk@example.org (The Desk)</author>'
           f'<description>&lt;p&gt;By Sarah Whitfield&lt;/p&gt;&lt;p&gt;{story} Signed.&lt;/p&gt;</description></item>'
           f'<item><title>Mail</title><link>{site}/p/3</link><author>test@example.com</author>'
           f'<description>&lt;p&gt;{story} Mail.&lt;/p&gt;</description></item>'
           f'<item><title>Twice</title><link>{site}/p/4</link>'
           f'<dc:creator xmlns:dc="http://purl.org/dc/elements/1.1/">By Jane&amp;nbsp;Doe &amp;amp; Ann Roe</dc:creator>'
           f'<description>&lt;p&gt;{story} Twice.&lt;/p&gt;</description></item>'
           f'</channel></rss>')
    atom = (f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Atom</title>'
            f'<entry><id>{site}/a/1</id><link href="{site}/a/1"/><title>Atom one</title>'
            f'<author><name>Gemma  Samways</name></author><content type="html">&lt;p&gt;{story} Atom.&lt;/p&gt;'
            f'</content></entry></feed>')
    server.expect_request("/feeds/blog.rss").respond_with_data(rss, content_type=RSS_TYPE)
    server.expect_request("/feeds/blog.atom").respond_with_data(atom, content_type="application/atom+xml")
    sources = [feed_source(server, "rss", "/feeds/blog.rss"), feed_source(server, "atom", "/feeds/blog.atom")]
    poll = poll_feeds(sources, {}, client, NOW, set(), set())
    assert not poll.rejects and len(poll.documents) == 5
    cleaned, rejects = clean_documents(poll.documents, CleanSettings())
    assert not rejects
    assert {doc.url: article.byline for doc, article in cleaned} == {
        f"{site}/p/1": "Nate Barbettini", f"{site}/p/2": "Sarah Whitfield", f"{site}/p/3": None,  # names nobody
        f"{site}/p/4": "Jane Doe & Ann Roe",  # its feed encoded the entities twice, and wrote "By"
        f"{site}/a/1": "Gemma Samways"}


def test_transient_page_failure_keeps_feed_for_retry(server: HTTPServer, client: HttpClient) -> None:
    serve_feed(server, "/feeds/world.rss", "world.rss", headers={"ETag": '"w2"'})
    serve_pages(server, "floods", "talks")
    server.expect_request("/articles/rates.html").respond_with_data(b"busy", status=503)
    poll = poll_feeds([feed_source(server, "world", "/feeds/world.rss")], {}, client, NOW, set(), set())
    assert [r.reason for r in poll.rejects] == ["page fetch failed: http 503; the feed's text is too short to use "
                                                "instead (8 words, needs 50); fetched again at the next poll"]
    (state,) = poll.states
    assert state.last_status == WORLD_OK and state.body_hash is None and state.etag is None
    # the next poll fetches the page again; failing the same way, it is not recorded a second time
    stored = {d.url for d in poll.documents}
    again = poll_feeds([feed_source(server, "world", "/feeds/world.rss")], {"world": state}, client,
                       NOW + timedelta(hours=1), stored, set(), known_rejects={(r.locator, r.reason) for r in poll.rejects})
    assert hits(server, "/articles/rates.html") == 2 and again.rejects == [] and again.skipped == 1


def test_a_rejected_entry_is_not_fetched_or_recorded_again_when_its_feed_changes(server: HTTPServer,
                                                                                 client: HttpClient) -> None:
    serve_feed(server, "/feeds/world.rss", "world.rss", headers={"ETag": '"w1"'})
    serve_pages(server, "talks")  # floods and rates answer 404: floods has feed text enough, rates not
    source = feed_source(server, "world", "/feeds/world.rss")
    first = poll_feeds([source], {}, client, NOW, set(), set())
    assert [r.reason.split(";")[0] for r in first.rejects] == ["page fetch failed: http 404"]
    server.clear()
    body = feed_bytes("world.rss", base(server)).replace(b"</channel>", b"<item><title>New</title>"
                                                         b"<link>" + base(server).encode() + b"/articles/new.html</link>"
                                                         b"<guid>world-2000</guid></item></channel>")
    server.expect_request("/feeds/world.rss").respond_with_data(body, content_type=RSS_TYPE, headers={"ETag": '"w2"'})
    server.expect_request("/articles/new.html").respond_with_data(b"<html><body><p>gone</p></body></html>",
                                                                 status=404)
    second = poll_feeds([source], {s.source: s for s in first.states}, client, NOW + timedelta(hours=1),
                        {d.url for d in first.documents}, set(),
                        known_rejects={(r.locator, r.reason) for r in first.rejects})
    assert hits(server, "/articles/rates.html") == 0, "a page rejected for good is not fetched again"
    assert [r.locator for r in second.rejects] == [f"{base(server)}/articles/new.html"], "only the new entry"


def test_a_feed_the_parser_cannot_read_fails_alone_and_an_odd_value_costs_only_itself(
        server: HTTPServer, client: HttpClient) -> None:
    # Values that raised out of parse_feed and so out of the whole poll (the flow's feed task failed, every
    # feed with it): a date whose zone takes it past year 1 or 9999, a JSON Feed whose items or authors are
    # not lists, and a JSON Feed link Python cannot split (an open IPv6 bracket).
    site = base(server)
    atom = (f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Odd</title>'
            f'<entry><id>o1</id><link href="{site}/odd/1"/><title>Year one</title>'
            f'<updated>0001-01-01T00:00:00+01:00</updated></entry>'
            f'<entry><id>o2</id><link href="{site}/odd/2"/><title>Year 9999</title>'
            f'<published>9999-12-31T23:59:59-23:59</published></entry></feed>')
    jsons = {"/feeds/items.json": {"version": "https://jsonfeed.org/version/1.1", "title": "Items", "items": 5},
             "/feeds/authors.json": {"version": "https://jsonfeed.org/version/1.1", "title": "Authors", "items": [
                 {"id": "j1", "url": f"{site}/json/1", "title": "Seven authors", "authors": 7},
                 {"id": "j2", "url": "http://[::1/json/2", "title": "An open bracket"}]}}
    server.expect_request("/feeds/odd.atom").respond_with_data(atom, content_type="application/atom+xml")
    for path, doc in jsons.items():
        server.expect_request(path).respond_with_data(json.dumps(doc), content_type="application/feed+json")
    serve_feed(server, "/feeds/world.rss", "world.rss")
    serve_pages(server, *PAGES)
    for path in ("/odd/1", "/odd/2", "/json/1"):
        page = (FEEDS / "articles" / "talks.html").read_bytes() + f"<!-- {path} -->".encode()
        server.expect_request(path).respond_with_data(page, content_type="text/html; charset=utf-8")
    sources = [feed_source(server, name, path) for name, path in (
        ("odd", "/feeds/odd.atom"), ("items", "/feeds/items.json"), ("authors", "/feeds/authors.json"),
        ("world", "/feeds/world.rss"))]
    poll = poll_feeds(sources, {}, client, NOW, set(), set())
    by_source = {s.source: s for s in poll.states}
    assert by_source["world"].last_status == WORLD_OK and {"world-1001", "world-1003"} <= {d.guid for d in poll.documents}
    assert by_source["items"].last_status == "empty" and by_source["items"].consecutive_failures == 1
    assert by_source["odd"].last_status == by_source["authors"].last_status == "ok"
    odd = {d.locator: d.feed_published_at for d in poll.documents if d.source == "odd"}
    assert odd == {f"{site}/odd/1": None, f"{site}/odd/2": None}  # unknown dates stay NULL
    assert [(r.source, r.locator, r.reason) for r in poll.rejects] == [
        ("authors", "j2", "entry has no link and too little feed content")]
    assert [d.locator for d in poll.documents if d.source == "authors"] == [f"{site}/json/1"]


def test_an_entry_without_a_link_is_rejected_as_having_none(server: HTTPServer, client: HttpClient) -> None:
    # feedparser copies a linkless entry's id into its link (guidislink): an Atom urn: id or an RSS tag: guid
    # is no link given, so the reject says the entry has none rather than that its link is not http(s) (urn)
    site = base(server)
    atom = (f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Notes</title>'
            f'<entry><id>urn:uuid:60a76c80-d399-11d9-b93c-0003939e0af6</id><title>No link</title>'
            f'<content type="html">&lt;p&gt;Short note.&lt;/p&gt;</content></entry>'
            f'<entry><id>{site}/notes/2</id><title>Id is the link</title></entry></feed>')
    rss = ('<?xml version="1.0"?><rss version="2.0"><channel><title>Tags</title>'
           '<item><title>Tagged</title><guid>tag:example.org,2026:7</guid><description>Short.</description></item>'
           '</channel></rss>')
    server.expect_request("/notes.atom").respond_with_data(atom, content_type="application/atom+xml")
    server.expect_request("/tags.rss").respond_with_data(rss, content_type=RSS_TYPE)
    page = "<html><body><article><p>" + "An ordinary public news story about the harbour. " * 12 + "</p></article></body></html>"
    server.expect_request("/notes/2").respond_with_data(page, content_type="text/html")
    sources = [feed_source(server, "notes", "/notes.atom"), feed_source(server, "tags", "/tags.rss")]
    poll = poll_feeds(sources, {}, client, NOW, set(), set())
    assert {s.source: s.last_status for s in poll.states} == {"notes": "ok", "tags": "ok"}
    assert [d.locator for d in poll.documents] == [f"{site}/notes/2"], "an http(s) id standing for the link is fetched"
    assert sorted((r.locator, r.reason) for r in poll.rejects) == [
        ("tag:example.org,2026:7", "entry has no link and too little feed content (1 word, needs 50)"),
        ("urn:uuid:60a76c80-d399-11d9-b93c-0003939e0af6",
         "entry has no link and too little feed content (2 words, needs 50)")]


def test_failing_feed_does_not_stop_the_others(server: HTTPServer, client: HttpClient) -> None:
    serve_feed(server, "/feeds/world.rss", "world.rss")
    server.expect_request("/feeds/news").respond_with_data((FEEDS / "homepage.html").read_bytes(),
                                                          content_type="text/html")
    serve_pages(server, *PAGES)
    sources = [feed_source(server, "gone", "/feeds/missing.rss"), feed_source(server, "world", "/feeds/world.rss"),
               feed_source(server, "homepage", "/feeds/news")]
    poll = poll_feeds(sources, {}, client, NOW, set(), set())
    assert len(poll.documents) == 3 and {d.source for d in poll.documents} == {"world"}
    assert [(s, label) for s, label, _ in poll.problems] == [("gone", "http 404"), ("homepage", "parse error")]
    assert "not a feed: HTML page" in poll.problems[1][2]
    states = {s.source: s for s in poll.states}
    assert states["gone"].consecutive_failures == 1 and states["gone"].last_status == "http 404"
    assert states["gone"].next_poll_at == NOW + timedelta(minutes=30)
    assert states["homepage"].last_status == "parse error"
    assert states["world"].consecutive_failures == 0


def test_sources_not_due_disabled_or_not_feeds_are_not_fetched(server: HTTPServer, client: HttpClient) -> None:
    serve_feed(server, "/feeds/world.rss", "world.rss")
    waiting = feed_source(server, "waiting", "/feeds/world.rss")
    off = feed_source(server, "off", "/feeds/world.rss")
    switched_off = SourceSettings(name="switched off", kind="feed", url=server.url_for("/feeds/world.rss"),
                                  enabled=False)
    folder = SourceSettings(name="folder", kind="folder", path=FEEDS)
    states = {"waiting": SourceState("waiting", waiting.url, next_poll_at=NOW + timedelta(minutes=5)),
              "off": SourceState("off", off.url, disabled=True, disabled_reason="gone")}
    poll = poll_feeds([waiting, off, switched_off, folder], states, client, NOW, set(), set())
    assert server.log == [] and poll.states == [] and poll.documents == []


def test_permanent_redirect_updates_the_stored_url(server: HTTPServer, client: HttpClient) -> None:
    server.expect_request("/feeds/old.rss").respond_with_data(b"", status=301,
                                                              headers={"Location": "/feeds/world.rss"})
    serve_feed(server, "/feeds/world.rss", "world.rss")
    serve_pages(server, *PAGES)
    source = feed_source(server, "world", "/feeds/old.rss")
    poll = poll_feeds([source], {}, client, NOW, set(), set())
    assert poll.states[0].url == server.url_for("/feeds/world.rss")
    assert len(poll.documents) == 3
    # the move is said where people look, in each poll's status, until the feed is named by its new URL
    moved = f"moved permanently to {server.url_for('/feeds/world.rss')}; named by {source.url}"
    assert poll.states[0].last_status.startswith(f"ok ({moved}; ")
    later = poll_feeds([source], {"world": poll.states[0]}, client, NOW + timedelta(hours=1), set(), set())
    assert later.states[0].last_status == f"unchanged ({moved})"
    updated = dataclasses.replace(source, url=server.url_for("/feeds/world.rss"))
    again = poll_feeds([updated], {"world": later.states[0]}, client, NOW + timedelta(hours=2), set(), set())
    assert again.states[0].last_status == "unchanged"


def test_repeated_hard_failures_disable_a_source(server: HTTPServer, client: HttpClient) -> None:
    source = feed_source(server, "gone", "/feeds/missing.rss")
    state = SourceState("gone", source.url, consecutive_failures=9)
    poll = poll_feeds([source], {"gone": state}, client, NOW, set(), set())
    assert poll.states[0].disabled
    assert poll.states[0].disabled_reason == "disabled after 10 consecutive failures: http 404"


def test_the_same_page_at_two_addresses_is_one_document_and_a_copy(server: HTTPServer, client: HttpClient) -> None:
    items = "".join(f"<item><title>Story {i}</title><link>{server.url_for(f'/articles/{name}.html')}</link>"
                    f"<guid>g{i}</guid></item>" for i, name in enumerate(("rates", "rates-mirror", "talks")))
    server.expect_request("/feeds/mirror.rss").respond_with_data(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Mirror</title>{items}</channel></rss>',
        content_type=RSS_TYPE)
    serve_pages(server, "rates", "talks")
    server.expect_request("/articles/rates-mirror.html").respond_with_data(
        (FEEDS / "articles" / "rates.html").read_bytes(), content_type="text/html; charset=utf-8")
    poll = poll_feeds([feed_source(server, "mirror", "/feeds/mirror.rss")], {}, client, NOW, set(), set())
    assert [d.locator for d in poll.documents] == [server.url_for("/articles/rates.html"),
                                                   server.url_for("/articles/talks.html")]
    [copy] = poll.copies
    assert (copy.source, copy.locator, copy.original) == ("mirror", server.url_for("/articles/rates-mirror.html"),
                                                          server.url_for("/articles/rates.html"))
    assert copy.content_hash == poll.documents[0].content_hash and copy.stored_by_run is None
    assert all(d.site_name == "Mirror" for d in poll.documents), "the feed's title goes with its pages"


def test_poll_now_polls_every_named_feed_and_a_normal_poll_says_why_not(server: HTTPServer,
                                                                       client: HttpClient) -> None:
    serve_feed(server, "/feeds/world.rss", "world.rss")
    serve_pages(server, *PAGES)
    waiting = feed_source(server, "waiting", "/feeds/world.rss")
    off = feed_source(server, "off", "/feeds/world.rss")
    states = {"waiting": SourceState("waiting", waiting.url, next_poll_at=NOW + timedelta(minutes=5),
                                     consecutive_failures=2, last_status="timeout"),
              "off": SourceState("off", off.url, disabled=True, disabled_reason="permanently gone (http 410)")}
    later = poll_feeds([waiting, off], states, client, NOW, set(), set())
    assert server.log == [] and later.states == []
    assert later.not_polled == [("waiting", "not due until 12:05 UTC (backing off after 2 failures: timeout)"),
                                ("off", "disabled: permanently gone (http 410)")]
    now = poll_feeds([waiting, off], states, client, NOW, set(), set(), poll_now=True)
    assert hits(server, "/feeds/world.rss") == 2 and now.not_polled == []
    assert {s.source: (s.last_status, s.disabled) for s in now.states} == {"waiting": (WORLD_OK, False),
                                                                         "off": (WORLD_OK, False)}


def test_a_reject_of_the_feeds_text_says_why_the_page_was_not_used(server: HTTPServer, client: HttpClient) -> None:
    # The page answers 404 and the feed's text is long enough to try (50 words) but shorter than this
    # desk's [clean] min_words: the reject names both, not only "too little text", which read as if the
    # page itself had been read.
    site = base(server)
    story = " ".join(f"Sentence {i} of the feed's own copy of the story." for i in range(8))
    rss = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Blog</title>'
           f'<item><title>Short</title><link>{site}/p/1</link><description>&lt;p&gt;{story}&lt;/p&gt;</description>'
           f'</item></channel></rss>')
    server.expect_request("/feeds/short.rss").respond_with_data(rss, content_type=RSS_TYPE)
    poll = poll_feeds([feed_source(server, "short", "/feeds/short.rss")], {}, client, NOW, set(), set())
    assert not poll.rejects and len(poll.documents) == 1
    kept, rejects = clean_documents(poll.documents, CleanSettings(min_words=200))
    assert not kept and len(rejects) == 1
    assert rejects[0].reason.startswith("page fetch failed: http 404; the feed's text instead: "), rejects[0].reason


def test_the_feeds_html_text_with_no_tag_has_its_entities_decoded(server: HTTPServer, client: HttpClient) -> None:
    # The page answers 404 and the feed's text stands in: HTML with entities but no tag (WordPress writes
    # such a summary in CDATA). It was stored as written, 'AT&amp;T' in the text, summary and search.
    site = base(server)
    story = " ".join(f"Sentence {i} of the feed's own copy of the story, long enough to stand in." for i in range(8))
    rss = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Markets</title>'
           f'<item><title>Results</title><link>{site}/m/1</link>'
           f'<description><![CDATA[AT&amp;T and Procter &amp; Gamble held a Q&amp;A &#8220;call&#8221;. {story}]]>'
           f'</description></item></channel></rss>')
    server.expect_request("/feeds/markets.rss").respond_with_data(rss, content_type=RSS_TYPE)
    poll = poll_feeds([feed_source(server, "markets", "/feeds/markets.rss")], {}, client, NOW, set(), set())
    assert not poll.rejects and len(poll.documents) == 1
    ((_, article),), rejects = clean_documents(poll.documents, CleanSettings())
    assert not rejects
    assert article.text.startswith("AT&T and Procter & Gamble held a Q&A \u201ccall\u201d. Sentence 0"), article.text
    assert "&amp;" not in article.text and "&#" not in article.text


def test_a_page_is_read_in_the_charset_its_server_names(server: HTTPServer, client: HttpClient) -> None:
    # No <meta charset> in the page, only the server's Content-Type: the page is read in it, not guessed
    # (a short Windows-1250 page came out as "Rz¹d przyj¹³").
    site = base(server)
    rss = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Kurier</title><item><title>Rząd</title>'
           f'<link>{site}/pl/1</link></item></channel></rss>')
    server.expect_request("/feeds/kurier.rss").respond_with_data(rss.encode("utf-8"), content_type=RSS_TYPE)
    text = "Rząd przyjął projekt ustawy. " * 3
    page = f"<html><head><title>Rząd</title></head><body><article><p>{text}</p></article></body></html>"
    server.expect_request("/pl/1").respond_with_data(page.encode("cp1250"),
                                                     content_type="text/html; charset=windows-1250")
    poll = poll_feeds([feed_source(server, "kurier", "/feeds/kurier.rss")], {}, client, NOW, set(), set())
    assert [d.charset for d in poll.documents] == ["windows-1250"]
    kept, rejects = clean_documents(poll.documents, CleanSettings(min_words=5))
    assert not rejects and "Rząd przyjął projekt ustawy." in kept[0][1].text


def test_an_entry_whose_page_is_plain_text_is_read_as_text(server: HTTPServer, client: HttpClient) -> None:
    text = ("Harbour reopens after repairs\n\nThe harbour reopened on Monday after a winter of repairs to its wall, "
            "the harbour master said. Fishing boats returned to their moorings within hours, and the ferry to the "
            "island will run to its summer timetable from next week.\n")
    rss = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title><link>{server.url_for("/")}</link>'
           f'<item><title>Harbour reopens</title><link>{server.url_for("/wire/harbour.txt")}</link></item>'
           f'<item><title>A chart</title><link>{server.url_for("/wire/chart.png")}</link></item></channel></rss>')
    server.expect_request("/feeds/wire.rss").respond_with_data(rss, content_type=RSS_TYPE)
    server.expect_request("/wire/harbour.txt").respond_with_data(text, content_type="text/plain; charset=utf-8")
    server.expect_request("/wire/chart.png").respond_with_data(b"\x89PNG\r\n", content_type="image/png")
    poll = poll_feeds([feed_source(server, "wire", "/feeds/wire.rss")], {}, client, NOW, set(), set())
    assert [(d.media_type, d.url) for d in poll.documents] == [("text/plain", server.url_for("/wire/harbour.txt"))]
    assert [r.reason for r in poll.rejects] == ["page fetch failed: not an HTML page (image/png)"]
    (kept, _), = [clean_documents(poll.documents, CleanSettings())]
    ((_, article),) = kept
    assert article.title == "Harbour reopens after repairs" and article.text.startswith("The harbour reopened on Monday")


def test_feeds_numbering_their_items_alike_are_not_one_story(server: HTTPServer, client: HttpClient) -> None:
    # Two sites whose feeds number their items the same way (an opaque <guid>1001</guid> each): a GUID that is
    # no URI is unique only within its feed, so both pages are fetched, in one poll and in the next one after
    # the first is stored. A GUID that is a URI (tag:, a permalink) still names one story in every feed.
    site = base(server)
    story = " ".join(f"Sentence {i} of the page, long enough to read." for i in range(8))
    def rss(title: str, *items: tuple[str, str]) -> str:
        return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>' + "".join(
            f'<item><title>{path}</title><link>{site}{path}</link><guid isPermaLink="false">{guid}</guid></item>'
            for guid, path in items) + '</channel></rss>')
    server.expect_request("/feeds/north.rss").respond_with_data(
        rss("North", ("1001", "/north/water.html"), ("tag:wire.example,2025:7", "/north/wire.html")),
        content_type=RSS_TYPE)
    server.expect_request("/feeds/south.rss").respond_with_data(
        rss("South", ("1001", "/south/bakery.html"), ("tag:wire.example,2025:7", "/south/wire.html")),
        content_type=RSS_TYPE)
    for path in ("/north/water.html", "/north/wire.html", "/south/bakery.html", "/south/wire.html"):
        server.expect_request(path).respond_with_data(f"<html><body><p>{path} {story}</p></body></html>",
                                                      content_type="text/html")
    north, south = feed_source(server, "north", "/feeds/north.rss"), feed_source(server, "south", "/feeds/south.rss")

    poll = poll_feeds([north, south], {}, client, NOW, set(), set())
    assert sorted((d.source, d.url) for d in poll.documents) == [
        ("north", f"{site}/north/water.html"), ("north", f"{site}/north/wire.html"),
        ("south", f"{site}/south/bakery.html")]  # the wire story once, under the feed polled first
    assert poll.entries_seen == 3 and hits(server, "/south/wire.html") == 0

    stored = {d.url for d in poll.documents if d.source == "north"}
    later = poll_feeds([south], {}, client, NOW, stored, {("north", "1001"), "tag:wire.example,2025:7"})
    assert [(d.source, d.url) for d in later.documents] == [("south", f"{site}/south/bakery.html")]
    assert hits(server, "/south/wire.html") == 0


def test_a_feed_listing_an_entry_twice_or_two_links_under_one_guid_says_so(server: HTTPServer,
                                                                            client: HttpClient) -> None:
    """A feed that gives two articles one guid (a site's template bug) had the second silently dropped; a feed
    that lists one entry twice read it once without a word. Both articles are read by their links, the repeat
    once, and the feed's health says what was odd."""
    site = base(server)
    story = " ".join(f"Sentence {i} of the page, long enough to read." for i in range(8))
    items = [("same-guid", "/a.html"), ("same-guid", "/b.html"), ("g2", "/c.html"), ("g2", "/c.html"),
             ("g3", "/c.html#later")]  # an entry of its own on the same page (a journal's dated sections)
    server.expect_request("/feed.rss").respond_with_data(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Odd</title>' + "".join(
            f'<item><title>{path}</title><link>{site}{path}</link><guid isPermaLink="false">{guid}</guid></item>'
            for guid, path in items) + "</channel></rss>", content_type=RSS_TYPE)
    for path in ("/a.html", "/b.html", "/c.html"):
        server.expect_request(path).respond_with_data(f"<html><body><p>{path} {story}</p></body></html>",
                                                      content_type="text/html")
    poll = poll_feeds([feed_source(server, "odd", "/feed.rss")], {}, client, NOW, set(), set())
    assert sorted(d.url for d in poll.documents) == [f"{site}/a.html", f"{site}/b.html", f"{site}/c.html"]
    assert poll.entries_seen == 3 and not poll.rejects and hits(server, "/c.html") == 1
    [state] = poll.states
    assert state.last_status == ("ok (1 entry repeats the link or guid of an earlier entry: read once; 1 entry links "
                                 "to an earlier entry's page under a guid of its own: the page is read once, and the "
                                 "entry's own text is not stored; 1 entry shares an earlier entry's guid under another "
                                 "link: each read by its link)"), state.last_status
    stored = {d.url for d in poll.documents}
    again = poll_feeds([feed_source(server, "odd", "/feed.rss")], {}, client, NOW, stored,
                       {("odd", "same-guid"), ("odd", "g2")})
    assert not again.documents and not again.rejects


def test_a_new_entry_under_a_guid_the_feed_gives_several_links_is_read(server: HTTPServer, client: HttpClient) -> None:
    """A feed whose template gives every item one guid: an item added after the first poll was skipped for
    good, as known by that guid, without a word; a guid the feed gives several links tells no entry apart, so
    such entries are known by their links."""
    site = base(server)
    story = " ".join(f"Sentence {i} of the page, long enough to read." for i in range(8))

    def feed(paths: list[str]) -> None:
        server.clear()
        server.expect_request("/feed.rss").respond_with_data(
            '<?xml version="1.0"?><rss version="2.0"><channel><title>Odd</title>' + "".join(
                f'<item><title>{path}</title><link>{site}{path}</link><guid isPermaLink="false">post</guid></item>'
                for path in paths) + "</channel></rss>", content_type=RSS_TYPE)
        for path in paths:
            server.expect_request(path).respond_with_data(f"<html><body><p>{path} {story}</p></body></html>",
                                                          content_type="text/html")

    feed(["/a.html", "/b.html"])
    first = poll_feeds([feed_source(server, "odd", "/feed.rss")], {}, client, NOW, set(), set())
    assert sorted(d.url for d in first.documents) == [f"{site}/a.html", f"{site}/b.html"]
    feed(["/c.html", "/a.html", "/b.html"])
    later = poll_feeds([feed_source(server, "odd", "/feed.rss")], {}, client, NOW,
                       {d.url for d in first.documents}, {("odd", "post")})
    assert [d.url for d in later.documents] == [f"{site}/c.html"] and hits(server, "/a.html") == 0


def test_entries_whose_pages_are_one_subscription_wall_are_each_their_feeds_text(server: HTTPServer,
                                                                                 client: HttpClient) -> None:
    """A site that answers every article link with the same page (a subscription or consent wall): the
    entries after the first were copies of the first, their own feed texts never read, and in later polls
    'already stored' for good. Each entry with a text of its own is its own input."""
    site = base(server)
    wall = b"<html><body><h1>Subscribe</h1><p>Subscribe to read this article.</p></body></html>"
    stories = {name: " ".join(f"The {name} story, sentence {i}, tells its own news at some length here." for i in
                              range(6)) for name in ("harbour", "school", "market")}

    def rss(names: list[str]) -> str:
        return ('<?xml version="1.0"?><rss version="2.0"><channel><title>Walled</title>' + "".join(
            f"<item><title>{n}</title><link>{site}/{n}.html</link><guid>{n}</guid>"
            f"<description>{stories[n]}</description></item>" for n in names) + "</channel></rss>")

    server.expect_request("/feed.rss").respond_with_data(rss(["harbour", "school"]), content_type=RSS_TYPE)
    for name in stories:
        server.expect_request(f"/{name}.html").respond_with_data(wall, content_type="text/html")
    poll = poll_feeds([feed_source(server, "walled", "/feed.rss")], {}, client, NOW, set(), set())
    assert sorted(d.locator for d in poll.documents) == [f"{site}/harbour.html", f"{site}/school.html"]
    assert poll.copies == [] and poll.rejects == []
    kept, rejects = clean_documents(poll.documents, CleanSettings())
    assert not rejects and sorted(a.text.split(",")[0] for _, a in kept) == ["The harbour story", "The school story"]
    # the next poll: a new entry behind the same wall is new, not the first entry's bytes stored before
    server.clear()
    server.expect_request("/feed.rss").respond_with_data(rss(["harbour", "school", "market"]), content_type=RSS_TYPE)
    server.expect_request("/market.html").respond_with_data(wall, content_type="text/html")
    stored = {f"{site}/harbour.html", f"{site}/school.html"}
    later = poll_feeds([feed_source(server, "walled", "/feed.rss")], {}, client, NOW, stored, {"harbour", "school"})
    hashes = {d.content_hash for d in poll.documents}
    assert [d.locator for d in later.documents] == [f"{site}/market.html"]
    assert later.documents[0].content_hash not in hashes, "its identity is not the wall's bytes alone"
