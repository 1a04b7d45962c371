"""Fit the news summariser's sentence models on the tuning halves only and write config/models/sentence_scorer.json.

Two models, one per budget regime: "short" (a few sentences of a long text, as in the digest) learns
from news highlights, labelled by a greedy ROUGE oracle (up to 3 sentences, each must raise ROUGE-1 +
ROUGE-2 F1 against the highlights); "long" (a large share of the text) learns from BBC, labelled by
the extractive reference. Each is scikit-learn's LogisticRegression over standardised features
(tasks/sentence_scorer.py), articles weighted equally. Each model's regularisation is chosen by
2-fold cross-validation inside its tuning half, on the ROUGE-2 of the summaries it then picks.
The switch between them (long_share) sits between the two sets' budget shares on the tuning halves
(news: 95 % of articles below 0.33; BBC: 95 % at or above 0.40).
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from bench import DEFAULT_DATA, fold_of
from bench.eval_summaries import Document, Rouge, bbc_documents, highlight_documents
from tasks.sentence_scorer import MODEL_PATH, LinearModel, SentenceScorer
from tasks.s5_summarise import news_candidates, summarise, summarise_news

C_GRID = (0.01, 0.1, 1.0, 10.0)
LONG_SHARE = 0.35         # see the module docstring
MMR_LAMBDA = 1.0          # 0.85 made no difference in cross-validation; near-repeats are still dropped
LEDE_MARGIN = 0.15        # story summaries: another sentence leads only when this much more likely
ORACLE_MAX = 3
NEWS_GROUPS = ("cnn", "dailymail")


def _ngrams(tokens: list[str], n: int) -> Counter[tuple[str, ...]]:
    """The n-grams of a token list with their counts."""
    return Counter(zip(*(tokens[i:] for i in range(n))))


def _f1(reference: Counter, candidate: Counter) -> float:
    """F1 of n-gram overlap (ROUGE-n F1 from counts)."""
    overlap = sum((reference & candidate).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(candidate.values()), overlap / sum(reference.values())
    return 2 * precision * recall / (precision + recall)


def oracle(sentences: list[str], reference: str, rouge: Rouge, most: int = ORACLE_MAX) -> set[int]:
    """Greedy ROUGE oracle: add the sentence that raises ROUGE-1 + ROUGE-2 F1 most, while one does."""
    ref_tokens = rouge.tokenizer.tokenize(reference)
    ref = (_ngrams(ref_tokens, 1), _ngrams(ref_tokens, 2))
    tokens = [rouge.tokenizer.tokenize(s) for s in sentences]
    chosen: list[int] = []
    best = 0.0
    while len(chosen) < most:
        gains = []
        for i in range(len(sentences)):
            if i not in chosen:
                joined = [t for j in sorted([*chosen, i]) for t in tokens[j]]
                gains.append((_f1(ref[0], _ngrams(joined, 1)) + _f1(ref[1], _ngrams(joined, 2)), -i))
        if not gains or max(gains)[0] <= best:
            break
        best, index = max(gains)
        chosen.append(-index)
    return set(chosen)


def _squash(text: str) -> str:
    """Lower-cased text without whitespace, for matching sentences against a run-together reference."""
    return "".join(text.split()).casefold()


def reference_labels(sentences: list[str], reference: str) -> set[int]:
    """The sentences that are part of an extractive reference."""
    squashed = _squash(reference)
    return {i for i, s in enumerate(sentences) if len(_squash(s)) > 10 and _squash(s) in squashed}


def _examples(document: Document) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of one document's candidate sentences."""
    sentences, features = news_candidates(document.text, document.title)
    if document.group in NEWS_GROUPS:
        positive = oracle(sentences, document.reference, _ROUGE)
    else:
        positive = reference_labels(sentences, document.reference)
    return features, np.array([i in positive for i in range(len(sentences))], dtype=int)


_ROUGE = Rouge()


def fit(examples: list[tuple[np.ndarray, np.ndarray]], c: float) -> LinearModel:
    """A logistic model on standardised features, each document's sentences weighing one document."""
    features = np.vstack([x for x, _ in examples])
    labels = np.concatenate([y for _, y in examples])
    weights = np.concatenate([np.full(len(y), 1.0 / max(1, len(y))) for _, y in examples])
    mean, scale = features.mean(axis=0), features.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=5000)
    model.fit((features - mean) / scale, labels, sample_weight=weights * len(examples) / weights.sum())
    return LinearModel(model.coef_[0], float(model.intercept_[0]), mean, scale)


def _scorer(short: LinearModel, long: LinearModel, long_share: float = LONG_SHARE) -> SentenceScorer:
    """The two models with the selection settings."""
    return SentenceScorer(short, long, long_share, MMR_LAMBDA, LEDE_MARGIN)


def _rouge2(args: tuple[Document, SentenceScorer | None]) -> float:
    """ROUGE-2 F1 (points) of one document's summary by a scorer (None: Lead)."""
    document, scorer = args
    if scorer is None:
        summary = summarise(document.text, document.budget, "lead")
    else:
        summary = summarise_news(document.text, document.budget, scorer, document.title)
    return 100 * _ROUGE.score(document.reference, " ".join(summary))[1]


def choose(pool, documents: list[Document], examples: list[tuple[np.ndarray, np.ndarray]],
           lead: list[float]) -> tuple[float, dict[str, float]]:
    """The C whose model, fitted on one fold and used for every budget, scores best on the other fold."""
    fold = [fold_of(d.key) for d in documents]
    results = {}
    for c in C_GRID:
        scores = [0.0] * len(documents)
        for k in (0, 1):
            model = fit([e for e, f in zip(examples, fold) if f != k], c)
            held = [i for i, f in enumerate(fold) if f == k]
            jobs = [(documents[i], _scorer(model, model)) for i in held]
            for i, value in zip(held, pool.map(_rouge2, jobs, chunksize=8)):
                scores[i] = value
        results[c] = statistics.fmean(s - l for s, l in zip(scores, lead))
        print(f"  C={c:g}: ROUGE-2 over Lead {results[c]:+.3f}", flush=True)
    return max(results, key=results.get), results


def main(argv: list[str] | None = None) -> int:
    """Cross-validate each model's C on its tuning half, fit both on all of it, write the model file."""
    parser = argparse.ArgumentParser(prog="python -m bench.train_sentence_scorer", description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    sets = {"short": highlight_documents(args.data, None, "tune"), "long": bbc_documents(args.data, None, "tune")}
    models: dict[str, LinearModel] = {}
    meta: dict[str, object] = {"trained_on": "tuning halves only (bench.half_of): short = news-highlights-dev, "
                                             "long = bbc-news-summary-dev", "long_share": LONG_SHARE,
                               "mmr_lambda": MMR_LAMBDA, "lede_margin": LEDE_MARGIN,
                               "made_by": "python -m bench.train_sentence_scorer"}
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        for regime, documents in sets.items():
            print(f"{regime}: {len(documents)} documents", flush=True)
            examples = pool.map(_examples, documents, chunksize=8)
            lead = pool.map(_rouge2, [(d, None) for d in documents], chunksize=8)
            c, results = choose(pool, documents, examples, lead)
            models[regime] = fit(examples, c)
            meta[regime] = {"documents": len(documents), "sentences": int(sum(len(y) for _, y in examples)),
                            "positives": int(sum(y.sum() for _, y in examples)), "C": c,
                            "cv_rouge2_over_lead": {f"{k:g}": round(v, 3) for k, v in results.items()}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(_scorer(models["short"], models["long"]).to_json(meta), encoding="utf-8")
    print(f"model written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
