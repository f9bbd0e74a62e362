"""Compile every kernel the training paths use, ahead of time (`ttrain compile`).

Each kernel compiles once per argument types, into Numba's on-disk cache (the package's
`__pycache__`, or the user's cache folder when the package is read-only, or NUMBA_CACHE_DIR),
the same cache a run loads from. Calling the public kernels on tiny arrays of each float dtype
takes every path a network can: im2col GEMM, Winograd and direct convolution, the fused conv +
ReLU + max-pool, both poolings, every fused optimizer update, erf, GELU, dropout and layer norm.
The types, not the sizes, pick what compiles. The groups compile in parallel processes.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed

import numpy as np

DTYPES = (np.float32, np.float64)


def _conv(dtype: type) -> None:
    from ttrain.autograd.kernels.conv import conv2d_backward, conv2d_forward

    rng = np.random.default_rng(0)
    # (channels, out channels, groups, padding): im2col GEMM (1 channel), Winograd (16 channels,
    # 3x3) with and without padding, direct (depthwise).
    for c, o, groups, padding in ((1, 4, 1, 0), (16, 4, 1, 0), (16, 4, 1, 1), (4, 4, 4, 1)):
        x = rng.standard_normal((2, c, 6, 6)).astype(dtype)
        w = rng.standard_normal((o, c // groups, 3, 3)).astype(dtype)
        b = np.zeros(o, dtype=dtype)
        y = conv2d_forward(x, w, b, padding=padding, groups=groups)
        conv2d_backward(np.ones_like(y), x, w, padding=padding, groups=groups)
        conv2d_backward(np.ones_like(y), x, w, padding=padding, groups=groups, needs=(False, True, True))
    _conv_relu_pool(rng, dtype)


def _conv_relu_pool(rng: np.random.Generator, dtype: type) -> None:
    # The fused conv + ReLU + 2x2 max-pool that nn.Sequential runs (where NumPy's BLAS allows it).
    from ttrain.autograd.kernels.conv_fused import conv2d_relu_pool_backward, conv2d_relu_pool_forward, fusable

    x = rng.standard_normal((2, 2, 6, 6)).astype(dtype)
    w = rng.standard_normal((4, 2, 3, 3)).astype(dtype)
    if not fusable(x, w, 1):
        return
    y, at = conv2d_relu_pool_forward(x, w, np.zeros(4, dtype=dtype))
    conv2d_relu_pool_backward(np.ones_like(y), x, w, at)


def _pool(dtype: type) -> None:
    from ttrain.autograd.kernels.pool import (
        avg_pool2d_backward,
        avg_pool2d_forward,
        max_pool2d_backward,
        max_pool2d_forward,
    )

    x = np.arange(2 * 2 * 4 * 4, dtype=dtype).reshape(2, 2, 4, 4)
    for kernel, stride in ((2, 2), (3, 1)):  # the unrolled 2x2 kernel, and the general one
        y, indices = max_pool2d_forward(x, kernel, stride)
        max_pool2d_backward(np.ones_like(y), indices, x.shape)
    y = avg_pool2d_forward(x, 2)
    avg_pool2d_backward(np.ones_like(y), x.shape, 2)


def _optim(dtype: type) -> None:
    # The optimizers' kernels live with the optimizers; `ttrain compile` warms them with the rest.
    from ttrain.optim.fused import fused_adagrad, fused_adam, fused_rmsprop, fused_sgd

    def zeros() -> np.ndarray:
        return np.zeros(4, dtype=dtype)

    scalars = np.full(8, 0.5, dtype=dtype)
    fused_sgd(zeros(), zeros(), zeros(), scalars, False, False, True)
    fused_adam(zeros(), zeros(), zeros(), zeros(), zeros(), scalars, True, False, False)
    fused_rmsprop(zeros(), zeros(), zeros(), zeros(), zeros(), scalars, True, False)
    fused_adagrad(zeros(), zeros(), zeros(), scalars, False)


def _elementwise(dtype: type) -> None:
    from ttrain.autograd.kernels.elementwise import dropout, erf, gelu
    from ttrain.autograd.kernels.layer_norm import layer_norm_backward, layer_norm_forward

    x = np.zeros((2, 4), dtype=dtype)
    erf(x)
    gelu(x)
    dropout(x, 0.5, 0)
    _, xhat, invstd = layer_norm_forward(x, None, None, 1e-5)
    layer_norm_backward(x, xhat, invstd, None)


def _recurrent(dtype: type) -> None:
    import ttrain
    from ttrain.autograd.kernels.recurrent import STEPS
    from ttrain.autograd.ops.recurrent import recurrence

    def operand(*shape: int) -> ttrain.Tensor:
        return ttrain.tensor(np.full(shape, 0.1, dtype=dtype), requires_grad=True)

    for kind, steps in STEPS.items():  # every step's forward and backward kernel
        rows = steps.gates * 2
        c0 = operand(1, 2) if steps.has_cell else None
        out = recurrence(kind, operand(2, 1, 3), operand(1, 2), c0, operand(rows, 3), operand(rows, 2),
                         operand(rows), operand(rows))
        out.sum().backward()


KERNEL_GROUPS: dict[str, Callable[[type], None]] = {
    "convolution": _conv, "pooling": _pool, "optimizer": _optim, "elementwise": _elementwise, "recurrent": _recurrent,
}


def _compile_group(group: str, dtype_name: str) -> None:
    KERNEL_GROUPS[group](np.dtype(dtype_name).type)


def compile_kernels(on_group: Callable[[str, str], None] | None = None, processes: int | None = None) -> None:
    """Compile (or load from the cache) every kernel for float32 and float64.

    The groups compile in `processes` processes at once (default: one per core; Numba compiles
    holding the GIL, so threads would not help), each writing into the shared cache.
    `on_group(group, dtype_name)` is called as each group is done, for progress.
    """
    # group by group, both dtypes at once: the convolutions, the longest, start first
    groups = [(group, np.dtype(dtype).name) for group in KERNEL_GROUPS for dtype in DTYPES]
    processes = min(len(groups), processes or os.cpu_count() or 1)
    if processes <= 1:
        for group, dtype_name in groups:
            _compile_group(group, dtype_name)
            if on_group is not None:
                on_group(group, dtype_name)
        return
    # spawn: a fork would copy this process's Numba state and threads
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        done = {pool.submit(_compile_group, group, dtype_name): (group, dtype_name) for group, dtype_name in groups}
        for future in as_completed(done):
            future.result()
            if on_group is not None:
                on_group(*done[future])
