"""HttpClient against a real HTTP server on 127.0.0.1: limits, redirects, retries, SSRF guard, concurrency."""

from __future__ import annotations

import gzip
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from config.settings import HttpSettings
from tasks.sources.http import FetchError, FetchResult, HttpClient, is_public_address, parse_retry_after
from tests.conftest import hits

ROOT = Path(__file__).resolve().parent.parent


def make_client(**overrides) -> HttpClient:
    """A client with short limits, allowed to reach the local test server unless told otherwise."""
    values = dict(connect_timeout=1.0, read_timeout=1.0, total_timeout=3.0, max_bytes=100_000,
                  max_redirects=5, retries=0, allow_private_hosts=True, user_agent="newsdesk-test/1.0")
    values.update(overrides)
    return HttpClient(HttpSettings(**values))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_200_returns_body_lowercase_headers_and_sends_user_agent(server: HTTPServer) -> None:
    server.expect_request("/feed.xml").respond_with_data(
        b"<rss/>", content_type="application/rss+xml", headers={"ETag": '"v1"'})
    with make_client() as client:
        result = client.fetch(server.url_for("/feed.xml"))
    assert isinstance(result, FetchResult)
    assert (result.status, result.body, result.permanent_redirect) == (200, b"<rss/>", None)
    assert result.url == server.url_for("/feed.xml")
    assert result.headers["etag"] == '"v1"' and result.headers["content-type"] == "application/rss+xml"
    request = server.log[0][0]
    assert request.headers["User-Agent"] == "newsdesk-test/1.0"
    assert "application/rss+xml" in request.headers["Accept"]


def test_304_when_if_none_match_matches(server: HTTPServer) -> None:
    server.expect_request("/feed.xml", headers={"If-None-Match": '"v1"'}).respond_with_data(b"", status=304)
    with make_client() as client:
        result = client.fetch(server.url_for("/feed.xml"), {"If-None-Match": '"v1"'})
    assert (result.status, result.body) == (304, b"")


@pytest.mark.parametrize("status, permanent", [(404, False), (410, True)])
def test_client_errors_raise_http_kind(server: HTTPServer, status: int, permanent: bool) -> None:
    server.expect_request("/gone").respond_with_data(b"no", status=status)
    with make_client(retries=2) as client, pytest.raises(FetchError) as info:
        client.fetch(server.url_for("/gone"))
    assert (info.value.kind, info.value.status, info.value.label) == ("http", status, f"http {status}")
    assert info.value.permanent is permanent
    assert hits(server, "/gone") == 1  # 4xx is not retried
    assert "\n" not in str(info.value)


def test_500_is_retried_then_reported(server: HTTPServer) -> None:
    server.expect_request("/flaky").respond_with_data(b"oops", status=500)
    with make_client(retries=2) as client, pytest.raises(FetchError) as info:
        client.fetch(server.url_for("/flaky"))
    assert info.value.label == "http 500"
    assert hits(server, "/flaky") == 3


def test_500_then_success_recovers(server: HTTPServer) -> None:
    server.expect_ordered_request("/wobbly").respond_with_data(b"down", status=502)
    server.expect_ordered_request("/wobbly").respond_with_data(b"up")
    with make_client(retries=2) as client:
        assert client.fetch(server.url_for("/wobbly")).body == b"up"


def test_501_is_not_retried(server: HTTPServer) -> None:
    server.expect_request("/nope").respond_with_data(b"", status=501)
    with make_client(retries=2) as client, pytest.raises(FetchError):
        client.fetch(server.url_for("/nope"))
    assert hits(server, "/nope") == 1


def test_429_with_long_retry_after_is_reported_not_slept(server: HTTPServer) -> None:
    server.expect_request("/busy").respond_with_data(b"", status=429, headers={"Retry-After": "120"})
    started = time.monotonic()
    with make_client(retries=2) as client, pytest.raises(FetchError) as info:
        client.fetch(server.url_for("/busy"))
    assert time.monotonic() - started < 1.0
    assert (info.value.label, info.value.retry_after) == ("http 429", 120.0)
    assert hits(server, "/busy") == 1


def test_503_with_short_retry_after_is_honoured(server: HTTPServer) -> None:
    server.expect_ordered_request("/later").respond_with_data(b"", status=503, headers={"Retry-After": "1"})
    server.expect_ordered_request("/later").respond_with_data(b"ready")
    started = time.monotonic()
    with make_client(retries=1) as client:
        assert client.fetch(server.url_for("/later")).body == b"ready"
    assert time.monotonic() - started >= 0.9


