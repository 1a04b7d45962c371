"""Progress bars per stage on a terminal (a real pseudo-terminal), and nothing at all elsewhere."""

from __future__ import annotations

import io
import os
import pty
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from flows import pool, progress
from tests.conftest import ROOT, SEEDS

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
BAR = "━"
STAGES = ("discover", "clean", "fingerprint", "dedup", "summarise", "tag", "stories", "store")


def _double(chunk: list[int]) -> list[int]:
    """A stand-in CPU stage for the worker processes."""
    return [2 * n for n in chunk]


class _Terminal:
    """A pseudo-terminal: a file for the writer that isatty(), and everything written to it, as text."""

    def __init__(self) -> None:
        self._master, self.slave = pty.openpty()
        self._chunks: list[bytes] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self._master, 65536)
            except OSError:  # the writing side is closed
                return
            if not data:
                return
            self._chunks.append(data)

    def text(self) -> str:
        """What was written, once the writing side is closed, without colour and cursor codes."""
        self._reader.join(timeout=30)
        os.close(self._master)
        return ANSI.sub("", b"".join(self._chunks).decode("utf-8", "replace"))


def test_a_terminal_gets_a_bar_per_stage_with_counts_and_rates():
    terminal = _Terminal()
    stream = os.fdopen(terminal.slave, "w", encoding="utf-8")
    with progress.on_terminal(stream) as shown:
        assert shown and progress.enabled()
        with progress.stage("clean", "inputs", 64) as bar:
            doubled = pool.map_chunks(_double, list(range(64)), workers=2, min_items=2, progress=bar.advance)
        with progress.stage("discover", "inputs") as bar:
            bar.finish(7)
    stream.close()
    assert doubled == [2 * n for n in range(64)] and not progress.enabled()
    text = terminal.text()
    assert re.search(r"clean\s+" + BAR + r"+\s+64/64\s+inputs\s+[\d,.]+/s\s+\d:\d\d:\d\d", text), text[-500:]
    assert re.search(r"discover\s+" + BAR + r"+\s+7/7\s+inputs", text), text[-500:]


def test_a_pipe_or_file_gets_nothing():
    stream = io.StringIO()
    with progress.on_terminal(stream) as shown:
        assert not shown and not progress.enabled()
        with progress.stage("clean", "inputs", 64) as bar:
            bar.advance(10)
            bar.finish(64)
    assert stream.getvalue() == ""


def _cli(tmp_path: Path, prefect_api: str, **streams) -> subprocess.CompletedProcess:
    folder = tmp_path / "in"
    if not folder.exists():
        shutil.copytree(SEEDS, folder)
    config = tmp_path / "pipeline.toml"
    config.write_text(f'[warehouse]\ncatalog = "{(tmp_path / "catalog.sqlite").as_posix()}"\n'
                      f'reports_dir = "{(tmp_path / "reports").as_posix()}"\n'
                      f'[tags]\ntaxonomy = "{(ROOT / "config" / "issues.toml").as_posix()}"\n', encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "flows.ingest", "--config", str(config), "--source", str(folder)],
                          cwd=ROOT, timeout=300, env={**os.environ, "PREFECT_API_URL": prefect_api,
                                                      "TERM": "xterm-256color", "COLUMNS": "120"}, **streams)


def test_a_run_on_a_terminal_shows_each_stage_and_then_the_digest(prefect_api, tmp_path):
    terminal = _Terminal()
    result = _cli(tmp_path, prefect_api, stdout=terminal.slave, stderr=terminal.slave, stdin=subprocess.DEVNULL)
    os.close(terminal.slave)
    text = terminal.text()
    assert result.returncode == 0, text[-3000:]
    for name in STAGES:
        assert re.search(rf"{name}\s+{BAR}+\s+\d+/\d+\s+\w+", text), (name, text[-3000:])
    assert re.search(rf"clean\s+{BAR}+\s+2/2\s+inputs", text)
    assert text.rindex("store ") < text.index("# Ingest run"), "the digest comes after the bars"


def test_a_run_with_output_to_pipes_prints_no_bar(prefect_api, tmp_path):
    result = _cli(tmp_path, prefect_api, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("# Ingest run")
    assert BAR not in result.stdout + result.stderr and "\r" not in result.stdout + result.stderr
