"""Tests for article and story summaries: every algorithm, redundancy, non-sentences and the batch step."""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from config.settings import SUMMARY_ALGORITHMS, DedupSettings, SummarySettings
from tasks import s3_fingerprint as fingerprint
from tasks import s4_dedup as dedup
from tasks.records import Article, CleanedArticle, RawDocument
from tasks.s5_summarise import (CentralityOptions, _mmr, _overlap_matrix, _pagerank, news_candidates, summarise,
                                summarise_articles, summarise_centrality, summarise_news, summarise_story)
from tasks.sentence_scorer import FEATURES, SentenceScorer, default_scorer, scorer_from_json
from tasks.text.sentences import split_sentences, words
from tasks.text.language import stem

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


# A news report whose lede says what happened; later sentences repeat its key words more often, so a
# centrality ranking (and TextRank) prefer them over the lede.
NEWS_REPORT = """Flood defences on the river Wend failed on Sunday night, forcing 400 people from their homes in Carrow.
Water from the river reached the market square within an hour, the fire service said.
"The water came so fast we had no time to save anything," said Anna Lind, who runs a bakery on the square.
River levels on the Wend had been rising for three days after heavy rain across the hills.
The river authority said the river defences at Carrow had been checked in the spring.
Engineers from the river authority will inspect the river defences on Monday.
The river authority said the river would stay high until Wednesday.
Residents have been offered beds in the sports hall and two hotels."""

DAILYMAIL_STYLE = """By . Daily Mail Reporter . PUBLISHED: . 14:11 EST, 25 October 2013 . | . UPDATED: . 15:36 EST, 25 October 2013 .
A council has closed the Harlow lido after tests found bacteria in the water, a week before it was due to reopen.
The lido, which drew 40,000 swimmers last summer, will stay shut until the water passes two more tests.
Scroll down for video .
Closed: The Harlow lido (pictured) in happier times last summer .
Council leader Mark Ives said the closure was a precaution and that no swimmer had fallen ill.
The lido's filters were replaced in the spring at a cost of 120,000 pounds.
Swimmers said they were disappointed, and some called for the council to publish the test results."""


def test_news_summary_picks_the_lead_on_a_news_shaped_text() -> None:
    lede = split_sentences(NEWS_REPORT)[0]
    assert lede not in summarise(NEWS_REPORT, 3, "textrank"), "the case must be one centrality gets wrong"
    summary = summarise(NEWS_REPORT, 3, "news")
    assert summary[0] == lede and len(summary) == 3
    _assert_in_order(summary, NEWS_REPORT)


def test_news_summary_leaves_out_bylines_timestamps_and_captions() -> None:
    summary = summarise(DAILYMAIL_STYLE, 3, "news")
    assert summary[0].startswith("A council has closed the Harlow lido")
    assert not any(("PUBLISHED" in s or "Scroll down" in s or "(pictured)" in s or s.startswith("By")) for s in summary)


def test_news_summary_works_with_and_without_a_title() -> None:
    untitled = summarise(NEWS_REPORT, 3, "news")
    titled = summarise(NEWS_REPORT, 3, "news", title="Hundreds flee as river Wend floods Carrow")
    assert len(untitled) == len(titled) == 3
    _assert_in_order(titled, NEWS_REPORT)


def test_the_budget_chooses_the_sentence_model() -> None:
    scorer = default_scorer()
    sentences, features = news_candidates(REPORT)
    assert features.shape == (len(sentences), len(FEATURES))
    short, long = scorer.probabilities(features, 1), scorer.probabilities(features, len(sentences))
    assert np.allclose(short, scorer.short.probabilities(features))
    assert np.allclose(long, scorer.long.probabilities(features))
    assert not np.allclose(short, long)
    assert scorer.probabilities(features[:0], 3).shape == (0,)


def test_sentence_model_file_round_trips_and_is_checked() -> None:
    scorer = default_scorer()
    again = scorer_from_json(scorer.to_json({"note": "test"}))
    _, features = news_candidates(REPORT)
    assert np.allclose(again.probabilities(features, 3), scorer.probabilities(features, 3), atol=1e-5)
    data = json.loads(scorer.to_json({}))
    del data["models"]["short"]["features"]["centrality"]
    with pytest.raises(ValueError, match="centrality"):
        scorer_from_json(json.dumps(data))


def test_another_sentence_model_changes_the_pick() -> None:
    scorer = default_scorer()
    # a model that only likes late sentences
    late = dataclasses.replace(scorer.short, weights=np.where(np.array(FEATURES) == "relative_position", 5.0, 0.0))
    picked = summarise_news(NEWS_REPORT, 2, SentenceScorer(late, late))
    assert picked == split_sentences(NEWS_REPORT)[-2:]


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


