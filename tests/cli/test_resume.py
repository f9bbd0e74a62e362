"""`ttrain fit --resume`: a run continued from its `last` checkpoint matches one never interrupted.

Exactly, not within a tolerance: the checkpoint restores the weights, the optimizer's momentum,
the scheduler, the callbacks' state and every random stream (dropout, shuffling), so the
continued run performs the very same float operations in the same order.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ttrain.training.checkpoint import load_checkpoint

from .helpers import without_timings


def history(summary: dict[str, Any]) -> list[dict[str, Any]]:
    path = Path(summary["run_dir"]) / "metrics.jsonl"
    return [without_timings(json.loads(line)) for line in path.read_text().splitlines()]


def assert_same_state(a: str, b: str) -> None:
    """Two checkpoints hold bit-identical model and optimizer tensors."""
    tensors_a, meta_a = load_checkpoint(a)
    tensors_b, meta_b = load_checkpoint(b)
    assert sorted(tensors_a) == sorted(tensors_b)
    assert any(name.startswith("optimizer.") for name in tensors_a)  # momentum buffers are compared too
    for name in tensors_a:
        np.testing.assert_array_equal(tensors_a[name], tensors_b[name], err_msg=name)
    assert (meta_a["epoch"], meta_a["global_step"]) == (meta_b["epoch"], meta_b["global_step"])
    assert meta_a["scheduler"] == meta_b["scheduler"]
    assert meta_a["rng"] == meta_b["rng"]


def check_resume_is_exact(fit_json, config: Path, epochs: int, first: int, *extra: str) -> dict[str, Any]:
    whole = fit_json(config, "--set", f"trainer.epochs={epochs}", *extra)
    part = fit_json(config, "--set", f"trainer.epochs={first}", *extra)
    resumed = fit_json(config, "--set", f"trainer.epochs={epochs}", "--resume", part["checkpoints"]["last"], *extra)
    assert resumed["epochs"] == whole["epochs"] and resumed["global_step"] == whole["global_step"]
    assert history(resumed) == history(whole)
    assert without_timings(resumed["final"]) == without_timings(whole["final"])
    assert resumed["best"]["epoch"] == whole["best"]["epoch"] and resumed["best"]["value"] == whole["best"]["value"]
    assert_same_state(resumed["checkpoints"]["last"], whole["checkpoints"]["last"])
    # `best` is there even when no epoch after the resume beat the best before it.
    assert_same_state(resumed["checkpoints"]["best"], whole["checkpoints"]["best"])
    # The continued run has a directory of its own; the one it continued from is untouched.
    assert resumed["run_dir"] not in (whole["run_dir"], part["run_dir"])
    assert len(history(part)) == first
    return resumed


def test_resume_at_an_epoch_boundary_is_exact(write_config, fit_json) -> None:
    # SPIRALS: dropout, shuffling, a validation split, SGD momentum and a StepLR.
    check_resume_is_exact(fit_json, write_config(), epochs=4, first=2)


def test_resume_of_a_per_step_onecycle_schedule_is_exact(write_config, fit_json) -> None:
    # 6 steps an epoch: a schedule laid out for 4 epochs, whichever run length trains on it.
    check_resume_is_exact(fit_json, write_config(), 4, 1, "--set", "scheduler={name: onecycle, max_lr: 0.5, total_steps: 24}",
                          "--set", "optimizer={name: adam, lr: 0.01}")


def test_resume_restores_early_stopping_and_plateau_state(write_config, fit_json) -> None:
    # Early stopping that would restart its count (and the plateau scheduler its patience) if
    # their state were lost: the uninterrupted run stops at epoch 4.
    stopping = ("--set", "trainer.early_stopping={patience: 3, min_delta: 1000}",
                "--set", "scheduler={name: plateau, patience: 1, factor: 0.5, threshold: 1000, threshold_mode: abs}")
    resumed = check_resume_is_exact(fit_json, write_config(), 10, 2, *stopping)
    assert resumed["epochs"] == 4
    assert [r["lr"] for r in history(resumed)] == [0.1, 0.1, 0.1, 0.05]


def test_a_fixed_length_schedule_cannot_be_stretched_on_resume(write_config, fit_json, cli, out_dir: Path) -> None:
    # onecycle without total_steps is laid out for trainer.epochs; more epochs cannot continue it.
    config = write_config()
    part = fit_json(config, "--set", "trainer.epochs=1", "--set", "scheduler={name: onecycle, max_lr: 0.5}")
    result = cli("fit", config, "--set", "trainer.epochs=2", "--set", "scheduler={name: onecycle, max_lr: 0.5}",
                 "--resume", part["checkpoints"]["last"], "--set", f"trainer.output_dir={out_dir}")
    assert result.exit_code == 2
    assert "laid out for 6 steps, this run needs 12" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in (out_dir / "spirals").iterdir()) == ["1"]  # no empty run left behind
