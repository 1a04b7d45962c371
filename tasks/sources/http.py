"""The pipeline's only door to HTTP: bounded, redirect-checked, SSRF-guarded fetches with retries."""

from __future__ import annotations

import email.utils
import ipaddress
import logging
import re
import socket
import ssl
import threading
import time
import zlib
from collections import Counter, deque
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from queue import Empty, SimpleQueue
from datetime import datetime, timezone
from types import TracebackType
from urllib.parse import urlsplit

import httpcore
import httpx

from config.settings import HttpSettings

LOGGER = logging.getLogger(__name__)

FEED_ACCEPT = ("application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, "
               "text/xml;q=0.9, application/json;q=0.8, */*;q=0.5")
HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
ACCEPT_ENCODING = "gzip, deflate"  # the encodings the bounded decoder below understands
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECTS = frozenset({301, 308})
RETRY_AFTER_STATUSES = frozenset({429, 503})
CHARSET_PARAM = re.compile(r";\s*charset\s*=\s*[\"']?([a-z0-9._:-]+)", re.IGNORECASE)
TRANSIENT_KINDS = frozenset({"timeout", "connect", "dns unavailable"})
# The resolver's "try again" (EAI_AGAIN: no answer from the name server, an outage) may pass; "no such
# host" and the rest are the address's fault.
TEMPORARY_DNS_ERRORS = frozenset({socket.EAI_AGAIN})
BACKOFF_BASE_SECONDS = 0.25
BACKOFF_CAP_SECONDS = 4.0
MAX_RETRY_AFTER_WAIT = 5.0  # a longer Retry-After is handed back to the caller instead of slept
# A host whose requests of one batch time out this many times in a row (each after its retries) gets no
# more of them: the rest fail at once as timeouts (tried again at the next poll), so a site whose pages
# hang costs a batch a few timeouts, not one per link (100 links, 2 at a time, ~30 s each: 25 minutes).
HOST_TIMEOUTS_TO_GIVE_UP = 3
# How h11 (through httpx) says the server closed the connection before its response was complete: a
# dropped connection (a restart, an idle keep-alive connection closed), which may pass, unlike a response
# that breaks the protocol.
DROPPED_CONNECTION = ("Server disconnected without sending a response", "peer closed connection without sending")
# How to lift the refusal of loopback and private addresses, as the refusal says it.
ALLOW_PRIVATE_HINT = "pass --allow-private-hosts (or set [http] allow_private_hosts = true) to allow"


class FetchError(Exception):
    """A fetch that failed; str(exc) is a one-line reason and kind says what went wrong."""

    def __init__(self, kind: str, message: str, *, status: int | None = None,
                 retry_after: float | None = None, permanent: bool = False) -> None:
        super().__init__(" ".join(message.split()))
        self.kind = kind
        self.status = status
        self.retry_after = retry_after
        self.permanent = permanent

    @property
    def label(self) -> str:
        """A short status label: "http 404", "timeout", "too large", ..."""
        return f"http {self.status}" if self.kind == "http" and self.status else self.kind

    @property
    def transient(self) -> bool:
        """True when trying again later may succeed (timeouts, dropped connections, 5xx, 429)."""
        if self.kind in TRANSIENT_KINDS:
            return True
        status = self.status or 0
        return self.kind == "http" and (status == 429 or (500 <= status < 600 and status != 501))


@dataclass(frozen=True)
class FetchResult:
    """A successful (2xx or 304) response: final URL, status, lower-case headers and decoded body."""

    url: str
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed: float
    permanent_redirect: str | None = None


def content_charset(headers: dict[str, str]) -> str | None:
    """The charset a response's Content-Type names ("text/html; charset=windows-1250"), or None."""
    found = CHARSET_PARAM.search(headers.get("content-type", ""))
    return found.group(1) if found else None


