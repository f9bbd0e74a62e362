"""Keep the C heap's freed blocks for reuse instead of handing them back to the OS (glibc only).

A CNN step allocates and frees many arrays of a few MB (activations, their gradients, Winograd
tiles). glibc maps blocks above its threshold (128 KiB at first) fresh from the OS and unmaps them
on free, and trims the heap top whenever more than twice that is free: every step then faults
in and zeroes each page again. On the MNIST CNN that was ~25% of a training step's CPU time
(105 -> 75-85 ms at batch 64, one thread). Raising both thresholds keeps those pages mapped from
step to step. Peak memory is unchanged (the pages were in use at the peak); memory freed after
the peak stays with the process, up to `_TRIM_BYTES`, for its next step. Applied once, when the
convolution and pooling kernels load.
"""

from __future__ import annotations

import ctypes
import platform

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_BYTES = 32 << 20  # glibc's largest accepted value on 64-bit
_TRIM_BYTES = 256 << 20

_done = False


def keep_freed_blocks() -> bool:
    """Raise glibc's mmap and trim thresholds (once per process); False where not glibc or refused."""
    global _done
    if _done:
        return True
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    _done = bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_BYTES)) and bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_BYTES))
    return _done
