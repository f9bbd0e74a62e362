"""Where a NaN came from: the step, the module (and with ``trainer.detect_anomaly``, the op).

`check_step` runs after every backward pass, before the optimizer step, so the weights are still
those that produced the bad value:

- a non-finite loss re-runs the batch's forward with every module's ``forward`` wrapped, and
  names the first module (in the order they finish) whose output is non-finite, e.g.
  ``model.layers.3 (Linear)``, or says that the input batch already was;
- a finite loss with a non-finite gradient names the parameter nearest the loss whose gradient is
  non-finite (gradients flow from the loss back, so that is where it started).

`watch_anomalies` wraps a whole run: with ``detect_anomaly`` on, it runs it inside
`ttrain.autograd.detect_anomaly` and keeps the module wrappers on, so the first op that produces
a NaN stops the run with the op, the module it ran in, and the step. Off, it does nothing.

The wrappers shadow ``forward`` on each module instance and are removed afterwards: ``Module``
keeps no hook machinery on its hot path.
"""

from __future__ import annotations

import contextlib
import math
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np

from ttrain.autograd.anomaly import AnomalyError, detect_anomaly, non_finite_kind
from ttrain.autograd.tensor import unwrap

if TYPE_CHECKING:
    from ttrain.training.trainer import Trainer

_MISSING = object()
_ADVICE = "try a lower learning rate or gradient clipping (trainer.grad_clip)"


def _where(trainer: "Trainer") -> str:
    """The step being taken (epochs and steps count from 1; it is not yet counted), or the
    evaluation that follows the epoch's last step (the model is in eval mode only then)."""
    if not getattr(trainer.model, "training", True):
        return f"the evaluation of epoch {trainer.epoch + 1} (after step {trainer.global_step})"
    return f"epoch {trainer.epoch + 1}, step {trainer.global_step + 1}"


