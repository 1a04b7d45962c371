"""Learns issues from example articles: an issue model fitted on the files, cached by a hash of them."""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

from tasks.issue_model import IssueModel, analyse, examples_digest, fit_model, load_model
from tasks.text.language import detect_language, language_name

LOGGER = logging.getLogger(__name__)

CACHE_FOLDER = Path(".cache") / "issue-models"   # under the project root
KEEP_CACHED = 8   # models kept in the cache, the most recently used: each edit of the examples makes a new one


def read_example(path: Path) -> str:
    """An example article's text, as UTF-8 or else Latin-1."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def examples_language(texts: Sequence[str]) -> str:
    """The language most of the examples are in (language_name's; English when none can be told)."""
    found = Counter(language_name(code) for code in map(detect_language, texts) if code)
    return found.most_common(1)[0][0] if found else language_name(None)


OTHER = ""  # the "issue" of the examples of other news in examples_digest: no issue's name is empty


def learn_from_examples(files: Mapping[str, Sequence[Path]], cache_dir: Path, other: Sequence[Path] = ()) -> IssueModel:
    """The issue model for these example files (issue -> files): read from the cache when the same
    files (by name and content) were fitted before, otherwise fitted and written to the cache.

    A file listed under several issues is an example of each; every issue learns against the others'
    examples and against other (articles about none of the issues; a file also listed under an issue
    is that issue's). Raises ValueError when an issue has too few examples to be learned or no learned word
    in them, OSError when a file cannot be read.
    """
    pairs = [(issue, path) for issue, paths in files.items() for path in paths]
    digest = examples_digest(pairs + [(OTHER, path) for path in other])
    cached = cache_dir / f"{digest}.npz"
    if cached.is_file():
        try:
            model = load_model(cached)
            _used(cached)
        except (ValueError, OSError) as exc:  # unreadable, or pruned by another process a moment ago
            LOGGER.warning("cached issue model %s is unreadable (%s); fitting again", cached, exc)
        else:  # a model cached before every issue was checked has its examples read again
            _check_learned(model, files, {p.resolve(): read_example(p) for paths in files.values() for p in paths})
            return model
    labels: dict[Path, set[str]] = {path.resolve(): set() for path in other}
    for issue, path in pairs:
        labels.setdefault(path.resolve(), set()).add(issue)
    ordered = sorted(labels)
    texts = [read_example(p) for p in ordered]
    model = fit_model(texts, [frozenset(labels[p]) for p in ordered], sorted(files),
                      meta={"digest": digest, "source": "taxonomy examples", "language": examples_language(texts)})
    _check_learned(model, files, dict(zip(ordered, texts)))
    try:
        model.save(cached)
    except OSError as exc:
        LOGGER.warning("cannot cache the issue model in %s (%s); it will be fitted again next run", cache_dir, exc)
    else:
        _prune(cache_dir)
    LOGGER.info("fitted an issue model for %d issues on %d example files, %d of other news (cached as %s)", len(files),
                len(ordered), len(other), cached.name)
    return model


def _check_learned(model: IssueModel, files: Mapping[str, Sequence[Path]], text_of: Mapping[Path, str]) -> None:
    """ValueError unless each issue's examples hold a word the model learned (text_of: each resolved file's
    text): an issue without one has a model that reads nothing and can never be tagged."""
    learned = set(model.terms)
    for issue in sorted(files):
        if not any(term in learned for path in files[issue] for term in analyse(text_of[path.resolve()])):
            raise ValueError(f"no word of issue {issue!r}'s examples is learned")


def _used(cached: Path) -> None:
    """Mark a cached model as just used (its modification time), so that pruning keeps it."""
    try:
        os.utime(cached)
    except OSError:
        pass  # a read-only cache still serves


def _prune(cache_dir: Path) -> None:
    """Remove all but the KEEP_CACHED most recently used models from the cache."""
    def used_at(path: Path) -> float:
        try:
            return path.stat().st_mtime
        except OSError:
            return 0.0

    # a name starting with "." is another process's model, half written
    models = [p for p in cache_dir.glob("*.npz") if not p.name.startswith(".")]
    for stale in sorted(models, key=used_at, reverse=True)[KEEP_CACHED:]:
        try:
            stale.unlink()
        except OSError:
            pass  # gone already (another process pruned it) or not ours to remove: next run tries again
        else:
            LOGGER.info("removed the cached issue model %s, not used by the latest runs", stale.name)
