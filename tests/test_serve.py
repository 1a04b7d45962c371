"""The served ingest deployment on a real Prefect server: schedule, API runs, concurrency, lock wait, late runs."""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import ROOT, SEEDS
from warehouse import open_warehouse

pytestmark = pytest.mark.server

TIMEZONE = "Europe/Berlin"
MAX_LATENESS_MINUTES = 30
LOCK_WAIT_SECONDS = 2
SERVER_START_TIMEOUT = 240
SERVE_START_TIMEOUT = 90
RUN_TIMEOUT = 120
SEED_NAMES = {p.name for p in SEEDS.iterdir()}
CONCURRENCY_MESSAGE = "Deployment concurrency limit reached."


# --- processes ------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(log: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """Start a process in its own process group (so its children can be stopped with it), output to log."""
    with log.open("ab") as handle:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def _stop(proc: subprocess.Popen, grace: float = 20) -> None:
    """Terminate a process group started by _start, then kill whatever is left of it."""
    if proc.poll() is None:
        _signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    _signal_group(proc, signal.SIGKILL)  # flow-run children outlive their runner otherwise
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        pass


# --- server, config, served deployment ------------------------------------------------------------

@dataclass
class Server:
    api: str
    home: Path
    log: Path

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for a client process of this server."""
        env = {**os.environ, "PREFECT_API_URL": self.api, "PREFECT_HOME": str(self.home),
               "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
        env.update(extra)
        return env


@dataclass
class Served:
    name: str
    config: Path
    base: Path
    cron: str
    first_run_at: datetime
    proc: subprocess.Popen
    log: Path


def _healthy(api: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    """A real `prefect server start` on a free loopback port with its own PREFECT_HOME."""
    base = tmp_path_factory.mktemp("prefect-server")
    port = _free_port()
    srv = Server(api=f"http://127.0.0.1:{port}/api", home=base / "home", log=base / "server.log")
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(PREFECT_HOME=str(srv.home), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS="2", PREFECT_SERVER_LOGGING_LEVEL="WARNING")
    proc = _start([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                  env, srv.log)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while not _healthy(srv.api):
            if proc.poll() is not None:
                pytest.fail(f"the Prefect server exited with {proc.returncode}:\n{_tail(srv.log)}")
            if time.monotonic() > deadline:
                pytest.fail(f"the Prefect server did not answer within {SERVER_START_TIMEOUT} s:\n{_tail(srv.log)}")
            time.sleep(0.5)
        yield srv
    finally:
        _stop(proc)


@contextmanager
def _client(srv: Server):
    """A sync Prefect client talking to the test server."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: srv.api}):
        with get_client(sync_client=True) as client:
            yield client


def _first_run_in_12_hours() -> datetime:
    """A whole minute about 12 h ahead, away from the 02:00-03:00 local hour that DST skips or repeats."""
    at = (datetime.now(timezone.utc) + timedelta(hours=12)).replace(second=0, microsecond=0)
    if at.astimezone(ZoneInfo(TIMEZONE)).hour == 2:
        at += timedelta(hours=2)
    return at


def _write_config(base: Path, name: str, cron: str, extra: str = "") -> Path:
    seeds = base / "seeds-copy"
    shutil.copytree(SEEDS, seeds)
    (base / "config").mkdir()
    config = base / "config" / "pipeline.toml"
    config.write_text(
        f'[warehouse]\ncatalog = "{(base / "catalog.sqlite").as_posix()}"\n'
        f'reports_dir = "{(base / "reports").as_posix()}"\nlock_wait_seconds = {LOCK_WAIT_SECONDS}\n'
        f'[tags]\ntaxonomy = "{(ROOT / "config" / "issues.toml").as_posix()}"\n'
        f'[schedule]\ndeployment = "{name}"\ncron = "{cron}"\ntimezone = "{TIMEZONE}"\n'
        f'max_lateness_minutes = {MAX_LATENESS_MINUTES}\n{extra}'
        f'[[sources]]\nname = "seeds"\nkind = "folder"\npath = "{seeds.as_posix()}"\n', encoding="utf-8")
    return config


