"""Tags articles with issues: calibrated issue models (shipped, or learned from example articles) and hand-written keywords."""

from __future__ import annotations

import json
import logging
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from config.settings import PROJECT_ROOT, ConfigError, TagSettings, path_rule, read_toml
from tasks.issue_model import MIN_DF, IssueModel, ModelSet, Prediction, SetPrediction, analyse, load_model
from tasks.learn_terms import CACHE_FOLDER, learn_from_examples, read_example
from tasks.records import SOURCE_DEFAULT_EVIDENCE, Article, CleanedArticle, Tag
from tasks.text.language import function_words, language_name
from tasks.text.normalise import one_line
from tasks.text.sentences import match_terms

LOGGER = logging.getLogger(__name__)

TAXONOMY_LANGUAGE = "english"     # the language the taxonomy's keywords are written (and stemmed) in
ISSUE_KEYS = ("description", "keywords", "examples")
MODEL_KEYS = ("path", "licence")
ISSUE_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
EXAMPLE_SUFFIXES = (".txt", ".md")
MIN_EXAMPLES = 2                  # files an issue is learned from, and against (calibration needs two folds)
MAX_WEIGHT = 100.0
TITLE_WEIGHT = 3                  # a match in the title counts as this many matches in the text
_TITLE_END = " .!?:;\u2026"       # how a title or a paragraph may end, aside when telling them apart
_CUT_SHORT = re.compile(r"\s*(?:\u2026|\.\.\.)$")  # the ellipsis of a title cut short
REFERENCE_WORDS = 300             # longer texts have their score scaled by sqrt(REFERENCE_WORDS / words)
# Keyword evidence e (weighted matches, see _tag) counts as the probability 1 - exp(-e / KEYWORD_SCALE):
# one unambiguous phrase (weight 2) gives 0.39, one typical word (weight 1) 0.22, so a single common
# word does not reach the default min_score (0.3) on its own. An issue's score is the larger of that
# and its model's probability: both read the same words, so adding them up would count them twice.
# KEYWORD_SCALE (2, 4, 8 or keywords off), the way of joining (the larger, or either being enough)
# and min_score were compared by 2-fold cross-validation on the NYT tuning half: 4 and either way
# of joining gave the best macro-F1 (0.65; the model alone 0.63).
KEYWORD_SCALE = 4.0


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
    """The issues articles can be tagged with, and the models that score them (first model knowing an issue wins)."""

    issues: tuple[Issue, ...]
    models: tuple[IssueModel | ModelSet, ...] = ()


def _phrase(term: str, language: str) -> str:
    """A keyword as its stemmed phrase key."""
    return " ".join(match_terms(term, language))


def _fail(path: Path, where: str, message: str) -> ConfigError:
    """A one-line ConfigError naming the taxonomy file and the key at fault."""
    return ConfigError(f"{path}: {where}: {message}".replace("\n", " "))


def issue_from_terms(name: str, keywords: dict[str, float], description: str = "") -> Issue:
    """Build an issue from its keywords as written (term -> weight)."""
    stemmed: dict[str, float] = {}
    surface: dict[str, str] = {}
    for term, weight in keywords.items():
        key = _phrase(term, TAXONOMY_LANGUAGE)
        if not key:
            continue
        if key in stemmed:
            LOGGER.debug("issue %s: %r and %r match the same words; keeping the higher weight", name, term,
                         surface[key])
            stemmed[key] = max(float(weight), stemmed[key])
        else:
            stemmed[key] = float(weight)
            surface[key] = term.strip().lower()
    return Issue(name=name, description=description.strip(), keywords=stemmed, surface=surface)


def _checked_examples(path: Path, where: str, examples: object) -> list[str]:
    """An examples value (of an issue, or of [other]) checked: a non-empty list of file or folder paths."""
    if not isinstance(examples, list) or not examples or not all(isinstance(e, str) and e.strip() for e in examples):
        raise _fail(path, where, f"must be a non-empty list of file or folder paths, got {examples!r}")
    return list(examples)


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
    examples = _checked_examples(path, f"{where}.examples", table["examples"]) if "examples" in table else []
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