SCROLL_PROMPT = """Everton are still looking to add two new players to their squad before the transfer window closes on Monday.
The midfielder Tom Cleverley of Manchester United is among the options for manager Roberto Martinez.
VIDEO Scroll down to watch Roberto Martinez: Everton need to sign a few more players.
Martinez said the club had made offers for two players and hoped to complete both deals this week."""


def test_a_scroll_down_prompt_is_never_summary() -> None:
    """A page's 'Scroll down for video' prompt is a call to readers, not the story."""
    summary = summarise(SCROLL_PROMPT, 3, "news")
    assert len(summary) == 3 and not any("Scroll down" in s for s in summary)


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
    assert order[1:] == sorted(order[1:]), "after the opening sentence, article then position order"
    assert any(o[0] == 1 for o in order), "the second report contributes its own news"


def test_story_summary_of_the_seed_reports_opens_with_the_security_guarantee_offer() -> None:
    texts = [p.read_text(encoding="utf-8") for p in SEEDS]
    summary = summarise_story(texts, 4, titles=[None, "US offers 'NATO-like' security to Ukraine"])
    assert 1 <= len(summary) <= 4
    assert all(any(s in _normalised(t) for t in texts) for s in summary)
    assert summary[0] == split_sentences(texts[0])[1], "the earliest report's lede (after its dateline) leads"
    assert "offer Ukraine Nato-like security guarantees" in summary[0]
    assert summarise_story([], 4) == [] and summarise_story(["", ""], 4) == []


def test_a_clearly_better_sentence_may_open_a_story_summary() -> None:
    # the sentence both reports carry outscores the first report's lede by more than the margin
    shared = split_sentences(STORY_B)[0]
    assert summarise_story([STORY_A, STORY_B], 3)[0] == shared
    strict = dataclasses.replace(default_scorer(), lede_margin=1.0)
    assert summarise_story([STORY_A, STORY_B], 3, scorer=strict)[0] == split_sentences(STORY_A)[0]


def _article(text: str, language: str | None) -> Article:
    doc = RawDocument(source="test", locator="mem://a", content_hash="h", raw=text.encode(), media_type="text/plain")
    return Article(article_id="a1", doc=doc, cleaned=CleanedArticle(title=None, text=text, language=language))


@pytest.mark.parametrize("algorithm", ["textrank", "centrality", "lead"])
def test_summarise_articles_fills_each_summary(algorithm: str) -> None:
    articles = [_article(REPORT, "en"), _article(REPEATED, None), _article(REPORT, None), _article(REPORT, "xx")]
    summarise_articles(articles, SummarySettings(algorithm=algorithm, sentences=2))
    for article in articles:
        assert 1 <= len(article.summary) <= 2
        _assert_in_order(article.summary, article.cleaned.text)
    assert articles[0].summary == articles[2].summary, "an undetected language is read as English"


# --- the centrality summariser's parts: position prior, lede, MMR and the similarity graph ------

OFF_LEDE = """A fire broke out at the Norwood paper mill early on Tuesday, firefighters said.
The council budget for next year raises spending on roads, schools and libraries.
Council members said the budget for roads and schools was the largest in a decade.
The budget also raises spending on libraries and parks, council members said.
Critics on the council said the budget for schools and roads relied on higher taxes.
The council will vote on the budget for roads, schools and libraries next week."""


def test_lede_opens_the_summary_even_when_it_is_not_central() -> None:
    lede = split_sentences(OFF_LEDE)[0]
    assert summarise(OFF_LEDE, 2, "centrality")[0] == lede
    assert summarise_centrality(OFF_LEDE, 2, CentralityOptions())[0] == lede
    no_position = CentralityOptions(lede_first=False, position_prior=False)
    assert lede not in summarise_centrality(OFF_LEDE, 2, no_position)


def test_position_prior_favours_early_sentences_in_the_graph() -> None:
    similarity = np.ones((4, 4)) - np.eye(4)  # every sentence as central as the others
    uniform = _pagerank(similarity, np.ones(4))
    assert np.allclose(uniform, uniform[0])
    biased = _pagerank(similarity, 1 / np.sqrt(1 + np.arange(4)))
    assert all(a > b for a, b in zip(biased, biased[1:]))
    assert biased.sum() == pytest.approx(1.0)


