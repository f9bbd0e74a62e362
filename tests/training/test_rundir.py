"""Run directories are numbered and never reuse an earlier run's folder."""

from __future__ import annotations

from pathlib import Path

from ttrain.training.rundir import create_run_dir


def test_runs_are_numbered_from_one_with_a_checkpoints_folder(tmp_path: Path) -> None:
    first, second = create_run_dir(tmp_path, "mlp"), create_run_dir(tmp_path / ".", "mlp")
    assert (first, second) == (tmp_path / "mlp" / "1", tmp_path / "mlp" / "2")
    assert (first / "checkpoints").is_dir() and (second / "checkpoints").is_dir()
    assert create_run_dir(tmp_path, "other") == tmp_path / "other" / "1"


def test_a_new_run_goes_after_the_highest_number_and_ignores_other_files(tmp_path: Path) -> None:
    for name in ("1", "3", "notes", "10.bak"):
        (tmp_path / "mlp" / name).mkdir(parents=True)
    (tmp_path / "mlp" / "README").write_text("mine")
    assert create_run_dir(tmp_path, "mlp") == tmp_path / "mlp" / "4"
    assert sorted(p.name for p in (tmp_path / "mlp").iterdir()) == ["1", "10.bak", "3", "4", "README", "notes"]
