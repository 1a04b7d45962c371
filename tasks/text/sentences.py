"""Sentence and word tokenizing, stemming and stop words shared by the text-handling steps."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nupunkt import PunktSentenceTokenizer

LOGGER = logging.getLogger(__name__)

DEFAULT_LANGUAGE = "english"
# ISO 639-1 codes (as language detection reports them) to the language names sumy and NLTK use.
ISO_LANGUAGES = {
    "ar": "arabic", "cs": "czech", "da": "danish", "de": "german", "el": "greek", "en": "english",
    "es": "spanish", "fi": "finnish", "fr": "french", "he": "hebrew", "hu": "hungarian",
    "it": "italian", "ja": "japanese", "ko": "korean", "nb": "norwegian", "nl": "dutch",
    "nn": "norwegian", "no": "norwegian", "pl": "polish", "pt": "portuguese", "ro": "romanian",
    "ru": "russian", "sk": "slovak", "sv": "swedish", "th": "thai", "uk": "ukrainian", "zh": "chinese",
}
KNOWN_LANGUAGES = frozenset(ISO_LANGUAGES.values())
# Stemmed once per language to check that its stemmer works here (some need optional packages).
STEM_PROBE = "running"

PARAGRAPH_BREAK_RE = re.compile(r"\n[ \t\r\f\v\u00a0]*\n\s*")
WHITESPACE_RE = re.compile(r"\s+")
# Numbers keep their decimal/thousands separators, dotted abbreviations their dots ("U.S."),
# words their inner apostrophes and hyphens ("don't", "Russia-Ukraine").
WORD_RE = re.compile(r"\d+(?:[.,]\d+)+|(?:[^\W\d_]\.){2,}|[^\W_]+(?:['’\-][^\W_]+)*")
LETTER_RE = re.compile(r"[^\W\d_]")
POSSESSIVE_RE = re.compile(r"['’]s?$")
# Full-width sentence ends (Chinese, Japanese), which the Punkt model does not know.
CJK_SENTENCE_END_RE = re.compile(r"(?<=[。！？])")
LIST_ITEM_RE = re.compile(r"^(?:[-*•–—]\s|\d{1,2}[.)]\s)")
LINE_END_PUNCT = ".!?:;\"'”’)»…"
# A block of lines is taken for hard-wrapped prose (lines re-joined) only when no line is
# longer than this and the lines are mostly long enough to have been wrapped.
WRAP_MAX_LINE = 100
WRAP_MIN_AVG = 50


@functools.cache
def _sentence_model() -> PunktSentenceTokenizer:
    """Load nupunkt's built-in model once per process, on first use."""
    import nupunkt

    LOGGER.debug("loading the nupunkt sentence model")
    return nupunkt.load("default")


def language_name(code: str | None) -> str:
    """Map an ISO code ("en", "de-AT") or a language name to the name sumy uses; English if unknown."""
    if not code:
        return DEFAULT_LANGUAGE
    value = code.strip().lower()
    if value in KNOWN_LANGUAGES:
        return value
    return ISO_LANGUAGES.get(re.split(r"[-_]", value, maxsplit=1)[0], DEFAULT_LANGUAGE)


def _is_wrapped(lines: list[str]) -> bool:
    """Tell hard-wrapped prose (one paragraph over several lines) from one-line paragraphs."""
    if len(lines) < 2 or any(len(line) > WRAP_MAX_LINE for line in lines):
        return False
    if any(LIST_ITEM_RE.match(line) for line in lines):
        return False
    body = lines[:-1]
    open_ends = sum(1 for line in body if not line.endswith(tuple(LINE_END_PUNCT)))
    return sum(map(len, body)) / len(body) >= WRAP_MIN_AVG and open_ends * 2 >= len(body)


def _units(paragraph: str) -> list[str]:
    """Split one paragraph into the pieces that sentences never cross (its lines, unless wrapped)."""
    lines = [WHITESPACE_RE.sub(" ", line).strip() for line in paragraph.splitlines()]
    lines = [line for line in lines if line]
    return [" ".join(lines)] if _is_wrapped(lines) else lines


def split_paragraphs(text: str) -> list[list[str]]:
    """Split text into paragraphs (blank-line separated) of sentences, whitespace normalised."""
    paragraphs: list[list[str]] = []
    for block in PARAGRAPH_BREAK_RE.split(text.replace("\r\n", "\n").replace("\r", "\n")):
        sentences: list[str] = []
        for unit in _units(block):
            for chunk in _sentence_model().tokenize(unit):
                for sentence in CJK_SENTENCE_END_RE.split(chunk):
                    sentence = WHITESPACE_RE.sub(" ", sentence).strip()
                    if sentence:
                        sentences.append(sentence)
        if sentences:
            paragraphs.append(sentences)
    return paragraphs


