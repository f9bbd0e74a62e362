"""Elementwise kernels NumPy lacks (erf, GELU's forward in one pass), compiled for the float dtypes we use.

float32 erf is a rational function, x * P(x^2) / Q(x^2) evaluated in float64 (fitted by
`tools/fit_erf.py`, within one float32 ulp of the correctly rounded erf): only multiplies, adds
and a division, which Numba vectorises. `math.erf` is a scalar libm call per element, about 10x
slower; a Transformer's GELU spent more time in it than in the GEMMs around it. float64 keeps
`math.erf` (gradient checks need its full precision).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ttrain.autograd import compilation
from ttrain.autograd.kernels.cold_start import with_twin

compilation.watch()  # before any kernel of this module compiles

_LIMIT = 4.0  # past |x| = 4 erf rounds to +-1 in float32
_P = (1.1283791693663485, 0.18520085370292821, 0.05431714247880143, 0.003849587886390194,
      0.00037963095007704714, 4.685408604009067e-06, -1.3205264048909982e-08)
_Q = (1.0, 0.49746339698099323, 0.1139579208083848, 0.015462115305707073, 0.0013075952147362303,
      6.311661121852653e-05)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)


@numba.njit(inline="always", error_model="numpy")
def _erf_rational(v: float) -> float:
    x = min(max(v, -_LIMIT), _LIMIT)
    s = x * x
    p = _P[0] + s * (_P[1] + s * (_P[2] + s * (_P[3] + s * (_P[4] + s * (_P[5] + s * _P[6])))))
    q = _Q[0] + s * (_Q[1] + s * (_Q[2] + s * (_Q[3] + s * (_Q[4] + s * _Q[5]))))
    return min(max(x * p / q, -1.0), 1.0)


@numba.njit(cache=True, nogil=True)
def _erf_into(x: np.ndarray, out: np.ndarray) -> None:
    for i in range(x.size):
        out[i] = math.erf(x[i])


@numba.njit(cache=True, nogil=True, error_model="numpy")  # no ZeroDivisionError branch: it vectorises
def _erf32_into(x: np.ndarray, out: np.ndarray) -> None:
    for i in range(x.size):
        out[i] = _erf_rational(np.float64(x[i]))


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _gelu32_into(x: np.ndarray, out: np.ndarray, cdf: np.ndarray) -> None:
    for i in range(x.size):
        v = np.float64(x[i])
        phi = 0.5 + 0.5 * _erf_rational(v * _INV_SQRT_2)
        cdf[i] = phi
        out[i] = v * phi


@numba.njit(cache=True, nogil=True)
def _gelu64_into(x: np.ndarray, out: np.ndarray, cdf: np.ndarray) -> None:
    for i in range(x.size):
        phi = 0.5 + 0.5 * math.erf(x[i] * _INV_SQRT_2)
        cdf[i] = phi
        out[i] = x[i] * phi


def _flat(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x).reshape(-1)


def erf(x: np.ndarray) -> np.ndarray:
    """Elementwise error function; keeps the dtype of `x` (float32: the rational kernel)."""
    x = np.asarray(x)
    flat = _flat(x)
    out = np.empty_like(flat)
    (_erf32_into if flat.dtype == np.float32 else _erf_into)(flat, out)
    return out.reshape(x.shape)


def gelu(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x * Phi(x), Phi(x)) for float32 or float64 `x`, in one pass: Phi(x) = (1 + erf(x / sqrt 2)) / 2,
    kept for the backward."""
    from ttrain.autograd.kernels.conv_threads import for_each_chunk

    flat = _flat(x)
    out, cdf = np.empty_like(flat), np.empty_like(flat)
    kernel = _gelu32_into if flat.dtype == np.float32 else _gelu64_into
    for_each_chunk(flat.size, _elementwise_chunk(flat.size), lambda i, j: kernel(flat[i:j], out[i:j], cdf[i:j]))
    return out.reshape(x.shape), cdf.reshape(x.shape)


