"""Shape ops and indexing: reshape/view transpose permute flatten squeeze unsqueeze expand cat stack
gather, and indexing with ints, slices, integer arrays, boolean masks and tensors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ttrain
from ttrain.autograd import ShapeError

from .op_helper import SETTINGS, check_op, shape_and_dim, shapes


@SETTINGS
@given(shapes(), st.randoms(use_true_random=False))
def test_reshape_and_view(s, random):
    target = list(s)
    random.shuffle(target)  # same number of elements, another arrangement
    check_op([s], lambda a: a.reshape(target), lambda a: a.reshape(target))
    check_op([s], lambda a: a.view(*target), lambda a: a.reshape(target))
    if 0 not in s:
        check_op([s], lambda a: ttrain.reshape(a, (-1,)), lambda a: a.reshape(-1))


def test_reshape_error_names_both_shapes():
    with pytest.raises(ShapeError, match=r"reshape: cannot reshape \(2, 3\) \(6 elements\) to \(4, 2\)"):
        ttrain.zeros(2, 3).reshape(4, 2)


@SETTINGS
@given(shapes(min_dims=1), st.randoms(use_true_random=False))
def test_permute_and_transpose(s, random):
    dims = list(range(len(s)))
    random.shuffle(dims)
    negative = [d - len(s) for d in dims]
    check_op([s], lambda a: a.permute(*dims), lambda a: a.transpose(dims))
    check_op([s], lambda a: ttrain.permute(a, negative), lambda a: a.transpose(dims))
    check_op([s], lambda a: a.transpose(0, -1), lambda a: np.swapaxes(a, 0, -1))
    check_op([s], lambda a: a.T, lambda a: a.T)


def test_t_and_permute_errors():
    assert ttrain.zeros(2, 3).t().shape == (3, 2) and ttrain.zeros(3).t().shape == (3,)
    with pytest.raises(RuntimeError, match="t\\(\\): expects a tensor with <= 2 dimensions"):
        ttrain.zeros(1, 2, 3).t()
    with pytest.raises(ShapeError, match=r"permute: \(0, 0\) is not a permutation"):
        ttrain.zeros(2, 3).permute(0, 0)
    with pytest.raises(IndexError, match="transpose: dim 2 is out of range"):
        ttrain.zeros(2, 3).transpose(0, 2)


@SETTINGS
@given(shapes(min_dims=1), st.data())
def test_flatten(s, data):
    start = data.draw(st.integers(-len(s), len(s) - 1))
    end = data.draw(st.integers(start % len(s), len(s) - 1))
    merged = s[: start % len(s)] + (int(np.prod(s[start % len(s) : end + 1])),) + s[end + 1 :]
    check_op([s], lambda a: a.flatten(start, end), lambda a: a.reshape(merged))
    check_op([s], ttrain.flatten, lambda a: a.reshape(-1) if a.size else a.reshape(0))


def test_flatten_of_a_0d_tensor_and_bad_ranges():
    assert ttrain.tensor(1.0).flatten().shape == (1,)
    with pytest.raises(ValueError, match="flatten: start_dim 1 comes after end_dim 0"):
        ttrain.zeros(2, 3).flatten(1, 0)


@SETTINGS
@given(shape_and_dim(min_dims=0))
def test_squeeze_and_unsqueeze(s_dim):
    s, dim = s_dim
    check_op([s], lambda a: a.squeeze(), np.squeeze)
    check_op([s], lambda a: a.squeeze(dim), lambda a: np.squeeze(a, dim) if a.ndim and a.shape[dim] == 1 else a)
    new_dim = dim if dim >= 0 else len(s) + 1 + dim
    check_op([s], lambda a: ttrain.unsqueeze(a, dim), lambda a: np.expand_dims(a, new_dim))


def test_squeeze_several_dims_and_unsqueeze_at_the_end():
    x = ttrain.zeros(1, 3, 1, 1)
    assert x.squeeze((0, 2)).shape == (3, 1)
    assert x.squeeze(1).shape == (1, 3, 1, 1)
    assert ttrain.zeros(2, 3).unsqueeze(-1).shape == (2, 3, 1)
    assert ttrain.tensor(1.0).unsqueeze(0).shape == (1,)
    with pytest.raises(IndexError, match="unsqueeze: dim 3 is out of range for a tensor with 3 dimensions"):
        ttrain.zeros(2, 3).unsqueeze(3)


@SETTINGS
@given(shapes(), st.lists(st.integers(1, 3), max_size=2))
def test_expand(s, lead):
    target = tuple(lead) + tuple(n if n != 1 else 3 for n in s)
    check_op([s], lambda a: a.expand(*target), lambda a: np.broadcast_to(a, target))
    keep = tuple(lead) + (-1,) * len(s)
    check_op([s], lambda a: a.expand(keep), lambda a: np.broadcast_to(a, tuple(lead) + s))
    check_op([s], lambda a: a.expand_as(ttrain.zeros(*target)), lambda a: np.broadcast_to(a, target))


def test_expand_errors():
    with pytest.raises(ShapeError, match=r"expand: cannot expand \(2,\) to \(3,\)"):
        ttrain.zeros(2).expand(3)
    with pytest.raises(ShapeError, match=r"expand: cannot expand \(2,\) to \(-1, 2\)"):
        ttrain.zeros(2).expand(-1, 2)


@SETTINGS
@given(shape_and_dim(), st.integers(1, 3))
def test_cat(s_dim, n):
    s, dim = s_dim
    sizes = [(i + 1) % 3 for i in range(n)]  # includes a zero-size part
    parts = [s[: dim % len(s)] + (k,) + s[dim % len(s) + 1 :] for k in sizes]
    check_op(parts, lambda *t: ttrain.cat(list(t), dim), lambda *a: np.concatenate(a, axis=dim))


@SETTINGS
@given(shapes(), st.integers(1, 3), st.data())
def test_stack(s, n, data):
    dim = data.draw(st.integers(-len(s) - 1, len(s)))
    check_op([s] * n, lambda *t: ttrain.stack(t, dim), lambda *a: np.stack(a, axis=dim))


def test_cat_and_stack_errors_name_the_shapes():
    with pytest.raises(ShapeError, match=r"cat: cannot concatenate shapes \(2, 3\), \(2, 4\) along dim 0"):
        ttrain.cat([ttrain.zeros(2, 3), ttrain.zeros(2, 4)])
    with pytest.raises(ShapeError, match=r"stack: all tensors must have the same shape, got \(2,\), \(3,\)"):
        ttrain.stack([ttrain.zeros(2), ttrain.zeros(3)])
    with pytest.raises(ValueError, match="cat: expects a non-empty sequence"):
        ttrain.cat([])


@SETTINGS
@given(shape_and_dim(min_side=1), st.data())
def test_gather(s_dim, data):
    s, dim = s_dim
    axis = dim % len(s)
    # at most the input's size outside `dim` (PyTorch's rule), any length along it
    index_shape = tuple(data.draw(st.integers(0, 4 if d == axis else n)) for d, n in enumerate(s))
    index = np.random.default_rng(0).integers(0, s[axis], index_shape)  # repeats are likely
    window = tuple(slice(0, n) for n in index_shape)
    window = tuple(slice(None) if d == axis else w for d, w in enumerate(window))
    check_op([s], lambda a: a.gather(dim, ttrain.tensor(index)), lambda a: np.take_along_axis(a[window], index, axis))


def test_gather_errors():
    with pytest.raises(ShapeError, match=r"gather: index \(2,\) does not fit input \(2, 3\)"):
        ttrain.zeros(2, 3).gather(1, ttrain.tensor([0, 1]))
    with pytest.raises(TypeError, match="gather: index must be an integer tensor"):
        ttrain.zeros(2, 3).gather(1, ttrain.zeros(2, 3))
    with pytest.raises(IndexError, match="gather"):
        ttrain.zeros(2, 3).gather(1, ttrain.tensor([[0], [3]]))


KEYS = [
    0, -1, (1, 2), slice(None), slice(1, None), slice(None, None, -2), (Ellipsis, 0), (None, slice(0, 2)),
    (slice(None), None, 1), [0, 2, 2], np.array([[1, 0], [1, 1]]), (slice(0, 2), [1, 1, 0]), ([0, 2], [1, 1]),
]


@pytest.mark.parametrize("key", KEYS, ids=repr)
def test_indexing_with_ints_slices_and_integer_arrays(key):
    # repeated integer indices must add up their gradients
    check_op([(3, 4)], lambda a: a[key], lambda a: a[key])


@SETTINGS
@given(shapes(min_dims=1))
def test_indexing_with_boolean_masks(s):
    mask = np.random.default_rng(2).random(s) > 0.4
    check_op([s], lambda a: a[ttrain.tensor(mask)], lambda a: a[mask])
    row_mask = np.arange(s[0]) % 2 == 0  # a mask over the first dimension only
    check_op([s], lambda a: a[row_mask], lambda a: a[row_mask])
    check_op([s], lambda a: a[a > 0], lambda a: a[a > 0])


def test_indexing_with_tensors_and_iteration():
    x = ttrain.arange(12).reshape(3, 4)
    np.testing.assert_array_equal(x[ttrain.tensor([2, 0])].data, x.data[[2, 0]])
    np.testing.assert_array_equal(x[ttrain.tensor(1), ttrain.tensor([0, 3])].data, [4, 7])
    assert [row.tolist() for row in x] == x.data.tolist()
    assert len(x) == 3


def test_index_errors_name_the_shape():
    with pytest.raises(IndexError, match=r"index: .*out of bounds.*\(tensor of shape \(3,\)\)"):
        ttrain.zeros(3)[5]


def test_setitem_writes_values_and_is_refused_on_leaves_that_require_grad():
    x = ttrain.zeros(3)
    x[ttrain.tensor([0, 2])] = 1.0
    np.testing.assert_array_equal(x.data, [1, 0, 1])
    p = ttrain.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        p[0] = 1.0
    with ttrain.no_grad():
        p[0] = 1.0
    assert p.data[0] == 1.0


def test_clone_is_a_copy_in_the_graph():
    x = ttrain.tensor([1.0, 2.0], requires_grad=True)
    y = x.clone()
    assert y.data is not x.data and y.grad_fn is not None
    (y * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])
