"""Numerical gradient checking: compare backward() with central finite differences in float64."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ttrain.autograd.grad_mode import enable_grad, no_grad
from ttrain.autograd.tensor import Tensor


class GradcheckError(AssertionError):
    """Analytical and numerical gradients disagree; the message says where and by how much."""


def _float_outputs(fn: Callable[..., Any], inputs: Sequence[Any]) -> list[Tensor]:
    """The floating-point tensors `fn` returns (indices and masks have no gradient)."""
    out = fn(*inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in outs if isinstance(o, Tensor) and o.dtype.kind == "f"]


def gradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Any] | Tensor,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    seed: int = 0,
) -> bool:
    """Check the gradients of `fn` at `inputs` against central finite differences.

    Every input that requires grad must be float64. The float outputs are reduced to one scalar
    with fixed random weights (drawn from `seed`), so every element of every output is checked.
    Returns True, or raises `GradcheckError` (returns False with `raise_exception=False`).
    """
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    checked = [(i, t) for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad")
    for _, t in checked:
        if t.dtype != np.float64:
            raise ValueError(f"gradcheck: inputs must be float64 for accurate differences, got {t.dtype}")

    with no_grad():
        shapes = [o.shape for o in _float_outputs(fn, inputs)]
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal(s) for s in shapes]

    def objective() -> float:
        with no_grad():
            return float(sum(np.sum(o.data * w) for o, w in zip(_float_outputs(fn, inputs), weights)))

    for _, t in checked:
        t.grad = None
    with enable_grad():
        terms = [(o * w).sum() for o, w in zip(_float_outputs(fn, inputs), weights) if o.requires_grad]
    if terms:
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        total.backward()

    for index, t in checked:
        analytical = np.zeros_like(t.data) if t.grad is None else t.grad.data
        numerical = np.zeros_like(t.data)
        for i in np.ndindex(t.shape):  # element by element, whatever the array's memory layout
            original = t.data[i]
            t.data[i] = original + eps
            plus = objective()
            t.data[i] = original - eps
            minus = objective()
            t.data[i] = original
            numerical[i] = (plus - minus) / (2 * eps)
        if not np.allclose(analytical, numerical, atol=atol, rtol=rtol):
            worst = tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(analytical - numerical)), t.shape))
            message = (
                f"gradcheck: gradient of input {index} (shape {t.shape}) differs at {worst}: "
                f"backward {float(analytical[worst])!r} vs numerical {float(numerical[worst])!r}"
            )
            if raise_exception:
                raise GradcheckError(message)
            return False
    return True
