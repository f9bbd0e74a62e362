"""Build everything a config describes, in small named steps that `build_experiment` runs in order:
seed the streams, build the datasets (and the validation split), size and build the model, build the
loss and optimizer, check that model, loss and data fit, build the loaders, the scheduler (given the
run's length when its class needs it) and the trainer.

What a component needs is read from its class (`inferred_args`, a scheduler's and a loss's traits),
never from its registry name, so a user's class named by `package.module:Class` is treated the same.
"""

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
    refuses, shapes that do not fit) becomes a config error at `path`: `context error hint`. So does
    a MemoryError: sizes this machine cannot hold (`n_train: 10**12`) are the config's to change."""
    try:
        yield
    except (ConfigError, RegistryError, DataError):
        raise  # already say where and what
    except (ValueError, MemoryError) as error:
        location = str(source.locate(path.split("."))) if source is not None else None
        message = _out_of_memory(error) if isinstance(error, MemoryError) else f"{context}{error}{hint}"
        raise ConfigError(ConfigIssue(path=path, message=message, location=location)) from None


def _out_of_memory(error: MemoryError) -> str:
    return f"building it ran out of memory ({error or 'no detail'}): ask for smaller sizes"


def _streams(seed: int) -> tuple[Generator, Generator]:
    """Independent streams for the validation split and the shuffling, both derived from `seed`."""
    split, shuffle = Generator(seed).spawn(2)
    return split, shuffle


def seed_streams(seed: int) -> Generator:
    """Seed the global stream (initialisation, then dropout) and return the shuffling stream.

    The validation split draws from its own stream (`build_datasets`), so neither shifts the other.
    """
    manual_seed(seed)
    return _streams(seed)[1]


def build_datasets(config: Config, source: SourceMap | None = None) -> dict[str, Any]:
    """`train`, `test` and (with `trainer.val_split`) `val` datasets, split with the seeded stream."""
    from ttrain.data import train_val_split
    from ttrain.data.dataset import check_dataset

    with _section("data", source):
        splits = build("datasets", config.data, base_dir=config.base_dir)
    for split, dataset in splits.items():
        check_dataset(dataset, f"the {split} split of data {config.data.name!r}")
    if config.trainer.val_split > 0 and "val" in splits:
        where = str(source.locate(["trainer", "val_split"])) if source is not None else None
        raise ConfigError(ConfigIssue(path="trainer.val_split", location=where, message=(
            f"data {config.data.name!r} holds out its own validation split; leave trainer.val_split at 0")))
    if config.trainer.val_split > 0:
        split_stream, _ = _streams(config.seed)
        with _section("trainer.val_split", source):
            train, val = train_val_split(splits["train"], config.trainer.val_split, split_stream)
        splits = {"train": train, "val": val, "test": splits["test"]}
    return splits


def _input_shape(dataset: Any) -> tuple[int, ...]:
    return tuple(int(n) for n in dataset.input_shape)


# ---- the one inference rule for input sizes (see nn.Module.inferred_args) -------------------------
def input_quantities(input_shape: tuple[int, ...], num_classes: int | None) -> dict[str, Any]:
    """What a class's `inferred_args` may name, for samples of `input_shape` (None: not known here)."""
    shape = tuple(input_shape)
    return {
        "features": math.prod(shape),  # a model that flattens its input
        "last": shape[-1] if shape else None,  # Linear, LayerNorm: the last axis
        "channels": shape[0] if shape else None,  # channel-first layers: conv, batch and group norm
        "spatial": shape[1:] if len(shape) == 3 else None,  # an image's (H, W)
        "classes": num_classes,
    }


def infer_kwargs(target: Any, kwargs: dict[str, Any], input_shape: tuple[int, ...],
                 num_classes: int | None = None) -> dict[str, Any]:
    """`kwargs` completed with what `target` declares in its `inferred_args` and the config left out
    (or set to null), read from the data; a quantity not known here leaves the class's default."""
    declared = getattr(target, "inferred_args", None) or {}
    if not declared:
        return dict(kwargs)
    known = input_quantities(input_shape, num_classes)
    try:
        accepted = set(inspect.signature(target).parameters)
    except (TypeError, ValueError):  # no readable signature: trust the declaration
        accepted = set(declared)
    completed = dict(kwargs)
    for name, quantity in declared.items():
        if quantity not in known:
            raise ValueError(f"{target.__name__}.inferred_args: {name!r} names an unknown quantity {quantity!r} "
                             f"(known: {', '.join(known)})")
        if name not in accepted or completed.get(name) is not None:
            continue
        if known[quantity] is None:
            completed.pop(name, None)
        else:
            completed[name] = known[quantity]
    return completed


