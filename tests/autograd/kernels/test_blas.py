"""NumPy's BLAS GEMM called from Numba gives NumPy's products."""

from __future__ import annotations

import numpy as np
import pytest

numba = pytest.importorskip("numba")

from ttrain.autograd.kernels import blas  # noqa: E402


@numba.njit
def _product(gemm, a, b, c):
    blas.gemm_into(gemm, a, False, b, False, 0.0, c)


@numba.njit
def _transposed_product_added(gemm, a, b, c):
    blas.gemm_into(gemm, a, True, b, True, 1.0, c)  # c += a^T @ b^T


def _address(dtype):
    address = blas.gemm_address(np.dtype(dtype))
    if not address:
        pytest.skip("NumPy's BLAS is not an OpenBLAS with 64-bit integer CBLAS")
    return address


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_gemm_from_numba_matches_numpy_on_row_slices(dtype):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((9, 40)).astype(dtype)[2:7, :33]  # rows strided: lda 40, k 33
    b = rng.standard_normal((33, 20)).astype(dtype)
    c = np.full((12, 20), np.nan, dtype=dtype)
    _product(_address(dtype), a, b, c[3:8])
    np.testing.assert_array_equal(c[3:8], np.matmul(a, b))  # the same BLAS routine: equal bits
    assert np.isnan(c[:3]).all() and np.isnan(c[8:]).all()  # nothing written outside the rows


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_gemm_transposes_and_accumulates_when_asked(dtype):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((33, 5)).astype(dtype)
    b = rng.standard_normal((20, 33)).astype(dtype)
    c = rng.standard_normal((5, 20)).astype(dtype)
    expected = c.astype(np.float64) + a.T.astype(np.float64) @ b.T.astype(np.float64)
    _transposed_product_added(_address(dtype), a, b, c)
    np.testing.assert_allclose(c, expected, rtol=1e-4 if dtype == np.float32 else 1e-12, atol=1e-4 if dtype == np.float32 else 1e-12)


def test_no_address_for_other_types():
    assert blas.gemm_address(np.dtype(np.int64)) == 0