def test_retry_after_http_date_form() -> None:
    now = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
    assert parse_retry_after(format_datetime(now + timedelta(minutes=2), usegmt=True), now) == 120.0
    assert parse_retry_after(format_datetime(now - timedelta(minutes=2), usegmt=True), now) == 0.0
    assert parse_retry_after("30", now) == 30.0
    assert parse_retry_after("soon", now) is None


def test_read_timeout(server: HTTPServer) -> None:
    def sleepy(request: Request) -> Response:
        time.sleep(3.0)
        return Response(b"late")

    server.expect_request("/sleepy").respond_with_handler(sleepy)
    started = time.monotonic()
    with make_client(read_timeout=0.5) as client, pytest.raises(FetchError) as info:
        client.fetch(server.url_for("/sleepy"))
    assert info.value.kind == "timeout"
    assert time.monotonic() - started < 2.5  # well before the server would have answered


def test_slow_drip_body_hits_total_timeout(server: HTTPServer) -> None:
    def drip(request: Request) -> Response:
        def body():
            for _ in range(40):
                yield b"x" * 10
                time.sleep(0.1)
        return Response(body(), mimetype="text/html")

    server.expect_request("/drip").respond_with_handler(drip)
    started = time.monotonic()
    with make_client(read_timeout=0.5, total_timeout=1.0) as client, pytest.raises(FetchError) as info:
        client.fetch(server.url_for("/drip"))
    assert info.value.kind == "timeout"
    assert time.monotonic() - started < 3.0  # the whole drip takes 4 s


def test_oversize_body_with_content_length(server: HTTPServer) -> None:
    server.expect_request("/big").respond_with_data(b"x" * 200_000)
    with make_client(max_bytes=100_000) as client, pytest.raises(FetchError) as info:
        client.fetch(server.url_for("/big"))
    assert info.value.kind == "too large" and info.value.label == "too large"


def test_oversize_chunked_body_without_length(server: HTTPServer) -> None:
    def chunked(request: Request) -> Response:
        return Response((b"y" * 10_000 for _ in range(50)), mimetype="text/html")

    server.expect_request("/chunked").respond_with_handler(chunked)
    with make_client(max_bytes=100_000) as client, pytest.raises(FetchError) as info:
        client.fetch(server.url_for("/chunked"))
    assert info.value.kind == "too large"
    assert "content-length" not in server.log[0][1].headers


def test_gzip_body_is_decoded(server: HTTPServer) -> None:
    payload = b"<rss>" + b"story " * 1000 + b"</rss>"
    server.expect_request("/gz").respond_with_data(gzip.compress(payload), headers={"Content-Encoding": "gzip"})
    with make_client() as client:
        assert client.fetch(server.url_for("/gz")).body == payload


def serve_raw_once(response: bytes) -> tuple[str, threading.Thread]:
    """A one-shot server on 127.0.0.1 that answers any request with fixed bytes."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def run() -> None:
        with listener:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                try:
                    conn.sendall(response)
                except OSError:  # the client hung up once it had seen enough
                    pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}/bomb", thread


# Run in a process of its own so tracemalloc sees the client alone, not other tests' server threads.
BOMB_PROBE = """
import sys, time, tracemalloc
from config.settings import HttpSettings
from tasks.sources.http import FetchError, HttpClient
client = HttpClient(HttpSettings(max_bytes=200_000, retries=0, allow_private_hosts=True))
tracemalloc.start()
started = time.monotonic()
try:
    client.fetch(sys.argv[1])
    kind = "no error"
except FetchError as exc:
    kind = exc.kind
