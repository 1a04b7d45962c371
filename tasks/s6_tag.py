"""Tags articles with issues from a weighted keyword taxonomy, hand-written or learned from example articles."""

from __future__ import annotations

import json
import logging
import math
import re
import tomllib
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from config.settings import ConfigError, TagSettings
from tasks.learn_terms import DEFAULT_TOP_N, PRIOR_STRENGTH, TermCounts, count_terms, rank_terms, term_weights
from tasks.records import Article, Tag
from tasks.text.language import language_name
from tasks.text.sentences import match_terms

LOGGER = logging.getLogger(__name__)

TAXONOMY_LANGUAGE = "english"     # the language the taxonomy's keywords are written (and stemmed) in
ISSUE_KEYS = ("description", "keywords", "examples")
ISSUE_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
EXAMPLE_SUFFIXES = (".txt", ".md")
MAX_WEIGHT = 100.0
TITLE_WEIGHT = 3                  # a match in the title counts as this many matches in the text
REFERENCE_WORDS = 300             # longer texts have their score scaled by sqrt(REFERENCE_WORDS / words)
SOURCE_DEFAULT_EVIDENCE = ("source default",)


@dataclass(frozen=True)
class Issue:
    """One issue of the taxonomy: its keywords as stemmed phrases with their weights."""

    name: str
    description: str
    keywords: dict[str, float]  # stemmed phrase (stems joined by spaces) -> weight
    surface: dict[str, str] = field(default_factory=dict, compare=False)  # stemmed phrase -> term as written

    def __hash__(self) -> int:
        return hash(self.name)  # the dicts are not hashable; equal issues share a name


@dataclass(frozen=True)
class Taxonomy:
    """The issues articles can be tagged with."""

    issues: tuple[Issue, ...]


def _phrase(term: str, language: str) -> str:
    """A keyword as its stemmed phrase key."""
    return " ".join(match_terms(term, language))


def _fail(path: Path, where: str, message: str) -> ConfigError:
    """A one-line ConfigError naming the taxonomy file and the key at fault."""
    return ConfigError(f"{path}: {where} {message}".replace("\n", " "))


def issue_from_terms(name: str, keywords: dict[str, float], description: str = "",
                     learned: dict[str, float] | None = None) -> Issue:
    """Build an issue from terms as written (term -> weight); a hand-written keyword beats a learned term."""
    stemmed: dict[str, float] = {}
    surface: dict[str, str] = {}
    for term, weight in (learned or {}).items():
        key = _phrase(term, TAXONOMY_LANGUAGE)
        if key and key not in stemmed:
            stemmed[key] = float(weight)
            surface[key] = term.strip().lower()
    handwritten: set[str] = set()
    for term, weight in keywords.items():
        key = _phrase(term, TAXONOMY_LANGUAGE)
        if not key:
            continue
        if key in handwritten:
            LOGGER.debug("issue %s: %r and %r match the same words; keeping the higher weight", name, term,
                         surface[key])
            stemmed[key] = max(float(weight), stemmed[key])
        else:
            stemmed[key] = float(weight)
            surface[key] = term.strip().lower()
            handwritten.add(key)
    return Issue(name=name, description=description.strip(), keywords=stemmed, surface=surface)


def _check_issue(path: Path, name: str, table: object) -> tuple[str, dict[str, float], list[str]]:
    """Check one [issues.<name>] table; return its description, keywords and example paths as written."""
    where = f"issues.{name}"
    if not ISSUE_NAME_RE.match(name):
        raise _fail(path, where, "is not a valid issue name (lowercase letters, digits and underscores)")
    if not isinstance(table, dict):
        raise _fail(path, where, f"must be a table with description and keywords or examples, got {table!r}")
    for key in table:
        if key not in ISSUE_KEYS:
            raise _fail(path, f"{where}.{key}", f"is not a known key (known: {', '.join(ISSUE_KEYS)})")
    description = table.get("description", "")
    if not isinstance(description, str):
        raise _fail(path, f"{where}.description", f"must be a string, got {description!r}")
    examples = table.get("examples", [])
    if "examples" in table and (not isinstance(examples, list) or not examples
                                or not all(isinstance(e, str) and e.strip() for e in examples)):
        raise _fail(path, f"{where}.examples", f"must be a non-empty list of file or folder paths, got {examples!r}")
    if "keywords" not in table and not examples:
        raise _fail(path, f"{where}.keywords", "is missing (a table of term = weight; or give examples)")
    raw = table.get("keywords", {})
    if not isinstance(raw, dict) or (not raw and not examples):
        raise _fail(path, f"{where}.keywords", f"must be a non-empty table of term = weight, got {raw!r}")
    for term, weight in raw.items():
        at = f"{where}.keywords.{json.dumps(term, ensure_ascii=False)}"
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise _fail(path, at, f"must be a number, got {weight!r}")
        if not 0 < weight <= MAX_WEIGHT:
            raise _fail(path, at, f"must be above 0 and at most {MAX_WEIGHT:g}, got {weight!r}")
        if not _phrase(term, TAXONOMY_LANGUAGE):
            raise _fail(path, at, "has no words to match")
    return description, {t: float(w) for t, w in raw.items()}, list(examples)


