"""Shared fixtures: a real Prefect API for the session, project paths, and config writers."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

# Prefect reads its settings when imported: give the whole test session its own home.
_HOME = tempfile.mkdtemp(prefix="newsdesk-prefect-")
os.environ.setdefault("PREFECT_HOME", _HOME)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

import pytest  # noqa: E402
from pytest_httpserver import HTTPServer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def prefect_api() -> str:
    """A real Prefect API (the test harness's server) for the whole session; yields its URL."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield PREFECT_API_URL.value()


@pytest.fixture()
def write_config(tmp_path: Path):
    """Write a pipeline config into tmp_path/config/ with the given body; sources default to nothing."""

    def _write(body: str = "", name: str = "pipeline.toml") -> Path:
        cfg_dir = tmp_path / "config"
        cfg_dir.mkdir(exist_ok=True)
        path = cfg_dir / name
        taxonomy = (ROOT / "config" / "issues.toml").as_posix()
        head = (f'[warehouse]\ncatalog = "{(tmp_path / "catalog.sqlite").as_posix()}"\n'
                f'reports_dir = "{(tmp_path / "reports").as_posix()}"\nlock_wait_seconds = 2\n')
        if "[tags]" in body:  # keep one [tags] table: put the taxonomy into the body's
            body = body.replace("[tags]", f'[tags]\ntaxonomy = "{taxonomy}"', 1)
        else:
            head += f'[tags]\ntaxonomy = "{taxonomy}"\n'
        path.write_text(head + body, encoding="utf-8")
        return path

    return _write


@pytest.fixture(scope="module")
def _server() -> Iterator[HTTPServer]:
    """One threaded HTTP server on 127.0.0.1 per test module."""
    srv = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    srv.start()
    yield srv
    srv.clear()
    srv.stop()


@pytest.fixture()
def server(_server: HTTPServer) -> Iterator[HTTPServer]:
    """The module's threaded server, answering 404 to unknown paths, cleared after each test."""
    _server.no_handler_status_code = 404
    yield _server
    _server.clear()


def hits(server: HTTPServer, path: str) -> int:
    """How many requests the server received for path (any query string)."""
    return sum(1 for request, _ in server.log if request.path == path)


def latest_artifact(key: str):
    """The newest artifact with this key on the session's Prefect API (newest first on the server: a
    session's runs publish many artifacts under one key)."""
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    async def read():
        async with get_client() as client:
            found = await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
                                                sort=ArtifactSort.CREATED_DESC, limit=1)
            return found[0]

    return asyncio.run(read())
