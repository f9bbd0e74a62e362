"""Build everything a config describes (data, model, loss, optimizer, scheduler, trainer) and run it."""

from __future__ import annotations

import contextlib
import inspect
import math
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from ttrain.config import Config, build, build_metric, build_scheduler, get_registry
from ttrain.config.errors import ConfigError, ConfigIssue
from ttrain.config.loader import SourceMap
from ttrain.config.validate import metric_log_name
from ttrain.config.registry import RegistryError
from ttrain.data.errors import DataError
from ttrain.random import Generator, manual_seed
from ttrain.training.trainer import Trainer

# Constructor parameters filled from the data when a config leaves them out.
_MODEL_INFERRED = ("in_features", "in_channels", "num_classes", "input_size")


@dataclass
class Experiment:
    """The objects built from one config; `trainer` runs them."""

    config: Config
    model: Any
    loss_fn: Any
    optimizer: Any
    scheduler: Any
    datasets: dict[str, Any]
    train_loader: Any
    eval_loaders: dict[str, Any]
    shuffle_generator: Generator
    trainer: Trainer
    monitor: str
    monitor_mode: str


@contextlib.contextmanager
def _section(path: str, source: SourceMap | None = None, context: str = "", hint: str = "") -> Iterator[None]:
    """A ValueError from building or trying what `path` describes (an argument value a constructor
    refuses, shapes that do not fit) becomes a config error at `path`: `context error hint`."""
    try:
        yield
    except (ConfigError, RegistryError, DataError):
        raise  # already say where and what
    except ValueError as error:
        location = str(source.locate(path.split("."))) if source is not None else None
        raise ConfigError(ConfigIssue(path=path, message=f"{context}{error}{hint}", location=location)) from None


def _streams(seed: int) -> tuple[Generator, Generator]:
    """Independent streams for the validation split and the shuffling, both derived from `seed`."""
    split, shuffle = Generator(seed).spawn(2)
    return split, shuffle


def build_datasets(config: Config, source: SourceMap | None = None) -> dict[str, Any]:
    """`train`, `test` and (with `trainer.val_split`) `val` datasets, split with the seeded stream."""
    from ttrain.data import train_val_split
    from ttrain.data.dataset import check_dataset

    with _section("data", source):
        splits = build("datasets", config.data, base_dir=config.base_dir)
    for split, dataset in splits.items():
        check_dataset(dataset, f"the {split} split of data {config.data.name!r}")
    if config.trainer.val_split > 0:
        split_stream, _ = _streams(config.seed)
        with _section("trainer.val_split", source):
            train, val = train_val_split(splits["train"], config.trainer.val_split, split_stream)
        splits = {"train": train, "val": val, "test": splits["test"]}
    return splits


def _input_shape(dataset: Any) -> tuple[int, ...]:
    return tuple(int(n) for n in dataset.input_shape)


def build_model(config: Config, input_shape: tuple[int, ...], num_classes: int | None) -> Any:
    """The network: a registered architecture with its kwargs, or a `layers:` list sized from the data."""
    spec = config.model
    if spec.layers is None:
        entry, target = get_registry("models").load(spec.name, config.base_dir)
        kwargs = dict(spec.kwargs)
        params = inspect.signature(target).parameters
        known = {
            "in_features": math.prod(input_shape),
            "in_channels": input_shape[0],
            "num_classes": num_classes,
            "input_size": tuple(input_shape[1:]) if len(input_shape) == 3 else None,  # an image's (H, W)
        }
        for name in _MODEL_INFERRED:
            if name in params and name not in kwargs and known[name] is not None:
                kwargs[name] = known[name]
        with _section("model"):
            return target(**kwargs)
    return build_layers(config, input_shape)


def build_layers(config: Config, input_shape: tuple[int, ...]) -> Any:
    """A `Sequential` of the listed layers; each inferred size comes from the shape flowing into it."""
    from ttrain.autograd.grad_mode import no_grad
    from ttrain.autograd.creation import from_numpy
    from ttrain.nn import Sequential

    registry = get_registry("layers")
    layers = []
    shape = tuple(input_shape)
    for index, item in enumerate(config.model.layers):
        entry, target = registry.load(item.name, config.base_dir)
        kwargs = dict(item.kwargs)
        for name in entry.inferred:
            if name not in kwargs:
                # Linear and layer norm read the last axis; channel-first layers (conv, norm) the first.
                kwargs[name] = shape[-1] if name in ("in_features", "normalized_shape") else shape[0]
        try:
            layer = target(**kwargs)
            with no_grad(), np.errstate(all="ignore"):  # zeros through a log layer: a shape, not a warning
                layer.eval()
                shape = tuple(layer(from_numpy(np.zeros((1, *shape), dtype=np.float32))).shape[1:])
        except (ValueError, TypeError, RuntimeError) as error:
            raise ConfigError(ConfigIssue(path=f"model.layers.{index}", message=f"{item.name}: {error}")) from None
        layers.append(layer)
    return Sequential(*layers)


# Losses that take class indices; every other loss compares outputs with targets of their shape.
_CLASS_INDEX_LOSSES = ("cross_entropy", "nll")


