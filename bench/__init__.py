"""Quality benchmarks of the pipeline's steps, shared pieces: reading the development data, printing tables."""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = PROJECT_ROOT.parent / "shared" / "data"
BBC_SET = "bbc-news-summary-dev"
BBC_CATEGORIES = ("business", "entertainment", "politics", "sport", "tech")
HIGHLIGHTS_SET = "news-highlights-dev"
TOPICS_SET = "issue-topics-dev"
# Every dev set is split once, by a salted hash of each item's key, into a tuning half (settings and
# models are chosen or fitted there) and a report half (make eval reports it). The salt keeps this
# split independent of the hash that made the NYT dev half (sha256 of the id, last hex digit even).
SPLIT_SALT = "newsdesk-half:"
HALVES = ("tune", "report")
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 14

# The references run their sentences together with no space ("...$10.9bn.For the full-year..."):
# a sentence ends at . ! or ? before a capital (maybe after a quote mark), or before a digit
# when the stop does not follow a digit (as in "10.9").
REFERENCE_BREAK_RE = re.compile(r"""(?<=[.!?])(?=["'‘“]?[A-Z])|(?<=[.!?]["'’”])(?=["'‘“][A-Z])|(?<=\D[.!?])(?=\d)""")


@dataclass(frozen=True)
class BbcArticle:
    """One article of the BBC News Summary set: its category, headline, body and reference sentences."""

    category: str
    name: str
    headline: str
    body: str
    reference: tuple[str, ...]

    @property
    def key(self) -> str:
        """The article's place in the set, as category/NNN."""
        return f"{self.category}/{self.name}"


@dataclass(frozen=True)
class HighlightArticle:
    """One CNN/DailyMail report with its human-written highlight bullets."""

    key: str           # the set's id, e.g. cnn-val-a4942dd6...
    publisher: str
    article: str
    highlights: tuple[str, ...]


def half_of(key: str) -> str:
    """The half ("tune" or "report") an item belongs to, from a salted sha256 of its key (deterministic)."""
    digest = hashlib.sha256(f"{SPLIT_SALT}{key}".encode("utf-8")).digest()
    return HALVES[digest[-1] & 1]


def in_half(items: list, half: str | None, key: Callable[[object], str] = lambda item: item.key) -> list:
    """The items of one half (all of them for None), in their order."""
    if half is not None and half not in HALVES:
        raise ValueError(f"half must be one of {', '.join(HALVES)}, got {half!r}")
    return [item for item in items if half is None or half_of(key(item)) == half]


def bootstrap_interval(differences: list[float], resamples: int = BOOTSTRAP_RESAMPLES,
                       seed: int = BOOTSTRAP_SEED) -> tuple[float, float, float]:
    """Mean of paired per-item differences and its 95 % percentile bootstrap interval (low, high)."""
    import numpy as np

    values = np.asarray(differences, dtype=float)
    if not len(values):
        return 0.0, 0.0, 0.0
    means = values[bootstrap_indices(len(values), resamples, seed)].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(values.mean()), float(low), float(high)


def bootstrap_indices(items: int, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> np.ndarray:
    """Item indices drawn with replacement: one row of `items` indices per resample."""
    import numpy as np

    return np.random.default_rng(seed).integers(0, items, size=(resamples, items))


def class_f1(gold: np.ndarray, predicted: np.ndarray, classes: tuple) -> np.ndarray:
    """F1 of each class over paired numpy arrays of gold and predicted labels (predicting anything else,
    or nothing, is a miss)."""
    import numpy as np

    scores = []
    for label in classes:
        tp = np.sum((gold == label) & (predicted == label))
        fp = np.sum((gold != label) & (predicted == label))
        fn = np.sum((gold == label) & (predicted != label))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return np.array(scores)


def fold_of(key: str, folds: int = 2, salt: str = "fold:") -> int:
    """The cross-validation fold of an item inside a half, from a salted sha256 of its key (deterministic)."""
    return hashlib.sha256(f"{salt}{key}".encode()).digest()[0] % folds


def load_highlights(data_dir: Path, limit: int | None = None) -> list[HighlightArticle]:
    """Read the CNN/DailyMail highlights set (at most `limit` articles per publisher)."""
    path = Path(data_dir) / HIGHLIGHTS_SET / "articles.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found (pass --data pointing at the shared data)")
    found: list[HighlightArticle] = []
    per_publisher: dict[str, int] = {}
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            seen = per_publisher.get(row["publisher"], 0)
            if limit is None or seen < limit:
                per_publisher[row["publisher"]] = seen + 1
                found.append(HighlightArticle(row["id"], row["publisher"], row["article"], tuple(row["highlights"])))
    return found


