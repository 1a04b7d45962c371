"""Tests for the shared tokenizer: sentences, paragraphs, words, stems, stop words and sumy use."""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Iterator

import nltk
import pytest
import sumy.utils
from sumy.nlp.stemmers import Stemmer
from sumy.nlp.tokenizers import Tokenizer
from sumy.parsers.plaintext import PlaintextParser
from sumy.summarizers.kl import KLSummarizer
from sumy.summarizers.lex_rank import LexRankSummarizer
from sumy.summarizers.lsa import LsaSummarizer
from sumy.summarizers.luhn import LuhnSummarizer
from sumy.summarizers.sum_basic import SumBasicSummarizer
from sumy.summarizers.text_rank import TextRankSummarizer

from tasks import s3_fingerprint as fingerprint
from tasks.text.sentences import (ISO_LANGUAGES, NewsTokenizer, language_name, lowercase_only, match_terms, match_words,
                            split_paragraphs, split_sentences, stem, stemmer_for, stop_words, sumy_stemmer, words)

PROSE = (
    "The city council approved a new budget on Tuesday after weeks of debate.\n"
    "Council members voted nine to four in favour of the plan, which raises spending on parks.\n\n"
    "The mayor said the budget would protect services. Critics said it relied on optimistic forecasts.\n\n"
    "Residents will see the first changes in the spring, officials said."
)


@pytest.fixture()
def no_nltk_data(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """Point NLTK at an empty folder so that any use of its data files fails."""
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path)])


def test_abbreviations_do_not_end_sentences() -> None:
    assert split_sentences("Mr. Smith went to Washington. He arrived at 5 p.m. on Monday.") == [
        "Mr. Smith went to Washington.", "He arrived at 5 p.m. on Monday."]


def test_paragraphs_are_never_joined() -> None:
    text = "A heading without a full stop\n\nthe next paragraph starts in lower case\n\nAnd a third one."
    assert split_sentences(text) == [
        "A heading without a full stop", "the next paragraph starts in lower case", "And a third one."]
    assert len(split_paragraphs(text)) == 3


def test_one_line_paragraphs_stay_apart_and_wrapped_lines_are_joined() -> None:
    lines = "WASHINGTON, United States\nThe talks ended late on Monday.\nArticle Five\nBoth sides said more talks would follow."
    assert split_sentences(lines) == [
        "WASHINGTON, United States", "The talks ended late on Monday.", "Article Five",
        "Both sides said more talks would follow."]
    wrapped = ("The United States has said it is ready to offer new guarantees to keep\n"
               "an eventual ceasefire in place, following long talks in Berlin with\n"
               "officials from several European countries. A second sentence follows.")
    assert split_sentences(wrapped) == [
        "The United States has said it is ready to offer new guarantees to keep an eventual ceasefire in place, "
        "following long talks in Berlin with officials from several European countries.",
        "A second sentence follows."]


def test_sentences_are_whitespace_normalised_substrings() -> None:
    sentences = split_sentences(PROSE)
    assert len(sentences) == 5
    flat = " ".join(PROSE.split())
    assert all(s in flat for s in sentences)
    assert split_sentences("") == [] and split_sentences(" \n\n \n") == []


def test_words_keep_inner_punctuation() -> None:
    assert words("Nato's Russia-Ukraine deal cost $5.5 billion, the U.S. said.") == [
        "Nato's", "Russia-Ukraine", "deal", "cost", "5.5", "billion", "the", "U.S.", "said"]


def test_match_words_drop_possessives_and_split_hyphens() -> None:
    assert match_words("Nato's Russia-Ukraine deal, the players’ union and O'Neill") == [
        "nato", "russia", "ukraine", "deal", "the", "players", "union", "and", "o'neill"]
    assert match_terms("Elections in the armed-forces") == ["elect", "in", "the", "arm", "forc"]
    assert match_terms("") == []


def test_stem_and_stop_words() -> None:
    assert stem("Elections") == stem("election") == "elect"
    assert stem("guarantees", "en") == stem("guarantee")
    assert stem("Häuser", "de") != "häuser"  # German stemmer, not English
    assert "the" in stop_words("english") and "und" in stop_words("de")
    assert stop_words("klingon") == stop_words("english")


def test_language_names() -> None:
    assert language_name("en") == "english" and language_name("de-AT") == "german"
    assert language_name("French") == "french" and language_name(None) == "english"
    assert language_name("xx") == "english"


def test_sumy_needs_nltk_data_but_news_tokenizer_does_not(no_nltk_data: None) -> None:
    with pytest.raises(LookupError):
        Tokenizer("english")
    tokenizer = NewsTokenizer("en")
    assert tokenizer.language == "english"
    assert tokenizer.to_sentences("Dr. Jones left at 3 p.m. on Friday. She returned.") == (
        "Dr. Jones left at 3 p.m. on Friday.", "She returned.")
    assert tokenizer.to_words("Officials said 90 percent of the plan was agreed.") == (
        "Officials", "said", "percent", "of", "the", "plan", "was", "agreed")