def build_model(config: Config, input_shape: tuple[int, ...], num_classes: int | None) -> Any:
    """The network: a registered architecture with its kwargs, or a `layers:` list sized from the data."""
    spec = config.model
    if spec.layers is None:
        _, target = get_registry("models").load(spec.name, config.base_dir)
        with _section("model"):
            return target(**infer_kwargs(target, spec.kwargs, input_shape, num_classes))
    return build_layers(config, input_shape, num_classes)


def build_layers(config: Config, input_shape: tuple[int, ...], num_classes: int | None = None) -> Any:
    """A `Sequential` of the listed layers; each inferred size comes from the shape flowing into it."""
    from ttrain.autograd.grad_mode import no_grad
    from ttrain.autograd.creation import from_numpy
    from ttrain.nn import Sequential

    registry = get_registry("layers")
    layers = []
    shape = tuple(input_shape)
    for index, item in enumerate(config.model.layers):
        _, target = registry.load(item.name, config.base_dir)
        try:
            layer = target(**infer_kwargs(target, item.kwargs, shape, num_classes))
            with no_grad(), np.errstate(all="ignore"):  # zeros through a log layer: a shape, not a warning
                layer.eval()
                shape = tuple(layer(from_numpy(np.zeros((1, *shape), dtype=np.float32))).shape[1:])
        except (ValueError, TypeError, RuntimeError, MemoryError) as error:
            detail = _out_of_memory(error) if isinstance(error, MemoryError) else error
            raise ConfigError(ConfigIssue(path=f"model.layers.{index}", message=f"{item.name}: {detail}")) from None
        layers.append(layer)
    return Sequential(*layers)


def build_loss(config: Config, source: SourceMap | None = None) -> Any:
    """The loss module of `config.loss`."""
    with _section("loss", source):
        return build("losses", config.loss, base_dir=config.base_dir)


def build_optimizer(config: Config, model: Any, source: SourceMap | None = None) -> Any:
    """The optimizer of `config.optimizer` over `model`'s parameters."""
    with _section("optimizer", source):
        return build("optimizers", config.optimizer, model.parameters(), base_dir=config.base_dir)


def check_model_fits_data(
    config: Config, model: Any, loss_fn: Any, dataset: Any, source: SourceMap | None = None,
    datasets: dict[str, Any] | None = None,
) -> None:
    """Run two samples through the model and the loss, so that a model, loss and data that do not
    fit together are a config error before training starts, not a traceback at its first step.

    In eval mode, without augmentation and without a graph: no random stream is drawn from.
    With a loss that takes class indices (its `takes_class_indices` trait), every label of
    ``datasets`` (default: just ``dataset``) must also be a class the model can output: a label
    past the output width is a DataError naming the split and the row, not an IndexError later.
    """
    from ttrain.autograd.grad_mode import no_grad
    from ttrain.autograd.creation import from_numpy

    takes_class_indices = bool(getattr(loss_fn, "takes_class_indices", False))  # any Module may be a loss
    features, targets = dataset.without_augmentation().get_batch(np.arange(min(2, len(dataset))))
    was_training = getattr(model, "training", True)
    model.eval()
    try:
        # A model that makes NaNs is the trainer's to report (naming the module), not NumPy's to warn about.
        with no_grad(), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            with _section("model", source):
                output = model(from_numpy(np.ascontiguousarray(features)))
            hint = ""
            if np.asarray(targets).dtype.kind in "iu" and not takes_class_indices:
                hint = f" ({config.loss.name} on class labels needs one-hot targets: data.one_hot: true)"
            context = f"the model's outputs {tuple(output.shape)[1:]} and the data's targets do not fit this loss: "
            with _section("loss", source, context, hint):
                loss_fn(output, from_numpy(np.ascontiguousarray(targets)))
    finally:
        model.train(bool(was_training))
    if takes_class_indices and output.ndim >= 2:
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


def build_loaders(config: Config, datasets: dict[str, Any], shuffle_stream: Generator) -> tuple[Any, dict[str, Any]]:
    """The training loader (shuffled with `shuffle_stream`) and the `val`/`test` evaluation loaders."""
    from ttrain.data import DataLoader

    trainer_cfg = config.trainer
    train_loader = DataLoader(
        datasets["train"], batch_size=trainer_cfg.batch_size, shuffle=trainer_cfg.shuffle,
        drop_last=trainer_cfg.drop_last, generator=shuffle_stream,
    )
    eval_loaders = {
        split: DataLoader(datasets[split], batch_size=trainer_cfg.eval_batch_size) for split in ("val", "test") if split in datasets
    }
    return train_loader, eval_loaders


