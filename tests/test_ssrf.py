"""SSRF: links to local files, other schemes, loopback, private and link-local addresses are never fetched."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

import httpcore
import pytest
from pytest_httpserver import HTTPServer

from config.settings import HttpSettings, SourceSettings
from tasks.sources.feeds import SourceState, poll_feeds
from tasks.sources.urls import canonical_url
from tasks.sources.http import FetchError, HttpClient, _GuardedBackend
from tests.conftest import hits
from warehouse import open_warehouse

NOW = datetime(2025, 3, 6, 12, 0, tzinfo=timezone.utc)
SECRET = "/secret/admin"
PRIVATE_TARGETS = [
    "http://10.0.0.1/admin",
    "http://10.255.255.254:8080/",
    "http://172.16.5.4/",
    "http://192.168.1.1/router",
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://[fe80::1]/",
    "http://[fd00::1]/",
    "http://[::ffff:a9fe:a9fe]/latest/meta-data/",  # 169.254.169.254 inside IPv6
    "http://100.64.0.1/",
    "http://0.0.0.0:{port}" + SECRET,
    "http://[::1]:{port}" + SECRET,
    "http://localhost:{port}" + SECRET,
    "http://LocalHost:{port}" + SECRET,
    "http://127.1:{port}" + SECRET,
    "http://2130706433:{port}" + SECRET,   # 127.0.0.1 as one decimal number
    "http://0x7f000001:{port}" + SECRET,   # ... in hex
    "http://017700000001:{port}" + SECRET,  # ... in octal
    "http://[::ffff:127.0.0.1]:{port}" + SECRET,
]
OTHER_SCHEMES = ["file:///etc/passwd", "file://localhost/etc/shadow", "ftp://127.0.0.1/pub/file",
                 "gopher://127.0.0.1:70/_stats", "dict://127.0.0.1:11211/stat", "data:text/html,<p>x</p>",
                 "jar:http://127.0.0.1/x.jar!/", "//127.0.0.1/no-scheme"]


@pytest.fixture()
def server(server: HTTPServer) -> HTTPServer:
    """The shared loopback server, also serving the secret page no refused request may reach."""
    server.expect_request(SECRET).respond_with_data(b"TOP SECRET", content_type="text/html")
    return server


def settings(**overrides) -> HttpSettings:
    values = dict(connect_timeout=1.0, read_timeout=1.0, total_timeout=3.0, max_bytes=200_000, max_redirects=5,
                  retries=2, allow_private_hosts=False, user_agent="newsdesk-test/1.0")
    values.update(overrides)
    return HttpSettings(**values)


class _FirstHopAllowed(_GuardedBackend):
    """The pipeline's guard (allow_private_hosts off), except for the one test server that plays the public
    site: every other host, redirect targets included, goes through the real address check."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(allow_private=False)
        self.exempt = (host, port)
        self.refused: list[str] = []

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options=None) -> httpcore.NetworkStream:
        if (host, port) == self.exempt:
            return httpcore.SyncBackend.connect_tcp(self, host, port, timeout, local_address, socket_options)
        try:
            return super().connect_tcp(host, port, timeout, local_address, socket_options)
        except FetchError:
            self.refused.append(f"{host}:{port}")
            raise


def public_site_client(server: HTTPServer) -> tuple[HttpClient, _FirstHopAllowed]:
    """A client with allow_private_hosts off that treats the test server as a public site."""
    client = HttpClient(settings())
    backend = _FirstHopAllowed(server.host, server.port)
    pool = client._client._transport._pool  # the guarded transport's connection pool
    assert isinstance(pool._network_backend, _GuardedBackend)
    pool._network_backend = backend
    return client, backend


def target(template: str, server: HTTPServer) -> str:
    return template.replace("{port}", str(server.port))


