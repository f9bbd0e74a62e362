"""`ttrain compile`: compile the Numba kernels ahead of time, so that no run waits for them."""

from __future__ import annotations

import sys
import time


def compile_kernels() -> None:
    """Compile every kernel (convolution, pooling, optimizers; float32 and float64) into the cache runs load
    from, one process per core.

    A first run compiles what it needs anyway (it says so on stderr); this does all of it up front,
    e.g. once after installing. Kernels already in the cache only load.
    """
    from ttrain.autograd.compilation import compile_all, set_notifier

    set_notifier(None)  # this command's own progress says it
    start = time.perf_counter()

    def progress(group: str, dtype: str) -> None:
        print(f"compiled {group} kernels ({dtype}) at {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)

    compile_all(progress)
    print(f"kernels ready in {time.perf_counter() - start:.1f} s")