def build_run_scheduler(config: Config, optimizer: Any, steps_per_epoch: int, source: SourceMap | None = None) -> Any:
    """The scheduler of `config.scheduler` (None without one).

    A scheduler class that `needs_total_steps` is given the run's length (`run_length`) as its
    `total_steps_kwarg` when the config gives none of its `run_length_kwargs`; when the config
    gives that kwarg and it differs, a ConfigWarning says so (a `trainer.epochs` override often
    leaves it behind). Its interval and monitor come resolved and checked by the config layer.
    """
    spec = config.scheduler
    if spec is None:
        return None
    _, scheduler_class = get_registry("schedulers").load(spec.name, config.base_dir)
    if scheduler_class.needs_total_steps:
        length, unit = run_length(config, steps_per_epoch)
        key = scheduler_class.total_steps_kwarg
        if all(spec.kwargs.get(k) is None for k in scheduler_class.run_length_kwargs):
            spec = type(spec).model_validate({**spec.model_dump(), key: length})
        elif spec.kwargs.get(key) is not None and spec.kwargs[key] != length:
            _warn_run_length(spec.kwargs[key], length, unit, ("scheduler", key), source)
    with _section("scheduler", source):
        return build_scheduler(spec, optimizer, config.base_dir)


def run_length(config: Config, steps_per_epoch: int) -> tuple[int, str]:
    """How many times the run steps its scheduler, after any warm-up, and the unit (`epochs` or
    `batches`): `trainer.epochs` (or `max_steps`, when it stops the run sooner) in the scheduler's interval."""
    trainer, spec = config.trainer, config.scheduler
    batches = trainer.epochs * steps_per_epoch
    if trainer.max_steps is not None:
        batches = min(batches, trainer.max_steps)
    by_batch = spec is not None and spec.interval == "step"
    length = batches if by_batch else math.ceil(batches / max(steps_per_epoch, 1))
    if spec is not None and spec.warmup is not None:
        length -= spec.warmup.iters
    return max(length, 1), "batches" if by_batch else "epochs"


def _warn_run_length(given: Any, length: int, unit: str, path: tuple[str, ...], source: SourceMap | None) -> None:
    import warnings

    from ttrain.config.errors import ConfigWarning

    where = f"{source.locate(path)}: " if source is not None else ""
    outcome = "ends before the run does" if given < length else "is cut short by the run's end"
    warnings.warn(f"{where}{'.'.join(path)}: the schedule is {given} {unit} long but the run is {length} {unit}: it "
                  f"{outcome} (leave {path[-1]} out to fit the schedule to the run)", ConfigWarning, stacklevel=2)


def metric_names(config: Config) -> dict[str, Any]:
    """Metric functions keyed by the name they are logged under (`accuracy`, `top_5`, ...)."""
    return {metric_log_name(spec, config.base_dir): build_metric(spec, config.base_dir) for spec in config.trainer.metrics}


def build_trainer(config: Config, model: Any, loss_fn: Any, optimizer: Any, scheduler: Any,
                  callbacks: list[Any] = ()) -> Trainer:
    """The Trainer of `config.trainer`, with `callbacks` and (when configured) early stopping."""
    trainer_cfg = config.trainer
    all_callbacks = list(callbacks)
    stopping = config.trainer.early_stopping
    if stopping is not None:
        from ttrain.training.callbacks import EarlyStopping

        all_callbacks.append(EarlyStopping(stopping.monitor, stopping.mode, stopping.patience, stopping.min_delta))

    return Trainer(
        model, loss_fn, optimizer, epochs=trainer_cfg.epochs, max_steps=trainer_cfg.max_steps, scheduler=scheduler, metrics=metric_names(config),
        scheduler_interval=config.scheduler.interval if config.scheduler else "epoch",
        scheduler_monitor=config.scheduler.monitor if config.scheduler else None, grad_clip=trainer_cfg.grad_clip,
        grad_clip_algorithm=trainer_cfg.grad_clip_algorithm, callbacks=all_callbacks,
        detect_anomaly=trainer_cfg.detect_anomaly,
    )


def build_experiment(config: Config, source: SourceMap | None = None, callbacks: list[Any] = ()) -> Experiment:
    """Seed every stream, then build data, model, loss, optimizer, scheduler and trainer from `config`.

    Each step is a function of its own; the order matters only for the seeded streams (the model's
    initialisation draws from the global stream, so data and model come before anything random).
    """
    shuffle_stream = seed_streams(config.seed)
    datasets = build_datasets(config, source)  # checked: no split is empty
    train_set = datasets["train"]
    model = build_model(config, _input_shape(train_set), getattr(train_set, "num_classes", None))
    loss_fn = build_loss(config, source)
    optimizer = build_optimizer(config, model, source)
    check_model_fits_data(config, model, loss_fn, train_set, source, datasets)
    train_loader, eval_loaders = build_loaders(config, datasets, shuffle_stream)
    scheduler = build_run_scheduler(config, optimizer, len(train_loader), source)
    trainer = build_trainer(config, model, loss_fn, optimizer, scheduler, list(callbacks))
    return Experiment(config, model, loss_fn, optimizer, scheduler, datasets, train_loader, eval_loaders,
                      shuffle_stream, trainer, config.checkpoint.monitor, config.checkpoint.mode)