print(f"{kind}|{time.monotonic() - started}|{tracemalloc.get_traced_memory()[1]}")
"""


def test_gzip_bomb_stops_quickly_with_bounded_memory() -> None:
    bomb = gzip.compress(b"\0" * 60_000_000, compresslevel=9)
    assert len(bomb) < 100_000  # small on the wire, 60 MB once inflated
    head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Encoding: gzip\r\n"
            f"Content-Length: {len(bomb)}\r\nConnection: close\r\n\r\n").encode()
    url, thread = serve_raw_once(head + bomb)
    probe = subprocess.run([sys.executable, "-c", BOMB_PROBE, url], cwd=ROOT, capture_output=True, text=True,
                           timeout=60)
    thread.join(2)
    assert probe.returncode == 0, probe.stderr
    kind, elapsed, peak = probe.stdout.strip().rsplit("\n", 1)[-1].split("|")
    assert kind == "too large"
    assert float(elapsed) < 3.0
    assert int(peak) < 2_000_000  # inflating the whole bomb would take 60 MB


def test_redirect_loop(server: HTTPServer) -> None:
    server.expect_request("/a").respond_with_data(b"", status=302, headers={"Location": "/b"})
    server.expect_request("/b").respond_with_data(b"", status=302, headers={"Location": "/a"})
    with make_client() as client, pytest.raises(FetchError) as info:
        client.fetch(server.url_for("/a"))
    assert info.value.kind == "redirect loop"


def test_too_many_redirects(server: HTTPServer) -> None:
    for i in range(6):
        server.expect_request(f"/r{i}").respond_with_data(b"", status=302, headers={"Location": f"/r{i + 1}"})
    server.expect_request("/r6").respond_with_data(b"end")
    with make_client(max_redirects=3) as client, pytest.raises(FetchError) as info:
        client.fetch(server.url_for("/r0"))
    assert info.value.kind == "too many redirects"
    with make_client(max_redirects=6) as client:
        assert client.fetch(server.url_for("/r0")).body == b"end"


def test_permanent_redirect_is_reported(server: HTTPServer) -> None:
    server.expect_request("/old").respond_with_data(b"", status=301, headers={"Location": "/new"})
    server.expect_request("/moved").respond_with_data(b"", status=302, headers={"Location": "/new"})
    server.expect_request("/new").respond_with_data(b"here")
    with make_client() as client:
        moved = client.fetch(server.url_for("/old"))
        temporary = client.fetch(server.url_for("/moved"))
    assert (moved.url, moved.body) == (server.url_for("/new"), b"here")
    assert moved.permanent_redirect == server.url_for("/new")
    assert temporary.permanent_redirect is None and temporary.url == server.url_for("/new")


def test_connection_refused() -> None:
    with make_client(retries=0) as client, pytest.raises(FetchError) as info:
        client.fetch(f"http://127.0.0.1:{closed_port()}/feed")
    assert info.value.kind == "connect"


def test_tls_failure(server: HTTPServer) -> None:
    with make_client() as client, pytest.raises(FetchError) as info:
        client.fetch(f"https://127.0.0.1:{server.port}/feed")  # a plain-HTTP server cannot do TLS
    assert info.value.kind == "tls"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_private_address_refused_unless_allowed(server: HTTPServer, host: str) -> None:
    server.expect_request("/feed").respond_with_data(b"ok")
    url = f"http://{host}:{server.port}/feed"
    with make_client(allow_private_hosts=False, retries=2) as client, pytest.raises(FetchError) as info:
        client.fetch(url)
    assert info.value.kind == "refused address"
    assert hits(server, "/feed") == 0
    with make_client(allow_private_hosts=True) as client:
        assert client.fetch(url).body == b"ok"


def test_redirect_to_refused_scheme(server: HTTPServer) -> None:
    server.expect_request("/sneaky").respond_with_data(b"", status=302, headers={"Location": "file:///etc/passwd"})
    with make_client() as client, pytest.raises(FetchError) as info:
        client.fetch(server.url_for("/sneaky"))
    assert info.value.kind == "bad url"


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/feed", "not a url", "http://"])
def test_non_http_urls_refused(url: str) -> None:
    with make_client() as client, pytest.raises(FetchError) as info:
        client.fetch(url)
    assert info.value.kind in ("bad url", "refused address")


@pytest.mark.parametrize("address, public", [
    ("127.0.0.1", False), ("10.1.2.3", False), ("172.16.0.9", False), ("192.168.1.1", False),
    ("169.254.169.254", False), ("0.0.0.0", False), ("224.0.0.1", False), ("100.64.0.1", False),
    ("::1", False), ("::ffff:127.0.0.1", False), ("fe80::1", False), ("fc00::1", False),
    ("2002:7f00:1::1", False), ("8.8.8.8", True), ("2001:4860:4860::8888", True),
])
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(address) is public


def test_fetch_many_keeps_order_and_limits_per_host(server: HTTPServer) -> None:
    lock = threading.Lock()
    current: Counter[str] = Counter()
    peak: Counter[str] = Counter()

    def slow(request: Request) -> Response:
        host = request.host.rsplit(":", 1)[0]
        with lock:
            current[host] += 1
            current["all"] += 1
            peak[host] = max(peak[host], current[host])
            peak["all"] = max(peak["all"], current["all"])
        time.sleep(0.15)
        with lock:
            current[host] -= 1
            current["all"] -= 1
        return Response(request.path.encode())

    server.expect_request(re.compile(r"/slow/\d+")).respond_with_handler(slow)
    urls = [f"http://{host}:{server.port}/slow/{i}" for i in range(6) for host in ("127.0.0.1", "localhost")]
    urls.insert(5, server.url_for("/missing"))
    with make_client(max_connections=3, max_per_host=2) as client:
        results = client.fetch_many([(url, {}) for url in urls])
    assert len(results) == len(urls)
    for url, result in zip(urls, results):
        if url.endswith("/missing"):
            assert isinstance(result, FetchError) and result.label == "http 404"
        else:
            assert isinstance(result, FetchResult) and result.body == url.split(str(server.port))[1].encode()
    assert peak["127.0.0.1"] == 2 and peak["localhost"] == 2
    assert 2 <= peak["all"] <= 3


def test_fetch_many_stops_sending_to_a_host_that_keeps_timing_out(server: HTTPServer) -> None:
    # A site whose pages hang: 30 links to it, 2 at a time, would each wait out the read timeout (with
    # the default settings and retries, 15 rounds of ~30 s). After a few timeouts in a row the rest fail at
    # once, as timeouts tried again at the next poll; another host's requests are not affected.
    sent: list[str] = []

    def hang(request: Request) -> Response:
        sent.append(request.path)
        time.sleep(2.0)
        return Response(b"late")

    server.expect_request(re.compile(r"/hang/\d+")).respond_with_handler(hang)
    server.expect_request(re.compile(r"/ok/\d+")).respond_with_data(b"fine")
    hanging = [f"http://localhost:{server.port}/hang/{i}" for i in range(30)]
    fine = [f"http://127.0.0.1:{server.port}/ok/{i}" for i in range(4)]
    started = time.monotonic()
    with make_client(read_timeout=0.3, total_timeout=1.0, max_connections=4, max_per_host=2) as client:
        results = client.fetch_many([(url, {}) for url in hanging + fine])
    elapsed = time.monotonic() - started
    assert all(isinstance(r, FetchError) and r.kind == "timeout" and r.transient for r in results[:30])
    assert all(isinstance(r, FetchResult) and r.body == b"fine" for r in results[30:])
    assert 3 <= len(sent) <= 4, sent  # three timeouts in a row, and the one sent beside the third
    assert re.search(r"localhost timed out [34] times in a row", str(results[29]))
    assert elapsed < 3.0  # not 30 / 2 rounds of 0.3 s


def test_fetch_many_asks_for_a_name_that_does_not_resolve_once(server: HTTPServer, monkeypatch) -> None:
    # A feed whose 30 entries link to a host that does not resolve (gone, or the resolver does not answer):
    # each lookup costs the resolver's own timeouts (5 s and more when it drops queries), not bounded by
    # ours, so one lookup per link made a run of real feeds take an hour. The first failure answers for
    # the host's other links of the batch, with the same reason; another host is not affected.
    lookups: Counter[str] = Counter()
    resolve = socket.getaddrinfo

    def counting(host, *args, **kwargs):  # the real resolver, counted
        lookups[host] += 1
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", counting)
    server.expect_request(re.compile(r"/ok/\d+")).respond_with_data(b"fine")
    missing = [f"http://news.no-such-host.invalid/story/{i}" for i in range(30)]
    fine = [f"http://127.0.0.1:{server.port}/ok/{i}" for i in range(4)]
    with make_client(max_connections=4, max_per_host=1) as client:
        results = client.fetch_many([(url, {}) for url in missing + fine])
    assert lookups["news.no-such-host.invalid"] == 1
    first = results[0]
    assert isinstance(first, FetchError) and first.kind in ("dns", "dns unavailable")
    assert all(isinstance(r, FetchError) and (r.kind, str(r)) == (first.kind, str(first)) for r in results[:30])
    assert str(first).startswith("cannot resolve host news.no-such-host.invalid")
    assert all(isinstance(r, FetchResult) and r.body == b"fine" for r in results[30:])


def test_a_name_lookup_that_hangs_fails_within_the_connect_timeout(server: HTTPServer, monkeypatch) -> None:
    # The system's resolver takes its own timeouts and retries (a name server dropping queries: 80 s for
    # one name on a real machine); the fetch waits for it no longer than its connect timeout, and says so.
    resolve = socket.getaddrinfo
    release = threading.Event()

    def slow(host, *args, **kwargs):  # the real resolver, behind a name server that does not answer in time
        if host == "slow-dns.example.org":
            release.wait(10)
            host = "127.0.0.1"
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    server.expect_request("/fine").respond_with_data(b"fine")
    try:
        with make_client(connect_timeout=0.5, total_timeout=20.0) as client:
            started = time.monotonic()
            [hung] = client.fetch_many([(f"http://slow-dns.example.org:{server.port}/fine", {})])
            waited = time.monotonic() - started
            [fine] = client.fetch_many([(f"http://127.0.0.1:{server.port}/fine", {})])
    finally:
        release.set()
    assert isinstance(hung, FetchError) and hung.kind == "dns unavailable" and hung.transient
    assert str(hung) == "cannot resolve host slow-dns.example.org for now: no answer within 0.5 s"
    assert waited < 5.0  # not the 10 s the lookup hangs
    assert isinstance(fine, FetchResult) and fine.body == b"fine"


def serve_raw_in_turn(responses: list[bytes]) -> tuple[str, list[int]]:
    """A server on 127.0.0.1 that answers its n-th connection with responses[n] and closes it (b"": closes
    it at once, once the request is read); the list counts the connections."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(len(responses))
    accepted: list[int] = []

    def run() -> None:
        with listener:
            for response in responses:
                conn, _ = listener.accept()
                accepted.append(1)
                with conn:
                    conn.recv(65536)
                    conn.sendall(response)

    threading.Thread(target=run, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}/page", accepted


