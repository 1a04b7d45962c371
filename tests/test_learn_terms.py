"""Tests for learning an issue's weighted terms from example articles (log-odds with a Dirichlet prior)."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from tasks.learn_terms import (TermCounts, count_terms, document_terms, learn_terms, rank_terms, score_terms,
                               term_weights)

SPORT = [
    "The goalkeeper saved a penalty shootout kick as the club reached the final on Saturday.",
    "A late goal from the striker gave the club victory; the goalkeeper kept a clean sheet.",
    "The goalkeeper was injured before the penalty shootout, and the club coach made changes.",
    "Fans cheered the goalkeepers of both sides after the penalty shootout at the stadium.",
    "The club signed a new goalkeeper, and the council approved plans for a bigger stadium.",
    "After the match the striker thanked the fans of the club and the town council.",
]
ECONOMY = [
    "The central bank raised interest rates as inflation rose faster than economists expected.",
    "Shares fell after the bank warned that interest rates would stay high, the council said.",
    "Economists said inflation and interest rates weighed on households and the town council.",
    "The bank's profits rose as interest rates climbed; economists expect a slowdown next year.",
    "Inflation eased in March, and the council said the bank would hold interest rates.",
    "A sports club reported a loss as inflation pushed up costs and the bank cut lending.",
]


def test_word_frequent_in_target_and_rare_in_background_weighs_most() -> None:
    learned = learn_terms(SPORT, ECONOMY)
    assert "goalkeeper" in learned and "club" in learned
    assert learned["goalkeeper"] > 0
    # "council" is as common in both sets, so it is no evidence for either
    assert "council" not in learned
    # the other way round, the economy terms come out and the sport ones do not
    economy = learn_terms(ECONOMY, SPORT)
    assert "interest rates" in economy and "inflation" in economy
    assert "goalkeeper" not in economy and "club" not in economy


def test_weight_grows_with_how_one_sided_a_term_is() -> None:
    target = ["alpha beta gamma"] * 10
    background = ["alpha delta epsilon"] * 9 + ["alpha beta epsilon"] * 1
    scores = rank_terms(count_terms(target), count_terms(background).documents, top_n=10, min_z=-10.0)
    by_term = {s.term: s for s in scores}
    # gamma: only in the target; beta: once in the background; alpha: in every document of both
    assert by_term["gamma"].z > by_term["beta"].z > by_term["alpha"].z
    assert by_term["gamma"].delta > by_term["beta"].delta > 0 >= round(by_term["alpha"].delta, 9)
    assert [s.z for s in scores] == sorted((s.z for s in scores), reverse=True)
    assert "alpha" not in learn_terms(target, background), "only terms with a positive z-score are kept"


def test_score_terms_follows_the_log_odds_formula() -> None:
    target, background = Counter({"a": 6, "b": 2}), Counter({"a": 2, "b": 6})
    scores = score_terms(target, background, prior_strength=0.5)
    # pooled counts a=8, b=8 of 16; prior total 8, so alpha_a = alpha_b = 4
    delta = math.log((6 + 4) / (8 + 8 - 6 - 4)) - math.log((2 + 4) / (8 + 8 - 2 - 4))
    z = delta / math.sqrt(1 / (6 + 4) + 1 / (2 + 4))
    assert scores["a"] == pytest.approx((delta, z))
    assert scores["b"][0] == pytest.approx(-delta)


def test_terms_are_stemmed_unigrams_and_bigrams_without_stop_word_edges() -> None:
    terms = document_terms("The goalkeepers' penalty-shootout heroics of the club")
    assert terms["goalkeep"] == "goalkeepers"
    assert terms["penalti shootout"] == "penalty shootout"
    assert not any(part in ("the", "of") for key in terms for part in (key.split()[0], key.split()[-1]))
    learned = learn_terms(SPORT, ECONOMY)
    assert "penalty shootout" in learned, "a bigram seen in several examples is learned"
    assert all(1 <= len(term.split()) <= 2 for term in learned)


def test_surface_form_is_the_most_common_one_in_the_examples() -> None:
    target = ["Elections were held.", "The elections ended.", "Two elections later.", "He was elected again."]
    background = ["The weather was fine.", "Trains ran late.", "Prices rose.", "The shop closed."]
    learned = learn_terms(target, background, top_n=5)
    assert "elections" in learned and "elected" not in learned


def test_a_term_needs_two_target_documents_and_top_n_caps_the_list() -> None:
    target = ["unique once here", "common word shared", "common word again", "common word more"]
    background = ["nothing in common", "plain text", "other words", "more plain text"]
    learned = learn_terms(target, background)
    assert "unique" not in learned and "word" in learned
    assert len(learn_terms(SPORT, ECONOMY, top_n=3)) == 3
    assert learn_terms(SPORT, ECONOMY, top_n=0) == {}
    with pytest.raises(ValueError, match="top_n"):
        learn_terms(SPORT, ECONOMY, top_n=-1)


def test_empty_inputs_learn_nothing() -> None:
    assert learn_terms([], []) == {}
    assert learn_terms([], ECONOMY) == {}
    assert term_weights([]) == {}
    assert rank_terms(TermCounts(), Counter()) == []


def test_counts_are_documents_not_occurrences() -> None:
    counts = count_terms(["goal goal goal goal", "goal"])
    assert counts.size == 2 and counts.documents["goal"] == 2
