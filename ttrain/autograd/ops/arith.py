"""Elementwise arithmetic: + - * / ** neg exp log sqrt abs clamp maximum minimum where."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ttrain.autograd.function import Function, unbroadcast
from ttrain.autograd.ops.errors import broadcast_error

_FLOAT64 = np.dtype(np.float64)


def broadcasting(ufunc: Callable[..., np.ndarray], name: str, a: Any, b: Any) -> np.ndarray:
    """`ufunc(a, b)` with PyTorch's result dtype and an error that names the op and both shapes.

    NumPy turns integers mixed with a Python float, and integer true division, into float64;
    PyTorch gives its default float32, and so do we. float64 inputs stay float64.
    """
    try:
        out = ufunc(a, b)
    except ValueError:
        try:
            np.broadcast_shapes(np.shape(a), np.shape(b))
        except ValueError:
            raise broadcast_error(name, a, b) from None
        raise  # broadcastable, so the failure is another one (e.g. integers to negative powers)
    if out.dtype is _FLOAT64 and not (_is_float64(a) or _is_float64(b)):
        out = out.astype(np.float32)
    return out


def _is_float64(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.dtype == _FLOAT64


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        return broadcasting(np.add, "add", a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.parents
        need_a, need_b = ctx.needs_input_grad
        return (unbroadcast(grad, a.shape) if need_a else None, unbroadcast(grad, b.shape) if need_b else None)


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        return broadcasting(np.subtract, "sub", a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.parents
        need_a, need_b = ctx.needs_input_grad
        return (unbroadcast(grad, a.shape) if need_a else None, unbroadcast(-grad, b.shape) if need_b else None)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return broadcasting(np.multiply, "mul", a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (
            unbroadcast(grad * b, a.shape) if need_a else None,
            unbroadcast(grad * a, b.shape) if need_b else None,
        )


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        out = broadcasting(np.true_divide, "div", a, b)
        ctx.save_for_backward(b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        b, out = ctx.saved_tensors
        a_in, b_in = ctx.parents
        need_a, need_b = ctx.needs_input_grad
        ga = grad / b
        return (
            unbroadcast(ga, a_in.shape) if need_a else None,
            unbroadcast(-ga * out, b_in.shape) if need_b else None,
        )


class Pow(Function):
    """a ** b. As in PyTorch, d/da is 0 where b == 0 and d/db is 0 where a == 0 and b >= 0."""

    @staticmethod
    def forward(ctx, a, b):
        out = broadcasting(np.power, "pow", a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved_tensors
        a_in, b_in = ctx.parents
        need_a, need_b = ctx.needs_input_grad
        ga = gb = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if need_a:
                ga = grad * b * np.power(a, b - 1)
                if np.any(b == 0):
                    ga = np.where(b == 0, 0, ga)
                ga = unbroadcast(ga, a_in.shape)
            if need_b:
                # `a` may be a Python number (2 ** x): log it in the output's dtype, not float64
                a = np.asarray(a, dtype=out.dtype)
                gb = unbroadcast(np.where((a == 0) & (b >= 0), 0, grad * out * np.log(a)), b_in.shape)
        return ga, gb


class Maximum(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return broadcasting(np.maximum, "maximum", a, b)

    @staticmethod
    def backward(ctx, grad):
        return _split_between(ctx, grad, np.greater)


class Minimum(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return broadcasting(np.minimum, "minimum", a, b)

    @staticmethod
    def backward(ctx, grad):
        return _split_between(ctx, grad, np.less)


def _split_between(ctx: Function, grad: np.ndarray, wins: Any) -> tuple[Any, Any]:
    """Gradient of max/min of two inputs: to the winner, split evenly on ties (as PyTorch)."""
    a, b = ctx.saved_tensors
    a_in, b_in = ctx.parents
    share_a = np.asarray(wins(a, b), dtype=grad.dtype)  # 0-d inputs give a scalar: make it an array
    share_a[a == b] = 0.5
    need_a, need_b = ctx.needs_input_grad
    return (
        unbroadcast(grad * share_a, a_in.shape) if need_a else None,
        unbroadcast(grad * (1 - share_a), b_in.shape) if need_b else None,
    )


class Where(Function):
    @staticmethod
    def forward(ctx, condition, a, b):
        condition = np.asarray(condition, dtype=bool)
        ctx.save_for_backward(condition)
        try:
            return np.where(condition, a, b)
        except ValueError:
            raise broadcast_error("where", condition, a, b) from None

    @staticmethod
    def backward(ctx, grad):
        (condition,) = ctx.saved_tensors
        _, a, b = ctx.parents
        _, need_a, need_b = ctx.needs_input_grad
        zero = np.zeros((), dtype=grad.dtype)
        return (
            None,
            unbroadcast(np.where(condition, grad, zero), a.shape) if need_a else None,
            unbroadcast(np.where(condition, zero, grad), b.shape) if need_b else None,
        )


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return np.negative(a)

    @staticmethod
    def backward(ctx, grad):
        return -grad


class Exp(Function):
    @staticmethod
    def forward(ctx, a):
        out = np.exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.saved_tensors[0]


class Log(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.log(a)

    @staticmethod
    def backward(ctx, grad):
        return grad / ctx.saved_tensors[0]


class Sqrt(Function):
    @staticmethod
    def forward(ctx, a):
        out = np.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad / (2 * ctx.saved_tensors[0])


class Abs(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.abs(a)

    @staticmethod
    def backward(ctx, grad):
        return grad * np.sign(ctx.saved_tensors[0])


class Clamp(Function):
    """Limit to [lo, hi] (either may be None); the gradient passes where lo <= a <= hi, as in PyTorch."""

    @staticmethod
    def forward(ctx, a, lo, hi):
        if lo is None and hi is None:
            raise ValueError("clamp: at least one of min and max must be given")
        ctx.save_for_backward(a, lo, hi)
        return np.clip(a, lo, hi)

    @staticmethod
    def backward(ctx, grad):
        a, lo, hi = ctx.saved_tensors
        inside = np.ones(a.shape, dtype=bool)
        if lo is not None:
            inside &= a >= lo
        if hi is not None:
            inside &= a <= hi
        return unbroadcast(grad * inside, a.shape), None, None


class Sin(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.sin(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * np.cos(a)


class Cos(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.cos(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return -grad * np.sin(a)


class Log1p(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.log1p(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / (1 + a)


class Step(Function):
    """A piecewise-constant function (floor, ceil, round, trunc, sign): zero gradient, as in PyTorch."""

    @staticmethod
    def forward(ctx, a, fn):
        return fn(a)

    @staticmethod
    def backward(ctx, grad):
        return np.zeros_like(grad)
