"""Learns an issue's weighted terms from example articles by log-odds ratio with an informative Dirichlet prior."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from tasks.text.language import stem, stop_words
from tasks.text.sentences import LETTER_RE, match_words

# Chosen by cross-validation on labelled news (bench/eval_tags.py); results are flat for 200-400 terms.
DEFAULT_TOP_N = 200          # terms kept per issue, by z-score
MAX_NGRAM = 2
MIN_DOCUMENTS = 2            # a term must turn up in at least this many target documents
MIN_Z = 0.0                  # and be over-represented in the target (a positive z-score); with few
                             # examples few terms would pass a significance level, the top-N cut ranks them
PRIOR_STRENGTH = 0.1         # the prior's total pseudo-count, as a share of the observed counts


@dataclass(frozen=True)
class TermScore:
    """One term's evidence for the target: its log-odds ratio, that ratio's z-score and its document counts."""

    term: str        # the surface form seen most often in the target ("elections")
    key: str         # stems joined by spaces, as the tagger matches it ("elect")
    delta: float     # log-odds ratio, target versus background, with the prior
    z: float         # delta over its standard deviation
    target_documents: int
    background_documents: int


def _keep(words: tuple[str, ...], stops: frozenset[str]) -> bool:
    """Whether an n-gram can be a term: every word has a letter, and it neither starts nor ends with a stop word."""
    return (all(LETTER_RE.search(w) and len(w) > 1 for w in words)
            and words[0] not in stops and words[-1] not in stops)


def document_terms(text: str, language: str = "english", max_ngram: int = MAX_NGRAM) -> dict[str, str]:
    """The distinct unigrams and bigrams of one text that can be terms: stem key -> surface form."""
    stops = stop_words(language)
    surfaces = match_words(text)
    stems = [stem(w, language) for w in surfaces]
    found: dict[str, str] = {}
    for size in range(1, max_ngram + 1):
        for start in range(len(stems) - size + 1):
            words = tuple(surfaces[start:start + size])
            if _keep(words, stops):
                found.setdefault(" ".join(stems[start:start + size]), " ".join(words))
    return found


@dataclass
class TermCounts:
    """How many documents of a set contain each term, the surface forms seen, and the set's size."""

    documents: Counter[str] = field(default_factory=Counter)
    forms: dict[str, Counter[str]] = field(default_factory=dict)
    size: int = 0

    def add(self, terms: dict[str, str]) -> None:
        """Count one document, given as its distinct terms (key -> surface form, see document_terms)."""
        self.size += 1
        for key, surface in terms.items():
            self.documents[key] += 1
            self.forms.setdefault(key, Counter())[surface] += 1


def count_terms(documents: Iterable[str], language: str = "english") -> TermCounts:
    """Count, over a set of documents, how many contain each candidate term."""
    counts = TermCounts()
    for text in documents:
        counts.add(document_terms(text, language))
    return counts


def score_terms(target: Counter[str], background: Counter[str], terms: Iterable[str] | None = None,
                prior_strength: float = PRIOR_STRENGTH) -> dict[str, tuple[float, float]]:
    """Log-odds ratio and its z-score per term, target versus background (Monroe, Colaresi and Quinn 2008).

    The Dirichlet prior is informative: each term's pseudo-count is its share of the pooled counts
    times `prior_strength` times the pooled total, which shrinks rare terms towards no difference.
    Scores every term of the target, or only `terms`.
    """
    target_total, background_total = sum(target.values()), sum(background.values())
    pooled_total = target_total + background_total
    if not pooled_total:
        return {}
    alpha_total = prior_strength * pooled_total
    scores: dict[str, tuple[float, float]] = {}
    for term in target if terms is None else terms:
        y_target, y_background = target[term], background[term]
        alpha = prior_strength * (y_target + y_background)
        if not alpha:
            continue  # a term seen nowhere has no evidence either way
        delta = (math.log((y_target + alpha) / (target_total + alpha_total - y_target - alpha))
                 - math.log((y_background + alpha) / (background_total + alpha_total - y_background - alpha)))
        variance = 1.0 / (y_target + alpha) + 1.0 / (y_background + alpha)
        scores[term] = (delta, delta / math.sqrt(variance))
    return scores


def rank_terms(target: TermCounts, background: Counter[str], top_n: int = DEFAULT_TOP_N, min_z: float = MIN_Z,
               min_documents: int = MIN_DOCUMENTS, prior_strength: float = PRIOR_STRENGTH) -> list[TermScore]:
    """The terms that mark the target documents out from the background documents, strongest first.

    Counts are documents containing the term (so one long article cannot carry a term), over
    unigrams and bigrams of stemmed words without stop words at their ends.
    """
    if top_n < 0:
        raise ValueError(f"top_n must not be negative, got {top_n}")
    if prior_strength <= 0:
        raise ValueError(f"prior_strength must be positive, got {prior_strength}")
    frequent = [key for key, count in target.documents.items() if count >= min_documents]
    ranked = []
    for key, (delta, z) in score_terms(target.documents, background, frequent, prior_strength).items():
        if z > min_z:
            surface = min(target.forms[key].items(), key=lambda item: (-item[1], item[0]))[0]
            ranked.append(TermScore(surface, key, delta, z, target.documents[key], background[key]))
    ranked.sort(key=lambda t: (-t.z, t.key))
    return ranked[:top_n]


def term_weights(ranked: list[TermScore]) -> dict[str, float]:
    """Weights for ranked terms (surface form -> weight): each term's log-odds ratio, the evidence one
    occurrence gives for the target, which lands on the scale of hand-written keyword weights (about 0.5-3)."""
    return {t.term: round(t.delta, 3) for t in ranked}


def learn_terms(target_docs: list[str], background_docs: list[str], top_n: int = DEFAULT_TOP_N,
                language: str = "english") -> dict[str, float]:
    """Weighted terms (surface form -> weight) that mark the target documents out from the background."""
    background = count_terms(background_docs, language)
    return term_weights(rank_terms(count_terms(target_docs, language), background.documents, top_n))
