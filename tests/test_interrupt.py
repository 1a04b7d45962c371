"""A one-off run stopped by SIGTERM (timeout, cron, systemd) or Ctrl-C: one line, and nothing left running."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bench.soak import make_corpus
from tests.conftest import ROOT

START_TIMEOUT = 240


def _as_from_a_terminal() -> None:
    """In the child: Ctrl-C delivered as from a terminal. A test process started in the background by a shell
    without job control (`cmd &` in a script) ignores SIGINT, and its children would inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _group(pgid: int) -> list[str]:
    """The processes still in the process group (zombies count as gone)."""
    out = subprocess.run(["ps", "-o", "stat=,args=", "-g", str(pgid)], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line.strip() and not line.strip().startswith("Z")]


@pytest.mark.parametrize(("sig", "code", "by", "group"), [
    (signal.SIGTERM, 143, "SIGTERM", False),  # kill PID
    (signal.SIGTERM, 143, "SIGTERM", True),  # timeout(1) and systemd signal the whole process group, workers too
    (signal.SIGINT, 130, "Ctrl-C", True)])  # the terminal's Ctrl-C goes to the whole process group
def test_a_stopped_run_says_so_in_one_line_and_leaves_nothing_running(tmp_path: Path, sig: int, code: int,
                                                                       by: str, group: bool) -> None:
    corpus = tmp_path / "in"
    make_corpus(corpus, 3000, seed=7)  # long enough to be stopped in the middle
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}  # the run starts its own API
    env.update(PREFECT_HOME=str(tmp_path / "home"), PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_LOGGING_LEVEL="INFO")
    err = tmp_path / "err.log"
    with err.open("w") as handle:
        proc = subprocess.Popen([sys.executable, "-m", "flows.ingest", "--source", str(corpus), "--warehouse",
                                 str(tmp_path / "catalog.sqlite")], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=handle, start_new_session=True, preexec_fn=_as_from_a_terminal)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while "clean: " not in err.read_text(encoding="utf-8", errors="replace"):  # its worker pool is up
            assert proc.poll() is None and time.monotonic() < deadline, err.read_text(encoding="utf-8")[-3000:]
            time.sleep(0.2)
        text = err.read_text(encoding="utf-8")
        api = re.search(r"Starting temporary server on (http://127\.0\.0\.1:\d+)", text)
        assert api, text[-3000:]
        assert _answers(f"{api[1]}/api/health")
        os.killpg(proc.pid, sig) if group else proc.send_signal(sig)
        assert proc.wait(120) == code, err.read_text(encoding="utf-8")[-3000:]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    text = err.read_text(encoding="utf-8")
    assert "Traceback" not in text, text[-3000:]
    errors = [line for line in text.splitlines() if line.startswith("error: ")]
    assert errors == [f"error: stopped by {by} before the run finished: nothing it had not committed is kept, "
                      "and the next run lists it as abandoned"], text[-3000:]
    deadline = time.monotonic() + 30
    while (_group(proc.pid) or _answers(f"{api[1]}/api/health")) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _group(proc.pid) == [], "the worker pool stopped with the run"
    assert not _answers(f"{api[1]}/api/health"), "the temporary API server stopped with the run"


