"""Tests for tasks.text.sentences: sentences, paragraphs, words, matching terms, and sumy on our tokenizer."""

from __future__ import annotations

import nltk
import pytest
from sumy.nlp.tokenizers import Tokenizer
from sumy.parsers.plaintext import PlaintextParser
from sumy.summarizers.kl import KLSummarizer
from sumy.summarizers.lex_rank import LexRankSummarizer
from sumy.summarizers.lsa import LsaSummarizer
from sumy.summarizers.luhn import LuhnSummarizer
from sumy.summarizers.sum_basic import SumBasicSummarizer
from sumy.summarizers.text_rank import TextRankSummarizer

from tasks.text.language import stem, stop_words
from tasks.text.normalise import to_paragraphs
from tasks.text.sentences import NewsTokenizer, match_terms, match_words, split_paragraphs, split_sentences, words

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


def test_plain_words_the_model_lists_as_abbreviations_still_end_sentences() -> None:
    # "month", "story", "car" and "south" are among the model's ~3,000 lowercase "abbreviations".
    text = ('It rained all month. Nobody cared. Read the full story. "It was awful," she said. '
            "She sold her car. Then she moved south. Police said so.")
    assert split_sentences(text) == [
        "It rained all month.", "Nobody cared.", "Read the full story.", '"It was awful," she said.',
        "She sold her car.", "Then she moved south.", "Police said so."]


def test_abbreviations_before_a_capital_stay_inside_the_sentence() -> None:
    text = "Chelsea v. Arsenal ended 2-1. Gen. Smith spoke to Sen. Jones, approx. Ten minutes after Capt. Li did."
    assert split_sentences(text) == [
        "Chelsea v. Arsenal ended 2-1.", "Gen. Smith spoke to Sen. Jones, approx. Ten minutes after Capt. Li did."]
    assert split_sentences("The U.S. Army and Acme Corp. Ltd. said so.") == ["The U.S. Army and Acme Corp. Ltd. said so."]


def test_a_german_date_or_century_does_not_end_a_sentence_at_its_ordinal() -> None:
    # The Punkt model took "8." before a capital for a sentence end: a summary opened "März 2014 trinken ...".
    text = ("Am 8. März 2014 trinken die beiden einen Cider. Tobisch wurde am 28. März 1926 in Wien geboren. "
            "Die Tagung findet am 26. und 27. Februar statt. Im 19. Jahrhundert war das anders.")
    assert split_sentences(text) == [
        "Am 8. März 2014 trinken die beiden einen Cider.", "Tobisch wurde am 28. März 1926 in Wien geboren.",
        "Die Tagung findet am 26. und 27. Februar statt.", "Im 19. Jahrhundert war das anders."]
    assert split_sentences("The vote was 52 to 48. March comes next.") == ["The vote was 52 to 48.", "March comes next."]


def test_an_english_sentence_ending_in_a_small_number_before_a_month_still_ends() -> None:
    # April, August, September and November are German months too; a number before them is no German date
    assert split_sentences("Sales fell in quarter 3. April was the worst month.") == [
        "Sales fell in quarter 3.", "April was the worst month."]
    assert split_sentences("The bill passed by a margin of 12. August brings the next vote.") == [
        "The bill passed by a margin of 12.", "August brings the next vote."]
    assert split_sentences("Am 8. April 2014 trinken sie. Montag, 3. August 2020 war ein Tag. Vom 3. bis 5. November tagt er.") == [
        "Am 8. April 2014 trinken sie.", "Montag, 3. August 2020 war ein Tag.", "Vom 3. bis 5. November tagt er."]


@pytest.mark.parametrize("sentence", [
    "Die Wahl (am 8. April) war knapp, sagte der Sprecher.",
    "Die Gespr\u00e4che, die \u201eam 8. April\u201c begannen, dauern an.",
    "Stand: 1. April 2024.",
    "Geboren 3. August 1950 in Bonn, starb er 2001 in Berlin.",
])
def test_a_german_date_in_brackets_after_a_label_or_with_its_year_is_one_sentence(sentence: str) -> None:
    # 'am' after an opening bracket or quote is still the German word of dates; a label's colon is as a comma's
    assert split_sentences(f"{sentence} Danach kam es zum Streit.")[0].startswith(sentence)


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


def test_narrow_column_wrapping_is_joined_as_the_cleaner_joins_it() -> None:
    """One rule for wrapped lines: text set in a narrow column (the cleaner joins it) is not cut at every
    line end (the splitter's own rule wanted lines averaging 50 characters and cut these)."""
    column = ("The harbour wall will be rebuilt before\n"
              "winter, the council said on Monday, after\n"
              "storms damaged the old stones twice this\n"
              "year. Work starts next week.")
    assert split_sentences(column) == [
        "The harbour wall will be rebuilt before winter, the council said on Monday, after storms damaged the "
        "old stones twice this year.", "Work starts next week."]
    assert split_sentences(column) == split_sentences("\n\n".join(to_paragraphs(column)))


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
    assert match_terms("Elections in the armed-forces") == ["election", "in", "the", "arm", "force"]
    assert match_terms("") == []


def test_english_keywords_match_inflections_not_the_words_made_from_them() -> None:
    # inflected forms share a form ...
    assert match_terms("elections died struck children") == match_terms("election dies strike child")
    # also where the dictionary takes the plural only to the singular ("shootings" -> "shooting" -> "shoot")
    assert match_terms("shootings defences bombings") == match_terms("shooting defence bombing")
    # ... words made from another (which a stemmer merges) do not
    for made, base in [("inflatable", "inflation"), ("customers", "customs"), ("aides", "aid"),
                       ("officer", "office"), ("majority", "major")]:
        assert match_terms(made) != match_terms(base), made
    # a dictionary form that does not begin as the word is not taken ("us" is not "we", "ai" not "be")
    assert match_terms("us ai was") == ["us", "ai", "was"]


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
