"""Classification metrics over NumPy arrays, and a running average over batches.

A metric is a function ``metric(outputs, targets, **kwargs) -> float`` declared with `metric`
(which may also say the name it logs under); a config's ``trainer.metrics`` may name a user's own
one as ``package.module:function``.
"""

from __future__ import annotations

import numpy as np

from ttrain.declare import metric


def _class_targets(output: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Class indices from integer labels or from one-hot / probability targets shaped like `output`."""
    if target.shape == output.shape and output.ndim >= 2:
        return target.argmax(axis=1)
    return target


@metric
def accuracy(output: np.ndarray, target: np.ndarray) -> float:
    """Fraction of rows whose highest score is the target class."""
    if len(output) == 0:
        return float("nan")
    predicted = output.argmax(axis=1) if output.ndim >= 2 else (output > 0).astype(np.int64)
    return float(np.mean(predicted == _class_targets(output, target)))


@metric(log_name="top_{k}")
def top_k_accuracy(output: np.ndarray, target: np.ndarray, k: int = 5) -> float:
    """Fraction of rows whose target class is among the `k` highest scores."""
    if len(output) == 0:
        return float("nan")
    k = min(k, output.shape[1])
    top = np.argpartition(-output, k - 1, axis=1)[:, :k]
    labels = _class_targets(output, target)
    return float(np.mean((top == labels[:, None]).any(axis=1)))


class RunningMean:
    """Sample-weighted means of named values accumulated batch by batch."""

    def __init__(self) -> None:
        self._sums: dict[str, float] = {}
        self._counts: dict[str, int] = {}

    def update(self, name: str, value: float, count: int) -> None:
        """Add a batch mean `value` that stands for `count` samples."""
        self._sums[name] = self._sums.get(name, 0.0) + float(value) * count
        self._counts[name] = self._counts.get(name, 0) + count

    def compute(self) -> dict[str, float]:
        """The mean of every name seen so far."""
        return {k: self._sums[k] / self._counts[k] if self._counts[k] else float("nan") for k in self._sums}

    def state_dict(self) -> dict[str, list]:
        """The running sums and counts (a checkpoint taken mid-epoch keeps them).

        Lists, not a mapping: the names keep their order through a JSON round trip with sorted
        keys, so a resumed epoch logs its metrics in the same order as an uninterrupted one.
        """
        names = list(self._sums)
        return {"names": names, "sums": [self._sums[k] for k in names], "counts": [self._counts[k] for k in names]}

    def load_state_dict(self, state: dict[str, list]) -> None:
        """Continue from a `state_dict()`: later updates add to the same sums, in the same order."""
        names, sums, counts = list(state["names"]), list(state["sums"]), list(state["counts"])
        if not len(names) == len(sums) == len(counts):
            raise ValueError("RunningMean: names, sums and counts differ in length")
        self._sums = {str(k): float(v) for k, v in zip(names, sums)}
        self._counts = {str(k): int(v) for k, v in zip(names, counts)}
