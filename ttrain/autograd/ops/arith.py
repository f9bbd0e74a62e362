"""Elementwise arithmetic: + - * / ** neg exp log sqrt abs clamp maximum minimum where."""

from __future__ import annotations

from typing import Any

import numpy as np

from ttrain.autograd.function import Function, unbroadcast
from ttrain.autograd.ops.errors import broadcast_error


class _Binary(Function):
    """Shared forward for broadcasting binary ops: runs `_op` and names both shapes on failure."""

    name = ""

    @staticmethod
    def _op(a: Any, b: Any) -> np.ndarray:
        raise NotImplementedError

    @classmethod
    def _compute(cls, ctx: Function, a: Any, b: Any) -> np.ndarray:
        try:
            return cls._op(a, b)
        except ValueError:
            raise broadcast_error(cls.name, a, b) from None


class Add(_Binary):
    name = "add"
    _op = staticmethod(np.add)

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (np.shape(a), np.shape(b))
        return Add._compute(ctx, a, b)

    @staticmethod
    def backward(ctx, grad):
        sa, sb = ctx.shapes
        need_a, need_b = ctx.needs_input_grad
        return (unbroadcast(grad, sa) if need_a else None, unbroadcast(grad, sb) if need_b else None)


class Sub(_Binary):
    name = "sub"
    _op = staticmethod(np.subtract)

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (np.shape(a), np.shape(b))
        return Sub._compute(ctx, a, b)

    @staticmethod
    def backward(ctx, grad):
        sa, sb = ctx.shapes
        need_a, need_b = ctx.needs_input_grad
        return (unbroadcast(grad, sa) if need_a else None, unbroadcast(-grad, sb) if need_b else None)


class Mul(_Binary):
    name = "mul"
    _op = staticmethod(np.multiply)

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return Mul._compute(ctx, a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (
            unbroadcast(grad * b, np.shape(a)) if need_a else None,
            unbroadcast(grad * a, np.shape(b)) if need_b else None,
        )


class Div(_Binary):
    name = "div"
    _op = staticmethod(np.true_divide)

    @staticmethod
    def forward(ctx, a, b):
        out = Div._compute(ctx, a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        ga = grad / b
        return (
            unbroadcast(ga, np.shape(a)) if need_a else None,
            unbroadcast(-ga * out, np.shape(b)) if need_b else None,
        )


class Pow(_Binary):
    name = "pow"
    _op = staticmethod(np.power)

    @staticmethod
    def forward(ctx, a, b):
        out = Pow._compute(ctx, a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        ga = gb = None
        if need_a:
            ga = unbroadcast(grad * b * np.power(a, b - 1), np.shape(a))
        if need_b:
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = unbroadcast(grad * out * np.log(a), np.shape(b))
        return ga, gb


class Maximum(_Binary):
    name = "maximum"
    _op = staticmethod(np.maximum)

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return Maximum._compute(ctx, a, b)

    @staticmethod
    def backward(ctx, grad):
        return _split_between(ctx, grad, np.greater)


class Minimum(_Binary):
    name = "minimum"
    _op = staticmethod(np.minimum)

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return Minimum._compute(ctx, a, b)

    @staticmethod
    def backward(ctx, grad):
        return _split_between(ctx, grad, np.less)


def _split_between(ctx: Function, grad: np.ndarray, wins: Any) -> tuple[Any, Any]:
    """Gradient of max/min of two inputs: to the winner, split evenly on ties (as PyTorch)."""
    a, b = ctx.saved_tensors
    share_a = wins(a, b) + 0.5 * (a == b)
    need_a, need_b = ctx.needs_input_grad
    return (
        unbroadcast(grad * share_a, np.shape(a)) if need_a else None,
        unbroadcast(grad * (1.0 - share_a), np.shape(b)) if need_b else None,
    )


class Where(Function):
    @staticmethod
    def forward(ctx, condition, a, b):
        condition = np.asarray(condition, dtype=bool)
        ctx.save_for_backward(condition)
        ctx.shapes = (np.shape(a), np.shape(b))
        try:
            return np.where(condition, a, b)
        except ValueError:
            raise broadcast_error("where", a, b) from None

    @staticmethod
    def backward(ctx, grad):
        (condition,) = ctx.saved_tensors
        sa, sb = ctx.shapes
        _, need_a, need_b = ctx.needs_input_grad
        zero = np.zeros((), dtype=grad.dtype)
        return (
            None,
            unbroadcast(np.where(condition, grad, zero), sa) if need_a else None,
            unbroadcast(np.where(condition, zero, grad), sb) if need_b else None,
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
    @staticmethod
    def forward(ctx, a, lo=None, hi=None):
        if lo is None and hi is None:
            raise ValueError("clamp: at least one of min and max must be given")
        ctx.save_for_backward(a)
        ctx.bounds = (lo, hi)
        return np.clip(a, lo, hi)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        lo, hi = ctx.bounds
        inside = np.ones(a.shape, dtype=bool)
        if lo is not None:
            inside &= a >= lo
        if hi is not None:
            inside &= a <= hi
        return grad * inside
