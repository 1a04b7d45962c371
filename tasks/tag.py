"""Tags articles with issues from a weighted keyword taxonomy, matched on stemmed words."""

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
from tasks.models import Article, Tag
from tasks.tokenize import language_name, stem, words

LOGGER = logging.getLogger(__name__)

TAXONOMY_LANGUAGE = "english"     # the language the taxonomy's keywords are written (and stemmed) in
ISSUE_KEYS = ("description", "keywords")
ISSUE_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_WEIGHT = 100.0
TITLE_WEIGHT = 3                  # a match in the title counts as this many matches in the text
REFERENCE_WORDS = 300             # longer texts have their score scaled by sqrt(REFERENCE_WORDS / words)
SOURCE_DEFAULT_EVIDENCE = ("source default",)
POSSESSIVE_RE = re.compile(r"['’]s?$")


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


def _terms(text: str, language: str) -> list[str]:
    """Stemmed match terms: words lowercased, possessives dropped, hyphenated words split."""
    terms: list[str] = []
    for word in words(text):
        for part in POSSESSIVE_RE.sub("", word.lower()).split("-"):
            if part:
                terms.append(stem(part, language))
    return terms


def _phrase(term: str, language: str) -> str:
    """A keyword as its stemmed phrase key."""
    return " ".join(_terms(term, language))


def _fail(path: Path, where: str, message: str) -> ConfigError:
    """A one-line ConfigError naming the taxonomy file and the key at fault."""
    return ConfigError(f"{path}: {where} {message}".replace("\n", " "))


def _load_issue(path: Path, name: str, table: object) -> Issue:
    """Check one [issues.<name>] table and stem its keywords."""
    where = f"issues.{name}"
    if not ISSUE_NAME_RE.match(name):
        raise _fail(path, where, "is not a valid issue name (lowercase letters, digits and underscores)")
    if not isinstance(table, dict):
        raise _fail(path, where, f"must be a table with {' and '.join(ISSUE_KEYS)}, got {table!r}")
    for key in table:
        if key not in ISSUE_KEYS:
            raise _fail(path, f"{where}.{key}", f"is not a known key (known: {', '.join(ISSUE_KEYS)})")
    description = table.get("description", "")
    if not isinstance(description, str):
        raise _fail(path, f"{where}.description", f"must be a string, got {description!r}")
    if "keywords" not in table:
        raise _fail(path, f"{where}.keywords", "is missing (a table of term = weight)")
    raw = table["keywords"]
    if not isinstance(raw, dict) or not raw:
        raise _fail(path, f"{where}.keywords", f"must be a non-empty table of term = weight, got {raw!r}")
    keywords: dict[str, float] = {}
    surface: dict[str, str] = {}
    for term, weight in raw.items():
        at = f"{where}.keywords.{json.dumps(term, ensure_ascii=False)}"
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise _fail(path, at, f"must be a number, got {weight!r}")
        if not 0 < weight <= MAX_WEIGHT:
            raise _fail(path, at, f"must be above 0 and at most {MAX_WEIGHT:g}, got {weight!r}")
        key = _phrase(term, TAXONOMY_LANGUAGE)
        if not key:
            raise _fail(path, at, "has no words to match")
        if key in keywords:
            LOGGER.debug("%s: %s and %r match the same words; keeping the higher weight", path, at, surface[key])
        keywords[key] = max(float(weight), keywords.get(key, 0.0))
        surface.setdefault(key, term.strip().lower())
    return Issue(name=name, description=description.strip(), keywords=keywords, surface=surface)


def load_taxonomy(path: Path) -> Taxonomy:
    """Read and check an issue taxonomy TOML file; raise ConfigError with a one-line reason."""
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
    return Taxonomy(issues=tuple(_load_issue(path, name, table) for name, table in issues.items()))


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
    body_terms = _terms(text, language)
    body = _count_matches(body_terms, matcher)
    heading = _count_matches(_terms(title, language), matcher) if title else {}
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
