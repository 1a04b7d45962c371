"""Tests for writing a file whole (tasks/files.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.files import replaced


def test_a_file_is_replaced_only_when_written_and_no_temporary_file_stays(tmp_path: Path) -> None:
    target = tmp_path / "latest.html"
    target.write_text("old page", encoding="utf-8")
    with pytest.raises(RuntimeError):
        with replaced(target) as temporary:
            temporary.write_text("half a", encoding="utf-8")
            raise RuntimeError("the disk is full")
    assert target.read_text(encoding="utf-8") == "old page"
    assert [p.name for p in tmp_path.iterdir()] == ["latest.html"]
    with replaced(target) as temporary:
        assert temporary.parent == tmp_path and temporary != target
        temporary.write_text("new page", encoding="utf-8")
    assert target.read_text(encoding="utf-8") == "new page"
    assert [p.name for p in tmp_path.iterdir()] == ["latest.html"]
