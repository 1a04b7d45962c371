"""The ingest flow end to end on a real Prefect API and a real DuckDB file."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SEEDS, latest_artifact
from warehouse import open_warehouse

SEED_WIRE = "002_cc2e266a8b9d55b3.txt"
SEED_BLOG = "000_86dcefa09d6f54ea.txt"
BOILERPLATE = ("No comments", "Post a Comment", "Today's Top News", "Opposition moves to impeach Lai",
               "Agencies - Xinhua")


def _run(cfg: Path, **kwargs) -> str:
    from flows.ingest import ingest

    state = ingest(config_path=str(cfg), return_state=True, **kwargs)
    assert state.is_completed(), state.message
    return state.result()


def _query(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    with open_warehouse(db) as con:
        return con.execute(sql, params or []).fetchall()


def _folder_config(write_config, folder: Path, extra: str = "") -> Path:
    return write_config(f'{extra}\n[[sources]]\nname = "local"\nkind = "folder"\npath = "{folder.as_posix()}"\n')


@pytest.fixture()
def seeds_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    shutil.copytree(SEEDS, folder)
    return folder


def test_folder_and_file_sources_give_their_tags_to_every_article(prefect_api, tmp_path, write_config, seeds_copy):
    single = tmp_path / "single" / "flood.txt"
    single.parent.mkdir()
    single.write_text("River floods close the valley road\n\nHundreds of residents were evacuated on Sunday after "
                      "the river burst its banks. Emergency crews worked through the night to clear the road.\n",
                      encoding="utf-8")
    cfg = write_config(f'[[sources]]\nname = "local"\nkind = "folder"\npath = "{seeds_copy.as_posix()}"\n'
                       'tags = ["desk_pick"]\n'
                       f'[[sources]]\nname = "tip"\nkind = "file"\npath = "{single.as_posix()}"\ntags = ["tip_line"]\n')
    digest = _run(cfg)
    given = _query(tmp_path / "catalog.sqlite", "SELECT a.source, t.issue, t.score, t.evidence FROM article_tags t "
                                                "JOIN articles a USING (article_id) WHERE t.evidence = 'source default'")
    assert sorted(given) == [("local", "desk_pick", None, "source default")] * 2 + [
        ("tip", "tip_line", None, "source default")]
    assert "tip_line" in digest and "desk_pick" in digest


def test_a_configured_path_that_is_not_there_is_said_at_every_run(prefect_api, tmp_path, write_config, seeds_copy):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("Not a folder.\n", encoding="utf-8")
    cfg = write_config(f'[[sources]]\nname = "local"\nkind = "folder"\npath = "{seeds_copy.as_posix()}"\n'
                       f'[[sources]]\nname = "typo"\nkind = "folder"\npath = "{(tmp_path / "sedes").as_posix()}"\n'
                       f'[[sources]]\nname = "flat"\nkind = "folder"\npath = "{a_file.as_posix()}"\n'
                       f'[[sources]]\nname = "gone"\nkind = "file"\npath = "{(tmp_path / "gone.txt").as_posix()}"\n')
    for _ in range(2):
        digest = _run(cfg)
        assert "source folder does not exist" in digest and "make the source kind" in digest
        assert "file does not exist" in digest
    rows = _query(tmp_path / "catalog.sqlite", "SELECT r.source, r.reason FROM rejects r JOIN runs USING (run_id) "
                                               "ORDER BY runs.started_at, r.source")
    reasons = [(source, reason.split(" (")[0]) for source, reason in rows]
    assert reasons == [("flat", 'source folder is a file'), ("gone", "file does not exist"),
                       ("typo", "source folder does not exist")] * 2
    assert _query(tmp_path / "catalog.sqlite", "SELECT skipped, rejected FROM runs ORDER BY started_at") == [
        (0, 3), (2, 3)]
    # said again, but no news: the second run, which found nothing else, leaves the first run's page as the latest
    first, second = (r[0] for r in _query(tmp_path / "catalog.sqlite", "SELECT run_id FROM runs ORDER BY started_at"))
    reports = tmp_path / "reports"
    assert (reports / f"{second}.html").is_file()
    assert (reports / "latest.html").read_bytes() == (reports / f"{first}.html").read_bytes()
    # mended for a run (the others still said, and still no news), then missing again: news again
    (tmp_path / "sedes").mkdir()
    _run(cfg)
    assert (reports / "latest.html").read_bytes() == (reports / f"{first}.html").read_bytes()
    (tmp_path / "sedes").rmdir()
    _run(cfg)
    last = _query(tmp_path / "catalog.sqlite", "SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1")[0][0]
    assert (reports / "latest.html").read_bytes() == (reports / f"{last}.html").read_bytes()


def test_seeds_end_to_end(prefect_api, tmp_path, write_config, seeds_copy):
    cfg = _folder_config(write_config, seeds_copy)
    digest = _run(cfg)
    db = tmp_path / "catalog.sqlite"
    rows = {Path(r[0]).name: r for r in _query(
        db, "SELECT path, title, title_derived, dateline, credit, text, story_id, duplicate_of, summary_sentences, "
            "article_id, published_at FROM articles")}
    assert set(rows) == {SEED_WIRE, SEED_BLOG}
    wire, blog = rows[SEED_WIRE], rows[SEED_BLOG]
    assert wire[1] == "US offers 'NATO-like' security to Ukraine" and wire[2] is False
    assert blog[1] and "WASHINGTON" not in blog[1] and blog[2] is True
    assert blog[3] == "WASHINGTON, United States" and wire[3] == "BERLIN"
    assert wire[4] == "Agencies - Xinhua"
    for r in (wire, blog):
        assert not any(b in r[5] for b in BOILERPLATE), r[5][-300:]
        assert "\n\n" in r[5]
        assert r[7] is None, "two outlets' reports are not duplicates"
        assert r[10] is None, "the seeds carry no publication date"
        assert 1 <= len(r[8]) <= 3 and all(s in " ".join(r[5].split()) for s in r[8])
    assert wire[6] == blog[6], "both seeds report the same story"
    stories = _query(db, "SELECT story_id, article_count, distinct_articles, title, summary FROM stories")
    assert len(stories) == 1 and stories[0][1:3] == (2, 2) and stories[0][4]
    opening = next(lede for lede in (wire[8][0], blog[8][0]) if stories[0][4].startswith(lede))  # a report's lede
    assert "offer" in opening and "security guarantees" in opening, "the story opens with the offer"
    tags = _query(db, "SELECT article_id, issue, evidence FROM article_tags WHERE issue IN "
                      "('defence', 'international_affairs', 'security_guarantees')")
    assert {t[0] for t in tags} == {wire[9], blog[9]} and all(t[2] for t in tags)
    run = _query(db, "SELECT status, discovered, skipped, new_articles, duplicates, rejected FROM runs")
    assert run == [("completed", 2, 0, 2, 0, 0)]
    assert "US offers 'NATO-like' security to Ukraine" in digest
    reports = list((tmp_path / "reports").glob("*.md"))
    assert len(reports) == 1 and reports[0].read_text(encoding="utf-8") == digest
    raw = _query(db, "SELECT count(*), sum(size_bytes) FROM store.raw_inputs")
    assert raw == [(2, sum(p.stat().st_size for p in SEEDS.iterdir()))]


def _readme_sql() -> list[str]:
    """The README's SQL statements for the project's own session: its ```sql blocks, without the one that
    installs extensions from the internet and those that read export files, split at semicolons."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    statements = []
    for block in re.findall(r"```sql\n(.*?)```", readme, flags=re.S):
        if "INSTALL " in block or "'exports/" in block:
            continue
        code = re.sub(r"--[^\n]*", "", block)
        statements += [part.strip() for part in code.split(";") if part.strip()]
    return statements


def test_the_readme_sql_examples_run_on_the_seeds_warehouse(prefect_api, tmp_path, write_config):
    folder = tmp_path / "seeds"  # as `make run` reads them, so the README's locator pattern applies
    shutil.copytree(SEEDS, folder)
    for name in ("photo.txt", "photo copy.txt"):  # a rejected input and a byte-identical copy of it
        (folder / name).write_bytes(bytes(range(256)) * 8)
    _run(_folder_config(write_config, folder))
    statements = _readme_sql()
    assert len(statements) >= 10 and any("FROM inputs" in s for s in statements)
    with open_warehouse(tmp_path / "catalog.sqlite") as con:
        for statement in statements:
            rows = con.execute(statement).fetchall()  # every example runs against the views as documented
            if "outcome = 'rejected'" in statement:  # what went wrong: the reject and its copy, each with why
                assert sorted(Path(r[0]).name for r in rows) == ["photo copy.txt", "photo.txt"], rows
                assert all("binary" in r[1] for r in rows), rows
            elif "FROM inputs" in statement or ("FROM stories" in statement and "utc_day(now())" in statement):
                assert rows, f"the README example finds nothing on the seeds: {statement}"


def test_the_readme_sql_examples_answer_while_a_run_is_writing(prefect_api, tmp_path, write_config):
    """The README's 'latest run' examples (rejects, time travel) read the latest run that stored its rows:
    a run still writing (or abandoned, or failed) has no snapshot and no inputs yet."""
    from warehouse.write import begin_run

    folder = tmp_path / "seeds"
    shutil.copytree(SEEDS, folder)
    (folder / "photo.txt").write_bytes(bytes(range(256)) * 8)
    _run(_folder_config(write_config, folder))
    db = tmp_path / "catalog.sqlite"
    with open_warehouse(db, read_only=False) as writer:  # the next run has begun: its 'running' row is committed
        begin_run(writer, "99991231T235959Z-000000", None, "seeds", exclusive=False)
    stored = _query(db, "SELECT snapshot_id FROM runs WHERE status = 'completed'")[0][0]
    with open_warehouse(db) as con:
        for statement in _readme_sql():
            rows = con.execute(statement).fetchall()
            if "outcome = 'rejected'" in statement:
                assert [Path(r[0]).name for r in rows] == ["photo.txt"], rows
        assert con.execute("SELECT getvariable('before_run')").fetchone()[0] == stored - 1


def test_a_failure_after_the_commit_leaves_the_stored_run_completed(prefect_api, tmp_path, write_config, seeds_copy,
                                                                    monkeypatch):
    """The digest is written after the run's rows are committed: when that fails (a full disk, say), the
    flow run fails, but the warehouse's row of the run still says what it stored, and in which snapshot."""
    from flows import ingest as ingest_module

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ingest_module, "write_digest", full_disk)
    state = ingest_module.ingest(config_path=str(_folder_config(write_config, seeds_copy)), return_state=True)
    assert state.is_failed() and "No space left on device" in state.message, state.message
    db = tmp_path / "catalog.sqlite"
    assert _query(db, "SELECT status, new_articles, snapshot_id IS NOT NULL FROM runs") == [("completed", 2, True)]
    assert _query(db, "SELECT count(*) FROM articles") == [(2,)]


def test_a_prefect_api_that_does_not_answer_is_one_line_before_the_run(tmp_path, write_config, seeds_copy):
    """PREFECT_API_URL left set after `make stop`: one line saying so, exit 2, nothing made (not three tracebacks)."""
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PREFECT_API_URL": f"http://127.0.0.1:{port}/api", "PREFECT_HOME": str(tmp_path / "home")}
    result = subprocess.run([sys.executable, "-m", "flows.ingest", "--config",
                             str(_folder_config(write_config, seeds_copy))], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr[-3000:]
    assert lines[0].startswith(f"error: PREFECT_API_URL: no Prefect server answers at http://127.0.0.1:{port}/api ("), \
        lines[0]
    assert not (tmp_path / "catalog.sqlite").exists(), "nothing was made"


@pytest.mark.parametrize(("module", "url", "reason"), [
    ("flows.ingest", "http://[127.0.0.1/api", "is not a URL (Invalid IPv6 URL)"),
    ("flows.ingest", "http://127.0.0.1:42oo/api", "is not a URL (Port could not be cast to integer value as '42oo')"),
    ("flows.ingest", "127.0.0.1:4200/api", "is not an http(s) URL"),
    ("flows.reprocess", "http://[127.0.0.1/api", "is not a URL (Invalid IPv6 URL)"),
    ("flows.maintain", "http://127.0.0.1:70000/api", "is not a URL (Port out of range 0-65535)"),
    ("flows.serve", "127.0.0.1:4200/api", "is not an http(s) URL"),
])
def test_a_prefect_api_url_that_is_not_a_url_is_one_line(tmp_path, write_config, seeds_copy, module, url, reason):
    """A mistyped PREFECT_API_URL: one line naming it, exit 2, nothing made (Prefect's import would have stopped
    with a page of validation errors, or the run with an httpx traceback)."""
    env = {**os.environ, "PREFECT_API_URL": url, "PREFECT_HOME": str(tmp_path / "home")}
    result = subprocess.run([sys.executable, "-m", module, "--config", str(_folder_config(write_config, seeds_copy))],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stderr.strip().splitlines()) == (
        2, [f"error: PREFECT_API_URL: {url!r} {reason}: set it like http://127.0.0.1:4200/api, or unset it"]), \
        result.stderr[-3000:]
    assert not (tmp_path / "catalog.sqlite").exists() and not (tmp_path / "home").exists(), "nothing was made"


def test_digest_published_as_artifacts(prefect_api, write_config, seeds_copy):
    from flows.ingest import DIGEST_ARTIFACT_KEY, STORIES_ARTIFACT_KEY

    digest = _run(_folder_config(write_config, seeds_copy))

    assert latest_artifact(DIGEST_ARTIFACT_KEY).data == digest
    table = latest_artifact(STORIES_ARTIFACT_KEY)
    assert "NATO-like" in str(table.data)


def test_the_stories_table_lists_the_largest_story_first(prefect_api, write_config, seeds_copy):
    """The ingest-stories table in the UI reads as the digest does: the story of two reports above the single
    articles, whatever order the files were read in."""
    from flows.ingest import STORIES_ARTIFACT_KEY

    singles = {
        "0000_bakery.txt": "Village bakery wins regional bread prize\n\nA small bakery in the village of Elm Green won "
                          "the regional bread prize on Saturday for its sourdough loaf, beating forty other entries. "
                          "The owners said they would spend the prize money on a new oven for the shop.",
        "0001_ferry.txt": "Ferry timetable changes for the winter\n\nThe island ferry will run four crossings a day "
                         "instead of six from November, the operator said, because fewer passengers travel in the "
                         "colder months. Commuters asked for an early crossing to be kept for school pupils.",
    }
    for name, text in singles.items():
        (seeds_copy / name).write_text(text, encoding="utf-8")
    _run(_folder_config(write_config, seeds_copy))
    rows = latest_artifact(STORIES_ARTIFACT_KEY).data
    rows = json.loads(rows) if isinstance(rows, str) else rows
    assert len(rows) == 3
    assert [r["articles"] for r in rows] == [2, 1, 1] and "NATO-like" in rows[0]["title"], rows


def test_a_digest_too_big_for_the_ui_is_published_cut(prefect_api, tmp_path, write_config, seeds_copy,
                                                       monkeypatch):
    from flows import ingest as ingest_module

    monkeypatch.setattr(ingest_module, "MAX_ARTIFACT_CHARS", 900)  # the seeds' digest is about 5,000
    digest = _run(_folder_config(write_config, seeds_copy))
    assert len(digest) > 2000

    published = latest_artifact(ingest_module.DIGEST_ARTIFACT_KEY).data
    report = next((tmp_path / "reports").glob("*.md"))
    assert len(published) <= 900 and digest.startswith(published.split("\n\n_This digest is cut")[0])
    assert f"the whole digest is in {report}" in published
    assert report.read_text(encoding="utf-8") == digest


def test_fit_for_ui_cuts_at_a_section_and_leaves_small_digests_alone():
    from tasks.s8_report import fit_for_ui

    sections = "".join(f"### Story {i}\n\n" + "word " * 40 + "\n\n" for i in range(50))
    markdown = "# Run\n\n## Stories\n\n" + sections
    cut = fit_for_ui(markdown, 1000, "see x.md")
    assert len(cut) <= 1000 and cut.rstrip().endswith("see x.md._")
    body = cut.split("\n\n_This digest is cut")[0]
    assert markdown.startswith(body) and markdown[len(body):].lstrip().startswith("### Story")
    assert fit_for_ui(markdown, len(markdown), "see x.md") == markdown


def test_second_run_adds_nothing(prefect_api, tmp_path, write_config, seeds_copy):
    cfg = _folder_config(write_config, seeds_copy)
    _run(cfg)
    db = tmp_path / "catalog.sqlite"
    tables = ["store.articles", "store.article_tags", "store.raw_inputs", "store.rejects", "store.stories"]
    before = [_query(db, f"SELECT count(*) FROM {t}")[0][0] for t in tables]
    _run(cfg)
    after = [_query(db, f"SELECT count(*) FROM {t}")[0][0] for t in tables]
    assert after == before
    runs = _query(db, "SELECT status, discovered, skipped, new_articles, duplicates FROM runs ORDER BY started_at")
    assert runs[-1] == ("completed", 2, 2, 0, 0)
    # The quiet run has its own page, but the latest page still shows the run that found the seeds
    first, second = (r[0] for r in _query(db, "SELECT run_id FROM runs ORDER BY started_at"))
    reports = tmp_path / "reports"
    assert "Nothing new in this run." in (reports / f"{second}.html").read_text(encoding="utf-8")
    assert (reports / "latest.html").read_text(encoding="utf-8") == (reports / f"{first}.html").read_text(
        encoding="utf-8")


def test_syndicated_copy_is_duplicate_of_original(prefect_api, tmp_path, write_config, seeds_copy):
    cfg = _folder_config(write_config, seeds_copy)
    _run(cfg)
    lines = (SEEDS / SEED_WIRE).read_text(encoding="utf-8").splitlines()
    body = lines[1:lines.index("Agencies - Xinhua")]
    copy = ["Washington offers Kyiv Nato-style guarantees", *body, "",
            "Copyright 2025 The Daily Courier. All rights reserved.", "Share this story"]
    (seeds_copy / "syndicated.txt").write_text("\n".join(copy), encoding="utf-8")
    digest = _run(cfg)
    db = tmp_path / "catalog.sqlite"
    original = _query(db, "SELECT article_id, story_id FROM articles WHERE path LIKE ?", [f"%{SEED_WIRE}"])[0]
    dup = _query(db, "SELECT duplicate_of, story_id, duplicate_kind FROM articles WHERE path LIKE '%syndicated.txt'")
    assert dup == [(original[0], original[1], dup[0][2])] and dup[0][2] in ("exact", "near")
    runs = _query(db, "SELECT new_articles, duplicates FROM runs ORDER BY started_at")
    assert runs[-1] == (0, 1)
    # the digest names the original a run before stored by its headline, not by a bare article id
    assert f"duplicate of **US offers 'NATO-like' security to Ukraine**, stored before (`{original[0]}`)" in digest
    page = (tmp_path / "reports" / "latest.html").read_text(encoding="utf-8")
    assert "stored before: <strong>US offers &#x27;NATO-like&#x27; security to Ukraine</strong>" in page


def test_bad_files_rejected_good_ones_stored(prefect_api, tmp_path, write_config, seeds_copy):
    (seeds_copy / "empty.txt").write_bytes(b"")
    (seeds_copy / "binary.txt").write_bytes(bytes(range(256)) * 20)
    (seeds_copy / "huge.txt").write_text("word " * 5000, encoding="utf-8")
    (seeds_copy / "dangling.txt").symlink_to(seeds_copy / "missing-target.txt")
    os.mkfifo(seeds_copy / "pipe.txt")
    latin = ("Ein Bericht über die Lage\n" + "Die Regierung in München hat am Montag neue Maßnahmen "
             "für Bürgerinnen und Bürger beschlossen, die ab nächster Woche gelten sollen. " * 4)
    (seeds_copy / "latin1.txt").write_bytes(latin.encode("latin-1"))
    cfg = _folder_config(write_config, seeds_copy, "[discover]\nmax_file_bytes = 20000\n")
    digest = _run(cfg)
    db = tmp_path / "catalog.sqlite"
    reasons = {Path(r[0]).name: r[1] for r in _query(db, "SELECT locator, reason FROM rejects")}
    assert set(reasons) == {"empty.txt", "binary.txt", "huge.txt", "dangling.txt", "pipe.txt"}
    assert "empty" in reasons["empty.txt"] and "binary" in reasons["binary.txt"]
    assert "too large" in reasons["huge.txt"] and "unreadable" in reasons["dangling.txt"]
    assert "not a regular file" in reasons["pipe.txt"]
    assert all("\n" not in r for r in reasons.values())
    stored = {Path(r[0]).name: r[1] for r in _query(db, "SELECT path, title FROM articles")}
    assert set(stored) == {SEED_WIRE, SEED_BLOG, "latin1.txt"}
    assert stored["latin1.txt"] == "Ein Bericht über die Lage"
    assert all(name in digest for name in reasons)
    run = _query(db, "SELECT status, new_articles, rejected FROM runs")
    assert run == [("completed", 3, 5)]
    _run(cfg)  # known rejects are not recorded again
    assert _query(db, "SELECT count(*) FROM rejects") == [(5,)]


def test_every_input_has_one_outcome_found_by_its_path_copies_included(prefect_api, tmp_path, write_config,
                                                                         seeds_copy):
    shutil.copy(seeds_copy / SEED_WIRE, seeds_copy / "006_rates_copy.txt")  # byte-identical, same folder
    (seeds_copy / "short.txt").write_text("Too short to be an article.\n", encoding="utf-8")
    shutil.copy(seeds_copy / "short.txt", seeds_copy / "short_copy.txt")
    cfg = _folder_config(write_config, seeds_copy)
    digest = _run(cfg)
    db = tmp_path / "catalog.sqlite"

    def outcomes() -> dict[str, tuple]:
        rows = _query(db, "SELECT locator, outcome, article_id, stored_by_run, detail FROM inputs")
        assert len(rows) == len({r[0] for r in rows}), f"one outcome per input: {rows}"
        return {Path(r[0]).name: r[1:] for r in rows}

    [(first_run,)] = _query(db, "SELECT run_id FROM runs")
    wire_id = _query(db, "SELECT article_id FROM articles WHERE path LIKE ?", [f"%{SEED_WIRE}"])[0][0]
    found = outcomes()
    assert set(found) == {SEED_WIRE, SEED_BLOG, "006_rates_copy.txt", "short.txt", "short_copy.txt"}
    assert found[SEED_WIRE][:3] == ("stored", wire_id, first_run)
    assert found["006_rates_copy.txt"][:3] == ("duplicate", wire_id, first_run)
    assert SEED_WIRE in found["006_rates_copy.txt"][3] and "same run" in found["006_rates_copy.txt"][3]
    assert found["short.txt"][0] == found["short_copy.txt"][0] == "rejected"
    assert "too little text" in found["short.txt"][3] and "too little text" in found["short_copy.txt"][3]
    assert _query(db, "SELECT discovered, skipped, new_articles, duplicates, rejected FROM runs") == [(5, 0, 2, 1, 2)]
    copies = digest.split("## Copies", 1)[1].split("\n## ", 1)[0]
    assert "006_rates_copy.txt` (local): duplicate — the same bytes as" in copies and f"`{wire_id}`" in copies
    assert "short_copy.txt` (local): rejected" in copies
    assert _query(db, "SELECT count(*) FROM articles") == [(2,)], "a copy is no article of its own"

    shutil.copy(seeds_copy / SEED_WIRE, seeds_copy / "later_copy.txt")  # the same bytes, a later run
    digest = _run(cfg)
    found = outcomes()
    assert found["later_copy.txt"][:3] == ("already stored", wire_id, first_run)
    assert f"stored by run {first_run}" in found["later_copy.txt"][3]
    assert "later_copy.txt` (local): already stored — the same bytes as" in digest
    assert _query(db, "SELECT skipped, new_articles, duplicates FROM runs ORDER BY started_at")[-1] == (6, 0, 0)

    before = outcomes()
    digest = _run(cfg)  # nothing new: no outcome is recorded twice
    assert outcomes() == before and "## Copies" not in digest


