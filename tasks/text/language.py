"""Language rules, in one place: which language a text is in, and each language's name, stemmer and stop words.

The rule: a text whose language is unknown (too short or unclear to detect) is read as English, the
project's default. A language code is mapped to the name sumy uses; a language sumy has no stemmer
for (or whose stemmer needs a package that is not installed) keeps its words as they are, lower-cased,
and a language with no stop-word list has none: no other language's rules are borrowed.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from py3langid.langid import LanguageIdentifier

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
# jusText's names for the stop lists of languages it splits in two (others: the name capitalised).
JUSTEXT_LISTS = {"norwegian": ("Norwegian_Bokmal", "Norwegian_Nynorsk")}
# How far down jusText's frequency-ordered stop lists a language's own words are taken as its function
# words: German "war" is 24th, "wurde" and "hat" near it; Spanish "mayor" ("greater") 87th, Italian "ai"
# ("to the") 58th; nouns shared with English come later ("Film" 233rd in German, "match" 385th in French).
FUNCTION_WORD_RANKS = 200
LIST_PUNCTUATION = ".,;:!?()\"'"  # around a word in jusText's lists ('embargo,', '(en', 'werden.')
# In a text not in English, a stem shorter than this stands for too many words to meet an English
# keyword by ("wag": "Wagen", a car, and "wage"; "arm": "Arme" and "arms"); the word is matched as written.
MIN_FOREIGN_STEM = 4
# Stemmed once per language to check that its stemmer works here (some need optional packages).
STEM_PROBE = "running"

# Language detection: fewer words or letters than this, or a less confident guess, is "unknown".
MIN_LETTERS = 20
MIN_WORDS = 3
# A guess below 0.9 is often wrong on a headline and a line of text: on the NYT tuning half's items (all
# English), 30 of 7,785 were guessed another language with at least 0.5 ("major changes raise concerns on
# pension bill": French), 3 with 0.8, none with 0.9; articles in other languages are guessed at about 1.0.
MIN_CONFIDENCE = 0.9
SAMPLE_CHARS = 5000

_IDENTIFIER: LanguageIdentifier | None = None
_LOCK = threading.Lock()


def _identifier() -> LanguageIdentifier:
    """Return the shared identifier, loading the model on first use."""
    global _IDENTIFIER
    if _IDENTIFIER is None:
        with _LOCK:
            if _IDENTIFIER is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                _IDENTIFIER = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return _IDENTIFIER


def _has_letters(text: str, count: int) -> bool:
    """Whether the text holds at least count letters."""
    for ch in text:
        if ch.isalpha():
            count -= 1
            if count <= 0:
                return True
    return count <= 0


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's language, or None when the text is too short or unclear."""
    sample = text[:SAMPLE_CHARS]
    # Both checks stop as soon as they are met: a few words and letters in, not the whole sample.
    if len(sample.split(maxsplit=MIN_WORDS)) < MIN_WORDS or not _has_letters(sample, MIN_LETTERS):
        return None
    try:
        code, confidence = _identifier().classify(sample)
    except Exception as exc:  # a broken model file should cost the field, not the article
        LOGGER.warning("language identification failed: %s: %s", type(exc).__name__, exc)
        return None
    if confidence < MIN_CONFIDENCE or not isinstance(code, str) or len(code) != 2:
        return None
    return code


def language_name(code: str | None) -> str:
    """The name sumy uses for an ISO code ("en", "de-AT") or a language name; English when the language
    is unknown (no code); an unmapped code as its bare lower-cased primary subtag ("xx")."""
    if not code or not code.strip():
        return DEFAULT_LANGUAGE
    value = code.strip().lower()
    if value in KNOWN_LANGUAGES:
        return value
    primary = re.split(r"[-_]", value, maxsplit=1)[0]
    return ISO_LANGUAGES.get(primary, primary)


def lowercase_only(word: str) -> str:
    """The stemmer of a language without a working sumy stemmer: the word lower-cased."""
    return word.lower()


@functools.lru_cache(maxsize=64)
def _sumy_stemmer(language: str) -> Callable[[str], str] | None:
    """sumy's stemmer for a language name if it works here, else None (said once per language).

    Some of sumy's stemmers need an optional package (Polish pystempel, Greek greek_stemmer) and
    fail only when a word is stemmed, so a probe word is stemmed here, once per language.
    """
    from sumy.nlp.stemmers import Stemmer

    try:
        stemmer = Stemmer(language)
        stemmer(STEM_PROBE)
    except LookupError:
        LOGGER.debug("sumy has no %s stemmer; its words are only lowercased", language)
        return None
    except Exception as exc:  # an optional stemmer package may fail in any way
        LOGGER.info("the %s stemmer does not work here (%s: %s); its words are only lowercased",
                    language, exc.__class__.__name__, exc)
        return None
    return stemmer


