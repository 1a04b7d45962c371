"""Tests for tasks.text.language: the one rule for a language's name, stemmer and stop words, which every
step (dedup fingerprints, summaries, tags) follows."""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Iterator

import pytest
import sumy.utils
from sumy.nlp.stemmers import Stemmer

from config.settings import TagSettings
from tasks import s3_fingerprint as fingerprint
from tasks.s6_tag import Taxonomy, issue_from_terms, tag_text
from tasks.text.language import (ISO_LANGUAGES, clear_caches, detect_language, language_name, lowercase_only, stem,
                                 stemmer_for, stop_words)
from tasks.text.sentences import match_terms

# sumy languages whose stemmer imports an optional package on the first word stemmed
OPTIONAL_STEMMERS = {"pl": "pystempel", "el": "greek_stemmer"}
NORWEGIAN = "Valgene i Oslo ble avgjort søndag. Valgene ga opposisjonen flertall i bystyret."


@pytest.fixture()
def fresh_stemmers() -> Iterator[None]:
    """Empty every cache that holds a stemmer or stop list, before and after the test."""
    clear_caches()
    fingerprint._term_lookup.cache_clear()
    yield
    clear_caches()
    fingerprint._term_lookup.cache_clear()


def _fails(word: str) -> str:
    raise ValueError("this stemmer requires a package that is not installed")


def test_language_names() -> None:
    assert language_name("en") == "english" and language_name("de-AT") == "german"
    assert language_name("French") == "french" and language_name("nb_NO") == "norwegian"
    assert language_name(None) == "english" and language_name("") == "english", "unknown language: the default"
    assert language_name("xx") == "xx" and language_name("XX-yy") == "xx", "an unmapped code stays itself"


def test_detect_language() -> None:
    assert detect_language("The council approved the budget on Tuesday after a long debate.") == "en"
    assert detect_language("Der Stadtrat hat den Haushalt am Dienstag nach langer Debatte beschlossen.") == "de"
    assert detect_language("Too short") is None


def test_english_stemming() -> None:
    assert stem("running") == stem("Running", "en") == stemmer_for(None)("running") == "run"
    assert stem("Elections") == stem("election") == "elect" and stem("guarantees", "en") == stem("guarantee")
    assert stemmer_for("de")("häuser") == "haus" and stemmer_for("ru")("организации") == "организац"


def test_no_stemmer_means_words_as_they_are() -> None:
    """A language sumy cannot stem keeps its words (lower-cased); it does not borrow English's stemmer."""
    for language in ("xx", "klingon", "th"):
        assert stemmer_for(language) is lowercase_only, language
        assert stem("Running", language) == "running", language


def test_stop_words_are_the_languages_own_or_none() -> None:
    assert "the" in stop_words("english") and "und" in stop_words("de") and "nie" in stop_words("pl")
    assert "και" in stop_words("el")
    assert stop_words("klingon") == frozenset() and stop_words("ru") == frozenset()


def test_every_mapped_language_stems_without_raising() -> None:
    for code in ISO_LANGUAGES:
        assert isinstance(stemmer_for(code)("wybory"), str), code
        assert stem("Εκλογές", code) and stem("Wybory", code)


def test_dedup_summaries_and_tags_read_a_language_alike() -> None:
    """Norwegian (nb) is stemmed as Norwegian by the fingerprints too (the old fingerprint table had no
    'nb' and kept the words as they were, while tags and summaries stemmed them)."""
    terms = fingerprint.story_terms(NORWEGIAN, language="nb")
    assert stem("valgene", "nb") in terms and "valgene" not in terms
    assert stem("valgene", "nb") in match_terms(NORWEGIAN, "nb")
    taxonomy = Taxonomy(issues=(issue_from_terms("elections", {"valgene": 2.0}),))
    settings = TagSettings()
    tags = tag_text(None, NORWEGIAN, taxonomy, settings.min_score, settings.max_tags, language="nb")
    assert [t.issue for t in tags] == ["elections"]


@pytest.mark.parametrize("language", OPTIONAL_STEMMERS)
def test_stemmer_missing_its_package_falls_back_to_lowercasing(language: str, fresh_stemmers: None) -> None:
    if importlib.util.find_spec(OPTIONAL_STEMMERS[language]):
        pytest.skip(f"{OPTIONAL_STEMMERS[language]} is installed, so sumy's stemmer works")
    with pytest.raises(ValueError, match="requires"):
        Stemmer(language_name(language))("Wybory")  # sumy builds it, then fails on the first word
    assert stemmer_for(language) is lowercase_only
    assert stem("Wyborów", language) == "wyborów" and stem("ΕΚΛΟΓΈΣ", language) == "εκλογές"


def test_a_failing_stemmer_is_replaced_once_and_said_once_for_every_step(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, fresh_stemmers: None) -> None:
    """One patch point: a stemmer that fails is replaced for tags, summaries and fingerprints alike."""
    monkeypatch.setitem(Stemmer.SPECIAL_STEMMERS, "slovak", _fails)
    with caplog.at_level(logging.INFO, logger="tasks.text.language"):
        assert match_terms("Voľby v Bratislave sa konali v sobotu", "sk") == [
            "voľby", "v", "bratislave", "sa", "konali", "v", "sobotu"]
        assert stem("Voľby", "slovak") == "voľby" and stemmer_for("sk-SK") is lowercase_only
        terms = fingerprint.story_terms("Voľby v Bratislave sa konali v sobotu. Voľby vyhrala opozícia.",
                                        language="sk")
    assert "voľby" in terms and "bratislave" in terms
    said = [r for r in caplog.records if "slovak" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.INFO
    assert stemmer_for("cs") is not lowercase_only, "Czech shares the stemmer but was not patched"


def test_unreadable_stop_words_mean_none_for_every_step(monkeypatch: pytest.MonkeyPatch,
                                                        fresh_stemmers: None) -> None:
    def broken(language: str) -> frozenset[str]:
        raise OSError("unreadable stop-word file")

    monkeypatch.setattr(sumy.utils, "get_stop_words", broken)
    assert stop_words("pl") == frozenset()
    assert "wybory" in fingerprint.story_terms("Wybory odbyły się w niedzielę. Wybory wygrała opozycja.", language="pl")
    # with no stop list, fingerprints still drop the words every news report uses
    assert "said" not in fingerprint.story_terms("The minister said the vote was fair. Critics said otherwise.")