def test_a_file_read_again_under_another_source_name_is_the_same_input_not_a_copy(prefect_api, tmp_path, write_config,
                                                                                  seeds_copy, monkeypatch):
    """A folder named one way on the command line and another way later (a relative path, a configured
    name) is read again, not recorded as copies of itself."""
    (seeds_copy / "short.txt").write_text("Too short to be an article.\n", encoding="utf-8")
    cfg = _folder_config(write_config, seeds_copy)
    _run(cfg, sources=[str(seeds_copy)])
    db = tmp_path / "catalog.sqlite"
    before = _query(db, "SELECT locator, outcome FROM inputs ORDER BY locator")
    assert sorted(o for _, o in before) == ["rejected", "stored", "stored"]
    monkeypatch.chdir(tmp_path)
    for sources in (["in"], None, [str(seeds_copy / SEED_WIRE)]):  # relative, the configured "local", one file
        digest = _run(cfg, sources=sources)
        assert "## Copies" not in digest and "same bytes" not in digest
    assert _query(db, "SELECT locator, outcome FROM inputs ORDER BY locator") == before
    assert _query(db, "SELECT count(*) FROM store.rejects") == [(1,)]
    assert _query(db, "SELECT count(*) FROM store.input_copies") == [(0,)]
    # in one run, a file inside two configured folders (one within the other) is one input, read once
    (seeds_copy / "wire").mkdir()
    (seeds_copy / "wire" / "harbour.txt").write_text(" ".join(["The harbour reopened on Monday after repairs."] * 12),
                                                    encoding="utf-8")
    (seeds_copy / "wire" / "tiny.txt").write_text("Too short.\n", encoding="utf-8")
    both = write_config(f'[[sources]]\nname = "all"\nkind = "folder"\npath = "{seeds_copy.as_posix()}"\n'
                        f'[[sources]]\nname = "wire"\nkind = "folder"\npath = "{(seeds_copy / "wire").as_posix()}"\n',
                        name="both.toml")
    digest = _run(both)
    assert "## Copies" not in digest
    rows = _query(db, "SELECT locator, outcome FROM inputs WHERE locator LIKE '%/wire/%' ORDER BY locator")
    assert [(Path(loc).name, outcome) for loc, outcome in rows] == [("harbour.txt", "stored"), ("tiny.txt", "rejected")]


