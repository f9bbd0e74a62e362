"""Classification metrics against plain-Python references, and the sample-weighted running mean."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ttrain.training.metrics import RunningMean, accuracy, top_k_accuracy


def _scores(seed: int, rows: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((rows, classes)), rng.integers(0, classes, rows)


def _naive_top_k(output: np.ndarray, target: np.ndarray, k: int) -> float:
    hits = [t in sorted(range(len(row)), key=lambda c: -row[c])[:k] for row, t in zip(output, target)]
    return sum(hits) / len(hits)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), rows=st.integers(1, 40), classes=st.integers(2, 12), k=st.integers(1, 14))
def test_top_k_matches_a_naive_count(seed: int, rows: int, classes: int, k: int) -> None:
    output, target = _scores(seed, rows, classes)
    assert top_k_accuracy(output, target, k) == pytest.approx(_naive_top_k(output, target, min(k, classes)))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), rows=st.integers(1, 40), classes=st.integers(2, 12))
def test_accuracy_is_top_1_and_reads_one_hot_targets(seed: int, rows: int, classes: int) -> None:
    output, target = _scores(seed, rows, classes)
    expected = float(np.mean([row.argmax() == t for row, t in zip(output, target)]))
    assert accuracy(output, target) == pytest.approx(expected)
    assert top_k_accuracy(output, target, 1) == pytest.approx(expected)
    one_hot = np.eye(classes)[target]  # MSE on one-hot targets, as the seed config trains
    assert accuracy(output, one_hot) == pytest.approx(expected)
    assert top_k_accuracy(output, one_hot, 2) == pytest.approx(_naive_top_k(output, target, 2))


def test_empty_batches_give_nan_not_an_error() -> None:
    assert np.isnan(accuracy(np.zeros((0, 3)), np.zeros(0, np.int64)))
    assert np.isnan(top_k_accuracy(np.zeros((0, 3)), np.zeros(0, np.int64)))


def test_running_mean_weighs_batches_by_their_size() -> None:
    running = RunningMean()
    running.update("loss", 1.0, 30)
    running.update("loss", 4.0, 10)  # a short last batch counts for its 10 samples only
    running.update("acc", 0.5, 2)
    assert running.compute() == {"loss": pytest.approx(1.75), "acc": 0.5}
