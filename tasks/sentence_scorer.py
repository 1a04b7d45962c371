"""How likely each sentence of a news text belongs in its summary: cheap features and a logistic model."""

from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MODEL_PATH = Path(__file__).resolve().parent.parent / "config" / "models" / "sentence_scorer.json"

# Caption, credit and page furniture that news sites leave in the text (DailyMail's "(pictured)",
# "Scroll down for video", "PUBLISHED: ... | UPDATED: ...", "By . Daily Mail Reporter ."): plain
# substring tests on the lowercased sentence first, a regex only where a bracket or "photo" is seen.
CAPTION_PHRASES = ("scroll down", "published:", "updated:", "daily mail reporter", "for dailymail.com",
                   "click here", "click the video", "click below", "watch here", "watch the video", "watch below")
CAPTION_STARTS = ("by .", "pictured:", "above:", "below:", "left:", "right:")
CAPTION_BRACKET_RE = re.compile(r"\((?:pictured|left|right|centre|center|above|below|top|bottom|file)\b")
PHOTO_RE = re.compile(r"\bphoto(?:graph)?s?:")
TIMESTAMP_RE = re.compile(r"\b\d{1,2}:\d{2}(?:\s?(?:[AP]M|EST|GMT|BST|ET|UTC))?\b|\bEST\b|\bGMT\b", re.IGNORECASE)
# Two sentences run together without a space ("...forever.He said"): a caption or quote pasted on.
JOINED_RE = re.compile(r"[a-z)\]][.!?][\"'”’]?[A-Z][a-z]")
QUOTE_RE = re.compile(r"[\"“”]")
FIRST_PERSON_RE = re.compile(r"\b(?:I|we|my|our|me|us|you|your)\b")
DIGIT_RE = re.compile(r"\d")
SENTENCE_END_RE = re.compile(r"""[.!?…]["'”’)\]»]*$""")
MAX_POSITION = 10

# The feature names, in the models' order.
FEATURES = (
    "pos_0", "pos_1", "pos_2", "pos_3_4", "pos_5_9", "relative_position", "paragraph_start",
    "log_words", "short", "long", "centrality", "centrality_rank", "content_overlap",
    "title_similarity", "quote", "starts_with_quote", "first_person", "digits", "capitalised_share",
    "caption", "timestamp", "joined", "no_end_punctuation", "question",
)
REGIMES = ("short", "long")


@dataclass(frozen=True)
class SentenceInfo:
    """What the scorer needs of one candidate sentence: its text, place and content stems."""

    text: str
    position: int             # among its article's candidate sentences
    count: int                # candidate sentences in its article
    paragraph_start: bool
    stems: frozenset[str]     # content stems (no stop words)
    word_count: int


def _rank_share(values: np.ndarray) -> np.ndarray:
    """1 for the largest value, falling to 0 for the smallest (ties share a rank)."""
    if len(values) < 2:
        return np.ones(len(values))
    order = (-values).argsort(kind="stable").argsort(kind="stable")
    return 1.0 - order / (len(values) - 1)


def _title_similarity(stems: frozenset[str], title: frozenset[str]) -> float:
    """Cosine of two sets of stems (0 without a title)."""
    if not stems or not title:
        return 0.0
    return len(stems & title) / math.sqrt(len(stems) * len(title))


def is_caption(text: str) -> bool:
    """Whether a sentence reads as a caption, credit, byline or video prompt rather than story text."""
    lower = text.lower()
    return (any(phrase in lower for phrase in CAPTION_PHRASES) or lower.startswith(CAPTION_STARTS)
            or ("(" in lower and CAPTION_BRACKET_RE.search(lower) is not None)
            or ("photo" in lower and PHOTO_RE.search(lower) is not None))


def _text_features(text: str) -> list[float]:
    """The features that depend on the sentence text alone."""
    tokens = text.split()
    capitalised = sum(1 for w in tokens[1:] if w[:1].isupper())
    return [
        float(bool(QUOTE_RE.search(text))), float(text[:1] in "\"“'‘"), float(bool(FIRST_PERSON_RE.search(text))),
        float(bool(DIGIT_RE.search(text))), capitalised / max(1, len(tokens) - 1),
        float(is_caption(text)), float(bool(TIMESTAMP_RE.search(text))),
        float(bool(JOINED_RE.search(text))), float(not SENTENCE_END_RE.search(text)), float(text.rstrip().endswith("?")),
    ]


