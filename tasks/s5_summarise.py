"""Extractive summaries of one article (sumy's algorithms or our own) and of a multi-article story."""

from __future__ import annotations

import logging
import math
import re
import warnings
from collections import Counter
from dataclasses import dataclass

import numpy as np
from sumy.models.dom import ObjectDocumentModel, Paragraph, Sentence
from sumy.summarizers.kl import KLSummarizer
from sumy.summarizers.lex_rank import LexRankSummarizer
from sumy.summarizers.lsa import LsaSummarizer
from sumy.summarizers.luhn import LuhnSummarizer
from sumy.summarizers.sum_basic import SumBasicSummarizer
from sumy.summarizers.text_rank import TextRankSummarizer

from config.settings import SUMMARY_ALGORITHMS, SummarySettings
from tasks.records import Article
from tasks.sentence_scorer import FEATURES, SentenceInfo, SentenceScorer, default_scorer, sentence_features
from tasks.text.language import language_name, stem, stop_words
from tasks.text.sentences import NewsTokenizer, split_paragraphs, words

LOGGER = logging.getLogger(__name__)

SUMY_SUMMARIZERS = {
    "textrank": TextRankSummarizer,
    "lexrank": LexRankSummarizer,
    "lsa": LsaSummarizer,
    "luhn": LuhnSummarizer,
    "kl": KLSummarizer,
    "sumbasic": SumBasicSummarizer,
}
FALLBACK_ALGORITHM = "lead"

# A line with no closing punctuation and at most this many words is a heading or dateline.
HEADING_MAX_WORDS = 12
MIN_SENTENCE_WORDS = 6
MIN_LOWERCASE_WORDS = 3
MAX_CAPITALISED_SHARE = 0.6

# Tuned on extractive references (BBC) and checked against a lead-favouring proxy (headline recall);
# see bench/eval_summaries.py. The position prior and the lede rule keep the summary news-shaped.
DAMPING = 0.85                # PageRank damping for the centrality graph
PAGERANK_ITERATIONS = 100
PAGERANK_TOLERANCE = 1e-8
MMR_LAMBDA = 0.8              # relevance versus novelty when picking the next sentence
REPEAT_JACCARD = 0.5          # word-set Jaccard at or above which two sentences say the same
REPEAT_COSINE = 0.7           # term-vector cosine at or above which two sentences say the same
SIMILARITIES = ("overlap", "cosine")

SENTENCE_END_RE = re.compile(r"""[.!?…]["'”’)\]»]*$""")
# Boilerplate that is not part of the story: links, calls to readers, captions and credits.
NOT_PROSE_RE = re.compile(
    r"^(?:read (?:more|also|next)|see also|click|subscribe|sign up|follow us|share this|watch|listen|download"
    r"|advertisement|tell us|let us know|email us|write to us|join (?:us|our)|don't miss|more:)\b"
    r"|^(?:(?:file )?photo|image|picture|video|caption|credit|source)s?\s*[:|]"
    r"|\b(?:click here|tap here|scroll (?:down|up) (?:for|to)|read more|sign up for|subscribe to|our newsletter|follow us on|let us know"
    r"|in the comments|comment below|share your (?:thoughts|views|story|stories)|all rights reserved"
    r"|getty images|photo credit)\b|\((?:photo|image|picture)\b|/(?:afp|reuters|ap|getty)\b|©",
    re.IGNORECASE,
)
BYLINE_RE = re.compile(r"^by\s+[A-Z][\w.'’-]*(?:\s+[A-Z][\w.'’-]*){0,3}(?:\s*(?:,|and|&|\|)|\s*$)")


@dataclass(frozen=True)
class _Unit:
    """One sentence of sumy's document model with its article, its place there and whether it is a heading."""

    sentence: Sentence
    article: int
    position: int
    paragraph_start: bool = False

    @property
    def text(self) -> str:
        """The sentence as it reads in the article (whitespace normalised)."""
        return str(self.sentence)

    @property
    def heading(self) -> bool:
        """Whether the sentence is a heading, dateline or label rather than a sentence."""
        return self.sentence.is_heading