def _start_serve(srv: Server, config: Path, log: Path, *args: str) -> subprocess.Popen:
    env = srv.env(PREFECT_RUNNER_POLL_FREQUENCY="1", PREFECT_LOGGING_LEVEL="INFO")
    return _start([sys.executable, "-m", "flows.serve", "--config", str(config), *args], env, log)


def _wait_polled(srv: Server, name: str, proc: subprocess.Popen, log: Path, since: datetime,
                 timeout: float = SERVE_START_TIMEOUT) -> None:
    """Wait until the served process has registered the deployment and polled for its runs."""
    from prefect.exceptions import ObjectNotFound

    deadline = time.monotonic() + timeout
    with _client(srv) as client:
        while True:
            try:
                dep = client.read_deployment_by_name(f"ingest/{name}")
                if dep.last_polled and dep.last_polled > since:
                    return
            except ObjectNotFound:
                pass
            if proc.poll() is not None:
                pytest.fail(f"flows.serve exited with {proc.returncode}:\n{_tail(log)}")
            if time.monotonic() > deadline:
                pytest.fail(f"ingest/{name} was not served within {timeout:g} s:\n{_tail(log)}")
            time.sleep(0.5)


@contextmanager
def _serving(srv: Server, base: Path, name: str, extra: str = "") -> Iterator[Served]:
    first = _first_run_in_12_hours()
    local = first.astimezone(ZoneInfo(TIMEZONE))
    cron = f"{local.minute} {local.hour} {local.day} * *"
    config = _write_config(base, name, cron, extra)
    log = base / "serve.log"
    since = datetime.now(timezone.utc)
    proc = _start_serve(srv, config, log)
    try:
        _wait_polled(srv, name, proc, log, since)
        yield Served(name=name, config=config.resolve(), base=base, cron=cron, first_run_at=first, proc=proc, log=log)
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def served(server, tmp_path_factory) -> Iterator[Served]:
    """`python -m flows.serve` serving ingest/serve-test, its warehouse and sources in a tmp folder."""
    with _serving(server, tmp_path_factory.mktemp("served"), "serve-test",
                  "[http]\nallow_private_hosts = true\n[parallel]\nworkers = 2\n") as s:
        yield s


@pytest.fixture(scope="module")
def late_served(server, tmp_path_factory) -> Iterator[Served]:
    """A second served deployment with no run history, for the late-run guard."""
    with _serving(server, tmp_path_factory.mktemp("late"), "late-guard") as s:
        yield s


@pytest.fixture(scope="module")
def dask_served(server, tmp_path_factory) -> Iterator[Served]:
    """A deployment served with its CPU stages on a local Dask cluster."""
    with _serving(server, tmp_path_factory.mktemp("dask"), "on-dask", '[parallel]\nrunner = "dask"\nworkers = 2\n') as s:
        yield s


# --- helpers --------------------------------------------------------------------------------------

def _trigger(client, served_: Served, parameters: dict | None = None, scheduled_time: datetime | None = None):
    from prefect.states import Scheduled

    dep = client.read_deployment_by_name(f"ingest/{served_.name}")
    state = Scheduled(scheduled_time=scheduled_time) if scheduled_time else None
    return client.create_flow_run_from_deployment(dep.id, parameters=parameters or {}, state=state)


def _wait_final(client, served_: Served, *run_ids: UUID) -> list:
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        runs = [client.read_flow_run(run_id) for run_id in run_ids]
        if all(r.state is not None and r.state.is_final() for r in runs):
            return runs
        if time.monotonic() > deadline or served_.proc.poll() is not None:
            states = ", ".join(f"{r.name}: {r.state.name if r.state else None}" for r in runs)
            pytest.fail(f"runs not finished after {RUN_TIMEOUT} s ({states}); serve log:\n{_tail(served_.log)}")
        time.sleep(0.5)


def _artifacts(client, run_id: UUID) -> dict:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    found = client.read_artifacts(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))
    return {a.key: a for a in found}


