"""Resume from any step: a run stopped after k optimizer steps (k = 1 .. N-1), wherever in an
epoch that falls, and continued from its `last` checkpoint ends bit-identical to a run never
stopped: the same weights, optimizer state, scheduler, random streams and logged metrics.

The experiment has every kind of state a step changes: shuffling (the epoch's order), dropout and
a random-shift augmentation (the global stream), Adam's moments, a scheduler stepping every
batch, a last batch smaller than the others, a validation split.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ttrain.training.checkpoint import load_checkpoint

from .helpers import subprocess_env, without_timings

# 48 training samples after the split, batches of 10: 5 steps an epoch (the last of 8), N = 10.
MATRIX = """\
seed: 11
model:
  layers:
    - linear: {out_features: 16}
    - relu
    - dropout: {p: 0.3}
    - linear: {out_features: 10}
data: {name: mnist, train_size: 60, test_size: 20, augment_shift: 2}
optimizer: {name: adam, lr: 0.01}
scheduler: {name: step, step_size: 2, gamma: 0.7, interval: step}
trainer: {epochs: 2, batch_size: 10, val_split: 0.2}
"""
STEPS = 10


def logged(run_dir: str | Path) -> list[dict[str, Any]]:
    """metrics.jsonl without the wall-clock columns."""
    lines = (Path(run_dir) / "metrics.jsonl").read_text().splitlines()
    return [without_timings(json.loads(line)) for line in lines]


def assert_same_end(resumed: dict[str, Any], straight: dict[str, Any]) -> None:
    """Bit-identical final tensors (model, optimizer), scheduler, random streams and logged metrics."""
    tensors_a, meta_a = load_checkpoint(resumed["checkpoints"]["last"])
    tensors_b, meta_b = load_checkpoint(straight["checkpoints"]["last"])
    assert sorted(tensors_a) == sorted(tensors_b)
    assert any(name.startswith("optimizer.") for name in tensors_a)
    for name in tensors_a:
        np.testing.assert_array_equal(tensors_a[name], tensors_b[name], err_msg=name)
    for key in ("epoch", "global_step", "scheduler", "rng", "optimizer"):
        assert meta_a[key] == meta_b[key], key
    assert logged(resumed["run_dir"]) == logged(straight["run_dir"])
    assert without_timings(resumed["final"]) == without_timings(straight["final"])


@pytest.fixture
def matrix_config(write_config) -> Path:
    return write_config(MATRIX, "matrix.yaml")


def test_resume_after_every_step_is_exact(matrix_config: Path, fit_json) -> None:
    straight = fit_json(matrix_config)
    assert straight["global_step"] == STEPS
    for k in range(1, STEPS):
        part = fit_json(matrix_config, "--set", f"trainer.max_steps={k}")
        assert (part["global_step"], part["epochs"], part["epoch_step"]) == (k, k // 5, k % 5)
        resumed = fit_json(matrix_config, "--resume", part["checkpoints"]["last"])
        assert_same_end(resumed, straight)


def test_max_steps_stops_inside_an_epoch_and_saves_where_it_stopped(matrix_config: Path, fit_json) -> None:
    part = fit_json(matrix_config, "--set", "trainer.max_steps=7")
    _, metadata = load_checkpoint(part["checkpoints"]["last"])
    assert (metadata["epoch"], metadata["global_step"], metadata["epoch_step"]) == (1, 7, 2)
    assert len(logged(part["run_dir"])) == 1  # only the finished epoch is logged
    assert metadata["trainer"]["epoch_progress"]["steps"] == 2


def _resume_in_fresh_processes(ttrain_process, config: Path, out: Path, k: int, straight: dict[str, Any]) -> None:
    common = ("--json", "--set", f"trainer.output_dir={out}")
    part = ttrain_process("fit", config, *common, "--set", f"trainer.max_steps={k}")
    assert part.returncode == 0, part.stderr
    # `--resume auto` finds the checkpoint just written: the newest of this config's runs.
    resumed = ttrain_process("fit", config, *common, "--resume", "auto")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(part.stdout)["checkpoints"]["last"] in resumed.stderr
    assert_same_end(json.loads(resumed.stdout), straight)


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory) -> tuple[Path, dict[str, Any]]:
    """The config on disk and its uninterrupted run in a fresh process (shared by the tests below)."""
    folder = tmp_path_factory.mktemp("straight")
    config = folder / "matrix.yaml"
    config.write_text(MATRIX, encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "ttrain", "fit", str(config), "--json", "--set",
                             f"trainer.output_dir={folder / 'runs'}"], capture_output=True, text=True, env=subprocess_env())
    assert result.returncode == 0, result.stderr
    return config, json.loads(result.stdout)


@pytest.mark.parametrize("k", [3, 7])
def test_resume_in_a_fresh_process_is_exact(straight_run, ttrain_process, tmp_path: Path, k: int) -> None:
    config, straight = straight_run
    _resume_in_fresh_processes(ttrain_process, config, tmp_path / "runs", k, straight)


@pytest.mark.slow
def test_resume_after_every_step_in_fresh_processes_is_exact(straight_run, ttrain_process, tmp_path: Path) -> None:
    matrix_config, straight = straight_run
    for k in range(1, STEPS):
        _resume_in_fresh_processes(ttrain_process, matrix_config, tmp_path / f"runs{k}", k, straight)
