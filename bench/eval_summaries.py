"""ROUGE of the article summariser against Lead-k and sumy's summarisers on the BBC News Summary set."""

from __future__ import annotations

import functools
import multiprocessing
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nltk.stem.porter import PorterStemmer
from rouge_score.rouge_scorer import RougeScorer
from rouge_score.tokenize import tokenize as rouge_tokenize
from rouge_score.tokenizers import Tokenizer

from bench import BbcArticle, Table, load_bbc
from tasks.s5_summarise import CentralityOptions, summarise, summarise_centrality

DEFAULT_ALGORITHM = "centrality"
BASELINES = ("lead", "textrank", "lexrank", "lsa", "luhn", "kl", "sumbasic")
LABELS = {"lead": "Lead-k", "textrank": "sumy TextRank", "lexrank": "sumy LexRank", "lsa": "sumy LSA",
          "luhn": "sumy Luhn", "kl": "sumy KL", "sumbasic": "sumy SumBasic"}
# A second, lead-favouring check: how much of the headline (written by the journalist, not picked
# from the text) a short summary covers, as on wire news whose references are abstractive.
HEADLINE_BUDGET = 3

Summariser = Callable[[str, int], list[str]]


@dataclass(frozen=True)
class MethodScore:
    """Mean ROUGE F1 of one method over the articles, with the time it took."""

    name: str
    label: str
    rouge1: float
    rouge2: float
    rougeL: float
    headline_recall: float
    seconds: float


def methods(default: str = DEFAULT_ALGORITHM, variants: bool = False) -> dict[str, tuple[str, Summariser]]:
    """The summarisers to compare: name -> (label, function of text and sentence budget)."""
    found: dict[str, tuple[str, Summariser]] = {
        "ours": (f"ours ({default})", functools.partial(_by_name, algorithm=default))}
    for name in BASELINES:
        found[name] = (LABELS[name], functools.partial(_by_name, algorithm=name))
    if variants:
        found.update(variant_methods())
    return found


VARIANTS = {
    "no_lede": ("centrality, no lede rule", CentralityOptions(lede_first=False)),
    "uniform_restart": ("centrality, uniform restart", CentralityOptions(position_prior=False)),
    "no_position": ("centrality, no position at all", CentralityOptions(position_prior=False, lede_first=False)),
    "no_mmr": ("centrality, no MMR (lambda 1)", CentralityOptions(mmr_lambda=1.0)),
    "mmr_0.6": ("centrality, MMR lambda 0.6", CentralityOptions(mmr_lambda=0.6)),
    "cosine": ("centrality, TF-IDF cosine graph", CentralityOptions(similarity="cosine")),
}


def variant_methods() -> dict[str, tuple[str, Summariser]]:
    """Variants of the centrality summariser, one knob changed at a time, for the write-up."""
    return {name: (label, functools.partial(_with_options, options=options))
            for name, (label, options) in VARIANTS.items()}


def _with_options(text: str, sentences: int, options: CentralityOptions) -> list[str]:
    """Summarise with the centrality algorithm under non-default options."""
    return summarise_centrality(text, sentences, options)


def _by_name(text: str, sentences: int, algorithm: str) -> list[str]:
    """Summarise with one of the configured algorithm names."""
    return summarise(text, sentences, algorithm)


class _CachedTokenizer(Tokenizer):
    """rouge-score's default tokenizer with the Porter stemmer, remembering each word's stem."""

    def __init__(self) -> None:
        self._stem = functools.lru_cache(maxsize=100_000)(PorterStemmer().stem)

    def tokenize(self, text: str) -> list[str]:
        """Lowercased alphanumeric tokens, words over three letters stemmed (as rouge-score does)."""
        return rouge_tokenize(text, self)

    def stem(self, word: str) -> str:
        """The word's Porter stem."""
        return self._stem(word)


def lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence of two token lists (bit-parallel, Hyyro 2004)."""
    masks: dict[str, int] = {}
    for i, token in enumerate(a):
        masks[token] = masks.get(token, 0) | (1 << i)
    full = (1 << len(a)) - 1
    row = full
    for token in b:
        matched = row & masks.get(token, 0)
        row = ((row + matched) | (row - matched)) & full
    return len(a) - row.bit_count()


def rouge_l(target: list[str], prediction: list[str]) -> float:
    """ROUGE-L F1 of two token lists, equal to rouge-score's rougeL (which runs a slow quadratic table)."""
    if not target or not prediction:
        return 0.0
    common = lcs_length(target, prediction)
    precision, recall = common / len(prediction), common / len(target)
    return 0.0 if common == 0 else 2 * precision * recall / (precision + recall)