def _query(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    with open_warehouse(db) as con:
        return con.execute(sql, params or []).fetchall()


def _ago(**delta: float) -> datetime:
    return datetime.now(timezone.utc) - timedelta(**delta)


# --- tests ----------------------------------------------------------------------------------------

def test_deployment_has_schedule_parameters_and_limit(server, served):
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.client.schemas.objects import ConcurrencyLimitStrategy

    with _client(server) as client:
        dep = client.read_deployment_by_name(f"ingest/{served.name}")
        assert [(s.schedule.cron, s.schedule.timezone, s.active) for s in dep.schedules] == [
            (served.cron, TIMEZONE, True)]
        assert not dep.paused
        properties = dep.parameter_openapi_schema["properties"]
        assert {"sources", "config_path", "warehouse_path", "dry_run"} <= set(properties)
        assert properties["dry_run"]["type"] == "boolean"
        assert dep.parameters == {"config_path": str(served.config), "sources": None, "warehouse_path": None,
                                  "dry_run": False}
        assert dep.concurrency_options.collision_strategy == ConcurrencyLimitStrategy.CANCEL_NEW
        assert dep.global_concurrency_limit is not None and dep.global_concurrency_limit.limit == 1
        # the server's scheduler places the first run at the cron's local time in the configured time zone
        deadline = time.monotonic() + 60
        while True:
            upcoming = sorted(r.expected_start_time for r in client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[dep.id]))) if r.auto_scheduled)
            if upcoming or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert upcoming, "the scheduler made no runs for the deployment"
        assert upcoming[0] == served.first_run_at, (upcoming[0], served.first_run_at, served.cron)


def test_maintain_is_served_daily_beside_ingest(server, served):
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    from config.settings import ScheduleSettings
    from warehouse import connect

    with _client(server) as client:
        dep = client.read_deployment_by_name(f"maintain/{served.name}")
        assert [(s.schedule.cron, s.schedule.timezone, s.active) for s in dep.schedules] == [
            (ScheduleSettings().maintain_cron, TIMEZONE, True)]
        assert dep.parameters == {"config_path": str(served.config), "warehouse_path": None}
        lake_file = served.base / "maintained.sqlite"
        connect.connect(lake_file).close()  # a lake to maintain (maintain never makes one)
        created = client.create_flow_run_from_deployment(dep.id, parameters={"warehouse_path": str(lake_file)})
        [run] = _wait_final(client, served, created.id)
        assert run.state.is_completed(), (run.state.name, run.state.message, _tail(served.log))
        deadline = time.monotonic() + 30  # the run's logs reach the API shortly after its end
        while True:
            logs = [log.message for log in client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])))]
            if any(m.startswith("maintain: ") for m in logs) or time.monotonic() > deadline:
                break
            time.sleep(1)
    assert any(m.startswith("maintain: ") and "snapshots remain; " in m and m.endswith("of quiet runs removed")
               for m in logs), logs


def test_api_run_completes_with_artifacts_and_stores_seeds(server, served):
    seeds = served.base / "seeds-copy"
    with _client(server) as client:
        created = _trigger(client, served, {"sources": [str(seeds)]})
        [run] = _wait_final(client, served, created.id)
        assert run.state.is_completed(), (run.state.name, run.state.message, _tail(served.log))
        assert re.fullmatch(r"ingest seeds-copy \d{4}-\d\d-\d\d \d\d:\d\d", run.name), run.name
        assert run.parameters["sources"] == [str(seeds)]
        artifacts = _artifacts(client, run.id)
    assert set(artifacts) == {"ingest-digest", "ingest-stories", "ingest-page"}
    assert ".html)" in artifacts["ingest-page"].data, "a link to the run's digest page"
    assert artifacts["ingest-digest"].type == "markdown" and "NATO-like" in artifacts["ingest-digest"].data
    assert artifacts["ingest-stories"].type == "table" and '"articles": 2' in artifacts["ingest-stories"].data
    db = served.base / "catalog.sqlite"
    assert {Path(p).name for (p,) in _query(db, "SELECT path FROM articles")} == SEED_NAMES
    runs = _query(db, "SELECT run_id, flow_run_id, status, new_articles FROM runs")
    assert [r[1:] for r in runs] == [(str(run.id), "completed", 2)]
    report = served.base / "reports" / f"{runs[0][0]}.md"
    assert report.read_text(encoding="utf-8") == artifacts["ingest-digest"].data


