"""Sentences and words: splitting text into paragraphs, sentences and word tokens, and matching terms."""

from __future__ import annotations

import functools
import logging
import re
from typing import TYPE_CHECKING

from tasks.text.language import DEFAULT_LANGUAGE, keyword_form, language_name
from tasks.text.normalise import is_wrapped

if TYPE_CHECKING:
    from nupunkt import PunktSentenceTokenizer

LOGGER = logging.getLogger(__name__)

PARAGRAPH_BREAK_RE = re.compile(r"\n[ \t\r\f\v\u00a0]*\n\s*")
WHITESPACE_RE = re.compile(r"\s+")
# Numbers keep their decimal/thousands separators, dotted abbreviations their dots ("U.S."),
# words their inner apostrophes and hyphens ("don't", "Russia-Ukraine").
WORD_RE = re.compile(r"\d+(?:[.,]\d+)+|(?:[^\W\d_]\.){2,}|[^\W_]+(?:['’\-][^\W_]+)*")
LETTER_RE = re.compile(r"[^\W\d_]")
POSSESSIVE_RE = re.compile(r"['’]s?$")
# Full-width sentence ends (Chinese, Japanese), which the Punkt model does not know.
CJK_SENTENCE_END_RE = re.compile(r"(?<=[。！？])")
# A sentence end the Punkt model passes over: its abbreviation list, learned from legal and business text,
# holds about 3,000 plain lowercase words ("month", "story", "car", "south"), so "in a month. Nobody" stayed
# one sentence. A full stop after a lowercase word of three letters or more, then a capital, ends a sentence
# unless the word is one of the few lowercase abbreviations written before a capitalised word. Short words
# ("p.m. ET", "v. Arsenal", "no. 10") and capitalised abbreviations ("Gen. Smith", "St. Louis") are left to
# the model.
MISSED_END_RE = re.compile(r"(?<![\w.])([^\W\d_A-Z]{3,})\.[\"'”’)\]]? (?=[\"'“‘(\[]?[A-Z])")
LOWERCASE_ABBREVIATIONS = frozenset({
    "approx", "incl", "excl", "esp", "viz", "ibid", "cit", "vol", "vols", "fig", "figs", "nos", "ref", "refs",
    "para", "paras", "chap", "eds", "rev", "etc", "resp", "dept", "univ", "corp", "inc", "ltd", "bros",
    "assn", "est", "tel", "ext", "sen", "rep", "gov", "gen", "col", "capt", "sgt", "lieut", "cmdr", "adm",
    "supt", "insp", "det", "atty", "hon", "pres", "prof",
    "vgl", "bzw", "usw", "evtl", "ggf", "inkl", "zzgl", "sog", "env",   # German, French
})


# A German date or century writes its day or number as an ordinal with a full stop ("am 8. März 2014",
# "im 19. Jahrhundert"), which the Punkt model, learned from English, takes for a sentence end before the
# capital. A day number (1-31) with its full stop, then a month's name or "Jahrhundert", is no sentence end.
# April, August, September and November are English months too ('quarter 3. April was the worst month'):
# before them the day must follow a German word of dates ('am 8. April', '(am 8. April)', 'vom 3. bis 5. August'),
# a comma or colon ('Montag, 8. April', 'Stand: 1. April') or nothing, or the month must go on with a year
# ('geboren 3. August 1950').
ORDINAL_END_RE = re.compile(r"(?:^|(?P<before>\S+)?[\s(\[–-])(?:0?[1-9]|[12]\d|3[01])\.$")
AFTER_ORDINAL_RE = re.compile(r"(?:Januar|Jänner|Februar|Feber|März|(?P<shared>April|August|September|November)"
                              r"|Mai|Juni|Juli|Oktober|Dezember|Jahrhunderts?)\b(?P<year>\s+\d{4}\b)?")
OPENING_MARKS = "([\"'\u201e\u201c\u201a\u2018\u00bb\u00ab\u203a\u2039"
GERMAN_DATE_WORDS = frozenset({"am", "vom", "zum", "bis", "seit", "ab", "den", "dem", "des", "der", "und", "oder",
                               "zwischen", "vor", "nach", "ist", "war"})


@functools.cache
def _sentence_model() -> PunktSentenceTokenizer:
    """Load nupunkt's built-in model once per process, on first use."""
    import nupunkt

    LOGGER.debug("loading the nupunkt sentence model")
    return nupunkt.load("default")


def _units(paragraph: str) -> list[str]:
    """Split one paragraph into the pieces that sentences never cross (its lines, unless wrapped)."""
    lines = [WHITESPACE_RE.sub(" ", line).strip() for line in paragraph.splitlines()]
    lines = [line for line in lines if line]
    return [" ".join(lines)] if is_wrapped(lines) else lines


def _ordinals_kept(chunks: list[str]) -> list[str]:
    """The model's sentences, each one that ends at a date's or century's ordinal ("am 8.") joined to the
    next when that goes on with the month or "Jahrhundert" (ORDINAL_END_RE, AFTER_ORDINAL_RE)."""
    kept: list[str] = []
    for chunk in chunks:
        end = ORDINAL_END_RE.search(kept[-1]) if kept else None
        month = AFTER_ORDINAL_RE.match(chunk.lstrip()) if end else None
        before = (end["before"] or "").lstrip(OPENING_MARKS) if end else ""
        if month and (not month["shared"] or month["year"] or not before or before.endswith((",", ":"))
                      or before.lower() in GERMAN_DATE_WORDS):
            kept[-1] = f"{kept[-1]} {chunk.lstrip()}"
        else:
            kept.append(chunk)
    return kept


def _missed_ends(chunk: str) -> list[str]:
    """Split one of the model's sentences where it passed over a sentence end (MISSED_END_RE, full-width)."""
    pieces: list[str] = []
    start = 0
    for match in MISSED_END_RE.finditer(chunk):
        if match.group(1).islower() and match.group(1) not in LOWERCASE_ABBREVIATIONS:
            pieces.append(chunk[start:match.end()])
            start = match.end()
    pieces.append(chunk[start:])
    return [sentence for piece in pieces for sentence in CJK_SENTENCE_END_RE.split(piece)]


def split_paragraphs(text: str) -> list[list[str]]:
    """Split text into paragraphs (blank-line separated) of sentences, whitespace normalised."""
    paragraphs: list[list[str]] = []
    for block in PARAGRAPH_BREAK_RE.split(text.replace("\r\n", "\n").replace("\r", "\n")):
        sentences: list[str] = []
        for unit in _units(block):
            for chunk in _ordinals_kept(_sentence_model().tokenize(unit)):
                for sentence in _missed_ends(chunk):
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
    """The keyword forms of match_words (see keyword_form), the units that taxonomy keywords are matched on."""
    return [keyword_form(word, language) for word in match_words(text)]


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
