"""Tests for listing a folder source's inputs (tasks/s1_discover.py), without Prefect."""

from __future__ import annotations

from pathlib import Path

from config.settings import DiscoverSettings, SourceSettings
from tasks.s1_discover import discover_files

STORY = "The harbour reopened on Monday after a winter of repairs, the harbour master said. " * 3


def test_files_of_other_extensions_are_counted_by_extension_and_hidden_ones_passed_over(tmp_path: Path):
    folder = tmp_path / "desk"
    (folder / "sub").mkdir(parents=True)
    (folder / "story.txt").write_text(STORY, encoding="utf-8")
    (folder / "story.json").write_text("{}", encoding="utf-8")
    (folder / "report.pdf").write_bytes(b"%PDF-1.7 binary")
    (folder / "sub" / "figures.JSON").write_text("{}", encoding="utf-8")
    (folder / "README").write_text(STORY, encoding="utf-8")
    (folder / ".DS_Store").write_bytes(b"\0\0")
    (folder / ".drafts").mkdir()
    (folder / ".drafts" / "draft.pdf").write_bytes(b"%PDF")
    found = discover_files([SourceSettings(name="desk", kind="folder", path=folder)], DiscoverSettings(), set(), set())
    assert [Path(d.locator).name for d in found.documents] == ["story.txt"] and found.rejects == []
    assert found.passed_over == {".json": 2, ".pdf": 1, "no extension": 1}
    assert found.passed_over_line(DiscoverSettings().extensions) == (
        "4 file(s) in source folders not read for their extension (.json 2, .pdf 1, no extension 1; "
        "[discover] extensions: .txt, .md, .html, .htm)")
    assert discover_files([], DiscoverSettings(), set(), set()).passed_over_line((".txt",)) is None
