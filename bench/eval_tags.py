"""Tagging F1 on the BBC categories: issues learned from examples (cross-validated) versus the hand-written taxonomy."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import BBC_CATEGORIES, PROJECT_ROOT, BbcArticle, Table, load_bbc
from tasks.learn_terms import DEFAULT_TOP_N, PRIOR_STRENGTH, TermCounts, document_terms
from tasks.s6_tag import Taxonomy, issue_from_terms, learned_keywords, load_taxonomy, tag_text

FOLDS = 5
DEFAULT_TAXONOMY = PROJECT_ROOT / "config" / "issues.toml"
# The hand-written taxonomy's issues that stand for each BBC category: the closest issue ("core"),
# and every issue whose stories the category would carry ("broad").
CORE_MAP = {
    "business": ("business", "macroeconomics"),
    "entertainment": ("entertainment_and_arts",),
    "politics": ("government_operations", "elections"),
    "sport": ("sport",),
    "tech": ("technology",),
}
BROAD_MAP = {
    "business": ("business", "macroeconomics", "foreign_trade", "inflation", "labour", "energy", "housing"),
    "entertainment": ("entertainment_and_arts", "culture"),
    "politics": ("government_operations", "elections", "international_affairs", "immigration", "law_and_crime",
                 "civil_rights", "social_welfare", "education", "health", "defence"),
    "sport": ("sport",),
    "tech": ("technology", "artificial_intelligence", "cybersecurity"),
}
# Where the learned terms go when merged into the hand-written taxonomy.
MERGE_INTO = {"business": "business", "entertainment": "entertainment_and_arts",
              "politics": "government_operations", "sport": "sport", "tech": "technology"}
TOP_N_VARIANTS = (50, 100, 400)
PRIOR_VARIANTS = (1.0, 0.01)

Predictor = Callable[[BbcArticle], str | None]


@dataclass(frozen=True)
class Scores:
    """Micro- and macro-averaged F1 of single-label predictions (None = no tag), and per-category F1."""

    micro_f1: float
    macro_f1: float
    accuracy: float
    untagged: int
    per_category: dict[str, float]


def f1_scores(gold: list[str], predicted: list[str | None]) -> Scores:
    """F1 of predicted categories against the gold ones; an article with no prediction counts as missed."""
    correct = sum(g == p for g, p in zip(gold, predicted))
    made = sum(p is not None for p in predicted)
    micro_p = correct / made if made else 0.0
    micro_r = correct / len(gold) if gold else 0.0
    per_category = {}
    for category in sorted(set(gold)):
        tp = sum(g == p == category for g, p in zip(gold, predicted))
        fp = sum(p == category != g for g, p in zip(gold, predicted))
        fn = sum(g == category != p for g, p in zip(gold, predicted))
        per_category[category] = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return Scores(_f1(micro_p, micro_r), sum(per_category.values()) / max(1, len(per_category)),
                  correct / len(gold) if gold else 0.0, len(predicted) - made, per_category)


def _f1(precision: float, recall: float) -> float:
    """Harmonic mean of precision and recall (0 when both are 0)."""
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _text(article: BbcArticle) -> str:
    """An example article as a file holds it: headline, blank line, body."""
    return f"{article.headline}\n\n{article.body}"


def folds(articles: list[BbcArticle], count: int = FOLDS) -> list[int]:
    """A fold number for each article, spread evenly within each category (deterministic)."""
    seen: Counter[str] = Counter()
    numbers = []
    for article in articles:
        numbers.append(seen[article.category] % count)
        seen[article.category] += 1
    return numbers


def _top_issue(article: BbcArticle, taxonomy: Taxonomy, allowed: dict[str, str]) -> str | None:
    """The category of the best-scoring tag among the allowed issues (issue -> category)."""
    for tag in tag_text(article.headline, article.body, taxonomy, min_score=0.0, max_tags=len(taxonomy.issues)):
        if tag.issue in allowed:
            return allowed[tag.issue]
    return None


def cross_validate(articles: list[BbcArticle], terms: list[dict[str, str]], top_n: int = DEFAULT_TOP_N,
                   merge_with: Taxonomy | None = None, prior_strength: float = PRIOR_STRENGTH) -> list[str | None]:
    """Predict each article's category from terms learned on the other folds' articles.

    `terms` holds each article's document_terms. With `merge_with`, the learned terms join the
    hand-written keywords of the matching issues there.
    """
    fold_of = folds(articles)
    predicted: list[str | None] = [None] * len(articles)
    for fold in range(FOLDS):
        counts = {category: TermCounts() for category in BBC_CATEGORIES}
        for article, found, number in zip(articles, terms, fold_of):
            if number != fold:
                counts[article.category].add(found)
        learned = learned_keywords({c: n for c, n in counts.items() if n.size}, top_n, prior_strength)
        taxonomy, allowed = _fold_taxonomy(learned, merge_with)
        for index, article in enumerate(articles):
            if fold_of[index] == fold:
                predicted[index] = _top_issue(article, taxonomy, allowed)
    return predicted


def _fold_taxonomy(learned: dict[str, dict[str, float]], merge_with: Taxonomy | None,
                   ) -> tuple[Taxonomy, dict[str, str]]:
    """The taxonomy for one fold and the issues that stand for each category."""
    if merge_with is None:
        return (Taxonomy(tuple(issue_from_terms(c, {}, learned=terms) for c, terms in learned.items())),
                {c: c for c in learned})
    into = {issue: category for category, issue in MERGE_INTO.items() if category in learned}
    issues = []
    for issue in merge_with.issues:
        if issue.name in into:
            written = {issue.surface.get(k, k): w for k, w in issue.keywords.items()}
            issues.append(issue_from_terms(issue.name, written, issue.description, learned[into[issue.name]]))
        else:
            issues.append(issue)
    return Taxonomy(tuple(issues)), into


def handwritten(articles: list[BbcArticle], taxonomy: Taxonomy, mapping: dict[str, tuple[str, ...]],
                ) -> list[str | None]:
    """Predict each article's category with the hand-written taxonomy, its issues mapped to categories."""
    allowed = {issue: category for category, issues in mapping.items() for issue in issues}
    return [_top_issue(a, taxonomy, allowed) for a in articles]


