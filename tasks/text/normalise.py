"""Text normalisation: byte decoding, Unicode and whitespace, Markdown, HTML bits, paragraphs, line kinds."""

from __future__ import annotations

import codecs
import html
import itertools
import logging
import re
import unicodedata
from collections import Counter

import charset_normalizer

from tasks.text.header import header_fields

LOGGER = logging.getLogger(__name__)

# UTF-32 first: its little-endian mark starts with the UTF-16 one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Single-byte Latin code pages the detector often picks for short Western text where cp1252 was meant.
_LATIN_CODEPAGES = frozenset({
    "cp1250", "cp1254", "cp1257", "cp775", "cp850", "cp852", "cp437", "cp858", "hp_roman8",
    "latin_1", "iso8859_1", "iso8859_2", "iso8859_3", "iso8859_4", "iso8859_9", "iso8859_10",
    "iso8859_13", "iso8859_14", "iso8859_15", "iso8859_16", "mac_roman", "mac_iceland",
    "mac_latin2", "mac_turkish",
})
# A page's own word on its encoding, read as browsers do from the start of the bytes (WHATWG's prescan
# reads 1,024; some pages put a long head first): <meta charset>, <meta http-equiv content="...; charset">
# or an XML declaration's encoding.
_DECLARED_CHARSET = re.compile(
    rb"""<meta\b[^>]*?charset\s*=\s*["']?\s*([a-z0-9._:-]+)|<\?xml\b[^>]*?encoding\s*=\s*["']([a-z0-9._:-]+)""", re.I)
DECLARED_CHARSET_BYTES = 4096
# Labels browsers read as a wider code page (WHATWG Encoding): Latin-1 and ASCII pages are Windows-1252,
# GB2312 pages GB18030, Shift_JIS pages Windows-31J, EUC-KR pages Windows-949.
_CHARSET_LABELS = {
    **dict.fromkeys(("iso-8859-1", "iso8859-1", "iso_8859-1", "iso_8859-1:1987", "iso-ir-100", "iso88591", "cp819",
                     "ibm819", "csisolatin1", "latin1", "latin-1", "l1", "us-ascii", "ascii", "x-cp1252"), "cp1252"),
    "windows-874": "cp874", "x-cp1250": "cp1250", "x-cp1251": "cp1251", "x-cp1253": "cp1253",
    "x-cp1254": "cp1254", "x-cp1255": "cp1255", "x-cp1256": "cp1256", "x-cp1257": "cp1257",
    "x-cp1258": "cp1258", "x-mac-roman": "mac_roman", "macintosh": "mac_roman", "x-mac-cyrillic": "mac_cyrillic",
    **dict.fromkeys(("iso-8859-9", "latin5"), "cp1254"), **dict.fromkeys(("tis-620", "iso-8859-11"), "cp874"),
    **dict.fromkeys(("gb2312", "gbk", "x-gbk", "gb_2312-80", "csgb2312", "chinese"), "gb18030"),
    **dict.fromkeys(("shift_jis", "shift-jis", "sjis", "x-sjis", "ms_kanji", "csshiftjis"), "cp932"),
    **dict.fromkeys(("euc-kr", "ks_c_5601-1987", "csueckr"), "cp949"), "big5": "big5hkscs"}
