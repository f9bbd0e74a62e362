"""Tests on values: isnan, isfinite, isinf, isclose, all, any (boolean tensors, never differentiable)
and equal, allclose (plain Python bools), as in PyTorch."""

from __future__ import annotations

from typing import Any

import numpy as np

from ttrain.autograd.ops.dims import canonical_dims


def _tensor(array: Any) -> Any:
    from ttrain.autograd.tensor import Tensor

    return Tensor._wrap(np.asarray(array), False)


def _data(value: Any) -> Any:
    from ttrain.autograd.tensor import unwrap

    return unwrap(value)


def isnan(input: Any) -> Any:
    """True where the value is NaN."""
    return _tensor(np.isnan(input.data))


def isfinite(input: Any) -> Any:
    """True where the value is neither NaN nor infinite."""
    return _tensor(np.isfinite(input.data))


def isinf(input: Any) -> Any:
    """True where the value is +inf or -inf."""
    return _tensor(np.isinf(input.data))


def isclose(input: Any, other: Any, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> Any:
    """True where |input - other| <= atol + rtol * |other|."""
    return _tensor(np.isclose(input.data, _data(other), rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(input: Any, other: Any, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> bool:
    """Whether every element is close (`isclose`) to `other`'s."""
    return bool(np.allclose(input.data, _data(other), rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(input: Any, other: Any) -> bool:
    """Whether both tensors have the same shape and the same elements."""
    other = np.asarray(_data(other))
    return input.data.shape == other.shape and bool(np.array_equal(input.data, other))


def all(input: Any, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001  (PyTorch's name)
    """Whether every element (along `dim`) is true, as a boolean tensor."""
    return _tensor(np.all(input.data, axis=canonical_dims(dim, input.ndim, "all"), keepdims=keepdim))


def any(input: Any, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001
    """Whether some element (along `dim`) is true, as a boolean tensor."""
    return _tensor(np.any(input.data, axis=canonical_dims(dim, input.ndim, "any"), keepdims=keepdim))