def is_public_address(address: str) -> bool:
    """True when an IP address is globally routable (not loopback, private, link-local, reserved...)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv4 address wrapped in IPv6 is judged as the IPv4 address it carries.
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            ip = embedded
    return not (ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_reserved
                or ip.is_multicast or ip.is_unspecified) and ip.is_global


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max((when - (now or datetime.now(timezone.utc))).total_seconds(), 0.0)


def dns_error(host: str, exc: socket.gaierror | UnicodeError) -> FetchError:
    """A host that cannot be resolved: "dns unavailable" (transient: tried again) when the resolver says
    to try again, else "dns" (no such host, a name that cannot be encoded)."""
    if isinstance(exc, socket.gaierror) and exc.errno in TEMPORARY_DNS_ERRORS:
        return FetchError("dns unavailable", f"cannot resolve host {host} for now: {exc}")
    return FetchError("dns", f"cannot resolve host {host}: {exc}")


def resolve(host: str, port: int, timeout: float | None) -> list[tuple]:
    """The host's addresses (socket.getaddrinfo), waited for at most `timeout` seconds: the system's
    resolver takes its own timeouts and retries (a name server that drops queries: 80 s for one name),
    which would hold a fetch far past its budget. A lookup not answered in time is left to finish on
    its own daemon thread, and the fetch fails as "dns unavailable" (transient: tried again)."""
    answer: SimpleQueue[tuple[list[tuple] | None, BaseException | None]] = SimpleQueue()

    def lookup() -> None:
        try:
            answer.put((socket.getaddrinfo(host, port, type=socket.SOCK_STREAM), None))
        except BaseException as exc:  # noqa: BLE001 (handed to the waiting thread)
            answer.put((None, exc))

    threading.Thread(target=lookup, name=f"dns {host}", daemon=True).start()
    try:
        infos, error = answer.get(timeout=timeout)
    except Empty:
        raise FetchError("dns unavailable", f"cannot resolve host {host} for now: no answer within "
                                            f"{timeout:g} s") from None
    if isinstance(error, (socket.gaierror, UnicodeError)):
        raise dns_error(host, error) from None
    if error is not None:
        raise error
    assert infos is not None
    return infos


class _GuardedBackend(httpcore.SyncBackend):
    """Resolves each host at connect time and connects only to allowed addresses (no DNS rebinding)."""

    def __init__(self, allow_private: bool) -> None:
        self._allow_private = allow_private

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[tuple] | None = None) -> httpcore.NetworkStream:
        """Connect to the first allowed address the host resolves to."""
        infos = resolve(host, port, timeout)
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        allowed = [a for a in addresses if self._allow_private or is_public_address(a)]
        if not allowed:
            raise FetchError("refused address",
                             f"refused address: {host} resolves to {addresses[0] if addresses else 'nothing'}, "
                             f"not a public address; {ALLOW_PRIVATE_HINT}")
        last: httpcore.ConnectError | None = None
        for address in allowed:
            try:
                # Connecting to the checked IP literal: the TLS server name still comes from the URL.
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:  # refused or unreachable: try the next address
                last = exc
        assert last is not None
        raise last


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's transport with its connection pool built on the guarded network backend."""

    def __init__(self, limits: httpx.Limits, allow_private: bool) -> None:
        super().__init__(limits=limits, trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(allow_private))


