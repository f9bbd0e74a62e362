"""Tensor factories: `tensor`, `as_tensor`, `from_numpy`, `zeros`, `ones`, `empty`, `full`, `randn`, `rand`,
`arange`, `*_like`. Each takes PyTorch's `device=` too, which must be the CPU (`ttrain.device`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ttrain.autograd.ops.shape import shape_arg
from ttrain.autograd.tensor import Tensor
from ttrain.devices import require_cpu
from ttrain.random import Generator, resolve


def _make(array: np.ndarray, requires_grad: bool) -> Tensor:
    t = Tensor._wrap(array, False)
    return t.requires_grad_(True) if requires_grad else t


def _float(dtype: Any) -> np.dtype:
    return np.dtype(np.float32 if dtype is None else dtype)


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """A new tensor copying `data`; Python floats become float32, ints int64, arrays keep their dtype."""
    require_cpu(device)
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with `array`, keeping its dtype."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects a numpy.ndarray, not {type(array).__name__}")
    return Tensor._wrap(array, False)


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """A tensor of zeros."""
    require_cpu(device)
    return _make(np.zeros(shape_arg(size), dtype=_float(dtype)), requires_grad)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """A tensor of ones."""
    require_cpu(device)
    return _make(np.ones(shape_arg(size), dtype=_float(dtype)), requires_grad)


def _size(size: Any) -> tuple[int, ...]:
    return (size,) if isinstance(size, (int, np.integer)) else tuple(size)


def full(size: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """A tensor filled with `fill_value`; the dtype follows the value (bool, int64, else float32)."""
    require_cpu(device)
    if dtype is None:
        dtype = Tensor(fill_value).dtype
    return _make(np.full(_size(size), fill_value, dtype=dtype), requires_grad)


def randn(*size: Any, dtype: Any = None, generator: Generator | None = None, requires_grad: bool = False,
          device: Any = None) -> Tensor:
    """Standard normal samples from `generator` (the global stream by default)."""
    require_cpu(device)
    dt = _float(dtype)
    return _make(resolve(generator).standard_normal(shape_arg(size), dtype=dt), requires_grad)


def rand(*size: Any, dtype: Any = None, generator: Generator | None = None, requires_grad: bool = False,
         device: Any = None) -> Tensor:
    """Uniform samples on [0, 1) from `generator` (the global stream by default)."""
    require_cpu(device)
    dt = _float(dtype)
    return _make(resolve(generator).random(shape_arg(size), dtype=dt), requires_grad)


def randint(low: int, high: Any = None, size: Any = None, generator: Generator | None = None,
            device: Any = None) -> Tensor:
    """Integers in [low, high) (int64); `randint(high, size)` draws from [0, high), as in PyTorch."""
    require_cpu(device)
    if size is None:
        low, high, size = 0, low, high
    return Tensor._wrap(resolve(generator).integers(low, high, size=_size(size), dtype=np.int64), False)


def randperm(n: int, generator: Generator | None = None, device: Any = None) -> Tensor:
    """A random permutation of 0..n-1 (int64)."""
    require_cpu(device)
    return Tensor._wrap(resolve(generator).permutation(n).astype(np.int64), False)


def arange(
    start: float, end: float | None = None, step: float = 1, dtype: Any = None, requires_grad: bool = False,
    device: Any = None,
) -> Tensor:
    """Evenly spaced values in [start, end); int64 for integer arguments, float32 otherwise."""
    require_cpu(device)
    if end is None:
        start, end = 0, start
    if dtype is None:
        all_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = np.int64 if all_int else np.float32
    return _make(np.arange(start, end, step, dtype=dtype), requires_grad)


def linspace(start: float, end: float, steps: int, dtype: Any = None, requires_grad: bool = False,
             device: Any = None) -> Tensor:
    """`steps` evenly spaced values from start to end inclusive."""
    require_cpu(device)
    return _make(np.linspace(start, end, steps, dtype=_float(dtype)), requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Identity matrix."""
    require_cpu(device)
    return _make(np.eye(n, m, dtype=_float(dtype)), requires_grad)


def _like_dtype(t: Tensor, dtype: Any) -> np.dtype:
    return np.dtype(dtype) if dtype is not None else t.data.dtype


def zeros_like(t: Tensor, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Zeros with `t`'s shape and dtype."""
    require_cpu(device)
    return _make(np.zeros(t.shape, dtype=_like_dtype(t, dtype)), requires_grad)


def ones_like(t: Tensor, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Ones with `t`'s shape and dtype."""
    require_cpu(device)
    return _make(np.ones(t.shape, dtype=_like_dtype(t, dtype)), requires_grad)


def full_like(t: Tensor, fill_value: float, dtype: Any = None, requires_grad: bool = False,
              device: Any = None) -> Tensor:
    """`fill_value` with `t`'s shape and dtype."""
    require_cpu(device)
    return _make(np.full(t.shape, fill_value, dtype=_like_dtype(t, dtype)), requires_grad)


def randn_like(t: Tensor, dtype: Any = None, generator: Generator | None = None, requires_grad: bool = False,
               device: Any = None) -> Tensor:
    """Standard normal samples with `t`'s shape and dtype."""
    require_cpu(device)
    return randn(*t.shape, dtype=_like_dtype(t, dtype), generator=generator, requires_grad=requires_grad)


def rand_like(t: Tensor, dtype: Any = None, generator: Generator | None = None, requires_grad: bool = False,
              device: Any = None) -> Tensor:
    """Uniform [0, 1) samples with `t`'s shape and dtype."""
    require_cpu(device)
    return rand(*t.shape, dtype=_like_dtype(t, dtype), generator=generator, requires_grad=requires_grad)


def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor (its values are whatever the memory held)."""
    require_cpu(device)
    return _make(np.empty(shape_arg(size), dtype=_float(dtype)), requires_grad)


def empty_like(t: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor with `t`'s shape and dtype."""
    require_cpu(device)
    return _make(np.empty(t.shape, dtype=_like_dtype(t, dtype)), requires_grad)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """`data` as a tensor, sharing memory with a tensor or NumPy array of the same dtype, else a copy."""
    require_cpu(device)
    if isinstance(data, Tensor) and (dtype is None or np.dtype(dtype) == data.dtype):
        return data
    if isinstance(data, np.ndarray) and (dtype is None or np.dtype(dtype) == data.dtype):
        return Tensor._wrap(data, False)
    return Tensor(data, dtype=dtype)
