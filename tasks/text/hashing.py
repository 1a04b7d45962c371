"""Hashing rules, in one place: an input's identity (its bytes) and a text's identity (its words)."""

from __future__ import annotations

import hashlib
import re
import unicodedata

# Apostrophe look-alikes fold to one form, which is then dropped ("don’t" == "don't" == "dont");
# every other punctuation mark (quotes, dashes, ellipses) becomes a word break.
_CHAR_FOLDS = str.maketrans({
    **dict.fromkeys("‘’‚‛′‵`´ʼʹ", "'"),
    # Invisible format characters (soft hyphen, zero-width and direction marks, BOM) are layout noise.
    **dict.fromkeys("\u00ad\u061c\u180e\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                    "\u2060\u2061\u2062\u2063\u2064\ufeff", None),
})
_APOSTROPHE_RE = re.compile(r"'+")
_NOISE_RE = re.compile(r"[\W_]+")


def sha256_hex(data: bytes) -> str:
    """The sha256 of some bytes, as hex: an input's identity in the warehouse (its content_hash)."""
    return hashlib.sha256(data).hexdigest()


def page_hash(body: bytes, feed_text: str | None) -> str:
    """The identity of a feed entry's page: its bytes, and with them the entry's own text when the feed gives
    one. A site that answers every link with one page (a subscription or consent wall) gives its entries
    one body but each its own text; the same page under two links with one text is still one input."""
    if not feed_text or not feed_text.strip():
        return sha256_hex(body)
    return sha256_hex(body + b"\x00feed text\x00" + feed_text.encode("utf-8", "surrogatepass"))


def normalise_for_hash(text: str) -> str:
    """Reduce text to lowercase words separated by single spaces, ignoring quote, dash and spacing styles."""
    text = unicodedata.normalize("NFKC", text or "").translate(_CHAR_FOLDS).casefold()
    text = _APOSTROPHE_RE.sub("", text)  # "don't" and "don’t" both become "dont"
    return _NOISE_RE.sub(" ", text).strip()


def text_hash(text: str) -> str:
    """The sha256 of the normalised text (stable under whitespace and quote styles): equal texts, equal hash."""
    return sha256_hex(normalise_for_hash(text).encode("utf-8"))
