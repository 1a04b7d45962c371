"""Searches everything stored: `python -m flows.search "QUERY" [--since DATE] [--issue NAME] [--limit N]`."""

from __future__ import annotations

import argparse

import duckdb

from config.settings import ConfigError
from flows import cli
from flows.runs import resolve_settings
from warehouse import lake, queries

NO_INDEX_HINT = "it has no search index yet (one run upgrades it: make run)"


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = cli.parser("python -m flows.search", __doc__)
    parser.add_argument("query", help="words to look for in titles and texts (any of them; more matches rank higher)")
    parser.add_argument("--since", type=cli.day, metavar="YYYY-MM-DD", help="only articles dated on or after this day")
    parser.add_argument("--issue", metavar="NAME", help="only articles tagged with this issue")
    parser.add_argument("--limit", type=_positive, default=10, metavar="N", help="how many hits (default 10)")
    return parser.parse_args(argv)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a whole number above 0: {text!r}")
    return int(text)


def _line(text: str | None) -> str:
    return " ".join((text or "").split())


def format_hit(rank: int, hit: queries.SearchHit) -> str:
    """A hit as a few lines of text: title and score; source, date and story; tags; where; copies."""
    when = f"{hit.day.isoformat()}{' (ingested)' if hit.day_is_ingested else ''}"
    lines = [f"{rank}. {_line(hit.title) or '(untitled)'}  [score {hit.score:.2f}]",
             f"   {hit.source} · {when} · story: {hit.story or '(none)'}",
             f"   tags: {', '.join(hit.tags) or 'none'}"]
    if hit.location:
        lines.append(f"   {hit.location}")
    for copy in hit.copies:
        title = _line(copy["title"]) or "(untitled)"
        lines.append(f"   └ {copy['kind'] or 'duplicate'} copy: {title} — {copy['source']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the ranked hits; 0 done (also with no hits), 2 a bad config, warehouse or query."""
    args = _arguments(argv)
    try:
        settings = resolve_settings(args.config, warehouse_path=args.warehouse)
        con = cli.open_for_reading(settings)
    except (ConfigError, lake.WarehouseError) as exc:
        return cli.fail(exc)
    try:
        if not queries.query_tokens(con, args.query):
            return cli.fail(f"the query {args.query!r} has no word to search for (stop words and single "
                            "letters are not indexed)")
        issue = None
        if args.issue is not None:  # in any case: taxonomy issues are lower case, source tags as configured
            tagged = queries.tagged_issues(con)
            issue = next((t for t in tagged if t.lower() == args.issue.strip().lower()), None)
            if issue is None:
                return cli.fail(f"--issue {args.issue}: no stored article is tagged with it (tagged: "
                                f"{', '.join(tagged) or 'none yet'})")
        hits = queries.search(con, args.query, args.since, issue, args.limit)
        limits = " and ".join(([f"dated on or after {args.since.isoformat()}"] if args.since else [])
                              + ([f"tagged {issue}"] if issue else []))
        # with nothing found under a limit, whether the words match at all: a date typed a year ahead
        unlimited = bool(queries.search(con, args.query, None, None, 1)) if limits and not hits else False
    except duckdb.CatalogException:
        return cli.fail(f"warehouse {lake.lake_of(settings.warehouse)}: {NO_INDEX_HINT}")
    finally:
        con.close()
    if not hits:
        print(f"no article matches {args.query!r}" + (f" {limits}" if limits else "")
              + (" (some do without that limit)" if unlimited else ""))
    for rank, hit in enumerate(hits, 1):
        print(format_hit(rank, hit))
    return cli.EXIT_DONE


if __name__ == "__main__":
    cli.exit_with(main)
