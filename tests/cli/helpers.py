"""Configs and helpers the command-line tests share."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

# A small, fast, non-trivial experiment: dropout (the global RNG), shuffling, a validation split,
# momentum and a per-epoch scheduler, so resuming has every kind of state to restore.
SPIRALS = """\
seed: 3
model:
  layers:
    - linear: {out_features: 32}
    - relu
    - dropout: {p: 0.2}
    - linear: {out_features: 2}
data:
  name: spirals
  n_train: 256
  n_test: 128
optimizer:
  name: sgd
  lr: 0.1
  momentum: 0.9
scheduler:
  name: step
  step_size: 1
  gamma: 0.9
trainer:
  epochs: 2
  batch_size: 32
  val_split: 0.25
"""

# MNIST on a budget that takes well under a second an epoch.
MNIST = """\
model: {name: mlp, hidden: [32]}
data: {name: mnist, train_size: 512, test_size: 256}
trainer: {epochs: 1, batch_size: 64}
"""

# Timing columns differ between any two runs; everything else must match exactly.
TIMING_KEYS = ("train.seconds", "train.samples_per_sec")


def without_timings(record: dict[str, Any]) -> dict[str, Any]:
    """A metrics record without the wall-clock columns."""
    return {k: v for k, v in record.items() if k not in TIMING_KEYS}


def subprocess_env() -> dict[str, str]:
    """The environment of a CI job: no forced colours, unbuffered output, the repository importable."""
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")}
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def assert_fails(result: Any, code: int, *fragments: str) -> None:
    """The command exited with `code`, said each fragment on stderr, and showed no traceback."""
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception  # not an escaped exception
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)
    assert len(result.stderr.splitlines()) <= 5
