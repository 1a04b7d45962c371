"""A process pool for the CPU-bound batch stages: chunks of a batch run in worker processes, results in order."""

from __future__ import annotations

import atexit
import functools
import logging
import math
import multiprocessing
import multiprocessing.forkserver
import multiprocessing.resource_tracker
import multiprocessing.util
import os
import pickle
import signal
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any, TypeVar

LOGGER = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

# Enough chunks per worker that a slow page at the end of one chunk leaves the others little idle
# time, few enough items per chunk that pickling and scheduling stay a small share of the work.
CHUNKS_PER_WORKER = 4
MAX_CHUNK = 32
# Below this many items a batch runs in the calling process: starting workers would cost more.
MIN_ITEMS = 32
# Imported once in the fork server, so every worker starts with trafilatura, lxml and sumy loaded.
PRELOAD = ("flows.pool", "tasks.s2_clean", "tasks.s3_fingerprint", "tasks.s5_summarise", "tasks.s6_tag", "tasks.s7_stories")

# One BLAS thread per worker: the workers already take every core, and BLAS threads of their own
# only spin against each other (the summaries then cost twice the CPU for the same result).
WORKER_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

# Workers run the program's main module again, which the fork server has imported already (so the
# run is cheap); runpy warns that the module is loaded before it runs it: expected here.
warnings.filterwarnings("ignore", message=r"'[\w.]+' found in sys\.modules after import of package",
                        category=RuntimeWarning)

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_pool_workers = 0


def worker_count(configured: int = 0) -> int:
    """Worker processes to use: `configured` when positive (the config's [parallel] workers, which
    $NEWSDESK_WORKERS overrides when the config is read), else the CPUs this process may run on."""
    if configured > 0:
        return configured
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def chunked(items: Sequence[T], workers: int) -> list[list[T]]:
    """Split items, in order, into chunks of equal size: a few per worker, at most MAX_CHUNK each."""
    if not items:
        return []
    size = max(1, min(MAX_CHUNK, math.ceil(len(items) / (workers * CHUNKS_PER_WORKER))))
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def _preload_modules() -> list[str]:
    """The modules the fork server imports once for all workers: the stages' own, and the main module.

    Each worker imports the program's main module again (as multiprocessing does for every start
    method but fork); when the server has already imported it, that costs nothing.
    """
    main = getattr(getattr(sys.modules.get("__main__"), "__spec__", None), "name", None)
    extra = [main] if main and main != "__main__" and not main.endswith(".__main__") else []
    return [*PRELOAD, *extra]


@contextmanager
def _worker_environment() -> Iterator[None]:
    """Set WORKER_ENV (where the user has not set those variables) while the fork server starts."""
    added = [name for name in WORKER_ENV if name not in os.environ]
    os.environ.update({name: WORKER_ENV[name] for name in added})
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


# Signals sent to a run's whole process group: Ctrl-C by the terminal, SIGTERM by timeout(1) and systemd,
# SIGHUP when the terminal closes. The run's own process stops the run and then the pool; a worker or the
# fork server ending on one of them first breaks the pool under it, and Python 3.11's pool then hangs the
# run's exit for good (its manager thread dies on futures the run had cancelled).
PARENT_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _leave_interrupts_to_the_parent() -> None:
    """A worker ignores the signals sent to the whole process group (PARENT_SIGNALS): the parent stops
    the run and then the pool, instead of every worker printing its own KeyboardInterrupt or dying."""
    for sig in PARENT_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


@contextmanager
def _parent_signals_blocked() -> Iterator[None]:
    """Block PARENT_SIGNALS in this thread while the fork server starts: it keeps them blocked (a signal
    mask survives fork and exec; the fork server itself only ignores SIGINT), so it outlives them too."""
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, PARENT_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def _started_worker(pause: float) -> int:
    time.sleep(pause)  # long enough that one worker cannot take every call of a round
    return os.getpid()


def _wait_until_started(pool: ProcessPoolExecutor, workers: int, rounds: int = 20) -> None:
    """Return once every worker has started and taken a call: a pool stopped while a worker is still
    being made (Ctrl-C at the start of a stage) makes that worker print a traceback as it dies."""
    seen: set[int] = set()
    for _ in range(rounds):
        seen.update(f.result() for f in [pool.submit(_started_worker, 0.05) for _ in range(workers)])
        if len(seen) >= workers:
            return


