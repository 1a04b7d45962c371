"""Tags through the real ingest flow: write texts as files, run `python -m flows.ingest` on them, read article_tags."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from bench import PROJECT_ROOT
from warehouse import open_warehouse

RUN_TIMEOUT_SECONDS = 3600
SQL_TAGS = """
SELECT a.path, t.issue, t.score FROM article_tags t JOIN articles a USING (article_id)
ORDER BY a.path, t.score DESC, t.issue
"""
SQL_STORED = "SELECT path FROM articles"


def write_texts(texts: dict[str, str], folder: Path) -> None:
    """Write each text as <name>.txt (headline on the first line, a blank line, the body)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")


def ingest(folder: Path, taxonomy: Path, workdir: Path, extra_config: str = "") -> dict[str, object]:
    """Run the ingest flow once, in a fresh process on Prefect's temporary API, over one folder.

    Returns each stored file's tags (file stem -> [(issue, score)], best first), its top tag (file stem
    -> issue), the stems of all stored files, and the run's wall time.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    warehouse = workdir / "eval.sqlite"
    config = workdir / "pipeline.toml"
    config.write_text(f'[warehouse]\ncatalog = "sqlite:{warehouse.as_posix()}"\n'
                      f'reports_dir = "{(workdir / "reports").as_posix()}"\n[tags]\n'
                      f'taxonomy = "{taxonomy.as_posix()}"\n{extra_config}', encoding="utf-8")
    env = {**os.environ, "PREFECT_LOGGING_LEVEL": "WARNING"}
    env.pop("PREFECT_API_URL", None)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "flows.ingest", "--config", str(config), "--source", str(folder)],
                          cwd=PROJECT_ROOT, env=env, timeout=RUN_TIMEOUT_SECONDS, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"the ingest run failed ({done.returncode}):\n{done.stderr[-3000:]}")
    tags: dict[str, list[tuple[str, float]]] = {}
    with open_warehouse(warehouse) as con:
        for path, issue, score in con.execute(SQL_TAGS).fetchall():
            tags.setdefault(Path(path).stem, []).append((issue, score))
        stored = {Path(row[0]).stem for row in con.execute(SQL_STORED).fetchall()}
    return {"tags": tags, "top": {stem: found[0][0] for stem, found in tags.items()}, "stored": stored,
            "seconds": round(seconds, 1)}