class _BoundedDecoder:
    """Undoes Content-Encoding chunk by chunk, never producing more than limit + 1 bytes (stops gzip bombs)."""

    def __init__(self, content_encoding: str, limit: int) -> None:
        codings = [c.strip().lower() for c in content_encoding.split(",")]
        codings = [c for c in codings if c and c != "identity"]
        if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip", "deflate")):
            raise FetchError("protocol", f"unsupported content-encoding: {content_encoding}")
        self._coding = codings[0] if codings else None
        self._limit = limit
        self._size = 0
        self._first = True
        self._zlib = self._new_decompressor()

    def _new_decompressor(self):  # noqa: ANN202 - zlib's Decompress type is not importable
        if self._coding is None:
            return None
        return zlib.decompressobj(zlib.MAX_WBITS | 16 if self._coding != "deflate" else zlib.MAX_WBITS)

    def _count(self, data: bytes) -> bytes:
        self._size += len(data)
        if self._size > self._limit:
            raise FetchError("too large", f"too large: body exceeds {self._limit:,} bytes")
        return data

    def decode(self, data: bytes) -> bytes:
        """The decoded bytes of one raw chunk; raises FetchError("too large") past the limit."""
        if self._zlib is None:
            return self._count(data)
        out = bytearray()
        while data:
            try:
                chunk = self._zlib.decompress(data, self._limit - self._size + 1)
            except zlib.error as exc:
                if self._first and self._coding == "deflate":  # some servers send raw deflate
                    self._first = False
                    self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise FetchError("protocol", f"corrupt {self._coding} body: {exc}") from None
            self._first = False
            out += self._count(chunk)
            if self._zlib.eof:
                data = self._zlib.unused_data
                if not data or self._coding == "deflate":
                    break
                self._zlib = self._new_decompressor()  # concatenated gzip members
            else:
                data = self._zlib.unconsumed_tail
        return bytes(out)

    def flush(self) -> bytes:
        """Whatever output the decompressor still holds."""
        return self._count(self._zlib.flush()) if self._zlib is not None else b""


