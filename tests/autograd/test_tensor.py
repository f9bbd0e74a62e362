"""Tensor basics: attributes, conversion, repr, requires_grad rules, dtype casts and in-place updates."""

import copy
import pickle

import numpy as np
import pytest

import ttrain


def test_attributes():
    x = ttrain.zeros(2, 3)
    assert x.shape == (2, 3) == x.size() and x.size(-1) == 3
    assert x.ndim == 2 == x.dim() and x.numel() == 6 and len(x) == 2
    assert x.dtype == np.float32 and isinstance(x.data, np.ndarray)
    assert x.grad is None and not x.requires_grad and x.is_leaf


def test_item_numpy_tolist_and_python_numbers():
    x = ttrain.tensor([[2.5]])
    assert x.item() == 2.5 and float(x) == 2.5 and int(ttrain.tensor(3)) == 3
    assert bool(ttrain.tensor(1.0)) and not bool(ttrain.tensor(0))
    assert ttrain.tensor([[1, 2]]).tolist() == [[1, 2]]
    with pytest.raises(RuntimeError, match=r"item\(\): tensor of shape \(2,\) has 2 elements, not 1"):
        ttrain.zeros(2).item()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(ttrain.zeros(2))
    with pytest.raises(TypeError, match="0-d"):
        len(ttrain.tensor(1.0))


def test_numpy_shares_memory_and_refuses_tensors_that_require_grad():
    x = ttrain.zeros(3)
    x.numpy()[0] = 5
    assert x.data[0] == 5
    p = ttrain.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"detach\(\).numpy\(\)"):
        p.numpy()
    assert np.shares_memory(p.detach().numpy(), p.data)
    np.testing.assert_array_equal(np.asarray(x), x.data)
    assert np.asarray(x, dtype=np.float64).dtype == np.float64
    np.testing.assert_array_equal(np.array([ttrain.tensor(1.0), ttrain.tensor(2.0)]), [1.0, 2.0])


def test_requires_grad_only_for_floats_and_leaves():
    x = ttrain.zeros(2).requires_grad_()
    assert x.requires_grad and x.requires_grad_(False) is x and not x.requires_grad
    with pytest.raises(RuntimeError, match="only floating point tensors can require gradients, not int64"):
        ttrain.tensor([1, 2], requires_grad=True)
    y = ttrain.zeros(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="only allowed on leaf tensors"):
        y.requires_grad_(False)


def test_repr_shows_values_dtype_and_grad_state():
    assert repr(ttrain.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(ttrain.tensor(3)) == "tensor(3)"
    assert repr(ttrain.tensor([1.5], dtype=np.float64)) == "tensor([1.5], dtype=float64)"
    assert repr(ttrain.tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"
    assert repr(ttrain.tensor([1.0], requires_grad=True) * 2) == "tensor([2.], grad_fn=<MulBackward>)"
    assert repr(ttrain.tensor([[True, False]])) == "tensor([[ True, False]])"


def test_casts_between_dtypes():
    x = ttrain.tensor([1.7, -2.2], requires_grad=True)
    d = x.double()
    assert d.dtype == np.float64 and d.grad_fn is not None
    (d * 2).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])
    casts = ((x.long(), np.int64), (x.int(), np.int32), (x.bool(), np.bool_), (x.to(ttrain.int64), np.int64))
    for cast, dtype in casts:
        assert cast.dtype == dtype and not cast.requires_grad and cast.grad_fn is None
    np.testing.assert_array_equal(x.long().data, [1, -2])
    assert x.float() is x and x.to("cpu") is x
    assert ttrain.tensor([1, 2]).float().dtype == np.float32


def test_in_place_updates_and_their_guard():
    x = ttrain.zeros(3)
    x.fill_(2.0).add_(ttrain.ones(3), alpha=0.5).mul_(2).sub_(1.0)
    np.testing.assert_array_equal(x.data, [4.0, 4.0, 4.0])
    x.copy_(np.array([1.0, -5.0, 9.0])).clamp_(-1, 1)
    np.testing.assert_array_equal(x.data, [1.0, -1.0, 1.0])
    assert x.zero_().data.sum() == 0
    p = ttrain.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad is used in an in-place operation"):
        p.add_(1.0)
    with ttrain.no_grad():
        p.add_(1.0)  # an optimizer step
    np.testing.assert_array_equal(p.data, [1.0, 1.0, 1.0])


def test_method_forms_of_arithmetic():
    a, b = ttrain.tensor([1.0, 2.0]), ttrain.tensor([3.0, 4.0])
    np.testing.assert_array_equal(a.add(b).data, [4, 6])
    np.testing.assert_array_equal(a.sub(b).data, [-2, -2])
    np.testing.assert_array_equal(a.mul(b).data, [3, 8])
    np.testing.assert_array_equal(b.div(a).data, [3, 2])
    np.testing.assert_array_equal(a.pow(2).data, [1, 4])
    np.testing.assert_array_equal(a.neg().data, [-1, -2])


def test_tensors_hash_by_identity():
    a, b = ttrain.zeros(1), ttrain.zeros(1)
    assert len({a, b}) == 2


def test_copies_and_pickles_keep_values_and_requires_grad():
    p = ttrain.tensor([1.0, 2.0], requires_grad=True)
    for q in (copy.deepcopy(p), pickle.loads(pickle.dumps(p))):
        assert q.requires_grad and q.dtype == np.float32 and not np.shares_memory(q.data, p.data)
        np.testing.assert_array_equal(q.data, p.data)
