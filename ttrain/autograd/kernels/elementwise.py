"""Elementwise kernels NumPy lacks (erf), compiled for the float dtypes we use."""

from __future__ import annotations

import math

import numba
import numpy as np

from ttrain.autograd import compilation

compilation.watch()  # before any kernel of this module compiles


@numba.njit(cache=True)
def _erf_into(x: np.ndarray, out: np.ndarray) -> None:
    for i in range(x.size):
        out[i] = math.erf(x[i])


def erf(x: np.ndarray) -> np.ndarray:
    """Elementwise error function; keeps the dtype of `x`."""
    x = np.asarray(x)
    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty_like(flat)
    _erf_into(flat, out)
    return out.reshape(x.shape)