_NON_ASCII = re.compile("[^\x00-\x7f]")
_HIGH_BYTE = re.compile(rb"[\x80-\xff]")
_COMMON_PUNCT = frozenset("\u201c\u201d\u2018\u2019\u2013\u2014\u2026\u20ac\u00ab\u00bb\u201e\u00a0\u00b0")
MAX_CONTROL_SHARE = 0.05
# A saved web page may hold a few NUL bytes (a server's padding after an image tag): HTML parsers and
# browsers drop them and show the page. Up to this share of a page's bytes (1 in 1,000) they are dropped
# there; a binary file renamed .html has far more.
MAX_STRAY_NUL_SHARE = 0.001
MAX_DAMAGED_UTF8_SHARE = 0.1  # broken sequences per well-formed non-ASCII character
MIN_UTF16_CHARS = 8          # UTF-16 without a byte-order mark is told from its NULs in texts at least this long
MIN_UTF16_NUL_SHARE = 0.9    # ... when this share of one side of the byte pairs is NUL, and almost none of the other:
MAX_UTF16_ODD_NULS = 0.05    # at most this share of it
MIN_DAMAGED_UTF8_ALLOWED = 8  # a few stray bytes are allowed however few well-formed characters there are
MAX_REASON_CHARS = 200
MAX_HEADLINE_WORDS = 25
MAX_HEADLINE_CHARS = 200
MAX_FRAGMENT_WORDS = 8
MAX_LINK_ITEM_WORDS = 25
# Closing quotes and brackets that may follow a sentence end: English, German („…“), French and
# German guillemets (either way round) and CJK corner brackets.
_CLOSERS = "\"'\u201d\u2019\u201c\u00bb\u00ab)]\u300d\u300f\uff09"
# Chinese and Japanese are written without spaces: kana and Han characters count as words, two to a word.
_CJK_CHAR = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
CJK_CHARS_PER_WORD = 2

_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200d\u2060\ufeff]")  # soft hyphen and zero-width characters
_LINE_BREAKS = re.compile("\r\n|[\r\u2028\u2029\x0b\x0c\x1c\x1d\x1e\x85]")
_TO_SPACE = re.compile("[\t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")  # tab and the Zs spaces
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")  # C0/C1 controls, lone surrogates
_SPACES = re.compile(" {2,}")
_BINARY_CONTROLS = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")  # controls that text files do not use

