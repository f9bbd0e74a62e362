"""Declarations that let a config name a user's own function as a dataset or a metric.

A config may name ``package.module:name`` in any section, but a target is built only if it is of
the kind its section needs. For models, losses, optimizers and schedulers the kind is a base class
(``nn.Module``, ``Optimizer``, ``LRScheduler``). A dataset factory or a metric is a plain function,
so it says what it is with a decorator; anything else a module holds (``os.system``,
``subprocess.Popen``) is refused before it is called:

    @ttrain.data.dataset_factory
    def my_data(path: Path, n: int = 100) -> dict[str, Dataset]: ...

    @ttrain.training.metric
    def recall(outputs: np.ndarray, targets: np.ndarray) -> float: ...

    @ttrain.training.metric(log_name="recall_at_{k}")  # logged as train.recall_at_5 for k: 5
    def recall_at(outputs: np.ndarray, targets: np.ndarray, k: int = 5) -> float: ...

This module imports nothing, so ttrain.data and ttrain.training can use it without ttrain.config.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Mapping, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

# The attribute the decorators set. Read with inspect.getattr_static, so an object whose
# __getattr__ answers anything (a mock, a proxy) does not pass for declared.
_MARK = "__ttrain_declares__"
_LOG_NAME = "__ttrain_log_name__"
_FINISH = "__ttrain_finish__"

LogName = str | Callable[..., str]  # a format string, or a function, of a metric's keyword arguments


def declare(target: F, kind: str) -> F:
    """Mark ``target`` (a function or class) as a ``kind`` (``"dataset"``, ``"metric"``) a config may name."""
    setattr(target, _MARK, kind)
    return target


def is_declared(target: Any, kind: str) -> bool:
    """Whether ``target`` was declared a ``kind`` with `declare` (or a decorator built on it)."""
    return inspect.getattr_static(target, _MARK, None) == kind


def dataset_factory(function: F) -> F:
    """Declare ``function`` a dataset factory, so a config's ``data: {name: "pkg.module:function"}`` may name it.

    It is called with the ``data`` section's other keys (its signature is their schema) and returns
    ``{"train": Dataset, "test": Dataset}``, as the registered factories in ttrain.data.factories do.
    """
    return declare(function, "dataset")


def metric(function: F | None = None, *, log_name: LogName | None = None,
           finish: Callable[[float], float] | None = None) -> Any:
    """Declare ``function`` a metric, so ``trainer.metrics`` may name it as ``pkg.module:function``.

    It is called as ``function(outputs, targets, **kwargs)`` with NumPy arrays and returns a float.
    Used bare (``@metric``) or with ``log_name`` (``@metric(log_name="top_{k}")``): the name its
    values are logged under (``val.<name>``, what a monitor names), a format string or a function
    filled with its keyword arguments (its defaults, overridden by the config's). Without it, a
    metric logs under its registered name, or the function's name when named by path.

    Per batch values are averaged over the samples; ``finish`` (when given) turns that average into
    the logged value, for a metric that is not itself a mean: perplexity returns each batch's mean
    cross-entropy and finishes with ``exp``, so it is the exp of the mean over every sample.
    """

    def mark(target: F) -> F:
        if log_name is not None:
            setattr(target, _LOG_NAME, log_name)
        if finish is not None:
            setattr(target, _FINISH, finish)
        return declare(target, "metric")

    return mark if function is None else mark(function)


def log_name_of(function: Any, default: str, kwargs: Mapping[str, Any]) -> str:
    """The name a metric declared with ``metric(log_name=...)`` logs under for ``kwargs``; else ``default``."""
    declared = inspect.getattr_static(function, _LOG_NAME, None)
    if declared is None:
        return default
    return str(declared(**kwargs) if callable(declared) else declared.format(**kwargs))


def finish_of(function: Any) -> Callable[[float], float] | None:
    """The ``finish`` a metric was declared with (see `metric`), or None."""
    return inspect.getattr_static(function, _FINISH, None)
