"""URL rules, in one place: an article URL's canonical form, tracking parameters, its slug, the canonical link."""

from __future__ import annotations

import logging
from html.parser import HTMLParser
from urllib.parse import unquote_plus, urljoin, urlsplit, urlunsplit

LOGGER = logging.getLogger(__name__)

# Query parameters that only track clicks and campaigns: the same article with or without them is one URL.
TRACKING_PARAMS = frozenset({
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "utm_id", "utm_name",
    "utm_reader", "utm_brand", "utm_social", "utm_social-type",
    "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "ttclid",
    "li_fat_id", "mc_cid", "mc_eid", "igshid", "igsh", "ref", "ref_src", "ref_url", "referrer", "_hsenc",
    "_hsmi", "__hssc", "__hstc", "__hsfp", "hsctatracking", "mkt_tok", "oly_anon_id", "oly_enc_id",
    "vero_id", "vero_conv", "wickedid", "rb_clickid", "s_cid", "spm", "ncid", "ocid", "cmpid", "sr_share",
    "at_medium", "at_campaign", "at_custom1", "at_custom2", "at_custom3", "at_custom4", "smid", "ito",
    "ns_mchannel", "ns_source", "ns_campaign", "ns_linkname", "ns_fee", "__twitter_impression", "guce_referrer",
    "guce_referrer_sig", "_ga", "_gl", "cvid", "soc_src", "soc_trk",
})
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hmb_", "itm_", "stm_")
DEFAULT_PORTS = {"http": 80, "https": 443}
CANONICAL_SCAN_CHARS = 1_000_000  # the canonical link lives in <head>; never scan a whole huge page


def written_url(value: str) -> str:
    """A URL as a person wrote it (in the config, on the command line, in an OPML file): the spaces, tabs and
    line breaks around it dropped, as a browser's address bar drops them; they are never part of a URL."""
    return value.strip()


def is_http_url(url: str | None) -> bool:
    """True for an absolute http(s) URL with a host (not just a port or user: http://:80/, http://user@/)."""
    if not url:
        return False
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in DEFAULT_PORTS and bool(parts.hostname)


def canonical_url(url: str) -> str:
    """The URL with scheme and host lower-cased, default port, fragment and tracking parameters dropped,
    other parameters kept in order, and no trailing '/' except for the root path.

    Anything that is not an http(s) URL with a host is returned as it is (stripped). Idempotent.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.netloc:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    host, port = hostport.lower(), None
    try:
        port = parts.port
        host = (parts.hostname or "").rstrip(".")
        if ":" in host:
            host = f"[{host}]"
    except ValueError:  # unparsable port: leave the authority as written, lower-cased
        pass
    netloc = host if port is None or port == DEFAULT_PORTS[scheme] else f"{host}:{port}"
    if userinfo:
        netloc = f"{userinfo}@{netloc}"
    path = parts.path.rstrip("/") or "/"
    kept = [p for p in parts.query.split("&") if p.strip() and not is_tracking(p.split("=", 1)[0])]
    # stripped again: dropping the fragment or a final '/' can leave whitespace at the end
    return urlunsplit((scheme, netloc, path, "&".join(kept), "")).strip()


def is_tracking(key: str) -> bool:
    """True for query parameter names used only to track clicks and campaigns."""
    name = unquote_plus(key).strip().lower()
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES)


def article_url(url: str | None) -> str | None:
    """The canonical URL that identifies an article, for comparing two articles: None when there is no
    http(s) URL, and for a site's front page (a canonical link to the home page is a common template bug)."""
    if not is_http_url(url):
        return None
    canonical = canonical_url(url or "")
    try:
        path = urlsplit(canonical).path
    except ValueError:
        return None
    return canonical if path.strip("/") else None


def url_slug(url: str) -> str:
    """The last path segment, lower-cased: a cheap key that equal article URLs share.

    The warehouse computes the same key in SQL (warehouse.read.SQL_URL_SLUG); tests/test_urls.py
    checks that the two agree.
    """
    return url.split("#", 1)[0].split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1].lower()


def absolute_url(link: str | None, base_url: str) -> str | None:
    """The canonical absolute http(s) URL a link points to (resolved against base_url), or None."""
    if not link:
        return None
    try:
        absolute = urljoin(base_url, link.strip())
    except ValueError:  # a link urllib cannot split ('http://[::1/a', an open IPv6 bracket)
        return None
    return canonical_url(absolute) if is_http_url(absolute) else None


def link_scheme(link: str) -> str:
    """The scheme a link is written with, lower-cased ("file", "ftp"; "" for none)."""
    try:
        return urlsplit(link.strip()).scheme.lower()
    except ValueError:
        return ""


def guid_key(source: str, guid: str) -> str | tuple[str, str]:
    """What a feed entry's GUID is known by. A URI (a permalink, urn:uuid:…, tag:…) names one item wherever
    it is met; any other GUID ("1001", "post-7") is unique only within its own feed, so it is known together
    with its source's name: two sites numbering their items alike are not one story."""
    return guid if link_scheme(guid) else (source, guid)


class _StopScan(Exception):
    """Raised inside the HTML scanner once the answer is known."""


class _HeadLinks(HTMLParser):
    """Finds <base href> and <link rel="canonical" href> in a page's head."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.canonical: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "").strip() for k, v in attrs}
        if tag == "base" and self.base is None and values.get("href"):
            self.base = values["href"]
        elif tag == "link" and "canonical" in values.get("rel", "").lower().split() and values.get("href"):
            self.canonical = values["href"]
            raise _StopScan
        elif tag == "body":
            raise _StopScan

    handle_startendtag = handle_starttag


def canonical_link(html: str | bytes, base_url: str | None) -> str | None:
    """The page's <link rel="canonical"> as a canonical URL, resolved against base_url (or the page's
    <base href>); None when the page has none or it is not an http(s) URL."""
    if isinstance(html, bytes):
        html = html[:CANONICAL_SCAN_CHARS].decode("utf-8", errors="replace")
    scanner = _HeadLinks()
    try:
        scanner.feed(html[:CANONICAL_SCAN_CHARS])
        scanner.close()
    except _StopScan:
        pass
    except Exception as exc:  # noqa: BLE001 - a page the scanner chokes on simply has no canonical link
        LOGGER.debug("canonical link scan failed for %s: %s", base_url, exc)
    if not scanner.canonical:
        return None
    base = urljoin(base_url or "", scanner.base) if scanner.base else (base_url or "")
    return absolute_url(scanner.canonical, base)
