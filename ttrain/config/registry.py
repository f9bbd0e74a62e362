"""Names a config can use, mapped to the classes and functions they build.

Each target is a lazy ``"module:attribute"`` string, so building the registry imports nothing (in
particular not numba); a target is imported when a config that names it is validated or built.
A name containing ``:`` is a user's own ``package.module:ClassName``, imported with the config's
folder on ``sys.path``. The constructor's signature is the schema for its keyword arguments
(see ``ttrain.config.signature``): there is no second list of arguments to keep in sync.

The trust boundary (see the README's threat model) is drawn here, in `Registry.load`:
- every target, registered or named by path, must be of its category's `Kind` (a model an
  ``nn.Module`` subclass, a metric a declared function, ...), checked after importing it and
  before anything calls it, so ``subprocess:Popen`` is refused as a model or a dataset;
- a config from a checkpoint is data, not the user's code: it is loaded with ``trusted`` set to
  the modules the user vouched for (``--trust-module``), and any other ``package.module:Name`` is
  refused before its module is imported.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Collection, Iterator

from ttrain.config.errors import did_you_mean
from ttrain.config.signature import Param, signature_of
from ttrain.declare import is_declared

CATEGORIES = ("models", "layers", "losses", "optimizers", "schedulers", "datasets", "metrics")


class RegistryError(ValueError):
    """An unknown name, a bad import path, or a target of the wrong kind."""

    def __init__(self, message: str, suggestion: str | None = None) -> None:
        self.message = message
        self.suggestion = suggestion
        super().__init__(message + (f"; did you mean {suggestion!r}?" if suggestion else ""))


@dataclass(frozen=True)
class Entry:
    """One registered name: its target and how many of its constructor's parameters ttrain passes.

    ``target`` is ``"module:attribute"`` or the object itself. The first ``supplied`` positional
    parameters are passed by ttrain (an optimizer's ``params``), never by the config. What else a
    target needs (sizes inferred from the data, a step interval, ...) its class declares itself,
    so a user's class named by path gets the same treatment as a registered one.
    """

    name: str
    target: str | Callable[..., Any]
    supplied: int = 0

    @property
    def target_name(self) -> str:
        """``"module:attribute"`` for display, also for object targets."""
        if isinstance(self.target, str):
            return self.target
        return f"{self.target.__module__}:{self.target.__qualname__}"


def _import_error(spec: str, message: str, suggestion: str | None = None) -> RegistryError:
    return RegistryError(f"cannot import {spec!r}: {message}", suggestion)


def import_object(spec: str, search_dir: str | Path | None = None) -> Any:
    """Import ``"package.module:Name"``; ``search_dir`` is put on ``sys.path`` only while importing."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise _import_error(spec, "expected the form 'package.module:Name'")
    folder = str(Path(search_dir).resolve()) if search_dir is not None else None
    inserted = folder is not None and folder not in sys.path
    if inserted:
        sys.path.insert(0, folder)
        importlib.invalidate_caches()
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        own = exc.name is not None and (module_name == exc.name or module_name.startswith(exc.name + "."))
        where = f" (looked in {folder} and on sys.path)" if folder else ""
        message = f"no module named {exc.name!r}{where}" if own else f"importing it failed: {exc}"
        raise _import_error(spec, message) from None
    except Exception as exc:  # a user's module failing at import time is their bug, shown plainly
        raise _import_error(spec, f"importing {module_name!r} failed: {type(exc).__name__}: {exc}") from None
    finally:
        if inserted and folder in sys.path:
            sys.path.remove(folder)
    obj: Any = module
    for part in attribute.split("."):
        if not hasattr(obj, part):
            public = [n for n in dir(obj) if not n.startswith("_")]
            raise _import_error(spec, f"{getattr(obj, '__name__', module_name)!r} has no attribute {part!r}",
                                did_you_mean(part, public))
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class Kind:
    """What a category's targets must be, checked before a target is called.

    ``base`` (``"module:Class"``, imported when first needed): targets must be subclasses of it.
    ``mark``: targets must be callables declared with that kind (see ttrain.declare), or be
    registered by name (registering is a declaration too). Neither: any callable (test stand-ins).
    """

    description: str
    base: str | None = None
    mark: str | None = None

    def admits(self, target: Any, registered: bool) -> bool:
        """Whether ``target`` is of this kind (``registered``: it was reached through a registered name)."""
        if self.base is not None:
            return isinstance(target, type) and issubclass(target, import_object(self.base))
        if self.mark is not None:
            return callable(target) and (registered or is_declared(target, self.mark))
        return callable(target)


def is_trusted(module_name: str, trusted: Collection[str]) -> bool:
    """Whether ``module_name`` is one of ``trusted`` or inside one of them (``pkg`` covers ``pkg.models``)."""
    return any(module_name == t or module_name.startswith(t + ".") for t in trusted)


@dataclass
class Registry:
    """The names of one category; every target is checked to be of ``kind`` before it is returned."""

    category: str
    noun: str
    kind: Kind
    supplied: int = 0
    _entries: dict[str, Entry] = field(default_factory=dict)

    def register(self, name: str, target: str | Callable[..., Any]) -> Entry:
        """Add (or replace) ``name``; returns its Entry."""
        entry = Entry(name, target, self.supplied)
        self._entries[name] = entry
        return entry

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries[name] for name in self.names())

    def entry(self, name: str, trusted: Collection[str] | None = None) -> Entry:
        """The Entry for ``name``; ``package.module:Name`` gives an ad-hoc Entry for a user's class.

        ``trusted`` None: any module may be named (a config is the user's own code). Otherwise (a
        checkpoint's config) a ``package.module:Name`` outside the ``trusted`` modules is refused
        here, before anything imports it.
        """
        if name in self._entries:
            return self._entries[name]
        if ":" in name:
            module_name = name.partition(":")[0]
            if trusted is not None and module_name and not is_trusted(module_name, trusted):
                vouch = module_name.split(".")[0] or module_name
                raise RegistryError(
                    f"{name!r} is not a registered {self.noun}, and a checkpoint may name only registered "
                    f"components: importing {module_name!r} would run its code. If you trust that module, "
                    f"pass --trust-module {vouch}"
                )
            return Entry(name, name, self.supplied)
        suggestion = did_you_mean(name, self._entries)
        known = "" if suggestion else f" (known: {', '.join(self.names())})"
        raise RegistryError(f"unknown {self.noun} {name!r}{known}", suggestion)

    def load(self, name: str, search_dir: str | Path | None = None,
             trusted: Collection[str] | None = None) -> tuple[Entry, Any]:
        """The Entry for ``name`` and its imported target, checked to be of this category's kind.

        ``trusted``: as for `entry`. Importing a module runs its top-level code; the target itself
        is not called here, and is refused unless it is of the kind (so ``os:system`` never runs).
        """
        entry = self.entry(name, trusted)
        target = import_object(entry.target, search_dir) if isinstance(entry.target, str) else entry.target
        if not self.kind.admits(target, registered=name in self._entries):
            found = "a class" if isinstance(target, type) else f"a {type(target).__name__!r}"
            raise RegistryError(f"{entry.target_name!r} cannot be a {self.noun}: it is {found}, "
                                f"and a {self.noun} must be {self.kind.description}")
        return entry, target