class HttpClient:
    """Fetches URLs for the pipeline under the limits of HttpSettings; safe to share between threads."""

    def __init__(self, settings: HttpSettings) -> None:
        self._settings = settings
        limits = httpx.Limits(max_connections=max(settings.max_connections, 1),
                              max_keepalive_connections=max(settings.max_connections, 1))
        self._client = httpx.Client(
            transport=_GuardedTransport(limits, settings.allow_private_hosts),
            follow_redirects=False, trust_env=False,
            headers={"User-Agent": settings.user_agent, "Accept": FEED_ACCEPT,
                     "Accept-Encoding": ACCEPT_ENCODING})
        self._lock = threading.Lock()
        self._closed = False

    @property
    def allows_private(self) -> bool:
        """Whether loopback and private addresses may be fetched ([http] allow_private_hosts)."""
        return self._settings.allow_private_hosts

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None or issubclass(exc_type, Exception):
            self.close()
        # else stopped (Ctrl-C, SIGTERM, a cancelled run): closing would wait for the requests still in flight

    def close(self) -> None:
        """Close the pooled connections."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._client.close()

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> FetchResult:
        """GET a URL (following redirects), retrying transient failures; raises FetchError."""
        started = time.monotonic()
        attempts = max(self._settings.retries, 0) + 1
        for attempt in range(attempts):
            try:
                return self._fetch_once(url, headers or {}, started)
            except FetchError as exc:
                if not exc.transient or attempt == attempts - 1:
                    raise
                if exc.retry_after is not None:
                    if exc.retry_after > MAX_RETRY_AFTER_WAIT:
                        raise  # the caller schedules the next try
                    delay = exc.retry_after
                else:
                    delay = min(BACKOFF_BASE_SECONDS * 2 ** attempt, BACKOFF_CAP_SECONDS)
                LOGGER.info("retrying %s in %.2f s after %s", url, delay, exc.label)
                time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def fetch_many(self, requests: list[tuple[str, dict[str, str]]]) -> list[FetchResult | FetchError]:
        """Fetch many URLs on threads, at most max_connections at once and max_per_host per host.

        Results come back in the order of the requests; a failure is returned, not raised. After
        HOST_TIMEOUTS_TO_GIVE_UP timeouts in a row from one host, its requests not sent yet fail at once; so do
        those of a host whose name could not be resolved, with that failure (each lookup of a name the resolver
        does not answer costs its own timeouts, several seconds, and no lookup is cached).
        """
        results: list[FetchResult | FetchError | None] = [None] * len(requests)
        queues: dict[str, deque[int]] = {}
        for index, (url, _) in enumerate(requests):
            queues.setdefault(_host_of(url), deque()).append(index)
        total_cap = max(self._settings.max_connections, 1)
        host_cap = max(self._settings.max_per_host, 1)
        active: Counter[str] = Counter()
        timeouts: Counter[str] = Counter()  # per host: requests timed out in a row
        unresolved: dict[str, FetchError] = {}  # per host: its name lookup failed in this batch
        running: dict[Future, tuple[int, str]] = {}
        pool = ThreadPoolExecutor(max_workers=total_cap, thread_name_prefix="fetch")
        stopped = True  # until the loop ends: Ctrl-C or SIGTERM does not wait for the fetches in flight
        try:
            while queues or running:
                for host in list(queues):  # hosts in first-seen order, each up to its own limit
                    queue = queues[host]
                    while queue and timeouts[host] >= HOST_TIMEOUTS_TO_GIVE_UP:
                        index = queue.popleft()
                        results[index] = FetchError(
                            "timeout", f"timeout: not fetched, {host or 'the host'} timed out "
                                       f"{timeouts[host]} times in a row in this batch")
                    while queue and host in unresolved:
                        index = queue.popleft()
                        results[index] = FetchError(unresolved[host].kind, str(unresolved[host]))
                    while queue and active[host] < host_cap and len(running) < total_cap:
                        index = queue.popleft()
                        future = pool.submit(self._fetch_quietly, *requests[index])
                        running[future] = (index, host)
                        active[host] += 1
                    if not queue:
                        del queues[host]
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    index, host = running.pop(future)
                    active[host] -= 1
                    result = results[index] = future.result()
                    timed_out = isinstance(result, FetchError) and result.kind == "timeout"
                    timeouts[host] = timeouts[host] + 1 if timed_out else 0
                    if isinstance(result, FetchError) and result.kind in ("dns", "dns unavailable"):
                        unresolved[host] = result
            stopped = False
        finally:
            pool.shutdown(wait=not stopped, cancel_futures=True)
        return results  # type: ignore[return-value]

    def _fetch_quietly(self, url: str, headers: dict[str, str]) -> FetchResult | FetchError:
        """fetch(), with every failure returned as a FetchError so one bad URL cannot sink a batch."""
        try:
            return self.fetch(url, headers)
        except FetchError as exc:
            return exc
        except Exception as exc:  # noqa: BLE001 - an unexpected library error is reported, not raised
            LOGGER.exception("unexpected error fetching %s", url)
            return FetchError("protocol", f"unexpected error: {exc.__class__.__name__}: {exc}")

    def _timeout(self, deadline: float) -> httpx.Timeout:
        """Per-operation timeouts, none longer than what is left of the total budget."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise FetchError("timeout", f"timeout: gave up after {self._settings.total_timeout:g} s in total")
        s = self._settings
        return httpx.Timeout(connect=min(s.connect_timeout, left), read=min(s.read_timeout, left),
                             write=min(s.read_timeout, left), pool=min(s.connect_timeout, left))

    def _fetch_once(self, url: str, headers: dict[str, str], started: float) -> FetchResult:
        """One attempt: follow redirects by hand within the limits, then read the body."""
        deadline = time.monotonic() + self._settings.total_timeout
        current = _check_url(url)
        visited = {current}
        permanent: str | None = None
        for hop in range(self._settings.max_redirects + 1):
            try:
                with self._client.stream("GET", current, headers=headers,
                                         timeout=self._timeout(deadline)) as response:
                    status = response.status_code
                    if status in REDIRECT_STATUSES:
                        target = _redirect_target(response, current)
                        if hop == 0 and status in PERMANENT_REDIRECTS:
                            permanent = target
                        if target in visited:
                            raise FetchError("redirect loop", f"redirect loop: {current} -> {target}")
                        visited.add(target)
                        current = target
                        continue
                    result_headers = {k.lower(): v for k, v in response.headers.items()}
                    if status == 304:
                        return FetchResult(current, status, result_headers, b"",
                                           time.monotonic() - started, permanent)
                    if status >= 300:
                        raise _http_error(response, current)
                    body = self._read_body(response, deadline)
                    return FetchResult(current, status, result_headers, body,
                                       time.monotonic() - started, permanent)
            except httpx.HTTPError as exc:
                raise _classify(exc, current) from None
        raise FetchError("too many redirects",
                         f"too many redirects: more than {self._settings.max_redirects} from {url}")

    def _read_body(self, response: httpx.Response, deadline: float) -> bytes:
        """Stream the body within max_bytes (before and after decoding) and the total time budget."""
        limit = self._settings.max_bytes
        declared = response.headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > limit:
            raise FetchError("too large", f"too large: Content-Length {int(declared):,} exceeds {limit:,} bytes")
        decoder = _BoundedDecoder(response.headers.get("content-encoding", ""), limit)
        body = bytearray()
        received = 0
        for chunk in response.iter_raw():  # chunks as they arrive, so the clock is checked often
            received += len(chunk)
            if received > limit:
                raise FetchError("too large", f"too large: body exceeds {limit:,} bytes")
            body += decoder.decode(chunk)
            if time.monotonic() > deadline:
                raise FetchError("timeout", f"timeout: body not complete within {self._settings.total_timeout:g} s")
        body += decoder.flush()
        return bytes(body)


