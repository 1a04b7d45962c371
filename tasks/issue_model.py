"""A linear issue model learned from examples: TF-IDF features of the words (unigrams, bigrams and stems) or of
their letters (character n-grams), one calibrated classifier per issue (and per part of an issue, when parts
are given); and a set of such models read as one."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import sys
import zipfile
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tasks.files import replaced
from tasks.text.language import stem, stop_words
from tasks.text.sentences import LETTER_RE, match_words

LOGGER = logging.getLogger(__name__)

# Bump when fitting or the features change, so cached models are refitted.
MODEL_FORMAT = 3
# Chosen by cross-validation on the NYT tuning half (bench/train_issue_model.py); also the settings
# used to fit a taxonomy's examples at run time.
C = 10.0                  # inverse regularisation of each issue's logistic regression
MIN_DF = 2                # a term must be in at least this many examples
CALIBRATION_FOLDS = 3     # Platt scaling fitted on this many cross-validation folds
MAX_EVIDENCE = 8          # terms kept as a tag's evidence
MIN_PART = 3              # examples a part of an issue needs for a classifier of its own (fit_model's parts)
MODEL_LANGUAGE = "english"


STEM_MARK = "~"           # stem features are written "~stem", apart from the words themselves
CHAR_SIZES = range(3, 7)  # character n-grams of 3 to 6 letters, within words padded with a space each side
# Words that say when a story is, not what it is about. They are no feature of any model: the NYT front
# pages point to their sections ("SPECIAL TODAY: Fashion", "Today's Art Pages"), which taught the models
# that "today" means culture.
WHEN_WORDS = frozenset({"today", "tonight", "yesterday", "tomorrow", "monday", "tuesday", "wednesday",
                        "thursday", "friday", "saturday", "sunday"})


def topical_words(text: str) -> list[str]:
    """The words of a text that can say what it is about: lowercased, without stop words, WHEN_WORDS,
    numbers or single letters."""
    stops = stop_words(MODEL_LANGUAGE)
    return [w for w in match_words(text)
            if len(w) > 1 and LETTER_RE.search(w) and w not in stops and w not in WHEN_WORDS]


def analyse(text: str) -> list[str]:
    """The word terms of a text: its topical_words, the bigrams of those words, and each word's stem as a
    feature of its own ("~custom"), so that "customers" and "customs" share a little but are still told
    apart by their words."""
    kept = topical_words(text)
    return [*kept, *(f"{a} {b}" for a, b in zip(kept, kept[1:])), *(STEM_MARK + stem(w) for w in kept)]


@functools.lru_cache(maxsize=1 << 16)  # words recur from article to article
def word_grams(word: str) -> tuple[str, ...]:
    """One word's character n-grams (CHAR_SIZES), the word padded with a space each side; a padded word
    shorter than an n-gram size is one n-gram of its own."""
    padded = f" {word} "
    found: list[str] = []
    for size in CHAR_SIZES:
        if len(padded) <= size:
            found.append(padded)
            break
        found.extend(padded[i:i + size] for i in range(len(padded) - size + 1))
    return tuple(found)


def char_words(text: str) -> list[str]:
    """The words whose letters the character features read: lowercased, stop words kept, WHEN_WORDS not."""
    return [w for w in match_words(text) if w not in WHEN_WORDS]


def char_grams(text: str) -> list[str]:
    """The character terms of a text: each word's n-grams (char_words, word_grams), so that misspelt and
    inflected words ("Britian", "immigrants") still meet the words they were learned from."""
    return [gram for word in char_words(text) for gram in word_grams(word)]


FEATURES = {"words": analyse, "chars": char_grams}  # a model's feature kind -> its terms of a text


def _check_features(features: str) -> None:
    """ValueError unless features names a kind of FEATURES."""
    if features not in FEATURES:
        raise ValueError(f"issue model features must be one of {', '.join(FEATURES)}, got {features!r}")


@dataclass(frozen=True)
class IssueModel:
    """Calibrated linear classifiers over shared TF-IDF features (sublinear tf, l2 norm): one per issue,
    and one per part of an issue that was given as such (a finer class, such as one sub-topic).

    p(row | text) = 1 / (1 + exp(a * (w . x + b) + c)), x the text's TF-IDF vector; an issue's
    probability is the largest of its rows' (its own and its parts'). The issues are scored independently
    (one-vs-rest), so a text can carry several.
    """

    issues: tuple[str, ...]
    terms: tuple[str, ...]
    idf: np.ndarray          # (terms,)
    coef: np.ndarray         # (rows, terms): the issues' own rows in order, then the parts'
    intercept: np.ndarray    # (rows,)
    calibration: np.ndarray  # (rows, 2): Platt's a and c
    owners: np.ndarray | None = None  # (rows,): the issue each row scores; None: one row per issue
    meta: dict[str, object] = field(default_factory=dict, compare=False)
    features: str = "words"  # which terms of a text the model reads: a key of FEATURES

    def __post_init__(self) -> None:
        _check_features(self.features)
        rows = len(self.coef)
        owners = np.arange(len(self.issues)) if self.owners is None else np.asarray(self.owners)
        if owners.dtype.kind not in "iu":
            raise ValueError(f"issue model owners must be whole numbers, got {owners.dtype}")
        object.__setattr__(self, "owners", owners)
        shapes = (self.idf.shape, self.coef.shape, self.intercept.shape, self.calibration.shape,
                  owners.shape)
        expected = ((len(self.terms),), (rows, len(self.terms)), (rows,), (rows, 2), (rows,))
        if shapes != expected or rows < len(self.issues):
            raise ValueError(f"issue model arrays have shapes {shapes}, expected {expected} with at least "
                             f"{len(self.issues)} rows")
        in_range = np.all((owners >= 0) & (owners < len(self.issues)))
        if not np.array_equal(owners[:len(self.issues)], np.arange(len(self.issues))) or not in_range:
            raise ValueError("issue model rows: the issues' own rows must come first, in order, and parts "
                             "must belong to an issue")
        object.__setattr__(self, "_column", {t: i for i, t in enumerate(self.terms)})

    def __getstate__(self) -> dict[str, object]:
        """The fields without the term index (rebuilt on arrival): the model travels to worker processes
        (once per stage on this machine, with every chunk on a Dask cluster)."""
        return {k: v for k, v in self.__dict__.items() if k != "_column"}

    def __setstate__(self, state: dict[str, object]) -> None:
        """Restore the fields and rebuild the term index."""
        for key, value in state.items():
            object.__setattr__(self, key, value)
        self.__post_init__()

    def vector(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The text's TF-IDF vector as (columns, values), l2-normalised; empty when no term is known."""
        column = self._column  # type: ignore[attr-defined]
        known = [(column[t], n) for t, n in Counter(FEATURES[self.features](text)).items() if t in column]
        if not known:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        columns = np.fromiter((c for c, _ in known), dtype=np.int64, count=len(known))
        values = np.fromiter((1.0 + math.log(n) for _, n in known), dtype=float, count=len(known))
        values *= self.idf[columns]
        return columns, values / np.linalg.norm(values)

    @property
    def language(self) -> str:
        """The language the model reads (of its examples: the shipped models', English), as language_name gives it."""
        return str(self.meta.get("language", MODEL_LANGUAGE))

    def predict(self, text: str) -> Prediction:
        """Each issue's probability for the text (its best row's), with what the evidence needs."""
        columns, values = self.vector(text)
        push = self.coef[:, columns].astype(np.float32) * values
        decision = push.sum(axis=1) + self.intercept
        a, c = self.calibration[:, 0], self.calibration[:, 1]
        rows = 1.0 / (1.0 + np.exp(np.clip(a * decision + c, -30, 30)))
        # each issue's most probable row: sorted by issue, then by probability, highest first (ties: own row)
        order = np.lexsort((-rows, self.owners))
        best = order[np.searchsorted(self.owners[order], np.arange(len(self.issues)))]  # type: ignore[index]
        return Prediction(rows[best], best, columns, push, text)

    def evidence(self, issue: int, prediction: Prediction, most: int = MAX_EVIDENCE) -> list[tuple[str, float]]:
        """The terms of the text that raised one issue's log-odds most (in its best row), as written there,
        with how much."""
        best = prediction.rows[issue]
        row = prediction.push[best] * -self.calibration[best, 0]
        if self.features == "chars":
            return self._word_evidence(row, prediction, most)
        words = prediction.words_by_stem
        found: dict[str, float] = {}
        for i in np.argsort(-row, kind="stable"):
            if row[i] <= 0 or len(found) >= most:
                break
            term = self.terms[prediction.columns[i]]
            surface = words.get(term, term) if term.startswith(STEM_MARK) else term
            found.setdefault(surface, float(row[i]))
        return list(found.items())

    def _word_evidence(self, row: np.ndarray, prediction: Prediction, most: int) -> list[tuple[str, float]]:
        """A character model's evidence as words: each n-gram's push shared out among the text's words that
        hold it, the words that gained most first; only topical_words are shown (stop words are read)."""
        push = {self.terms[column]: float(value) for column, value in zip(prediction.columns, row)}
        grams_of = {word: set(word_grams(word)) for word in dict.fromkeys(char_words(prediction.text))}
        holders = Counter(gram for grams in grams_of.values() for gram in grams)
        gained = {word: sum(push.get(gram, 0.0) / holders[gram] for gram in grams) for word, grams in grams_of.items()}
        shown = set(topical_words(prediction.text))
        ranked = sorted((w for w, v in gained.items() if v > 0 and w in shown), key=lambda w: (-gained[w], w))
        return [(word, gained[word]) for word in ranked[:most]]


    def save(self, path: Path) -> None:
        """Write the model as a compressed .npz of plain arrays (no pickled objects), atomically."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with replaced(path, suffix=".npz") as temporary:  # numpy adds .npz to a name without it
            # half precision keeps three significant digits of each weight, plenty for a linear score
            np.savez_compressed(temporary, issues=np.array(self.issues), terms=np.array(self.terms),
                                idf=self.idf.astype(np.float16), coef=self.coef.astype(np.float16),
                                intercept=self.intercept, calibration=self.calibration, owners=self.owners,
                                features=np.array(self.features), meta=np.array(json.dumps(self.meta, sort_keys=True)))


@dataclass(frozen=True)
class Prediction:
    """An issue model's reading of one text: each issue's probability (its best row's) and each term's push
    per model row."""

    probabilities: np.ndarray   # (issues,)
    rows: np.ndarray            # (issues,): the model row each issue's probability comes from
    columns: np.ndarray         # the text's terms, as model columns
    push: np.ndarray            # (rows, columns): weight times TF-IDF value, in decision units
    text: str

    @functools.cached_property
    def words_by_stem(self) -> dict[str, str]:
        """The first word of the text for each stem feature ("~custom" -> "customers"), worked out once
        for all the issues whose evidence is asked for."""
        found: dict[str, str] = {}
        for word in match_words(self.text):
            found.setdefault(STEM_MARK + stem(word), word)
        return found


@dataclass(frozen=True)
class ModelSet:
    """Issue models read as one, such as a word model and a character model of the same issues: an issue's
    probability is the largest any of them gives it (as an issue's is the best of one model's rows), and
    its evidence comes from the model that gave it."""

    models: tuple[IssueModel, ...]
    issues: tuple[str, ...] = field(init=False)  # every model's issues, in order of first appearance
    slots: tuple[np.ndarray, ...] = field(init=False, compare=False)  # per model: its issues' places in issues

    def __post_init__(self) -> None:
        if not self.models:
            raise ValueError("a model set needs at least one model")
        issues = tuple(dict.fromkeys(n for m in self.models for n in m.issues))
        object.__setattr__(self, "issues", issues)
        object.__setattr__(self, "slots", tuple(np.array([issues.index(n) for n in m.issues]) for m in self.models))

    @property
    def language(self) -> str:
        """The language of the models (the first one's: a set reads one language)."""
        return self.models[0].language

    def predict(self, text: str) -> SetPrediction:
        """Each issue's best probability over the models, and which model gave it (the first, on a tie)."""
        predictions = tuple(model.predict(text) for model in self.models)
        table = np.full((len(self.models), len(self.issues)), -1.0)
        for k, (slots, prediction) in enumerate(zip(self.slots, predictions)):
            table[k, slots] = prediction.probabilities
        chosen = table.argmax(axis=0)
        return SetPrediction(table[chosen, np.arange(len(self.issues))], chosen, predictions)

    def evidence(self, issue: int, prediction: SetPrediction, most: int = MAX_EVIDENCE) -> list[tuple[str, float]]:
        """The evidence of the model that gave the issue its probability."""
        model = self.models[prediction.chosen[issue]]
        return model.evidence(model.issues.index(self.issues[issue]), prediction.predictions[prediction.chosen[issue]],
                              most)


@dataclass(frozen=True)
class SetPrediction:
    """A model set's reading of one text: each issue's best probability, the model it came from, and every
    model's own reading."""

    probabilities: np.ndarray        # (issues,)
    chosen: np.ndarray               # (issues,): index into ModelSet.models
    predictions: tuple[Prediction, ...]


def load_model(path: Path) -> IssueModel:
    """Read a model written by IssueModel.save (ValueError when the file is not one)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            # the weights stay in the file's half precision (the model goes to the workers: 6 MB, not 12);
            # each prediction widens the few columns it reads
            return IssueModel(tuple(str(i) for i in data["issues"]), tuple(str(t) for t in data["terms"]),
                              data["idf"].astype(np.float32), data["coef"],
                              data["intercept"].astype(float), data["calibration"].astype(float),
                              data["owners"].astype(np.int64) if "owners" in data else None,
                              json.loads(str(data["meta"])), str(data["features"]) if "features" in data else "words")
    except (KeyError, OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:  # ValueError: pickled data, bad JSON
        raise ValueError(f"not an issue model ({exc.__class__.__name__}: {exc})") from None


@contextmanager
def _dataframe_libraries_unmarked() -> Iterator[None]:
    """Hide the `sys.modules[name] = None` marks for absent dataframe libraries while scikit-learn fits.

    warehouse/connect.py marks pandas absent that way so DuckDB stops trying to import it; scikit-learn
    looks the module up in sys.modules and fails on the None. Without the mark it finds no module.
    """
    marked = [name for name in ("pandas", "polars", "pyarrow") if name in sys.modules and sys.modules[name] is None]
    for name in marked:
        del sys.modules[name]
    try:
        yield
    finally:
        for name in marked:
            sys.modules.setdefault(name, None)  # type: ignore[arg-type]


def fit_model(texts: Sequence[str], labels: Sequence[frozenset[str]], issues: Sequence[str], c: float = C,
              min_df: int = MIN_DF, meta: dict[str, object] | None = None,
              groups: Sequence[object] | None = None, parts: Sequence[tuple[str, str] | None] | None = None,
              min_part: int = MIN_PART, features: str = "words") -> IssueModel:
    """Fit one calibrated logistic regression per issue, and per part of an issue, (one-vs-rest) on TF-IDF
    features: of the words (unigrams, bigrams and stems: analyse) or, with features="chars", of their
    letters (char_grams).

    `labels[i]` holds the issues example i belongs to (empty: a negative example for every issue).
    `groups[i]`, when given, names the item example i was taken from: texts of one item (its headline
    alone, say, beside the whole) stay in one calibration fold, so the calibration is not fitted on
    texts the classifier has seen.
    `parts[i]`, when given, is (issue, part): the finer class of example i within one of its issues, such
    as a sub-topic of a code book; the issue must be one of the example's labels. Each part with at least
    `min_part` examples (items, with groups; never fewer than 2) gets a classifier of its own (its
    examples against all others), and the issue's probability becomes the largest of its own and its
    parts': a narrow kind of story that the issue's one classifier weighs against its broad vocabulary
    still reaches the issue. Parts of issues not in `issues` are left out.
    """
    _check_features(features)
    with _dataframe_libraries_unmarked():
        return _fit(texts, labels, issues, c, min_df, meta, groups, parts, min_part, features)


def _fit(texts: Sequence[str], labels: Sequence[frozenset[str]], issues: Sequence[str], c: float, min_df: int,
         meta: dict[str, object] | None, groups: Sequence[object] | None,
         parts: Sequence[tuple[str, str] | None] | None, min_part: int, features: str) -> IssueModel:
    """fit_model's work (see there)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(analyzer=FEATURES[features], min_df=min_df, sublinear_tf=True)
    matrix = vectorizer.fit_transform(texts)
    terms = tuple(vectorizer.get_feature_names_out())
    if parts is not None and len(parts) != len(texts):
        raise ValueError(f"{len(parts)} parts for {len(texts)} examples")
    for index, part in enumerate(parts or ()):
        if part is not None and part[0] not in labels[index]:
            raise ValueError(f"example {index} is given part {part!r} of an issue it is not labelled with")
    min_part = max(2, min_part)
    # each example's item, numbered in order of first appearance (without groups, each example is one)
    numbers: dict[object, int] = {}
    item_of = np.arange(len(texts)) if groups is None else np.array([numbers.setdefault(g, len(numbers))
                                                                     for g in groups])
    # a part's examples are counted as items, as the calibration folds are drawn over items
    counted = Counter(p for p, _ in {(p, item_of[index])
                                     for index, p in enumerate(parts or ()) if p is not None and p[0] in issues})
    kept = sorted(p for p, n in counted.items() if n >= min_part)
    targets = [(repr(issue), np.array([issue in found for found in labels], dtype=int)) for issue in issues]
    targets += [(f"{issue!r} part {part!r}", np.array([p == (issue, part) for p in parts or ()], dtype=int))
                for issue, part in kept]
    fitted = [_fit_row(matrix, target, name, c, item_of) for name, target in targets]
    return IssueModel(tuple(issues), terms, vectorizer.idf_.astype(float), np.array([f[0] for f in fitted]),
                      np.array([f[1] for f in fitted]), np.array([f[2] for f in fitted]),
                      np.array([*range(len(issues)), *(list(issues).index(issue) for issue, _ in kept)]),
                      {"format": MODEL_FORMAT, "C": c, "min_df": min_df, "examples": len(texts),
                       **({"parts": [f"{issue} {part}" for issue, part in kept], "min_part": min_part}
                          if parts is not None else {}), **(meta or {})}, features)


def _fit_row(matrix: object, target: np.ndarray, name: str, c: float,
             item_of: np.ndarray) -> tuple[np.ndarray, float, tuple[float, float]]:
    """One calibrated logistic regression of target against the rest: its weights, intercept and Platt's a, c.
    The calibration folds are stratified over items (item_of: each example's item number): an item is in
    the issue when any of its texts is, and all its texts fall in one fold."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    item_target = np.zeros(int(item_of.max()) + 1, dtype=int)
    np.maximum.at(item_target, item_of, target)
    folds = min(CALIBRATION_FOLDS, int(item_target.sum()), int(len(item_target) - item_target.sum()))
    if folds < 2:
        raise ValueError(f"issue {name} needs at least 2 examples in it and 2 outside it to be learned")
    fold_of_item = np.zeros(len(item_target), dtype=int)
    for k, (_, held) in enumerate(StratifiedKFold(folds).split(np.zeros(len(item_target)), item_target)):
        fold_of_item[held] = k
    row_fold = fold_of_item[item_of]
    splits = [(np.flatnonzero(row_fold != k), np.flatnonzero(row_fold == k)) for k in range(folds)]
    # liblinear: several times quicker than lbfgs on these sparse one-vs-rest problems
    model = CalibratedClassifierCV(LogisticRegression(C=c, solver="liblinear"), method="sigmoid", cv=splits,
                                   ensemble=False).fit(matrix, target)
    pair = model.calibrated_classifiers_[0]
    return pair.estimator.coef_[0], pair.estimator.intercept_[0], (pair.calibrators[0].a_, pair.calibrators[0].b_)


def examples_digest(files: Sequence[tuple[str, Path]]) -> str:
    """A hash of what a fitted model depends on: each (issue, file)'s name and bytes, and the fitting settings."""
    digest = hashlib.sha256(f"format {MODEL_FORMAT} C {C} min_df {MIN_DF} language\n".encode())
    for issue, path in sorted(files, key=lambda item: (item[0], str(item[1]))):
        digest.update(f"{issue}\0{path.name}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
