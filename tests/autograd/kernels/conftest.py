"""Helpers for the kernel tests: finite differences, torch on demand, bitwise comparison."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest


def _numerical_gradient(loss: Callable[[], float], array: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of `loss()` with respect to every element of `array` (changed in place,
    then restored)."""
    grad = np.empty(array.shape)
    flat, out = array.reshape(-1), grad.reshape(-1)
    for k in range(flat.size):
        keep = flat[k]
        flat[k] = keep + eps
        up = loss()
        flat[k] = keep - eps
        down = loss()
        flat[k] = keep
        out[k] = (up - down) / (2 * eps)
    return grad


@pytest.fixture
def numerical_gradient() -> Callable[..., np.ndarray]:
    """`numerical_gradient(loss, array)`: d loss / d array by central differences (float64)."""
    return _numerical_gradient


@pytest.fixture
def torch():
    """torch with 2 threads, or the test is skipped where torch is not installed."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(2)
    return torch


def assert_same_bits(a: np.ndarray, b: np.ndarray) -> None:
    """Equal dtype, shape and bytes (NaNs and signed zeros included)."""
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes()


@pytest.fixture
def same_bits() -> Callable[[np.ndarray, np.ndarray], None]:
    """`same_bits(a, b)` asserts two arrays are bitwise identical."""
    return assert_same_bits
