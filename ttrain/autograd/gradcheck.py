"""Numerical gradient checking: compare backward() with central finite differences in float64."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ttrain.autograd.grad_mode import enable_grad, no_grad
from ttrain.autograd.tensor import Tensor


class GradcheckError(AssertionError):
    """Analytical and numerical gradients disagree; the message says where and by how much."""


def _scalar_output(fn: Callable[..., Any], inputs: Sequence[Tensor], weights: list[np.ndarray] | None) -> Any:
    out = fn(*inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return outs


def gradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Tensor] | Tensor,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    seed: int = 0,
) -> bool:
    """Check the gradients of `fn` at `inputs` against finite differences.

    Every input that requires grad must be float64. Outputs are reduced to a scalar with fixed
    random weights, so each element of each output is checked.
    """
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    checked = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad")
    for t in checked:
        if t.dtype != np.float64:
            raise ValueError(f"gradcheck: inputs must be float64 for accurate differences, got {t.dtype}")

    with no_grad():
        outs = [o for o in _scalar_output(fn, inputs, None) if isinstance(o, Tensor)]
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal(o.shape) for o in outs]

    def objective() -> float:
        with no_grad():
            results = [o for o in _scalar_output(fn, inputs, None) if isinstance(o, Tensor)]
        return float(sum(np.sum(r.data * w) for r, w in zip(results, weights)))

    for t in checked:
        t.grad = None
    with enable_grad():
        results = [o for o in _scalar_output(fn, inputs, None) if isinstance(o, Tensor)]
        total = None
        for r, w in zip(results, weights):
            if not r.requires_grad:
                continue
            term = (r * Tensor._wrap(w, False)).sum()
            total = term if total is None else total + term
    if total is not None:
        total.backward()

    for index, t in enumerate(inputs):
        if not (isinstance(t, Tensor) and t.requires_grad):
            continue
        analytical = np.zeros_like(t.data) if t.grad is None else t.grad.data
        numerical = np.zeros_like(t.data)
        flat = t.data.reshape(-1)
        for i in range(flat.size):
            original = flat[i]
            flat[i] = original + eps
            plus = objective()
            flat[i] = original - eps
            minus = objective()
            flat[i] = original
            numerical.reshape(-1)[i] = (plus - minus) / (2 * eps)
        if not np.allclose(analytical, numerical, atol=atol, rtol=rtol):
            worst = np.unravel_index(np.argmax(np.abs(analytical - numerical)), t.shape) if t.data.size else ()
            message = (
                f"gradcheck: gradient of input {index} (shape {t.shape}) differs at {worst}: "
                f"backward {analytical[worst]!r} vs numerical {numerical[worst]!r}"
            )
            if raise_exception:
                raise GradcheckError(message)
            return False
    return True
