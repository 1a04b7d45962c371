"""Tests for article and story summaries: every algorithm, redundancy, non-sentences and the batch step."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import SUMMARY_ALGORITHMS, SummarySettings
from tasks.models import Article, CleanedArticle, RawDocument
from tasks.summarise import summarise, summarise_articles, summarise_story
from tasks.tokenize import split_sentences, stem, words

SEEDS = sorted((Path(__file__).resolve().parent.parent / "seeds").glob("*.txt"))

REPORT = """HARBOURTON

The regional government announced on Monday a plan to rebuild the flooded river port of Harbourton.
The plan sets aside 40 million for new flood walls, pumping stations and repairs to the harbour.
Officials said work on the flood walls would begin in the spring and take two years.

Local business owners welcomed the plan but said the money came too late for many shops.
Several shops on the harbour front have closed since the flood, owners said.
The port handles grain and timber shipments for farms across the region.

Engineers warned that the river could flood again if the walls were not finished before winter.
The opposition said the government had ignored earlier warnings about the state of the harbour defences.
A public meeting on the plan will be held in the town hall next week."""

REPEATED = """The health ministry confirmed on Friday that the new hospital in Westbury will open in March next year.
The health ministry confirmed on Friday that the new hospital in Westbury would open in March next year.
The building has 300 beds, four operating theatres and a maternity unit.
Staff recruitment began last autumn and about two thirds of the posts have been filled.
Local doctors said the hospital would cut waiting times for patients across the county.
The old infirmary on the high street will be turned into a clinic for outpatients.
Bus routes to the new site will be added before the opening, the council said."""

CLUTTERED = """By Jane Doe and John Roe
(Photo: Reuters) Workers repair the damaged bridge near the town centre on Monday.
Click here to subscribe to our newsletter for daily updates on the story.
The old bridge over the Tamsin river will be closed for six months while engineers repair storm damage.
Drivers will be diverted through the northern ring road, adding about twenty minutes to journeys.
The council said a temporary footbridge for pedestrians would open within three weeks.
Shop owners on both banks fear that the closure will keep customers away during the summer.
Let us know what you think in the comments below, and share your story with our reporters.
Read more: Storm damage across the region in pictures"""

STORY_A = """Flooding forced hundreds of people from their homes in the river valley on Sunday night.
Emergency crews rescued twelve people from cars trapped by rising water near the old mill.
The regional government declared a state of emergency for three districts on Monday morning.
Forecasters expect more heavy rain in the valley on Wednesday."""

STORY_B = """The regional government declared a state of emergency for three districts on Monday morning.
Schools in the affected districts will stay closed until at least Thursday, officials said.
Insurers said claims from the flooding could reach several million.
Volunteers filled sandbags outside the town hall throughout the day."""


def _normalised(text: str) -> str:
    return " ".join(text.split())


def _jaccard(a: str, b: str) -> float:
    sa, sb = {stem(w) for w in words(a)}, {stem(w) for w in words(b)}
    return len(sa & sb) / len(sa | sb)


def _assert_in_order(summary: list[str], text: str) -> None:
    """Each summary item is a whole sentence of the text, and they come in the text's order."""
    sentences = split_sentences(text)
    positions = [sentences.index(s) for s in summary]  # ValueError if not a sentence of the text
    assert positions == sorted(positions) and len(set(positions)) == len(positions)


@pytest.mark.parametrize("algorithm", SUMMARY_ALGORITHMS)
def test_every_algorithm_returns_sentences_of_the_text_in_order(algorithm: str) -> None:
    summary = summarise(REPORT, 3, algorithm)
    assert 1 <= len(summary) <= 3
    _assert_in_order(summary, REPORT)
    assert "HARBOURTON" not in summary, "a dateline is not a summary sentence"