STORY_DATA = Path(__file__).resolve().parent / "data" / "stories"


def _story_file(folder: Path, name: str, days_ago: int = 1) -> None:
    """Copy a recorded report into folder; @YESTERDAY@ becomes the date days_ago (by default yesterday's,
    inside the story window)."""
    from datetime import datetime, timedelta, timezone

    day = datetime.now(timezone.utc) - timedelta(days=days_ago)
    text = (STORY_DATA / name).read_text(encoding="utf-8")
    (folder / name).write_text(text.replace("@YESTERDAY@", f"{day.day} {day:%B %Y}"), encoding="utf-8")


def test_a_storys_title_changes_only_when_a_better_headline_joins(prefect_api, tmp_path, write_config):
    from flows.reprocess import reprocess

    folder = tmp_path / "in"  # not reports/: the digests are written there
    folder.mkdir()
    cfg = _folder_config(write_config, folder)

    def titles(db: Path) -> list[tuple]:
        return _query(db, "SELECT title, article_count FROM stories")

    # a publisher's headline first; a second headline (published earlier) and a third join later
    db = tmp_path / "catalog.sqlite"
    for name, count in (("1_evacuated.txt", 1), ("2_severn_peaks.txt", 2), ("3_clean_up.txt", 3)):
        _story_file(folder, name)
        _run(cfg)
        assert titles(db) == [("Hundreds evacuated as river bursts its banks", count)], name
    assert reprocess(config_path=str(cfg), return_state=True).is_completed()
    assert titles(db) == [("Hundreds evacuated as river bursts its banks", 3)]

    # a title derived from a lead gives way to the first publisher's headline that joins
    for path in folder.iterdir():
        path.unlink()
    other = tmp_path / "other.sqlite"
    ours = (tmp_path / "reports" / "latest.html").read_text(encoding="utf-8")
    _story_file(folder, "0_lead_only.txt")
    _run(cfg, warehouse_path=str(other))
    # the other warehouse's digests are beside it; this one's latest page is left as it was
    assert (tmp_path / "reports" / "latest.html").read_text(encoding="utf-8") == ours
    assert "Hundreds of residents were evacuated" in (tmp_path / "other.sqlite.reports" / "latest.html").read_text(
        encoding="utf-8")
    [(derived, _)] = titles(other)
    assert derived.startswith("Hundreds of residents were evacuated")
    _story_file(folder, "2_severn_peaks.txt")
    _run(cfg, warehouse_path=str(other))
    assert titles(other) == [("Shropshire flooding: Severn peaks as barriers hold", 2)]


