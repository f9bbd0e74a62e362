"""`set_num_threads` / `get_num_threads`: how many threads ttrain's kernels and BLAS use, as in PyTorch.

Two pools do ttrain's parallel work: Numba's (the conv kernels' thread pool is as wide as it) and
the BLAS library's behind NumPy's matrix products (sized through threadpoolctl). Setting one
number sizes both, so the threads at work never outnumber what was asked for.
"""

from __future__ import annotations

from typing import Any

_blas_limiter: Any = None  # kept alive: threadpoolctl's limits last as long as this object


def set_num_threads(n: int) -> None:
    """Use `n` threads for ttrain's kernels and for BLAS.

    Numba cannot start more threads than it launched with (`NUMBA_NUM_THREADS`, the core count by
    default), so a larger `n` gives its kernels that many; BLAS gets `n`.
    """
    global _blas_limiter
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive integer, got {n!r}")
    import numba
    from threadpoolctl import threadpool_limits

    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    _blas_limiter = threadpool_limits(limits=n, user_api="blas")


def get_num_threads() -> int:
    """The number of threads ttrain's kernels use (Numba's setting)."""
    import numba

    return int(numba.get_num_threads())
