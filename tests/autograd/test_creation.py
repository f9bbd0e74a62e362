"""Creation functions: dtypes (float32 default, float64 on request, int64 for integers), shapes, sharing."""

import numpy as np
import pytest

import ttrain


@pytest.mark.parametrize(
    "data, dtype",
    [(1.5, np.float32), ([1.0, 2.0], np.float32), (3, np.int64), ([[1, 2]], np.int64), (True, np.bool_),
     ([1, 2.5], np.float32), (np.arange(3, dtype=np.int32), np.int32), (np.ones(2), np.float64),
     (np.float64(1.0), np.float64), (np.array(2, np.uint8), np.uint8)],
)
def test_tensor_infers_dtypes_like_pytorch(data, dtype):
    assert ttrain.tensor(data).dtype == dtype


def test_tensor_copies_and_from_numpy_shares():
    array = np.zeros(3, np.float32)
    copied, shared = ttrain.tensor(array), ttrain.from_numpy(array)
    array[0] = 7
    assert copied.data[0] == 0 and shared.data[0] == 7
    assert ttrain.tensor(array, dtype=ttrain.float64).dtype == np.float64
    assert ttrain.tensor(copied).data is not copied.data
    with pytest.raises(TypeError, match="from_numpy expects a numpy.ndarray, not list"):
        ttrain.from_numpy([1, 2])


@pytest.mark.parametrize("make", [ttrain.zeros, ttrain.ones, ttrain.randn, ttrain.rand])
def test_filled_and_random_tensors(make):
    for shape_args, shape in (((2, 3), (2, 3)), (((2, 3),), (2, 3)), (([4],), (4,)), ((), ()), ((0, 2), (0, 2))):
        t = make(*shape_args)
        assert t.shape == shape and t.dtype == np.float32 and not t.requires_grad
    assert make(2, dtype=ttrain.float64).dtype == np.float64
    t = make(2, requires_grad=True)
    assert t.requires_grad and t.is_leaf


def test_values_of_zeros_ones_full_rand():
    np.testing.assert_array_equal(ttrain.zeros(2).data, [0, 0])
    np.testing.assert_array_equal(ttrain.ones(2).data, [1, 1])
    assert ttrain.full((2,), 1.5).dtype == np.float32 and ttrain.full(2, 7).dtype == np.int64
    assert ttrain.full([1], True).dtype == np.bool_ and ttrain.full((2, 2), 3, dtype=ttrain.float64).dtype == np.float64
    np.testing.assert_array_equal(ttrain.full((2, 2), 1.5).data, np.full((2, 2), 1.5))
    r = ttrain.rand(1000)
    assert 0 <= r.data.min() and r.data.max() < 1
    assert abs(ttrain.randn(10_000, dtype=ttrain.float64).data.std() - 1) < 0.05


def test_arange_linspace_eye():
    assert ttrain.arange(5).dtype == np.int64 and ttrain.arange(5).tolist() == [0, 1, 2, 3, 4]
    assert ttrain.arange(1, 7, 2).tolist() == [1, 3, 5]
    assert ttrain.arange(0, 1, 0.25).dtype == np.float32 and ttrain.arange(3.0).dtype == np.float32
    assert ttrain.arange(3, dtype=ttrain.float64).dtype == np.float64
    np.testing.assert_allclose(ttrain.linspace(0, 1, 5).data, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_array_equal(ttrain.eye(2).data, np.eye(2))


def test_like_functions_keep_shape_and_dtype():
    base = ttrain.ones(2, 3, dtype=ttrain.float64)
    likes = (ttrain.zeros_like(base), ttrain.ones_like(base), ttrain.full_like(base, 2.0), ttrain.randn_like(base))
    for like in likes + (ttrain.rand_like(base),):
        assert like.shape == (2, 3) and like.dtype == np.float64 and not like.requires_grad
    assert ttrain.zeros_like(base, dtype=ttrain.float32).dtype == np.float32
    assert ttrain.ones_like(ttrain.tensor([1, 2])).dtype == np.int64
    assert ttrain.zeros_like(base, requires_grad=True).requires_grad


def test_randint_and_randperm():
    r = ttrain.randint(0, 3, (1000,))
    assert r.dtype == np.int64 and set(r.tolist()) == {0, 1, 2}
    assert ttrain.randint(5, (2, 2)).shape == (2, 2) and ttrain.randint(5, (50,)).data.max() < 5
    assert sorted(ttrain.randperm(5).tolist()) == [0, 1, 2, 3, 4]


def test_dtype_names():
    assert ttrain.float32 is np.float32 and ttrain.float64 is np.float64 and ttrain.int64 is np.int64
    assert ttrain.float is np.float32 and ttrain.long is np.int64 and ttrain.double is np.float64
    assert ttrain.is_tensor(ttrain.zeros(1)) and not ttrain.is_tensor(np.zeros(1))