@pytest.mark.parametrize("template", PRIVATE_TARGETS)
def test_private_targets_refused_before_connecting(server: HTTPServer, template: str) -> None:
    url = target(template, server)
    started = time.monotonic()
    with HttpClient(settings()) as client, pytest.raises(FetchError) as info:
        client.fetch(url)
    assert info.value.kind == "refused address", str(info.value)
    assert "not a public address" in str(info.value) and "\n" not in str(info.value)
    assert time.monotonic() - started < 1.0, "refused at resolution, without trying to connect"
    assert hits(server, SECRET) == 0


@pytest.mark.parametrize("url", OTHER_SCHEMES)
def test_other_schemes_refused(url: str) -> None:
    with HttpClient(settings(allow_private_hosts=True)) as client, pytest.raises(FetchError) as info:
        client.fetch(url)
    assert info.value.kind == "bad url"


def test_loopback_allowed_only_when_configured(server: HTTPServer) -> None:
    url = target("http://localhost:{port}" + SECRET, server)
    with HttpClient(settings(allow_private_hosts=True)) as client:
        assert client.fetch(url).body == b"TOP SECRET"
    assert hits(server, SECRET) == 1


@pytest.mark.parametrize("template", [t for t in PRIVATE_TARGETS if "{port}" in t or "169.254" in t or "10.0" in t]
                         + ["file:///etc/passwd", "ftp://127.0.0.1/pub"])
def test_redirect_from_allowed_site_to_private_target_refused(server: HTTPServer, template: str) -> None:
    location = target(template, server)
    server.expect_request("/story").respond_with_data(b"", status=302, headers={"Location": location})
    client, backend = public_site_client(server)
    with client, pytest.raises(FetchError) as info:
        client.fetch(server.url_for("/story"))
    assert hits(server, "/story") == 1, "the first hop is allowed and fetched"
    assert hits(server, SECRET) == 0, "the redirect target is never reached"
    if location.startswith(("http://", "https://")):
        assert info.value.kind == "refused address" and len(backend.refused) == 1, backend.refused
    else:
        assert info.value.kind == "bad url" and backend.refused == []


def test_redirect_chain_is_checked_at_every_hop(server: HTTPServer) -> None:
    server.expect_request("/a").respond_with_data(b"", status=301, headers={"Location": "/b"})
    server.expect_request("/b").respond_with_data(b"", status=307, headers={
        "Location": target("http://127.1:{port}", server) + SECRET})
    client, backend = public_site_client(server)
    with client:
        with pytest.raises(FetchError) as info:
            client.fetch(server.url_for("/a"))
        assert info.value.kind == "refused address"
        assert (hits(server, "/a"), hits(server, "/b"), hits(server, SECRET)) == (1, 1, 0)
        assert backend.refused == [f"127.1:{server.port}"]
        with pytest.raises(FetchError) as direct:  # the exemption is for the one site: another name is refused
            client.fetch(target("http://localhost:{port}", server) + SECRET)
    assert direct.value.kind == "refused address" and hits(server, SECRET) == 0