def sentence_features(sentences: list[SentenceInfo], centrality: np.ndarray, title_stems: frozenset[str]) -> np.ndarray:
    """One row of FEATURES per sentence (sentences of one text, or of several reports of one story)."""
    if not sentences:
        return np.zeros((0, len(FEATURES)))
    central = centrality / centrality.max() if centrality.max() > 0 else np.zeros(len(sentences))
    rank = _rank_share(centrality)
    frequency: dict[str, int] = {}
    for s in sentences:
        for stem in s.stems:
            frequency[stem] = frequency.get(stem, 0) + 1
    rows = []
    for s, c, r in zip(sentences, central, rank):
        place = min(s.position, MAX_POSITION)
        relative = s.position / max(1, s.count - 1)
        log_words = math.log1p(s.word_count)
        overlap = sum(frequency[t] - 1 for t in s.stems) / max(1, len(s.stems)) / max(1, len(sentences) - 1)
        rows.append([
            float(place == 0), float(place == 1), float(place == 2), float(3 <= place <= 4), float(5 <= place <= 9),
            relative, float(s.paragraph_start), log_words, float(s.word_count < 8), float(s.word_count > 40),
            float(c), float(r), overlap, _title_similarity(s.stems, title_stems), *_text_features(s.text),
        ])
    return np.asarray(rows, dtype=float)


@dataclass(frozen=True)
class LinearModel:
    """A logistic model over standardised features: weights, intercept, and each feature's mean and scale."""

    weights: np.ndarray
    intercept: float
    mean: np.ndarray
    scale: np.ndarray

    def __post_init__(self) -> None:
        if not len(self.weights) == len(self.mean) == len(self.scale) == len(FEATURES):
            raise ValueError(f"a sentence model needs {len(FEATURES)} weights, means and scales")

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """The model's probability that each sentence belongs in the summary."""
        z = ((features - self.mean) / self.scale) @ self.weights + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))

    def as_dict(self) -> dict[str, object]:
        """The model as plain data: each feature's weight, mean and scale, and the intercept."""
        return {"features": {name: {"weight": round(float(w), 6), "mean": round(float(m), 6),
                                    "scale": round(float(s), 6)}
                             for name, w, m, s in zip(FEATURES, self.weights, self.mean, self.scale)},
                "intercept": round(float(self.intercept), 6)}


def _linear_model(data: dict) -> LinearModel:
    """Read LinearModel.as_dict's form; ValueError when a feature is missing."""
    features = data["features"]
    missing = [name for name in FEATURES if name not in features]
    if missing:
        raise ValueError(f"sentence model lacks features {', '.join(missing)}")
    column = {key: np.array([float(features[name][key]) for name in FEATURES]) for key in ("weight", "mean", "scale")}
    return LinearModel(column["weight"], float(data["intercept"]), column["mean"], column["scale"])


@dataclass(frozen=True)
class SentenceScorer:
    """Two sentence models, chosen by the budget: a short budget (a few sentences of a long text, as in
    the digest) and a long one (a large share of the text), with the selection settings beside them."""

    short: LinearModel
    long: LinearModel
    long_share: float = 0.3       # budget / candidate sentences at or above which the long model ranks
    mmr_lambda: float = 1.0
    lede_margin: float = 0.0      # story summaries: another sentence leads only when this much more likely

    def probabilities(self, features: np.ndarray, budget: int) -> np.ndarray:
        """Each sentence's probability of belonging in a summary of `budget` sentences."""
        if not len(features):
            return np.zeros(0)
        model = self.long if budget / len(features) >= self.long_share else self.short
        return model.probabilities(features)

    def to_json(self, meta: dict[str, object]) -> str:
        """The scorer as JSON, with a note of how it was made."""
        return json.dumps({"models": {"short": self.short.as_dict(), "long": self.long.as_dict()},
                           "long_share": self.long_share, "mmr_lambda": self.mmr_lambda,
                           "lede_margin": self.lede_margin, "meta": meta}, indent=1) + "\n"


def scorer_from_json(text: str) -> SentenceScorer:
    """Read a scorer written by SentenceScorer.to_json; raise ValueError when it does not fit FEATURES."""
    data = json.loads(text)
    return SentenceScorer(_linear_model(data["models"]["short"]), _linear_model(data["models"]["long"]),
                          float(data["long_share"]), float(data.get("mmr_lambda", 1.0)),
                          float(data.get("lede_margin", 0.0)))


@functools.cache
def default_scorer() -> SentenceScorer:
    """The shipped model (config/models/sentence_scorer.json), read once per process."""
    return scorer_from_json(MODEL_PATH.read_text(encoding="utf-8"))