def _descendants(pid: int) -> list[int]:
    """The live processes under pid (children, their children, ...)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                parents[int(entry.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def test_a_served_run_on_the_worker_pool_leaves_no_process_behind(server, served, tmp_path):
    # 40 files: the batch is spread over the 2 workers, started in the run's own process
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(40):
        (folder / f"{i:02}.txt").write_text(f"Harbour log {i}\n\n" + " ".join(
            f"Boat {i * 100 + j} left pier {j} at {j + 1} o'clock with {i + j} crew on day {i}." for j in range(12)),
            encoding="utf-8")
    with _client(server) as client:
        [run] = _wait_final(client, served, _trigger(client, served, {"sources": [str(folder)]}).id)
        assert run.state.is_completed(), (run.state.name, run.state.message, _tail(served.log))

    def left() -> dict[int, bytes]:  # but the serving process's own multiprocessing resource tracker
        found = {pid: Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:200]
                 for pid in _descendants(served.proc.pid)}
        return {pid: cmd for pid, cmd in found.items() if b"multiprocessing.resource_tracker" not in cmd}

    deadline = time.monotonic() + 30
    while left() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert left() == {}, "the run's process, its fork server or its workers stayed"


def test_a_run_given_bad_parameters_fails_with_one_line_naming_the_parameter(server, served):
    with _client(server) as client:
        created = _trigger(client, served, {"sources": ["/nonexistent/folder"]})
        missing = served.base / "typo.sqlite"
        upkeep = client.create_flow_run_from_deployment(
            client.read_deployment_by_name(f"maintain/{served.name}").id, parameters={"warehouse_path": str(missing)})
        run, maintained = _wait_final(client, served, created.id, upkeep.id)
    assert run.state.is_failed() and run.state.message == (
        "sources: /nonexistent/folder: no such file or folder, feed URL or configured source"), run.state.message
    assert maintained.state.is_failed() and maintained.state.message == (
        f"warehouse_path: no warehouse at {missing} yet (a first run creates it)"), maintained.state.message


def _held_feed(arrived: threading.Event, release: threading.Event):
    """A started feed server on 127.0.0.1 whose /held.rss sets `arrived` and answers (404) only once
    `release` is set: a run polling it is held inside its run."""
    from pytest_httpserver import HTTPServer
    from werkzeug import Request, Response

    def held(_: Request) -> Response:
        arrived.set()
        release.wait(RUN_TIMEOUT)
        return Response("gone", status=404)

    feeds = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    feeds.expect_request("/held.rss").respond_with_handler(held)
    feeds.start()
    return feeds


def test_two_runs_at_once_one_is_cancelled(server, served):
    """A run asked for while another holds the deployment's slot is cancelled, and leaves no trace.

    The first run is held inside its run (its feed answers only when released), so the second is
    always asked for while the first is running, however fast or slow the machine is."""
    db = served.base / "concurrent.sqlite"
    arrived, release = threading.Event(), threading.Event()
    feeds = _held_feed(arrived, release)
    held_url = feeds.url_for("/held.rss")
    try:
        with _client(server) as client:
            first = _trigger(client, served, {"sources": [held_url, str(served.base / "seeds-copy")],
                                              "warehouse_path": str(db)})
            assert arrived.wait(RUN_TIMEOUT), f"the first run never asked for its feed:\n{_tail(served.log)}"
            second = _trigger(client, served, {"warehouse_path": str(db)})
            [cancelled] = _wait_final(client, served, second.id)
            release.set()
            [done] = _wait_final(client, served, first.id)
            assert (done.state.type.value, cancelled.state.type.value) == ("COMPLETED", "CANCELLED"), (
                [(r.state.name, r.state.message) for r in (done, cancelled)], _tail(served.log))
            assert cancelled.state.message == CONCURRENCY_MESSAGE
            # named by what it ingests and the time it was scheduled for, in UTC
            assert done.name == (f"ingest held.rss, seeds-copy "
                                 f"{done.expected_start_time.astimezone(timezone.utc):%Y-%m-%d %H:%M}")
            assert _artifacts(client, cancelled.id) == {}
    finally:
        release.set()
        feeds.clear()
        feeds.stop()
    assert _query(db, "SELECT flow_run_id, status FROM runs") == [(str(done.id), "completed")]
    assert _query(db, "SELECT count(*), count(DISTINCT content_hash), count(DISTINCT text_hash) FROM articles") == [
        (2, 2, 2)]
    assert _query(db, "SELECT count(*) FROM store.raw_inputs") == [(2,)]
    [(failing, reason)] = _query(db, "SELECT failing, last_error FROM source_health WHERE url = ?", [held_url])
    assert failing and "404" in reason, reason


HOLDER = """
import sys, time
from warehouse import connect
con = connect.connect(sys.argv[1])  # a writer: it holds the run lock until it ends
con.execute("CREATE TABLE marker AS SELECT 42 AS answer")
print("ready", flush=True)
time.sleep(120)
"""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_cli_run_waits_for_a_locked_warehouse_then_stops_with_one_line(server, served, tmp_path):
    from config.settings import load_settings, with_overrides
    from flows.cli import wait_for_warehouse
    from warehouse import WarehouseBusy

    db = tmp_path / "locked.sqlite"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(db)], stdout=subprocess.PIPE, text=True,
                              start_new_session=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "ready"
        before = _sha256(db)
        reports_before = sorted((served.base / "reports").glob("*.md"))
        result = subprocess.run([sys.executable, "-m", "flows.ingest", "--config", str(served.config),
                                 "--warehouse", str(db)], cwd=ROOT, capture_output=True, text=True, timeout=120,
                                env=server.env())
        assert _sha256(db) == before
        # the same check the command line makes, timed: it waits lock_wait_seconds before giving up
        settings = with_overrides(load_settings(served.config), warehouse=str(db))
        started = time.monotonic()
        with pytest.raises(WarehouseBusy):
            wait_for_warehouse(settings)
        waited = time.monotonic() - started
    finally:
        _stop(holder, grace=5)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 2, result.stderr[-2000:]  # that it waits, as it begins to; then why it stopped
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert lines[0].startswith("warehouse sqlite:") and f"in use by process {holder.pid} (another run" in lines[0]
    assert f"waiting up to {LOCK_WAIT_SECONDS:g} s" in lines[0]
    assert lines[1].startswith("error: warehouse sqlite:") and " is in use by process " in lines[1]
    assert f"process {holder.pid};" in lines[1] and f"waited {LOCK_WAIT_SECONDS} s" in lines[1]
    assert LOCK_WAIT_SECONDS <= waited < LOCK_WAIT_SECONDS + 4, waited
    assert _query(db, "SELECT answer FROM marker") == [(42,)]
    assert _query(db, "SELECT count(*) FROM runs") == [(0,)]
    assert sorted((served.base / "reports").glob("*.md")) == reports_before


def test_late_run_is_skipped_only_when_a_newer_run_is_due(server, late_served):
    db = late_served.base / "catalog.sqlite"
    with _client(server) as client:
        # late beyond the limit, but nothing newer is due: it runs
        [alone] = _wait_final(client, late_served, _trigger(client, late_served, scheduled_time=_ago(hours=2)).id)
        assert alone.state.is_completed(), (alone.state.name, alone.state.message)
        # late within the limit: it runs
        [newer] = _wait_final(client, late_served, _trigger(client, late_served, scheduled_time=_ago(minutes=10)).id)
        assert newer.state.is_completed(), (newer.state.name, newer.state.message)
        # late beyond the limit and a newer run is due: skipped, nothing stored, no artifacts
        [stale] = _wait_final(client, late_served, _trigger(client, late_served, scheduled_time=_ago(minutes=90)).id)
        assert stale.state.is_cancelled(), (stale.state.name, stale.state.message)
        assert re.fullmatch(rf"skipped: started (89|90|91|92) min after its scheduled time \(limit "
                            rf"{MAX_LATENESS_MINUTES}\) and a newer run is due", stale.state.message), \
            stale.state.message
        assert _artifacts(client, stale.id) == {}
    stored = _query(db, "SELECT flow_run_id, status FROM runs ORDER BY started_at")
    assert stored == [(str(alone.id), "completed"), (str(newer.id), "completed")]


def test_sigterm_stops_serving_cleanly_and_the_schedule_stays_active(server, late_served):
    _signal_group(late_served.proc, signal.SIGTERM)
    assert late_served.proc.wait(30) == 0, _tail(late_served.log)
    output = late_served.log.read_text(encoding="utf-8", errors="replace")
    assert "never awaited" not in output and "RuntimeWarning" not in output, _tail(late_served.log)
    assert "Traceback" not in output, _tail(late_served.log)
    assert "stopped serving" in output.splitlines()[-1], _tail(late_served.log)
    with _client(server) as client:
        dep = client.read_deployment_by_name(f"ingest/{late_served.name}")
    assert not dep.paused and [s.active for s in dep.schedules] == [True]


def test_a_served_run_keeps_the_dask_task_runner(server, dask_served):
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with _client(server) as client:
        created = _trigger(client, dask_served)
        [run] = _wait_final(client, dask_served, created.id)
        assert run.state.is_completed(), (run.state.name, run.state.message, _tail(dask_served.log))
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
    cleans = [t for t in tasks if t.name.startswith("clean-")]
    assert len(cleans) == 2, f"the two seeds are cleaned as two chunk tasks on the cluster: {[t.name for t in tasks]}"
    db = dask_served.base / "catalog.sqlite"
    assert {Path(p).name for (p,) in _query(db, "SELECT path FROM articles")} == SEED_NAMES


# --- make serve on another port, seen in a browser -------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
UI_WAIT = 90


def _page_text(url: str, profile: Path) -> str:
    """The visible text of a page after headless Chromium has run its scripts for 15 s of virtual time."""
    assert CHROMIUM, "the browser tests need Chromium on PATH (apt-get install chromium; .ci/run installs it)"
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--virtual-time-budget=15000", "--dump-dom", url],
        capture_output=True, text=True, timeout=120)
    dom = re.sub(r"<(script|style)\b.*?</\1>", " ", result.stdout, flags=re.DOTALL | re.IGNORECASE)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", dom)).split())


def _own_server(tmp_path: Path, port: int) -> tuple[dict[str, str], Path, Server]:
    """The environment for a make serve that starts its own Prefect server on `port` (no PREFECT_API_URL),
    the folder of its state, and the server it will start."""
    state = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_UI_API_URL")}
    env.update(PREFECT_PORT=str(port), PREFECT_HOME=str(tmp_path / "home"), NEWSDESK_SERVER_DIR=str(state),
               PREFECT_RUNNER_POLL_FREQUENCY="1")
    return env, state, Server(api=f"http://127.0.0.1:{port}/api", home=tmp_path / "home", log=state / "server.log")


def _wait_started(srv: Server, proc: subprocess.Popen, log: Path) -> None:
    """Wait until the server serve.sh starts answers (a fresh home: 20-30 s of migrations)."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while not _healthy(srv.api):
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"serve.sh did not start a server at {srv.api}:\n{_tail(log)}\n{_tail(srv.log)}")
        time.sleep(0.5)