_MD_TRIGGER = re.compile(r"^[-*_=>#\[]|[*_\[`]")  # lines without these hold no Markdown
_MD_HEADING = re.compile(r"^#{1,6}(?:\s+|$)")
_MD_CLOSING_HASHES = re.compile(r"\s+#+$")
_MD_QUOTE = re.compile(r"^>\s?")
_MD_RULE = re.compile(r"^(?:[-*_=]\s*){3,}$")
_MD_REF_DEFINITION = re.compile(r"^\[[^\]]+\]:\s*\S+.*$")
_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]\n]+)\]\((?:[^()\s]|\([^()\s]*\))*(?:\s+\"[^\"]*\")?\)")
_MD_REF_LINK = re.compile(r"\[([^\]\n]+)\]\[(?!/)[^\]\n]*\]")  # '[video mp4="…"][/video]' is a shortcode's pair
_MD_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_MD_STAR = re.compile(r"(?<![\w*])\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*(?![\w*])")
_MD_UNDERSCORE = re.compile(r"(?<![\w_])_(?=[^\s_])([^_\n]+?)(?<=[^\s_])_(?![\w_])")
_MD_CODE = re.compile(r"`([^`\n]+)`")

_TERMINAL = re.compile(rf"[.!?\u2026\u3002\uff01\uff1f\uff0e][{re.escape(_CLOSERS)}]*$")
_LIST_ITEM = re.compile(r"^(?:[-*+\u2022\u00b7\u00bb\u203a\u25aa\u25cf]|\d{1,2}[.)])\s")
_HTML_START = re.compile(
    r"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body|article)\b", re.I | re.S)
_FRAGMENT_DROP = re.compile(r"<(script|style|noscript)\b.*?</\1\s*>|<!--.*?-->", re.I | re.S)
_FRAGMENT_BREAK = re.compile(r"<br\s*/?>|</(?:p|div|li|h[1-6]|blockquote|tr|section|article)\s*>", re.I)
_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_CLOSING_TAG_END = re.compile(r"</[a-zA-Z][\w-]*\s*>\s*$")  # a fragment of markup ends so, as it opens with a tag
_HTML_BLOCK_END = re.compile(r"</(?:p|div|article|section|body|html|li|h[1-6]|span|a)>", re.I)


class RejectedInput(ValueError):
    """Input that cannot become an article; str(exc) is a one-line reason."""


def _plausibility(text: str) -> int:
    """Count characters that look like ordinary prose (letters, digits, spaces, usual punctuation)."""
    # Every ASCII character counts, so only the others are looked at, each distinct one once.
    others = Counter(_NON_ASCII.findall(text))
    odd = sum(n for ch, n in others.items() if not (ch.isalnum() or ch.isspace() or ch in _COMMON_PUNCT))
    return len(text) - odd


def _detect(raw: bytes) -> str:
    """Decode non-UTF-8 bytes with charset detection, preferring cp1252 among equal Latin guesses."""
    best = charset_normalizer.from_bytes(raw).best()
    if best is None:
        return raw.decode("latin-1")
    guessed = str(best)
    if best.encoding in _LATIN_CODEPAGES:
        try:
            western = raw.decode("cp1252")
        except UnicodeDecodeError:
            return guessed
        # cp1252 wins ties: it is what legacy Western news files are written in.
        if _plausibility(western) >= _plausibility(guessed):
            return western
    return guessed


def _declared(raw: bytes, charset: str | None = None) -> str | None:
    """The bytes decoded with the encoding declared for them: by the server (charset, its Content-Type's,
    first, as browsers do) or in the page; None when neither names a single-byte or East Asian encoding
    that decodes them (UTF-8 and UTF-16 were tried already or cannot be declared inside a page)."""
    found = _DECLARED_CHARSET.search(raw[:DECLARED_CHARSET_BYTES])
    in_page = (found.group(1) or found.group(2)).decode("ascii") if found else None
    for label in (charset, in_page):
        if not label:
            continue
        label = label.strip().lower()
        try:
            encoding = codecs.lookup(_CHARSET_LABELS.get(label, label)).name
        except LookupError:
            continue
        if encoding.startswith(("utf-8", "utf-16", "utf-32")):
            continue
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def _check_not_binary(text: str) -> str:
    """Refuse text that is mostly control characters (a decoded binary file)."""
    if "\x00" in text:
        raise RejectedInput("binary content (NUL bytes)")
    if text:
        controls = len(_BINARY_CONTROLS.findall(text))
        if controls / len(text) > MAX_CONTROL_SHARE:
            raise RejectedInput(f"binary content ({controls} control characters)")
    return text


def decode_bytes(raw: bytes, charset: str | None = None, markup: bool = False) -> str:
    """Decode file bytes: BOM-marked UTF-8/16/32, plain UTF-8 (or UTF-8 with a few stray bytes), the
    encoding declared for them (charset: the one the server named, else the page's own), detected
    charset, else latin-1. In markup (an HTML page) a few stray NUL bytes are dropped, as browsers do;
    elsewhere a NUL byte means binary content."""
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            try:
                return _check_not_binary(raw.decode(encoding))
            except UnicodeDecodeError:
                break
    if b"\x00" in raw:
        if (unmarked := _utf16_without_bom(raw)) is not None:
            return _check_not_binary(unmarked)
        if not markup or raw.count(b"\x00") > len(raw) * MAX_STRAY_NUL_SHARE:
            raise RejectedInput("binary content (NUL bytes)")
        raw = raw.replace(b"\x00", b"")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        # UTF-8 with a few stray bytes, unless it has no UTF-8 character at all and the bytes are declared
        # to be in another encoding (Windows-1250's "ś" is a byte UTF-8 reads as a stray Windows quote)
        text = _damaged_utf8(raw)
        if text is None or raw.decode("utf-8", errors="ignore").isascii():
            declared = _declared(raw, charset)
            text = declared if declared is not None else (_lone_windows_bytes(raw) or text)
        if text is None:
            try:
                text = _detect(raw)
            except Exception as exc:  # the detector must never sink a file: latin-1 always decodes
                LOGGER.debug("charset detection failed: %s", exc)
                text = raw.decode("latin-1")
    return _check_not_binary(text)


def _utf16_without_bom(raw: bytes) -> str | None:
    """Text in UTF-16 with no byte-order mark (as some Windows tools save it), else None: Latin text in
    UTF-16 has a NUL as nearly every other byte, on one side of each pair only; a binary file has them
    anywhere."""
    if len(raw) % 2 and raw[-1:] in (b"\n", b"\r"):
        raw = raw[:-1]  # a line end one byte long after the text (a tool that appended it)
    if len(raw) < 2 * MIN_UTF16_CHARS or len(raw) % 2:
        return None
    for encoding, zeros, letters in (("utf-16-le", raw[1::2], raw[0::2]), ("utf-16-be", raw[0::2], raw[1::2])):
        # a character such as "Ā" or "─" has a NUL on the letters' side: a few of those are text
        if zeros.count(0) >= len(zeros) * MIN_UTF16_NUL_SHARE and letters.count(0) <= len(letters) * MAX_UTF16_ODD_NULS:
            try:
                return raw.decode(encoding)
            except UnicodeDecodeError:
                return None
    return None


def _lone_windows_bytes(raw: bytes) -> str | None:
    """A text of ASCII but for a few lone bytes (no UTF-8 character anywhere, none declared) read as
    Windows-1252, the code page of most such English text ("Caf\xe9", "\xa35m", "30\xb0C"), else None.
    A byte or two tell detection too little (it read "\xa35m" as "Ł5m"), and read as UTF-8 each was "\ufffd"."""
    high = [m.start() for m in itertools.islice(_HIGH_BYTE.finditer(raw), MIN_DAMAGED_UTF8_ALLOWED + 1)]
    if not high or len(high) > MIN_DAMAGED_UTF8_ALLOWED or any(b - a < 2 for a, b in zip(high, high[1:])):
        return None  # none, more than a few, or side by side (a multi-byte code page): detection reads them
    return raw.decode("cp1252", errors="replace")


def _damaged_utf8(raw: bytes) -> str | None:
    """UTF-8 text with a few broken bytes (a last character cut off, a stray byte), else None.

    Detection would read such a file as a legacy code page and garble every accent and dash in it.
    """
    for cut in (1, 2, 3):  # a last character cut off: everything before it is valid, non-ASCII UTF-8
        try:
            head = raw[:-cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
        if not head.isascii():
            return head
        break
    text = raw.decode("utf-8", errors="replace")
    damaged = text.count("\ufffd") - raw.count("\ufffd".encode("utf-8"))
    wellformed = sum(1 for ch in text if ch > "\x7f" and ch != "\ufffd")
    if not wellformed or damaged > max(1, wellformed * MAX_DAMAGED_UTF8_SHARE):
        # more damage than a stray byte explains: UTF-8 all the same when the rest are a few lone Windows
        # quotes, dashes or symbols (0x80-0x9F); else a legacy code page (detection)
        broken = _broken_bytes(raw)
        other = sum(1 for byte in broken if byte is None)
        if len(broken) > MIN_DAMAGED_UTF8_ALLOWED or other > max(1, wellformed * MAX_DAMAGED_UTF8_SHARE):
            return None
    return raw.decode("utf-8", errors=_WINDOWS_BYTES)  # a stray byte is most often a Windows quote or dash


def _broken_bytes(raw: bytes) -> list[int | None]:
    """Each span UTF-8 cannot decode: its byte when it is one lone byte in 0x80-0x9F, else None."""
    found: list[int | None] = []
    start = 0
    while True:
        try:
            raw[start:].decode("utf-8")
            return found
        except UnicodeDecodeError as exc:
            span = raw[start + exc.start:start + exc.end]
            found.append(span[0] if len(span) == 1 and 0x80 <= span[0] <= 0x9F else None)
            start += exc.end
            if len(found) > MIN_DAMAGED_UTF8_ALLOWED:
                return found


def _windows_byte(error: UnicodeDecodeError) -> tuple[str, int]:
    """A span UTF-8 cannot decode: one byte in 0x80-0x9F as its Windows-1252 quote, dash or symbol, any
    other (a cut-off character, a Latin-1 letter, damage: it cannot be told) as one U+FFFD."""
    span = error.object[error.start:error.end]  # a cut-off character is one span: one U+FFFD
    windows = len(span) == 1 and 0x80 <= span[0] <= 0x9F
    return (span.decode("cp1252", errors="replace") if windows else "\ufffd"), error.end


_WINDOWS_BYTES = "newsdesk-windows-bytes"
codecs.register_error(_WINDOWS_BYTES, _windows_byte)


def looks_like_html(text: str) -> bool:
    """Tell whether text is really an HTML page (by its opening tag or many closing block tags)."""
    head = text[:5000]
    return bool(_HTML_START.match(head)) or len(_HTML_BLOCK_END.findall(head)) >= 3


def fragment_text(content: str) -> str:
    """Plain text of a small HTML fragment (a feed summary): block ends become line breaks, tags go, and
    entities are decoded, also in a fragment with no tag ('AT&amp;T and Q&amp;A' is 'AT&T and Q&A'); a
    fragment escaped twice by its feed ('&lt;p&gt;…&lt;/p&gt;', an HTML page's markup once decoded) is the
    text of that markup."""
    if not _TAG.search(content):
        decoded = html.unescape(content)
        markup = looks_like_html(decoded) or bool(_TAG.match(decoded.strip()) and _CLOSING_TAG_END.search(decoded))
        return fragment_text(decoded) if decoded != content and markup else decoded
    text = _FRAGMENT_BREAK.sub("\n", _FRAGMENT_DROP.sub(" ", content))
    return html.unescape(_TAG.sub("", text))


def html_line(markup: str) -> str:
    """Plain text of a one-line piece of HTML (a feed title marked as HTML): tags go, entities are
    decoded (even where no tag is: 'she&#8217;s'), whitespace collapses to single spaces."""
    return " ".join(html.unescape(_TAG.sub("", _FRAGMENT_DROP.sub(" ", markup))).split())


def one_line(text: str, limit: int | None = MAX_REASON_CHARS) -> str:
    """Squeeze a message onto one line (its runs of white space made one space), of bounded length unless
    limit is None."""
    text = " ".join(str(text).split())
    return text if limit is None or len(text) <= limit else text[:limit - 1] + "\u2026"


def word_count(text: str) -> int:
    """Number of words: whitespace-separated tokens, with runs of CJK characters counted two to a word."""
    cjk = len(_CJK_CHAR.findall(text))
    if not cjk:
        return len(text.split())
    return len(_CJK_CHAR.sub(" ", text).split()) + -(-cjk // CJK_CHARS_PER_WORD)


def ends_like_sentence(line: str) -> bool:
    """True when a line ends with sentence punctuation (closing quotes and brackets allowed)."""
    return bool(_TERMINAL.search(line))


def is_list_item(line: str) -> bool:
    """True for a bulleted or numbered list line."""
    return bool(_LIST_ITEM.match(line))


def looks_like_headline(line: str) -> bool:
    """Short, capitalised, and not ending like a sentence or a lead-in ('?' and '!' are fine)."""
    words = line.split()
    if not words or word_count(line) > MAX_HEADLINE_WORDS or len(line) > MAX_HEADLINE_CHARS or is_list_item(line):
        return False
    if line.rstrip(_CLOSERS).endswith((".", "\u2026", ",", ";", ":", "\u3002", "\uff0c", "\uff1b", "\uff1a")):
        return False
    return not line[0].islower() or any(ch.isupper() for ch in words[0])


def is_link_item(line: str) -> bool:
    """A short bulleted or numbered headline, as in 'related stories' lists."""
    return (is_list_item(line) and word_count(line) <= MAX_LINK_ITEM_WORDS
            and not line.rstrip(_CLOSERS).endswith((".", "\u2026")))


def is_fragment(line: str) -> bool:
    """A short line that is not a sentence (menu entry, share button, 'Loading...' teaser)."""
    trailing_off = line.rstrip(_CLOSERS).endswith(("...", "\u2026"))
    return word_count(line) <= MAX_FRAGMENT_WORDS and (trailing_off or not ends_like_sentence(line))


def _normalise_chars(text: str) -> str:
    """Unicode NFC, invisible characters removed, every space a plain space, every break a LF."""
    text = _LINE_BREAKS.sub("\n", _INVISIBLE.sub("", text))
    text = _CONTROLS.sub("", _TO_SPACE.sub(" ", text))
    return unicodedata.normalize("NFC", text)


def _strip_markdown_line(line: str) -> str:
    """Remove Markdown markup from one line, keeping link and emphasis text."""
    if not _MD_TRIGGER.search(line):
        return line
    if _MD_RULE.match(line) or _MD_REF_DEFINITION.match(line):
        return ""
    line = _MD_QUOTE.sub("", line)
    if _MD_HEADING.match(line):
        line = _MD_CLOSING_HASHES.sub("", _MD_HEADING.sub("", line))
    line = _MD_IMAGE.sub(r"\1", line)
    line = _MD_LINK.sub(r"\1", line)
    line = _MD_REF_LINK.sub(r"\1", line)
    line = _MD_STRONG.sub(r"\2", line)
    line = _MD_STAR.sub(r"\1", line)
    line = _MD_UNDERSCORE.sub(r"\1", line)
    return _MD_CODE.sub(r"\1", line)


def _clean_line(line: str) -> str:
    """Normalise one line until it no longer changes (markup removal can expose more markup)."""
    for _ in range(20):
        cleaned = _SPACES.sub(" ", _strip_markdown_line(line).strip(" "))
        if cleaned == line:
            break
        line = cleaned
    return line


def is_wrapped(block: list[str]) -> bool:
    """Tell whether a block's lines are one hard-wrapped paragraph rather than one paragraph each.

    The one rule for wrapped lines: the cleaner joins them by it, and the sentence splitter too.
    """
    if len(block) < 2 or any(is_list_item(line) for line in block):
        return False
    widest = max(len(line) for line in block)
    body = block[:-1]
    if widest > 100 or any(len(line) < max(30, 0.6 * widest) for line in body):
        return False
    # Prose wrapped at a fixed width mostly breaks mid-sentence.
    if sum(ends_like_sentence(line) for line in body) >= len(body) / 2:
        return False
    # A byline over its date line ("By Sarah Whitfield, Transport Correspondent" / "Published 5 December
    # 2026") is a header of one line each, however alike their widths.
    return not any(header_fields(line) for line in block)


def _paragraph_list(text: str) -> list[str]:
    """One pass: characters, lines and Markdown cleaned, wrapped blocks joined, empty lines dropped."""
    lines = [_clean_line(line) for line in _normalise_chars(text).split("\n")]
    paragraphs: list[str] = []
    block: list[str] = []
    for line in [*lines, ""]:
        if line:
            block.append(line)
            continue
        if block:
            paragraphs.extend([" ".join(block)] if is_wrapped(block) else block)
        block = []
    return paragraphs


def to_paragraphs(text: str) -> list[str]:
    """Split text into clean single-line paragraphs; joining them with blank lines is a fixed point."""
    paragraphs = _paragraph_list(text)
    for _ in range(20):
        again = _paragraph_list("\n\n".join(paragraphs))
        if again == paragraphs:
            break
        paragraphs = again
    return paragraphs