def _example_files(path: Path, name: str, examples: list[str], root: Path) -> list[Path]:
    """The text files an issue's examples name (folders are searched recursively for .txt and .md);
    relative paths are read from root (the project root), as in the pipeline config. name is the
    examples' key without ".examples" ("issues.sport", or "other")."""
    files: list[Path] = []
    for entry in examples:
        target = root / Path(entry).expanduser()
        where = f"{name}.examples {json.dumps(entry, ensure_ascii=False)}"
        if target.is_dir():
            found = sorted(p for p in target.rglob("*") if p.is_file() and p.suffix.lower() in EXAMPLE_SUFFIXES)
            if not found:
                raise _fail(path, where, f"is a folder with no {' or '.join(EXAMPLE_SUFFIXES)} files")
        elif target.is_file():
            found = [target]
        else:
            raise _fail(path, where, f"does not exist: {target} ({path_rule(root)})")
        for file in found:  # an empty example teaches nothing, and is most likely a file not yet written
            try:
                blank = not file.read_bytes().strip()
            except OSError as exc:
                raise _fail(path, where, f"cannot be read: {file} ({exc.strerror or exc})") from None
            if blank:
                raise _fail(path, where, f"{file} is empty (an example holds an article's text)"
                            if file != target else "is an empty file (an example holds an article's text)")
        files.extend(found)
    return files


def _other_examples(path: Path, data: dict) -> list[str]:
    """The [other] table's examples: articles about none of the issues (checked; [] without the table)."""
    if "other" not in data:
        return []
    table = data["other"]
    if not isinstance(table, dict):
        raise _fail(path, "other", f"must be a table with examples, got {table!r}")
    for key in table:
        if key != "examples":
            raise _fail(path, f"other.{key}", "is not a known key (known: examples)")
    return _checked_examples(path, "other.examples", table.get("examples"))