@dataclass(frozen=True)
class CentralityOptions:
    """How the centrality summariser ranks and picks sentences; the defaults are the tuned ones."""

    similarity: str = "overlap"    # "overlap": shared stems over log lengths (TextRank); "cosine": TF-IDF
    position_prior: bool = True    # PageRank restarts at early sentences (1/sqrt(1 + place)), not uniformly
    lede_first: bool = True        # an article's first prose sentence always opens its summary
    mmr_lambda: float = MMR_LAMBDA  # 1.0 ranks by centrality alone (word-for-word repeats still dropped)

    def __post_init__(self) -> None:
        if self.similarity not in SIMILARITIES:
            raise ValueError(f"unknown similarity {self.similarity!r} (known: {', '.join(SIMILARITIES)})")
        if not 0.0 <= self.mmr_lambda <= 1.0:
            raise ValueError(f"mmr_lambda must be between 0 and 1, got {self.mmr_lambda!r}")


DEFAULT_OPTIONS = CentralityOptions()


def _is_heading(sentence: str) -> bool:
    """A short line without closing punctuation: a heading, dateline or label, not a sentence."""
    return not SENTENCE_END_RE.search(sentence) and len(words(sentence)) <= HEADING_MAX_WORDS


def _parse(text: str, tokenizer: NewsTokenizer, article: int = 0) -> tuple[ObjectDocumentModel, list[_Unit]]:
    """Build sumy's document model from our sentence split; a sentence repeated word for word is kept once."""
    seen: set[str] = set()
    paragraphs: list[list[Sentence]] = []
    for paragraph in split_paragraphs(text):
        kept = []
        for sentence in paragraph:
            if sentence.casefold() not in seen:
                seen.add(sentence.casefold())
                kept.append(Sentence(sentence, tokenizer, is_heading=_is_heading(sentence)))
        if kept:
            paragraphs.append(kept)
    starts = [j == 0 for p in paragraphs for j in range(len(p))]
    units = [_Unit(s, article, i, start) for i, (s, start) in enumerate(zip((s for p in paragraphs for s in p), starts))]
    return ObjectDocumentModel(Paragraph(p) for p in paragraphs), units


def _is_prose(sentence: str) -> bool:
    """Whether a sentence reads as story text rather than a byline, caption, link or call to readers."""
    tokens = [w for w in words(sentence) if any(c.isalpha() for c in w)]
    if len(tokens) < MIN_SENTENCE_WORDS or NOT_PROSE_RE.search(sentence) or BYLINE_RE.match(sentence):
        return False
    lowercase = sum(1 for w in tokens if w[0].islower())
    capitalised = len(tokens) - lowercase
    return lowercase >= MIN_LOWERCASE_WORDS and capitalised / len(tokens) <= MAX_CAPITALISED_SHARE


def _content_stems(sentence: Sentence, language: str) -> list[str]:
    """Stems of the sentence's words that carry meaning (no stop words)."""
    stops = stop_words(language)
    return [stem(w, language) for w in sentence.words if w.lower() not in stops]


def _word_set(sentence: Sentence, language: str) -> frozenset[str]:
    """The sentence's stemmed words as a set, for the near-repeat test."""
    return frozenset(stem(w, language) for w in sentence.words)


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard similarity of two sets (0 when both are empty)."""
    return len(a & b) / len(a | b) if a or b else 0.0


def _term_matrix(sentences: list[Sentence], language: str,
                 stems: list[list[str]] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each sentence's content-stem counts as a sentence-by-term matrix, and the document frequencies
    (`stems`: each sentence's content stems, when already at hand)."""
    bags = [Counter(found) for found in (stems or [_content_stems(s, language) for s in sentences])]
    vocabulary = {term: i for i, term in enumerate(sorted(set().union(*bags)))}
    counts = np.zeros((len(sentences), max(1, len(vocabulary))))
    for row, bag in enumerate(bags):
        for term, count in bag.items():
            counts[row, vocabulary[term]] = count
    return counts, (counts > 0).sum(axis=0)


def _cosine_matrix(counts: np.ndarray, document_frequency: np.ndarray) -> np.ndarray:
    """TF-IDF cosine similarity between sentences, with a zero diagonal."""
    idf = np.log(1 + len(counts) / np.maximum(document_frequency, 1))
    matrix = np.where(counts > 0, 1 + np.log(np.maximum(counts, 1)), 0.0) * idf
    norms = np.linalg.norm(matrix, axis=1)
    norms[norms == 0] = 1.0
    matrix /= norms[:, None]
    similarity = matrix @ matrix.T
    np.fill_diagonal(similarity, 0.0)
    return similarity


