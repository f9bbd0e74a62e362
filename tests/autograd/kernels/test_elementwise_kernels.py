"""The transformer's elementwise kernels against plain references: float32 erf and GELU, layer norm."""

from __future__ import annotations

import math

import numpy as np
import pytest

import ttrain
from ttrain.autograd.kernels import elementwise
from ttrain.autograd.kernels.elementwise import erf, gelu
from ttrain.autograd.kernels.layer_norm import layer_norm_backward, layer_norm_forward
from ttrain.autograd.ops import normalization as norm

_erf64 = np.vectorize(math.erf, otypes=[np.float64])


def test_float32_erf_is_within_one_ulp_of_the_correctly_rounded_value():
    x = np.concatenate([np.linspace(-6, 6, 200001), np.geomspace(1e-30, 1e-2, 500), -np.geomspace(1e-30, 1e-2, 500),
                        [0.0, np.inf, -np.inf]]).astype(np.float32)
    ref = _erf64(x.astype(np.float64))
    got = erf(x)
    assert got.dtype == np.float32
    ulp = np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64)
    assert np.max(np.abs(got - ref) / ulp) <= 1.0
    assert np.isnan(erf(np.array([np.nan], np.float32)))[0]


def test_float64_erf_is_libm_erf():
    x = np.random.default_rng(0).standard_normal(1000) * 3
    np.testing.assert_array_equal(erf(x), _erf64(x))


@pytest.mark.parametrize("dtype, tol", [(np.float32, 3e-7), (np.float64, 1e-15)])
def test_gelu_kernel_matches_its_formula(dtype, tol):
    x = (np.random.default_rng(1).standard_normal((7, 33)) * 3).astype(dtype)
    cdf_ref = 0.5 * (1 + _erf64(x.astype(np.float64) / math.sqrt(2)))
    out, cdf = gelu(x)
    assert out.dtype == cdf.dtype == dtype and out.shape == x.shape
    np.testing.assert_allclose(cdf, cdf_ref, rtol=0, atol=tol)
    np.testing.assert_allclose(out, x * cdf_ref, rtol=tol, atol=tol)


@pytest.mark.parametrize("rows", [1, 5, 1000])  # 1000 rows: several chunks, summed per chunk
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_kernels_match_the_composite_op(rows, affine):
    rng = np.random.default_rng(rows)
    d = 24
    x = rng.standard_normal((rows, d)) * 3 + 1
    w = rng.standard_normal(d) if affine else None
    b = rng.standard_normal(d) if affine else None
    grad = rng.standard_normal((rows, d))
    layout = norm.layer_norm_layout((rows, d), (d,))

    params = [None if p is None else ttrain.tensor(p, requires_grad=True) for p in (w, b)]
    xt = ttrain.tensor(x, requires_grad=True)
    ref = norm.Normalize.apply(xt, *params, layout=layout, eps=1e-5)
    ref.backward(ttrain.tensor(grad))

    out, xhat, invstd = layer_norm_forward(x, w, b, 1e-5)
    gx, gw, gb = layer_norm_backward(grad, xhat, invstd, w)
    np.testing.assert_allclose(out, ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-10, atol=1e-10)
    if affine:
        np.testing.assert_allclose(gw, params[0].grad.numpy(), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(gb, params[1].grad.numpy(), rtol=1e-10, atol=1e-10)


def test_layer_norm_float32_matches_float64_within_float32_precision():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((300, 64)).astype(np.float32) * 5
    w, b = rng.standard_normal(64).astype(np.float32), rng.standard_normal(64).astype(np.float32)
    out32, *_ = layer_norm_forward(x, w, b, 1e-5)
    out64, *_ = layer_norm_forward(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), 1e-5)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, out64, rtol=1e-5, atol=1e-5)


# ---- dropout ----------------------------------------------------------------------------------
def _dropout_reference(x: np.ndarray, p: float, seed: int) -> np.ndarray:
    """The kernel's mask from its definition, on the NumPy hash (the kernel's NumPy twin, whole array
    in one piece): keep i when hash(seed, i) >> 8 >= p * 2^24; x * 0 where dropped (NaN stays NaN)."""
    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty_like(flat)
    elementwise._dropout_into_numpy(flat, 0, seed & 0xFFFFFFFF, seed >> 32, round(p * (1 << 24)),
                                    x.dtype.type(1 / (1 - p)), out)
    return out.reshape(x.shape)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_kernel_matches_its_numpy_reference(dtype):
    from ttrain.autograd.kernels.elementwise import dropout

    x = np.random.default_rng(4).standard_normal((3, 70_001)).astype(dtype)  # several chunks
    x[0, :50] = np.nan  # dropped or kept, a NaN stays NaN (PyTorch multiplies by the mask)
    for p, seed in ((0.1, 0), (0.5, 2**64 - 1), (0.9, 123456789012345)):
        np.testing.assert_array_equal(dropout(x, p, seed), _dropout_reference(x, p, seed))


def test_dropout_mask_does_not_depend_on_the_thread_count():
    import numba

    from ttrain.autograd.kernels.elementwise import dropout

    x = np.ones(300_000, np.float32)
    before = numba.get_num_threads()
    try:
        masks = []
        for threads in {1, numba.config.NUMBA_NUM_THREADS}:
            numba.set_num_threads(threads)
            masks.append(dropout(x, 0.3, 99))
    finally:
        numba.set_num_threads(before)
    assert all(np.array_equal(m, masks[0]) for m in masks)


def test_dropout_keeps_each_element_with_probability_one_minus_p_independently():
    from ttrain.autograd.kernels.elementwise import dropout

    n = 1 << 20
    for p in (0.1, 0.5, 0.9):
        kept = dropout(np.ones(n, np.float32), p, 5) != 0
        assert abs(kept.mean() - (1 - p)) < 4 * math.sqrt(p * (1 - p) / n)
    kept = dropout(np.ones(n, np.float32), 0.5, 6) != 0
    other = dropout(np.ones(n, np.float32), 0.5, 7) != 0
    for a, b in ((kept[1:], kept[:-1]), (kept[4096:], kept[:-4096]), (kept, other)):  # neighbours, rows, seeds
        assert abs((a == b).mean() - 0.5) < 4 * math.sqrt(0.25 / n)
