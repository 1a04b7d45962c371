"""How a flow run spreads its CPU stages: over the process pool on this machine, or as chunk tasks on Dask."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flows import before_prefect

before_prefect()

from prefect import Flow, Task  # noqa: E402
from prefect.context import FlowRunContext  # noqa: E402
from prefect.task_runners import TaskRunner  # noqa: E402
from prefect.utilities.annotations import quote  # noqa: E402

from config.settings import ParallelSettings  # noqa: E402
from flows import pool, progress, stages  # noqa: E402
from flows.stages import without_raw  # noqa: E402
from tasks.records import Article, Story  # noqa: E402


def _advanced(result: Any, bar: progress.StageBar, items: int) -> Any:
    """The result, once the bar is advanced by the items it covers."""
    bar.advance(items)
    return result


@dataclass(frozen=True)
class Spread:
    """How a flow run works its CPU stages (clean, fingerprint, summarise, tag, stories).

    On this machine (cluster=False) each stage is one task over the whole batch, and a process pool
    inside the task shares the batch out over `workers` processes. On a Dask cluster (the flow's task
    runner is prefect-dask's DaskTaskRunner) each stage is one task per chunk, submitted to the task
    runner, so the cluster's workers take the chunks; the stages that read or write the warehouse stay
    in the flow's process either way. Both give the same results in the same order.
    """

    workers: int
    cluster: bool = False

    @classmethod
    def for_flow(cls, settings: ParallelSettings) -> Spread:
        """The spread for the running flow: on a cluster when its task runner is a Dask one."""
        context = FlowRunContext.get()
        runner = context.task_runner if context else None
        return cls(pool.worker_count(settings.workers), type(runner).__module__.startswith("prefect_dask"))

    def run(self, stage: Task, items: list, *args: Any) -> list:
        """The stage's results over items, one per part: a single part here, one per chunk on a cluster
        (none for no items: an empty batch costs no task run)."""
        if not items:
            return []
        if not self.cluster or len(items) < 2:
            return [stage(quote(items), *args, workers=1 if self.cluster else self.workers)]
        # no quote() around a chunk here: Dask unpacks tuples, quote's included, on the way to a worker
        chunks = pool.chunked(items, self.workers)
        shared = _sent_once(args)
        futures = [stage.submit(chunk, *shared, workers=1) for chunk in chunks]
        with progress.stage(stage.name, "items", len(items)) as bar:  # the chunks' own bars are on the workers
            return [_advanced(future.result(), bar, len(chunk)) for future, chunk in zip(futures, chunks)]

    def update(self, stage: Task, articles: list[Article], *args: Any, fields: tuple[str, ...]) -> list[Article]:
        """Run a stage that fills `fields` on each article; on a cluster the chunks travel as light
        copies (no input bytes) and the fields they come back with are set on the articles here."""
        if not articles:
            return articles
        if not self.cluster or len(articles) < 2:
            return self.run(stage, articles, *args)[0]
        done = [a for part in self.run(stage, [without_raw(a) for a in articles], *args) for a in part]
        pool.set_fields(articles, [pool.field_values(a, fields) for a in done], fields)
        return articles

    def stories(self, articles: list[Article], members: list[tuple], story_sentences: int,
                titles: dict[str, str] | None = None) -> list[Story]:
        """The stories the batch touched, summarised across their articles and stored members
        (titles: the stored stories' current titles, which change only for a better headline)."""
        if not articles:
            return []
        if not self.cluster:
            return stages.stories_task(quote(articles), quote(members), story_sentences, workers=self.workers,
                                       titles=titles)
        futures = [stages.stories_task.submit(part, stored, sentences, workers=1, titles=known)
                   for part, stored, sentences, known in stages.story_calls(articles, members, story_sentences,
                                                                            self.workers, min_items=2, titles=titles)]
        return [story for future in futures for story in future.result()]


def _sent_once(args: tuple) -> list:
    """What every chunk of a stage shares (its settings; the taxonomy with its issue models, 11 MB), put on the
    cluster once for the stage: Dask futures in a task's parameters arrive at its worker as their values,
    fetched once per worker, where values given as they are would travel inside every chunk's task."""
    if not args:
        return []
    context = FlowRunContext.get()
    client = context.task_runner.client  # type: ignore[union-attr]  (a cluster: the runner is a Dask one)
    return client.scatter(list(args), hash=False)  # a list: one future per argument, each sent whole


def task_runner(settings: ParallelSettings) -> TaskRunner | None:
    """The task runner the config asks for: None keeps the flow's own (a thread pool, with the
    process pool inside the CPU stages); runner = "dask" gives prefect-dask's DaskTaskRunner, on the
    scheduler at dask_address or on a local cluster of one-thread worker processes."""
    if settings.runner != "dask":
        return None
    from prefect_dask import DaskTaskRunner  # imported only when asked for: distributed is heavy

    if settings.dask_address:
        return DaskTaskRunner(address=settings.dask_address)
    return DaskTaskRunner(cluster_kwargs={
        "n_workers": pool.worker_count(settings.workers), "threads_per_worker": 1, "processes": True,
        "dashboard_address": None, "env": dict(pool.WORKER_ENV)})


def with_runner(flow_: Flow, settings: ParallelSettings) -> Flow:
    """The flow with the task runner the config asks for."""
    runner = task_runner(settings)
    return flow_ if runner is None else flow_.with_options(task_runner=runner)


def api_problem() -> str | None:
    """Why the Prefect API a one-off run is pointed at (PREFECT_API_URL) cannot record it, in one line, or
    None: it answers, or none is set (the run starts a temporary one)."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        return None
    with get_client(sync_client=True) as client:
        failure = client.api_healthcheck()
    if failure is None:
        return None
    reason = " ".join(str(failure).split()) or type(failure).__name__
    return (f"PREFECT_API_URL: no Prefect server answers at {url} ({reason}): start it (make serve starts a local "
            "one) or unset PREFECT_API_URL to run on a temporary one")


@contextmanager
def shared_api(settings: ParallelSettings) -> Iterator[None]:
    """A one-off run's Prefect API: the configured one, else a temporary server started here (the one
    Prefect would start, over the same PREFECT_HOME database) in a session of its own, so that Ctrl-C in
    the terminal stops the run and not the API the run reports its end to. Dask workers report their
    task runs to it too (without it each worker process would start a temporary server of its own)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if PREFECT_API_URL.value():
        yield
        return
    server = _own_session_server()
    server.start()  # stopped at exit (Prefect's atexit hook), after the run's last logs have reached it
    with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
        yield


def _own_session_server() -> object:
    """Prefect's temporary API server (prefect.server.api.server.SubprocessASGIServer, as Prefect 3.8
    starts it), its process started in a session of its own: Prefect starts it in the caller's process
    group, where the terminal's Ctrl-C reaches it too."""
    import os
    import subprocess
    import sys

    import prefect
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import get_current_settings

    class OwnSessionServer(SubprocessASGIServer):
        def _run_uvicorn_command(self) -> subprocess.Popen:
            return subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "--app-dir", str(prefect.__module_path__.parent), "--factory",
                 "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(self.port),
                 "--log-level", "error", "--lifespan", "on"],
                env={**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1",
                     "PREFECT__SERVER_FINAL": "1",
                     **get_current_settings().to_environment_variables(exclude_unset=True)},
                start_new_session=True)

    return OwnSessionServer()
