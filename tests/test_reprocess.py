"""Re-summarising and re-tagging stored articles with a changed config, without refetching."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tasks.versions import STORY_SUMMARY_VERSION, SUMMARY_VERSION
from tests.conftest import ROOT, SEEDS
from warehouse import open_warehouse


def _rows(db: Path, sql: str) -> list[tuple]:
    with open_warehouse(db) as con:
        return con.execute(sql).fetchall()


def _run_name(state) -> str:
    """The name of the flow run a state belongs to, as the Prefect API has it."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(state.state_details.flow_run_id).name


def test_reprocess_applies_current_config_and_records_versions(prefect_api, tmp_path, write_config):
    from flows.ingest import ingest
    from flows.reprocess import reprocess

    folder = tmp_path / "in"
    shutil.copytree(SEEDS, folder)
    source = f'[[sources]]\nname = "local"\nkind = "folder"\npath = "{folder.as_posix()}"\n'
    first = write_config("[summary]\nsentences = 3\n" + source)
    assert ingest(config_path=str(first), return_state=True).is_completed()
    db = tmp_path / "catalog.sqlite"
    before = _rows(db, "SELECT article_id, text, story_id, summary_version, len(summary_sentences) FROM articles "
                       "ORDER BY article_id")
    assert all(r[3] == f"summary-{SUMMARY_VERSION}/news/k3" for r in before)
    assert all(r[4] == 3 for r in before)
    tags_before = _rows(db, "SELECT count(*) FROM article_tags")[0][0]
    assert tags_before > 2

    changed = write_config('[summary]\nsentences = 1\nalgorithm = "lead"\n[tags]\nmax_tags = 1\n' + source,
                           name="changed.toml")
    state = reprocess(config_path=str(changed), return_state=True)
    assert state.is_completed(), state.message
    assert re.fullmatch(r"reprocess stored articles \d{4}-\d\d-\d\d \d\d:\d\d", _run_name(state)), _run_name(state)
    other = reprocess(config_path=str(changed), warehouse_path=str(db), return_state=True)
    assert _run_name(other).startswith("reprocess stored articles in catalog.sqlite "), _run_name(other)
    after = _rows(db, "SELECT article_id, text, story_id, summary_version, len(summary_sentences), "
                      "summary_sentences[1] FROM articles ORDER BY article_id")
    assert [r[:3] for r in after] == [r[:3] for r in before], "text and stories are untouched"
    assert all(r[3] == f"summary-{SUMMARY_VERSION}/lead/k1" and r[4] == 1 for r in after)
    assert all(" ".join(r[1].split()).startswith(r[5]) or r[5] in r[1] for r in after)
    per_article = _rows(db, "SELECT article_id, count(*) FROM article_tags GROUP BY article_id")
    assert len(per_article) == 2 and all(n == 1 for _, n in per_article)
    assert _rows(db, "SELECT count(*) FROM store.raw_inputs") == [(2,)]
    runs = _rows(db, "SELECT kind, status FROM runs ORDER BY started_at")
    assert runs == [("ingest", "completed"), ("reprocess", "completed"), ("reprocess", "completed")]
    assert _rows(db, f"SELECT count(*) FROM stories WHERE summary_version = 'summary-{STORY_SUMMARY_VERSION}/story/k4'") == [(1,)]


def test_reprocess_fills_in_the_facts_of_articles_stored_without_them(prefect_api, tmp_path, write_config):
    from flows.ingest import ingest
    from flows.reprocess import reprocess

    folder = tmp_path / "in"
    shutil.copytree(SEEDS, folder)
    config = write_config(f'[[sources]]\nname = "local"\nkind = "folder"\npath = "{folder.as_posix()}"\n')
    assert ingest(config_path=str(config), return_state=True).is_completed()
    db = tmp_path / "catalog.sqlite"
    kept = _rows(db, "SELECT article_id, facts FROM store.articles ORDER BY article_id")
    assert len(kept) == 2 and all(len(found) > 5 for _, found in kept)
    with open_warehouse(db, read_only=False) as con:  # as a warehouse written before facts were kept
        con.execute("UPDATE store.articles SET facts = NULL WHERE article_id = ?", [kept[0][0]])
    assert _rows(db, "SELECT count(*) FROM store.articles WHERE facts IS NULL") == [(1,)]

    state = reprocess(config_path=str(config), return_state=True)
    assert state.is_completed(), state.message
    assert "facts kept for 1 articles" in state.result()
    assert _rows(db, "SELECT article_id, facts FROM store.articles ORDER BY article_id") == kept


@pytest.mark.parametrize("command", ["flows.reprocess", "flows.maintain"])
def test_a_command_on_stored_articles_refuses_a_warehouse_that_does_not_exist(tmp_path, write_config, command):
    missing = tmp_path / "typo" / "catalog.sqlite"
    missing.parent.mkdir()
    result = subprocess.run([sys.executable, "-m", command, "--config", str(write_config()), "--warehouse",
                             str(missing)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines() == [
        f"error: --warehouse: no warehouse at {missing} yet (a first run creates it)"]
    assert list(missing.parent.iterdir()) == [], "nothing made there"


def test_the_nightly_maintain_before_the_first_ingest_has_nothing_to_do(prefect_api, tmp_path, write_config):
    from flows.maintain import maintain

    state = maintain(config_path=str(write_config()), return_state=True)
    assert state.is_completed(), state.message
    assert state.result() == f"no warehouse at {tmp_path / 'catalog.sqlite'} yet: nothing to maintain"
    assert not (tmp_path / "catalog.sqlite").exists()
    # a warehouse named for the run (from the UI, say) must be there: a typo fails
    typo = maintain(config_path=str(write_config()), warehouse_path=str(tmp_path / "catalg.sqlite"), return_state=True)
    assert typo.is_failed() and "no warehouse at" in typo.message and not (tmp_path / "catalg.sqlite").exists()