def test_mmr_trades_relevance_for_novelty() -> None:
    score = np.array([1.0, 0.9, 0.6])
    similarity = np.array([[0.0, 0.65, 0.0], [0.65, 0.0, 0.0], [0.0, 0.0, 0.0]])  # 0 and 1 overlap
    word_sets = [frozenset({"a", "b"}), frozenset({"c", "d"}), frozenset({"e", "f"})]
    assert _mmr(score, similarity, word_sets, 2, mmr_lambda=1.0) == [0, 1]
    assert _mmr(score, similarity, word_sets, 2, mmr_lambda=0.5) == [0, 2]
    assert _mmr(score, similarity, word_sets, 2, mmr_lambda=1.0, first=2) == [2, 0]
    near_repeat = np.array([[0.0, 0.9, 0.0], [0.9, 0.0, 0.0], [0.0, 0.0, 0.0]])
    assert _mmr(score, near_repeat, word_sets, 3, mmr_lambda=1.0) == [0, 2], "a near-repeat is never picked"


def test_overlap_graph_counts_shared_stems_over_log_sizes() -> None:
    counts = np.array([[1, 1, 0, 0], [1, 1, 1, 1], [0, 0, 1, 2]], dtype=float)
    similarity = _overlap_matrix(counts)
    assert np.allclose(similarity, similarity.T) and not similarity.diagonal().any()
    assert similarity[0, 1] == pytest.approx(2 / (np.log(2) + np.log(4)))
    assert similarity[0, 2] == 0.0
    assert _overlap_matrix(np.array([[1.0], [1.0]]))[0, 1] == 0.0, "one-word sentences have no log size"


def test_centrality_options_are_checked() -> None:
    with pytest.raises(ValueError, match="similarity"):
        CentralityOptions(similarity="jaccard")
    with pytest.raises(ValueError, match="mmr_lambda"):
        CentralityOptions(mmr_lambda=1.5)
    cosine = summarise_centrality(REPORT, 3, CentralityOptions(similarity="cosine", mmr_lambda=1.0))
    assert 1 <= len(cosine) <= 3
    _assert_in_order(cosine, REPORT)


BAN_REPORTS = ("""The marathon runner Lena Kiprop was banned on Monday.
She was suspended from all competition until the end of the year by Athletics Kenya after failing to report to a national training camp in Embu.
The federation said the decision was final.
Kiprop finished second in the London Marathon in 2002 and 2003.""", """Organisers in London still hope to see Lena Kiprop in the race in April.
They said Athletics Kenya had suspended her from all competition until the end of the year after she failed to report to a national training camp in Embu.
Kiprop finished third in a 10K race in Puerto Rico last Sunday.""", """Kenya lifted its ban on Lena Kiprop after she apologised.
Athletics Kenya had suspended Kiprop from all competition until the end of the year after she failed to report to a national training camp in Embu.
Coaches will now decide whether she runs at the world cross country championships.""")


def test_story_summary_opens_with_a_lede_not_a_sentence_from_further_down() -> None:
    """The sentence all three reports share scores highest, but read first it leans on what came before
    it in its report; a story summary opens with a report's lede."""
    summary = summarise_story(list(BAN_REPORTS), 4)
    assert summary[0] in [split_sentences(t)[0] for t in BAN_REPORTS]


def test_story_summary_keeps_a_lede() -> None:
    strict = dataclasses.replace(default_scorer(), lede_margin=1.0)
    assert summarise_story([OFF_LEDE], 2, scorer=strict)[0] == split_sentences(OFF_LEDE)[0]
    summary = summarise_story([STORY_A, OFF_LEDE], 3)
    assert {split_sentences(STORY_A)[0], split_sentences(OFF_LEDE)[0]} & set(summary)


# --- languages whose sumy stemmer needs a package that may be missing (Polish, Greek) ----------

POLISH = """GDAŃSK

Rada Miasta Gdańska przyjęła w poniedziałek nowy plan ochrony przed powodzią.
Plan przewiduje budowę nowych wałów przeciwpowodziowych wzdłuż Motławy i Wisły.
Prace mają rozpocząć się wiosną i potrwać co najmniej dwa lata.

Mieszkańcy dzielnic zalanych w zeszłym roku przyjęli decyzję z ulgą, ale wielu uważa, że pieniądze przyszły za późno.
Właściciele sklepów w centrum miasta twierdzą, że powódź zniszczyła ich towar i wyposażenie.
Opozycja zarzuca władzom miasta, że zignorowały wcześniejsze ostrzeżenia hydrologów.

Hydrolodzy ostrzegają, że rzeka może ponownie wylać, jeśli wały nie zostaną ukończone przed zimą.
Publiczne spotkanie w sprawie planu odbędzie się w przyszłym tygodniu w ratuszu."""

