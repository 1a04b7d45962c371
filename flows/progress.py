"""Progress bars per stage (counts, rates, time) for one-off runs on a terminal; nothing at all elsewhere.

A command line opens on_terminal() around its flow run; the stages open stage() bars and advance
them as their batches' chunks come back from the worker processes. Without on_terminal() (served
runs, Prefect workers, tests, output to a pipe or file) stage() costs nothing and prints nothing, so
logs stay clean.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TaskID, TextColumn,
                           TimeElapsedColumn)
from rich.default_styles import DEFAULT_STYLES
from rich.text import Text
from rich.theme import Theme

# The styles rich's bars are drawn with, for a console whose theme does not have them.
BAR_THEME = Theme({name: style for name, style in DEFAULT_STYLES.items() if name.startswith(("bar.", "progress."))},
                  inherit=False)

_lock = threading.Lock()
_progress: Progress | None = None


class _RateColumn(ProgressColumn):
    """Items per second: the recent rate while a stage runs, the overall rate once it is done."""

    def render(self, task: Task) -> Text:
        if task.finished:
            speed = task.completed / task.finished_time if task.finished_time else None
        else:
            speed = task.speed
        return Text(f"{speed:,.1f}/s" if speed else "", style="progress.data.speed")


def enabled() -> bool:
    """True while bars are shown (a command line on a terminal is running a flow)."""
    return _progress is not None


def _log_consoles() -> list[logging.Handler]:
    """The logging handlers that print through a rich Console (Prefect's console handlers)."""
    loggers = [logging.getLogger()] + [lg for lg in logging.Logger.manager.loggerDict.values()
                                       if isinstance(lg, logging.Logger)]
    return [h for lg in loggers for h in lg.handlers if isinstance(getattr(h, "console", None), Console)]


@contextmanager
def _shared_console(stream: TextIO) -> Iterator[Console]:
    """The console for the bars. When stderr is a terminal too, it is the console Prefect's log
    handler prints with, and every such handler prints with it meanwhile: rich then prints each log
    line above the bars instead of through them. Logs sent to a file stay in the file."""
    handlers = _log_consoles() if sys.stderr.isatty() else []
    if not handlers:
        yield Console(file=stream)
        return
    shared = handlers[0].console  # type: ignore[attr-defined]
    saved = [h.console for h in handlers]  # type: ignore[attr-defined]
    for handler in handlers:
        handler.console = shared  # type: ignore[attr-defined]
    shared.push_theme(BAR_THEME)  # Prefect's theme has only its own log styles
    try:
        yield shared
    finally:
        shared.pop_theme()
        for handler, console in zip(handlers, saved):
            handler.console = console  # type: ignore[attr-defined]


@contextmanager
def on_terminal(stream: TextIO | None = None) -> Iterator[bool]:
    """Show a bar per stage while the block runs, when `stream` (default stdout) is a terminal;
    otherwise do nothing. Yields whether bars are shown."""
    global _progress
    stream = stream or sys.stdout
    if not stream.isatty() or os.environ.get("TERM") == "dumb" or _progress is not None:
        yield False
        return
    with _shared_console(stream) as console:
        progress = Progress(TextColumn("{task.description:<13}"), BarColumn(bar_width=30), MofNCompleteColumn(),
                            TextColumn("{task.fields[unit]}"), _RateColumn(), TimeElapsedColumn(), console=console,
                            redirect_stdout=True, redirect_stderr=sys.stderr.isatty())
        with progress:
            with _lock:
                _progress = progress
            try:
                yield True
            finally:
                with _lock:
                    _progress = None


class StageBar:
    """One stage's bar: advance it as items are done; finish it with the count when the total was
    not known at the start (the bar pulses until then)."""

    def __init__(self, progress: Progress | None = None, task: TaskID | None = None) -> None:
        self._progress, self._task = progress, task

    def advance(self, n: int) -> None:
        """n more items done."""
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, n)

    def finish(self, count: int | None = None) -> None:
        """The stage is done: with count, that many items (the total), else the total it started with."""
        if self._progress is None or self._task is None:
            return
        total = count if count is not None else next(t.total for t in self._progress.tasks if t.id == self._task)
        self._progress.update(self._task, total=total, completed=total)


@contextmanager
def stage(name: str, unit: str, total: int | None = None) -> Iterator[StageBar]:
    """A bar for one stage of `total` items (None: not known yet); full when the block ends without
    an error. Without on_terminal() the bar does nothing."""
    progress = _progress
    if progress is None or total == 0:
        yield StageBar()
        return
    bar = StageBar(progress, progress.add_task(name, total=total, unit=unit))
    yield bar
    bar.finish()
