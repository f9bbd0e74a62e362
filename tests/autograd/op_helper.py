"""One helper for every op test, in the spirit of tinygrad's `helper_test_op`.

`check_op(shapes, fn, reference)` draws inputs of the given shapes and checks that
- the forward in float64 and in float32 matches a plain NumPy reference, keeping the dtype;
- the gradient of every input matches finite differences (`gradcheck`, float64);
- the op's own backward hands out float32 gradients for float32 inputs (no silent float64);
- no input is changed in place.
A new op's test is then a few lines over shapes drawn by hypothesis (see the strategies below).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import ttrain
from ttrain.autograd import gradcheck

# Small shapes keep gradcheck cheap; size-0 and size-1 sides are the edge cases that matter.
SETTINGS = settings(max_examples=20, deadline=None)
MAX_SIDE = 4


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 0) -> st.SearchStrategy:
    """Array shapes with up to `max_dims` dimensions of size `min_side`..4."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=MAX_SIDE)


def broadcastable(n: int = 2, min_dims: int = 0, max_dims: int = 3, min_side: int = 0) -> st.SearchStrategy:
    """Tuples of `n` shapes that broadcast together (NumPy's rules)."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=n, min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=MAX_SIDE
    ).map(lambda result: result.input_shapes)


def shape_and_dim(min_dims: int = 1, max_dims: int = 3, min_side: int = 0) -> st.SearchStrategy:
    """A shape and a valid dimension of it, negative half the time (0 or -1 for a 0-d shape)."""
    return shapes(min_dims, max_dims, min_side).flatmap(
        lambda s: st.tuples(st.just(s), st.integers(-max(len(s), 1), max(len(s), 1) - 1))
    )


def _as_list(value: Any, n: int) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value] * n


def check_op(
    shapes: Sequence[tuple[int, ...]],
    fn: Callable[..., ttrain.Tensor],
    reference: Callable[..., Any],
    *,
    low: float | Sequence[float] = -2.0,
    high: float | Sequence[float] = 2.0,
    grad: bool = True,
    rtol32: float = 1e-5,
    atol32: float = 1e-6,
    seed: int = 0,
) -> None:
    """Check `fn` (on ttrain tensors) against `reference` (on float64 NumPy arrays) and its gradient.

    Inputs are uniform in [low, high) (per input when sequences are given).
    """
    rng = np.random.default_rng(seed)
    lows, highs = _as_list(low, len(shapes)), _as_list(high, len(shapes))
    arrays = [rng.uniform(lo, hi, size=s) for s, lo, hi in zip(shapes, lows, highs)]

    for dtype, rtol, atol in ((np.float64, 1e-10, 1e-12), (np.float32, rtol32, atol32)):
        cast = [a.astype(dtype) for a in arrays]
        expected = np.asarray(reference(*[c.astype(np.float64) for c in cast]))
        inputs = [ttrain.tensor(c) for c in cast]
        out = fn(*inputs)
        assert out.dtype == dtype, f"{dtype.__name__} inputs gave a {out.dtype} output"
        assert out.shape == expected.shape, f"shape {out.shape}, NumPy gives {expected.shape}"
        np.testing.assert_allclose(out.data, expected, rtol=rtol, atol=atol)
        for c, t in zip(cast, inputs):
            np.testing.assert_array_equal(t.data, c, err_msg="the op changed its input in place")

    if not grad:
        return
    inputs64 = [ttrain.tensor(a, requires_grad=True) for a in arrays]
    assert gradcheck(fn, inputs64)
    _check_float32_backward(fn, arrays, inputs64)


def _check_float32_backward(fn: Callable[..., Any], arrays: list[np.ndarray], inputs64: list[ttrain.Tensor]) -> None:
    """The last op's backward keeps float32, and float32 gradients agree with float64 ones."""
    inputs = [ttrain.tensor(a.astype(np.float32), requires_grad=True) for a in arrays]
    out = fn(*inputs)
    if out.grad_fn is None:
        return
    g = np.ones_like(out.data)
    raw = out.grad_fn.backward(out.grad_fn, g)
    for r in raw if isinstance(raw, tuple) else (raw,):
        assert r is None or r.dtype == np.float32, f"{out.grad_fn!r} returned a {r.dtype} gradient"

    for t in inputs64:
        t.grad = None
    fn(*inputs64).backward(np.ones(out.shape))
    out.backward(g)
    for t32, t64 in zip(inputs, inputs64):
        if t64.grad is None:
            assert t32.grad is None
            continue
        assert t32.grad.dtype == np.float32 and t32.grad.shape == t32.shape
        np.testing.assert_allclose(t32.grad.data, t64.grad.data, rtol=1e-3, atol=1e-4)
