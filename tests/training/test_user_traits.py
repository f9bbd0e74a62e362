"""A user's scheduler, loss, metric, layer and model, named by ``module:Name`` in a YAML config,
declare the same traits as their built-in twins and are treated the same: nothing is decided by a
registry name."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ttrain.config import ConfigError, load_config
from ttrain.config.registry import get_registry
from ttrain.config.signature import signature_of
from ttrain.data.errors import DataError
from ttrain.nn.loss import class_probabilities
from ttrain.training.experiment import Experiment, build_experiment, infer_kwargs

# Written next to the configs; the module name is unique to this file, so the import cache holds
# only this text.
USER_MODULE = '''
import math

import numpy as np

import ttrain
from ttrain import nn
from ttrain.nn import functional as F
from ttrain.optim.lr_scheduler import LRScheduler
from ttrain.training import metric
from ttrain.training.metrics import top_k_accuracy


class LinearDecay(LRScheduler):
    """lr * (1 - (1 - end_factor) * t / total_steps), stepped every batch over the whole run."""

    default_interval = "step"
    needs_total_steps = True
    run_length_kwargs = ("total_steps",)

    def __init__(self, optimizer, end_factor: float = 0.5, total_steps: int | None = None) -> None:
        if total_steps is None:
            raise ValueError("LinearDecay needs total_steps")
        self.end_factor, self.total_steps = end_factor, total_steps
        super().__init__(optimizer)

    def get_lr(self):
        t = min(self.last_epoch, self.total_steps)
        return [base * (1 - (1 - self.end_factor) * t / self.total_steps) for base in self.base_lrs]


class HalveWhenStuck(LRScheduler):
    """Halve the lr each time the metric fails to improve on its best by more than `threshold`."""

    needs_metric = True

    def __init__(self, optimizer, factor: float = 0.5, threshold: float = 0.0) -> None:
        self.factor, self.threshold, self.best = factor, threshold, math.inf
        super().__init__(optimizer)

    def get_lr(self):
        return self._group_lrs()

    def step(self, metric=None):
        if metric is None:  # the construction step
            return super().step()
        if metric < self.best - self.threshold:
            self.best = metric
        else:
            for group in self.optimizer.param_groups:
                group["lr"] *= self.factor
        self._last_lr = self._group_lrs()


class MyCrossEntropy(nn.Module):
    """Cross-entropy on logits: a plain Module declaring the loss traits."""

    takes_class_indices = True

    def forward(self, input, target):
        return F.cross_entropy(input, target)

    def probabilities(self, outputs):
        shifted = outputs - outputs.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        return e / e.sum(axis=1, keepdims=True)


@metric(log_name="hits_at_{k}")
def hits(output, target, k: int = 5) -> float:
    return top_k_accuracy(output, target, k)


@metric(log_name=lambda k: f"hits{k}")
def hits_by_function(output, target, k: int = 1) -> float:
    return top_k_accuracy(output, target, k)


@metric
def unnamed_hits(output, target) -> float:
    return top_k_accuracy(output, target, 1)


class Scale(nn.Module):
    """Multiply each feature of the last axis by a learned factor."""

    inferred_args = {"num_features": "last"}

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features
        self.weight = nn.Parameter(np.ones(num_features, dtype=np.float32))

    def forward(self, x):
        return x * self.weight


class TinyNet(nn.Module):
    """Linear, ReLU, Linear, sized from the data."""

    inferred_args = {"in_features": "features", "num_classes": "classes"}

    def __init__(self, in_features: int, num_classes: int, hidden: int = 8) -> None:
        super().__init__()
        self.sizes = (in_features, num_classes)
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.net(x)


class Misdeclared(nn.Module):
    inferred_args = {"in_features": "width"}

    def __init__(self, in_features: int) -> None:
        super().__init__()
'''

MODULE = "ttrain_user_traits"
BASE = """\
seed: 5
model: {layers: [{linear: {out_features: 16}}, relu, {linear: {out_features: 2}}]}
data: {name: spirals, n_train: 240, n_test: 64}
optimizer: {name: sgd, lr: 0.1}
trainer: {epochs: 3, batch_size: 32, val_split: 0.2}
"""
STEPS = 6  # 192 training samples in batches of 32


@pytest.fixture
def experiment(tmp_path: Path):
    """``experiment(yaml)``: the BASE config with the sections of ``yaml`` in place of its own,
    next to the user module, built."""
    (tmp_path / f"{MODULE}.py").write_text(USER_MODULE, encoding="utf-8")

    def build(tail: str = "", **kwargs: Any) -> Experiment:
        path = tmp_path / "config.yaml"
        tail = textwrap.dedent(tail)
        replaced = {line.split(":")[0] for line in tail.splitlines() if line and not line[0].isspace()}
        kept = [line for line in BASE.splitlines(keepends=True) if line.split(":")[0] not in replaced]
        path.write_text("".join(kept) + tail, encoding="utf-8")
        config, source = load_config(path)
        return build_experiment(config, source, **kwargs)

    return build


def fit(exp: Experiment) -> list[dict[str, float]]:
    return exp.trainer.fit(exp.train_loader, exp.eval_loaders)


def test_a_user_per_step_scheduler_steps_every_batch_over_the_runs_length(experiment) -> None:
    user = experiment(f"scheduler: {{name: '{MODULE}:LinearDecay', end_factor: 0.5}}\n")
    assert user.config.scheduler.interval == "step"  # its default_interval
    assert user.scheduler.total_steps == 3 * STEPS  # supplied: it needs the run's length
    user_history = fit(user)
    assert user.scheduler.last_epoch == 3 * STEPS  # stepped once per batch
    # The built-in twin: LinearLR over the same steps, stepped per batch.
    twin = experiment("scheduler: {name: linear, start_factor: 1.0, end_factor: 0.5, total_iters: 18, interval: step}\n")
    twin_history = fit(twin)
    for mine, theirs in zip(user_history, twin_history):
        assert mine["lr"] == pytest.approx(theirs["lr"], rel=1e-6)
        assert mine["val.loss"] == pytest.approx(theirs["val.loss"], rel=1e-4)


def test_a_given_run_length_is_not_overridden(experiment) -> None:
    exp = experiment(f"scheduler: {{name: '{MODULE}:LinearDecay', total_steps: 100}}\n")
    assert exp.scheduler.total_steps == 100


def test_a_user_plateau_scheduler_is_stepped_with_the_monitored_metric(experiment) -> None:
    user = experiment(f"scheduler: {{name: '{MODULE}:HalveWhenStuck', threshold: 10.0}}\n")
    assert user.config.scheduler.monitor == "val.loss"  # a monitor is resolved for it, as for plateau
    twin = experiment("scheduler: {name: plateau, patience: 0, factor: 0.5, threshold: 10.0, threshold_mode: abs}\n")
    user_history, twin_history = fit(user), fit(twin)
    assert [r["lr"] for r in user_history] == pytest.approx([0.1, 0.1, 0.05])
    assert [r["lr"] for r in user_history] == [r["lr"] for r in twin_history]
    assert [r["val.loss"] for r in user_history] == [r["val.loss"] for r in twin_history]


@pytest.mark.parametrize("name", [f"{MODULE}:HalveWhenStuck", "plateau"])
def test_a_metric_stepped_scheduler_refuses_a_warmup_and_an_unlogged_monitor(experiment, name: str) -> None:
    with pytest.raises(ConfigError, match=r"warm-up cannot be combined"):
        experiment(f"scheduler: {{name: '{name}', warmup: {{iters: 2}}}}\n")
    with pytest.raises(ConfigError, match=r"'val\.nope' is never logged"):
        experiment(f"scheduler: {{name: '{name}', monitor: val.nope}}\n")


def test_a_user_class_index_loss_trains_like_cross_entropy(experiment) -> None:
    user = experiment(f"loss: {{name: '{MODULE}:MyCrossEntropy'}}\n")
    twin = experiment("loss: {name: cross_entropy}\n")
    user_history, twin_history = fit(user), fit(twin)
    assert [r["val.loss"] for r in user_history] == [r["val.loss"] for r in twin_history]
    outputs = np.array([[2.0, -1.0], [0.5, 0.5], [-300.0, 300.0]], dtype=np.float32)
    np.testing.assert_allclose(class_probabilities(user.loss_fn, outputs), class_probabilities(twin.loss_fn, outputs),
                               rtol=1e-6, atol=1e-30)


@pytest.mark.parametrize("loss", [f"{MODULE}:MyCrossEntropy", "cross_entropy"])
def test_a_class_index_loss_gets_the_label_checks(experiment, loss: str) -> None:
    # One output but labels 0 and 1: label 1 is past the output width, for the user's loss as for the built-in.
    tail = f"loss: {{name: '{loss}'}}\nmodel:\n  layers: [{{linear: {{out_features: 1}}}}]\n"
    with pytest.raises(DataError, match=r"over the model's 1 outputs"):
        experiment(tail)


def test_a_loss_without_class_indices_asks_for_one_hot_targets(experiment) -> None:
    with pytest.raises(ConfigError, match=r"mse on class labels needs one-hot targets"):
        experiment("loss: {name: mse}\n")


def test_user_metrics_log_under_their_declared_names(experiment) -> None:
    exp = experiment(f"""\
        trainer:
          epochs: 1
          batch_size: 32
          val_split: 0.2
          metrics: [{{top_k: {{k: 1}}}}, {{'{MODULE}:hits': {{k: 1}}}}, '{MODULE}:hits_by_function', '{MODULE}:unnamed_hits']
        checkpoint: {{monitor: val.hits_at_1}}
    """)
    (record,) = fit(exp)
    for split in ("train", "val", "test"):
        assert record[f"{split}.hits_at_1"] == record[f"{split}.top_1"]
        assert record[f"{split}.hits1"] == record[f"{split}.top_1"]
        assert record[f"{split}.unnamed_hits"] == record[f"{split}.top_1"]
    assert exp.monitor == "val.hits_at_1"


def test_a_user_layer_in_a_layers_list_is_sized_from_the_shape_flowing_in(experiment) -> None:
    exp = experiment(f"model:\n  layers: [{{linear: {{out_features: 16}}}}, '{MODULE}:Scale', relu, {{linear: {{out_features: 2}}}}]\n")
    scale = exp.model[1]
    assert scale.num_features == 16 and scale.weight.shape == (16,)
    _, target = get_registry("layers").load(f"{MODULE}:Scale", exp.config.base_dir)
    assert signature_of(target).params["num_features"].inferred  # `ttrain list`-style: <inferred>


def test_a_user_model_is_sized_from_the_data(experiment) -> None:
    exp = experiment(f"model: {{name: '{MODULE}:TinyNet', hidden: 4}}\n")
    assert exp.model.sizes == (2, 2)  # spirals: 2 features, 2 classes; required args left to inference
    assert np.isfinite(fit(exp)[-1]["val.loss"])


def test_an_explicit_size_wins_over_inference(experiment) -> None:
    exp = experiment(f"model: {{name: '{MODULE}:TinyNet', in_features: 2, num_classes: 3}}\n")
    assert exp.model.sizes == (2, 3)


def test_an_unknown_inferred_quantity_is_a_config_error(experiment) -> None:
    with pytest.raises(ConfigError, match=r"unknown quantity 'width'"):
        experiment(f"model: {{name: '{MODULE}:Misdeclared'}}\n")


@pytest.mark.parametrize(("shape", "expected"), [
    ((1, 28, 28), {"in_features": 784, "in_channels": 1, "input_size": (28, 28), "num_classes": 10}),
    ((784,), {"in_features": 784, "in_channels": 784, "num_classes": 10}),
])
def test_one_rule_sizes_the_built_in_models(shape, expected) -> None:
    from ttrain.nn import CNN, MLP

    assert infer_kwargs(CNN, {}, shape, 10) == {k: v for k, v in expected.items() if k != "in_features"}
    assert infer_kwargs(MLP, {"hidden": [8]}, shape, 10) == {"hidden": [8], "in_features": 784, "num_classes": 10}


def test_ttrain_list_marks_what_the_classes_declare_inferred() -> None:
    from ttrain.config.registry import describe

    shown = {info.name: info.signature_text() for category in ("models", "layers", "schedulers")
             for info in describe(category)}
    assert "in_features: int (>= 1) | None = <inferred>" in shown["mlp"]
    assert "input_size: int | tuple[int, int] | None = <inferred>" in shown["cnn"]
    assert "num_features: int (>= 1) | None = <inferred>" in shown["batch_norm2d"]
    assert "total_steps: int | None = <inferred>" in shown["onecycle"]  # it needs_total_steps
