"""Feed sources in and out of the config as OPML: `python -m flows.sources import FILE.opml | export`."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from config.settings import DEFAULT_CONFIG, ConfigError, Settings, load_settings
from config.sources_file import append_sources
from flows import cli
from flows.runs import resolve_settings
from tasks.files import replaced
from tasks.sources.opml import ImportPlan, OpmlError, OpmlFeed, parse_opml, plan_import, render_opml

MAX_OPML_BYTES = 20_000_000


class BadInput(ValueError):
    """A file named on the command line cannot be used; str() is the one-line reason."""


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = cli.Parser(prog="python -m flows.sources", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="import|export")
    bring = commands.add_parser("import", help="add the feeds of an OPML file to the config as [[sources]]")
    bring.add_argument("file", type=Path, metavar="FILE.opml")
    bring.add_argument("--dry-run", action="store_true", help="say what would be added, change nothing")
    send = commands.add_parser("export", help="write the configured feeds as OPML")
    send.add_argument("--out", type=Path, metavar="FILE", help="write to FILE (default: standard output)")
    for sub in (bring, send):
        cli.add_common_options(sub)
    return parser.parse_args(argv)


def read_opml(path: Path) -> bytes:
    """The file's bytes (BadInput when it is missing, unreadable or far too big for a feed list)."""
    try:
        if path.stat().st_size > MAX_OPML_BYTES:
            raise BadInput(f"{path}: larger than {MAX_OPML_BYTES:,} bytes, not a feed list")
        return path.read_bytes()
    except OSError as exc:
        raise BadInput(f"{path}: cannot read ({exc.strerror})") from None


def replace_config(path: Path, text: str) -> None:
    """Write the new config text in place of the old, only once it loads and checks as a config
    (ConfigError otherwise, and nothing changed)."""
    with replaced(path, prefix=f".{path.name}.", suffix=".new") as temporary:
        temporary.write_text(text, encoding="utf-8")
        shutil.copymode(path, temporary)
        try:
            load_settings(temporary)
        except ConfigError as exc:
            raise ConfigError(f"{path}: the import would break the config ({exc})") from None


def _report(plan: ImportPlan, config: Path, dry_run: bool) -> str:
    verb = "would add" if dry_run else "added"
    lines = [f"{verb} {len(plan.added)} feed{'s' if len(plan.added) != 1 else ''} to {config}"
             + (":" if plan.added else "")]
    lines += [f"  + {t['name']} <{t['url']}>" + (f" tags: {', '.join(t['tags'])}" if t.get("tags") else "")
              for t in plan.added]
    if plan.configured:
        lines.append(f"skipped {len(plan.configured)} already configured:")
        lines += [f"  = {feed.title or feed.xml_url} <{feed.xml_url}> (source {name!r})"
                  for feed, name in plan.configured]
    if plan.refused:
        lines.append(f"skipped {len(plan.refused)} that are not feeds this pipeline can read:")
        lines += [f"  - {line}" for line in plan.refused]
    return "\n".join(lines)


def import_opml(args: argparse.Namespace, settings: Settings) -> int:
    """Add the file's feeds that are not configured yet to the config; print what was done."""
    plan = plan_import(parse_opml(read_opml(args.file)), settings.sources)
    config = Path(args.config) if args.config else DEFAULT_CONFIG
    if plan.added and not args.dry_run:
        replace_config(config, append_sources(config.read_text(encoding="utf-8"), plan.added))
    print(_report(plan, config, args.dry_run))
    return cli.EXIT_DONE


def export_opml(args: argparse.Namespace, settings: Settings) -> int:
    """Write the configured feed sources as an OPML 2.0 list."""
    feeds = [OpmlFeed(s.name, s.url, "", s.tags) for s in settings.sources if s.kind == "feed" and s.url]
    document = render_opml(feeds, f"newsdesk feed sources ({settings.config_path.name})")
    if args.out is None:
        sys.stdout.write(document)
        return cli.EXIT_DONE
    try:
        args.out.write_text(document, encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"{args.out}: cannot write ({exc.strerror})") from None
    print(f"wrote {len(feeds)} feeds to {args.out}", file=sys.stderr)
    return cli.EXIT_DONE


def main(argv: list[str] | None = None) -> int:
    """Run import or export; 0 done, 2 a bad config, file or OPML (one line on stderr, nothing changed)."""
    args = _arguments(argv)
    try:
        settings = resolve_settings(args.config, warehouse_path=args.warehouse)
        return import_opml(args, settings) if args.command == "import" else export_opml(args, settings)
    except (ConfigError, BadInput) as exc:
        return cli.fail(exc)
    except OpmlError as exc:
        return cli.fail(f"{args.file}: {exc}")


if __name__ == "__main__":
    cli.exit_with(main)
