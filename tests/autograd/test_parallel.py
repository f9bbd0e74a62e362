"""The ops' split products and elementwise passes give the unsplit results, for any split."""

from __future__ import annotations

import numpy as np
import pytest

from ttrain.autograd import parallel


@pytest.fixture
def split_in_three():
    """An installed splitter that cuts range(n) into 3 uneven pieces, run in reverse order."""
    calls = []

    def split(n, task):
        bounds = [(0, n // 5), (n // 5, n // 2), (n // 2, n)]
        calls.append(n)
        for start, stop in reversed(bounds):
            task(start, stop)

    parallel.install(split)
    yield calls
    parallel.install(None)


def test_large_products_split_and_match_numpy(split_in_three):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((64, 9216)).astype(np.float32)
    w = rng.standard_normal((128, 9216)).astype(np.float32)
    # 9216-term float32 sums of magnitude ~100: pieces may be blocked differently by BLAS (1e-3)
    np.testing.assert_allclose(parallel.matmul(a, w.T), a @ w.T, rtol=1e-5, atol=1e-3)
    g = rng.standard_normal((64, 128)).astype(np.float32)
    np.testing.assert_allclose(parallel.matmul(g.T, a), g.T @ a, rtol=1e-5, atol=1e-3)
    assert split_in_three == [64, 128]


def test_a_split_product_fills_the_given_output(split_in_three):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((1792, 28)).astype(np.float32)
    w = rng.standard_normal((512, 28)).astype(np.float32)
    out = np.full((1792, 512), np.nan, dtype=np.float32)
    assert parallel.matmul(a, w.T, out=out) is out
    np.testing.assert_allclose(out, a @ w.T, rtol=1e-5, atol=1e-4)
    small = np.empty((4, 4), dtype=np.float32)
    assert parallel.matmul(a[:4], w[:4].T, out=small) is small  # unsplit, still into `out`
    np.testing.assert_allclose(small, a[:4] @ w[:4].T, rtol=1e-5, atol=1e-5)
    assert split_in_three == [1792]


def test_small_products_and_broadcast_batches_are_not_split(split_in_three):
    a = np.ones((4, 8), dtype=np.float32)
    np.testing.assert_array_equal(parallel.matmul(a, a.T), a @ a.T)
    b = np.ones((2, 300, 300))
    np.testing.assert_array_equal(parallel.matmul(b[:1], b), b[:1] @ b)  # batch (1,) against (2,)
    assert split_in_three == []


def test_stacked_and_batched_products_split_and_match_numpy(split_in_three):
    rng = np.random.default_rng(3)
    tokens = rng.standard_normal((64, 49, 64)).astype(np.float32)  # (N, L, E) @ (E, 3E): over N * L rows
    w = rng.standard_normal((192, 64)).astype(np.float32)
    np.testing.assert_allclose(parallel.matmul(tokens, w.T), tokens @ w.T, rtol=1e-5, atol=1e-4)
    q = rng.standard_normal((64, 4, 49, 16)).astype(np.float32)  # per-head scores: over N * heads
    k = rng.standard_normal((64, 4, 16, 49)).astype(np.float32)
    np.testing.assert_allclose(parallel.matmul(q, k), q @ k, rtol=1e-5, atol=1e-4)
    strided = np.swapaxes(k, -1, -2)  # a non-contiguous operand is read as it is
    np.testing.assert_allclose(parallel.matmul(strided, q.swapaxes(-1, -2)), strided @ q.swapaxes(-1, -2),
                               rtol=1e-5, atol=1e-4)
    assert split_in_three == [64 * 49, 64 * 4, 64 * 4]


def test_relu_and_its_gradient_are_exact_when_split(split_in_three):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 64, 24, 24)).astype(np.float32)
    x[0, 0, 0, :3] = (np.nan, -0.0, np.inf)
    out = parallel.relu(x)
    np.testing.assert_array_equal(out, np.maximum(x, 0))
    grad = rng.standard_normal(x.shape).astype(np.float32)
    np.testing.assert_array_equal(parallel.relu_grad(grad, out), grad * (out > 0))
    assert split_in_three == [x.size, x.size]


def test_without_a_splitter_nothing_changes():
    x = np.arange(-3.0, 3.0)
    np.testing.assert_array_equal(parallel.relu(x), np.maximum(x, 0))
    np.testing.assert_array_equal(parallel.relu_grad(np.ones(6), parallel.relu(x)), [0, 0, 0, 0, 1, 1])


def test_splits_says_whether_over_rows_cuts_the_work(split_in_three):
    for rows, elements in ((1000, 1 << 20), (1000, 100), (1, 1 << 20)):
        shares = []
        parallel.over_rows(rows, elements, lambda i, j: shares.append((i, j)))
        assert parallel.splits(rows, elements) == (len(shares) > 1)
    parallel.install(None)
    assert not parallel.splits(1000, 1 << 20)