def _project_root(path: Path) -> Path:
    """The folder example paths are relative to: the parent of config/, else the taxonomy's own folder."""
    folder = path.resolve().parent
    return folder.parent if folder.name == "config" else folder


def _example_files(path: Path, name: str, examples: list[str]) -> list[Path]:
    """The text files an issue's examples name (folders are searched recursively for .txt and .md)."""
    root = _project_root(path)
    files: list[Path] = []
    for entry in examples:
        target = root / Path(entry).expanduser()
        where = f"issues.{name}.examples {json.dumps(entry, ensure_ascii=False)}"
        if target.is_dir():
            found = sorted(p for p in target.rglob("*") if p.is_file() and p.suffix.lower() in EXAMPLE_SUFFIXES)
            if not found:
                raise _fail(path, where, f"is a folder with no {' or '.join(EXAMPLE_SUFFIXES)} files")
            files.extend(found)
        elif target.is_file():
            files.append(target)
        else:
            raise _fail(path, where, f"does not exist (paths are relative to {root})")
    return files


def _read_example(path: Path) -> str:
    """An example article's text, as UTF-8 or else Latin-1."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def learned_keywords(counts: dict[str, TermCounts], top_n: int = DEFAULT_TOP_N,
                     prior_strength: float = PRIOR_STRENGTH) -> dict[str, dict[str, float]]:
    """Each issue's learned terms, from its examples' term counts against all the other issues' examples."""
    pooled: Counter[str] = Counter()
    for found in counts.values():
        pooled.update(found.documents)
    return {name: term_weights(rank_terms(target, pooled - target.documents, top_n, prior_strength=prior_strength))
            for name, target in counts.items()}


def _learn(path: Path, checked: dict[str, tuple[str, dict[str, float], list[str]]]) -> dict[str, dict[str, float]]:
    """Learn terms for the issues that list examples, each against the others' examples."""
    with_examples = [name for name, (_, _, examples) in checked.items() if examples]
    if not with_examples:
        return {}
    if len(with_examples) == 1:
        raise _fail(path, f"issues.{with_examples[0]}.examples",
                    "cannot be learned from alone: terms are learned against other issues' examples (give two or more)")
    counts: dict[str, TermCounts] = {}
    for name in with_examples:
        files = _example_files(path, name, checked[name][2])
        try:
            counts[name] = count_terms((_read_example(f) for f in files), TAXONOMY_LANGUAGE)
        except OSError as exc:
            raise _fail(path, f"issues.{name}.examples", f"cannot be read ({exc})") from None
    learned = learned_keywords(counts)
    for name in with_examples:
        LOGGER.info("%s: issue %s learned %d terms from %d examples", path, name, len(learned[name]),
                    counts[name].size)
    return learned


def load_taxonomy(path: Path) -> Taxonomy:
    """Read and check an issue taxonomy TOML file; raise ConfigError with a one-line reason.

    Issues that list examples get terms learned from them (against the other issues' examples),
    merged with their hand-written keywords.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ({exc.__class__.__name__}: {exc})".replace("\n", " ")) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})".replace("\n", " ")) from None
    for key in data:
        if key != "issues":
            raise _fail(path, key, "is not a known section (expected [issues.<name>] tables)")
    issues = data.get("issues")
    if not isinstance(issues, dict) or not issues:
        raise _fail(path, "issues", "must hold at least one [issues.<name>] table")
    checked = {name: _check_issue(path, name, table) for name, table in issues.items()}
    learned = _learn(path, checked)
    return Taxonomy(issues=tuple(issue_from_terms(name, keywords, description, learned.get(name))
                                 for name, (description, keywords, _) in checked.items()))


@dataclass(frozen=True)
class _Matcher:
    """The taxonomy's phrases indexed by their stem tuples, for one language."""

    phrases: dict[tuple[str, ...], list[tuple[int, str]]]  # stems -> [(issue index, phrase key)]
    lengths: tuple[int, ...]                                 # phrase lengths, longest first