@pytest.mark.parametrize(("sig", "code", "by"), [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "Ctrl-C")])
def test_a_run_stopped_while_it_waits_for_the_warehouse_says_so_in_one_line(tmp_path: Path, sig: int, code: int,
                                                                              by: str) -> None:
    """Ctrl-C (or SIGTERM) while a one-off run waits for another run's turn on the warehouse: one line, no
    traceback, and nothing changed."""
    from warehouse import connect, open_warehouse

    db = tmp_path / "catalog.sqlite"
    holder = connect.connect(db)  # another run writing: this test process holds the run lock
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(PREFECT_HOME=str(tmp_path / "home"), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    try:
        proc = subprocess.Popen([sys.executable, "-m", "flows.ingest", "--source", str(ROOT / "seeds"),
                                 "--warehouse", str(db)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True,
                                preexec_fn=_as_from_a_terminal)
        try:
            first = proc.stderr.readline()  # said at once, before any flow run starts
            assert "(another run writing): waiting up to" in first, first
            os.killpg(proc.pid, sig) if sig == signal.SIGINT else proc.send_signal(sig)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    finally:
        holder.close()
    assert proc.returncode == code, err[-3000:]
    assert "Traceback" not in err and out == "", err[-3000:]
    assert err.strip().splitlines() == [f"error: stopped by {by} while waiting for the warehouse's turn: "
                                        "nothing was changed"], err[-3000:]
    with open_warehouse(db) as con:
        assert con.execute("SELECT count(*) FROM runs").fetchone() == (0,)


def test_ctrl_c_as_the_worker_pool_starts_prints_one_line_and_no_traceback(tmp_path: Path) -> None:
    """Ctrl-C right after discover, while the clean stage is still starting its worker pool: the one line
    and exit 130, and no traceback of a worker that was being made when the pool stopped (it printed
    `FileNotFoundError` from multiprocessing's SemLock after the run's own line)."""
    corpus = tmp_path / "in"
    make_corpus(corpus, 200, seed=11)
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(PREFECT_HOME=str(tmp_path / "home"), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_LOGGING_LEVEL="INFO", NEWSDESK_WORKERS="2")
    proc = subprocess.Popen([sys.executable, "-m", "flows.ingest", "--source", str(corpus), "--warehouse",
                             str(tmp_path / "catalog.sqlite")], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True, preexec_fn=_as_from_a_terminal)
    text = ""
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while "discover: " not in text:  # the pool starts next, in the clean stage
            line = proc.stderr.readline().decode("utf-8", "replace")
            assert line and time.monotonic() < deadline, text[-3000:]
            text += line
        time.sleep(0.3)  # the pool's workers are being made
        os.killpg(proc.pid, signal.SIGINT)
        text += proc.communicate(timeout=120)[1].decode("utf-8", "replace")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    deadline = time.monotonic() + 30
    while _group(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _group(proc.pid) == [], "the worker pool stopped with the run"


@pytest.mark.parametrize("raised", [KeyboardInterrupt(), KeyboardInterrupt("SIGTERM")])
def test_ctrl_c_during_a_warehouse_query_stays_an_interrupt(tmp_path: Path, raised: KeyboardInterrupt) -> None:
    """DuckDB's client turns Ctrl-C during a query into RuntimeError('Query interrupted'): a run stopped in
    its store stage failed with tracebacks and exit 1 (status failed). The stages' queries re-raise the
    interrupt itself (SIGTERM's too, which the command line raises as KeyboardInterrupt("SIGTERM"))."""
    import threading

    from flows import stages
    from warehouse import connect

    def handler(signum: int, frame: object) -> None:
        raise raised

    previous = signal.signal(signal.SIGUSR1, handler)
    con = connect.connect(tmp_path / "catalog.sqlite")
    try:
        timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGUSR1))
        timer.start()
        with pytest.raises(KeyboardInterrupt) as info, connect.interrupts_kept():
            con.execute("SELECT sum(a * b) FROM range(20000000000) t(a), range(1) u(b)").fetchall()
        timer.join()
    finally:
        con.close()
        signal.signal(signal.SIGUSR1, previous)
    assert info.value is raised
    # every stage that queries the warehouse keeps it so
    for task in (stages.discover_task, stages.feeds_task, stages.dedup_task, stages.story_members_task,
                 stages.store_task, stages.page_task):
        assert getattr(task.fn, "__wrapped__", None) is not None, task.name


def test_ctrl_c_while_a_command_starts_is_one_line(tmp_path: Path) -> None:
    """Ctrl-C in the seconds a command takes to import Prefect printed a page of traceback from whatever
    was being imported; it is one line, and the process ends as stopped by SIGINT (130 in a shell)."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(PREFECT_HOME=str(tmp_path / "home"))
    starting = ("from flows import before_prefect\nbefore_prefect()\nimport os, signal, time\n"
                "os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, as the imports go on\ntime.sleep(30)\n"
                "import prefect\n")
    proc = subprocess.run([sys.executable, "-c", starting], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == -signal.SIGINT, (proc.returncode, proc.stderr[-2000:])
    assert proc.stderr == "stopped by Ctrl-C before the command started: nothing was done\n", proc.stderr[-2000:]
    # once the command has begun, an interrupt nothing caught claims no such thing
    begun = starting.replace("before_prefect()\n", "before_prefect()\nfrom flows import cli\ncli.parser('x', None)\n")
    proc = subprocess.run([sys.executable, "-c", begun], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stderr) == (-signal.SIGINT, "stopped by Ctrl-C\n"), proc.stderr[-2000:]