@pytest.mark.parametrize("algorithm", SUMMARY_ALGORITHMS)
@pytest.mark.parametrize("seed", SEEDS, ids=lambda p: p.name)
def test_every_algorithm_on_the_seed_reports(algorithm: str, seed: Path) -> None:
    text = seed.read_text(encoding="utf-8")
    summary = summarise(text, 3, algorithm)
    assert 1 <= len(summary) <= 3
    assert all(s and s in _normalised(text) for s in summary)
    _assert_in_order(summary, text)


@pytest.mark.parametrize("algorithm", SUMMARY_ALGORITHMS)
def test_short_and_empty_texts(algorithm: str) -> None:
    short = "The bridge reopened on Monday. Traffic returned to normal by the evening."
    assert summarise(short, 3, algorithm) == split_sentences(short)
    assert summarise(short, 2, algorithm) == split_sentences(short)
    assert summarise("", 3, algorithm) == [] and summarise("  \n\n ", 3, algorithm) == []
    assert summarise(REPORT, 0, algorithm) == []


def test_lead_takes_the_first_sentences_after_the_dateline() -> None:
    assert summarise(REPORT, 2, "lead") == split_sentences(REPORT)[1:3]


def test_unknown_algorithm_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown summary algorithm"):
        summarise(REPORT, 3, "magic")


def test_centrality_keeps_one_of_two_near_identical_sentences() -> None:
    first, second = split_sentences(REPEATED)[:2]
    assert _jaccard(first, second) >= 0.5
    summary = summarise(REPEATED, 3, "centrality")
    assert len(summary) == 3
    assert (first in summary) + (second in summary) == 1
    _assert_in_order(summary, REPEATED)


def test_centrality_skips_bylines_captions_links_and_calls_to_readers() -> None:
    summary = summarise(CLUTTERED, 3, "centrality")
    assert len(summary) == 3
    assert not any(s.startswith(("By ", "(Photo", "Click here", "Let us know", "Read more")) for s in summary)
    assert summary[0].startswith("The old bridge over the Tamsin river")


def test_story_summary_has_no_repeats_and_follows_article_order() -> None:
    summary = summarise_story([STORY_A, STORY_B], 4)
    assert 1 <= len(summary) <= 4
    shared = "The regional government declared a state of emergency for three districts on Monday morning."
    assert summary.count(shared) <= 1
    for i, a in enumerate(summary):
        for b in summary[i + 1:]:
            assert _jaccard(a, b) < 0.5, (a, b)
    sentences_a, sentences_b = split_sentences(STORY_A), split_sentences(STORY_B)
    order = [(0, sentences_a.index(s)) if s in sentences_a else (1, sentences_b.index(s)) for s in summary]
    assert order == sorted(order)
    assert any(o[0] == 1 for o in order), "the second report contributes its own news"


def test_story_summary_of_the_seed_reports() -> None:
    texts = [p.read_text(encoding="utf-8") for p in SEEDS]
    summary = summarise_story(texts, 4)
    assert 1 <= len(summary) <= 4
    assert all(any(s in _normalised(t) for t in texts) for s in summary)
    assert summarise_story([], 4) == [] and summarise_story(["", ""], 4) == []


def _article(text: str, language: str | None) -> Article:
    doc = RawDocument(source="test", locator="mem://a", content_hash="h", raw=text.encode(), media_type="text/plain")
    return Article(article_id="a1", doc=doc, cleaned=CleanedArticle(title=None, text=text, language=language))


@pytest.mark.parametrize("algorithm", ["textrank", "centrality", "lead"])
def test_summarise_articles_fills_each_summary(algorithm: str) -> None:
    articles = [_article(REPORT, "en"), _article(REPEATED, None), _article(REPORT, "xx")]
    summarise_articles(articles, SummarySettings(algorithm=algorithm, sentences=2))
    for article in articles:
        assert 1 <= len(article.summary) <= 2
        _assert_in_order(article.summary, article.cleaned.text)
    assert articles[0].summary == articles[2].summary, "an unknown language falls back to English"