def test_one_runs_reports_years_apart_are_two_stories(prefect_api, tmp_path, write_config):
    """A first run over a back catalogue: a report published years ago joins no story of this week's
    (the two undated ones count for the run's day and are one story)."""
    folder = tmp_path / "in"
    folder.mkdir()
    _story_file(folder, "1_evacuated.txt")
    _story_file(folder, "2_severn_peaks.txt", days_ago=3 * 365)
    _story_file(folder, "3_clean_up.txt")
    db = tmp_path / "catalog.sqlite"
    _run(_folder_config(write_config, folder))
    rows = _query(db, "SELECT path, published_at IS NOT NULL, story_id, duplicate_of FROM articles ORDER BY path")
    assert [(Path(path).name, dated, dup) for path, dated, _, dup in rows] == [
        ("1_evacuated.txt", False, None), ("2_severn_peaks.txt", True, None), ("3_clean_up.txt", False, None)]
    evacuated, peaks, clean_up = (story for _, _, story, _ in rows)
    assert evacuated == clean_up != peaks
    assert sorted(_query(db, "SELECT article_count FROM stories")) == [(1,), (2,)]


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flows.ingest", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


def test_bad_config_stops_with_one_line(tmp_path, write_config):
    cfg = write_config('[dedup]\nnear_threshold = "high"\n')
    result = _cli("--config", str(cfg))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(cfg) in lines[0] and "near_threshold" in lines[0] and "number" in lines[0]
    assert not (tmp_path / "catalog.sqlite").exists()
    unknown = write_config("[summary]\nsentencez = 3\n", name="typo.toml")
    result = _cli("--config", str(unknown))
    assert result.returncode == 2 and "[summary].sentencez: unknown key" in result.stderr


