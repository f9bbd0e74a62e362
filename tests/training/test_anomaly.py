"""check_step and watch_anomalies: a non-finite loss or gradient stops training saying where it came from."""

from __future__ import annotations

import numpy as np
import pytest

import ttrain.nn as nn
from ttrain.data import ArrayDataset, DataLoader
from ttrain.optim import SGD
from ttrain.training import Trainer, TrainingFailed


def _trainer(model: nn.Module, **kwargs: object) -> Trainer:
    return Trainer(model, nn.CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), metrics={}, **kwargs)


def _loader(features: np.ndarray) -> DataLoader:
    return DataLoader(ArrayDataset(features.astype(np.float32), np.arange(len(features)) % 2), batch_size=4)


def test_a_non_finite_input_batch_is_named_as_the_origin() -> None:
    features = np.ones((4, 3))
    features[2, 1] = np.inf
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(TrainingFailed, match=r"step 1; the input batch already held inf \(its row 2\): check the data"):
        _trainer(model).fit(_loader(features))
    # Stopped before the optimizer step, so the weights are those that met the bad batch.
    for old, new in zip(before, model.parameters()):
        np.testing.assert_array_equal(old, new.data)


def test_the_diagnosis_leaves_no_wrapper_behind() -> None:
    class Blowup(nn.Module):
        def forward(self, x):
            return x * float("inf")

    model = nn.Sequential(nn.Linear(3, 4), Blowup(), nn.Linear(4, 2))
    for detect in (False, True):
        with pytest.raises(TrainingFailed, match=r"model\.1 \(Blowup\)"):
            _trainer(model, detect_anomaly=detect).fit(_loader(np.ones((4, 3))))
        assert all("forward" not in module.__dict__ for module in model.modules())


def test_anomaly_mode_is_switched_off_when_a_run_ends() -> None:
    from ttrain.autograd import is_anomaly_enabled

    model = nn.Sequential(nn.Linear(3, 2))
    _trainer(model, detect_anomaly=True).fit(_loader(np.ones((8, 3))))
    assert not is_anomaly_enabled()  # switched off when the run ends



def test_huge_but_finite_gradients_are_not_taken_for_non_finite() -> None:
    """The every-step test squares the gradients (its sum overflows here); the exact scan behind it
    finds them finite, so nothing stops."""
    from ttrain import from_numpy
    from ttrain.training.anomaly import _gradients_finite, check_step

    model = nn.Linear(3, 2)
    trainer = _trainer(model)
    for parameter in model.parameters():
        parameter.grad = from_numpy(np.full(parameter.data.shape, 1e30, np.float32))
    with np.errstate(over="ignore"):  # as inside Trainer.fit
        assert not _gradients_finite(trainer)
        check_step(trainer, None, None, 1.0)  # no TrainingFailed
        model.weight.grad.data[1, 2] = np.nan
        with pytest.raises(TrainingFailed, match="a gradient became nan"):
            check_step(trainer, None, None, 1.0)
