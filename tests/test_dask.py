"""Scale-out: a run on a Dask cluster (prefect-dask's task runner on a LocalCluster) stores exactly
what the default runner stores."""

from __future__ import annotations

import shutil
from collections import Counter
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from config.settings import WORKERS_ENV, ConfigError, ParallelSettings, load_settings
from flows import spread
from flows.ingest import ingest
from flows.reprocess import reprocess
from warehouse import open_warehouse

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"

# What a run stores, without what differs between any two runs (run ids, clock times).
CONTENTS = {
    "articles": "SELECT * EXCLUDE (run_id, ingested_at) FROM articles ORDER BY article_id",
    "tags": "SELECT * FROM article_tags ORDER BY ALL",
    "stories": "SELECT * EXCLUDE (first_seen, last_seen) FROM stories ORDER BY story_id",
    "rejects": "SELECT * EXCLUDE (run_id, rejected_at) FROM rejects ORDER BY ALL",
    "duplicates": "SELECT count(*) FROM articles WHERE duplicate_of IS NOT NULL",
    "facts": "SELECT article_id, facts FROM store.articles ORDER BY article_id",  # not in the public views
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Recorded cleaning and dedup inputs and the seeds, each twice (the copy with other bytes, so a
    near duplicate), plus inputs that are rejected: enough for several chunks of mixed outcomes."""
    folder = tmp_path_factory.mktemp("dask-corpus")
    files = sorted([*(DATA / "clean").iterdir(), *(DATA / "dedup").iterdir(), *(ROOT / "seeds").iterdir()])
    for path in files:
        shutil.copy(path, folder / path.name)
        (folder / f"again-{path.name}").write_bytes(path.read_bytes() + b"\n\nEdition two.\n")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "short.txt").write_bytes(b"too short")
    return folder


def _contents(db: Path) -> dict[str, list[tuple]]:
    with open_warehouse(db) as con:
        return {name: con.execute(sql).fetchall() for name, sql in CONTENTS.items()}


def _task_runs(flow_run_id) -> dict[str, int]:
    """How many task runs of each stage a flow run had, from the Prefect API."""
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    return dict(Counter(run.name.rsplit("-", 1)[0] for run in runs))


def _config(write_config, runner: str, name: str) -> Path:
    return write_config(f'[parallel]\nrunner = "{runner}"\nworkers = 2\n', name=name)


def test_a_dask_cluster_run_stores_what_the_default_runner_stores(prefect_api, tmp_path: Path, corpus: Path,
                                                                   write_config) -> None:
    here, there = tmp_path / "processes.sqlite", tmp_path / "dask.sqlite"
    local = _config(write_config, "processes", "processes.toml")
    ingest(sources=[str(corpus)], config_path=str(local), warehouse_path=str(here))
    on_dask = spread.with_runner(ingest, ParallelSettings(runner="dask", workers=2))
    assert type(on_dask.task_runner).__name__ == "DaskTaskRunner"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        state = on_dask(sources=[str(corpus)], config_path=str(_config(write_config, "dask", "dask.toml")),
                        warehouse_path=str(there), return_state=True)
    assert state.is_completed(), state.message
    # what every chunk of a stage shares (the taxonomy with its issue models, 11 MB) goes to the cluster once
    # per stage, not inside each chunk's task ("Sending large graph of size 10.47 MiB" per tag chunk)
    large = [str(w.message) for w in caught if "large graph" in str(w.message)]
    assert not large, large
    chunks = _task_runs(state.state_details.flow_run_id)
    for stage in ("clean", "fingerprint", "summarise", "tag", "stories"):
        assert chunks.get(stage, 0) > 1, f"{stage} ran as one task, not as chunks on the cluster: {chunks}"
    expected, got = _contents(here), _contents(there)
    assert len(expected["articles"]) >= 20 and expected["rejects"] and expected["stories"] and expected["tags"]
    assert expected["duplicates"][0][0] >= 5, "the corpus holds duplicates"
    assert all(facts is not None for _, facts in expected["facts"]), "the facts come back from the workers"
    for name in CONTENTS:
        assert got[name] == expected[name], f"{name} differ between the runners"

    # reprocessing on the cluster rewrites the same summaries, tags and stories
    reprocess(config_path=str(local), warehouse_path=str(here))
    on_dask_again = spread.with_runner(reprocess, ParallelSettings(runner="dask", workers=2))
    on_dask_again(config_path=str(local), warehouse_path=str(there))
    assert _contents(there) == _contents(here)


def test_the_command_line_runs_on_a_local_dask_cluster(prefect_api, tmp_path: Path, corpus: Path,
                                                      write_config) -> None:
    config = _config(write_config, "dask", "dask.toml")
    env = {"PATH": "/usr/bin:/bin", "PREFECT_API_URL": prefect_api, "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_HOME": str(tmp_path / "prefect-home")}
    result = subprocess.run([sys.executable, "-m", "flows.ingest", "--config", str(config), "--source", str(corpus)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Dask" in result.stderr, "the run says it worked on the Dask cluster"
    with open_warehouse(tmp_path / "catalog.sqlite") as con:
        stored = con.execute("SELECT count(*) FROM articles").fetchone()[0]
    assert stored >= 20


@pytest.mark.parametrize(("body", "key"), [
    ('runner = "ray"', "\\[parallel\\].runner: must be one of processes, dask"),
    ("workers = -1", "\\[parallel\\].workers: must not be negative"),
    ('dask_address = "tcp://10.0.0.5:8786"', "\\[parallel\\].dask_address: is only used with runner"),
    ('runner = "dask"\ndask_address = "10.0.0.5"', "\\[parallel\\].dask_address: must be a scheduler address"),
])
def test_parallel_settings_are_checked(write_config, body: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        load_settings(write_config(f"[parallel]\n{body}\n"))


def test_the_task_runner_follows_the_config(write_config, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WORKERS_ENV, raising=False)
    assert spread.task_runner(load_settings(write_config()).parallel) is None
    remote = spread.task_runner(ParallelSettings(runner="dask", dask_address="tcp://10.0.0.5:8786"))
    assert remote.address == "tcp://10.0.0.5:8786"
    local = spread.task_runner(ParallelSettings(runner="dask", workers=3))
    assert local.address is None and local.cluster_kwargs["n_workers"] == 3
