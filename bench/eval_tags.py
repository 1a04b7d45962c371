"""Tags learned from examples on the BBC categories: learn from the tuning half, ingest the report half through the real flow."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench import (BBC_CATEGORIES, PROJECT_ROOT, BbcArticle, Table, bootstrap_interval, class_f1, in_half, load_bbc,
                   part_main)
from bench.flow_tags import ingest, write_texts

DEFAULT_OUT = PROJECT_ROOT / "bench" / "out" / "eval_tags.json"
TARGET_MICRO_F1 = 0.95


def _text(article: BbcArticle) -> str:
    """An article as a file holds it: headline, blank line, body."""
    return f"{article.headline}\n\n{article.body}"


def _name(article: BbcArticle) -> str:
    """A file name for an article."""
    return article.key.replace("/", "-")


def taxonomy_from_examples(articles: list[BbcArticle], root: Path) -> Path:
    """Write the articles as example files, one folder per category, and a taxonomy of the five
    categories that learns from them (no keywords)."""
    by_category = {c: {_name(a): _text(a) for a in articles if a.category == c} for c in BBC_CATEGORIES}
    lines = []
    for category, texts in by_category.items():
        folder = root / "examples" / category  # absolute: a relative path would be read from the project root
        write_texts(texts, folder)
        lines += [f"[issues.{category}]", f'description = "BBC {category}"', f'examples = ["{folder.as_posix()}"]', ""]
    path = root / "issues.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def f1_scores(gold: list[str], predicted: list[str | None]) -> dict[str, object]:
    """Micro-F1 (= accuracy: every article has one gold category; no tag counts as a miss), macro-F1 and
    per-category F1."""
    per_class = class_f1(np.array(gold, dtype=object), np.array(predicted, dtype=object), BBC_CATEGORIES)
    per_category = {c: round(float(f), 4) for c, f in zip(BBC_CATEGORIES, per_class)}
    correct = [float(g == p) for g, p in zip(gold, predicted)]
    mean, low, high = bootstrap_interval(correct)
    return {"micro_f1": round(mean, 4), "micro_f1_interval": [round(low, 4), round(high, 4)],
            "macro_f1": round(float(np.mean(list(per_category.values()))), 4),
            "untagged": sum(p is None for p in predicted), "per_category_f1": per_category}


def _per_category(articles: list[BbcArticle], limit: int | None) -> list[BbcArticle]:
    """At most `limit` articles of each category (all for None), in order."""
    seen: dict[str, int] = {}
    kept = []
    for article in articles:
        seen[article.category] = seen.get(article.category, 0) + 1
        if limit is None or seen[article.category] <= limit:
            kept.append(article)
    return kept


def run(data_dir: Path, limit: int | None = None, half: str = "report") -> dict[str, object]:
    """Learn the five categories from the other half's examples and score the top tag of each article
    of `half` after a real ingest run."""
    articles = load_bbc(data_dir)
    learn_from = _per_category(in_half(articles, "tune" if half == "report" else "report"), limit)
    scored = _per_category(in_half(articles, half), limit)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="eval-tags-") as tmp:
        root = Path(tmp)
        taxonomy = taxonomy_from_examples(learn_from, root)
        write_texts({_name(a): _text(a) for a in scored}, root / "pages")
        result = ingest(root / "pages", taxonomy, root / "run")
    predicted = [result["top"].get(_name(a)) for a in scored]
    scores = f1_scores([a.category for a in scored], predicted)
    return {"half": half, "examples": len(learn_from), "articles": len(scored), "stored": len(result["stored"]),
            "target_micro_f1": TARGET_MICRO_F1, **scores, "flow_seconds": result["seconds"],
            "seconds": round(time.perf_counter() - started, 1)}


def table(results: dict) -> str:
    """The scores as a table."""
    out = Table(f"Tags learned from examples: BBC categories, {results['half']} half ({results['articles']} articles "
                f"through the ingest flow; learned from {results['examples']} tuning-half examples)",
                ["micro-F1", "95 % interval", "macro-F1", "untagged", *BBC_CATEGORIES])
    low, high = results["micro_f1_interval"]
    out.rows.append([results["micro_f1"], f"{low:.3f}-{high:.3f}", results["macro_f1"], results["untagged"],
                     *(results["per_category_f1"][c] for c in BBC_CATEGORIES)])
    out.notes.append(f"Top tag in article_tags; shipped [tags] min_score and max_tags; target micro-F1 >= "
                     f"{results['target_micro_f1']}. Wall time {results['seconds']:.0f} s (flow {results['flow_seconds']:.0f} s, "
                     "including fitting the model from the examples).")
    return out.render()


def main(argv: list[str] | None = None) -> int:
    """Command line: run on the report half, print the table, write bench/out/eval_tags.json."""
    return part_main(argv, "python -m bench.eval_tags", __doc__, run, table, DEFAULT_OUT,
                     "at most N articles per category")


if __name__ == "__main__":
    sys.exit(main())
