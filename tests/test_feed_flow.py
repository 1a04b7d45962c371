"""The ingest flow over feed sources end to end: a real HTTP server on 127.0.0.1, Prefect and DuckDB."""

from __future__ import annotations

import gzip
import logging
import socket
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.conftest import DATA, hits
from warehouse import open_warehouse

FLOW_DATA = DATA / "feed_flow"
RSS_TYPE = "application/rss+xml; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
BOILERPLATE = ("Accept cookies", "Skip to content", "Related stories", "Sign up for our morning newsletter",
               "All rights reserved", "Privacy policy", "Contact the newsroom")
MAX_BYTES = 200_000
HTTP_SETTINGS = f"""
[http]
allow_private_hosts = true
connect_timeout = 1.0
read_timeout = 1.0
total_timeout = 3.0
max_bytes = {MAX_BYTES}
retries = 0
max_per_host = 4

[feeds]
min_poll_interval_minutes = 0.0001
"""
METRO_PAGES = ("metro/city-budget", "metro/tram-line", "metro/library-reopens", "news/harbour-fire")
REGIONAL_PAGES = ("news/harbour-fire", "regional/vineyard-harvest", "regional/school-repairs")
BUSINESS_PAGES = ("business/port-tariffs", "business/bakery-chain", "business/startup-funding")
STORE_TABLES = ("store.articles", "store.raw_inputs", "store.article_tags", "store.rejects", "store.stories")


def utc(*parts: int) -> datetime:
    """An aware UTC datetime."""
    return datetime(*parts, tzinfo=timezone.utc)


# --- the server -------------------------------------------------------------------------------------

def base(server: HTTPServer) -> str:
    """The server's root URL, without a trailing slash."""
    return server.url_for("").rstrip("/")


def recorded(server: HTTPServer, relative: str) -> bytes:
    """A recorded file of tests/data/feed_flow with its @BASE@ links pointed at the server."""
    return (FLOW_DATA / relative).read_bytes().replace(b"@BASE@", base(server).encode())


def serve_feed(server: HTTPServer, path: str, name: str, content_type: str = RSS_TYPE) -> None:
    """Serve a recorded feed of tests/data/feed_flow/feeds at path."""
    server.expect_request(path).respond_with_data(recorded(server, f"feeds/{name}"), content_type=content_type)


def serve_pages(server: HTTPServer, *keys: str) -> None:
    """Serve recorded article pages: key "metro/tram-line" is /metro/tram-line.html."""
    for key in dict.fromkeys(keys):
        server.expect_request(f"/{key}.html").respond_with_data(
            recorded(server, f"pages/{key.replace('/', '-')}.html"), content_type=HTML_TYPE)


def unused_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- running the flow and reading the warehouse -----------------------------------------------------

def feed_config(write_config: Callable[[str], Path], feeds: dict[str, str], extra: str = HTTP_SETTINGS) -> Path:
    """A config with the given feed sources (name -> url), in order, and the test HTTP settings."""
    sources = "".join(f'\n[[sources]]\nname = "{name}"\nkind = "feed"\nurl = "{url}"\n' for name, url in feeds.items())
    return write_config(extra + sources)


def run(cfg: Path) -> str:
    """Run the ingest flow on the config; it must complete; returns the digest."""
    from flows.ingest import ingest

    state = ingest(config_path=str(cfg), return_state=True)
    assert state.is_completed(), state.message
    return state.result()


