"""Each step of experiment assembly on its own: what build_experiment runs in order."""

from __future__ import annotations

import numpy as np
import pytest

from ttrain.config import config_from_dict
from ttrain.optim import SGD
from ttrain.training.experiment import (
    build_datasets,
    build_loaders,
    build_loss,
    build_model,
    build_optimizer,
    build_run_scheduler,
    build_trainer,
    seed_streams,
)

from .conftest import BASE, merged


def _config(**changes):
    return config_from_dict(merged(BASE, changes))


def test_seed_streams_makes_initialisation_and_shuffling_repeat() -> None:
    config = _config()
    draws, weights = [], []
    for _ in range(2):
        shuffle = seed_streams(config.seed)
        weights.append(build_model(config, (2,), 2)[0].weight.detach().numpy().copy())
        draws.append(shuffle.numpy.permutation(10))
    np.testing.assert_array_equal(weights[0], weights[1])
    np.testing.assert_array_equal(draws[0], draws[1])


def test_build_loaders_batches_training_and_evaluation_apart() -> None:
    config = _config(trainer={"eval_batch_size": 50})
    datasets = build_datasets(config)
    train_loader, eval_loaders = build_loaders(config, datasets, seed_streams(config.seed))
    assert len(train_loader) == 6  # 192 training samples in batches of 32
    assert set(eval_loaders) == {"val", "test"} and eval_loaders["val"].batch_size == 50


def test_build_run_scheduler_gives_a_run_length_only_when_the_class_needs_one() -> None:
    optimizer = SGD(build_model(_config(), (2,), 2).parameters(), lr=0.1, momentum=0.9)
    onecycle = _config(scheduler={"name": "onecycle", "max_lr": 0.5}, trainer={"epochs": 3})
    assert build_run_scheduler(onecycle, optimizer, steps_per_epoch=7).total_steps == 21
    given = _config(scheduler={"name": "onecycle", "max_lr": 0.5, "epochs": 2, "steps_per_epoch": 5})
    assert build_run_scheduler(given, optimizer, steps_per_epoch=7).total_steps == 10
    step = _config(scheduler={"name": "step", "step_size": 1})
    assert not hasattr(build_run_scheduler(step, optimizer, steps_per_epoch=7), "total_steps")
    assert build_run_scheduler(_config(), optimizer, steps_per_epoch=7) is None


def test_build_trainer_wires_the_resolved_scheduler_settings_and_metrics() -> None:
    config = _config(scheduler={"name": "plateau"}, trainer={"metrics": ["accuracy", {"top_k": {"k": 1}}]})
    model = build_model(config, (2,), 2)
    optimizer = build_optimizer(config, model)
    scheduler = build_run_scheduler(config, optimizer, steps_per_epoch=6)
    trainer = build_trainer(config, model, build_loss(config), optimizer, scheduler)
    from ttrain.training.callbacks.scheduler import SchedulerStepper

    stepper, = [c for c in trainer.callbacks if isinstance(c, SchedulerStepper)]
    assert stepper.scheduler is scheduler and stepper.interval == "epoch" and stepper.monitor == "val.loss"
    assert list(trainer.metrics) == ["accuracy", "top_1"]


def test_a_bad_argument_in_a_step_is_a_config_error_at_its_section() -> None:
    from ttrain.config import ConfigError

    config = _config(scheduler={"name": "onecycle", "max_lr": 0.5, "pct_start": 0.5, "anneal_strategy": "cubic"})
    optimizer = SGD(build_model(config, (2,), 2).parameters(), lr=0.1, momentum=0.9)
    with pytest.raises(ConfigError, match="anneal_strategy"):
        build_run_scheduler(config, optimizer, steps_per_epoch=6)
