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
from numba import types
from numba.extending import intrinsic

_ROW_MAJOR, _NO_TRANS = 101, 111


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
def _cblas_gemm(typingctx, address, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    """cblas_?gemm(RowMajor, NoTrans, NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) through the
    function at `address`; a, b and c are data addresses (integers)."""
    sig = types.void(types.intp, types.intp, types.intp, types.intp, alpha, types.intp, types.intp,
                     types.intp, types.intp, alpha, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        i32, i64 = ir.IntType(32), ir.IntType(64)
        pointer = ir.IntType(8).as_pointer()
        real = context.get_value_type(signature.args[4])
        function = ir.FunctionType(ir.VoidType(), [i32, i32, i32, i64, i64, i64, real, pointer, i64, pointer, i64,
                                                   real, pointer, i64])
        address_, m_, n_, k_, alpha_, a_, lda_, b_, ldb_, beta_, c_, ldc_ = args
        target = builder.inttoptr(address_, function.as_pointer())
        builder.call(target, [ir.Constant(i32, _ROW_MAJOR), ir.Constant(i32, _NO_TRANS), ir.Constant(i32, _NO_TRANS),
                              m_, n_, k_, alpha_, builder.inttoptr(a_, pointer), lda_, builder.inttoptr(b_, pointer),
                              ldb_, beta_, builder.inttoptr(c_, pointer), ldc_])
        return context.get_dummy_value()

    return sig, codegen
