"""ROUGE of the article summariser against Lead-k and sumy's summarisers: news highlights (3 sentences) and BBC extracts."""

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

from bench import Table, bootstrap_interval, in_half, load_bbc, load_highlights
from tasks.s5_summarise import CentralityOptions, summarise, summarise_centrality

DEFAULT_ALGORITHM = "news"
HIGHLIGHTS_BUDGET = 3
HIGHLIGHTS_BASELINES = ("lead", "textrank", "lexrank")
BBC_BASELINES = ("lead", "textrank", "lexrank", "lsa", "luhn", "kl", "sumbasic")
LABELS = {"lead": "Lead-k", "textrank": "sumy TextRank", "lexrank": "sumy LexRank", "lsa": "sumy LSA",
          "luhn": "sumy Luhn", "kl": "sumy KL", "sumbasic": "sumy SumBasic", "centrality": "centrality (previous default)"}
MEASURES = ("rouge1", "rouge2", "rougeL")

# A summariser takes the text, the sentence budget and the headline (None when there is none).
Summariser = Callable[[str, int, "str | None"], list[str]]


@dataclass(frozen=True)
class Document:
    """One text to summarise with its reference, budget and the group it is reported under."""

    key: str
    group: str
    text: str
    title: str | None
    reference: str
    budget: int


def _by_name(text: str, sentences: int, title: str | None, algorithm: str) -> list[str]:
    """Summarise with one of the configured algorithm names (the headline goes to those that use it)."""
    return summarise(text, sentences, algorithm, title=title)


def _untitled(text: str, sentences: int, title: str | None, algorithm: str) -> list[str]:
    """Summarise without telling the summariser the headline."""
    return summarise(text, sentences, algorithm)


def _with_options(text: str, sentences: int, title: str | None, options: CentralityOptions) -> list[str]:
    """Summarise with the centrality algorithm under non-default options."""
    return summarise_centrality(text, sentences, options)


VARIANTS = {
    "centrality_no_lede": ("centrality, no lede rule", CentralityOptions(lede_first=False)),
    "centrality_uniform": ("centrality, uniform restart", CentralityOptions(position_prior=False)),
}


def methods(baselines: tuple[str, ...], variants: bool = False) -> dict[str, tuple[str, Summariser]]:
    """The summarisers to compare: name -> (label, function of text, budget and headline)."""
    found: dict[str, tuple[str, Summariser]] = {
        "ours": (f"ours ({DEFAULT_ALGORITHM}, the default)", functools.partial(_by_name, algorithm=DEFAULT_ALGORITHM))}
    for name in (*baselines, "centrality"):
        found[name] = (LABELS[name], functools.partial(_by_name, algorithm=name))
    if variants:
        found["ours_untitled"] = (f"ours ({DEFAULT_ALGORITHM}) without the headline",
                                  functools.partial(_untitled, algorithm=DEFAULT_ALGORITHM))
        found.update({name: (label, functools.partial(_with_options, options=options))
                      for name, (label, options) in VARIANTS.items()})
    return found


class CachedTokenizer(Tokenizer):
    """rouge-score's default tokenizer with the Porter stemmer, remembering each word's stem."""

    def __init__(self) -> None:
        self._stem = functools.lru_cache(maxsize=200_000)(PorterStemmer().stem)

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


class Rouge:
    """ROUGE-1/2/L F1 (rouge-score's tokenizer and Porter stemmer; ROUGE-L by a fast exact LCS)."""

    def __init__(self) -> None:
        self.tokenizer = CachedTokenizer()
        self._scorer = RougeScorer(["rouge1", "rouge2"], tokenizer=self.tokenizer)

    def score(self, reference: str, summary: str) -> tuple[float, float, float]:
        """(ROUGE-1, ROUGE-2, ROUGE-L) F1 of a summary against a reference."""
        result = self._scorer.score(reference, summary)
        return (result["rouge1"].fmeasure, result["rouge2"].fmeasure,
                rouge_l(self.tokenizer.tokenize(reference), self.tokenizer.tokenize(summary)))


_WORKER: dict[str, object] = {}


def _init_worker(chosen: dict[str, tuple[str, Summariser]]) -> None:
    """Build the ROUGE scorer once per worker process."""
    _WORKER["rouge"] = Rouge()
    _WORKER["methods"] = chosen


def _score_document(document: Document) -> dict[str, tuple[float, float, float, float]]:
    """Each method's ROUGE-1/2/L F1 on one document, and its processor time in seconds."""
    rouge: Rouge = _WORKER["rouge"]  # type: ignore[assignment]
    chosen: dict[str, tuple[str, Summariser]] = _WORKER["methods"]  # type: ignore[assignment]
    scores = {}
    for name, (_, summariser) in chosen.items():
        started = time.process_time()
        summary = " ".join(summariser(document.text, document.budget, document.title))
        elapsed = time.process_time() - started
        scores[name] = (*rouge.score(document.reference, summary), elapsed)
    return scores


def score_documents(documents: list[Document], chosen: dict[str, tuple[str, Summariser]],
                    workers: int = 2) -> list[dict[str, tuple[float, float, float, float]]]:
    """Per-document scores of every method (in document order)."""
    if workers > 1:
        with multiprocessing.get_context("fork").Pool(workers, _init_worker, (chosen,)) as pool:
            return pool.map(_score_document, documents, chunksize=8)
    _init_worker(chosen)
    return [_score_document(d) for d in documents]