def _elementwise_chunk(n: int) -> int:
    """Chunks of at least 64k elements (smaller ones cost more to hand out than they save), about 8 in all."""
    return max(1 << 16, -(-n // 8))


# ---- dropout --------------------------------------------------------------------------------------
# Element i of a dropout mask is kept when a 24-bit hash of (seed, i) is at least p * 2^24: a
# counter-based draw, so the mask is the same whatever the chunking or thread count, it needs no
# stored mask (the backward hashes again), and the loop vectorises (32-bit multiplies and shifts).
# The hash is two rounds of a 32-bit integer mixer (xor-shift, multiply by an odd constant),
# keyed by the two halves of a 64-bit seed drawn from ttrain's generator for each call.

_M1 = 0x7FEB352D
_M2 = 0x846CA68B
_LOW32 = 0xFFFFFFFF
_SCALE_24 = float(1 << 24)


@numba.njit(inline="always")
def _mix32(h: int) -> int:
    # 32-bit arithmetic written on 64-bit integers (Numba widens uint32 products) and masked:
    # LLVM narrows it back to vector multiplies of 32-bit operands
    h ^= h >> 16
    h = (h * _M1) & _LOW32
    h ^= h >> 15
    h = (h * _M2) & _LOW32
    h ^= h >> 16
    return h


@numba.njit(inline="always")
def _kept(i: int, k0: int, k1: int, threshold: int) -> bool:
    h = _mix32(_mix32((i & _LOW32) ^ k0) ^ ((k1 + (i >> 32)) & _LOW32))
    return (h >> 8) >= threshold


def _mix32_numpy(h: np.ndarray) -> np.ndarray:
    low = np.uint64(_LOW32)
    h = h ^ (h >> np.uint64(16))
    h = (h * np.uint64(_M1)) & low
    h = h ^ (h >> np.uint64(15))
    h = (h * np.uint64(_M2)) & low
    return h ^ (h >> np.uint64(16))


def _dropout_into_numpy(x: np.ndarray, start: int, k0: int, k1: int, threshold: int, scale: np.floating,
                        out: np.ndarray) -> None:
    """`_dropout_into`'s NumPy twin (cold_start): the same hashes, the same products."""
    i = np.arange(start, start + x.size, dtype=np.uint64)
    low = np.uint64(_LOW32)
    h = _mix32_numpy(_mix32_numpy((i & low) ^ np.uint64(k0)) ^ ((np.uint64(k1) + (i >> np.uint64(32))) & low))
    np.multiply(x, np.where((h >> np.uint64(8)) >= np.uint64(threshold), scale, x.dtype.type(0)), out=out)


@with_twin(_dropout_into_numpy)
@numba.njit(cache=True, nogil=True)
def _dropout_into(x, start, k0, k1, threshold, scale, out):
    # x, out: this chunk's flat elements, starting at flat index `start` of the whole array
    # x * 0 where dropped, not 0: a NaN or inf stays NaN, as in PyTorch's x * mask / (1 - p)
    zero = x.dtype.type(0)
    for i in range(x.size):
        out[i] = x[i] * (scale if _kept(start + i, k0, k1, threshold) else zero)


def dropout_threshold(p: float) -> int:
    """The 24-bit threshold a hash must reach to keep its element: drop probability p (to 2^-24)."""
    return min(int(round(p * _SCALE_24)), 1 << 24)


def dropout(x: np.ndarray, p: float, seed: int) -> np.ndarray:
    """x * keep / (1 - p) for float32/float64 `x`, keep drawn per element from `seed` (uint64) with
    probability 1 - p. The backward of dropout is this same call on the gradient (same seed)."""
    from ttrain.autograd.kernels.conv_threads import for_each_chunk

    flat = _flat(x)
    out = np.empty_like(flat)
    k0, k1 = seed & _LOW32, (seed >> 32) & _LOW32
    threshold = dropout_threshold(p)
    scale = flat.dtype.type(1.0 / (1.0 - p) if p < 1.0 else 0.0)

    def task(i: int, j: int) -> None:
        _dropout_into(flat[i:j], i, k0, k1, threshold, scale, out[i:j])

    for_each_chunk(flat.size, _elementwise_chunk(flat.size), task)
    return out.reshape(x.shape)
