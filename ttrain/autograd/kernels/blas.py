"""NumPy's own BLAS GEMM, callable from inside a Numba kernel.

A recurrence's time loop in Python holds the GIL between each step's GEMM and its step kernel.
With two kernel threads each running its batch rows, every step made each thread wait for the
GIL the other held, and a wake-up on this VM costs tens of microseconds: the 2-thread loop of
LSTM(28, 128) ran 1.4x faster than one thread where the two halves alone would be 1.8x. Calling
the GEMM from Numba lets a thread run all its time steps in one nogil call.

The GEMM is the `cblas_sgemm`/`cblas_dgemm` of the OpenBLAS that NumPy links (found through
threadpoolctl), the same code `np.matmul` runs, so results match NumPy's. Its address is passed
to the kernels as an integer argument (`gemm_address`), so they still cache to disk: a constant
address would change from process to process. Where no such library is found (another BLAS, no
threadpoolctl), `gemm_address` returns 0 and callers keep their NumPy path.
"""

from __future__ import annotations

import ctypes
from functools import cache

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

_ROW_MAJOR = 101
NO_TRANS, TRANS = 111, 112  # CBLAS_TRANSPOSE values for `_cblas_gemm`'s trans_a and trans_b


@cache
def _library() -> tuple[ctypes.CDLL, str] | None:
    """NumPy's OpenBLAS and its symbol prefix and suffix, if it has 64-bit integer CBLAS GEMMs."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    for pool in threadpool_info():
        if pool.get("internal_api") != "openblas" or "numpy" not in pool.get("filepath", ""):
            continue
        library = ctypes.CDLL(pool["filepath"])
        for prefix, suffix in (("scipy_", "64_"), ("", "64_")):
            if hasattr(library, f"{prefix}cblas_sgemm{suffix}"):
                return library, f"{prefix}cblas_{{}}gemm{suffix}"
    return None


@cache
def gemm_address(dtype: np.dtype) -> int:
    """The address of the row-major 64-bit-integer CBLAS GEMM for float32 or float64; 0 if none."""
    found = _library()
    if found is None or dtype not in (np.float32, np.float64):
        return 0
    library, pattern = found
    return ctypes.cast(getattr(library, pattern.format("s" if dtype == np.float32 else "d")), ctypes.c_void_p).value


@intrinsic
def _cblas_gemm(typingctx, address, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    """cblas_?gemm(RowMajor, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) through the
    function at `address`; trans_a/trans_b are NO_TRANS or TRANS, a, b and c data addresses (integers),
    alpha and beta of the GEMM's float type."""
    sig = types.void(types.intp, types.intp, types.intp, types.intp, types.intp, types.intp, alpha, types.intp,
                     types.intp, types.intp, types.intp, alpha, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        i32, i64 = ir.IntType(32), ir.IntType(64)
        pointer = ir.IntType(8).as_pointer()
        real = context.get_value_type(signature.args[6])
        function = ir.FunctionType(ir.VoidType(), [i32, i32, i32, i64, i64, i64, real, pointer, i64, pointer, i64,
                                                   real, pointer, i64])
        address_, trans_a_, trans_b_, m_, n_, k_, alpha_, a_, lda_, b_, ldb_, beta_, c_, ldc_ = args
        target = builder.inttoptr(address_, function.as_pointer())
        builder.call(target, [ir.Constant(i32, _ROW_MAJOR), builder.trunc(trans_a_, i32), builder.trunc(trans_b_, i32),
                              m_, n_, k_, alpha_, builder.inttoptr(a_, pointer), lda_, builder.inttoptr(b_, pointer),
                              ldb_, beta_, builder.inttoptr(c_, pointer), ldc_])
        return context.get_dummy_value()

    return sig, codegen


def _as(like, value):
    """`value` in the float type of `like`: a float literal alone would make float32 maths float64."""
    return type(like)(value)


@overload(_as, inline="always")
def _as_typed(like, value):
    if like == types.float32:
        return lambda like, value: np.float32(value)
    return lambda like, value: np.float64(value)


@njit(cache=True, nogil=True, inline="always")
def gemm_into(gemm, a, trans_a, b, trans_b, beta, c):
    """c = op(a) @ op(b) + beta * c through the GEMM at address `gemm`, inside a Numba kernel: op(a)
    is a^T where trans_a (likewise b); 2-D arrays of one float type, each with contiguous rows."""
    size = c.itemsize
    m, n = c.shape
    k = a.shape[0] if trans_a else a.shape[1]
    _cblas_gemm(gemm, TRANS if trans_a else NO_TRANS, TRANS if trans_b else NO_TRANS, m, n, k, _as(c[0, 0], 1.0),
                a.ctypes.data, a.strides[0] // size, b.ctypes.data, b.strides[0] // size, _as(c[0, 0], beta),
                c.ctypes.data, c.strides[0] // size)
