"""The config and JSON output references are generated from the schemas: the committed pages must be
what the generator writes now, and they must cover every section and every command's output."""

from __future__ import annotations

import pytest

from .helpers import DOCS, ROOT, docs_reference


@pytest.mark.parametrize("relative", ["docs/config-reference.md", "docs/json-output.md"])
def test_committed_page_is_in_sync_with_the_schema(relative: str) -> None:
    render = docs_reference().PAGES[relative]
    assert (ROOT / relative).read_text(encoding="utf-8") == render(), (
        f"{relative} is out of date: run `python tools/docs_reference.py` and commit the result")


def test_config_reference_covers_every_section_and_registered_name() -> None:
    from ttrain.config import CATEGORIES, describe

    page = (DOCS / "config-reference.md").read_text(encoding="utf-8")
    for section in ("model", "data", "loss", "optimizer", "scheduler", "trainer", "checkpoint", "sweep"):
        assert f"## `{section}`" in page
    assert "### `trainer.early_stopping`" in page and "### `scheduler.warmup`" in page
    headings = {"models": "### `model: {}`", "datasets": "### `data: {}`", "losses": "### `loss: {}`",
                "optimizers": "### `optimizer: {}`", "schedulers": "### `scheduler: {}`", "layers": "#### `{}`"}
    for category, heading in headings.items():
        assert category in CATEGORIES
        for info in describe(category):
            assert heading.format(info.name) in page, (category, info.name)
    assert "| `lr` | number > 0 | `0.001` |" in page  # adam's lr, its bound and its default


def test_output_reference_covers_every_command() -> None:
    page = (DOCS / "json-output.md").read_text(encoding="utf-8")
    for name in ("error_output", "fit_output", "eval_output", "predict_output", "export_output", "import_output",
                 "summary_file"):
        assert f"## `{name}`" in page


def test_check_mode_reports_a_stale_page(tmp_path, monkeypatch, capsys) -> None:
    module = docs_reference()
    (tmp_path / "docs").mkdir()
    monkeypatch.setattr(module, "ROOT", tmp_path)
    assert module.main(["--check"]) == 1
    assert "out of date: docs/config-reference.md, docs/json-output.md" in capsys.readouterr().err
    assert not (tmp_path / "docs" / "json-output.md").exists()  # --check writes nothing
    assert module.main([]) == 0 and module.main(["--check"]) == 0
