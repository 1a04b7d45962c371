"""The command line every flow shares: --config and --warehouse, the exit codes, and running a flow once.

Exit codes: 0 done; 1 the run failed; 2 a bad config, path or input, or a warehouse another process is
writing (after waiting [warehouse] lock_wait_seconds) — each with one line on stderr, nothing changed.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import TYPE_CHECKING

from config.settings import ConfigError, Settings
from flows.runs import resolve_run
from warehouse import store

if TYPE_CHECKING:  # Prefect (and rich) are imported by the commands that run a flow, not by those that only read
    from prefect import Flow

EXIT_DONE, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def parser(prog: str, description: str | None) -> argparse.ArgumentParser:
    """An argument parser with the options every command takes: --config and --warehouse."""
    made = argparse.ArgumentParser(prog=prog, description=description)
    add_common_options(made)
    return made


def add_common_options(made: argparse.ArgumentParser) -> None:
    """--config and --warehouse, on a parser or on each subcommand's parser."""
    made.add_argument("--config", help="pipeline config (default: config/pipeline.toml)")
    made.add_argument("--warehouse", metavar="PATH", help="the DuckDB file to use (default from config)")


def day(text: str) -> date:
    """An argparse type: a day written YYYY-MM-DD."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date like 2026-01-31: {text!r}") from None


def fail(message: object) -> int:
    """Say what is wrong in one line on stderr; return the exit code for a bad config, path or input."""
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    return EXIT_BAD_INPUT


def checked_settings(args: argparse.Namespace, sources: list[str] | None = None,
                     allow_private_hosts: bool | None = None) -> Settings | int:
    """The settings for a command, checked before any flow run starts: the config and taxonomy, the
    warehouse path, and (waiting, read-only) that no other process is writing the warehouse.
    A problem is printed as one line and returned as exit code 2."""
    try:
        settings, _ = resolve_run(args.config, sources, args.warehouse, allow_private_hosts)
        store.check_path(settings.warehouse.path)
        wait_for_warehouse(settings)
    except (ConfigError, store.WarehouseError) as exc:
        print_error(exc)
        return EXIT_BAD_INPUT
    return settings


def print_error(error: Exception | str) -> None:
    """Print an error on stderr, one `error: ` line for each of its lines (a config error lists them all)."""
    print("\n".join(f"error: {line}" for line in str(error).splitlines() or [""]), file=sys.stderr)


def wait_for_warehouse(settings: Settings) -> None:
    """Wait (read-only, changing nothing) while another process holds the warehouse; WarehouseBusy after."""
    path = settings.warehouse.path
    if path.is_file() and path.stat().st_size > 0:
        store.connect(path, settings.warehouse.lock_wait_seconds, read_only=True).close()


def run_once(flow_: Flow, settings: Settings, **parameters: object) -> int:
    """Run a flow once on the task runner the config asks for: print its result and return 0, or print
    its failure in one line and return 1."""
    from flows import progress, spread

    run = spread.with_runner(flow_, settings.parallel)
    with spread.shared_api(settings.parallel), progress.on_terminal():  # bars only on a terminal
        state = run(**parameters, return_state=True)
    if state.is_failed():
        print_error(state.message or "")
        return EXIT_FAILED
    print(state.result())
    return EXIT_DONE
