"""Small experiments the distributed tests run, written into a test's folder: data whose first
feature is the sample's id, a layer that records the ids it trains on, one that fails on one rank."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from ttrain.training.checkpoint import load_checkpoint

# Lives next to the configs (a config names it as `probes:SeenIds`): it runs inside each rank.
PROBES = '''
import os
import time

import numpy as np

from ttrain import nn


def _rank():
    return int(os.environ.get("OMPI_COMM_WORLD_RANK", "0"))


class SeenIds(nn.Module):
    """Identity; in training mode, appends the ids (feature 0) of each batch to seen_rank<r>.txt."""

    def forward(self, x):
        if self.training:
            with open(f"seen_rank{_rank()}.txt", "a") as out:
                out.write(" ".join(str(int(i)) for i in x.data[:, 0]) + "\\n")
        return x


class PidFiles(nn.Module):
    """Identity; at its first training batch, writes the rank's process id to pid_rank<r>.txt."""

    def forward(self, x):
        if self.training and not os.path.exists(f"pid_rank{_rank()}.txt"):
            with open(f"pid_rank{_rank()}.txt.part", "w") as out:
                out.write(str(os.getpid()))
            os.replace(f"pid_rank{_rank()}.txt.part", f"pid_rank{_rank()}.txt")
        return x


class NaNOnRank1(nn.Module):
    """Identity, until rank 1's third training batch: then NaN (the time is written to nan_at.txt)."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        if self.training and _rank() == 1:
            self.calls += 1
            if self.calls == 3:
                with open("nan_at.txt", "w") as out:
                    out.write(repr(time.time()))
                return x * float("nan")
        return x
'''


def write_data(folder: Path, n: int, features: int = 4, seed: int = 0) -> Path:
    """`data.npz`: n samples of two classes; feature 0 is the sample's id."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    y = (x[:, 1] + x[:, 2] > 0).astype(np.int64)
    x[:, 0] = np.arange(n)
    path = folder / "data.npz"
    np.savez(path, x=x, y=y)
    return path


def write_config(folder: Path, n: int, batch_size: int, *, layers: str | None = None, epochs: int = 2,
                 trainer: str = "", extra: str = "", name: str = "dp") -> Path:
    """A config over `write_data(folder, n)` (and the probes module beside it); returns its path.
    `trainer`: more `trainer:` keys (`sync_batchnorm: true`); `extra`: more sections."""
    write_data(folder, n)
    (folder / "probes.py").write_text(PROBES, encoding="utf-8")
    layers = layers or "[{linear: {out_features: 16}}, tanh, {linear: {out_features: 2}}]"
    text = f"""\
        name: {name}
        seed: 5
        model: {{layers: {layers}}}
        data: {{name: npz, path: data.npz, test_split: 0.2}}
        optimizer: {{name: sgd, lr: 0.1, momentum: 0.9}}
        trainer: {{epochs: {epochs}, batch_size: {batch_size}, output_dir: runs{", " + trainer if trainer else ""}}}
        """
    path = folder / f"{name}.yaml"
    path.write_text(textwrap.dedent(text) + textwrap.dedent(extra), encoding="utf-8")
    return path


def model_state(checkpoint: Path) -> dict[str, np.ndarray]:
    """The model tensors of a checkpoint."""
    tensors, _ = load_checkpoint(checkpoint)
    return {k: v for k, v in tensors.items() if k.startswith("model.")}


def max_difference(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    """The largest absolute difference between two model states with the same names."""
    assert a.keys() == b.keys()
    return max(float(np.max(np.abs(a[k].astype(np.float64) - b[k].astype(np.float64)))) for k in a)
