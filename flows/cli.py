"""The command line every flow shares: --config and --warehouse, the exit codes, and running a flow once.

Exit codes: 0 done; 1 the run failed; 2 a bad config, path or input, an unusable warehouse (unknown catalog
scheme, unreachable catalog, unwritable folder or data_path), or a warehouse another local run is writing
(after waiting [warehouse] lock_wait_seconds) — each with one line on stderr, nothing changed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import date
from typing import TYPE_CHECKING

import duckdb

from config.settings import ConfigError, Settings
from flows import command_started
from flows.runs import resolve_run
from warehouse import connect, lake

if TYPE_CHECKING:  # Prefect (and rich) are imported by the commands that run a flow, not by those that only read
    from prefect import Flow

EXIT_DONE, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
EXIT_INTERRUPTED, EXIT_SIGTERM = 130, 143  # as a shell reports a process stopped by SIGINT, SIGTERM
EXIT_PIPE_CLOSED = 141  # as a shell reports a process stopped by SIGPIPE: the reader of its output left


class Parser(argparse.ArgumentParser):
    """argparse with the commands' exit codes: a bad argument is one line on stderr and exit 2 (not a usage
    block); subcommands' parsers are of this class too."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print_error(f"{self.prog}: {message} (--help lists the options)")
        raise SystemExit(EXIT_BAD_INPUT)


def parser(prog: str, description: str | None) -> argparse.ArgumentParser:
    """An argument parser with the options every command takes: --config and --warehouse."""
    command_started()
    made = Parser(prog=prog, description=description)
    add_common_options(made)
    return made


def add_common_options(made: argparse.ArgumentParser) -> None:
    """--config and --warehouse, on a parser or on each subcommand's parser."""
    made.add_argument("--config", help="pipeline config (default: config/pipeline.toml)")
    made.add_argument("--warehouse", metavar="CATALOG",
                      help="the warehouse: sqlite:PATH, postgres:CONNINFO, duckdb:PATH or a file path (a SQLite "
                           "catalog, its data beside it); default from the config")


def day(text: str) -> date:
    """An argparse type: a day written YYYY-MM-DD."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date like 2026-01-31: {text!r}") from None


def checked_settings(args: argparse.Namespace, sources: list[str] | None = None,
                     allow_private_hosts: bool | None = None, existing: bool = False,
                     dry_run: bool = False, reports: bool = False) -> Settings | int:
    """The settings for a command, checked before any flow run starts: the config and taxonomy, the
    warehouse location (with existing, that a file lake is there already; with reports, that the digest
    can be written in reports_dir), and (waiting, changing nothing) that no other local run is writing
    the warehouse, or that a shared catalog can be reached.
    A problem is printed as one line and returned as exit code 2; Ctrl-C or SIGTERM during the wait, as
    130 or 143."""
    try:
        settings, _ = resolve_run(args.config, sources, args.warehouse, allow_private_hosts)
        lake.check(settings.warehouse, existing=existing)
        if reports:
            lake.check_reports(settings.warehouse)
        from flows import spread  # Prefect: imported only by the commands that run a flow, which come here

        api = spread.api_problem()  # before any wait for the warehouse: a run no API can record would fail
        if api:
            return fail(api)
        if not (dry_run and lake.not_made_yet(settings.warehouse)):  # a dry run makes no lake, nor its lock
            try:
                with _sigterm_as_interrupt():
                    wait_for_warehouse(settings)
            except KeyboardInterrupt as exc:  # one line, as when a run is stopped
                return stopped(exc, "while waiting for the warehouse's turn: nothing was changed")
    except (ConfigError, lake.WarehouseError) as exc:
        return fail(exc)
    return settings


def exit_with(main: Callable[[], int]) -> None:
    """Exit with main's code; output piped to a reader that stops early (`| head`) ends the command quietly
    with EXIT_PIPE_CLOSED instead of a BrokenPipeError traceback."""
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # the interpreter flushes stdout again at exit: point it at nothing so that flush cannot fail
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = EXIT_PIPE_CLOSED
    sys.exit(code)


def print_error(error: Exception | str) -> None:
    """Print an error on stderr, one `error: ` line for each of its lines (a config error lists them all)."""
    print("\n".join(f"error: {line}" for line in str(error).splitlines() or [""]), file=sys.stderr)


def fail(error: Exception | str) -> int:
    """Say what is wrong (print_error) and return the exit code for a bad config, path or input."""
    print_error(error)
    return EXIT_BAD_INPUT


def stopped(interrupt: KeyboardInterrupt, what: str) -> int:
    """Say in one line that Ctrl-C or SIGTERM (raised as KeyboardInterrupt("SIGTERM")) stopped the command,
    and return the exit code a shell gives a process stopped by that signal."""
    by = "SIGTERM" if interrupt.args == ("SIGTERM",) else "Ctrl-C"
    print_error(f"stopped by {by} {what}")
    return EXIT_SIGTERM if by == "SIGTERM" else EXIT_INTERRUPTED


def open_for_reading(settings: Settings) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the warehouse for a command that only reads: it reads the last committed
    snapshot, so it answers while a run is writing and never makes a run wait (WarehouseError with a
    one-line reason)."""
    return connect.connect(settings.warehouse, read_only=True)


def wait_for_warehouse(settings: Settings) -> None:
    """Wait (changing nothing) while another local run holds the warehouse (WarehouseBusy after), or
    reach a shared catalog once (WarehouseError when it cannot be reached)."""
    if lake.lake_of(settings.warehouse).shared:
        connect.connect(settings.warehouse).close()
    else:
        connect.wait_for_turn(settings.warehouse, settings.warehouse.lock_wait_seconds,
                              lambda message: print(message, file=sys.stderr, flush=True))


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """While a one-off run runs, SIGTERM stops it as Ctrl-C does: the run unwinds, and the worker pool
    and Prefect's temporary server stop with the process (killed outright, they would be left running)."""
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt("SIGTERM")

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    # a closed terminal or dropped SSH session (SIGHUP) stops the run the same way
    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_once(flow_: Flow, settings: Settings, **parameters: object) -> int:
    """Run a flow once on the task runner the config asks for: print its result and return 0, or print
    its failure in one line and return 1."""
    from flows import progress, spread

    run = spread.with_runner(flow_, settings.parallel)
    try:
        with _sigterm_as_interrupt(), spread.shared_api(settings.parallel), progress.on_terminal():
            state = run(**parameters, return_state=True)  # bars only on a terminal
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (timeout, cron, systemd): one line, and all stopped
        return stopped(exc, "before the run finished: nothing it had not committed is kept, and the next run "
                            "lists it as abandoned")
    if state.is_failed():
        print_error(state.message or "")
        return EXIT_FAILED
    print(state.result())
    return EXIT_DONE