@pytest.mark.parametrize("summarizer_class", [
    TextRankSummarizer, LexRankSummarizer, LsaSummarizer, LuhnSummarizer, KLSummarizer, SumBasicSummarizer])
def test_sumy_summarizers_run_with_news_tokenizer(no_nltk_data: None, summarizer_class: type) -> None:
    document = PlaintextParser.from_string(PROSE, NewsTokenizer("english")).document
    summarizer = summarizer_class(lambda w: stem(w))
    summarizer.stop_words = stop_words("english")
    picked = [str(s) for s in summarizer(document, 2)]
    assert 1 <= len(picked) <= 2
    assert all(s in split_sentences(PROSE) for s in picked)


# --- choosing the stemmer: sumy's when it works here, lowercasing when it needs a missing package ----

# sumy languages whose stemmer imports an optional package on the first word stemmed
OPTIONAL_STEMMERS = {"pl": "pystempel", "el": "greek_stemmer"}


def _clear_stemmer_caches() -> None:
    for cached in (sumy_stemmer, stemmer_for, stem, stop_words, fingerprint._term_lookup):
        cached.cache_clear()


@pytest.fixture()
def fresh_stemmers() -> Iterator[None]:
    """Empty every cache that holds a stemmer or stop list, before and after the test."""
    _clear_stemmer_caches()
    yield
    _clear_stemmer_caches()


def _fails(word: str) -> str:
    raise ValueError("this stemmer requires a package that is not installed")


def test_english_stemming_is_unchanged() -> None:
    assert stem("running") == stem("Running", "en") == "run"
    for language in ("en", "english", None, "", "xx", "klingon", "th"):  # unknown, or no sumy stemmer: English
        assert stemmer_for(language)("running") == "run", language
    assert stemmer_for("de")("häuser") == "haus" and stemmer_for("ru")("организации") == "организац"


def test_every_mapped_language_stems_without_raising() -> None:
    for code in ISO_LANGUAGES:
        assert isinstance(stemmer_for(code)("wybory"), str), code
        assert stem("Εκλογές", code) and stem("Wybory", code)


@pytest.mark.parametrize("language", OPTIONAL_STEMMERS)
def test_stemmer_missing_its_package_falls_back_to_lowercasing(language: str) -> None:
    if importlib.util.find_spec(OPTIONAL_STEMMERS[language]):
        pytest.skip(f"{OPTIONAL_STEMMERS[language]} is installed, so sumy's stemmer works")
    with pytest.raises(ValueError, match="requires"):
        Stemmer(language_name(language))("Wybory")  # sumy builds it, then fails on the first word
    assert stemmer_for(language) is lowercase_only
    assert stem("Wyborów", language) == "wyborów" and stem("ΕΚΛΟΓΈΣ", language) == "εκλογές"


def test_a_failing_stemmer_is_replaced_once_and_said_once(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, fresh_stemmers: None) -> None:
    monkeypatch.setitem(Stemmer.SPECIAL_STEMMERS, "slovak", _fails)
    with caplog.at_level(logging.INFO, logger="tasks.text.sentences"):
        assert match_terms("Voľby v Bratislave sa konali v sobotu", "sk") == [
            "voľby", "v", "bratislave", "sa", "konali", "v", "sobotu"]
        assert stem("Voľby", "slovak") == "voľby" and stemmer_for("sk-SK") is lowercase_only
    said = [r for r in caplog.records if "slovak" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.INFO
    assert stemmer_for("cs") is not lowercase_only, "Czech shares the stemmer but was not patched"


def test_story_terms_survive_a_failing_stemmer(monkeypatch: pytest.MonkeyPatch, fresh_stemmers: None) -> None:
    monkeypatch.setitem(Stemmer.SPECIAL_STEMMERS, "slovak", _fails)
    terms = fingerprint.story_terms("Voľby v Bratislave sa konali v sobotu. Voľby vyhrala opozícia.", language="sk")
    assert "voľby" in terms and "bratislave" in terms


def test_story_terms_keep_their_stemming() -> None:
    text = "Elections were held on Sunday. The elections decided the governing coalition."
    assert "elect" in fingerprint.story_terms(text, language="en")
    assert "elect" in fingerprint.story_terms(text, language=None)
    assert "elections" in fingerprint.story_terms(text, language="xx"), "no sumy stemmer: words as they are"
    assert "elections" in fingerprint.story_terms(text, language="th")


def test_failing_stop_words_fall_back_to_none(monkeypatch: pytest.MonkeyPatch, fresh_stemmers: None) -> None:
    assert "nie" in stop_words("pl") and "και" in stop_words("el")
    assert stop_words("ru") == stop_words("english"), "no Russian list: English, as before"

    def broken(language: str) -> frozenset[str]:
        raise OSError("unreadable stop-word file")

    monkeypatch.setattr(sumy.utils, "get_stop_words", broken)
    monkeypatch.setattr(fingerprint, "get_stop_words", broken)
    _clear_stemmer_caches()
    assert stop_words("pl") == frozenset()
    assert "wybory" in fingerprint.story_terms("Wybory odbyły się w niedzielę. Wybory wygrała opozycja.", language="pl")