def test_feed_entries_pointing_inward_are_not_fetched(server: HTTPServer) -> None:
    links = ["file:///etc/passwd", "ftp://127.0.0.1/pub/story", "http://10.0.0.1/story",
             "http://192.168.1.1/story", "http://169.254.169.254/latest/meta-data/",
             target("http://localhost:{port}", server) + SECRET, server.url_for("/hop"), server.url_for("/good")]
    items = "".join(f"<item><title>Entry {i}</title><link>{link}</link><guid>g{i}</guid></item>"
                    for i, link in enumerate(links))
    server.expect_request("/feed.rss").respond_with_data(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>',
        content_type="application/rss+xml")
    server.expect_request("/hop").respond_with_data(
        b"", status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    page = "<html><body><article><p>" + "A perfectly ordinary public news story. " * 20 + "</p></article></body></html>"
    server.expect_request("/good").respond_with_data(page, content_type="text/html")
    source = SourceSettings(name="site", kind="feed", url=server.url_for("/feed.rss"))
    client, backend = public_site_client(server)
    with client:
        poll = poll_feeds([source], {"site": SourceState(source="site", url=source.url)}, client, NOW, set(), set())
    assert poll.problems == []
    assert [d.locator for d in poll.documents] == [server.url_for("/good")]
    reasons = {r.locator: r.reason for r in poll.rejects}
    for link in links[2:7]:
        assert reasons[canonical_url(link)] == "page fetch failed: refused address", (link, reasons)
    no_link = sorted(r.reason for r in poll.rejects if r.reason.startswith("entry's link"))
    assert no_link == [f"entry's link is not http(s) ({scheme}), so not fetched, and too little feed content"
                       for scheme in ("file", "ftp")], "entries whose only link is not http(s) are not fetched"
    assert len(poll.rejects) == 7
    assert not any(r.locator.startswith(("file:", "ftp:")) for r in poll.rejects)
    assert hits(server, SECRET) == 0 and hits(server, "/hop") == 1
    assert len(backend.refused) == 5


def test_flow_refuses_a_loopback_feed_unless_private_hosts_allowed(prefect_api, tmp_path: Path, write_config,
                                                                  server: HTTPServer) -> None:
    from flows.ingest import ingest

    server.expect_request("/feed.rss").respond_with_data(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>x</title>'
        f'<link>{server.url_for(SECRET)}</link></item></channel></rss>', content_type="application/rss+xml")
    cfg = write_config(f'[http]\nretries = 0\n[feeds]\nmin_poll_interval_minutes = 0.0001\n'
                       f'[[sources]]\nname = "local"\nkind = "feed"\nurl = "{server.url_for("/feed.rss")}"\n')
    state = ingest(config_path=str(cfg), return_state=True)
    assert state.is_completed(), state.message
    with open_warehouse(tmp_path / "catalog.sqlite") as con:
        health = con.execute("SELECT last_status, last_error, failing FROM source_health").fetchall()
        articles = con.execute("SELECT count(*) FROM articles").fetchone()[0]
    assert health[0][0] == "refused address" and health[0][2] is True and "not a public address" in health[0][1]
    assert articles == 0 and hits(server, "/feed.rss") == 0 and hits(server, SECRET) == 0
    time.sleep(0.05)
    state = ingest(config_path=str(cfg), allow_private_hosts=True, return_state=True)
    assert state.is_completed(), state.message
    assert hits(server, "/feed.rss") == 1 and hits(server, SECRET) == 1


def test_a_page_refused_as_a_private_address_is_read_once_private_hosts_are_allowed(server: HTTPServer) -> None:
    # The refusal is this machine's rule, not the entry's fault: recorded once while private hosts are
    # refused (its reject settled, not tried again), read at the next change of its feed once they are allowed.
    page_url = target("http://localhost:{port}", server) + "/intranet/notice"
    server.expect_request("/feed.rss").respond_with_data(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>Notice</title>'
        f'<link>{page_url}</link><guid>n1</guid></item></channel></rss>', content_type="application/rss+xml")
    page = "<html><body><article><p>" + "The staff canteen reopens on Monday after its repairs. " * 12 + "</p></article></body></html>"
    server.expect_request("/intranet/notice").respond_with_data(page, content_type="text/html")
    source = SourceSettings(name="site", kind="feed", url=server.url_for("/feed.rss"))
    client, _ = public_site_client(server)
    with client:
        first = poll_feeds([source], {}, client, NOW, set(), set())
        assert [r.reason for r in first.rejects] == ["page fetch failed: refused address"]
        known = {(r.locator, r.reason) for r in first.rejects}
        again = poll_feeds([source], {}, client, NOW, set(), set(), known_rejects=known)
        assert again.rejects == [] and again.documents == [], "still refused: settled, not tried again"
    with HttpClient(settings(allow_private_hosts=True)) as allowed:
        now_allowed = poll_feeds([source], {}, allowed, NOW, set(), set(), known_rejects=known)
    assert [d.locator for d in now_allowed.documents] == [canonical_url(page_url)] and now_allowed.rejects == []
    assert hits(server, "/intranet/notice") == 1