def query(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    """Rows of one query against the warehouse, opened read-only."""
    with open_warehouse(db) as con:
        return con.execute(sql, params or []).fetchall()


def health(db: Path) -> dict[str, tuple]:
    """source -> (last_status, last_error, consecutive_failures, failing, disabled)."""
    return {r[0]: r[1:] for r in query(db, "SELECT source, last_status, last_error, consecutive_failures, failing, "
                                           "disabled FROM source_health")}


def failing_sources(digest: str) -> dict[str, str]:
    """The digest's "Failing sources" section as source -> the rest of its line."""
    if "## Failing sources" not in digest:
        return {}
    section = digest.split("## Failing sources", 1)[1].split("\n## ", 1)[0]
    found = {}
    for line in section.splitlines():
        if line.startswith("- **"):
            name, _, rest = line[4:].partition("**: ")
            found[name] = rest
    return found


def as_utc(value: datetime | None) -> datetime | None:
    """A stored timestamp in UTC (None stays None)."""
    return value.astimezone(timezone.utc) if value is not None else None


# --- tests ------------------------------------------------------------------------------------------

def test_three_feeds_end_to_end(prefect_api, tmp_path, write_config, server):
    serve_feed(server, "/feeds/metro.rss", "metro.rss")
    serve_feed(server, "/feeds/regional.atom", "regional.atom", ATOM_TYPE)
    serve_feed(server, "/feeds/business.rss", "business.rss")
    serve_pages(server, *METRO_PAGES, *REGIONAL_PAGES, *BUSINESS_PAGES)
    site = base(server)
    cfg = feed_config(write_config, {"metro": f"{site}/feeds/metro.rss", "regional": f"{site}/feeds/regional.atom",
                                     "business": f"{site}/feeds/business.rss"})
    digest = run(cfg)
    db = tmp_path / "catalog.sqlite"

    rows = query(db, "SELECT url, source, title, published_at, guid, text, duplicate_of FROM store.articles")
    stored = {r[0]: r[1:] for r in rows}
    expected = {  # url: (source, title, published_at, guid)
        f"{site}/metro/city-budget.html": (  # feed link and page og:url both carry utm_* parameters
            "metro", "Council approves city budget with new transit fund", utc(2025, 3, 10, 6, 45), "metro-2001"),
        f"{site}/metro/tram-line.html": (  # no date in the feed: the page's article:published_time
            "metro", "Tram line extension opens to eastern suburbs", utc(2025, 3, 9, 16, 20), "metro-2002"),
        f"{site}/metro/library-reopens.html": (  # no date in the feed nor on the page: none invented
            "metro", "Central library reopens after two-year renovation", None, "metro-2003"),
        f"{site}/news/harbour-fire.html": (
            "metro", "Fire damages warehouse at the harbour", utc(2025, 3, 11, 5, 10), "metro-2004"),
        f"{site}/regional/vineyard-harvest.html": (  # relative Atom link, +01:00 date
            "regional", "Vineyards report an early and generous harvest", utc(2025, 3, 8, 9, 0),
            "tag:regional.example,2025:vineyard-harvest"),
        f"{site}/regional/school-repairs.html": (  # only <updated>; ?ref= dropped
            "regional", "Repairs to close two village schools for a month", utc(2025, 3, 7, 10, 0),
            "tag:regional.example,2025:school-repairs"),
        f"{site}/business/port-tariffs.html": (
            "business", "Port operator raises container tariffs", utc(2025, 3, 7, 11, 0),
            f"{site}/business/port-tariffs.html"),
        f"{site}/business/bakery-chain.html": (
            "business", "Family bakery chain opens its tenth shop", utc(2025, 3, 6, 8, 15), "biz-3302"),
        f"{site}/business/startup-funding.html": (  # fbclid dropped
            "business", "Local software startup raises seed funding", utc(2025, 3, 5, 13, 30), "biz-3303"),
    }
    assert len(rows) == len(stored) == 9
    assert {url: (s, t, as_utc(p), g) for url, (s, t, p, g, _, _) in stored.items()} == expected
    for url, (_, _, _, _, text, duplicate_of) in stored.items():
        assert duplicate_of is None, url
        assert len(text.split()) >= 100, url
        assert not any(b in text for b in BOILERPLATE), (url, text[-300:])
    assert "48 million for buses" in stored[f"{site}/metro/city-budget.html"][4]
    assert all("utm_" not in u and "fbclid" not in u and "ref=" not in u for u in stored)

    # 9 distinct entries: the harbour fire is carried by two feeds, fetched once and counted once
    runs = query(db, "SELECT status, discovered, skipped, new_articles, duplicates, rejected FROM runs")
    assert runs == [("completed", 9, 0, 9, 0, 0)]
    assert query(db, "SELECT count(*) FROM rejects") == [(0,)]
    assert health(db) == {name: ("ok", None, 0, False, False) for name in ("metro", "regional", "business")}
    assert query(db, "SELECT count(*) FROM source_health WHERE last_success IS NOT NULL "
                     "AND next_poll_at > last_polled") == [(3,)]
    assert failing_sources(digest) == {}
    assert "Fire damages warehouse at the harbour" in digest
    for key in set(METRO_PAGES + REGIONAL_PAGES + BUSINESS_PAGES):
        assert hits(server, f"/{key}.html") == 1, key


def test_story_in_two_feeds_is_fetched_and_stored_once(prefect_api, tmp_path, write_config, server):
    serve_feed(server, "/feeds/metro.rss", "metro.rss")
    serve_feed(server, "/feeds/regional.atom", "regional.atom", ATOM_TYPE)
    serve_pages(server, *METRO_PAGES, *REGIONAL_PAGES)
    site = base(server)
    # regional first this time: the story goes to the feed polled first
    cfg = feed_config(write_config, {"regional": f"{site}/feeds/regional.atom", "metro": f"{site}/feeds/metro.rss"})
    run(cfg)
    db = tmp_path / "catalog.sqlite"
    assert hits(server, "/news/harbour-fire.html") == 1
    fire = query(db, "SELECT source, guid, url FROM store.articles "
                     "WHERE title = 'Fire damages warehouse at the harbour'")
    assert fire == [("regional", "tag:regional.example,2025:harbour-fire", f"{site}/news/harbour-fire.html")]
    assert query(db, "SELECT count(*) FROM store.raw_inputs") == [(6,)]
    assert query(db, "SELECT source, count(*) FROM articles GROUP BY source ORDER BY source") == \
        [("metro", 3), ("regional", 3)]
    assert query(db, "SELECT discovered, skipped, new_articles, duplicates FROM runs") == [(6, 0, 6, 0)]


def test_second_run_is_a_conditional_get_answered_304(prefect_api, tmp_path, write_config, server):
    body = recorded(server, "feeds/business.rss")
    etag, modified = '"biz-v1"', "Fri, 07 Mar 2025 11:05:00 GMT"
    seen: list[tuple[str | None, str | None, int]] = []

    def conditional(request: Request) -> Response:
        validators = (request.headers.get("If-None-Match"), request.headers.get("If-Modified-Since"))
        response = Response(status=304) if validators == (etag, modified) else \
            Response(body, content_type=RSS_TYPE, headers={"ETag": etag, "Last-Modified": modified})
        seen.append((*validators, response.status_code))
        return response

    server.expect_request("/feeds/business.rss").respond_with_handler(conditional)
    serve_pages(server, *BUSINESS_PAGES)
    cfg = feed_config(write_config, {"business": server.url_for("/feeds/business.rss")})
    db = tmp_path / "catalog.sqlite"

    run(cfg)
    before = [query(db, f"SELECT count(*) FROM {t}")[0][0] for t in STORE_TABLES]
    assert before[0] == 3 and seen == [(None, None, 200)]
    time.sleep(0.05)  # past the (tiny) poll interval
    run(cfg)

    assert seen == [(None, None, 200), (etag, modified, 304)]
    assert [query(db, f"SELECT count(*) FROM {t}")[0][0] for t in STORE_TABLES] == before
    runs = query(db, "SELECT status, discovered, skipped, new_articles, duplicates, rejected FROM runs "
                     "ORDER BY started_at")
    assert runs == [("completed", 3, 0, 3, 0, 0), ("completed", 0, 0, 0, 0, 0)]
    assert health(db) == {"business": ("not modified", None, 0, False, False)}
    for key in BUSINESS_PAGES:
        assert hits(server, f"/{key}.html") == 1, key


def test_failing_feeds_recorded_while_a_good_feed_stores(prefect_api, tmp_path, write_config, server):
    serve_feed(server, "/feeds/business.rss", "business.rss")
    serve_pages(server, *BUSINESS_PAGES)
    server.expect_request("/feeds/broken.rss").respond_with_data(b"Internal Server Error", status=500)

    def stalled(_: Request) -> Response:  # answers only after read_timeout has passed
        time.sleep(2.0)
        return Response(recorded(server, "feeds/metro.rss"), content_type=RSS_TYPE)

    def drip(_: Request) -> Response:  # a byte at a time, each within read_timeout, for far longer than total
        def body() -> Iterator[bytes]:
            for _ in range(100):
                yield b" "
                time.sleep(0.2)
        return Response(body(), content_type=RSS_TYPE)

    server.expect_request("/feeds/stalled.rss").respond_with_handler(stalled)
    server.expect_request("/feeds/drip.rss").respond_with_handler(drip)
    padding = b"<!-- " + b"x" * (MAX_BYTES + 100_000) + b" -->"
    server.expect_request("/feeds/huge.rss").respond_with_data(
        recorded(server, "feeds/metro.rss").replace(b"<channel>", b"<channel>" + padding), content_type=RSS_TYPE)
    bomb = gzip.compress(b"<rss>" + b"\0" * 20_000_000, compresslevel=9)
    assert len(bomb) < MAX_BYTES // 4  # small on the wire: only inflating it goes past the limit
    server.expect_request("/feeds/bomb.rss").respond_with_data(
        bomb, content_type=RSS_TYPE, headers={"Content-Encoding": "gzip"})
    server.expect_request("/feeds/loop-a.rss").respond_with_data(b"", status=302,
                                                                 headers={"Location": "/feeds/loop-b.rss"})
    server.expect_request("/feeds/loop-b.rss").respond_with_data(b"", status=302,
                                                                 headers={"Location": "/feeds/loop-a.rss"})
    site = base(server)
    feeds = {"gone": f"{site}/feeds/missing.rss", "broken": f"{site}/feeds/broken.rss",
             "stalled": f"{site}/feeds/stalled.rss", "drip": f"{site}/feeds/drip.rss",
             "huge": f"{site}/feeds/huge.rss", "bomb": f"{site}/feeds/bomb.rss",
             "loop": f"{site}/feeds/loop-a.rss", "refused": f"http://127.0.0.1:{unused_port()}/feed.rss",
             "business": f"{site}/feeds/business.rss"}
    cfg = feed_config(write_config, feeds)

    started = time.monotonic()
    digest = run(cfg)
    assert time.monotonic() - started < 30, "the slow feeds were cut off by the timeouts"
    db = tmp_path / "catalog.sqlite"

    assert query(db, "SELECT source, count(*) FROM articles GROUP BY source") == [("business", 3)]
    assert query(db, "SELECT status, new_articles, rejected FROM runs") == [("completed", 3, 0)]
    expected = {  # source: (last_status, words of last_error)
        "gone": ("http 404", "HTTP 404"),
        "broken": ("http 500", "HTTP 500"),
        "stalled": ("timeout", "timeout fetching"),
        "drip": ("timeout", "body not complete within 3 s"),
        "huge": ("too large", f"Content-Length {len(padding) + len(recorded(server, 'feeds/metro.rss')):,}"),
        "bomb": ("too large", f"body exceeds {MAX_BYTES:,} bytes"),
        "loop": ("redirect loop", "redirect loop"),
        "refused": ("connect", "connection failed"),
    }
    states = health(db)
    assert set(states) == set(feeds)
    assert states["business"] == ("ok", None, 0, False, False)
    problems = failing_sources(digest)
    assert set(problems) == set(expected)
    for name, (status, words) in expected.items():
        last_status, last_error, failures, failing, disabled = states[name]
        assert (last_status, failures, failing, disabled) == (status, 1, True, False), name
        assert words in last_error and "\n" not in last_error, (name, last_error)
        assert problems[name].startswith(status) and words in problems[name], (name, problems[name])
        assert not problems[name].startswith(f"{status} — {status}:"), "the reason said once"
    assert "## Failing sources" in digest.split("## Stories")[0]


def test_malformed_feed_recovered_and_html_page_is_a_parse_error(prefect_api, tmp_path, write_config, server):
    serve_feed(server, "/feeds/harbour.rss", "malformed.rss")
    server.expect_request("/feeds/metro").respond_with_data(recorded(server, "feeds/homepage.html"),
                                                            content_type=HTML_TYPE)
    # UTF-8 bytes under a UTF-16 declaration, of even length: read naively, the whole feed is UTF-16 noise
    mislabelled = recorded(server, "feeds/business.rss").replace(b'encoding="UTF-8"', b'encoding="utf-16"')
    mislabelled += b"\n" * (len(mislabelled) % 2)
    server.expect_request("/feeds/business.rss").respond_with_data(mislabelled, content_type="application/rss+xml")
    serve_pages(server, "harbour/ferry-routes", "harbour/harbour-wall", "harbour/market-hall", *BUSINESS_PAGES)
    site = base(server)
    cfg = feed_config(write_config, {"harbour": f"{site}/feeds/harbour.rss", "homepage": f"{site}/feeds/metro",
                                     "mislabelled": f"{site}/feeds/business.rss"})
    digest = run(cfg)
    db = tmp_path / "catalog.sqlite"

    stored = query(db, "SELECT url, source, title, published_at FROM articles WHERE source = 'harbour' ORDER BY url")
    assert [(u, s, t, as_utc(p)) for u, s, t, p in stored] == [
        (f"{site}/harbour/ferry-routes.html", "harbour", "Ferry timetable changes and new routes",
         utc(2025, 3, 3, 7, 0)),
        (f"{site}/harbour/harbour-wall.html", "harbour", "Harbour wall repairs begin", utc(2025, 3, 4, 7, 0)),
    ]
    assert query(db, "SELECT count(*) FROM articles WHERE source = 'mislabelled'") == [(3,)]
    states = health(db)
    status, error, failures, failing, _ = states["harbour"]
    assert status.startswith("ok (bozo: ") and "not well-formed" in status
    assert (error, failures, failing) == (None, 0, False)
    status, error, failures, failing, _ = states["mislabelled"]
    assert status.startswith("ok (bozo: ") and "declared utf-16" in status and not failing
    status, error, failures, failing, _ = states["homepage"]
    assert (status, failures, failing) == ("parse error", 1, True)
    assert "not a feed: HTML page" in error
    problems = failing_sources(digest)
    assert set(problems) == {"homepage"} and "not a feed: HTML page" in problems["homepage"]
    assert hits(server, "/feeds/metro") == 1 and hits(server, "/metro/city-budget.html") == 0


def test_missing_page_falls_back_to_long_feed_content_or_is_rejected(prefect_api, tmp_path, write_config, server):
    serve_feed(server, "/feeds/valley.rss", "valley.rss")
    serve_pages(server, "valley/river-survey")  # dam-inspection and road-notice answer 404
    site = base(server)
    cfg = feed_config(write_config, {"valley": f"{site}/feeds/valley.rss"})
    digest = run(cfg)
    db = tmp_path / "catalog.sqlite"

    stored = {r[0]: r[1:] for r in query(db, "SELECT url, title, published_at, guid, text FROM store.articles")}
    assert set(stored) == {f"{site}/valley/river-survey.html", f"{site}/valley/dam-inspection.html"}
    title, published, guid, text = stored[f"{site}/valley/dam-inspection.html"]
    assert (title, as_utc(published), guid) == ("Dam inspection finds cracks in spillway", utc(2025, 3, 5, 9, 0),
                                                "valley-502")
    assert "fine cracks in the concrete spillway" in text and "mudflats along the northern shore" in text
    assert "<p>" not in text
    assert hits(server, "/valley/dam-inspection.html") == 1
    assert "kingfishers" in stored[f"{site}/valley/river-survey.html"][3]
    # which articles are the feed's text, not their page, and why: in the articles view and the inputs view
    assert dict(query(db, "SELECT url, feed_text_reason FROM articles")) == {
        f"{site}/valley/river-survey.html": None, f"{site}/valley/dam-inspection.html": "page fetch failed: http 404"}
    details = dict(query(db, "SELECT locator, detail FROM inputs WHERE outcome = 'stored'"))
    assert details[f"{site}/valley/dam-inspection.html"].endswith(", from the feed's text (page fetch failed: http 404)")
    assert "feed's text" not in details[f"{site}/valley/river-survey.html"]
    rejects = query(db, "SELECT source, locator, reason FROM rejects")
    assert rejects == [("valley", f"{site}/valley/road-notice.html", "page fetch failed: http 404; the feed's text is "
                                                                      "too short to use instead (9 words, needs 50)")]
    assert query(db, "SELECT discovered, new_articles, rejected FROM runs") == [(3, 2, 1)]
    assert health(db)["valley"][:3] == ("ok", None, 0)
    assert "page fetch failed: http 404" in digest and failing_sources(digest) == {}

    # the feed changes (one more entry, whose page answers): the dead link is neither fetched nor rejected again
    server.clear()
    feed = recorded(server, "feeds/valley.rss")
    entry = feed[feed.index(b"<item>"):feed.index(b"</item>") + len(b"</item>")]
    new_entry = entry.replace(b"valley/river-survey", b"valley/new-survey").replace(b"valley-501", b"valley-900")
    server.expect_request("/feeds/valley.rss").respond_with_data(feed.replace(b"<item>", new_entry + b"<item>", 1),
                                                                 content_type=RSS_TYPE)
    server.expect_request("/valley/new-survey.html").respond_with_data(
        recorded(server, "pages/valley-river-survey.html").replace(b"kingfishers", b"otters"), content_type=HTML_TYPE)
    time.sleep(0.05)  # past the feed's minimum poll interval
    run(cfg)
    assert hits(server, "/valley/road-notice.html") == 0
    assert query(db, "SELECT count(*) FROM rejects") == [(1,)]
    assert query(db, "SELECT rejected FROM runs ORDER BY started_at") == [(1,), (0,)]


def test_a_blog_feeds_appeared_first_on_line_is_no_part_of_the_article_its_text_stands_in_for(
        prefect_api, tmp_path, write_config, server):
    site = base(server)
    lead = ("<p>The village hall reopened on Saturday after a year of repairs to its roof and walls, paid for by a "
            "grant and two summers of bake sales.</p><p>Volunteers painted the main room and rebuilt the small stage, "
            "and the first event, a dance for the older residents, was full within a day of tickets going on sale."
            "</p><p>The committee said the hall would host a market every month from the spring.</p>")
    entries = {"hall": ("Village hall reopens after repairs", lead + f'<p>The post <a href="{site}/hall.html">Village '
                        f'hall reopens after repairs</a> appeared first on <a href="{site}">Valley Voice</a>.</p>'),
               "halle": ("Dorfhalle wieder offen", lead.replace("hall", "Halle") + f'<p>Der Beitrag <a href="{site}/'
                         f'halle.html">Dorfhalle wieder offen</a> erschien zuerst auf <a href="{site}">Talbote</a>.</p>'),
               # the notice as other WordPress plugins word it, after the last paragraph without one of its own
               "mill": ("Mill wheel turns again", lead.replace("village hall", "mill") + f'The post <a href="{site}/'
                        f'mill.html">Mill wheel turns again</a> first appeared on <a href="{site}">Valley Voice</a>.')}
    items = "".join(f"<item><title>{title}</title><link>{site}/{key}.html</link><guid>{key}</guid>"
                    f"<description><![CDATA[{content}]]></description></item>" for key, (title, content) in entries.items())
    server.expect_request("/feeds/voice.rss").respond_with_data(  # both pages answer 404: the feed's text is used
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Valley Voice</title>{items}</channel></rss>',
        content_type=RSS_TYPE)
    digest = run(feed_config(write_config, {"voice": f"{site}/feeds/voice.rss"}))
    db = tmp_path / "catalog.sqlite"

    stored = dict(query(db, "SELECT title, text || ' ' || summary FROM articles"))
    assert set(stored) == {title for title, _ in entries.values()}
    assert all("market every month" in text for text in stored.values())
    assert not any(words in text for text in stored.values() for words in ("appeared first", "first appeared", "zuerst auf"))
    assert not any(words in digest for words in ("appeared first", "first appeared", "zuerst auf"))


def test_an_entry_whose_link_redirects_is_not_fetched_or_recorded_again_when_its_feed_changes(
        prefect_api, tmp_path, write_config, server):
    # Links that redirect (http to https, feedburner, a shortener) to pages whose bytes change at every
    # request (a timestamp, a nonce). An RSS item needs no guid: then only its link tells it is known.
    site = base(server)
    story = " ".join(f"The council met on day {i} to discuss the budget of the new tram line and its stops."
                     for i in range(20))
    served = {"n": 0}

    def page(text: str) -> Callable[[Request], Response]:
        def answer(request: Request) -> Response:
            served["n"] += 1
            body = (f"<html><head><title>Tram budget</title></head><body><nav><a href='/'>Home</a></nav>"
                    f"{text}<!-- served {served['n']} at {time.time()} --></body></html>")
            return Response(body, content_type=HTML_TYPE)
        return answer

    def serve(version: int) -> None:
        items = "".join(f"<item><title>{title}</title><link>{site}/go/{key}</link><description>A teaser.</description>"
                        f"</item>" for key, title in (("story", "Tram budget agreed"), ("menu", "Site menu")))
        server.expect_request("/feeds/moved.rss").respond_with_data(
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>Moved</title><lastBuildDate>{version}'
            f'</lastBuildDate>{items}</channel></rss>', content_type=RSS_TYPE)
        for key in ("story", "menu"):
            server.expect_request(f"/go/{key}").respond_with_data(b"", status=301,
                                                                  headers={"Location": f"/pages/{key}.html"})
        server.expect_request("/pages/story.html").respond_with_handler(page(f"<article><p>{story}</p></article>"))
        server.expect_request("/pages/menu.html").respond_with_handler(page(""))

    serve(1)
    cfg = feed_config(write_config, {"moved": f"{site}/feeds/moved.rss"})
    run(cfg)
    db = tmp_path / "catalog.sqlite"
    server.clear()
    serve(2)  # the feed changes; its two entries are the same
    time.sleep(0.05)  # past the feed's minimum poll interval
    run(cfg)
    assert hits(server, "/go/story") == hits(server, "/go/menu") == 0
    assert query(db, "SELECT count(*) FROM store.articles") == [(1,)]
    assert query(db, "SELECT count(*) FROM rejects") == [(1,)]
    runs = query(db, "SELECT new_articles, duplicates, rejected FROM runs ORDER BY started_at")
    assert runs == [(1, 0, 1), (0, 0, 0)]
    # each entry's one outcome is found by the link the feed gives
    assert query(db, "SELECT locator, outcome FROM inputs ORDER BY locator") == [
        (f"{site}/go/menu", "rejected"), (f"{site}/go/story", "stored")]


GAZETTE_PAGES = ("gazette/pier-repairs", "gazette/lifeboat-rescue")


def _not_polled(digest: str) -> dict[str, str]:
    """The digest's "Sources not polled" section as source -> the rest of its line."""
    if "## Sources not polled" not in digest:
        return {}
    section = digest.split("## Sources not polled", 1)[1].split("\n## ", 1)[0]
    return {line[4:].partition("**: ")[0]: line[4:].partition("**: ")[2]
            for line in section.splitlines() if line.startswith("- **")}


def test_a_feed_named_on_the_command_line_is_polled_now_whatever_its_backoff(prefect_api, tmp_path, write_config,
                                                                            server):
    from flows.ingest import ingest

    serve_feed(server, "/feeds/gazette.rss", "gazette.rss")
    serve_pages(server, *GAZETTE_PAGES)
    url = server.url_for("/feeds/gazette.rss")
    cfg = write_config("[http]\nretries = 0\n")  # the default poll interval; private hosts not allowed
    db = tmp_path / "catalog.sqlite"

    refused = ingest(config_path=str(cfg), sources=[url], return_state=True)
    assert refused.is_completed(), refused.message
    [(status, error, failing)] = query(db, "SELECT last_status, last_error, failing FROM source_health")
    assert status == "refused address" and failing
    assert "not a public address; pass --allow-private-hosts" in error, error
    assert "pass --allow-private-hosts" in failing_sources(refused.result())[url]
    assert hits(server, "/feeds/gazette.rss") == 0

    # not backed off or counted: due again after the usual interval, as if it had been polled
    [(failures, polled, next_poll)] = query(db, "SELECT consecutive_failures, last_polled, next_poll_at FROM source_health")
    from config.settings import FeedSettings

    assert failures == 0 and next_poll - polled == timedelta(minutes=FeedSettings().min_poll_interval_minutes)

    # the same command with the flag, at once
    allowed = ingest(config_path=str(cfg), sources=[url], allow_private_hosts=True, return_state=True)
    assert allowed.is_completed(), allowed.message
    assert hits(server, "/feeds/gazette.rss") == 1
    assert query(db, "SELECT count(*) FROM articles") == [(2,)]
    assert health(db) == {url: ("ok", None, 0, False, False)}
    assert _not_polled(allowed.result()) == {}


def test_a_configured_feed_refused_as_private_is_polled_at_once_when_the_next_run_allows_it(
        prefect_api, tmp_path, write_config, server):
    """The refusal's own line says to pass --allow-private-hosts; a run that does must poll the configured
    feed then, not say "skipped: not due until ..." for the usual interval (the refusal asked nothing of it)."""
    from flows.ingest import ingest

    serve_feed(server, "/feeds/gazette.rss", "gazette.rss")
    serve_pages(server, *GAZETTE_PAGES)
    url = server.url_for("/feeds/gazette.rss")
    cfg = write_config(f'[http]\nretries = 0\n\n[[sources]]\nname = "gazette"\nkind = "feed"\nurl = "{url}"\n')
    db = tmp_path / "catalog.sqlite"

    refused = run(cfg)
    assert "pass --allow-private-hosts" in failing_sources(refused)["gazette"]
    assert hits(server, "/feeds/gazette.rss") == 0

    allowed = ingest(config_path=str(cfg), allow_private_hosts=True, return_state=True)
    assert allowed.is_completed(), allowed.message
    assert "gazette" not in _not_polled(allowed.result()), allowed.result()
    assert hits(server, "/feeds/gazette.rss") == 1
    assert query(db, "SELECT count(*) FROM articles") == [(2,)]
    assert health(db) == {"gazette": ("ok", None, 0, False, False)}

    # once polled, the usual interval holds again
    assert _not_polled(run(cfg))["gazette"].startswith("skipped: not due until")
    assert hits(server, "/feeds/gazette.rss") == 1


def test_a_configured_feed_named_on_the_command_line_is_that_source_and_a_success_enables_it_again(
        prefect_api, tmp_path, write_config, server):
    from flows.ingest import ingest

    url = server.url_for("/feeds/gazette.rss")
    server.expect_oneshot_request("/feeds/gazette.rss").respond_with_data(b"", status=410)  # gone, once
    serve_feed(server, "/feeds/gazette.rss", "gazette.rss")
    serve_pages(server, *GAZETTE_PAGES)
    cfg = feed_config(write_config, {"gazette": url})
    db = tmp_path / "catalog.sqlite"
    run(cfg)
    assert health(db)["gazette"][-1] is True, "a 410 disables the feed at once"
    assert _not_polled(run(cfg))["gazette"].startswith("skipped: disabled: permanently gone")
    assert hits(server, "/feeds/gazette.rss") == 1

    # named by its URL in another spelling: the configured source, polled although disabled
    asked = ingest(config_path=str(cfg), sources=[f"{url}?utm_source=newsletter#latest"], return_state=True)
    assert asked.is_completed(), asked.message
    assert hits(server, "/feeds/gazette.rss") == 2
    assert health(db) == {"gazette": ("ok", None, 0, False, False)}, "one health row, under the configured name"
    assert query(db, "SELECT DISTINCT source FROM articles") == [("gazette",)]
    assert "gazette" not in _not_polled(run(cfg)), "the configured runs poll it again (a tiny poll interval here)"
    assert hits(server, "/feeds/gazette.rss") == 3

    # named by its name
    by_name = ingest(config_path=str(cfg), sources=["gazette"], return_state=True)
    assert by_name.is_completed(), by_name.message
    assert hits(server, "/feeds/gazette.rss") == 4
    assert list(health(db)) == ["gazette"]


def test_a_feed_that_moved_named_by_its_new_url_is_still_its_configured_source(
        prefect_api, tmp_path, write_config, server):
    """After a 301, source health shows the feed's new URL; naming that URL with --source polls the configured
    source under its own name and health row, not a second source called by the URL."""
    from flows.ingest import ingest

    old, new = server.url_for("/feeds/old.rss"), server.url_for("/feeds/gazette.rss")
    server.expect_request("/feeds/old.rss").respond_with_data(b"", status=301, headers={"Location": new})
    serve_feed(server, "/feeds/gazette.rss", "gazette.rss")
    serve_pages(server, *GAZETTE_PAGES)
    cfg = feed_config(write_config, {"gazette": old})
    db = tmp_path / "catalog.sqlite"
    run(cfg)
    assert query(db, "SELECT source, url FROM source_health") == [("gazette", new)]

    asked = ingest(config_path=str(cfg), sources=[new], return_state=True)
    assert asked.is_completed(), asked.message
    assert "sources: gazette" in asked.result()
    assert query(db, "SELECT source, url FROM source_health") == [("gazette", new)], "one row, the configured name"
    assert hits(server, "/feeds/old.rss") == 1, "the feed is asked for where it moved to"
    # polled fine where it moved to: its status says so, and it is not a failing feed
    [(status, failing)] = query(db, "SELECT last_status, failing FROM source_health")
    assert status.startswith("unchanged (moved permanently to ") and failing is False, (status, failing)


def test_configured_feeds_not_due_are_listed_in_the_digest(prefect_api, tmp_path, write_config, server):
    serve_feed(server, "/feeds/gazette.rss", "gazette.rss")
    serve_pages(server, *GAZETTE_PAGES)
    cfg = feed_config(write_config, {"gazette": server.url_for("/feeds/gazette.rss"),
                                     "gone": f"http://127.0.0.1:{unused_port()}/feed.rss"},
                      extra="[http]\nallow_private_hosts = true\nretries = 0\nconnect_timeout = 1.0\n")
    db = tmp_path / "catalog.sqlite"
    first = run(cfg)
    assert set(failing_sources(first)) == {"gone"} and _not_polled(first) == {}
    second = run(cfg)  # at once: neither is due (10 min after a success, backing off after a failure)
    assert hits(server, "/feeds/gazette.rss") == 1
    due = {source: (next_poll, last_polled) for source, next_poll, last_polled in query(
        db, "SELECT source, next_poll_at, last_polled FROM source_health")}

    def at(value: datetime, today: datetime) -> str:  # the day is written only when it is not today
        value, today = value.astimezone(timezone.utc), today.astimezone(timezone.utc)
        return f"{value:%H:%M} UTC" if value.date() == today.date() else f"{value:%Y-%m-%d %H:%M} UTC"

    (gazette_next, gazette_polled), (gone_next, gone_polled) = due["gazette"], due["gone"]
    assert _not_polled(second) == {
        "gazette": f"skipped: not due until {at(gazette_next, gazette_polled)} (last polled "
                   f"{at(gazette_polled, gazette_polled)[:5]} UTC)",
        "gone": f"skipped: not due until {at(gone_next, gone_polled)} (backing off after 1 failure: connect)"}
    assert "Nothing new in this run." in second


def test_feed_articles_take_the_feeds_title_as_site_name_and_a_byline_after_the_lead(
        prefect_api, tmp_path, write_config, server):
    serve_feed(server, "/feeds/gazette.rss", "gazette.rss")
    serve_pages(server, *GAZETTE_PAGES, "metro/tram-line")
    serve_feed(server, "/feeds/metro.rss", "metro.rss")
    run(feed_config(write_config, {"gazette": server.url_for("/feeds/gazette.rss"),
                                   "metro": server.url_for("/feeds/metro.rss")}))
    rows = query(tmp_path / "catalog.sqlite", "SELECT url, site_name, byline, text FROM articles")
    found = {url.rsplit("/", 1)[-1]: (site, byline, text) for url, site, byline, text in rows}
    # the gazette's pages name no site: the feed's title does; a page that names its site keeps it
    assert found["pier-repairs.html"][0] == found["lifeboat-rescue.html"][0] == "Harbour Gazette"
    assert found["tram-line.html"][0] == "Metro Desk"
    assert found["pier-repairs.html"][1] == "Sarah Whitfield, Transport Correspondent"
    assert "Sarah Whitfield" not in found["pier-repairs.html"][2]
    assert found["pier-repairs.html"][2].startswith("The ferry landing at the town pier will close")


def test_impossible_partial_and_future_dates_are_stored_as_null_or_give_way_to_the_page(
        prefect_api, tmp_path, write_config, server):
    """An entry date feedparser rolls over or fills in, or a far-future one, is no date: the page's own date
    stands in, and where the page has none either (or an impossible one) published_at stays NULL."""
    site = base(server)
    dates = {"metro/city-budget": "2024-13-45", "metro/tram-line": "Mon, 01 Jan 2099 00:00:00 GMT",
             "business/bakery-chain": "2024-05", "metro/library-reopens": "2024-02-30"}
    items = "".join(f"<item><title>{key}</title><link>{site}/{key}.html</link><guid isPermaLink='false'>{key}</guid>"
                    f"<pubDate>{date}</pubDate></item>" for key, date in dates.items())
    server.expect_request("/feeds/dates.rss").respond_with_data(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Dates</title>{items}</channel></rss>',
        content_type=RSS_TYPE)
    serve_pages(server, "metro/city-budget", "metro/tram-line", "business/bakery-chain")
    library = recorded(server, "pages/metro-library-reopens.html").replace(  # a page date that cannot be either
        b"<title>", b'<meta property="article:published_time" content="2024-02-30T10:00:00Z"><title>', 1)
    server.expect_request("/metro/library-reopens.html").respond_with_data(library, content_type=HTML_TYPE)
    run(feed_config(write_config, {"dates": f"{site}/feeds/dates.rss"}))

    stored = {guid: as_utc(published) for guid, published in
              query(tmp_path / "catalog.sqlite", "SELECT guid, published_at FROM articles")}
    assert stored == {"metro/city-budget": utc(2025, 3, 10, 6, 45), "metro/tram-line": utc(2025, 3, 9, 16, 20),
                      "business/bakery-chain": utc(2025, 3, 6, 8, 15), "metro/library-reopens": None}


def test_a_feed_whose_guids_another_feed_stored_alike_is_still_read(prefect_api, tmp_path, write_config, server):
    # Two sites number their items alike (<guid isPermaLink="false">1001</guid>): the second feed's item is
    # another story, fetched and stored after the first feed's item of that number is stored.
    site = base(server)
    for name, path, words in (("North", "/north/water.html", "water pipes reservoir drought rationing"),
                              ("South", "/south/bakery.html", "bakery bread ovens flour pastries")):
        feed = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title><item><title>{name} item'
                f'</title><link>{site}{path}</link><guid isPermaLink="false">1001</guid></item></channel></rss>')
        server.expect_request(f"/feeds/{name.lower()}.rss").respond_with_data(feed, content_type=RSS_TYPE)
        text = " ".join(f"The {name.lower()} report {i} talks about {words}." for i in range(12))
        server.expect_request(path).respond_with_data(f"<html><body><article><p>{text}</p></article></body></html>",
                                                      content_type=HTML_TYPE)
    db = tmp_path / "catalog.sqlite"
    run(feed_config(write_config, {"north": f"{site}/feeds/north.rss"}))
    run(feed_config(write_config, {"north": f"{site}/feeds/north.rss", "south": f"{site}/feeds/south.rss"}))
    assert hits(server, "/south/bakery.html") == 1
    assert query(db, "SELECT source, guid, url FROM articles ORDER BY source") == [
        ("north", "1001", f"{site}/north/water.html"), ("south", "1001", f"{site}/south/bakery.html")]