GREEK = """ΘΕΣΣΑΛΟΝΙΚΗ

Η κυβέρνηση ανακοίνωσε τη Δευτέρα νέο σχέδιο για την ανοικοδόμηση του λιμανιού της Θεσσαλονίκης.
Το σχέδιο προβλέπει σαράντα εκατομμύρια ευρώ για νέα αντιπλημμυρικά έργα και αντλιοστάσια.
Οι εργασίες αναμένεται να ξεκινήσουν την άνοιξη και να διαρκέσουν δύο χρόνια.

Οι επαγγελματίες της περιοχής χαιρέτισαν το σχέδιο, αλλά είπαν ότι τα χρήματα έρχονται πολύ αργά.
Αρκετά καταστήματα στην παραλία έχουν κλείσει μετά τις πλημμύρες του περασμένου χειμώνα.
Η αντιπολίτευση κατηγορεί την κυβέρνηση ότι αγνόησε τις προειδοποιήσεις των ειδικών.

Οι μηχανικοί προειδοποιούν ότι το ποτάμι μπορεί να πλημμυρίσει ξανά αν τα έργα δεν ολοκληρωθούν πριν από τον χειμώνα.
Δημόσια συνάντηση για το σχέδιο θα γίνει την επόμενη εβδομάδα στο δημαρχείο."""

OPTIONAL_STEMMER_TEXTS = {"pl": POLISH, "el": GREEK}


def _copy_with_new_ending(text: str) -> str:
    """The same report with its last sentence reworded, as a second outlet might run it."""
    return text.rsplit("\n", 1)[0] + "\n" + split_sentences(text)[2]


@pytest.mark.parametrize("algorithm", SUMMARY_ALGORITHMS)
@pytest.mark.parametrize("language", OPTIONAL_STEMMER_TEXTS)
def test_every_algorithm_summarises_polish_and_greek(algorithm: str, language: str) -> None:
    text = OPTIONAL_STEMMER_TEXTS[language]
    summary = summarise(text, 3, algorithm, language)
    assert len(summary) == 3
    _assert_in_order(summary, text)
    assert split_sentences(text)[0] not in summary, "a dateline is not a summary sentence"


@pytest.mark.parametrize("algorithm", ["centrality", "textrank", "lexrank"])
def test_summarise_articles_in_polish_and_greek_needs_no_fallback(
        algorithm: str, caplog: pytest.LogCaptureFixture) -> None:
    articles = [_article(POLISH, "pl"), _article(GREEK, "el"), _article(POLISH, "pl-PL")]
    with caplog.at_level(logging.WARNING, logger="tasks.s5_summarise"):
        summarise_articles(articles, SummarySettings(algorithm=algorithm, sentences=3))
    assert not caplog.records, "the configured algorithm ran, not the lead fallback"
    for article in articles:
        assert len(article.summary) == 3
        _assert_in_order(article.summary, article.cleaned.text)
    assert articles[0].summary == articles[2].summary


@pytest.mark.parametrize("language", OPTIONAL_STEMMER_TEXTS)
def test_story_summary_in_polish_and_greek(language: str) -> None:
    text = OPTIONAL_STEMMER_TEXTS[language]
    summary = summarise_story([text, _copy_with_new_ending(text)], 4, language)
    assert 1 <= len(summary) <= 4
    assert len(set(summary)) == len(summary)
    assert all(s in split_sentences(text) for s in summary)


@pytest.mark.parametrize("language", OPTIONAL_STEMMER_TEXTS)
def test_dedup_prepares_and_matches_polish_and_greek(language: str) -> None:
    text = OPTIONAL_STEMMER_TEXTS[language]
    first, copy = _article(text, language), _article(_copy_with_new_ending(text), language)
    first.article_id, copy.article_id = "first", "copy"
    fingerprint.prepare([first, copy], DedupSettings())
    for article in (first, copy):
        assert article.word_count > 50 and article.text_hash and article.minhash
        assert article.story_terms and all(term == term.lower() for term in article.story_terms)
    assert first.text_hash != copy.text_hash
    dedup.assign([first, copy], [], DedupSettings(), datetime(2025, 12, 16, tzinfo=timezone.utc))
    assert copy.story_id == first.story_id and copy.duplicate_of == "first", "the reworded copy is a near-duplicate"


def test_a_story_of_one_short_report_is_summarised_in_its_own_order() -> None:
    # the closing line outscores the lede by more than the margin; with nothing to choose, the order stays
    report = ("The central bank kept its main interest rate unchanged on Thursday. Officials said inflation had "
              "eased for a third month. Markets had expected the decision. Several economists now expect the first "
              "cut in the spring.")
    units = split_sentences(report)
    assert summarise_story([report], 4) == units == summarise(report, 4, "news")
    assert summarise_story([report], 9) == units and summarise_story([report], 0) == []
