"""Run a kernel over chunks of a batch on a small pool of Python threads.

The chunk kernels are Numba functions compiled with nogil=True, so the threads run them truly in
parallel. Compared with a Numba `prange` loop, the threads block instead of spinning when idle
(spinning workers took cores from BLAS threads and other processes on this 2-core machine), and
the kernels compile once: a `prange` body calling them compiled them again, several seconds on
the first run. The pool's threads and the calling thread are as many as Numba's thread setting
(`numba.set_num_threads`).

From the first parallel run on, BLAS runs single-threaded (`_blas_off_the_kernel_threads`), so the
threads at work never outnumber the pool; from then on the large matrix products and elementwise
passes of the ops (`ttrain.autograd.parallel`) are split over this pool instead (`split_rows`).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numba

from ttrain.autograd import parallel
from ttrain.autograd.kernels.heap import keep_freed_blocks

keep_freed_blocks()  # a CNN's multi-MB arrays reuse freed pages from step to step (see heap.py)

_pool: ThreadPoolExecutor | None = None
_pool_width = 0
_pool_lock = threading.Lock()
_blas_limited = False
_threads_getter: Callable[[], int] | None = None


def _executor(width: int) -> ThreadPoolExecutor:
    global _pool, _pool_width
    with _pool_lock:
        if _pool is None or _pool_width != width:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=width, thread_name_prefix="ttrain-kernel")
            _pool_width = width
        return _pool


def _blas_off_the_kernel_threads() -> None:
    """Limit BLAS to one thread (once per process, through threadpoolctl where installed).

    OpenBLAS's idle threads busy-wait after each call; beside the pool's threads they outnumbered
    the cores, and a CNN training step on 2 threads cost 1.6-2.2x the CPU time of one thread on
    this 2-core machine (1.0x with BLAS on one thread). A CNN's BLAS work (its fully connected
    layers) is ~5% of its step; a network that never runs these kernels (an MLP) keeps BLAS's threads.
    """
    global _blas_limited
    _blas_limited = True
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=1, user_api="blas")  # applies now and stays: no `with`
    parallel.install(split_rows)  # the ops' large products now split over this pool instead


def kernel_threads() -> int:
    """`numba.get_num_threads()` (the thread setting of the calling thread), without the two process
    locks that function takes on every call to check that Numba's threads are launched: ~20 us a
    call, a few ms per Transformer step. The first call takes the checked path (launching them)."""
    global _threads_getter
    if _threads_getter is None:
        count = numba.get_num_threads()
        from numba.np.ufunc import parallel as numba_parallel

        _threads_getter = getattr(numba_parallel, "_get_num_threads", numba.get_num_threads)
        return count
    return _threads_getter()


def even_chunk(n: int) -> int:
    """A chunk length that cuts range(n) into about 4 chunks per thread: enough to balance the
    load, few enough that handing out tasks (~10 us each) stays small."""
    return max(1, -(-n // (4 * kernel_threads())))


def for_each_chunk(n: int, chunk: int, task: Callable[[int, int], None]) -> None:
    """Call task(start, stop) for each chunk [start, stop) of range(n), in parallel.

    Each call must write only its own part of the outputs; the order of calls is not fixed.
    The calling thread works too, beside width - 1 pool threads, and every thread takes the next
    chunk not yet taken: one task handed to each pool thread per call, not one per chunk (a
    handed-out task costs the caller ~30 us: ~3 ms of serial work a MNIST CNN step on 2 threads).
    """
    bounds = [(start, min(start + chunk, n)) for start in range(0, n, chunk)]
    threads = kernel_threads()
    width = min(threads, len(bounds))
    if width <= 1:
        for start, stop in bounds:
            task(start, stop)
        return
    if not _blas_limited:
        _blas_off_the_kernel_threads()
    take = itertools.count().__next__  # atomic under the GIL: each chunk is taken once

    def work() -> None:
        k = take()
        while k < len(bounds):
            task(*bounds[k])
            k = take()

    helpers = [_executor(threads - 1).submit(work) for _ in range(width - 1)]
    try:
        work()
    finally:
        for future in helpers:
            future.result()  # waits for every helper; re-raises a helper's exception


def split_rows(n: int, task: Callable[[int, int], None]) -> None:
    """Call task(start, stop) on one contiguous share of range(n) per pool thread, in parallel: for
    NumPy calls that release the GIL (BLAS products, ufuncs), where bigger pieces run faster."""
    for_each_chunk(n, max(1, -(-n // kernel_threads())), task)
