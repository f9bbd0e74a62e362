"""Parameter initialisation, as in `torch.nn.init`: fills tensors in place, keeping their dtype.

Every random fill draws from `generator` (the global stream that `ttrain.manual_seed` seeds, by
default), so one seed reproduces a network's initial weights. No graph is recorded: the values
are written straight into the tensor's array.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

from ttrain.autograd.tensor import Tensor, unwrap
from ttrain.random import Generator, resolve

FanMode = Literal["fan_in", "fan_out"]


def _array(tensor: Any) -> np.ndarray:
    array = unwrap(tensor)
    if isinstance(array, np.ndarray):
        return array
    raise TypeError(f"init: expects a ttrain Tensor (or numpy array) to fill, not {type(tensor).__name__}")


def _uniform01(shape: tuple[int, ...], dtype: np.dtype, generator: Generator | None) -> np.ndarray:
    """Uniform [0, 1) draws, made directly in float32/float64 (other dtypes are cast)."""
    draw_dtype = dtype if dtype in (np.float32, np.float64) else np.float64
    return resolve(generator).random(shape, dtype=draw_dtype)


def _standard_normal(shape: tuple[int, ...], dtype: np.dtype, generator: Generator | None) -> np.ndarray:
    draw_dtype = dtype if dtype in (np.float32, np.float64) else np.float64
    return resolve(generator).standard_normal(shape, dtype=draw_dtype)


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's table): relu sqrt(2), tanh 5/3, ..."""
    linear_fns = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor: Any) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight laid out as (out, in, *kernel), as PyTorch computes them."""
    shape = _array(tensor).shape
    if len(shape) < 2:
        raise ValueError(
            f"fan in and fan out can not be computed for a tensor with fewer than 2 dimensions (shape {shape})"
        )
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def _calculate_correct_fan(tensor: Any, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode {mode!r} not supported, please use one of 'fan_in', 'fan_out'")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Fill with draws from U(a, b)."""
    array = _array(tensor)
    array[...] = a + (b - a) * _uniform01(array.shape, array.dtype, generator)
    return tensor


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Fill with draws from N(mean, std**2)."""
    array = _array(tensor)
    array[...] = mean + std * _standard_normal(array.shape, array.dtype, generator)
    return tensor


def trunc_normal_(
    tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
    generator: Generator | None = None,
) -> Tensor:
    """Fill with N(mean, std**2) draws restricted to [a, b] (absolute bounds, as in PyTorch).

    Draws outside the bounds are redrawn (rejection sampling: exact, and fast whenever [a, b]
    holds a fair share of the distribution; an interval holding less than 0.1% is refused).
    """
    if std <= 0 or not a < b:
        raise ValueError(f"trunc_normal_: needs std > 0 and a < b, got std={std}, a={a}, b={b}")
    lo, hi = (a - mean) / std, (b - mean) / std
    mass = 0.5 * (math.erf(hi / math.sqrt(2)) - math.erf(lo / math.sqrt(2)))
    if mass < 1e-3:
        raise ValueError(f"trunc_normal_: [a, b] = [{a}, {b}] holds only {mass:.2e} of N({mean}, {std}**2)")
    array = _array(tensor)
    values = _standard_normal(array.shape, array.dtype, generator).reshape(-1)
    outside = np.flatnonzero((values < lo) | (values > hi))
    while outside.size:
        redraw = _standard_normal((outside.size,), values.dtype, generator)
        values[outside] = redraw
        outside = outside[(redraw < lo) | (redraw > hi)]
    array[...] = np.clip(mean + std * values.reshape(array.shape), a, b)
    return tensor


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with `val`."""
    _array(tensor)[...] = val
    return tensor


def ones_(tensor: Tensor) -> Tensor:
    """Fill with ones."""
    return constant_(tensor, 1.0)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with zeros."""
    return constant_(tensor, 0.0)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Glorot uniform: U(-r, r) with r = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / float(fan_in + fan_out)) if fan_in + fan_out else 0.0
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Glorot normal: N(0, std**2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out)) if fan_in + fan_out else 0.0
    return normal_(tensor, 0.0, std, generator)


def _kaiming_std(tensor: Any, a: float, mode: str, nonlinearity: str) -> float | None:
    """std = gain / sqrt(fan); None for a zero-element tensor (nothing to fill, as PyTorch)."""
    if _array(tensor).size == 0:
        return None
    fan = _calculate_correct_fan(tensor, mode)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(
    tensor: Tensor, a: float = 0.0, mode: FanMode = "fan_in", nonlinearity: str = "leaky_relu",
    generator: Generator | None = None,
) -> Tensor:
    """He uniform: U(-r, r) with r = sqrt(3) * gain / sqrt(fan); `a` is the leaky-ReLU slope."""
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(
    tensor: Tensor, a: float = 0.0, mode: FanMode = "fan_in", nonlinearity: str = "leaky_relu",
    generator: Generator | None = None,
) -> Tensor:
    """He normal: N(0, std**2) with std = gain / sqrt(fan)."""
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    return normal_(tensor, 0.0, std, generator)