def _host_of(url: str) -> str:
    """The host part of a URL, lower-cased ('' when there is none)."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _check_url(url: str) -> str:
    """The URL as httpx spells it, or FetchError("bad url") for anything but an absolute http(s) URL."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise FetchError("bad url", f"bad url {url!r}: {exc}") from None
    if parsed.scheme not in ("http", "https"):
        raise FetchError("bad url", f"bad url {url!r}: only http and https are fetched")
    if not parsed.host:
        raise FetchError("bad url", f"bad url {url!r}: no host")
    return str(parsed)


def _redirect_target(response: httpx.Response, current: str) -> str:
    """The absolute, checked URL a redirect points to."""
    location = response.headers.get("location")
    if not location:
        raise FetchError("protocol", f"redirect {response.status_code} without Location from {current}")
    try:
        target = str(httpx.URL(current).join(location.strip()))
    except (httpx.InvalidURL, ValueError) as exc:
        raise FetchError("bad url", f"bad redirect target {location!r}: {exc}") from None
    return _check_url(target)


def _http_error(response: httpx.Response, url: str) -> FetchError:
    """The FetchError for a 4xx/5xx (or unusable 3xx) response."""
    status = response.status_code
    retry_after = None
    if status in RETRY_AFTER_STATUSES:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
    reason = response.reason_phrase or ""
    return FetchError("http", f"HTTP {status} {reason} from {url}", status=status,
                      retry_after=retry_after, permanent=status == 410)


def _classify(exc: httpx.HTTPError, url: str) -> FetchError:
    """A FetchError of the right kind for an httpx exception."""
    detail = f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__
    if isinstance(exc, httpx.TimeoutException):
        return FetchError("timeout", f"timeout fetching {url} ({detail})")
    if _caused_by(exc, ssl.SSLError):
        return FetchError("tls", f"tls error fetching {url} ({detail})")
    if isinstance(exc, (httpx.ConnectError, httpx.ReadError, httpx.WriteError, httpx.CloseError)) or (
            isinstance(exc, httpx.RemoteProtocolError) and str(exc).startswith(DROPPED_CONNECTION)):
        return FetchError("connect", f"connection failed for {url} ({detail})")
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return FetchError("bad url", f"bad url {url} ({detail})")
    return FetchError("protocol", f"protocol error from {url} ({detail})")


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """True when exc or anything in its chain of causes is an instance of kind."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
