"""The perplexity metric: exp of the mean cross-entropy per position, exact over a whole split."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ttrain.autograd.creation import from_numpy
from ttrain.data import ArrayDataset, DataLoader
from ttrain.nn import functional as F
from ttrain.training.metrics import accuracy, finished, perplexity


def _logits(seed: int, shape: tuple[int, ...], classes: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((shape[0], classes, *shape[1:])) * 3
    return logits, rng.integers(0, classes, shape)


def _naive_cross_entropy(logits: np.ndarray, target: np.ndarray) -> float:
    """Mean over every (row, position) of log(sum exp) - logit of the target, one at a time."""
    terms = []
    for n in range(target.shape[0]):
        for index in np.ndindex(*target.shape[1:]):
            column = logits[(n, slice(None), *index)]
            terms.append(math.log(sum(math.exp(v) for v in column)) - column[target[(n, *index)]])
    return sum(terms) / len(terms)


@pytest.mark.parametrize("shape", [(7,), (5, 9), (3, 4, 2)])
def test_each_batch_gives_its_mean_cross_entropy_per_position(shape) -> None:
    logits, target = _logits(0, shape, 6)
    assert perplexity(logits, target) == pytest.approx(_naive_cross_entropy(logits, target), rel=1e-12)
    loss = F.cross_entropy(from_numpy(logits), from_numpy(target)).item()  # the training loss, PyTorch's layout
    assert perplexity(logits, target) == pytest.approx(loss, rel=1e-9)


def test_the_logged_value_is_the_exp_of_the_mean_over_all_batches_not_a_mean_of_exps() -> None:
    from ttrain.training.metrics import RunningMean

    logits, target = _logits(1, (10, 8), 5)
    running = RunningMean()
    for rows in (slice(0, 3), slice(3, 10)):  # unequal batches: weighted by their sizes
        running.update("val.perplexity", perplexity(logits[rows], target[rows]), len(target[rows]))
    logged = finished(running.compute(), {"perplexity": perplexity}, "val")["val.perplexity"]
    assert logged == pytest.approx(math.exp(_naive_cross_entropy(logits, target)), rel=1e-12)
    assert finished({"val.perplexity": 1e6}, {"perplexity": perplexity}, "val")["val.perplexity"] == math.inf
    assert finished({"val.accuracy": 0.5}, {"accuracy": accuracy}, "val") == {"val.accuracy": 0.5}


def test_uniform_logits_score_the_number_of_classes() -> None:
    assert math.exp(perplexity(np.zeros((4, 13, 6)), np.zeros((4, 6), dtype=np.int64))) == pytest.approx(13)


def test_the_trainer_logs_it_over_a_split() -> None:
    from ttrain.nn import Module
    from ttrain.training.trainer import Trainer

    logits, target = _logits(2, (11, 3), 4)

    class Fixed(Module):  # returns row i's logits for input i
        def forward(self, x):
            return from_numpy(logits[x.data.astype(np.int64)])

    loader = DataLoader(ArrayDataset(np.arange(11), target), batch_size=4)
    trainer = Trainer(Fixed(), lambda out, y: F.cross_entropy(out, y), optimizer=None,
                      metrics={"perplexity": perplexity, "accuracy": accuracy})
    metrics = trainer.evaluate(loader)
    assert metrics["val.perplexity"] == pytest.approx(math.exp(metrics["val.loss"]), rel=1e-6)
    assert metrics["val.accuracy"] == pytest.approx(np.mean(logits.argmax(1) == target))


def test_mismatched_shapes_are_named() -> None:
    with pytest.raises(ValueError, match=r"perplexity: expected logits \(N, C, ...\)"):
        perplexity(np.zeros((4, 5, 6)), np.zeros((4, 5), dtype=np.int64))


def test_torch_agrees_on_sequence_logits() -> None:
    torch = pytest.importorskip("torch")
    logits, target = _logits(3, (4, 7), 9)
    expected = torch.nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(target)).item()
    assert perplexity(logits, target) == pytest.approx(expected, rel=1e-12)