@dataclass
class Table:
    """A titled table of numbers and labels, printed as aligned markdown."""

    title: str
    headers: list[str]
    rows: list[list[object]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def render(self) -> str:
        """The table as aligned markdown: numbers right-aligned, floats with three decimals."""
        cells = [[_cell(v) for v in row] for row in self.rows]
        widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(self.headers)]
        numeric = [bool(self.rows) and all(isinstance(r[i], (int, float)) for r in self.rows)
                   for i in range(len(self.headers))]

        def line(values: list[str]) -> str:
            """One row, each cell padded to its column's width."""
            return "| " + " | ".join(v.rjust(w) if n else v.ljust(w)
                                     for v, w, n in zip(values, widths, numeric)) + " |"

        rule = "|" + "|".join(("-" * (w + 1) + ":") if n else ("-" * (w + 2)) for w, n in zip(widths, numeric)) + "|"
        out = [f"### {self.title}", "", line(self.headers), rule, *(line(r) for r in cells)]
        if self.notes:
            out += ["", *self.notes]
        return "\n".join(out)


def _cell(value: object) -> str:
    """One table cell as text."""
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def read_text(path: Path) -> str:
    """A text file as UTF-8, or as Latin-1 when it is not valid UTF-8 (as the tagger reads its examples)."""
    from tasks.learn_terms import read_example

    return read_example(path)


def split_reference(summary: str) -> list[str]:
    """Split a BBC reference summary, whose sentences are run together, into its sentences."""
    return [s.strip() for s in REFERENCE_BREAK_RE.split(summary.strip()) if s.strip()]


def load_bbc(data_dir: Path, limit: int | None = None) -> list[BbcArticle]:
    """Read the BBC development set: every article with its reference (at most `limit` per category)."""
    root = Path(data_dir) / BBC_SET
    if not (root / "articles").is_dir():
        raise FileNotFoundError(f"{root}: no articles/ folder (pass --data pointing at the shared data)")
    articles: list[BbcArticle] = []
    for category in BBC_CATEGORIES:
        paths = sorted((root / "articles" / category).glob("*.txt"))
        for path in paths[:limit] if limit else paths:
            headline, _, body = read_text(path).strip().partition("\n")
            summary_path = root / "summaries" / category / path.name
            reference = split_reference(read_text(summary_path)) if summary_path.exists() else []
            articles.append(BbcArticle(category, path.stem, headline.strip(), body.strip(), tuple(reference)))
    return articles


def write_report(path: Path, report: object) -> None:
    """Write a benchmark's numbers as indented JSON, creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")


def part_main(argv: list[str] | None, prog: str, description: str | None, run: Callable[[Path, int | None], dict],
              table: Callable[[dict], str], default_out: Path, limit_help: str) -> int:
    """The command line of one evaluation part: run it on the data, print its tables, write its JSON."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder (default: %(default)s)")
    parser.add_argument("--limit", type=int, default=None, help=limit_help)
    parser.add_argument("--out", type=Path, default=default_out, help="JSON report (default: %(default)s)")
    args = parser.parse_args(argv)
    results = run(args.data, args.limit)
    print(table(results))
    write_report(args.out, results)
    print(f"\nnumbers written to {args.out}")
    return 0