def _learn(path: Path, checked: dict[str, tuple[str, dict[str, float], list[str]]], other: list[str], root: Path,
           cache_dir: Path) -> IssueModel | None:
    """The model learned from the issues that list examples (each against the others' and the [other]
    examples), or None."""
    with_examples = [name for name, (_, _, examples) in checked.items() if examples]
    if not with_examples:
        if other:
            raise _fail(path, "other.examples", "has nothing to be learned against: no issue lists examples")
        return None
    if len(with_examples) == 1 and not other:
        raise _fail(path, f"issues.{with_examples[0]}.examples",
                    "cannot be learned from alone: issues are learned against other issues' examples (give two or "
                    "more, or [other] examples of news about none of them)")
    files = {name: _example_files(path, f"issues.{name}", checked[name][2], root) for name in with_examples}
    other_files = _example_files(path, "other", other, root)
    own = {name: {f.resolve() for f in found} for name, found in files.items()}
    everything = set().union({f.resolve() for f in other_files}, *own.values())
    for name in with_examples:  # each issue is learned from its examples against all the others
        if len(own[name]) < MIN_EXAMPLES:
            raise _fail(path, f"issues.{name}.examples", f"names {len(own[name])} example file; an issue is "
                        f"learned from at least {MIN_EXAMPLES} (and {MIN_EXAMPLES} of other news)")
    for name in with_examples:
        if len(everything - own[name]) < MIN_EXAMPLES:
            raise _fail(path, "other.examples" if other else f"issues.{name}.examples",
                        f"leaves {len(everything - own[name])} example file(s) of news other than {name}; an issue "
                        f"is learned against at least {MIN_EXAMPLES}")
    try:
        return learn_from_examples(files, cache_dir, other_files)
    except OSError as exc:  # read a moment ago, as they were checked: gone or changed since
        keys = [f"issues.{name}.examples" for name, found in own.items() if Path(exc.filename or "").resolve() in found]
        where = keys[0] if keys else "other.examples" if other else f"issues.{with_examples[0]}.examples"
        raise _fail(path, where, f"cannot be read: {exc.filename} ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise _unlearnable(path, files, other_files, exc) from None


def _unlearnable(path: Path, files: dict[str, list[Path]], other: list[Path], exc: ValueError) -> ConfigError:
    """The one-line error for examples the issue model cannot be fitted on, naming the first issue (or
    [other]) at fault: its files hold no words, or none of its words is in another example file (a word is
    learned from MIN_DF files); else every issue's examples together, with the fitting's own reason."""
    keyed = [(f"issues.{name}.examples", found) for name, found in files.items()] + [("other.examples", other)]
    generic = _fail(path, ", ".join(where for where, found in keyed if found), f"cannot be learned from ({exc})")
    try:
        words = {file.resolve(): set(analyse(read_example(file))) for _, found in keyed for file in found}
    except OSError:  # gone since it was fitted on: the fitting's own reason says what is known
        return generic
    in_files = Counter(word for found in words.values() for word in found)
    for where, found in keyed:
        own = set().union(*(words[file.resolve()] for file in found))
        if found and not own:
            return _fail(path, where, f"its {len(found)} example files hold no words to learn from")
        if found and all(in_files[word] < MIN_DF for word in own):
            return _fail(path, where, "no word of its example files is in any other example file "
                         f"(a word is learned only when {MIN_DF} or more hold it)")
    return generic


def _model_files(table: object, root: Path) -> list[Path] | None:
    """The files a [model] table's path names (one path or a list of them), read from root; None when the
    path is neither."""
    paths = table.get("path") if isinstance(table, dict) else None
    paths = [paths] if isinstance(paths, str) else paths
    if not isinstance(paths, list) or not paths or not all(isinstance(p, str) and p.strip() for p in paths):
        return None
    return [root / Path(p).expanduser() for p in paths]


def _shipped_model(path: Path, table: object, names: set[str], root: Path) -> IssueModel | ModelSet:
    """The [model] table's pre-fitted model, checked: every issue it scores must be in the taxonomy. Its
    path may be a list of model files, read as one (ModelSet: each issue scores the best of them)."""
    targets = _model_files(table, root)
    if targets is None:
        raise _fail(path, "model.path", f"must be the path of a model file, or a list of them, got {table!r}")
    for key in table:  # a dict: _model_files found its path
        if key not in MODEL_KEYS:
            raise _fail(path, f"model.{key}", f"is not a known key (known: {', '.join(MODEL_KEYS)})")
    models = []
    for target in targets:
        try:
            model = load_model(target)
        except ValueError as exc:
            raise _fail(path, "model.path", f"{target} is not a usable model: {exc} ({path_rule(root)})") from None
        unknown = sorted(set(model.issues) - names)
        if unknown:
            raise _fail(path, "model.path", f"{target.name} scores issues the taxonomy lacks: {', '.join(unknown)}")
        models.append(model)
    return models[0] if len(models) == 1 else ModelSet(tuple(models))


def taxonomy_files(path: Path, root: Path = PROJECT_ROOT) -> list[Path]:
    """The files tags depend on besides the code: the taxonomy file, the model files its [model] names and
    its issues' example files, as load_taxonomy reads them; only the taxonomy file when it cannot be read
    that far (load_taxonomy then says why)."""
    path = Path(path)
    try:
        data = read_toml(path)
        files = (_model_files(data["model"], root) or []) if "model" in data else []
        for name, issue in (data.get("issues") or {}).items():
            files += _example_files(path, f"issues.{name}", _check_issue(path, name, issue)[2], root)
        files += _example_files(path, "other", _other_examples(path, data), root)
    except (ConfigError, AttributeError, TypeError):
        return [path]
    return [path, *files]


def load_taxonomy(path: Path, root: Path = PROJECT_ROOT, cache_dir: Path | None = None) -> Taxonomy:
    """Read and check an issue taxonomy TOML file; raise ConfigError with a one-line reason.

    Issues that list examples are scored by a model learned from them (against the other issues'
    examples), cached in `cache_dir` (default: .cache/issue-models under root) by a hash of the
    example files; a [model] table names a pre-fitted model for the issues it knows. Keywords are
    scored beside the models. Relative example and model paths are read from root (the project root).
    """
    path = Path(path)
    data = read_toml(path)
    for key in data:
        if key not in ("issues", "model", "other"):
            raise _fail(path, key, "is not a known section (expected [issues.<name>] tables, [model] and [other])")
    issues = data.get("issues")
    if not isinstance(issues, dict) or not issues:
        raise _fail(path, "issues", "must hold at least one [issues.<name>] table")
    checked = {name: _check_issue(path, name, table) for name, table in issues.items()}
    learned = _learn(path, checked, _other_examples(path, data), root, cache_dir or root / CACHE_FOLDER)
    shipped = _shipped_model(path, data["model"], set(checked), root) if "model" in data else None
    return Taxonomy(issues=tuple(issue_from_terms(name, keywords, description)
                                 for name, (description, keywords, _) in checked.items()),
                    models=tuple(m for m in (learned, shipped) if m is not None))


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
            if language == TAXONOMY_LANGUAGE:
                stems = key
            elif (written := issue.surface.get(key, key)).lower() in function_words(language):
                continue  # a common word of the text's language is that language's word there ("war" in German)
            else:
                stems = _phrase(written, language)
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


def _keyword_evidence(issue: Issue, counts: Counter[str], title_counts: Counter[str]) -> dict[str, float]:
    """Each matched keyword's weighted evidence: weight times 1 + log(count), a title match counting extra."""
    return {key: issue.keywords[key] * (1 + math.log(counts[key] + TITLE_WEIGHT * title_counts[key]))
            for key in counts.keys() | title_counts.keys()}


def _model_scores(taxonomy: Taxonomy, title: str | None, text: str,
                  language: str) -> dict[str, tuple[IssueModel | ModelSet, int, Prediction | SetPrediction]]:
    """For each issue a model of the text's language knows: that model, the issue's index in it and the
    model's reading of the text. A model reads no other language: its words there are noise ("de")."""
    found: dict[str, tuple[IssueModel | ModelSet, int, Prediction | SetPrediction]] = {}
    document = f"{title}\n{text}" if title else text
    for model in taxonomy.models:
        if model.language != language:
            continue
        prediction = model.predict(document)
        for index, name in enumerate(model.issues):
            found.setdefault(name, (model, index, prediction))
    return found


def _tag(title: str | None, text: str, taxonomy: Taxonomy, matcher: _Matcher, language: str,
         min_score: float, max_tags: int) -> list[Tag]:
    """Score every issue on one article (the larger of its model's and its keywords' probability) and keep the best."""
    body_terms = match_terms(text, language)
    body = _count_matches(body_terms, matcher)
    heading = _count_matches(match_terms(title, language), matcher) if title else {}
    length_scale = 1.0 / math.sqrt(max(1.0, len(body_terms) / REFERENCE_WORDS))
    modelled = _model_scores(taxonomy, title, text, language)
    tags: list[Tag] = []
    for index, issue in enumerate(taxonomy.issues):
        keyword = _keyword_evidence(issue, body.get(index, Counter()), heading.get(index, Counter()))
        # in units of -log(1 - p), so they rank beside the model terms' log-odds
        pushes = {issue.surface.get(k, k): v * length_scale / KEYWORD_SCALE for k, v in keyword.items()}
        p_keywords = 1.0 - math.exp(-sum(pushes.values()))
        p_model = 0.0
        if issue.name in modelled:
            model, position, prediction = modelled[issue.name]
            p_model = float(prediction.probabilities[position])
        evidence = None  # the model's, read once: only for an issue its probability could give a tag
        if p_model > p_keywords and p_model >= min_score:
            evidence = model.evidence(position, prediction)
            if not evidence:
                # no word of the text raised the model's probability: it is the model's reading of an empty
                # text (with two learned issues, each about 0.5), so the article shows nothing of the issue
                p_model = 0.0
        score = round(max(p_keywords, p_model), 4)
        if score <= 0 or score < min_score:
            continue
        if issue.name in modelled:
            for term, push in model.evidence(position, prediction) if evidence is None else evidence:
                pushes[term] = max(push, pushes.get(term, 0.0))
        ranked = sorted(pushes, key=lambda term: (-pushes[term], term))
        tags.append(Tag(issue.name, score, tuple(ranked)))
    tags.sort(key=lambda t: (-t.score, t.issue))
    return tags[:max(0, max_tags)]


def tag_text(title: str | None, text: str, taxonomy: Taxonomy, min_score: float = 0.3, max_tags: int = 5,
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


def _title_to_read(cleaned: CleanedArticle) -> str | None:
    """The title as tagging reads it beside the text: None when it is the text's own opening (derived from the
    lead, or a headline the text repeats as its first paragraph), which the text already gives once; a
    title's words weigh more than the text's, and the lead's should not for being read twice."""
    title = cleaned.title
    if not title or cleaned.title_derived:
        return None
    first = one_line(cleaned.text.split("\n\n", 1)[0], None).casefold()
    heading = one_line(title, None).casefold()
    if first.rstrip(_TITLE_END) == heading.rstrip(_TITLE_END):
        return None
    cut = _CUT_SHORT.sub("", heading)  # a title cut short from the opening ('The goal of the tracker is to...')
    if cut != heading and cut.strip() and first.startswith(cut.rstrip()):
        return None
    return title


def tag_articles(articles: list[Article], taxonomy: Taxonomy, settings: TagSettings) -> None:
    """Fill in each article's tags, adding its source's default tags."""
    matchers: dict[str, _Matcher] = {}
    for article in articles:
        language = language_name(article.cleaned.language)
        if language not in matchers:
            matchers[language] = _matcher(taxonomy, language)
        tags = _tag(_title_to_read(article.cleaned), article.cleaned.text, taxonomy, matchers[language], language,
                    settings.min_score, settings.max_tags)
        article.tags = _with_defaults(tags, article.doc.default_tags)