def _overlap_matrix(counts: np.ndarray) -> np.ndarray:
    """TextRank's similarity: stems two sentences share over the sum of the logs of their sizes.

    Unlike the cosine it grows with sentence length, so sentences that carry more of the story rank higher.
    """
    present = (counts > 0).astype(float)
    shared = present @ present.T
    log_sizes = np.log(np.maximum(present.sum(axis=1), 1.0))
    scale = log_sizes[:, None] + log_sizes[None, :]
    similarity = np.divide(shared, scale, out=np.zeros_like(shared), where=scale > 0)
    np.fill_diagonal(similarity, 0.0)
    return similarity


def _pagerank(similarity: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """PageRank over the similarity graph, teleporting by the prior (position-biased centrality)."""
    count = len(similarity)
    teleport = prior / prior.sum()
    row_sums = similarity.sum(axis=1)
    # a sentence sharing nothing with the others hands its weight on by the prior
    transition = np.where(row_sums[:, None] > 0, similarity / np.where(row_sums > 0, row_sums, 1)[:, None],
                          teleport[None, :])
    rank = np.full(count, 1.0 / count)
    for _ in range(PAGERANK_ITERATIONS):
        updated = (1 - DAMPING) * teleport + DAMPING * transition.T @ rank
        if np.abs(updated - rank).sum() < PAGERANK_TOLERANCE:
            return updated
        rank = updated
    return rank


def _position_prior(units: list[_Unit]) -> np.ndarray:
    """Favour early sentences of each article: weight 1/sqrt(1 + place among its sentences)."""
    return np.array([1.0 / math.sqrt(1 + u.position) for u in units])


def _ledes(units: list[_Unit]) -> list[int]:
    """Indices of each article's first unit (the units come in article order)."""
    first: dict[int, int] = {}
    for index, unit in enumerate(units):
        if unit.article not in first or unit.position < units[first[unit.article]].position:
            first[unit.article] = index
    return sorted(first.values())


def _repeats(best: int, chosen: list[int], similarity: np.ndarray, word_sets: list[frozenset[str]]) -> bool:
    """Whether a sentence says the same as one already chosen."""
    return any(similarity[best, j] >= REPEAT_COSINE or _jaccard(word_sets[best], word_sets[j]) >= REPEAT_JACCARD
               for j in chosen)


def _mmr(score: np.ndarray, similarity: np.ndarray, word_sets: list[frozenset[str]], count: int,
         mmr_lambda: float = MMR_LAMBDA, first: int | None = None) -> list[int]:
    """Pick up to `count` indices by maximal marginal relevance, never two that say the same thing.

    `score` is scaled to [0, 1] so that it weighs against the cosine redundancy; `first`, if given,
    is taken before anything else.
    """
    relevance = score / score.max() if score.max() > 0 else score
    chosen: list[int] = [] if first is None else [first]
    remaining = [i for i in range(len(score)) if i != first]
    while remaining and len(chosen) < count:
        def marginal(i: int) -> tuple[float, int]:
            """Relevance less redundancy with what is chosen; ties go to the earlier sentence."""
            redundancy = max((similarity[i, j] for j in chosen), default=0.0)
            return mmr_lambda * relevance[i] - (1 - mmr_lambda) * redundancy, -i

        best = max(remaining, key=marginal)
        remaining.remove(best)
        if not _repeats(best, chosen, similarity, word_sets):
            chosen.append(best)
    return chosen[:count]


def _select(units: list[_Unit], count: int, language: str,
            options: CentralityOptions = DEFAULT_OPTIONS) -> list[_Unit]:
    """Rank units by position-biased centrality, pick `count` by MMR, and return them in article order."""
    if not units or count <= 0:
        return []
    counts, document_frequency = _term_matrix([u.sentence for u in units], language)
    cosine = _cosine_matrix(counts, document_frequency)
    graph = _overlap_matrix(counts) if options.similarity == "overlap" else cosine
    prior = _position_prior(units) if options.position_prior else np.ones(len(units))
    centrality = _pagerank(graph, prior)
    first = None
    if options.lede_first:
        first = max(_ledes(units), key=lambda i: (centrality[i], -i))
    chosen = _mmr(centrality, cosine, [_word_set(u.sentence, language) for u in units], count,
                  options.mmr_lambda, first)
    return sorted((units[i] for i in chosen), key=lambda u: (u.article, u.position))


def _sentence_infos(units: list[_Unit], stems: list[list[str]]) -> list[SentenceInfo]:
    """What the sentence scorer needs of each unit: its place among its article's units, its content stems."""
    per_article = Counter(u.article for u in units)
    seen: Counter[int] = Counter()
    infos = []
    for u, found in zip(units, stems):
        infos.append(SentenceInfo(u.text, seen[u.article], per_article[u.article], u.paragraph_start,
                                  frozenset(found), len(u.sentence.words)))
        seen[u.article] += 1
    return infos


def _title_stems(title: str | None, tokenizer: NewsTokenizer) -> frozenset[str]:
    """The headline's content stems (empty without a headline)."""
    if not title:
        return frozenset()
    language = tokenizer.language
    stops = stop_words(language)
    return frozenset(stem(w, language) for w in tokenizer.to_words(title) if w.lower() not in stops)


def _news_features(units: list[_Unit], language: str, title: frozenset[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sentence scorer's features of each unit, with the units' term counts and document frequencies."""
    stems = [_content_stems(u.sentence, language) for u in units]
    counts, document_frequency = _term_matrix([u.sentence for u in units], language, stems)
    centrality = _pagerank(_overlap_matrix(counts), _position_prior(units))
    return sentence_features(_sentence_infos(units, stems), centrality, title), counts, document_frequency


def _news_scores(units: list[_Unit], count: int, language: str, title: frozenset[str],
                 scorer: SentenceScorer) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's summary-worthiness by the sentence scorer, and the units' TF-IDF cosine matrix."""
    features, counts, document_frequency = _news_features(units, language, title)
    return scorer.probabilities(features, count), _cosine_matrix(counts, document_frequency)


def _select_news(units: list[_Unit], count: int, language: str, title: frozenset[str], scorer: SentenceScorer,
                 lede_first: bool = False) -> list[_Unit]:
    """Pick `count` units by the sentence scorer and MMR, in article order.

    With lede_first (story summaries), the lede of the first (earliest) article opens the summary
    unless another article's lede scores more than the scorer's lede_margin above it: a sentence from
    further down an article leans on what came before it ("They were given...", "The book has...").
    """
    if not units or count <= 0:
        return []
    probability, cosine = _news_scores(units, count, language, title, scorer)
    word_sets = [_word_set(u.sentence, language) for u in units]
    first = None
    if lede_first:
        ledes = _ledes(units)
        lede, best = ledes[0], max(ledes, key=lambda i: probability[i])
        first = best if probability[best] > probability[lede] + scorer.lede_margin else lede
    chosen = _mmr(probability, cosine, word_sets, count, scorer.mmr_lambda, first)
    ordered = sorted((units[i] for i in chosen), key=lambda u: (u.article, u.position))
    if first is not None:
        ordered.remove(units[first])
        ordered.insert(0, units[first])
    return ordered


def _candidates(units: list[_Unit]) -> list[_Unit]:
    """The units worth putting in a summary: prose sentences, else any non-heading sentence."""
    body = [u for u in units if not u.heading]
    prose = [u for u in body if _is_prose(u.text)]
    return prose or body or units


def _sumy_summary(document: ObjectDocumentModel, units: list[_Unit], count: int, algorithm: str,
                  language: str) -> list[_Unit]:
    """Run one of sumy's summarizers, with sumy's stemmer and stop words, over our document model."""
    if not document.sentences:
        return []
    summarizer = SUMY_SUMMARIZERS[algorithm](lambda word: stem(word, language))
    summarizer.stop_words = stop_words(language)
    # sumy warns about tiny documents (LSA) and divides by zero on ones with no shared words (LexRank)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        picked = {id(s) for s in summarizer(document, count)}
    return [u for u in units if id(u.sentence) in picked][:count]


def _summarise(text: str, sentences: int, algorithm: str, language: str, options: CentralityOptions,
               title: str | None = None, scorer: SentenceScorer | None = None) -> list[str]:
    """Summarise one text with a known algorithm (see summarise)."""
    language = language_name(language)
    tokenizer = NewsTokenizer(language)
    document, units = _parse(text, tokenizer)
    if sentences <= 0 or not units:
        return []
    if len(units) <= sentences or all(u.heading for u in units):
        return [u.text for u in units[:sentences]]
    lead = [u for u in units if not u.heading][:sentences]
    if algorithm == "lead":
        picked = lead
    elif algorithm == "news":
        picked = _select_news(_candidates(units), sentences, language, _title_stems(title, tokenizer),
                              scorer or default_scorer())
    elif algorithm == "centrality":
        picked = _select(_candidates(units), sentences, language, options)
    else:
        # sumy gives nothing when no sentence has a content word (LSA): fall back to the lead
        picked = _sumy_summary(document, units, sentences, algorithm, language) or lead
    return [u.text for u in picked]


def summarise(text: str, sentences: int, algorithm: str = "textrank", language: str = "english", *,
              title: str | None = None) -> list[str]:
    """Pick up to `sentences` sentences of `text` as its summary, in article order.

    `title`, the article's headline when known, helps the news algorithm find what the story is about.
    """
    if algorithm not in SUMMARY_ALGORITHMS:
        raise ValueError(f"unknown summary algorithm {algorithm!r} (known: {', '.join(SUMMARY_ALGORITHMS)})")
    return _summarise(text, sentences, algorithm, language, DEFAULT_OPTIONS, title)


def summarise_news(text: str, sentences: int, scorer: SentenceScorer, title: str | None = None,
                   language: str = "english") -> list[str]:
    """Summarise with the news algorithm under another sentence model (for training and comparing models)."""
    return _summarise(text, sentences, "news", language, DEFAULT_OPTIONS, title, scorer)


def news_candidates(text: str, title: str | None = None, language: str = "english") -> tuple[list[str], np.ndarray]:
    """The candidate sentences the news algorithm chooses from, with their features (for training its model)."""
    language = language_name(language)
    tokenizer = NewsTokenizer(language)
    units = _candidates(_parse(text, tokenizer)[1])
    if not units:
        return [], np.zeros((0, len(FEATURES)))
    return [u.text for u in units], _news_features(units, language, _title_stems(title, tokenizer))[0]


def summarise_centrality(text: str, sentences: int, options: CentralityOptions = DEFAULT_OPTIONS,
                         language: str = "english") -> list[str]:
    """Summarise with the centrality algorithm under the given options (for comparing its variants)."""
    return _summarise(text, sentences, "centrality", language, options)


def summarise_story(texts: list[str], sentences: int, language: str = "english",
                    titles: list[str | None] | None = None, scorer: SentenceScorer | None = None) -> list[str]:
    """Summarise several reports of one story (earliest first) with the sentence scorer: the earliest
    report's lede first unless something clearly better exists, then non-repeating sentences by
    article and position. A single report with no more sentences than asked for is the summary as it
    stands, in order."""
    language = language_name(language)
    tokenizer = NewsTokenizer(language)
    parsed = [u for article, text in enumerate(texts) for u in _parse(text, tokenizer, article)[1]]
    one_report = len({u.article for u in parsed}) <= 1
    if one_report and len(parsed) <= sentences:
        return [u.text for u in parsed if sentences > 0]  # one short report: all of it, as its own summary has
    units = _candidates(parsed)
    if one_report and len(units) <= sentences:
        return [u.text for u in units if sentences > 0]  # its prose sentences, in order
    title = frozenset().union(*(_title_stems(t, tokenizer) for t in titles or []))
    return [u.text for u in _select_news(units, sentences, language, title, scorer or default_scorer(), lede_first=True)]


def summarise_articles(articles: list[Article], settings: SummarySettings) -> None:
    """Fill in each article's summary with the configured algorithm (lead if that one fails)."""
    for article in articles:
        language = language_name(article.cleaned.language)
        try:
            article.summary = summarise(article.cleaned.text, settings.sentences, settings.algorithm, language,
                                        title=article.cleaned.title)
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
            LOGGER.warning("summary of %s with %s failed (%s: %s); using %s", article.article_id,
                           settings.algorithm, exc.__class__.__name__, exc, FALLBACK_ALGORITHM)
            article.summary = summarise(article.cleaned.text, settings.sentences, FALLBACK_ALGORITHM, language)
