"""Reductions: sum mean max min amax amin var std argmax argmin, over dims (negative too) and keepdim."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ttrain
from ttrain.autograd import ShapeError

from .op_helper import SETTINGS, check_op, shape_and_dim, shapes


@SETTINGS
@given(shapes(), st.booleans())
def test_sum_and_mean_of_everything(s, keepdim):
    check_op([s], lambda a: a.sum(), np.sum)
    check_op([s], lambda a: ttrain.sum(a, dim=tuple(range(a.ndim)), keepdim=keepdim),
             lambda a: np.sum(a, keepdims=keepdim))
    if 0 not in s:  # the mean of nothing is nan
        check_op([s], lambda a: a.mean(), np.mean)


@SETTINGS
@given(shape_and_dim(), st.booleans())
def test_sum_and_mean_over_a_dim(s_dim, keepdim):
    s, dim = s_dim
    check_op([s], lambda a: a.sum(dim, keepdim=keepdim), lambda a: a.sum(axis=dim, keepdims=keepdim))
    if s[dim]:
        check_op([s], lambda a: ttrain.mean(a, dim, keepdim), lambda a: a.mean(axis=dim, keepdims=keepdim))


def test_sum_over_several_dims_and_of_a_0d_tensor():
    check_op([(2, 3, 4)], lambda a: a.sum((0, -1)), lambda a: a.sum(axis=(0, 2)))
    check_op([(2, 3, 4)], lambda a: a.mean([2, 0], keepdim=True), lambda a: a.mean(axis=(0, 2), keepdims=True))
    check_op([()], lambda a: a.sum(0), lambda a: a)
    check_op([()], lambda a: a.mean(-1, keepdim=True), lambda a: a)


def test_dim_out_of_range_is_an_index_error_naming_the_op():
    with pytest.raises(IndexError, match=r"sum: dim 2 is out of range for a tensor with 2 dimensions"):
        ttrain.zeros(2, 3).sum(2)
    with pytest.raises(IndexError, match="mean: dim -3"):
        ttrain.zeros(2, 3).mean(-3)


@SETTINGS
@given(shape_and_dim(min_side=1), st.booleans())
def test_max_and_min_along_a_dim_give_values_and_indices(s_dim, keepdim):
    s, dim = s_dim
    check_op([s], lambda a: a.max(dim, keepdim=keepdim).values, lambda a: a.max(axis=dim, keepdims=keepdim))
    check_op([s], lambda a: ttrain.min(a, dim, keepdim)[0], lambda a: a.min(axis=dim, keepdims=keepdim))
    x = ttrain.randn(*s)
    values, indices = x.max(dim, keepdim)
    assert indices.dtype == np.int64 and not indices.requires_grad
    np.testing.assert_array_equal(indices.data, x.data.argmax(axis=dim, keepdims=keepdim))
    np.testing.assert_array_equal(x.argmax(dim, keepdim).data, indices.data)
    np.testing.assert_array_equal(ttrain.argmin(x, dim, keepdim).data, x.data.argmin(axis=dim, keepdims=keepdim))


@SETTINGS
@given(shapes(min_side=1), st.booleans())
def test_max_min_amax_amin_of_everything(s, keepdim):
    check_op([s], lambda a: a.max(), np.max)
    check_op([s], lambda a: ttrain.min(a), np.min)
    check_op([s], lambda a: a.amax(keepdim=keepdim), lambda a: np.max(a, keepdims=keepdim))
    check_op([s], lambda a: a.amin(tuple(range(a.ndim)), keepdim=keepdim), lambda a: np.min(a, keepdims=keepdim))
    x = ttrain.randn(*s)
    assert x.argmax().item() == x.data.argmax() and ttrain.argmax(x).dtype == np.int64


def test_gradient_of_tied_extremes_follows_pytorch():
    x = ttrain.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]], requires_grad=True)
    x.max().backward()  # full reduction: split between the tied maxima
    np.testing.assert_array_equal(x.grad.data, [[0, 0.5, 0.5], [0, 0, 0]])
    x.grad = None
    x.amax(1).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[0, 0.5, 0.5], [0.5, 0.5, 0]])
    x.grad = None
    x.max(1).values.sum().backward()  # along a dim: all of it to the index returned
    np.testing.assert_array_equal(x.grad.data, [[0, 1, 0], [1, 0, 0]])


def test_extremes_of_nothing_are_refused_but_empty_batches_are_fine():
    reductions = (
        lambda t: t.max(), lambda t: t.amin(0), lambda t: t.max(0), lambda t: t.argmax(), lambda t: t.argmin(0),
    )
    for reduce in reductions:
        with pytest.raises(ShapeError, match=r"cannot reduce over a zero-size dimension of a tensor of shape \(0, 3\)"):
            reduce(ttrain.zeros(0, 3))
    assert ttrain.zeros(0, 3).amax(1).shape == (0,)
    values, indices = ttrain.zeros(0, 3).max(1)
    assert values.shape == indices.shape == (0,)


def test_max_of_a_0d_tensor_along_dim_0():
    x = ttrain.tensor(2.5, requires_grad=True)
    values, indices = x.max(0)
    assert values.item() == 2.5 and indices.item() == 0
    values.backward()
    assert x.grad.item() == 1.0


@SETTINGS
@given(shape_and_dim(min_side=2), st.booleans(), st.sampled_from([0, 1]))
def test_var_and_std(s_dim, keepdim, correction):
    s, dim = s_dim
    check_op([s], lambda a: a.var(dim, keepdim=keepdim, correction=correction),
             lambda a: a.var(axis=dim, keepdims=keepdim, ddof=correction), rtol32=1e-4, atol32=1e-5)
    check_op([s], lambda a: ttrain.std(a, dim, unbiased=False, keepdim=keepdim),
             lambda a: a.std(axis=dim, keepdims=keepdim), rtol32=1e-4, atol32=1e-5)
    check_op([s], lambda a: ttrain.var(a), lambda a: a.var(ddof=1), rtol32=1e-4, atol32=1e-5)
    first_and_last = lambda a: a.std(axis=tuple({0, a.ndim - 1}), ddof=1)  # noqa: E731
    check_op([s], lambda a: a.std((0, -1)), first_and_last, rtol32=1e-4, atol32=1e-5)


def test_free_max_and_min_of_two_tensors_are_elementwise():
    a, b = ttrain.tensor([1.0, 5.0]), ttrain.tensor([3.0, 2.0])
    np.testing.assert_array_equal(ttrain.max(a, b).data, [3.0, 5.0])
    np.testing.assert_array_equal(ttrain.min(a, b).data, [1.0, 2.0])