def _registry(category: str, noun: str, kind: Kind, targets: dict[str, str], supplied: int = 0) -> Registry:
    registry = Registry(category, noun, kind, supplied)
    for name, target in targets.items():
        registry.register(name, target)
    return registry


_NN = "ttrain.nn:"
_SCHED = "ttrain.optim.lr_scheduler:"

MODULE = Kind("an nn.Module subclass", base=_NN + "Module")
OPTIMIZER = Kind("a ttrain.optim.Optimizer subclass", base="ttrain.optim:Optimizer")
SCHEDULER = Kind("a scheduler class (a ttrain.optim.lr_scheduler.LRScheduler subclass)", base=_SCHED + "LRScheduler")
DATASET = Kind("a registered dataset or a function declared with @ttrain.data.dataset_factory", mark="dataset")
METRIC = Kind("a registered metric or a function declared with @ttrain.training.metric", mark="metric")

REGISTRIES: dict[str, Registry] = {
    "models": _registry("models", "model", MODULE, {
        "seed_net": "ttrain.nn.models:SeedNet",
        "mlp": "ttrain.nn.models:MLP",
        "lenet5": "ttrain.nn.vision_models:LeNet5",
        "cnn": "ttrain.nn.vision_models:CNN",
        "char_lstm": "ttrain.nn.language_models:CharLSTM",
    }),
    "layers": _registry("layers", "layer", MODULE, {
        "linear": _NN + "Linear",
        "relu": _NN + "ReLU",
        "leaky_relu": _NN + "LeakyReLU",
        "sigmoid": _NN + "Sigmoid",
        "tanh": _NN + "Tanh",
        "gelu": _NN + "GELU",
        "softplus": _NN + "Softplus",
        "elu": _NN + "ELU",
        "selu": _NN + "SELU",
        "silu": _NN + "SiLU",
        "mish": _NN + "Mish",
        "hardtanh": _NN + "Hardtanh",
        "softmax": _NN + "Softmax",
        "log_softmax": _NN + "LogSoftmax",
        "dropout": _NN + "Dropout",
        "flatten": _NN + "Flatten",
        "unflatten": _NN + "Unflatten",
        "identity": _NN + "Identity",
        "conv1d": _NN + "Conv1d",
        "conv2d": _NN + "Conv2d",
        "conv_transpose2d": _NN + "ConvTranspose2d",
        "max_pool2d": _NN + "MaxPool2d",
        "max_pool1d": _NN + "MaxPool1d",
        "adaptive_max_pool2d": _NN + "AdaptiveMaxPool2d",
        "avg_pool2d": _NN + "AvgPool2d",
        "adaptive_avg_pool2d": _NN + "AdaptiveAvgPool2d",
        "batch_norm1d": _NN + "BatchNorm1d",
        "batch_norm2d": _NN + "BatchNorm2d",
        "layer_norm": _NN + "LayerNorm",
        "group_norm": _NN + "GroupNorm",
        "dropout2d": _NN + "Dropout2d",
        "embedding": _NN + "Embedding",
        "rnn": _NN + "RNNLayer",
        "lstm": _NN + "LSTMLayer",
        "gru": _NN + "GRULayer",
        "sequence_output": _NN + "SequenceOutput",
        "positional_encoding": _NN + "PositionalEncoding",
        "learned_positional_embedding": _NN + "LearnedPositionalEmbedding",
        "patch_embedding": _NN + "PatchEmbedding",
        "transformer_encoder": _NN + "TransformerEncoderStack",
    }),
    "losses": _registry("losses", "loss", MODULE, {
        "mse": _NN + "MSELoss",
        "l1": _NN + "L1Loss",
        "huber": _NN + "HuberLoss",
        "smooth_l1": _NN + "SmoothL1Loss",
        "cross_entropy": _NN + "CrossEntropyLoss",
        "nll": _NN + "NLLLoss",
        "bce": _NN + "BCELoss",
        "bce_with_logits": _NN + "BCEWithLogitsLoss",
        "kl_div": _NN + "KLDivLoss",
    }),
    # The optimizer's first argument (params) is passed by the trainer.
    "optimizers": _registry("optimizers", "optimizer", OPTIMIZER, {
        "sgd": "ttrain.optim:SGD",
        "adam": "ttrain.optim:Adam",
        "adamw": "ttrain.optim:AdamW",
        "rmsprop": "ttrain.optim:RMSprop",
        "adagrad": "ttrain.optim:Adagrad",
        "adadelta": "ttrain.optim:Adadelta",
        "adamax": "ttrain.optim:Adamax",
        "nadam": "ttrain.optim:NAdam",
        "radam": "ttrain.optim:RAdam",
    }, supplied=1),
    # The scheduler's first argument (optimizer) is passed by the trainer; `warmup:` composes
    # LinearLR and the named scheduler with SequentialLR (see ttrain.config.builders).
    "schedulers": _registry("schedulers", "scheduler", SCHEDULER, {
        "step": _SCHED + "StepLR",
        "multistep": _SCHED + "MultiStepLR",
        "exponential": _SCHED + "ExponentialLR",
        "cosine": _SCHED + "CosineAnnealingLR",
        "linear": _SCHED + "LinearLR",
        "onecycle": _SCHED + "OneCycleLR",
        "plateau": _SCHED + "ReduceLROnPlateau",
    }, supplied=1),
    "datasets": _registry("datasets", "dataset", DATASET, {
        "mnist": "ttrain.data.factories:mnist",
        "mnist-full": "ttrain.data.factories:mnist_full",
        "npz": "ttrain.data.factories:npz",
        "csv": "ttrain.data.factories:csv",
        "spirals": "ttrain.data.factories:spirals",
        "blobs": "ttrain.data.factories:blobs",
        "text": "ttrain.data.factories:text",
    }),
    # A metric is called as metric(outputs, targets, **kwargs): the first two are supplied.
    "metrics": _registry("metrics", "metric", METRIC, {
        "accuracy": "ttrain.training.metrics:accuracy",
        "top_k": "ttrain.training.metrics:top_k_accuracy",
        "perplexity": "ttrain.training.metrics:perplexity",
    }, supplied=2),
}