def test_a_dropped_connection_is_a_transient_connect_failure_and_retried() -> None:
    # The server closes the connection before its response is complete (a restart, an idle keep-alive
    # connection closed): that may pass, so it is retried, and failing for good it is a transient
    # "connect" failure (the page is fetched again at the next poll), not a protocol error given up on.
    ok = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 9\r\nConnection: close\r\n\r\n<p>ok</p>"
    cut = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 900\r\n\r\n<p>cut"
    url, accepted = serve_raw_in_turn([b"", cut, ok])
    with make_client(retries=2) as client:
        assert client.fetch(url).body == b"<p>ok</p>"
    assert len(accepted) == 3
    for response in (b"", cut):
        url, accepted = serve_raw_in_turn([response])
        with make_client(retries=0) as client, pytest.raises(FetchError) as info:
            client.fetch(url)
        assert (info.value.kind, info.value.transient) == ("connect", True), str(info.value)


def test_a_resolver_outage_is_transient_and_an_unknown_host_is_not() -> None:
    # The resolver's "try again" (EAI_AGAIN, a name server that does not answer) may pass: the page is
    # fetched again at the next poll, and a feed is not counted a hard failure. An unknown host is.
    from tasks.sources.health import HARD_FAILURES
    from tasks.sources.http import dns_error

    outage = dns_error("news.example", socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"))
    assert outage.transient and outage.label not in HARD_FAILURES
    assert str(outage) == "cannot resolve host news.example for now: [Errno -3] Temporary failure in name resolution"
    unknown = dns_error("news.example", socket.gaierror(socket.EAI_NONAME, "Name or service not known"))
    assert not unknown.transient and unknown.label == "dns" and unknown.label in HARD_FAILURES


def test_a_stop_during_fetch_many_is_not_held_until_the_fetches_in_flight_end(server: HTTPServer) -> None:
    """SIGTERM (a cancelled served run, make stop) or Ctrl-C while feeds are fetched reaches the run at
    once, not when the slowest fetch in flight has ended (up to total_timeout, each): Prefect's runner
    kills a run that has not ended 30 s after it asked."""
    import signal

    class Stopped(BaseException):
        pass

    arrived, release = threading.Event(), threading.Event()

    def held(_: Request) -> Response:
        arrived.set()
        release.wait(30)
        return Response(b"late")

    def stop(signum: int, frame: object) -> None:
        raise Stopped()

    server.expect_request("/held").respond_with_handler(held)
    previous = signal.signal(signal.SIGALRM, stop)
    started = time.monotonic()
    try:
        with pytest.raises(Stopped):
            with make_client(read_timeout=30.0, total_timeout=30.0) as client:
                signal.setitimer(signal.ITIMER_REAL, 1.0)
                client.fetch_many([(server.url_for("/held"), {})])
        assert arrived.is_set()
        assert time.monotonic() - started < 5, "stopped at once, not when the fetch in flight ended"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        release.set()
