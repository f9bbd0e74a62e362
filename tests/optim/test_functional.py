"""The Numba kernels against the NumPy reference update functions: bit for bit.

Both do the same IEEE operations in the same order in the parameter's dtype with no fastmath, so
the kernel must reproduce the reference exactly (assert_array_equal), for every option, float32 and
float64, over a few steps so the state arrays are exercised too.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ttrain.optim import functional as F

SETTINGS = settings(max_examples=25, deadline=None)
dtypes = st.sampled_from([np.float32, np.float64])
shapes = st.sampled_from([(), (1,), (7,), (3, 5), (0, 4), (2, 3, 4)])
rates = st.sampled_from([0.0, 1e-3, 0.1, 0.9])


def _arrays(shape, dtype, seed, n, positive=()):
    rng = np.random.default_rng(seed)
    out = [rng.standard_normal(shape).astype(dtype) for _ in range(n)]
    for i in positive:
        np.abs(out[i], out=out[i])  # in place: np.abs of a 0-d array would return a scalar
    return out


def _both(update, arrays, steps, **kwargs):
    """Run `update` on two copies of `arrays` (kernel, reference) for `steps` steps; return both."""
    results = []
    for fused in (True, False):
        copies = [None if a is None else a.copy() for a in arrays]
        for step in range(1, steps + 1):
            extra = {"step": step} if update in (F.adam_update, F.adagrad_update) else {}
            update(*copies, **kwargs, **extra, fused=fused)
        results.append(copies)
    return results


def _assert_same(kernel, reference):
    for k, r in zip(kernel, reference):
        if r is not None:
            np.testing.assert_array_equal(k, r)


@SETTINGS
@given(dtype=dtypes, shape=shapes, seed=st.integers(0, 99), lr=rates, momentum=rates, dampening=rates,
       weight_decay=rates, nesterov=st.booleans(), maximize=st.booleans())
def test_sgd_kernel_matches_reference(dtype, shape, seed, lr, momentum, dampening, weight_decay, nesterov, maximize):
    nesterov = nesterov and momentum > 0
    dampening = 0.0 if nesterov else dampening
    param, grad = _arrays(shape, dtype, seed, 2)
    kwargs = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov,
                  maximize=maximize)
    bufs = []
    for fused in (True, False):
        p, buf = param.copy(), None
        for _ in range(3):
            buf = F.sgd_update(p, grad, buf, **kwargs, fused=fused)
        bufs.append((p, buf))
    (pk, bk), (pr, br) = bufs
    np.testing.assert_array_equal(pk, pr)
    assert (bk is None) == (br is None) == (momentum == 0)
    if bk is not None:
        np.testing.assert_array_equal(bk, br)


@SETTINGS
@given(dtype=dtypes, shape=shapes, seed=st.integers(0, 99), weight_decay=rates, amsgrad=st.booleans(),
       maximize=st.booleans(), decoupled=st.booleans(), betas=st.sampled_from([(0.9, 0.999), (0.0, 0.5), (0.6, 0.0)]))
def test_adam_kernel_matches_reference(dtype, shape, seed, weight_decay, amsgrad, maximize, decoupled, betas):
    param, grad, m, v, vmax = _arrays(shape, dtype, seed, 5, positive=(3, 4))
    kernel, reference = _both(F.adam_update, [param, grad, m, v, vmax if amsgrad else None], steps=3, lr=0.01,
                              beta1=betas[0], beta2=betas[1], eps=1e-8, weight_decay=weight_decay, amsgrad=amsgrad,
                              maximize=maximize, decoupled_weight_decay=decoupled)
    _assert_same(kernel, reference)


@SETTINGS
@given(dtype=dtypes, shape=shapes, seed=st.integers(0, 99), alpha=st.sampled_from([0.0, 0.5, 0.99]),
       weight_decay=rates, momentum=rates, centered=st.booleans(), maximize=st.booleans())
def test_rmsprop_kernel_matches_reference(dtype, shape, seed, alpha, weight_decay, momentum, centered, maximize):
    param, grad, sq, ga, buf = _arrays(shape, dtype, seed, 5, positive=(2,))
    ga *= 0.1  # keeps square_avg - grad_avg**2 positive
    kernel, reference = _both(F.rmsprop_update, [param, grad, sq, ga, buf], steps=3, lr=0.01, alpha=alpha, eps=1e-8,
                              weight_decay=weight_decay, momentum=momentum, centered=centered, maximize=maximize)
    _assert_same(kernel, reference)


@SETTINGS
@given(dtype=dtypes, shape=shapes, seed=st.integers(0, 99), lr_decay=rates, weight_decay=rates, maximize=st.booleans())
def test_adagrad_kernel_matches_reference(dtype, shape, seed, lr_decay, weight_decay, maximize):
    param, grad, state_sum = _arrays(shape, dtype, seed, 3, positive=(2,))
    kernel, reference = _both(F.adagrad_update, [param, grad, state_sum], steps=3, lr=0.1, lr_decay=lr_decay,
                              weight_decay=weight_decay, eps=1e-10, maximize=maximize)
    _assert_same(kernel, reference)


def test_amsgrad_kernel_propagates_nan_like_np_maximum():
    param, grad, m, v, vmax = (np.zeros(3) for _ in range(5))
    grad[1] = np.nan
    kernel, reference = _both(F.adam_update, [param, grad, m, v, vmax], steps=1, lr=0.1, beta1=0.9, beta2=0.999,
                              eps=1e-8, weight_decay=0, amsgrad=True, maximize=False)
    for k, r in zip(kernel, reference):
        np.testing.assert_array_equal(k, r)  # NaNs compare equal here
    assert np.isnan(kernel[4][1]) and not np.isnan(kernel[4][0])


def test_kernels_handle_non_contiguous_gradients():
    param, grad_t = np.ones((3, 4)), np.arange(12.0).reshape(4, 3).T  # a transposed, non-contiguous view
    kernel, reference = _both(F.adagrad_update, [param, grad_t, np.zeros((3, 4))], steps=2, lr=0.1, lr_decay=0,
                              weight_decay=0, eps=1e-10, maximize=False)
    _assert_same(kernel, reference)


def test_auto_mode_falls_back_to_numpy_where_the_kernel_cannot_run():
    param = np.ones(4, dtype=np.float16)
    F.sgd_update(param, np.ones(4, dtype=np.float16), None, lr=0.5, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, maximize=False, fused=None)
    np.testing.assert_array_equal(param, np.full(4, 0.5, dtype=np.float16))
    strided = np.ones(8)[::2]  # a parameter that is a strided view still updates in place
    F.sgd_update(strided, np.ones(4), None, lr=0.5, momentum=0, dampening=0, weight_decay=0, nesterov=False,
                 maximize=False, fused=None)
    np.testing.assert_array_equal(strided, np.full(4, 0.5))


def test_fused_true_refuses_arrays_the_kernel_cannot_take():
    with pytest.raises(RuntimeError, match="fused=True needs C-contiguous float32 or float64"):
        F.sgd_update(np.ones(4, dtype=np.float16), np.ones(4, dtype=np.float16), None, lr=0.5, momentum=0,
                     dampening=0, weight_decay=0, nesterov=False, maximize=False, fused=True)


def test_float32_maths_stays_in_float32():
    # lr / bias correction cast to float32 first, as torch does: no silent float64 upcast of the arrays
    param, grad = np.ones(5, dtype=np.float32), np.full(5, 0.1, dtype=np.float32)
    m, v = np.zeros(5, dtype=np.float32), np.zeros(5, dtype=np.float32)
    F.adam_update(param, grad, m, v, None, step=1, lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0,
                  amsgrad=False, maximize=False, fused=False)
    assert param.dtype == m.dtype == v.dtype == np.float32
    np.testing.assert_allclose(param, 0.9, rtol=1e-6)


def test_numba_loads_only_on_the_first_fused_step():
    code = (
        "import sys, numpy as np, ttrain, ttrain.optim as optim\n"
        "from ttrain.nn.parameter import Parameter\n"
        "p = Parameter(np.ones(3)); p.grad = ttrain.tensor(np.ones(3))\n"
        "optim.Adam([p], fused=False).step()\n"
        "assert 'numba' not in sys.modules, 'numba imported before a fused step'\n"
        "optim.Adam([p], fused=True).step()\n"
        "assert 'numba' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


def test_fused_updates_of_large_parameters_are_the_same_bits_when_split_over_threads():
    from ttrain.autograd import parallel
    from ttrain.optim.fused import fused_adam, fused_sgd

    rng = np.random.default_rng(5)
    n = 300_000  # above the size that is split
    arrays = [rng.standard_normal(n).astype(np.float32) for _ in range(5)]
    scalars = np.array([0.01, 0.9, 0.9, 0.999, 0.001, 0.99, 1e-8, 0.001], dtype=np.float32)
    results = []
    for split in (None, lambda size, task: [task(a, b) for a, b in ((size // 3, size), (0, size // 3))]):
        parallel.install(split)
        try:
            p, g, m, v, vmax = (a.copy() for a in arrays)
            vmax = np.abs(vmax)
            fused_adam(p, g, m, v, vmax, scalars, True, False, True)
            buf = m.copy()
            fused_sgd(p, g, buf, scalars[:4], True, False, False)
            results.append((p, m, v, vmax, buf))
        finally:
            parallel.install(None)
    for whole, shares in zip(*results):
        np.testing.assert_array_equal(whole, shares)