def _run_warnings(cfg: Path, last: str) -> list[str]:
    """Run the ingest flow on the config (it must complete) and read its WARNING lines back from the API,
    as the UI's Logs tab shows them, waiting (a run's logs reach the API in batches) for one holding `last`."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    from flows.ingest import ingest

    state = ingest(config_path=str(cfg), return_state=True)
    assert state.is_completed(), state.message
    run_id = state.state_details.flow_run_id
    deadline = time.monotonic() + 30
    with get_client(sync_client=True) as client:
        while True:
            logs = [(log.level, log.message) for log in client.read_logs(
                LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))]
            if any(last in message for _, message in logs) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    return [message for level, message in logs if level == logging.WARNING]


def test_a_missing_source_folder_and_why_are_in_the_runs_log_on_the_api(prefect_api, tmp_path, write_config):
    gone = tmp_path / "no-such-folder"
    cfg = write_config(f'[[sources]]\nname = "archive"\nkind = "folder"\npath = "{gone.as_posix()}"\n')
    warnings = _run_warnings(cfg, "archive")
    assert any(m.startswith("source archive: ") and "source folder does not exist" in m and "no-such-folder" in m
               for m in warnings), warnings


def test_a_failing_feed_and_why_are_in_the_runs_log_on_the_api(prefect_api, tmp_path, write_config, server):
    serve_feed(server, "/feeds/business.rss", "business.rss")
    serve_pages(server, *BUSINESS_PAGES)
    server.expect_request("/feeds/broken.rss").respond_with_data(b"Internal Server Error", status=500)
    server.expect_request("/feeds/gone.rss").respond_with_data(b"Gone", status=410)
    site = base(server)
    cfg = feed_config(write_config, {"broken": f"{site}/feeds/broken.rss", "gone": f"{site}/feeds/gone.rss",
                                     "business": f"{site}/feeds/business.rss"})

    warnings = _run_warnings(cfg, "disabled")
    assert any(m.startswith("feed broken failed: ") and "HTTP 500" in m and f"{site}/feeds/broken.rss" in m
               for m in warnings), warnings
    assert any(m.startswith("feed gone failed: ") and "HTTP 410" in m for m in warnings), warnings
    assert any(m.startswith("feed source gone disabled: permanently gone") for m in warnings), warnings
    assert not any("business" in m for m in warnings), warnings


def test_a_json_feeds_html_escaped_twice_is_stored_as_text_not_as_tags(prefect_api, tmp_path, write_config, server):
    """A JSON Feed whose content_html is escaped twice ('&lt;p&gt;…', as a static site generator wrote it) stood
    in for its dead page with its tags as words ('<p><a href="…">Supabase</a> uses …') in text and summary."""
    site = base(server)
    paragraphs = ["The council approved a new cycle lane along the river road on Tuesday, after two years of "
                  "consultation with residents, shop owners and the bus company.",
                  "Work starts in March and should take four months; the road stays open to cars in one direction.",
                  "Shop owners said they feared losing parking, but the council promised twenty new spaces nearby."]
    content = "".join(f'<p><a href="{site}/lane">{p}</a></p>\n' for p in paragraphs)
    escaped = content.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "River Post",
            "items": [{"id": f"{site}/lane", "url": f"{site}/lane", "title": "Cycle lane approved",
                       "content_html": escaped, "date_published": "2026-02-16T00:00:00Z"}]}
    server.expect_request("/feeds/river.json").respond_with_json(feed)  # the page answers 404: the feed's text is used
    run(feed_config(write_config, {"river": f"{site}/feeds/river.json"}))

    [(text, summary, reason)] = query(tmp_path / "catalog.sqlite", "SELECT text, summary, feed_text_reason FROM articles")
    assert reason == "page fetch failed: http 404"
    assert text.split("\n\n") == paragraphs
    assert not any(mark in text + summary for mark in ("<p>", "</a>", "href", "&lt;", "&quot;"))


def test_a_wordpress_shortcode_left_in_a_feeds_text_is_no_part_of_the_article(prefect_api, tmp_path, write_config,
                                                                               server):
    """A news site's feed holds an unrendered WordPress shortcode as a paragraph of its own ('[time-brightcove
    not-tgx="true"]', in every article of two real feeds): it was stored in the text as if the article said it."""
    site = base(server)
    paragraphs = ["The council approved a new cycle lane along the river road on Tuesday, after two years of "
                  "consultation with residents, shop owners and the bus company.",
                  "Work starts in March and should take four months; the road stays open to cars in one direction.",
                  "[dependencies] is how the council's planning file names the works the lane waits for.",
                  "Shop owners said they feared losing parking, but the council promised twenty new spaces nearby."]
    content = "".join(f"<p>{p}</p>" for p in (paragraphs[0], "[time-brightcove not-tgx=&#8221;true&#8221;]",
                                              *paragraphs[1:3], '[caption id="attachment_7" align="alignnone"]',
                                              paragraphs[3]))
    server.expect_request("/feeds/river.rss").respond_with_data(  # the page answers 404: the feed's text is used
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>River Post</title><item><title>Cycle lane '
        f'approved</title><link>{site}/lane</link><description><![CDATA[{content}]]></description></item>'
        f'</channel></rss>', content_type=RSS_TYPE)
    run(feed_config(write_config, {"river": f"{site}/feeds/river.rss"}))

    [(text,)] = query(tmp_path / "catalog.sqlite", "SELECT text FROM articles")
    assert text.split("\n\n") == paragraphs