def test_unusable_warehouse_path_stops_with_one_line(tmp_path, write_config):
    cfg = write_config()
    result = _cli("--config", str(cfg), "--warehouse", str(tmp_path / "no" / "such" / "catalog.sqlite"))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "does not exist" in result.stderr
    not_db = tmp_path / "notes.sqlite"
    not_db.write_text("just some text, not a database " * 10)
    result = _cli("--config", str(cfg), "--warehouse", str(not_db))
    assert result.returncode == 2 and "not a sqlite database" in result.stderr
    assert not_db.read_text().startswith("just some text")


def test_cli_runs_one_source_and_prints_digest(prefect_api, tmp_path, write_config):
    cfg = write_config()
    result = _cli("--config", str(cfg), "--source", str(SEEDS / SEED_WIRE), env={"PREFECT_API_URL": prefect_api})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "# Ingest run" in result.stdout and "NATO-like" in result.stdout
    titles = _query(tmp_path / "catalog.sqlite", "SELECT title FROM articles")
    assert titles == [("US offers 'NATO-like' security to Ukraine",)]


def test_templated_reports_stay_apart_across_runs_and_copies_are_folded(prefect_api, tmp_path, write_config):
    """The fact check through the warehouse: facts stored by one run are read back by the next; a row
    without facts (stored before they were kept) is judged by its signature alone."""
    from tasks.s3_fingerprint import comparable_facts
    from tests.test_dedup import THURSDAY_CLOSE, WEDNESDAY_CLOSE

    folder = tmp_path / "in"
    folder.mkdir()
    cfg = _folder_config(write_config, folder)
    db = tmp_path / "catalog.sqlite"
    signed = "\n\nCopyright 2025 The Daily Courier. All rights reserved."
    (folder / "wednesday.txt").write_text(f"London shares rise\n\n{WEDNESDAY_CLOSE}", encoding="utf-8")
    _run(cfg)
    [(wednesday, text, facts)] = _query(db, "SELECT a.article_id, a.text, s.facts FROM articles a "
                                            "JOIN store.articles s USING (article_id)")
    assert set(facts) == comparable_facts(text) and {"wednesday", "7512.40", "northgate"} <= set(facts)

    (folder / "thursday.txt").write_text(f"London shares fall\n\n{THURSDAY_CLOSE}", encoding="utf-8")
    cut = WEDNESDAY_CLOSE.rsplit("\n", 1)[0]
    (folder / "syndicated.txt").write_text(f"FTSE ends higher\n\n{cut}{signed}", encoding="utf-8")
    _run(cfg)
    outcome = dict(_query(db, "SELECT regexp_extract(path, '(\\w+)\\.txt$', 1), duplicate_of FROM articles"))
    assert outcome == {"wednesday": None, "thursday": None, "syndicated": wednesday}
    assert _query(db, "SELECT DISTINCT dedup_version LIKE 'dedup-6/%' FROM articles") == [(True,)]

    with open_warehouse(db, read_only=False) as con:  # as if stored by a release that kept no facts
        con.execute("UPDATE store.articles SET facts = NULL")
    shorter = WEDNESDAY_CLOSE.rsplit("\n", 2)[0].replace("Exchange by market value", "Exchange\u2019s main market")
    (folder / "restyled.txt").write_text(f"London stocks gain\n\n{shorter}{signed}", encoding="utf-8")
    _run(cfg)
    assert _query(db, "SELECT duplicate_of, duplicate_kind FROM articles WHERE path LIKE '%restyled.txt'") == [
        (wednesday, "near")]