SEQUENTIAL_LR = _SCHED + "SequentialLR"  # composes `warmup:` (LinearLR, registered as "linear") with a scheduler


def get_registry(category: str) -> Registry:
    """The Registry of ``category`` (one of CATEGORIES); an unknown category is a RegistryError."""
    if category in REGISTRIES:
        return REGISTRIES[category]
    suggestion = did_you_mean(category, CATEGORIES)
    known = "" if suggestion else f" (known: {', '.join(CATEGORIES)})"
    raise RegistryError(f"unknown registry category {category!r}{known}", suggestion)


def register(category: str, name: str, target: str | Callable[..., Any]) -> Entry:
    """Register ``name`` in ``category`` (for plug-ins and tests)."""
    return get_registry(category).register(name, target)


def resolve(category: str, name: str, search_dir: str | Path | None = None) -> Any:
    """Import and return what ``name`` means in ``category`` (a registered name or ``module:Name``)."""
    return get_registry(category).load(name, search_dir)[1]


@dataclass(frozen=True)
class ComponentInfo:
    """What ``ttrain list`` shows for one name: its target, parameters and defaults."""

    name: str
    target: str
    params: tuple[Param, ...] = ()
    summary: str = ""
    error: str | None = None  # why the target could not be imported, if it could not

    def signature_text(self) -> str:
        """``lr: float = 0.001, momentum: float = 0.0`` (inferred parameters say so)."""
        parts = []
        for p in self.params:
            text = f"{p.name}: {p.type_name}"
            if p.inferred:
                text += " = <inferred>"
            elif not p.required:
                text += f" = {p.default!r}"
            parts.append(text)
        return ", ".join(parts)


def describe(category: str) -> list[ComponentInfo]:
    """Every name of ``category`` with its parameters and defaults (imports the targets)."""
    registry = get_registry(category)
    infos = []
    for entry in registry:
        try:
            _, target = registry.load(entry.name)
        except RegistryError as exc:
            infos.append(ComponentInfo(entry.name, entry.target_name, error=str(exc)))
            continue
        signature = signature_of(target, entry.supplied)
        doc = (getattr(target, "__doc__", None) or "").strip().splitlines()
        params = tuple(signature.params.values())
        infos.append(ComponentInfo(entry.name, entry.target_name, params, doc[0] if doc else ""))
    return infos