def _start_workers(pool: ProcessPoolExecutor, workers: int) -> None:
    """_wait_until_started, in a thread of its own, so that a Ctrl-C (or SIGTERM) does not interrupt the
    making of a worker: raised in this (the main) thread while the pool's submit was starting a worker
    process, it left that worker untracked by the pool, so stopping the pool did not wait for it, and it
    died printing a traceback (`FileNotFoundError` from SemLock) after the run's own one line. Here the
    interrupt waits until every worker has started, then goes on as raised; a second one does not wait."""
    done = threading.Event()
    failures: list[BaseException] = []

    def start() -> None:
        try:
            _wait_until_started(pool, workers)
        except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
            failures.append(exc)
        finally:
            done.set()

    threading.Thread(target=start, name="newsdesk-pool-start", daemon=True).start()
    interrupted: KeyboardInterrupt | None = None
    while not done.is_set():
        try:
            done.wait(0.1)
        except KeyboardInterrupt as exc:
            if interrupted is not None:
                raise
            interrupted = exc
    if interrupted is not None:
        raise interrupted
    if failures:
        raise failures[0]


def _executor(workers: int) -> ProcessPoolExecutor:
    """The process's pool, started on first use (from a fork server, so no thread state is copied)."""
    global _pool, _pool_workers
    with _lock:
        if _pool is not None and _pool_workers != workers:
            _pool.shutdown(wait=True, cancel_futures=True)
            _pool = None
        if _pool is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(_preload_modules())
            # first the resource tracker, whose start unblocks SIGINT and SIGTERM in this thread once it is made
            multiprocessing.resource_tracker.ensure_running()
            with _worker_environment(), _parent_signals_blocked():  # the server's environment is the workers'
                multiprocessing.forkserver.ensure_running()
            _pool, _pool_workers = ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                                       initializer=_leave_interrupts_to_the_parent), workers
            _start_workers(_pool, workers)
        return _pool


def shutdown() -> None:
    """Stop the worker processes (they start again on the next parallel call)."""
    global _pool
    with _lock:
        if _pool is not None:
            _pool.shutdown(wait=True, cancel_futures=True)
            _pool = None


atexit.register(shutdown)
# A process that multiprocessing started (a served flow run: Prefect's runner runs each in one) runs no
# atexit hook: it ends with multiprocessing's own exit function, which runs these finalizers and then
# waits for every child process, the pool's workers included. Without this the run's process, its fork
# server and its workers stayed alive after the run, and serving could not stop.
multiprocessing.util.Finalize(None, shutdown, exitpriority=100)


def _here(func: Callable[..., R], calls: Sequence[tuple[Any, ...]], done: Callable[[R], None] | None) -> list[R]:
    """The calls run one after the other in this process, each result reported to `done`."""
    results = []
    for call in calls:
        results.append(func(*call))
        if done:
            done(results[-1])
    return results


def _report_when_done(future: Future[R], done: Callable[[R], None]) -> None:
    if not future.cancelled() and future.exception() is None:
        done(future.result())


def starmap(func: Callable[..., R], calls: Sequence[tuple[Any, ...]], workers: int | None = None,
            done: Callable[[R], None] | None = None) -> list[R]:
    """Return [func(*call) for call in calls], the calls spread over worker processes.

    func and its arguments must be picklable (func a module-level function). With one worker or one
    call everything runs in the calling process; if a worker dies, the batch runs again here.
    `done`, when given, is called with each call's result as soon as it is back (for progress bars).
    """
    workers = worker_count() if workers is None else max(1, workers)
    if workers == 1 or len(calls) < 2:
        return _here(func, calls, done)
    futures: list[Future[R]] = []
    try:
        pool = _executor(workers)
        futures = [pool.submit(func, *call) for call in calls]
        for f in futures if done else ():
            f.add_done_callback(functools.partial(_report_when_done, done=done))
        return [f.result() for f in futures]
    except BrokenProcessPool:
        LOGGER.warning("a worker process died; running %d chunks of %s in this process", len(calls),
                       getattr(func, "__name__", func))
        shutdown()
        return _here(func, calls, None)
    finally:
        for f in futures:
            f.cancel()