def test_a_feed_file_named_as_a_source_is_rejected_with_what_to_do_and_the_rest_is_stored(
        prefect_api, tmp_path, write_config):
    feed = tmp_path / "local-feed.xml"
    feed.write_text('<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Local</title>'
                    '<item><title>Pier</title><link>https://example.org/pier</link></item></channel></rss>\n',
                    encoding="utf-8")
    old_rss = tmp_path / "netscape.txt"  # RSS 0.91 with its doctype, saved under a name discover reads
    old_rss.write_text('<?xml version="1.0"?>\n<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
                       '"http://my.netscape.com/publish/formats/rss-0.91.dtd">\n<rss version="0.91"><channel>'
                       '<title>Old</title></channel></rss>\n', encoding="utf-8")
    notes = tmp_path / "notes.xml"  # another kind of file with an unknown extension is still read as text
    notes.write_text("The pier reopened on Monday after a winter of repairs, the harbour master said. " * 3,
                     encoding="utf-8")
    _run(write_config(), sources=[str(feed), str(old_rss), str(notes), str(SEEDS / SEED_WIRE)])
    db = tmp_path / "catalog.sqlite"
    why = ("an RSS/Atom feed file: feeds are read from their http(s) URL (name the URL with --source, or add it to "
           "[[sources]] as a feed)")
    assert sorted(_query(db, "SELECT locator, reason FROM rejects")) == sorted([(str(feed), why), (str(old_rss), why)])
    assert sorted(Path(p).name for (p,) in _query(db, "SELECT path FROM articles")) == sorted(["notes.xml", SEED_WIRE])
