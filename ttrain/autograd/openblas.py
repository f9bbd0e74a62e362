"""NumPy's OpenBLAS through ctypes: the library itself, and small products kept on one BLAS thread.

OpenBLAS splits a product over its threads from a quarter of a million multiply-adds. For a product
of about a million (the seed net's 128x784x10 layer, ~50 us) the split saves little, and the worker
it woke then spins (sched_yield) for a long while beside the caller. On the 2-core benchmark VM the
rest of the step (the Python and NumPy work between products) ran slower beside that spinning
worker, so that the seed net trained no faster on 2 BLAS threads than on 1 and used twice the CPU
time; and with another process on the second core, each split product waited for its worker to be
scheduled: a 2-thread seed step took milliseconds instead of ~0.35 ms. `one_thread(call)` runs one
such product on the calling thread alone; larger products keep every BLAS thread.

The library is found once, through threadpoolctl (a dependency); where it is not NumPy's 64-bit
OpenBLAS (another BLAS, a build without the symbols), `one_thread` just makes the call.
This module imports no numba: the ops call it on every step.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

_T = TypeVar("_T")


@cache
def library() -> tuple[ctypes.CDLL, str, str] | None:
    """NumPy's OpenBLAS and its symbols' prefix and suffix ("scipy_", "64_" for `scipy_cblas_sgemm64_`),
    if it has the 64-bit integer interface; None otherwise."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    for pool in threadpool_info():
        if pool.get("internal_api") != "openblas" or "numpy" not in pool.get("filepath", ""):
            continue
        lib = ctypes.CDLL(pool["filepath"])
        for prefix, suffix in (("scipy_", "64_"), ("", "64_")):
            if hasattr(lib, f"{prefix}cblas_sgemm{suffix}"):
                return lib, prefix, suffix
    return None


@cache
def _thread_controls() -> tuple[Callable[[], int], Callable[[int], None]] | None:
    """OpenBLAS's get_num_threads and set_num_threads, or None without them."""
    found = library()
    if found is None:
        return None
    lib, prefix, suffix = found
    try:
        get = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}")
        set_ = getattr(lib, f"{prefix}openblas_set_num_threads{suffix}")
    except AttributeError:
        return None
    get.restype, get.argtypes = ctypes.c_int, []
    set_.restype, set_.argtypes = None, [ctypes.c_int]
    return get, set_


_lock = threading.Lock()


def one_thread(function: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    """function(*args, **kwargs) with NumPy's OpenBLAS held to one thread, then set back to the count
    it had (whatever set it: `ttrain.set_num_threads`, threadpoolctl, the environment). While such a
    call runs, BLAS calls of other Python threads also run on one thread. ~0.3 us a call on one
    BLAS thread, ~1.5 us on more."""
    controls = _thread_controls()
    if controls is None:
        return function(*args, **kwargs)
    get, set_ = controls
    if get() == 1:  # on one thread already (or another call of this function holds it there)
        return function(*args, **kwargs)
    # One limited call at a time, so that no call takes another's limit for the count to restore;
    # meanwhile other threads' calls find one thread and take the path above, without waiting.
    with _lock:
        threads = get()
        if threads > 1:
            set_(1)
        try:
            return function(*args, **kwargs)
        finally:
            if threads > 1:
                set_(threads)