def check_model_fits_data(
    config: Config, model: Any, loss_fn: Any, dataset: Any, source: SourceMap | None = None,
    datasets: dict[str, Any] | None = None,
) -> None:
    """Run two samples through the model and the loss, so that a model, loss and data that do not
    fit together are a config error before training starts, not a traceback at its first step.

    In eval mode, without augmentation and without a graph: no random stream is drawn from.
    With a loss that takes class indices, every label of ``datasets`` (default: just ``dataset``)
    must also be a class the model can output: a label past the output width is a DataError
    naming the split and the row, not an IndexError at some later step.
    """
    from ttrain.autograd.grad_mode import no_grad
    from ttrain.autograd.creation import from_numpy

    features, targets = dataset.without_augmentation().get_batch(np.arange(min(2, len(dataset))))
    was_training = getattr(model, "training", True)
    model.eval()
    try:
        # A model that makes NaNs is the trainer's to report (naming the module), not NumPy's to warn about.
        with no_grad(), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            with _section("model", source):
                output = model(from_numpy(np.ascontiguousarray(features)))
            hint = ""
            if np.asarray(targets).dtype.kind in "iu" and config.loss.name not in _CLASS_INDEX_LOSSES:
                hint = f" ({config.loss.name} on class labels needs one-hot targets: data.one_hot: true)"
            context = f"the model's outputs {tuple(output.shape)[1:]} and the data's targets do not fit this loss: "
            with _section("loss", source, context, hint):
                loss_fn(output, from_numpy(np.ascontiguousarray(targets)))
    finally:
        model.train(bool(was_training))
    if config.loss.name in _CLASS_INDEX_LOSSES and output.ndim >= 2:
        _check_labels_fit_outputs(config, loss_fn, int(output.shape[1]), datasets or {"train": dataset})


def _check_labels_fit_outputs(config: Config, loss_fn: Any, width: int, datasets: dict[str, Any]) -> None:
    """Every stored label of every split is a class index below the model's output ``width``."""
    from ttrain.data.dataset import check_class_labels, stored_arrays

    why = f" ({config.loss.name} over the model's {width} outputs)"
    for split, dataset in datasets.items():
        arrays = stored_arrays(dataset)
        if arrays is not None:
            check_class_labels(arrays[1], width, f"the {split} split of data {config.data.name!r}", why,
                               getattr(loss_fn, "ignore_index", None))


def metric_names(config: Config) -> dict[str, Any]:
    """Metric functions keyed by the name they are logged under (`accuracy`, `top_5`, ...)."""
    return {metric_log_name(spec, config.base_dir): build_metric(spec, config.base_dir) for spec in config.trainer.metrics}


def build_experiment(config: Config, source: SourceMap | None = None, callbacks: list[Any] = ()) -> Experiment:
    """Seed every stream, then build data, model, loss, optimizer, scheduler and trainer from `config`."""
    from ttrain.data import DataLoader

    manual_seed(config.seed)  # the global stream: initialisation, then dropout
    _, shuffle_stream = _streams(config.seed)
    datasets = build_datasets(config, source)  # checked: no split is empty
    train_set = datasets["train"]
    model = build_model(config, _input_shape(train_set), getattr(train_set, "num_classes", None))
    with _section("loss", source):
        loss_fn = build("losses", config.loss, base_dir=config.base_dir)
    with _section("optimizer", source):
        optimizer = build("optimizers", config.optimizer, model.parameters(), base_dir=config.base_dir)
    check_model_fits_data(config, model, loss_fn, train_set, source, datasets)

    trainer_cfg = config.trainer
    train_loader = DataLoader(
        train_set, batch_size=trainer_cfg.batch_size, shuffle=trainer_cfg.shuffle,
        drop_last=trainer_cfg.drop_last, generator=shuffle_stream,
    )
    eval_loaders = {
        split: DataLoader(datasets[split], batch_size=trainer_cfg.eval_batch_size) for split in ("val", "test") if split in datasets
    }

    # Monitors, modes, the scheduler's interval and the eval batch size come resolved and checked
    # (with file and line) by the config layer.
    scheduler = None
    if config.scheduler is not None:
        spec = config.scheduler
        if spec.name == "onecycle" and not {"total_steps", "epochs"} & set(spec.kwargs):
            # OneCycleLR must know the run's length, which only the trainer knows.
            spec = type(spec).model_validate({**spec.model_dump(), "total_steps": trainer_cfg.epochs * len(train_loader)})
        with _section("scheduler", source):
            scheduler = build_scheduler(spec, optimizer, config.base_dir)
    all_callbacks = list(callbacks)
    stopping = config.trainer.early_stopping
    if stopping is not None:
        from ttrain.training.callbacks import EarlyStopping

        all_callbacks.append(EarlyStopping(stopping.monitor, stopping.mode, stopping.patience, stopping.min_delta))

    trainer = Trainer(
        model, loss_fn, optimizer, epochs=trainer_cfg.epochs, max_steps=trainer_cfg.max_steps, scheduler=scheduler, metrics=metric_names(config),
        scheduler_interval=config.scheduler.interval if config.scheduler else "epoch",
        scheduler_monitor=config.scheduler.monitor if config.scheduler else None, grad_clip=trainer_cfg.grad_clip,
        grad_clip_algorithm=trainer_cfg.grad_clip_algorithm, callbacks=all_callbacks,
        detect_anomaly=trainer_cfg.detect_anomaly,
    )
    return Experiment(config, model, loss_fn, optimizer, scheduler, datasets, train_loader, eval_loaders,
                      shuffle_stream, trainer, config.checkpoint.monitor, config.checkpoint.mode)
