"""Anomaly detection: stop at the first op whose forward output or backward gradient is NaN or infinite.

As PyTorch's ``torch.autograd.detect_anomaly``: inside ``with detect_anomaly():`` every op checks
what it computes, and the first non-finite value raises `AnomalyError` naming the op and the
phase (``log (in forward)``, ``div backward``). Checking every array costs a pass over it, so it
is off by default; off, it costs one attribute test per op in `Function.apply`, and one test
of a local flag per node in the engine.

The flag is process-wide, not per thread (a per-thread flag would be a thread-local lookup on
every op): turn it on around a whole training run, as ``trainer.detect_anomaly`` does.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any, Sequence

import numpy as np


class _AnomalyState:
    """The switch `Function.apply` and the engine read (a plain attribute: the cheapest test)."""

    enabled: bool = False


ANOMALY = _AnomalyState()


class AnomalyError(RuntimeError):
    """An op produced a NaN or an infinity with anomaly detection on.

    ``op`` is the op's name (``log``), ``phase`` ``"forward"`` or ``"backward"``.
    """

    def __init__(self, op: str, phase: str, detail: str) -> None:
        self.op = op
        self.phase = phase
        self.where = f"{op} (in forward)" if phase == "forward" else f"{op} backward"
        super().__init__(f"{self.where} {detail}")


def is_anomaly_enabled() -> bool:
    """True inside `detect_anomaly`."""
    return ANOMALY.enabled


class detect_anomaly(contextlib.ContextDecorator):
    """Check every op's output and every gradient inside the block; a context manager or decorator."""

    def __init__(self) -> None:
        self._previous: list[bool] = []

    def __enter__(self) -> None:
        self._previous.append(ANOMALY.enabled)
        ANOMALY.enabled = True

    def __exit__(self, *exc: object) -> None:
        ANOMALY.enabled = self._previous.pop()


def op_name(function: type) -> str:
    """``LogSoftmax`` -> ``log_softmax``: the name an op goes by in messages."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", function.__name__).lower()


def non_finite_kind(value: Any) -> str | None:
    """``"nan"``, ``"inf"`` or ``"-inf"`` for the first non-finite element of a float array, else None."""
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "fc":
        return None
    finite = np.isfinite(value)
    if finite.all():
        return None
    first = value.reshape(-1)[np.argmin(finite.reshape(-1))]
    return "nan" if np.isnan(first) else str(float(np.real(first)))


def _inputs_note(inputs: Sequence[Any]) -> str:
    bad = [i for i, value in enumerate(inputs) if non_finite_kind(value) is not None]
    if not bad:
        return " from finite inputs"
    return f"; its input {bad[0]} was already non-finite (the data or a parameter, not an op)"


def check_forward(function: type, inputs: Sequence[Any], output: Any) -> None:
    """Raise `AnomalyError` if ``output`` (of op ``function`` on ``inputs``) holds a NaN or infinity."""
    kind = non_finite_kind(output)
    if kind is not None:
        raise AnomalyError(op_name(function), "forward", f"produced {kind}{_inputs_note(inputs)}")


def check_backward(ctx: Any, grad: np.ndarray, input_grads: Sequence[Any]) -> None:
    """Raise `AnomalyError` if a gradient ``ctx.backward`` returned holds a NaN or infinity."""
    for index, value in enumerate(input_grads):
        kind = non_finite_kind(value)
        if kind is not None:
            came = "" if non_finite_kind(grad) is None else " (the gradient it received was already non-finite)"
            raise AnomalyError(op_name(type(ctx)), "backward", f"produced {kind} in the gradient of its input {index}{came}")
