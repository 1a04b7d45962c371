"""Reads config/pipeline.toml once, checks every key, and hands typed settings down."""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "config" / "pipeline.toml"
SUMMARY_ALGORITHMS = ("textrank", "lexrank", "lsa", "luhn", "kl", "sumbasic", "lead", "centrality")
PARALLEL_RUNNERS = ("processes", "dask")


class ConfigError(ValueError):
    """A configuration problem, worded as one line naming the file, the key and what is wrong."""


@dataclass(frozen=True)
class WarehouseSettings:
    path: Path = PROJECT_ROOT / "warehouse" / "news.duckdb"
    reports_dir: Path = PROJECT_ROOT / "warehouse" / "reports"
    lock_wait_seconds: float = 30.0


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
    story_threshold: float = 0.3
    story_window_days: float = 4.0


@dataclass(frozen=True)
class SummarySettings:
    algorithm: str = "centrality"
    sentences: int = 3
    story_sentences: int = 4


@dataclass(frozen=True)
class TagSettings:
    taxonomy: Path = PROJECT_ROOT / "config" / "issues.toml"
    min_score: float = 1.0
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


def _coerce(value: object, hint: object, where: str, base: Path) -> object:
    """Check one value against its declared type and convert it (paths resolved against base)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return _coerce(value, args[0], where, base)
    if hint is Path:
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where}: expected a path string, got {value!r}")
        path = Path(value).expanduser()
        return path if path.is_absolute() else (base / path)
    if origin is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
        return tuple(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected a whole number, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{where}: unsupported setting type")


def _build(cls: type, table: object, where: str, base: Path, extra: dict | None = None) -> object:
    """Make one settings dataclass from a TOML table, refusing unknown keys."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table, got {table!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    values: dict[str, object] = dict(extra or {})
    for key, value in table.items():
        if key not in names or key in values:
            raise ConfigError(f"{where}: unknown key '{key}' (known: {', '.join(sorted(names))})")
        values[key] = _coerce(value, hints[key], f"{where}.{key}", base)
    try:
        return cls(**values)
    except TypeError as exc:  # a required key is missing
        missing = sorted(f.name for f in dataclasses.fields(cls)
                         if f.name not in values and f.default is dataclasses.MISSING)
        raise ConfigError(f"{where}: missing key(s) {', '.join(missing) or exc}") from None


def _known_timezone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _check_ranges(s: Settings, name: str) -> None:
    """Reject values that are well typed but make no sense."""
    checks = [
        (s.discover.max_file_bytes > 0, "discover.max_file_bytes", "must be positive"),
        (all(e.startswith(".") for e in s.discover.extensions), "discover.extensions", "each must start with '.'"),
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
        (s.tags.max_tags >= 1, "tags.max_tags", "must be at least 1"),
        (1 <= s.report.trend_days <= 3660, "report.trend_days", "must be between 1 and 3660"),
        (1 <= s.report.trend_issues <= 20, "report.trend_issues", "must be between 1 and 20"),
        (s.warehouse.lock_wait_seconds >= 0, "warehouse.lock_wait_seconds", "must not be negative"),
        (s.http.max_bytes > 0, "http.max_bytes", "must be positive"),
        (s.http.max_redirects >= 0, "http.max_redirects", "must not be negative"),
        (s.feeds.min_poll_interval_minutes > 0, "feeds.min_poll_interval_minutes", "must be positive"),
        (s.feeds.max_backoff_hours * 60 >= s.feeds.min_poll_interval_minutes, "feeds.max_backoff_hours",
         "must not be shorter than min_poll_interval_minutes"),
        (s.feeds.disable_after >= 1, "feeds.disable_after", "must be at least 1"),
        (s.feeds.validator_max_age_days > 0, "feeds.validator_max_age_days", "must be positive"),
        (len(s.schedule.cron.split()) in (5, 6), "schedule.cron", "must be a cron expression of 5 fields"),
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
            raise ConfigError(f"{name}: {key} {message}")
    seen: set[str] = set()
    for i, src in enumerate(s.sources):
        where = f"{name}: sources[{i}]"
        if src.kind not in ("folder", "file", "feed"):
            raise ConfigError(f"{where}.kind must be folder, file or feed, got {src.kind!r}")
        if src.kind in ("folder", "file") and src.path is None:
            raise ConfigError(f"{where}.path is required for a {src.kind} source")
        if src.kind == "feed" and not (src.url or "").startswith(("http://", "https://")):
            raise ConfigError(f"{where}.url must be an http(s) URL for a feed source")
        if src.name in seen:
            raise ConfigError(f"{where}.name {src.name!r} is used twice")
        seen.add(src.name)


def load_settings(path: Path | str | None = None) -> Settings:
    """Load and validate the pipeline config; raise ConfigError with a one-line reason."""
    config_path = Path(path) if path else DEFAULT_CONFIG
    name = str(config_path)
    try:
        data = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{name}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{name}: cannot read ({exc.__class__.__name__}: {exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: not valid TOML ({exc})") from None
    base = config_path.resolve().parent.parent if config_path.resolve().parent.name == "config" \
        else config_path.resolve().parent
    values: dict[str, object] = {"config_path": config_path.resolve()}
    for key, table in data.items():
        if key == "sources":
            if not isinstance(table, list):
                raise ConfigError(f"{name}: sources must be an array of tables ([[sources]])")
            values["sources"] = tuple(
                _build(SourceSettings, t, f"{name}: sources[{i}]", base) for i, t in enumerate(table))
        elif key in _SECTIONS:
            values[key] = _build(_SECTIONS[key], table, f"{name}: [{key}]", base)
        else:
            known = ", ".join(sorted([*_SECTIONS, "sources"]))
            raise ConfigError(f"{name}: unknown section '{key}' (known: {known})")
    for key, cls in _SECTIONS.items():  # defaults resolved against this config's base too
        if key not in values:
            values[key] = _build(cls, {}, f"{name}: [{key}]", base)
    settings = Settings(**values)  # type: ignore[arg-type]
    _check_ranges(settings, name)
    return settings


def source_from_argument(arg: str, index: int) -> SourceSettings:
    """Turn a --source command-line value (folder, file or http(s) URL) into a source."""
    if arg.startswith(("http://", "https://")):
        return SourceSettings(name=arg, kind="feed", url=arg)
    path = Path(arg).expanduser().resolve()
    if path.is_dir():
        return SourceSettings(name=str(arg), kind="folder", path=path)
    if path.is_file():
        return SourceSettings(name=str(arg), kind="file", path=path)
    raise ConfigError(f"--source {arg}: no such file or folder")


def with_overrides(settings: Settings, sources: list[str] | None = None,
                   warehouse: str | None = None, allow_private_hosts: bool | None = None) -> Settings:
    """Apply one run's command-line overrides (sources replace the configured ones)."""
    changes: dict[str, object] = {}
    if sources:
        changes["sources"] = tuple(source_from_argument(a, i) for i, a in enumerate(sources))
    if warehouse:
        changes["warehouse"] = dataclasses.replace(settings.warehouse, path=Path(warehouse).expanduser().resolve())
    if allow_private_hosts is not None:
        changes["http"] = dataclasses.replace(settings.http, allow_private_hosts=allow_private_hosts)
    return dataclasses.replace(settings, **changes) if changes else settings
