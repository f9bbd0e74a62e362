"""The README's "Training from Python" examples run as written, so the README cannot drift from the API."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEADING = "## Training from Python"
_FENCED_PYTHON = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def api_examples(readme: str) -> list[str]:
    """The fenced python blocks of the README's API section, in order."""
    start = readme.index(HEADING) + len(HEADING)
    end = readme.find("\n## ", start)
    return _FENCED_PYTHON.findall(readme[start : end if end != -1 else None])


def test_api_section_shows_each_entry_point() -> None:
    code = "\n".join(api_examples((ROOT / "README.md").read_text(encoding="utf-8")))
    entry_points = ("ttrain.fit(", "ttrain.evaluate(", "ttrain.load(", "ttrain.Trainer(", "ttrain.Callback",
                    "ttrain.DataLoader(")
    for name in entry_points:
        assert name in code, f"the README's API examples never use {name}"


def test_api_examples_run_in_order_in_one_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    examples = api_examples((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(examples) >= 5
    # As from the repository's root, but writing only into tmp_path: the configs are copied there.
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    monkeypatch.chdir(tmp_path)
    session: dict[str, object] = {"__name__": "__readme__"}
    for number, code in enumerate(examples, 1):
        exec(compile(code, f"README.md API example {number}", "exec"), session)  # noqa: S102
    # What the examples claim: runs under runs/api, a ConfigError caught, a trained model's predictions.
    assert sorted(p.name for p in (tmp_path / "runs" / "api").iterdir()) == ["seed", "spirals"]
    assert "--set optimizer.lr=fast: optimizer.lr: expected a number, found 'fast'" in capsys.readouterr().out
    assert session["predicted"].shape == (1000,)
    assert len(session["history"].losses) == 5
