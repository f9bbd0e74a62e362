"""The tutorial's Python blocks run as written, in order, in one session, from a copy of the
repository's configs (so the page cannot drift from the API)."""

from __future__ import annotations

import shutil

from .helpers import DOCS, FENCED_PYTHON, ROOT


def test_tutorial_python_runs_in_order(tmp_path, monkeypatch, capsys) -> None:
    blocks = FENCED_PYTHON.findall((DOCS / "tutorial.md").read_text(encoding="utf-8"))
    assert len(blocks) == 3
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    monkeypatch.chdir(tmp_path)
    session: dict[str, object] = {"__name__": "__tutorial__"}
    for block in blocks:
        exec(compile(block, "docs/tutorial.md", "exec"), session)
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "(10, 784)"
    assert 0.85 <= session["accuracy"] <= 0.95, printed  # the hand-written loop learns
    assert printed[-1] == "SeedNet sgd"
    assert (tmp_path / "runs" / "tutorial" / "seed" / "1" / "checkpoints" / "best.safetensors").is_file()
