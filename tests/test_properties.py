"""Properties over generated input: decoding, cleaning, hashing, URL canonicalisation and address checks."""

from __future__ import annotations

import codecs
import ipaddress
import os
from pathlib import Path

from hypothesis import HealthCheck, example, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from config.settings import CleanSettings
from tasks.s2_clean import clean_documents, clean_html, clean_text
from tasks.s1_discover import _locator
from tasks.text.hashing import sha256_hex as content_hash
from tasks.sources.urls import canonical_url
from tasks.text.hashing import text_hash
from tasks.sources.http import is_public_address
from tasks.records import RawDocument
from tasks.text.normalise import RejectedInput, decode_bytes, one_line

FAST = hyp_settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = hyp_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BOMS = [b"", codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE]
TEXTS = ["Stra\u00dfe \u2014 caf\u00e9 \u201cquoted\u201d \u20ac5", "plain ascii words",
         "\u65b0\u95fb \u30cb\u30e5\u30fc\u30b9",
         "\u0645\u0631\u062d\u0628\u0627", "emoji \U0001f600", ""]
ENCODINGS = ["utf-8", "utf-16-le", "utf-16-be", "cp1252", "latin-1", "shift_jis", "koi8-r", "gb18030"]


def storable(text: str) -> bool:
    """Text DuckDB and UTF-8 files can hold: no lone surrogates."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@st.composite
def file_bytes(draw: st.DrawFn) -> bytes:
    """Bytes of a text file, damaged: a BOM (maybe wrong), text in some encoding, cut and spliced with noise."""
    bom = draw(st.sampled_from(BOMS))
    text = draw(st.one_of(st.sampled_from(TEXTS), st.text(max_size=200)))
    encoded = text.encode(draw(st.sampled_from(ENCODINGS)), errors="replace")
    cut = draw(st.integers(0, len(encoded)))
    noise = draw(st.binary(max_size=16))
    return bom + encoded[:cut] + noise + encoded[cut:]


# --- decoding -----------------------------------------------------------------------------------

@FAST
@given(st.one_of(st.binary(max_size=400), file_bytes()))
@example(b"\xef\xbb\xbf\xff\xfe")
@example("caf\u00e9 \u2014".encode("utf-8")[:-1])
@example(b"\xff\xfe\x00\xd8")  # UTF-16 BOM, then a lone surrogate
@example(b"\xff\xfe\x00\x00\x00\xd8\x00\x00")  # UTF-32 BOM, then a surrogate code point
def test_decode_bytes_raises_only_rejected_input_and_returns_storable_text(raw: bytes) -> None:
    try:
        text = decode_bytes(raw)
    except RejectedInput as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert isinstance(text, str) and storable(text) and "\x00" not in text


@FAST
@given(st.text(min_size=1, max_size=300).filter(lambda t: not t.isascii()), st.integers(1, 3))
def test_utf8_text_cut_inside_its_last_character_keeps_every_other_character(text: str, cut: int) -> None:
    raw = (text + "\u20ac").encode("utf-8")[:-cut]  # the euro sign is three bytes long
    try:
        decoded = decode_bytes(raw)
    except RejectedInput:
        return  # mostly control characters: refused as binary, which is fine
    assert decoded == text or decoded.startswith(text), (text, decoded)


# --- cleaning -----------------------------------------------------------------------------------

@SLOW
@given(st.lists(st.tuples(st.one_of(st.binary(max_size=300), file_bytes(),
                                    st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass"))),
                          st.sampled_from(["text/plain", "text/markdown", "text/html"])), max_size=6))
def test_clean_documents_gives_each_document_one_storable_outcome(items: list[tuple[bytes, str]]) -> None:
    docs = [RawDocument(source="s", locator=f"doc{i}", content_hash=content_hash(raw), raw=raw, media_type=kind)
            for i, (raw, kind) in enumerate(items)]
    kept, rejects = clean_documents(docs, CleanSettings(min_words=3))
    assert sorted([d.locator for d, _ in kept] + [r.locator for r in rejects]) == sorted(d.locator for d in docs)
    for reject in rejects:
        assert reject.reason and "\n" not in reject.reason and len(reject.reason) <= 200
        assert not reject.reason.startswith("cleaning failed"), reject.reason
    for _, article in kept:
        assert storable(article.text) and storable(article.title or "") and article.text.strip()


_TAGS = st.sampled_from(["<p>", "</p>", "<div>", "</div>", "<br>", "<h1>", "</h1>", "<script>", "</script>",
                         "<!--", "-->", "<![CDATA[", "]]>", "&amp;", "&#0;", "&#xD800;", "&nbsp;", "<a href='x'>",
                         "</a>", "<title>", "</title>", "<html>", "<body>", "<article>", "<", ">", "\x00"])


@SLOW
@given(st.lists(st.one_of(_TAGS, st.text(max_size=40)), max_size=60))
def test_clean_html_never_raises_and_gives_storable_text(parts: list[str]) -> None:
    article = clean_html("".join(parts))
    assert isinstance(article.text, str) and storable(article.text) and storable(article.title or "")


@FAST
@given(st.text(max_size=300))
def test_clean_text_output_is_storable_and_has_no_controls(raw: str) -> None:
    out = clean_text(raw)
    assert storable(out.text) and not any(ch < " " and ch != "\n" for ch in out.text)


@FAST
@given(st.text(max_size=400))
def test_one_line_is_one_bounded_line(text: str) -> None:
    line = one_line(text)
    assert "\n" not in line and "\r" not in line and len(line) <= 200


# --- hashing ------------------------------------------------------------------------------------

_WHITESPACE = st.text(alphabet=" \t\n\r\u00a0\u2009\u3000", min_size=1, max_size=4)


@FAST
@given(st.lists(st.text(max_size=12).filter(lambda w: w and not any(c.isspace() for c in w)), min_size=1,
                max_size=20), st.data())
def test_text_hash_ignores_how_arbitrary_words_are_spaced(words: list[str], data: st.DataObject) -> None:
    spaced = data.draw(_WHITESPACE).join(words)
    respaced = "".join(w + data.draw(_WHITESPACE) for w in words)
    assert text_hash(spaced) == text_hash(respaced) == text_hash(" ".join(words))


# --- URLs ---------------------------------------------------------------------------------------

_URLISH = st.builds(lambda scheme, host, port, path, query, frag: f"{scheme}://{host}{port}{path}{query}{frag}",
                    st.sampled_from(["http", "https", "HTTP", "ftp", "file", "javascript"]),
                    st.one_of(st.text(max_size=12), st.sampled_from(["Example.ORG", "[::1]", "[fe80::1%eth0]",
                                                                     "user:pw@host", "h\u00e9st.example"])),
                    st.sampled_from(["", ":80", ":443", ":0", ":99999", ":abc", ":"]),
                    st.text(max_size=20).map(lambda p: "/" + p),
                    st.one_of(st.just(""), st.text(max_size=20).map(lambda q: "?" + q)),
                    st.one_of(st.just(""), st.text(max_size=8).map(lambda f: "#" + f)))


@FAST
@given(st.one_of(st.text(max_size=80), _URLISH))
@example("http://example.org:99999/x")
@example("HTTP://[::1]:80/a/")
@example("https://example.org/?utm_source=x&")
def test_canonical_url_never_raises_and_is_idempotent(url: str) -> None:
    once = canonical_url(url)
    assert isinstance(once, str)
    assert canonical_url(once) == once, (url, once)


# --- addresses and paths ------------------------------------------------------------------------

_PRIVATE_V4 = st.sampled_from(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16",
                               "100.64.0.0/10", "0.0.0.0/8"]).flatmap(
    lambda net: st.integers(0, ipaddress.ip_network(net).num_addresses - 1).map(
        lambda i: ipaddress.ip_network(net)[i]))


@FAST
@given(st.one_of(_PRIVATE_V4, st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address)))
def test_an_ipv4_address_is_judged_the_same_inside_ipv6(address: ipaddress.IPv4Address) -> None:
    verdict = is_public_address(str(address))
    assert is_public_address(f"::ffff:{address}") is verdict
    six_to_four = ipaddress.IPv6Address((0x2002 << 112) | (int(address) << 80) | 1)
    assert is_public_address(str(six_to_four)) is verdict


@FAST
@given(_PRIVATE_V4)
def test_private_ipv4_is_never_public(address: ipaddress.IPv4Address) -> None:
    assert not is_public_address(str(address))


@FAST
@given(st.binary(min_size=1, max_size=40).filter(lambda b: b"/" not in b and b"\x00" not in b
                                                and b not in (b".", b"..")))
def test_file_name_locators_are_storable_and_keep_utf8_names(name: bytes) -> None:
    path = Path(os.fsdecode(b"/data/" + name))
    locator = _locator(path)
    assert storable(locator) and locator.startswith("/data/")
    try:
        assert locator == "/data/" + name.decode("utf-8")
    except UnicodeDecodeError:
        assert "\\x" in locator