def _matcher(taxonomy: Taxonomy, language: str) -> _Matcher:
    """Index the taxonomy's phrases, re-stemming them when the text is not in the taxonomy's language."""
    phrases: dict[tuple[str, ...], list[tuple[int, str]]] = defaultdict(list)
    for index, issue in enumerate(taxonomy.issues):
        for key in issue.keywords:
            stems = key if language == TAXONOMY_LANGUAGE else _phrase(issue.surface.get(key, key), language)
            phrases[tuple(stems.split())].append((index, key))
    return _Matcher(dict(phrases), tuple(sorted({len(p) for p in phrases}, reverse=True)))


def _count_matches(terms: list[str], matcher: _Matcher) -> dict[int, Counter[str]]:
    """Count each issue's phrases in a term list; within an issue, longer phrases win overlaps."""
    found: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
    for start in range(len(terms)):
        for length in matcher.lengths:
            for issue, key in matcher.phrases.get(tuple(terms[start:start + length]), ()):
                found[issue].append((start, length, key))
    counts: dict[int, Counter[str]] = {}
    for issue, matches in found.items():
        counter: Counter[str] = Counter()
        covered_until = 0
        for start, length, key in sorted(matches, key=lambda m: (m[0], -m[1])):
            if start >= covered_until:
                counter[key] += 1
                covered_until = start + length
        counts[issue] = counter
    return counts


def _tag(title: str | None, text: str, taxonomy: Taxonomy, matcher: _Matcher, language: str,
         min_score: float, max_tags: int) -> list[Tag]:
    """Score every issue on one article and keep the best ones."""
    body_terms = match_terms(text, language)
    body = _count_matches(body_terms, matcher)
    heading = _count_matches(match_terms(title, language), matcher) if title else {}
    length_scale = 1.0 / math.sqrt(max(1.0, len(body_terms) / REFERENCE_WORDS))
    tags: list[Tag] = []
    for index in body.keys() | heading.keys():
        issue = taxonomy.issues[index]
        counts = body.get(index, Counter())
        title_counts = heading.get(index, Counter())
        contributions: dict[str, float] = {}
        for key in counts.keys() | title_counts.keys():
            count = counts[key] + TITLE_WEIGHT * title_counts[key]
            contributions[key] = issue.keywords[key] * (1 + math.log(count))
        score = round(sum(contributions.values()) * length_scale, 4)
        if score >= min_score:
            ranked = sorted(contributions, key=lambda k: (-contributions[k], issue.surface.get(k, k)))
            tags.append(Tag(issue.name, score, tuple(issue.surface.get(k, k) for k in ranked)))
    tags.sort(key=lambda t: (-t.score, t.issue))
    return tags[:max(0, max_tags)]


def tag_text(title: str | None, text: str, taxonomy: Taxonomy, min_score: float = 1.0, max_tags: int = 5,
             language: str = "english") -> list[Tag]:
    """Tag one article with the taxonomy's issues, best first, each with the terms that earned it."""
    language = language_name(language)
    return _tag(title, text, taxonomy, _matcher(taxonomy, language), language, min_score, max_tags)


def _with_defaults(tags: list[Tag], defaults: Iterable[str]) -> list[Tag]:
    """Append the source's default tags (score 0) that the text did not already earn."""
    present = {t.issue for t in tags}
    extra = []
    for name in defaults:
        if name not in present:
            extra.append(Tag(name, 0.0, SOURCE_DEFAULT_EVIDENCE))
            present.add(name)
    return tags + extra


def tag_articles(articles: list[Article], taxonomy: Taxonomy, settings: TagSettings) -> None:
    """Fill in each article's tags, adding its source's default tags."""
    matchers: dict[str, _Matcher] = {}
    for article in articles:
        language = language_name(article.cleaned.language)
        if language not in matchers:
            matchers[language] = _matcher(taxonomy, language)
        tags = _tag(article.cleaned.title, article.cleaned.text, taxonomy, matchers[language], language,
                    settings.min_score, settings.max_tags)
        article.tags = _with_defaults(tags, article.doc.default_tags)
