"""Classification metrics over NumPy arrays, and a running average over batches.

A metric is a function ``metric(outputs, targets, **kwargs) -> float`` declared with `metric`
(which may also say the name it logs under); a config's ``trainer.metrics`` may name a user's own
one as ``package.module:function``.
"""

from __future__ import annotations

import numpy as np

import math
from typing import Any, Callable, Mapping

from ttrain.declare import finish_of, metric


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


def _mean_cross_entropy(output: np.ndarray, target: np.ndarray) -> float:
    """Mean of -log softmax(output)[target] over every position: logits (N, C, d1, ...) with class
    indices (N, d1, ...), the layout of `cross_entropy`; in float64, stable for any finite logits."""
    logits = np.asarray(output, dtype=np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1))
    picked = np.take_along_axis(shifted, np.expand_dims(np.asarray(target, dtype=np.int64), 1), axis=1)[:, 0]
    return float(np.mean(log_norm - picked))


@metric(finish=math.exp)
def perplexity(output: np.ndarray, target: np.ndarray) -> float:
    """exp of the mean cross-entropy per position (per character for a language model): the number
    of equally likely choices the model is as unsure as. Logits (N, C, T) against class indices
    (N, T), or (N, C) against (N,). Each batch gives its mean cross-entropy; the logged value is the
    exp of their sample-weighted mean, so it is exact over the whole split, not a mean of exps."""
    if len(output) == 0:
        return float("nan")
    if output.ndim < 2 or np.asarray(target).shape != output.shape[:1] + output.shape[2:]:
        raise ValueError(f"perplexity: expected logits (N, C, ...) and class indices (N, ...), got shapes "
                         f"{output.shape} and {np.shape(target)}")
    return _mean_cross_entropy(output, target)


def finished(means: Mapping[str, float], metrics: Mapping[str, Callable[..., Any]], prefix: str) -> dict[str, float]:
    """``means`` (named ``<prefix>.<metric>``) with each metric's declared ``finish`` applied (see `metric`)."""
    result = dict(means)
    for name, function in metrics.items():
        finish = finish_of(function)
        key = f"{prefix}.{name}"
        if finish is not None and key in result and not math.isnan(result[key]):
            try:
                result[key] = float(finish(result[key]))
            except OverflowError:  # exp of a huge cross-entropy: an untrained model's perplexity is inf
                result[key] = float("inf")
    return result


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