def test_make_serve_on_another_port_gives_the_ui_its_own_api(tmp_path):
    """`PREFECT_PORT=N make serve`: the server it starts tells its UI to call port N, and the UI's
    deployments page lists the served deployment (not "Can't connect to Server API at ...:4200")."""
    port = _free_port()
    assert port != 4200
    name = f"ui-port-{port}"
    config = _write_config(tmp_path, name, "0 3 1 1 *")
    env, state, srv = _own_server(tmp_path, port)
    log = tmp_path / "serve.log"
    since = datetime.now(timezone.utc)
    proc = _start([str(ROOT / "scripts" / "serve.sh"), "--config", str(config)], env, log)
    try:
        _wait_started(srv, proc, log)
        _wait_polled(srv, name, proc, log, since)
        assert (state / "server.pid").is_file(), "serve.sh started the server and kept its pid for make stop"
        twice = subprocess.run([str(ROOT / "scripts" / "serve.sh"), "--config", str(config)], env=env,
                               capture_output=True, text=True, timeout=120)  # a second make serve is refused
        assert twice.returncode == 2 and len(twice.stderr.strip().splitlines()) == 1, twice.stderr
        assert twice.stderr.startswith("error: make serve is already serving"), twice.stderr
        assert int((state / "serve.pid").read_text()) == proc.pid
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ui-settings", timeout=10) as response:
            assert json.load(response)["api_url"] == srv.api
        deadline = time.monotonic() + UI_WAIT
        while True:  # the UI is a JavaScript app: give it until the list has loaded
            text = _page_text(f"http://127.0.0.1:{port}/deployments", tmp_path / "chromium")
            if name in text or "Can't connect" in text or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert "Can't connect to Server API" not in text and "Something went wrong" not in text, text[:2000]
        assert name in text and "ingest" in text, text[:2000]
        # make stop: the serving process first (it shuts down cleanly), then the server it started
        server_pid = int((state / "server.pid").read_text())
        stopped = subprocess.run([str(ROOT / "scripts" / "stop.sh")], env=env, capture_output=True, text=True,
                                 timeout=120)
        assert stopped.returncode == 0, stopped.stderr
        assert stopped.stdout.splitlines() == ["stopped serving the deployments", "stopped the local Prefect server"], \
            (stopped.stdout, stopped.stderr, _tail(log))
        assert proc.wait(30) == 0, _tail(log)
        assert "Traceback" not in log.read_text(encoding="utf-8"), _tail(log)
        deadline = time.monotonic() + 30
        while _alive(server_pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not _alive(server_pid) and not (state / "serve.pid").exists() and not (state / "server.pid").exists()
    finally:
        _stop(proc)
        if (state / "server.pid").exists():
            os.kill(int((state / "server.pid").read_text()), signal.SIGKILL)


def test_make_stop_waits_for_a_run_in_progress_to_be_cancelled_then_says_so(server, tmp_path):
    """A run stuck in a fetch ends only when Prefect's runner kills it, 30 s after asking it to stop:
    make stop waits for that, and does not give up with the serving process still there."""
    arrived, release = threading.Event(), threading.Event()
    feeds = _held_feed(arrived, release)
    name = "stop-during-run"
    config = _write_config(tmp_path, name, "0 3 1 1 *", "[http]\nallow_private_hosts = true\nretries = 0\n"
                                                        "read_timeout = 120.0\ntotal_timeout = 120.0\n")
    state = tmp_path / "state"
    env = server.env(NEWSDESK_SERVER_DIR=str(state), PREFECT_RUNNER_POLL_FREQUENCY="1")
    log = tmp_path / "serve.log"
    since = datetime.now(timezone.utc)
    proc = _start([str(ROOT / "scripts" / "serve.sh"), "--config", str(config)], env, log)
    try:
        _wait_polled(server, name, proc, log, since)
        with _client(server) as client:
            dep = client.read_deployment_by_name(f"ingest/{name}")
            client.create_flow_run_from_deployment(dep.id, parameters={"sources": [feeds.url_for("/held.rss")]})
        assert arrived.wait(RUN_TIMEOUT), f"the run never asked for its feed:\n{_tail(log)}"
        stopped = subprocess.run([str(ROOT / "scripts" / "stop.sh")], env=env, capture_output=True, text=True,
                                 timeout=120)
        assert stopped.returncode == 0, (stopped.stdout, stopped.stderr, _tail(log))
        assert stopped.stdout.splitlines()[0] == "stopped serving the deployments", stopped.stdout
        assert proc.wait(5) == 0, _tail(log)
        assert not (state / "serve.pid").exists()
    finally:
        release.set()
        _stop(proc)
        feeds.clear()
        feeds.stop()


def test_make_serve_again_after_serving_stopped_while_its_server_runs(tmp_path):
    """Serving stopped (Ctrl-C, SIGTERM) leaves the server make serve started running, as documented: the
    next make serve serves again on it, and is not refused as if one were still serving."""
    port = _free_port()
    name = f"serve-again-{port}"
    config = _write_config(tmp_path, name, "0 3 1 1 *")
    env, state, srv = _own_server(tmp_path, port)
    log = tmp_path / "serve.log"
    since = datetime.now(timezone.utc)
    first = _start([str(ROOT / "scripts" / "serve.sh"), "--config", str(config)], env, log)
    again = None
    try:
        _wait_started(srv, first, log)
        _wait_polled(srv, name, first, log, since)
        first.send_signal(signal.SIGTERM)  # the serving process only (as Ctrl-C would): the server keeps running
        assert first.wait(60) == 0, _tail(log)
        assert _healthy(srv.api)
        since = datetime.now(timezone.utc)
        again = _start([str(ROOT / "scripts" / "serve.sh"), "--config", str(config)], env, log)
        _wait_polled(srv, name, again, log, since)
        assert "already serving" not in log.read_text(encoding="utf-8"), _tail(log)
    finally:
        subprocess.run([str(ROOT / "scripts" / "stop.sh")], env=env, capture_output=True, timeout=120)
        for proc in (first, again):
            if proc is not None:
                _stop(proc)
        if (state / "server.pid").exists():
            os.kill(int((state / "server.pid").read_text()), signal.SIGKILL)


def _alive(pid: int) -> bool:
    """True while the process runs (a zombie, its exit not yet collected by its parent, counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def test_make_serve_with_a_bad_config_says_so_and_starts_no_server(tmp_path):
    port = _free_port()
    config = _write_config(tmp_path, "bad", "30 25 * * *")
    state = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_UI_API_URL")}
    env.update(PREFECT_PORT=str(port), PREFECT_HOME=str(tmp_path / "home"), NEWSDESK_SERVER_DIR=str(state))
    result = subprocess.run([str(ROOT / "scripts" / "serve.sh"), "--config", str(config)], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stdout == "", result.stdout
    [line] = result.stderr.strip().splitlines()
    assert line == f"error: {config}: [schedule].cron: '30 25 * * *': the hour 25 is out of range (0-23)", line
    assert not (state / "server.pid").exists() and not _healthy(f"http://127.0.0.1:{port}/api")


def test_a_cron_prefect_refuses_is_one_line_before_any_deployment_is_registered(tmp_path, capsys):
    from flows.serve import main

    for key, cron in (("maintain_cron", "0 3 LW * *"), ("maintain_cron", "30 25 * * *"), ("cron", "*/5 * * * 5L"),
                      ("cron", "*/61 * * * *"), ("maintain_cron", "0 0 31 2 *")):
        config = tmp_path / f"{key}-{len(cron)}.toml"
        config.write_text(f'[schedule]\n{key} = "{cron}"\n', encoding="utf-8")
        assert main(["--check", "--config", str(config)]) == 2
        [line] = capsys.readouterr().err.strip().splitlines()
        assert line.startswith(f"error: {config}: [schedule].{key}: ") and cron in line, line
    for name in ("team/nightly", "", "a<b"):  # Prefect's rule for names, checked before anything starts
        config = tmp_path / "name.toml"
        config.write_text(f'[schedule]\ndeployment = "{name}"\n', encoding="utf-8")
        assert main(["--check", "--config", str(config)]) == 2
        [line] = capsys.readouterr().err.strip().splitlines()
        assert line == f"error: {config}: [schedule].deployment: {name!r}: must be a name without any of / % & > <"
    good = tmp_path / "good.toml"
    good.write_text('[schedule]\ncron = "0 6-22/2 * * mon-fri"\nmaintain_cron = "0 3 L * *"\n', encoding="utf-8")
    assert main(["--check", "--config", str(good)]) == 0


def test_a_taxonomy_mistake_is_one_line_before_any_deployment_is_registered(tmp_path, capsys):
    # every scheduled run reads the taxonomy: a mistake in it would fail each one, so serving does not start
    from flows.serve import main

    cases = {
        "empty": ("", "issues: must hold at least one [issues.<name>] table"),
        "missing-example": (f'[issues.a]\nexamples = ["{tmp_path / "missing"}"]\n'
                            f'[issues.b]\nexamples = ["{tmp_path / "missing"}"]\n',
                            f'issues.a.examples "{tmp_path / "missing"}": does not exist: {tmp_path / "missing"}'),
    }
    for name, (body, problem) in cases.items():
        taxonomy = tmp_path / f"{name}.toml"
        taxonomy.write_text(body, encoding="utf-8")
        config = tmp_path / f"pipeline-{name}.toml"
        config.write_text(f'[tags]\ntaxonomy = "{taxonomy}"\n', encoding="utf-8")
        assert main(["--check", "--config", str(config)]) == 2
        [line] = capsys.readouterr().err.strip().splitlines()
        assert line.startswith(f"error: {taxonomy}: {problem}"), line