def _arrays(value: Any) -> Iterator[np.ndarray]:
    """The arrays in a module's output: a Tensor, an array, or tuples, lists and dicts of them."""
    if isinstance(value, (list, tuple)):
        for item in value:
            yield from _arrays(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _arrays(item)
    else:
        data = unwrap(value)
        if isinstance(data, np.ndarray):
            yield data


def _first_kind(value: Any) -> str | None:
    return next((kind for array in _arrays(value) if (kind := non_finite_kind(array)) is not None), None)


def _label(name: str, module: Any) -> str:
    return f"{name} ({type(module).__name__})"


@contextlib.contextmanager
def _wrapped_forwards(modules: list[tuple[str, Any]], wrap: Callable[[str, Any, Callable], Callable]) -> Iterator[None]:
    """Shadow each module's ``forward`` with ``wrap(name, module, forward)`` on the instance, then restore it."""
    saved: list[tuple[Any, Any]] = []
    try:
        for name, module in modules:
            saved.append((module, module.__dict__.get("forward", _MISSING)))
            module.__dict__["forward"] = wrap(name, module, module.forward)
        yield
    finally:
        for module, own in saved:
            if own is _MISSING:
                del module.__dict__["forward"]
            else:
                module.__dict__["forward"] = own


def _named_modules(trainer: "Trainer") -> list[tuple[str, Any]]:
    """The model's modules by dotted name under ``model``, then the loss's under ``loss`` if it is a module."""
    modules = [(f"model.{name}" if name else "model", module) for name, module in trainer.model.named_modules()]
    if hasattr(trainer.loss_fn, "named_modules"):
        modules += [(f"loss.{name}" if name else "loss", m) for name, m in trainer.loss_fn.named_modules()]
    return modules


def _first_non_finite_module(trainer: "Trainer", inputs: Any, targets: Any) -> str:
    """Re-run the batch and say where its first non-finite value appears, as a clause for a message."""
    from ttrain.autograd.grad_mode import no_grad

    batch = unwrap(inputs)
    kind = _first_kind(inputs)
    if kind is not None:
        row = int(np.argmax(~np.isfinite(batch.reshape(len(batch), -1)).all(axis=1)))
        return f"the input batch already held {kind} (its row {row}): check the data"
    found: list[str] = []

    def wrap(name: str, module: Any, forward: Callable) -> Callable:
        def watched(*args: Any, **kwargs: Any) -> Any:
            output = forward(*args, **kwargs)
            if not found and (kind := _first_kind(output)) is not None:
                found.append(f"{_label(name, module)}, whose output held {kind} from finite inputs")
            return output
        return watched

    with no_grad(), _wrapped_forwards(_named_modules(trainer), wrap):
        trainer.loss_fn(trainer.model(inputs), targets)
    if found:
        return f"the first non-finite value came from {found[0]}"
    return "a re-run of the batch stayed finite (a random op such as dropout?)"


def _first_non_finite_gradient(trainer: "Trainer") -> tuple[str, str, int] | None:
    """``(parameter, kind, count)``: the parameter nearest the loss with a non-finite gradient, the
    kind of its first bad value, and how many parameters have one; None when all are finite."""
    bad = []
    for name, parameter in trainer.model.named_parameters():
        grad = parameter.grad
        if grad is not None and not np.isfinite(grad.data).all():
            bad.append((name, non_finite_kind(grad.data)))
    if not bad:
        return None
    name, kind = bad[-1]  # registration order runs input -> output; the loss's side is last
    owner = trainer.model.get_submodule(name.rpartition(".")[0])
    return f"model.{name} ({type(owner).__name__})", kind or "nan", len(bad)


def _gradients_finite(trainer: "Trainer") -> bool:
    """The every-step test: one BLAS dot product per gradient, no temporaries (NaN and inf carry
    into the sum). An overflow of finite values also reads as not finite, so a False only sends
    the caller to the exact, slower `_first_non_finite_gradient`."""
    total = 0.0
    for parameter in trainer.model.parameters():
        if parameter.grad is not None:
            flat = parameter.grad.data.reshape(-1)
            total += float(np.dot(flat, flat))
    return math.isfinite(total)


def check_step(trainer: "Trainer", inputs: Any, targets: Any, loss_value: float) -> None:
    """Stop with TrainingFailed naming the step and where, if the loss or any gradient is not finite.

    Call it after ``backward()`` and before the optimizer step.
    """
    from ttrain.training.trainer import TrainingFailed

    if not math.isfinite(loss_value):
        origin = _first_non_finite_module(trainer, inputs, targets)
        raise TrainingFailed(f"the loss became {loss_value} at {_where(trainer)}; {origin}; {_ADVICE}")
    if _gradients_finite(trainer):
        return
    found = _first_non_finite_gradient(trainer)
    if found is not None:
        parameter, kind, count = found
        others = f" (and {count - 1} more)" if count > 1 else ""
        raise TrainingFailed(
            f"a gradient became {kind} at {_where(trainer)} while the loss was finite: {parameter}{others} is the "
            f"parameter nearest the loss with a non-finite gradient; trainer.detect_anomaly: true names the op; {_ADVICE}"
        )


@contextlib.contextmanager
def watch_anomalies(trainer: "Trainer") -> Iterator[None]:
    """With ``trainer.detect_anomaly``, run the block under `detect_anomaly` and turn the first
    AnomalyError into TrainingFailed naming the op, the module it ran in, and the step."""
    if not trainer.detect_anomaly:
        yield
        return
    from ttrain.training.trainer import TrainingFailed

    innermost: list[str] = []  # the module an AnomalyError passed through first

    def wrap(name: str, module: Any, forward: Callable) -> Callable:
        def watched(*args: Any, **kwargs: Any) -> Any:
            try:
                return forward(*args, **kwargs)
            except AnomalyError:
                if not innermost:
                    innermost.append(_label(name, module))
                raise
        return watched

    try:
        with detect_anomaly(), _wrapped_forwards(_named_modules(trainer), wrap):
            yield
    except AnomalyError as error:
        inside = f" in {innermost[0]}" if innermost else ""
        raise TrainingFailed(f"a non-finite value appeared at {_where(trainer)}: {error}{inside}; {_ADVICE}") from None
