"""The kernels' NumPy twins (kernels/twins.py, the optimizers' NumPy path) give the kernels' bits.

A first run trains on the twins until its kernels are compiled in the background
(kernels/cold_start.py), then switches: it must train to the bits of a run that had them compiled
from the start. Each test runs the public function twice, once with every wrapped kernel forced
onto its twin, and compares bytes (NaNs and signed zeros included), on 1 and 2 kernel threads
(the threads split the batch into chunks, and the twins run chunk by chunk as the kernels do).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numba
import numpy as np
import pytest

from ttrain.autograd.kernels import cold_start, conv, conv_fused, elementwise, pool
from ttrain.optim import functional


@pytest.fixture(params=[1, 2], ids=["1-thread", "2-threads"])
def threads(request) -> Iterator[int]:
    before = numba.get_num_threads()
    numba.set_num_threads(min(request.param, numba.config.NUMBA_NUM_THREADS))
    yield request.param
    numba.set_num_threads(before)


def twice(monkeypatch: pytest.MonkeyPatch, run: Callable[[], tuple]) -> tuple[tuple, tuple]:
    """run() with the compiled kernels, then again with every `cold_start.Kernel` on its twin (and
    `ready` False, so the optimizers take their NumPy path)."""
    compiled = run()
    with monkeypatch.context() as patch:
        patch.setattr(cold_start.Kernel, "__call__", lambda self, *args: self.twin(*args))
        patch.setattr(cold_start.Kernel, "ready", lambda self, *args: False)
        twinned = run()
    return compiled, twinned


def assert_all_same_bits(same_bits, compiled: tuple, twinned: tuple) -> None:
    assert len(compiled) == len(twinned)
    for a, b in zip(compiled, twinned):
        if a is None or b is None:
            assert a is None and b is None
        else:
            same_bits(a, b)


def rand(rng: np.random.Generator, shape: tuple[int, ...], dtype: type, nan: bool = False) -> np.ndarray:
    x = rng.standard_normal(shape).astype(dtype)
    if nan:
        x.reshape(-1)[:: 7] = np.nan
        x.reshape(-1)[3:: 11] = -0.0
    return x


CONVS = [  # x shape, w shape, stride, padding, dilation, groups
    ((5, 1, 9, 9), (4, 1, 3, 3), 1, 0, 1, 1),
    ((4, 3, 8, 7), (6, 3, 3, 3), 2, 1, 1, 1),
    ((3, 4, 9, 9), (4, 2, 3, 3), 1, 1, 2, 2),
    ((3, 2, 7, 8), (5, 2, 2, 3), (1, 2), (0, 1), 1, 1),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", CONVS)
def test_conv_twins_give_the_kernels_bits(monkeypatch, same_bits, threads, dtype, x_shape, w_shape, stride, padding,
                                          dilation, groups):
    rng = np.random.default_rng(0)
    x, w, b = rand(rng, x_shape, dtype), rand(rng, w_shape, dtype), rand(rng, (w_shape[0],), dtype)
    s = conv.conv2d_shape(x, w, b, stride, padding, dilation, groups)
    assert not conv._uses_direct(s) and not conv._uses_winograd(s, x.dtype)  # the GEMM path, which has twins
    gy = rand(rng, (s.n, s.o, s.ho, s.wo), dtype)

    def run() -> tuple:
        y = conv.conv2d_forward(x, w, b, stride, padding, dilation, groups)
        dx, dw, db = conv.conv2d_backward(gy, x, w, stride, padding, dilation, groups)
        return y, dx, dw, db

    assert_all_same_bits(same_bits, *twice(monkeypatch, run))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("padding, nan", [(0, False), (1, False), (1, True)])
@pytest.mark.parametrize("needs", [(True, True, True), (False, True, True), (True, False, True)])
def test_fused_conv_relu_pool_twins_give_the_kernels_bits(monkeypatch, same_bits, threads, dtype, padding, nan, needs):
    rng = np.random.default_rng(1)
    x, w, b = rand(rng, (5, 3, 9, 8), dtype, nan), rand(rng, (4, 3, 3, 3), dtype), rand(rng, (4,), dtype)
    assert conv_fused.fusable(x, w, 1)

    def run() -> tuple:
        y, at = conv_fused.conv2d_relu_pool_forward(x, w, b, padding=padding)
        gy = np.random.default_rng(2).standard_normal(y.shape).astype(dtype)
        return (y, at, *conv_fused.conv2d_relu_pool_backward(gy, x, w, at, padding=padding, needs=needs))

    assert_all_same_bits(same_bits, *twice(monkeypatch, run))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (3, 2, 5, 7)])
def test_max_pool_twins_give_the_kernels_bits_with_ties_and_nans(monkeypatch, same_bits, threads, dtype, shape):
    rng = np.random.default_rng(3)
    x = rng.integers(-2, 3, size=shape).astype(dtype)  # many ties: the first tap equal to the maximum
    x.reshape(-1)[5::13] = np.nan  # a NaN window takes its last NaN
    x.reshape(-1)[2::17] = -0.0

    def run() -> tuple:
        y, at = pool.max_pool2d_forward(x, 2)
        gy = np.random.default_rng(4).standard_normal(y.shape).astype(dtype)
        return y, at, pool.max_pool2d_backward(gy, at, x.shape)

    assert_all_same_bits(same_bits, *twice(monkeypatch, run))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_twin_gives_the_kernels_bits(monkeypatch, same_bits, threads, dtype):
    x = rand(np.random.default_rng(5), (300_001,), dtype, nan=True)  # over several chunks
    assert_all_same_bits(same_bits, *twice(monkeypatch, lambda: (elementwise.dropout(x, 0.3, 2**63 + 12345),)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["sgd", "adam", "rmsprop", "adagrad"])
def test_optimizers_numpy_path_gives_the_kernels_bits_while_they_compile(monkeypatch, same_bits, threads, dtype, name):
    rng = np.random.default_rng(6)
    start = [rand(rng, (70_000,), dtype) for _ in range(5)]  # large enough to be split over the threads

    def run() -> tuple:
        p, g, a, b, c = (v.copy() for v in start)
        c = np.abs(c)
        for step in (1, 2):
            if name == "sgd":
                a = functional.sgd_update(p, g, None if step == 1 else a, lr=0.1, momentum=0.9, dampening=0.1,
                                          weight_decay=0.01, nesterov=True, maximize=False, fused=None)
            elif name == "adam":
                functional.adam_update(p, g, a, np.abs(b), c, step=step, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
                                       weight_decay=0.01, amsgrad=True, maximize=False, fused=None)
            elif name == "rmsprop":
                functional.rmsprop_update(p, g, np.abs(a), b, c, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.01,
                                          momentum=0.9, centered=True, maximize=False, fused=None)
            else:
                functional.adagrad_update(p, g, np.abs(a), step=step, lr=0.1, lr_decay=0.01, eps=1e-10,
                                          weight_decay=0.01, maximize=False, fused=None)
        return (p,)

    assert_all_same_bits(same_bits, *twice(monkeypatch, run))
