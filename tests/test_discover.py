"""Tests for listing a folder source's inputs (tasks/s1_discover.py), without Prefect."""

from __future__ import annotations

from pathlib import Path

from config.settings import DiscoverSettings, SourceSettings
from tasks.s1_discover import discover_files

STORY = "The harbour reopened on Monday after a winter of repairs, the harbour master said. " * 3


def test_a_file_of_another_extension_is_rejected_once_with_the_reason_and_hidden_files_are_passed_over(tmp_path: Path):
    folder = tmp_path / "desk"
    (folder / "sub").mkdir(parents=True)
    (folder / "story.txt").write_text(STORY, encoding="utf-8")
    (folder / "report.pdf").write_bytes(b"%PDF-1.7 binary")
    (folder / "sub" / "figures.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (folder / "README").write_text(STORY, encoding="utf-8")
    (folder / ".DS_Store").write_bytes(b"\0\0")
    (folder / ".drafts").mkdir()
    (folder / ".drafts" / "draft.pdf").write_bytes(b"%PDF")
    sources = [SourceSettings(name="desk", kind="folder", path=folder)]
    found = discover_files(sources, DiscoverSettings(), set(), set())
    assert [Path(d.locator).name for d in found.documents] == ["story.txt"]
    reasons = {Path(r.locator).name: r.reason for r in found.rejects}
    assert reasons == {
        "report.pdf": "not read: a .pdf file ([discover] extensions: .txt, .md, .html, .htm)",
        "figures.csv": "not read: a .csv file ([discover] extensions: .txt, .md, .html, .htm)",
        "README": "not read: a file without an extension ([discover] extensions: .txt, .md, .html, .htm)"}
    assert found.discovered == 4  # the story and the three refused: each input one outcome
    # said once: the next run, which knows these rejects, passes over them quietly
    again = discover_files(sources, DiscoverSettings(), set(), {(r.locator, r.reason) for r in found.rejects})
    assert again.rejects == [] and again.skipped == 3 and len(again.documents) == 1