def run(data_dir: Path, limit: int | None = None, variants: bool = False) -> tuple[list[Table], dict[str, object]]:
    """Score the tagger every way; return the table and the numbers for the JSON report."""
    started = time.perf_counter()
    articles = load_bbc(data_dir, limit)
    gold = [a.category for a in articles]
    default = load_taxonomy(DEFAULT_TAXONOMY)
    terms = [document_terms(_text(a)) for a in articles]
    rows: list[tuple[str, str, list[str | None]]] = [
        ("learned", f"learned from examples, top {DEFAULT_TOP_N} terms ({FOLDS}-fold CV)",
         cross_validate(articles, terms)),
        ("learned_merged", f"learned merged into hand-written issues ({FOLDS}-fold CV)",
         cross_validate(articles, terms, merge_with=default)),
        ("handwritten_core", "hand-written taxonomy, closest issue per category",
         handwritten(articles, default, CORE_MAP)),
        ("handwritten_broad", "hand-written taxonomy, all related issues",
         handwritten(articles, default, BROAD_MAP)),
    ]
    if variants:
        rows += [(f"learned_top_{n}", f"learned, top {n} terms ({FOLDS}-fold CV)", cross_validate(articles, terms, n))
                 for n in TOP_N_VARIANTS]
        rows += [(f"learned_prior_{p:g}", f"learned, prior strength {p:g} ({FOLDS}-fold CV)",
                  cross_validate(articles, terms, prior_strength=p)) for p in PRIOR_VARIANTS]
    table = Table(f"Tags: BBC dev categories ({len(articles)} articles, top tag among the category issues)",
                  ["taxonomy", "micro-F1", "macro-F1", "untagged", *BBC_CATEGORIES])
    numbers: dict[str, object] = {"articles": len(articles), "folds": FOLDS, "top_n": DEFAULT_TOP_N,
                                  "prior_strength": PRIOR_STRENGTH}
    for name, label, predicted in rows:
        scores = f1_scores(gold, predicted)
        table.rows.append([label, scores.micro_f1, scores.macro_f1, scores.untagged,
                           *(scores.per_category.get(c, 0.0) for c in BBC_CATEGORIES)])
        numbers[name] = {"micro_f1": round(scores.micro_f1, 4), "macro_f1": round(scores.macro_f1, 4),
                         "accuracy": round(scores.accuracy, 4), "untagged": scores.untagged,
                         "per_category_f1": {c: round(v, 4) for c, v in scores.per_category.items()}}
    seconds = time.perf_counter() - started
    numbers["seconds"] = round(seconds, 1)
    table.notes += [
        f"Wall time {seconds:.0f} s. Learned issues: log-odds ratio with an informative Dirichlet prior "
        "(Monroe et al. 2008), each category against the other four, from 4 folds; tested on the 5th.",
        "Hand-written: config/issues.toml; closest = " + ", ".join(f"{c}->{'/'.join(i)}" for c, i in CORE_MAP.items())
        + "; all related adds the policy issues each category carries (see bench/eval_tags.py).",
        "Per-category columns are F1."]
    return [table], numbers