_WORKER: dict[str, object] = {}


def _init_worker(chosen: dict[str, tuple[str, Summariser]]) -> None:
    """Build the ROUGE scorer once per worker process."""
    tokenizer = _CachedTokenizer()
    _WORKER["tokenizer"] = tokenizer
    _WORKER["scorer"] = RougeScorer(["rouge1", "rouge2"], tokenizer=tokenizer)
    _WORKER["methods"] = chosen


def _score_article(article: BbcArticle) -> dict[str, tuple[float, float, float, float, float]]:
    """Each method's ROUGE-1/2/L F1 and headline ROUGE-1 recall on one article, and its time in seconds."""
    scorer: RougeScorer = _WORKER["scorer"]  # type: ignore[assignment]
    tokenizer: _CachedTokenizer = _WORKER["tokenizer"]  # type: ignore[assignment]
    chosen: dict[str, tuple[str, Summariser]] = _WORKER["methods"]  # type: ignore[assignment]
    reference = "\n".join(article.reference)
    reference_tokens = tokenizer.tokenize(reference)
    budget = len(article.reference)
    scores = {}
    for name, (_, summariser) in chosen.items():
        started = time.process_time()
        summary = "\n".join(summariser(article.body, budget))
        short = "\n".join(summariser(article.body, HEADLINE_BUDGET))
        elapsed = time.process_time() - started
        result = scorer.score(reference, summary)
        scores[name] = (result["rouge1"].fmeasure, result["rouge2"].fmeasure,
                        rouge_l(reference_tokens, tokenizer.tokenize(summary)),
                        scorer.score(article.headline, short)["rouge1"].recall, elapsed)
    return scores


def evaluate(articles: list[BbcArticle], chosen: dict[str, tuple[str, Summariser]],
             workers: int = 2) -> list[MethodScore]:
    """Mean ROUGE F1 of each method over the articles that have a reference."""
    usable = [a for a in articles if a.reference]
    if workers > 1:
        with multiprocessing.get_context("fork").Pool(workers, _init_worker, (chosen,)) as pool:
            per_article = pool.map(_score_article, usable, chunksize=8)
    else:
        _init_worker(chosen)
        per_article = [_score_article(a) for a in usable]
    results = []
    for name, (label, _) in chosen.items():
        columns = list(zip(*(scores[name] for scores in per_article)))
        r1, r2, rl, headline = (statistics.fmean(c) for c in columns[:4])
        results.append(MethodScore(name, label, r1, r2, rl, headline, sum(columns[4])))
    return results


def summary_table(results: list[MethodScore], count: int, seconds: float) -> Table:
    """The ROUGE results as a table, best ROUGE-2 first."""
    table = Table(f"Summaries: BBC News Summary dev ({count} articles, k = reference sentences)",
                  ["method", "ROUGE-1 F1", "ROUGE-2 F1", "ROUGE-L F1", f"headline R-1 rec. @{HEADLINE_BUDGET}",
                   "CPU s"])
    for r in sorted(results, key=lambda r: -r.rouge2):
        table.rows.append([r.label, r.rouge1, r.rouge2, r.rougeL, r.headline_recall, round(r.seconds)])
    table.notes += [
        f"Wall time {seconds:.0f} s. Same sentence splitter (nupunkt) for every method; headline left out of the "
        "text; F1 means over articles (rouge-score, stemmed).",
        f"headline R-1 rec. @{HEADLINE_BUDGET}: share of the headline's words found in a {HEADLINE_BUDGET}-sentence "
        "summary, a check for the lead-favouring case (abstractive references, as on wire news).",
        "CPU s: processor time spent summarising, both budgets, summed over workers."]
    return table


def run(data_dir: Path, limit: int | None = None, workers: int = 2, variants: bool = False,
        ) -> tuple[list[Table], dict[str, object]]:
    """Score every method on the BBC set; return the table and the numbers for the JSON report."""
    started = time.perf_counter()
    articles = [a for a in load_bbc(data_dir, limit) if a.reference]
    results = evaluate(articles, methods(variants=variants), workers)
    seconds = time.perf_counter() - started
    numbers = {
        "articles": len(articles),
        "default_algorithm": DEFAULT_ALGORITHM,
        "seconds": round(seconds, 1),
        "methods": {r.name: {"label": r.label, "rouge1": round(r.rouge1, 4), "rouge2": round(r.rouge2, 4),
                             "rougeL": round(r.rougeL, 4), "headline_rouge1_recall_at_3": round(r.headline_recall, 4),
                             "cpu_seconds": round(r.seconds, 1)} for r in results},
    }
    return [summary_table(results, len(articles), seconds)], numbers
