"""Small products run on one OpenBLAS thread, and the thread count is set back after each."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from ttrain.autograd import openblas, parallel

threadpoolctl = pytest.importorskip("threadpoolctl")


@pytest.fixture
def controls():
    found = openblas._thread_controls()
    if found is None:
        pytest.skip("NumPy's BLAS is not an OpenBLAS with 64-bit integer symbols")
    return found


@pytest.fixture
def two_blas_threads(controls):
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        if controls[0]() != 2:
            pytest.skip("OpenBLAS could not be given 2 threads")
        yield controls


def test_one_thread_holds_blas_to_one_thread_and_sets_the_count_back(two_blas_threads):
    get, _ = two_blas_threads
    assert openblas.one_thread(get) == 1
    assert get() == 2


def test_the_count_is_set_back_when_the_call_raises(two_blas_threads):
    get, _ = two_blas_threads

    def fail() -> None:
        raise ValueError("inside")

    with pytest.raises(ValueError, match="inside"):
        openblas.one_thread(fail)
    assert get() == 2


def test_a_count_of_one_is_left_alone(controls):
    get, _ = controls
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        assert openblas.one_thread(get) == 1
        assert get() == 1


def test_calls_from_several_threads_leave_the_count_as_it_was(two_blas_threads):
    get, _ = two_blas_threads
    rng = np.random.default_rng(0)
    a = rng.standard_normal((128, 300)).astype(np.float32)
    b = rng.standard_normal((300, 10)).astype(np.float32)
    expected = openblas.one_thread(np.matmul, a, b)
    results = []

    def work() -> None:
        for _ in range(200):
            results.append(np.array_equal(openblas.one_thread(np.matmul, a, b), expected))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(results) and len(results) == 600
    assert get() == 2


def test_without_the_controls_the_call_is_made_as_it_is(monkeypatch):
    monkeypatch.setattr(openblas, "_thread_controls", lambda: None)
    assert openblas.one_thread(lambda x, y=0: x + y, 1, y=2) == 3


def test_small_products_give_the_one_thread_bits_and_large_ones_keep_the_threads(two_blas_threads, monkeypatch):
    monkeypatch.setattr(parallel, "_split", None)  # as before the conv kernels' pool (which holds BLAS to 1) runs
    rng = np.random.default_rng(1)
    x = rng.standard_normal((128, 784)).astype(np.float32)  # the seed net's layer: 1M multiply-adds
    w = rng.standard_normal((10, 784)).astype(np.float32)
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        one = x @ w.T
    np.testing.assert_array_equal(parallel.matmul(x, w.T), one)
    calls = []
    monkeypatch.setattr(openblas, "one_thread", lambda f, *a, **k: calls.append(1) or f(*a, **k))
    parallel.matmul(x, w.T)
    parallel.matmul(x, x.T)  # 128 x 784 x 128: 12.8M multiply-adds, BLAS keeps its threads
    parallel.matmul(w[:, :8][None], np.ones((2000, 8, 10), np.float32))  # broadcast batch: 1.6M
    parallel.matmul(w[:, :8], np.ones((4000, 8, 10), np.float32))  # 3.2M, counted from the batch of b
    assert calls == [1, 1]
