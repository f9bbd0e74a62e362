"""Run a kernel over chunks of a batch on a small pool of Python threads.

The chunk kernels are Numba functions compiled with nogil=True, so the threads run them truly in
parallel. Compared with a Numba `prange` loop, the threads block instead of spinning when idle
(spinning workers took cores from BLAS threads and other processes on this 2-core machine), and
the kernels compile once: a `prange` body calling them compiled them again, several seconds on
the first run. The pool is as wide as Numba's thread setting (`numba.set_num_threads`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numba

_pool: ThreadPoolExecutor | None = None
_pool_width = 0
_pool_lock = threading.Lock()


def _executor(width: int) -> ThreadPoolExecutor:
    global _pool, _pool_width
    with _pool_lock:
        if _pool is None or _pool_width != width:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=width, thread_name_prefix="ttrain-kernel")
            _pool_width = width
        return _pool


def even_chunk(n: int) -> int:
    """A chunk length that cuts range(n) into about 4 chunks per thread: enough to balance the
    load, few enough that handing out tasks (~10 us each) stays small."""
    return max(1, -(-n // (4 * numba.get_num_threads())))


def for_each_chunk(n: int, chunk: int, task: Callable[[int, int], None]) -> None:
    """Call task(start, stop) for each chunk [start, stop) of range(n), in parallel.

    Each call must write only its own part of the outputs; the order of calls is not fixed.
    """
    bounds = [(start, min(start + chunk, n)) for start in range(0, n, chunk)]
    width = min(numba.get_num_threads(), len(bounds))
    if width <= 1:
        for start, stop in bounds:
            task(start, stop)
        return
    for future in [_executor(width).submit(task, start, stop) for start, stop in bounds]:
        future.result()  # re-raises a task's exception here
