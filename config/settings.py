"""Reads config/pipeline.toml once, checks every key, and hands typed settings down."""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import os
import re
import tomllib
import types
import typing
import urllib.parse
import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

from tasks.sources.urls import canonical_url, is_http_url, written_url  # the URL rules' one home

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "config" / "pipeline.toml"
SUMMARY_ALGORITHMS = ("textrank", "lexrank", "lsa", "luhn", "kl", "sumbasic", "lead", "centrality", "news")
PARALLEL_RUNNERS = ("processes", "dask")
WORKERS_ENV = "NEWSDESK_WORKERS"  # overrides [parallel] workers (1 runs every stage in the calling process)
_TOML_POSITION = re.compile(r"\(at line (?P<line>\d+), column (?P<column>\d+)\)")


class ConfigError(ValueError):
    """One or more configuration problems, one line each naming the file, the key and what is wrong."""

    def __init__(self, problems: str | list[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


CATALOG_SCHEMES = ("sqlite", "postgres", "duckdb")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):(.*)$", re.DOTALL)


DEFAULT_CATALOG = f"sqlite:{PROJECT_ROOT / 'warehouse' / 'catalog.sqlite'}"
DEFAULT_REPORTS = PROJECT_ROOT / "warehouse" / "reports"


@dataclass(frozen=True)
class WarehouseSettings:
    catalog: str = DEFAULT_CATALOG  # see catalog_location()
    data_path: str = ""  # where the lake's Parquet files go; empty: beside a file catalog (CATALOG.files/)
    reports_dir: Path | None = None  # None (unset): the catalog's own folder, own_reports_dir()
    lock_wait_seconds: float = 600.0
    keep_snapshots_days: float = 7.0
    # where the catalog was named, for error messages: the config's key, or --warehouse (not a config key)
    named_by: str = dataclasses.field(default="[warehouse].catalog", metadata={"config": False})


DUCKDB_SUFFIXES = (".duckdb", ".ducklake")


def catalog_location(value: str, base: Path) -> str:
    """A warehouse catalog as 'scheme:target': sqlite:PATH, duckdb:PATH (paths made absolute against
    base), postgres:CONNINFO, or a plain file path, which means a SQLite catalog there. ValueError
    with the reason for an empty value or an unknown scheme."""
    value = value.strip()
    match = _SCHEME.match(value)
    scheme, target = (match.group(1).lower(), match.group(2).strip()) if match else ("sqlite", value)
    if scheme not in CATALOG_SCHEMES:
        raise ValueError(f"unknown catalog scheme '{match.group(1)}:' (use sqlite:PATH, postgres:CONNINFO, "
                         "duckdb:PATH or a file path)")
    if not target:
        raise ValueError(f"no {'connection string' if scheme == 'postgres' else 'path'} after '{scheme}:'")
    if scheme != "postgres":
        folder = target.endswith(("/", os.sep))  # resolve() drops the slash that says "a folder"
        target = str((base / Path(target).expanduser()).resolve())
        if folder or Path(target).is_dir():
            raise ValueError(f"a folder, and a catalog is a file: name one in it, "
                             f"{scheme}:{Path(target) / f'catalog.{scheme}'}")
    if not match and Path(target).suffix.lower() in DUCKDB_SUFFIXES and not Path(target).exists():
        # a new SQLite catalog named like a DuckDB file would mislead every later reader of it
        raise ValueError(f"a plain path means a SQLite catalog; name a DuckDB one duckdb:{value}, "
                         "or use a .sqlite name")
    return f"{scheme}:{target}"


def _located_warehouse(w: WarehouseSettings, problems: _Problems) -> WarehouseSettings:
    """The warehouse settings with the catalog's and data folder's relative paths read from the project
    root (see resolve_path); an unusable catalog is noted in problems."""
    try:
        catalog = catalog_location(w.catalog, PROJECT_ROOT)
    except ValueError as exc:
        problems.add("[warehouse].catalog", str(exc))
        return w
    data = w.data_path.strip()
    if data and "://" not in data:
        data = str(resolve_path(data).resolve())
    # unset, a catalog's own folder: the one --warehouse gives it, so its digests are found however it is named
    reports = own_reports_dir(catalog) if w.reports_dir is None else w.reports_dir
    return dataclasses.replace(w, catalog=catalog, data_path=data, reports_dir=reports)


def own_reports_dir(catalog: str) -> Path:
    """Where a warehouse's digests go unless its config sets reports_dir (catalog_location form): the default
    catalog's in warehouse/reports; another file catalog's beside it (CATALOG.reports/); a postgres catalog's
    in a folder of its own under warehouse/reports (postgres-HOST-DBNAME, with -PORT after the host when
    not 5432)."""
    scheme, _, target = catalog.partition(":")
    if catalog == f"sqlite:{Path(DEFAULT_CATALOG.partition(':')[2]).resolve()}":  # as catalog_location gives it
        return DEFAULT_REPORTS
    if scheme == "postgres":
        host, port, dbname = postgres_place(target)
        return DEFAULT_REPORTS / re.sub(r"[^\w.-]+", "_", f"postgres-{host}{'' if port == '5432' else '-' + port}-{dbname}")
    return Path(f"{target}.reports")


@dataclass(frozen=True)
class DiscoverSettings:
    extensions: tuple[str, ...] = (".txt", ".md", ".html", ".htm")
    max_file_bytes: int = 5_000_000


DEFAULT_FOOTER_PHRASES = (
    "no comments:", "post a comment", "today's top news", "top news", "related articles",
    "related stories", "related news", "related coverage", "read more", "more from",
    "recommended for you", "you may also like", "you might also like", "most read", "most popular",
    "share this", "share this article", "follow us", "sign up for", "subscribe to",
    "leave a comment", "comments", "newer post", "older post", "all rights reserved", "copyright",
    "©", "editor's picks", "trending now", "what to read next", "more stories", "latest news",
    "back to top", "advertisement",
)
DEFAULT_AGENCIES = (
    "agencies", "xinhua", "reuters", "associated press", "ap", "afp", "agence france-presse",
    "dpa", "pti", "ians", "ani", "bloomberg", "tass", "efe", "ansa", "kyodo", "yonhap",
    "anadolu", "upi", "press association", "pa media", "cna", "bernama", "wafa", "agencies - xinhua",
)


@dataclass(frozen=True)
class CleanSettings:
    min_words: int = 20
    footer_phrases: tuple[str, ...] = DEFAULT_FOOTER_PHRASES
    extra_footer_phrases: tuple[str, ...] = ()
    agencies: tuple[str, ...] = DEFAULT_AGENCIES
    extra_agencies: tuple[str, ...] = ()


@dataclass(frozen=True)
class DedupSettings:
    shingle_words: int = 4
    num_perm: int = 128
    near_threshold: float = 0.4
    story_threshold: float = 0.45
    story_window_days: float = 4.0


@dataclass(frozen=True)
class SummarySettings:
    algorithm: str = "news"
    sentences: int = 3
    story_sentences: int = 4


@dataclass(frozen=True)
class TagSettings:
    taxonomy: Path = PROJECT_ROOT / "config" / "issues.toml"
    min_score: float = 0.3
    max_tags: int = 5


@dataclass(frozen=True)
class ReportSettings:
    trend_days: int = 30      # the HTML digest's issue-trend chart covers this many days
    trend_issues: int = 8     # and at most this many issues (those with the most articles)


@dataclass(frozen=True)
class HttpSettings:
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    total_timeout: float = 30.0
    max_bytes: int = 10_000_000
    max_redirects: int = 5
    user_agent: str = "newsdesk-pipeline/0.1 (+https://example.invalid/newsdesk)"
    allow_private_hosts: bool = False
    max_connections: int = 8
    max_per_host: int = 2
    retries: int = 2


@dataclass(frozen=True)
class FeedSettings:
    min_poll_interval_minutes: float = 10.0
    max_backoff_hours: float = 24.0
    disable_after: int = 10
    validator_max_age_days: float = 7.0


@dataclass(frozen=True)
class ScheduleSettings:
    deployment: str = "scheduled"
    cron: str = "*/30 * * * *"
    timezone: str = "UTC"
    max_lateness_minutes: float = 45.0
    maintain_cron: str = "30 3 * * *"  # the daily upkeep of the warehouse (the maintain deployment)


@dataclass(frozen=True)
class ParallelSettings:
    runner: str = "processes"  # "processes": a process pool on this machine; "dask": Prefect's Dask task runner
    workers: int = 0           # worker processes (0: one per CPU); with dask, the local cluster's workers
    dask_address: str = ""     # an existing Dask scheduler (tcp://host:8786); empty: start a local cluster


@dataclass(frozen=True)
class SourceSettings:
    name: str
    kind: str  # "folder", "file" or "feed"
    path: Path | None = None
    url: str | None = None
    tags: tuple[str, ...] = ()
    enabled: bool = True


@dataclass(frozen=True)
class Settings:
    config_path: Path
    warehouse: WarehouseSettings = WarehouseSettings()
    discover: DiscoverSettings = DiscoverSettings()
    clean: CleanSettings = CleanSettings()
    dedup: DedupSettings = DedupSettings()
    summary: SummarySettings = SummarySettings()
    tags: TagSettings = TagSettings()
    http: HttpSettings = HttpSettings()
    feeds: FeedSettings = FeedSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    parallel: ParallelSettings = ParallelSettings()
    report: ReportSettings = ReportSettings()
    sources: tuple[SourceSettings, ...] = field(default_factory=tuple)


_SECTIONS: dict[str, type] = {
    "warehouse": WarehouseSettings,
    "discover": DiscoverSettings,
    "clean": CleanSettings,
    "dedup": DedupSettings,
    "summary": SummarySettings,
    "tags": TagSettings,
    "http": HttpSettings,
    "feeds": FeedSettings,
    "schedule": ScheduleSettings,
    "parallel": ParallelSettings,
    "report": ReportSettings,
}


class _Invalid(ValueError):
    """One value that does not fit its setting; the caller adds where it is."""


def resolve_path(value: str | Path) -> Path:
    """A path from the config: an absolute one as given (~ expanded), a relative one under the project
    root, whatever folder the config file is in."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def path_rule(root: Path = PROJECT_ROOT) -> str:
    """The rule for config paths, as error messages state it."""
    return f"a relative path is read from the project root, {root}; an absolute one as given"


class _Problems:
    """The problems found in one config file, each worded `file: [section].key: problem`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lines: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.lines.append(f"{self.name}: {where}: {message}".replace("\n", " "))

    def said(self, where: str) -> bool:
        """Whether a problem of this key has been noted (one line per mistake)."""
        return any(line.startswith(f"{self.name}: {where}: ") for line in self.lines)


def _coerce(value: object, hint: object) -> object:
    """Check one value against its declared type and convert it (paths resolved by resolve_path)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return _coerce(value, args[0])
    if hint is Path:
        if not isinstance(value, str) or not value.strip():
            raise _Invalid(f"expected a path string, got {value!r}")
        return resolve_path(value)
    if origin is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _Invalid(f"expected a list of strings, got {value!r}")
        return tuple(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise _Invalid(f"expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid(f"expected a whole number, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Invalid(f"expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise _Invalid(f"expected a string, got {value!r}")
        return value
    raise _Invalid("unsupported setting type")


def _build(cls: type, table: object, where: str, problems: _Problems) -> object | None:
    """Make one settings dataclass from a TOML table; unknown keys and bad values are noted in problems
    (and left at their defaults, so that later checks do not repeat them). None when it cannot be made."""
    if not isinstance(table, dict):
        problems.add(where, f"expected a table, got {table!r}")
        return None
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.metadata.get("config", True)}
    values: dict[str, object] = {}
    for key, value in table.items():
        if key not in names:
            problems.add(f"{where}.{key}", f"unknown key (known: {', '.join(sorted(names))})")
            continue
        try:
            values[key] = _coerce(value, hints[key])
        except _Invalid as exc:
            problems.add(f"{where}.{key}", str(exc))
    required = [f.name for f in dataclasses.fields(cls)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    missing = [key for key in required if key not in table]
    if missing:
        problems.add(where, f"missing key(s) {', '.join(missing)}")
    return cls(**values) if all(key in values for key in required) else None


def _known_timezone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


# each cron field: its name, lowest and highest value, and its size (a longer step never repeats in it)
CRON_FIELDS = (("minute", 0, 59, 60), ("hour", 0, 23, 24), ("day of month", 1, 31, 31), ("month", 1, 12, 12),
               ("day of week", 0, 7, 7))


@functools.cache
def _croniter() -> type:
    """The cron parser Prefect's scheduler uses (its vendored croniter), loaded from its file: importing it
    through Prefect would import all of Prefect (seconds, and it reads its settings as it does) just to
    load a config."""
    spec = importlib.util.find_spec("prefect")
    assert spec is not None and spec.submodule_search_locations, "prefect is a dependency"
    file = Path(spec.submodule_search_locations[0]) / "_vendor" / "croniter" / "croniter.py"
    module_spec = importlib.util.spec_from_file_location("newsdesk_croniter", file)
    module = importlib.util.module_from_spec(module_spec)  # type: ignore[arg-type]
    module_spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.croniter


def cron_problem(cron: str) -> str | None:
    """Why a [schedule] cron could not be served as written, in one line, or None: not 5 fields, a value out
    of its field's range, what Prefect's scheduler refuses (its parser's rule, and no random or hashed
    fields), a step longer than its field ("*/61" in the minutes runs hourly), a date that never comes
    ("0 0 31 2 *")."""
    fields = cron.split()
    if len(fields) != 5:
        return "must be a cron expression of 5 fields (minute hour day-of-month month day-of-week)"
    for value, (name, low, high, size) in zip(fields, CRON_FIELDS):
        for number in re.findall(r"(?<![/\d])\d+", value):  # its values (a step follows a '/')
            if not low <= int(number) <= high:
                return f"{cron!r}: the {name} {int(number)} is out of range ({low}-{high})"
        for step in re.findall(r"/(\d+)", value):
            if int(step) > size:
                return f"{cron!r}: the {name} step /{step} is longer than the field ({size}), so it would not run as written"
    croniter = _croniter()
    if not croniter.is_valid(cron) or any(f.casefold() in ("r", "h") for f in fields):  # Prefect's own check
        return (f"{cron!r} is not a cron expression the scheduler takes (5 fields: minute hour day-of-month "
                "month day-of-week, like '*/30 * * * *')")
    try:
        croniter(cron, datetime(2000, 1, 1)).get_next(datetime)
    except Exception as exc:  # noqa: BLE001 (croniter's errors share no useful base class)
        return f"{cron!r} never comes due ({exc})"
    return None


def _check_ranges(s: Settings, problems: _Problems) -> None:
    """Note the values that are well typed but make no sense."""
    cron, maintain_cron = cron_problem(s.schedule.cron), cron_problem(s.schedule.maintain_cron)
    checks = [
        (s.discover.max_file_bytes > 0, "discover.max_file_bytes", "must be positive"),
        (all(e.startswith(".") for e in s.discover.extensions), "discover.extensions", "each must start with '.'"),
        (bool(s.discover.extensions), "discover.extensions",
         "must name at least one (with none, a folder source reads no file)"),
        (s.clean.min_words >= 0, "clean.min_words", "must not be negative"),
        (s.dedup.shingle_words >= 1, "dedup.shingle_words", "must be at least 1"),
        (16 <= s.dedup.num_perm <= 1024, "dedup.num_perm", "must be between 16 and 1024"),
        (0.0 < s.dedup.near_threshold <= 1.0, "dedup.near_threshold", "must be in (0, 1]"),
        (0.0 < s.dedup.story_threshold <= 1.0, "dedup.story_threshold", "must be in (0, 1]"),
        (s.dedup.story_window_days > 0, "dedup.story_window_days", "must be positive"),
        (s.summary.algorithm in SUMMARY_ALGORITHMS, "summary.algorithm",
         f"must be one of {', '.join(SUMMARY_ALGORITHMS)}"),
        (s.summary.sentences >= 1, "summary.sentences", "must be at least 1"),
        (s.summary.story_sentences >= 1, "summary.story_sentences", "must be at least 1"),
        (s.tags.taxonomy.is_file(), "tags.taxonomy", f"{s.tags.taxonomy}: file not found ({path_rule()})"),
        (s.tags.max_tags >= 1, "tags.max_tags", "must be at least 1"),
        (0.0 <= s.tags.min_score <= 1.0, "tags.min_score", "must be between 0 and 1 (a tag's score is a probability)"),
        (1 <= s.report.trend_days <= 3660, "report.trend_days", "must be between 1 and 3660"),
        (1 <= s.report.trend_issues <= 20, "report.trend_issues", "must be between 1 and 20"),
        (s.warehouse.lock_wait_seconds >= 0, "warehouse.lock_wait_seconds", "must not be negative"),
        (s.warehouse.keep_snapshots_days > 0, "warehouse.keep_snapshots_days", "must be positive"),
        (bool(s.warehouse.data_path) or not s.warehouse.catalog.startswith("postgres:"), "warehouse.data_path",
         "is required with a postgres catalog (a folder or URL every writer reaches)"),
        (s.http.connect_timeout > 0, "http.connect_timeout", "must be positive (seconds)"),
        (s.http.read_timeout > 0, "http.read_timeout", "must be positive (seconds)"),
        (s.http.total_timeout > 0, "http.total_timeout", "must be positive (seconds)"),
        (s.http.max_connections >= 1, "http.max_connections", "must be at least 1"),
        (s.http.max_per_host >= 1, "http.max_per_host", "must be at least 1"),
        (s.http.retries >= 0, "http.retries", "must not be negative"),
        (s.http.max_bytes > 0, "http.max_bytes", "must be positive"),
        (s.http.max_redirects >= 0, "http.max_redirects", "must not be negative"),
        (s.feeds.min_poll_interval_minutes > 0, "feeds.min_poll_interval_minutes", "must be positive"),
        (s.feeds.max_backoff_hours * 60 >= s.feeds.min_poll_interval_minutes, "feeds.max_backoff_hours",
         "must not be shorter than min_poll_interval_minutes"),
        (s.feeds.disable_after >= 1, "feeds.disable_after", "must be at least 1"),
        (s.feeds.validator_max_age_days > 0, "feeds.validator_max_age_days", "must be positive"),
        (cron is None, "schedule.cron", cron),
        (maintain_cron is None, "schedule.maintain_cron", maintain_cron),
        (_known_timezone(s.schedule.timezone), "schedule.timezone", "must be an IANA time zone like Europe/Berlin"),
        (s.schedule.max_lateness_minutes > 0, "schedule.max_lateness_minutes", "must be positive"),
        (s.parallel.runner in PARALLEL_RUNNERS, "parallel.runner", f"must be one of {', '.join(PARALLEL_RUNNERS)}"),
        (s.parallel.workers >= 0, "parallel.workers", "must not be negative (0: one per CPU)"),
        (not s.parallel.dask_address or s.parallel.runner == "dask", "parallel.dask_address",
         'is only used with runner = "dask"'),
        (not s.parallel.dask_address or "://" in s.parallel.dask_address, "parallel.dask_address",
         "must be a scheduler address like tcp://host:8786"),
    ]
    for ok, key, message in checks:
        if not ok:
            section, name = key.split(".", 1)
            problems.add(f"[{section}].{name}", message)


def _check_sources(sources: list[tuple[int, SourceSettings]], problems: _Problems) -> None:
    """Note sources of an unknown kind, without the path or URL their kind needs, or named twice."""
    seen: set[str] = set()
    for number, src in sources:
        where = _source_where(number)
        if src.kind not in ("folder", "file", "feed"):
            problems.add(f"{where}.kind", f"must be folder, file or feed, got {src.kind!r}")
        if src.kind in ("folder", "file") and src.path is None and not problems.said(f"{where}.path"):
            problems.add(f"{where}.path", f"is required for a {src.kind} source")
        if src.kind == "feed" and not is_http_url(src.url) and not problems.said(f"{where}.url"):
            problems.add(f"{where}.url", "must be an http(s) URL for a feed source")
        if src.kind == "feed" and src.path is not None:
            problems.add(f"{where}.path", "is not read for a feed source (it reads url)")
        if src.kind in ("folder", "file") and src.url is not None:
            problems.add(f"{where}.url", f"is not read for a {src.kind} source (it reads path)")
        if not src.name.strip():
            problems.add(f"{where}.name", "must not be empty (it names the source in the digest and its health)")
        if not all(tag.strip() for tag in src.tags):
            problems.add(f"{where}.tags", f"must not hold an empty tag, got {list(src.tags)!r}")
        if src.name in seen:
            problems.add(f"{where}.name", f"{src.name!r} is used twice")
        seen.add(src.name)


def _with_written_url(src: SourceSettings) -> SourceSettings:
    """The source with its url as written_url reads it (no spaces around it), the one form its health,
    --source and the digest meet on."""
    return src if src.url is None else dataclasses.replace(src, url=written_url(src.url))


def _source_where(number: int) -> str:
    """How a problem names the number-th [[sources]] table (counted from 1, as a reader counts them)."""
    return f"[[sources]][{number}]"


def read_toml(config_path: Path, name: str | None = None) -> dict:
    """A parsed config file (the pipeline config, or the taxonomy it names); ConfigError, starting with
    the file's name, names the line and column of a TOML syntax error."""
    name = name or str(config_path)
    try:
        raw = config_path.read_bytes()
        text = raw.decode("utf-8-sig")  # a byte-order mark, as some Windows editors write, is no TOML of its own
        return tomllib.loads(text)
    except FileNotFoundError:
        where = "" if config_path.is_absolute() else f" (looked for {config_path.absolute()})"
        raise ConfigError(f"{name}: file not found{where}") from None
    except UnicodeDecodeError as exc:
        before = raw[:exc.start]
        line, column = before.count(b"\n") + 1, len(before.rsplit(b"\n", 1)[-1].decode("utf-8", "replace")) + 1
        raise ConfigError(f"{name}: line {line}, column {column}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); "
                          "save the file as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read ({exc.__class__.__name__}: {exc})") from None
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        at = _TOML_POSITION.search(message)
        if at:
            message = message[:at.start()].rstrip()
            raise ConfigError(f"{name}: line {at['line']}, column {at['column']}: not valid TOML: {message}") from None
        if message.endswith("(at end of document)"):  # tomllib gives no line there: the last one it is
            lines = text.splitlines() or [""]
            message = message.removesuffix("(at end of document)").rstrip()
            raise ConfigError(f"{name}: line {len(lines)}, column {len(lines[-1]) + 1}: not valid TOML: {message} "
                              "(at the end of the file)") from None
        raise ConfigError(f"{name}: not valid TOML: {message}") from None


def load_settings(path: Path | str | None = None) -> Settings:
    """Load and check the pipeline config; raise ConfigError listing every problem, one per line.

    Relative paths are read from the project root wherever the config file is (see resolve_path).
    """
    config_path = Path(path) if path else DEFAULT_CONFIG
    name = str(config_path)
    data = read_toml(config_path, name)
    problems = _Problems(name)
    values: dict[str, object] = {"config_path": config_path.resolve()}
    numbered: list[tuple[int, SourceSettings]] = []
    for key, table in data.items():
        if key == "sources":
            if not isinstance(table, list):
                problems.add("[[sources]]", "must be an array of tables ([[sources]])")
                continue
            built = [(i, _build(SourceSettings, t, _source_where(i), problems)) for i, t in enumerate(table, 1)]
            numbered = [(i, _with_written_url(src)) for i, src in built if src is not None]
            values["sources"] = tuple(src for _, src in numbered)
        elif key in _SECTIONS:
            section = _build(_SECTIONS[key], table, f"[{key}]", problems)
            if section is not None:
                values[key] = section
        else:
            known = ", ".join(sorted([*_SECTIONS, "sources"]))
            problems.add(f"[{key}]", f"unknown section (known: {known})")
    values["warehouse"] = _located_warehouse(values.get("warehouse", WarehouseSettings()), problems)  # type: ignore[arg-type]
    values["parallel"] = _workers_from_environment(values.get("parallel", ParallelSettings()), problems)  # type: ignore[arg-type]
    settings = Settings(**values)  # type: ignore[arg-type]
    _check_ranges(settings, problems)
    _check_sources(numbered, problems)
    if problems.lines:
        raise ConfigError(problems.lines)
    return settings


def _workers_from_environment(parallel: ParallelSettings, problems: _Problems) -> ParallelSettings:
    """[parallel] workers, overridden by $NEWSDESK_WORKERS when it is set (a whole number, at least 1)."""
    value = os.environ.get(WORKERS_ENV, "").strip()
    if not value:
        return parallel
    if not value.isdigit() or int(value) < 1:
        problems.add(f"${WORKERS_ENV}", f"expected a whole number of at least 1, got {value!r}")
        return parallel
    return dataclasses.replace(parallel, workers=int(value))


def source_from_argument(arg: str, configured: tuple[SourceSettings, ...] = (),
                         moved: dict[str, tuple[str, str]] | None = None) -> SourceSettings:
    """Turn a --source command-line value (folder, file or http(s) URL) into a source.

    A value that names a configured source (its name, its feed URL, the URL its feed moved to, or its path)
    is that source, enabled for the run: its health, backoff and rejects stay under its name, and a person
    asking for a feed that was disabled polls it (a success enables it again)."""
    if not arg.strip():  # Path("") is the working folder: never read that by accident (an unset variable)
        raise ConfigError("--source: an empty value (name a folder, file, feed URL or configured source)")
    if is_http_url(arg):
        arg = written_url(arg)  # the form the config's URLs take, for the feed's name, health and lookup alike
    found = configured_source(arg, configured, moved)
    if found is not None:
        return dataclasses.replace(found, enabled=True)
    if is_http_url(arg):
        return SourceSettings(name=arg, kind="feed", url=arg)
    location = urllib.parse.urlsplit(arg)
    if location.scheme.lower() == "file" and location.netloc in ("", "localhost"):  # file:///path is that path
        path = Path(urllib.parse.unquote(location.path)).resolve()
    else:
        path = Path(arg).expanduser().resolve()
    if path.is_dir():
        return SourceSettings(name=str(arg), kind="folder", path=path)
    if path.is_file():
        return SourceSettings(name=str(arg), kind="file", path=path)
    raise ConfigError(f"--source {arg}: no such file or folder, feed URL or configured source")


def configured_source(arg: str, configured: tuple[SourceSettings, ...],
                      moved: dict[str, tuple[str, str]] | None = None) -> SourceSettings | None:
    """The configured source a --source value names: an http(s) URL by its feed URL or by the URL that feed
    moved to (moved: source name -> (the configured URL it moved from, the URL it moved to), as source health
    shows it; compared in canonical form), an existing file or folder by its path, anything else by its name;
    None when it names none."""
    if is_http_url(arg):
        wanted = canonical_url(arg)
        moved = moved or {}
        return next((s for s in configured if s.url and canonical_url(s.url) == wanted), None) or next(
            (s for s in configured if s.url and s.name in moved and moved[s.name][0] == s.url
             and canonical_url(moved[s.name][1]) == wanted), None)
    path = Path(arg).expanduser().resolve()
    by_path = next((s for s in configured if s.path is not None and s.path.resolve() == path), None)
    if by_path is not None or path.exists():
        return by_path
    return next((s for s in configured if s.name == arg), None)


def postgres_place(conninfo: str) -> tuple[str, str, str]:
    """Where a libpq connection string (keyword=value pairs, or a postgresql:// URI) points: (host, port,
    database), with libpq's defaults for what it leaves out, so that two ways of writing one catalog
    compare equal; the user and password do not change which catalog it is."""
    if re.match(r"postgres(?:ql)?://", conninfo):
        uri = urlsplit(conninfo)
        parts = {"host": unquote(uri.hostname or ""), "port": str(uri.port or ""), "dbname": unquote(uri.path.lstrip("/"))}
    else:
        pairs = re.findall(r"(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", conninfo)
        parts = {key: re.sub(r"\\(.)", r"\1", value[1:-1]) if value.startswith("'") else value for key, value in pairs}
    return parts.get("host") or "local", parts.get("port") or "5432", parts.get("dbname") or "default"


def other_warehouse(configured: WarehouseSettings, catalog: str) -> WarehouseSettings | None:
    """The warehouse settings for a catalog named instead of the configured one (catalog_location form),
    or None when it is the configured one, written another way.

    A file catalog keeps its data files beside it (CATALOG.files/); a postgres one uses the data path its
    lake keeps (none is given). Its digests go to its own reports folder (own_reports_dir), the one a config
    naming it without a reports_dir of its own uses too. So a run on another warehouse never replaces this
    one's latest digest page."""
    scheme, _, target = catalog.partition(":")
    if catalog == configured.catalog:
        return None
    if scheme == "postgres":
        mine, _, theirs = configured.catalog.partition(":")
        if mine == "postgres" and postgres_place(theirs) == postgres_place(target):
            return None
    # no data path: a file catalog's own, a postgres lake's own (a new lake named so is refused)
    return dataclasses.replace(configured, catalog=catalog, data_path="", reports_dir=own_reports_dir(catalog),
                               named_by="--warehouse")


def with_overrides(settings: Settings, sources: list[str] | None = None,
                   warehouse: str | None = None, allow_private_hosts: bool | None = None,
                   moved_feeds: dict[str, tuple[str, str]] | None = None) -> Settings:
    """Apply one run's command-line overrides (sources replace the configured ones; moved_feeds, as
    configured_source takes it, lets a feed be named by the URL it moved to)."""
    changes: dict[str, object] = {}
    if sources:
        chosen: dict[str, SourceSettings] = {}
        for arg in sources:  # each source once, however often it is named
            source = source_from_argument(arg, settings.sources, moved_feeds)
            chosen.setdefault(source.name, source)
        changes["sources"] = tuple(chosen.values())
    if warehouse is not None and not warehouse.strip():  # an unset variable: not the configured warehouse
        raise ConfigError("--warehouse: an empty value (name a catalog file, sqlite:PATH, duckdb:PATH or "
                          "postgres:CONNINFO, or leave the option out for the configured one)")
    if warehouse:
        try:
            catalog = catalog_location(warehouse, Path.cwd())
        except ValueError as exc:
            raise ConfigError(f"--warehouse {warehouse}: {exc}") from None
        other = other_warehouse(settings.warehouse, catalog)
        if other is not None:
            changes["warehouse"] = other
    if allow_private_hosts is not None:
        changes["http"] = dataclasses.replace(settings.http, allow_private_hosts=allow_private_hosts)
    return dataclasses.replace(settings, **changes) if changes else settings