def _means(rows: list[dict[str, tuple[float, ...]]], name: str) -> dict[str, float]:
    """A method's mean ROUGE F1 (in points, 0-100) and summed CPU seconds over rows."""
    columns = list(zip(*(row[name] for row in rows)))
    means = {m: 100 * statistics.fmean(c) for m, c in zip(MEASURES, columns)}
    means["cpu_seconds"] = sum(columns[3])
    return means


def compare(documents: list[Document], per_document: list[dict], chosen: dict[str, tuple[str, Summariser]],
            baselines: tuple[str, ...], group: str | None = None) -> dict[str, object]:
    """Means of every method over the documents (of one group, or all), and ours minus the best baseline
    (by ROUGE-2) per measure with its 95 % paired bootstrap interval, in ROUGE points."""
    rows = [r for d, r in zip(documents, per_document) if group is None or d.group == group]
    means = {name: _means(rows, name) for name in chosen}
    best = max(baselines, key=lambda name: means[name]["rouge2"])
    differences = {}
    for index, measure in enumerate(MEASURES):
        mean, low, high = bootstrap_interval([100 * (r["ours"][index] - r[best][index]) for r in rows])
        differences[measure] = {"difference": round(mean, 2), "low": round(low, 2), "high": round(high, 2)}
    return {"documents": len(rows), "best_baseline": best,
            "methods": {name: {"label": chosen[name][0], **{k: round(v, 2) for k, v in means[name].items()}}
                        for name in chosen},
            "ours_minus_best": differences}


def _table(title: str, result: dict[str, object], notes: list[str]) -> Table:
    """One comparison as a table, best ROUGE-2 first, with the difference line under it."""
    table = Table(title, ["method", "ROUGE-1", "ROUGE-2", "ROUGE-L", "CPU s"])
    methods_ = result["methods"]
    for name, m in sorted(methods_.items(), key=lambda item: -item[1]["rouge2"]):
        table.rows.append([m["label"], m["rouge1"], m["rouge2"], m["rougeL"], round(m["cpu_seconds"])])
    best = methods_[result["best_baseline"]]["label"]
    d = result["ours_minus_best"]
    table.notes.append(f"ours - {best} (best baseline), 95 % bootstrap interval: " + "; ".join(
        f"{m} {d[m]['difference']:+.2f} [{d[m]['low']:+.2f}, {d[m]['high']:+.2f}]" for m in MEASURES))
    table.notes += notes
    return table


def highlight_documents(data_dir: Path, limit: int | None, half: str | None) -> list[Document]:
    """The news-highlights articles of one half as documents: reference = highlights, budget 3, no headline."""
    return [Document(a.key, a.publisher, a.article, None, "\n".join(a.highlights), HIGHLIGHTS_BUDGET)
            for a in in_half(load_highlights(data_dir, limit), half)]


def bbc_documents(data_dir: Path, limit: int | None, half: str | None) -> list[Document]:
    """The BBC articles of one half: reference = the extract, budget = its sentences, headline known."""
    return [Document(a.key, a.category, a.body, a.headline, "\n".join(a.reference), len(a.reference))
            for a in in_half(load_bbc(data_dir, limit), half) if a.reference]


def run(data_dir: Path, limit: int | None = None, workers: int = 2, variants: bool = False,
        half: str | None = "report") -> tuple[list[Table], dict[str, object]]:
    """Score every method on both sets (one half); return the tables and the numbers for the JSON report."""
    tables: list[Table] = []
    numbers: dict[str, object] = {"half": half or "all", "default_algorithm": DEFAULT_ALGORITHM}
    for name, documents, baselines in (
            ("highlights", highlight_documents(data_dir, limit, half), HIGHLIGHTS_BASELINES),
            ("bbc", bbc_documents(data_dir, limit, half), BBC_BASELINES)):
        started = time.perf_counter()
        chosen = methods(baselines, variants)
        per_document = score_documents(documents, chosen, workers)
        pooled = compare(documents, per_document, chosen, baselines)
        groups = sorted({d.group for d in documents})
        result = {"pooled": pooled, "by_group": {g: compare(documents, per_document, chosen, baselines, g)
                                                 for g in groups},
                  "seconds": round(time.perf_counter() - started, 1)}
        numbers[name] = result
        where = f"{half} half" if half else "whole set"
        if name == "highlights":
            tables.append(_table(f"Summaries: news highlights, {where} ({pooled['documents']} CNN/DailyMail "
                                 f"articles), {HIGHLIGHTS_BUDGET} sentences", pooled, [
                "Reference: the highlights joined by newlines; no headline given to any method; one sentence "
                "splitter (nupunkt) for all; ROUGE F1 in points (rouge-score, stemmed)."]))
            for group in groups:
                g = result["by_group"][group]
                tables.append(_table(f"Summaries: news highlights, {group} only ({g['documents']} articles)", g, []))
        else:
            tables.append(_table(f"Summaries: BBC News Summary, {where} ({pooled['documents']} articles), "
                                 "k = reference sentences", pooled, [
                "Headline left out of the text; ours is given it as the title (as the pipeline does)."]))
    return tables, numbers
