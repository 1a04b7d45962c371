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


def test_a_symbolic_link_loop_is_a_reject_and_the_folder_is_still_read(tmp_path: Path):
    folder = tmp_path / "saved"
    folder.mkdir()
    (folder / "story.html").write_text(f"<html><body><p>{STORY}</p></body></html>", encoding="utf-8")
    (folder / "loop.html").symlink_to(folder / "loop.html")
    (folder / "ping.htm").symlink_to(folder / "pong.htm")
    (folder / "pong.htm").symlink_to(folder / "ping.htm")
    found = discover_files([SourceSettings(name="saved", kind="folder", path=folder)], DiscoverSettings(), set(), set())
    assert [Path(d.locator).name for d in found.documents] == ["story.html"]
    assert {Path(r.locator).name: r.reason for r in found.rejects} == {
        name: "symbolic link loop: the link leads back to itself (not followed)"
        for name in ("loop.html", "ping.htm", "pong.htm")}
    assert found.discovered == 4


def test_a_saved_json_feed_named_as_a_file_source_is_rejected_with_what_to_do(tmp_path: Path):
    feed = tmp_path / "feed.json"  # what a JSON Feed URL serves, saved
    feed.write_text('{\n  "version": "https://jsonfeed.org/version/1.1",\n  "title": "Example",\n  "items": [\n'
                    '    {"id": "1", "url": "https://example.org/1", "content_text": "The pier reopened."}\n  ]\n}\n',
                    encoding="utf-8")
    old = tmp_path / "old.txt"  # version 1, with a byte-order mark and under a name discover reads
    old.write_bytes('\ufeff{"title": "Old", "version": "http://jsonfeed.org/version/1", "items": []}'.encode("utf-8"))
    data = tmp_path / "figures.json"  # other JSON is still read as text
    data.write_text('{"version": "2.0", "note": "The pier reopened on Monday."}', encoding="utf-8")
    late = tmp_path / "late.json"  # its version after items longer than the first 2 KB
    late.write_text('{"title": "Late", "items": [' + ", ".join(
        f'{{"id": "{n}", "content_text": "{"The pier reopened. " * 20}"}}' for n in range(20)) +
        '], "version": "https://jsonfeed.org/version/1.1"}', encoding="utf-8")
    found = discover_files([SourceSettings(name=p.stem, kind="file", path=p) for p in (feed, old, data, late)],
                           DiscoverSettings(), set(), set())
    why = ("a JSON Feed file: feeds are read from their http(s) URL (name the URL with --source, or add it to "
           "[[sources]] as a feed)")
    assert {Path(r.locator).name: r.reason for r in found.rejects} == {"feed.json": why, "old.txt": why,
                                                                       "late.json": why}
    assert [Path(d.locator).name for d in found.documents] == ["figures.json"]
