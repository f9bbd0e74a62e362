"""Activations written as single ops: each has a cheap closed-form gradient and a stable forward."""

from __future__ import annotations

import math

import numpy as np

from ttrain.autograd import parallel
from ttrain.autograd.function import Function
from ttrain.autograd.ops.dims import canonical_dim

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def stable_sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)), finite for any x and accurate to ~1 ulp, also for tiny results."""
    if x.ndim and x.dtype.char in "fd":
        # PyTorch's formula in one buffer (4 NumPy calls, not 7): where exp(-x) overflows to inf the
        # result is 1/inf = 0, its correct value to below float32's (float64's) normal range.
        out = np.negative(x)
        with np.errstate(over="ignore"):
            np.exp(out, out=out)
        out += 1
        return np.reciprocal(out, out=out)
    # 0-d, float16 and integer inputs: exp(-|x|) never overflows (float16's exp(-x) would from x < -11).
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0, e) / (1.0 + e)


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, elementwise, via a Numba kernel loaded on first use."""
    from ttrain.autograd.kernels.elementwise import erf as _erf

    return _erf(x)


class ReLU(Function):
    @staticmethod
    def forward(ctx, x):
        out = parallel.relu(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        return parallel.relu_grad(grad, ctx.saved_tensors[0])


class LeakyReLU(Function):
    @staticmethod
    def forward(ctx, x, negative_slope=0.01):
        ctx.save_for_backward(x)
        ctx.slope = negative_slope
        return np.where(x > 0, x, x * negative_slope)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return np.where(x > 0, grad, grad * ctx.slope)


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, x):
        out = stable_sigmoid(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        out = ctx.saved_tensors[0]
        g = np.subtract(1, out)  # grad * (1 - out) * out, PyTorch's order, in one new array
        g *= grad
        g *= out
        return g


class Tanh(Function):
    @staticmethod
    def forward(ctx, x):
        out = np.tanh(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        out = ctx.saved_tensors[0]
        return grad * (1 - out * out)


class Softplus(Function):
    """log(1 + exp(beta * x)) / beta, linear above `threshold` as in PyTorch."""

    @staticmethod
    def forward(ctx, x, beta=1.0, threshold=20.0):
        bx = x * beta
        ctx.save_for_backward(bx)
        ctx.threshold = threshold
        soft = (np.maximum(bx, 0) + np.log1p(np.exp(-np.abs(bx)))) / beta
        return np.where(bx > threshold, x, soft).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (bx,) = ctx.saved_tensors
        return grad * np.where(bx > ctx.threshold, 1.0, stable_sigmoid(bx)).astype(grad.dtype, copy=False)


class GELU(Function):
    """x * Phi(x); `approximate="tanh"` uses the tanh formula, as PyTorch does."""

    @staticmethod
    def forward(ctx, x, approximate="none"):
        if approximate not in ("none", "tanh"):
            raise ValueError(f"gelu: approximate must be 'none' or 'tanh', not {approximate!r}")
        ctx.approximate = approximate
        if approximate == "tanh":
            ctx.save_for_backward(x)
            return 0.5 * x * (1 + np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x**3)))
        # Phi(x) is kept for backward: erf is the costly part of both passes, so it runs once.
        if x.dtype.char in "fd":
            from ttrain.autograd.kernels.elementwise import gelu

            out, cdf = gelu(x)  # one vectorised pass (the float32 erf is the kernel's rational one)
        else:
            cdf = erf(x * _INV_SQRT_2)
            cdf += 1
            cdf *= 0.5
            out = x * cdf
        ctx.save_for_backward(x, cdf)
        return out

    @staticmethod
    def backward(ctx, grad):
        if ctx.approximate == "tanh":
            (x,) = ctx.saved_tensors
            inner = _SQRT_2_OVER_PI * (x + 0.044715 * x**3)
            t = np.tanh(inner)
            d_inner = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
            return grad * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * d_inner)
        x, cdf = ctx.saved_tensors
        if x.shape != np.shape(grad) or not x.ndim:
            return grad * (cdf + x * (_INV_SQRT_2PI * np.exp(-0.5 * x * x)))
        # grad * (cdf + x * pdf(x)), in one buffer, in shares over the kernel threads when large
        # (NumPy's exp is vectorised, Numba's is not)
        g = np.empty(x.shape, dtype=np.result_type(x, cdf, grad))
        flat_x, flat_cdf, flat_grad, flat_g = (np.reshape(a, -1) for a in (x, cdf, grad, g))

        def share(i: int, j: int) -> None:
            xi, gi = flat_x[i:j], flat_g[i:j]
            np.multiply(xi, xi, out=gi)
            gi *= -0.5
            np.exp(gi, out=gi)
            gi *= xi
            gi *= _INV_SQRT_2PI
            gi += flat_cdf[i:j]
            gi *= flat_grad[i:j]

        parallel.over_rows(g.size, g.size, share)
        return g


def _softmax_axis(x: np.ndarray, dim: int, op: str) -> int | None:
    """The axis to normalise over; None for a 0-d tensor, whose softmax is 1."""
    axis = canonical_dim(dim, x.ndim, op)
    return axis if x.ndim else None


class Softmax(Function):
    @staticmethod
    def forward(ctx, x, dim=-1):
        axis = ctx.axis = _softmax_axis(x, dim, "softmax")
        if x.size == 0:
            return x.copy()
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        out = e / e.sum(axis=axis, keepdims=True)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        if grad.size == 0:
            return grad
        out = ctx.saved_tensors[0]
        return out * (grad - (grad * out).sum(axis=ctx.axis, keepdims=True))


def log_softmax_array(x: np.ndarray, dim: int | None = -1) -> np.ndarray:
    """log(softmax(x)) computed as x - max - log(sum(exp(x - max))): finite for huge logits."""
    if x.size == 0:
        return x.copy()
    shifted = x - x.max(axis=dim, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, x, dim=-1):
        axis = ctx.axis = _softmax_axis(x, dim, "log_softmax")
        out = log_softmax_array(x, axis)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        out = ctx.saved_tensors[0]
        return grad - np.exp(out) * grad.sum(axis=ctx.axis, keepdims=True)