def split_sentences(text: str) -> list[str]:
    """Split text into sentences in order; a sentence never spans a paragraph break."""
    return [sentence for paragraph in split_paragraphs(text) for sentence in paragraph]


def words(text: str) -> list[str]:
    """Split text into word tokens (letters or digits, with inner apostrophes and hyphens kept)."""
    return WORD_RE.findall(text)


def match_words(text: str) -> list[str]:
    """Words as keyword matching sees them: lowercased, possessives dropped, hyphenated words split."""
    found: list[str] = []
    for word in words(text):
        for part in POSSESSIVE_RE.sub("", word.lower()).split("-"):
            if part:
                found.append(part)
    return found


def match_terms(text: str, language: str = DEFAULT_LANGUAGE) -> list[str]:
    """The stems of match_words, the units that taxonomy keywords are matched on."""
    return [stem(word, language) for word in match_words(text)]


def lowercase_only(word: str) -> str:
    """The stand-in stemmer for a language whose sumy stemmer cannot run here: the word lowercased."""
    return word.lower()


def _stand_in(language: str, exc: Exception) -> Callable[[str], str]:
    """Say once why a language's words will only be lowercased, and return the stand-in stemmer."""
    LOGGER.info("the %s stemmer does not work here (%s: %s); its words are only lowercased",
                language, exc.__class__.__name__, exc)
    return lowercase_only


@functools.lru_cache(maxsize=64)
def sumy_stemmer(language: str) -> Callable[[str], str] | None:
    """sumy's stemmer for a language name or code if it works here, lowercase_only if not, None if sumy has none.

    Some of sumy's stemmers need an optional package (Polish pystempel, Greek greek_stemmer) and
    fail only when a word is stemmed, so a probe word is stemmed here, once per language.
    """
    from sumy.nlp.stemmers import Stemmer

    try:
        stemmer = Stemmer(language)
    except LookupError:
        return None
    except Exception as exc:  # an optional stemmer package may fail in any way
        return _stand_in(language, exc)
    try:
        stemmer(STEM_PROBE)
    except Exception as exc:
        return _stand_in(language, exc)
    return stemmer


@functools.lru_cache(maxsize=256)
def stemmer_for(language: str | None) -> Callable[[str], str]:
    """The stemmer for an ISO code or language name: sumy's (English when the language is unknown
    or sumy has no stemmer for it), or lowercase_only when that stemmer cannot run here."""
    name = language_name(language)
    found = sumy_stemmer(name)
    if found is None:
        LOGGER.debug("no stemmer for %r, using English", name)
        found = sumy_stemmer(DEFAULT_LANGUAGE)
    return found or lowercase_only


@functools.lru_cache(maxsize=200_000)
def stem(word: str, language: str = DEFAULT_LANGUAGE) -> str:
    """Lowercase and stem one word with the language's stemmer (see stemmer_for)."""
    return stemmer_for(language)(word.lower())


@functools.cache
def stop_words(language: str = DEFAULT_LANGUAGE) -> frozenset[str]:
    """sumy's offline stop-word list for a language, lowercased; English when it has none, empty if it fails."""
    from sumy.utils import get_stop_words

    try:
        found = get_stop_words(language_name(language))
    except LookupError:
        LOGGER.debug("no stop words for %r, using English", language)
        found = get_stop_words(DEFAULT_LANGUAGE)
    except Exception as exc:
        LOGGER.info("stop words for %r failed (%s: %s); using none", language, exc.__class__.__name__, exc)
        found = frozenset()
    return frozenset(word.lower() for word in found)


class NewsTokenizer:
    """sumy-compatible tokenizer built on nupunkt, so no NLTK data is needed."""

    def __init__(self, language: str = DEFAULT_LANGUAGE) -> None:
        self._language = language_name(language)

    @property
    def language(self) -> str:
        """The sumy language name this tokenizer was made for."""
        return self._language

    def to_sentences(self, paragraph: str) -> tuple[str, ...]:
        """Split a paragraph into sentences."""
        return tuple(split_sentences(paragraph))

    def to_words(self, sentence: str) -> tuple[str, ...]:
        """Split a sentence into words, leaving out bare numbers as sumy's own tokenizer does."""
        return tuple(w for w in words(sentence) if LETTER_RE.search(w))