@functools.lru_cache(maxsize=2)  # one stage's arguments at a time, and the one before while a stage starts
def _shared_args(path: str) -> tuple[Any, ...]:
    """The arguments every chunk of one map_chunks call shares, read from the file it wrote (once per
    process: the file's name is unique to the call)."""
    with open(path, "rb") as file:
        return pickle.load(file)


def _run_shared(func: Callable[..., list[R]], chunk: list[T], path: str) -> list[R]:
    """func(chunk, *the call's shared arguments)."""
    return func(chunk, *_shared_args(path))


@contextmanager
def _args_file(args: tuple[Any, ...]) -> Iterator[str]:
    """The arguments pickled once into a file of a name used once, removed afterwards."""
    handle, path = tempfile.mkstemp(prefix=f"newsdesk-args-{uuid.uuid4().hex}-", suffix=".pickle")
    try:
        with os.fdopen(handle, "wb") as file:
            pickle.dump(args, file, protocol=pickle.HIGHEST_PROTOCOL)
        yield path
    finally:
        os.unlink(path)


def map_chunks(func: Callable[..., list[R]], items: Sequence[T], *args: Any, workers: int | None = None,
               min_items: int = MIN_ITEMS, progress: Callable[[int], None] | None = None) -> list[R]:
    """Run func(chunk, *args) -> one result per item over chunks of items in worker processes.

    Returns the results in item order, as func(items, *args) would; small batches (under min_items)
    and single-worker setups run in the calling process. `progress`, when given, is called with the
    number of items of each chunk that is done.
    """
    workers = worker_count() if workers is None else max(1, workers)
    if workers == 1 or len(items) < max(2, min_items):
        results = func(list(items), *args)
        if progress:
            progress(len(items))
        return results
    done = (lambda part: progress(len(part))) if progress else None
    results = []
    # the arguments every chunk shares (the tag stage's taxonomy and models: 9 MB) go to each worker once, by
    # file, instead of being pickled again with every chunk
    with _args_file(args) as path:
        for part in starmap(_run_shared, [(func, chunk, path) for chunk in chunked(items, workers)], workers, done):
            results.extend(part)
    return results


def _fill_fields(chunk: list[T], func: Callable[..., object], fields: tuple[str, ...],
                 *args: Any) -> list[tuple[Any, ...]]:
    """Run an in-place stage function on a chunk and return the fields it filled, item by item."""
    func(chunk, *args)
    return [field_values(item, fields) for item in chunk]


def update_in_place(func: Callable[..., object], items: list[T], *args: Any, fields: tuple[str, ...],
                    send: Callable[[T], T] | None = None, workers: int | None = None,
                    min_items: int = MIN_ITEMS, progress: Callable[[int], None] | None = None) -> None:
    """Run func(items, *args), which sets `fields` on each item, over chunks in worker processes.

    The workers get copies (made lighter by `send`, which runs here); the fields they fill are copied
    back onto the items, so the items end as if func had run on them here. `progress` as for map_chunks.
    """
    workers = worker_count() if workers is None else max(1, workers)
    if workers == 1 or len(items) < max(2, min_items):
        func(items, *args)
        if progress:
            progress(len(items))
        return
    outgoing = [send(item) for item in items] if send else items
    set_fields(items, map_chunks(_fill_fields, outgoing, func, fields, *args, workers=workers, min_items=min_items,
                                 progress=progress), fields)


def field_values(item: object, fields: tuple[str, ...]) -> tuple[Any, ...]:
    """The values of the named fields of one item."""
    return tuple(getattr(item, name) for name in fields)


def set_fields(items: Sequence[object], rows: Sequence[tuple[Any, ...]], fields: tuple[str, ...]) -> None:
    """Copy filled fields back onto the items: one row of values per item, in order."""
    for item, row in zip(items, rows, strict=True):
        for name, value in zip(fields, row):
            setattr(item, name, value)
