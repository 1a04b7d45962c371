"""make eval's command line: a data folder that is not there is one line and exit 2."""

from __future__ import annotations

from bench.eval import main


def test_eval_without_its_data_says_so_in_one_line(tmp_path, capsys):
    missing = tmp_path / "shared" / "data"
    assert main(["--data", str(missing), "--out", str(tmp_path / "eval.json")]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [
        f"error: --data {missing}: no such folder (the shared dev data sets; pass --data PATH)"]
    assert not (tmp_path / "eval.json").exists()