@functools.lru_cache(maxsize=256)
def stemmer_for(language: str | None) -> Callable[[str], str]:
    """The stemmer for an ISO code or language name: sumy's when it has a working one, else lowercase_only."""
    return _sumy_stemmer(language_name(language)) or lowercase_only


@functools.lru_cache(maxsize=200_000)
def stem(word: str, language: str | None = DEFAULT_LANGUAGE) -> str:
    """Lowercase and stem one word with the language's stemmer (see stemmer_for)."""
    return stemmer_for(language)(word.lower())


@functools.lru_cache(maxsize=200_000)
def keyword_form(word: str, language: str | None = DEFAULT_LANGUAGE) -> str:
    """The form a word is matched to taxonomy keywords on: in English its dictionary form (simplemma's
    lemma: "elections" -> "election", "died" -> "die"), so that inflections match and derivations do not
    ("inflatable" is not "inflation", "customers" not "customs", which a stemmer merges); in other
    languages its stem (the keywords are written in English, so a dictionary of each language, 50 to 130 MB
    a process, would buy little), unless that stem is shorter than MIN_FOREIGN_STEM letters: then it is
    too unspecific to stand for the word (German "Wagen", a car, stems as English "wage"; "Arme" as
    "arms"), and the word is matched as written. A common word of the language (function_words) is matched
    as written too: its stem would meet an English keyword it is not (Spanish "importante" stems as
    "import"), while a phrase with it ("premier league" in French) still meets the same form. (A keyword that
    is a common word of the text's language, German "war", is left out of the matching there.)"""
    if language_name(language) != DEFAULT_LANGUAGE:
        form = word.lower()
        if form in function_words(language):
            return form
        stemmed = stem(word, language)
        return stemmed if len(stemmed) >= MIN_FOREIGN_STEM else form
    import simplemma

    form = word.lower()
    # Twice: its dictionary takes a plural to its singular and the singular on ("shootings" -> "shooting"
    # -> "shoot", "defences" -> "defence" -> "defense"), so a keyword and its plural meet. It also maps a
    # few short words to other words ("us" -> "we", "ai" -> "be"): a lemma that does not begin as the word
    # does ("was" -> "be", "mice" -> "mouse") is not taken.
    for _ in range(2):
        found = simplemma.lemmatize(form, lang="en").lower()
        if not found or found[:2] != form[:2] or found == form:
            break
        form = found
    return form


@functools.cache
def function_words(language: str | None) -> frozenset[str]:
    """A language's commonest words (its articles, pronouns, prepositions and commonest verbs), lowercased:
    the first FUNCTION_WORD_RANKS entries of jusText's stop list for it, which trafilatura ships for about
    100 languages and which is ordered by frequency. In a text of that language, a one-word English
    keyword that is one of them is the language's own word ("war" is German for "was"), not the keyword
    (a phrase, "premier league" in French, is still the phrase). Further down
    the lists come nouns shared with English ("Film" at 233 in German), which keep matching. Empty for
    English (the keywords' own language) and for a language jusText has no list for."""
    from importlib.resources import files

    name = language_name(language)
    if name == DEFAULT_LANGUAGE:
        return frozenset()
    words: set[str] = set()
    for list_name in JUSTEXT_LISTS.get(name, (name.capitalize(),)):
        try:
            lines = (files("justext") / "stoplists" / f"{list_name}.txt").read_text(encoding="utf-8").splitlines()
        except (OSError, ModuleNotFoundError) as exc:
            LOGGER.debug("no common-word list for %r (%s)", list_name, exc)
            continue
        # a few entries keep the punctuation they were counted with (Spanish "embargo," of "sin embargo,")
        words.update(w.strip().strip(LIST_PUNCTUATION).lower() for w in lines[:FUNCTION_WORD_RANKS]
                     if w.strip().strip(LIST_PUNCTUATION))
    return frozenset(words)


@functools.cache
def stop_words(language: str | None = DEFAULT_LANGUAGE) -> frozenset[str]:
    """sumy's offline stop-word list for a language, lowercased; empty when it has none or it is unreadable."""
    from sumy.utils import get_stop_words

    try:
        found = get_stop_words(language_name(language))
    except LookupError:
        LOGGER.debug("no stop words for %r", language)
        found = frozenset()
    except Exception as exc:
        LOGGER.info("stop words for %r failed (%s: %s); using none", language, exc.__class__.__name__, exc)
        found = frozenset()
    return frozenset(word.lower() for word in found)


def clear_caches() -> None:
    """Forget every cached stemmer and stop-word list (after a stemmer or a list changed)."""
    for cached in (_sumy_stemmer, stemmer_for, stem, keyword_form, stop_words, function_words):
        cached.cache_clear()
