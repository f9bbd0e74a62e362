"""The backward engine: order, accumulation, graph freeing, errors, aliasing, dtypes, custom Functions."""

import gc
import weakref

import numpy as np
import pytest

import ttrain
from ttrain.autograd import Function, unbroadcast


def test_a_10000_op_chain_backpropagates_without_recursion():
    x = ttrain.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    np.testing.assert_allclose(x.grad.item(), 1.0001**10_000, rtol=1e-3)


def test_shared_subexpressions_get_the_sum_of_their_paths():
    x = ttrain.tensor([2.0, 3.0], requires_grad=True)
    a = x * x  # used twice below
    (a * a + a).sum().backward()  # d/dx (x^4 + x^2) = 4x^3 + 2x
    np.testing.assert_allclose(x.grad.data, 4 * x.data**3 + 2 * x.data)


def test_gradients_accumulate_across_backward_calls():
    x = ttrain.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    grad = x.grad
    (x * x).sum().backward()
    assert x.grad is grad  # the same grad tensor, updated
    np.testing.assert_allclose(x.grad.data, 3 + 2 * x.data)


def test_second_backward_through_a_freed_graph_says_so():
    x = ttrain.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"backward through \w+ a second time: .*freed.*retain_graph=True"):
        y.backward()


def test_a_branch_of_a_freed_graph_is_freed_too():
    x = ttrain.tensor([1.0, 2.0], requires_grad=True)
    h = x.exp()
    h.sum().backward()
    with pytest.raises(RuntimeError, match="second time"):
        (h * 2).sum().backward()


def test_retain_graph_allows_a_second_backward():
    x = ttrain.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.data, 4 * np.exp(x.data), rtol=1e-6)


def test_freeing_releases_saved_arrays():
    x = ttrain.tensor(np.ones(3, np.float32), requires_grad=True)
    big = ttrain.tensor(np.ones(3, np.float32)) * 2  # saved by the Mul below
    y = (x * big).sum()
    ref = weakref.ref(big)
    del big
    gc.collect()
    assert ref() is not None  # held by the graph
    y.backward()
    gc.collect()
    assert ref() is None


def test_backward_of_a_non_scalar_needs_a_gradient():
    x = ttrain.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"gradient can be implied only for a one-element output, not shape \(2,\)"):
        (x * 2).backward()
    (x * 2).backward(ttrain.tensor([1.0, 10.0]))
    np.testing.assert_array_equal(x.grad.data, [2.0, 20.0])
    with pytest.raises(RuntimeError, match=r"gradient shape \(3,\) != tensor shape \(2,\)"):
        (x * 2).backward(np.ones(3))
    (x * 2)[:1].backward()  # one element, any shape: implied
    np.testing.assert_array_equal(x.grad.data, [4.0, 20.0])


def test_backward_of_a_tensor_without_grad_is_an_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        ttrain.tensor([1.0]).sum().backward()


def test_leaf_grads_never_alias_other_arrays():
    x = ttrain.tensor([1.0, 2.0], requires_grad=True)
    y = ttrain.tensor([3.0, 4.0], requires_grad=True)
    seed = np.ones(2, np.float32)
    (x + y).backward(seed)  # add hands the same array to both inputs
    assert x.grad.data is not y.grad.data and not np.shares_memory(x.grad.data, y.grad.data)
    assert not np.shares_memory(x.grad.data, seed)
    x.grad.data *= 5  # an optimizer scaling one gradient in place
    np.testing.assert_array_equal(y.grad.data, [1.0, 1.0])
    np.testing.assert_array_equal(seed, [1.0, 1.0])


def test_leaf_that_is_its_own_root_gets_a_copy_of_the_seed():
    x = ttrain.tensor([1.0, 2.0], requires_grad=True)
    seed = np.array([5.0, 6.0], np.float32)
    x.backward(seed)
    assert not np.shares_memory(x.grad.data, seed)
    y = ttrain.tensor(1.0, requires_grad=True)
    y.sum().backward()  # sum's gradient is a read-only broadcast view: copied
    assert y.grad.data.flags.writeable


def test_retain_grad_keeps_a_non_leaf_gradient_unshared():
    x = ttrain.tensor([1.0, 2.0], requires_grad=True)
    h = x + 0
    h.retain_grad()
    (h * 3).sum().backward()
    np.testing.assert_array_equal(h.grad.data, [3.0, 3.0])
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])
    assert not np.shares_memory(h.grad.data, x.grad.data)
    assert (x * 2).grad is None  # non-leaves keep no grad unless asked


def test_grads_have_the_dtype_of_their_leaf():
    a = ttrain.tensor([1.0, 2.0], requires_grad=True)
    b = ttrain.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    (a.double() * b).sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    c = ttrain.tensor([1.0, 2.0], requires_grad=True)
    (c * b).sum().backward()  # float32 leaf in a float64 expression
    assert c.grad.dtype == np.float32


def test_only_inputs_that_require_grad_get_one():
    x = ttrain.tensor([1.0, 2.0], requires_grad=True)
    c = ttrain.tensor([3.0, 4.0])
    (x * c).sum().backward()
    assert c.grad is None and x.grad is not None
    d = c.detach()
    assert d.grad_fn is None and not d.requires_grad


def test_leaf_and_grad_fn_bookkeeping():
    x = ttrain.tensor([1.0], requires_grad=True)
    y = x * 2
    assert x.is_leaf and x.grad_fn is None
    assert not y.is_leaf and repr(y.grad_fn) == "<MulBackward>"
    z = y.detach()
    assert z.is_leaf and np.shares_memory(z.data, y.data)


class _Cube(Function):
    """A user-defined op: x ** 3 with a hand-written backward, counting its backward calls."""

    calls = 0

    @staticmethod
    def forward(ctx, x, scale=1.0):
        ctx.save_for_backward(x)
        ctx.scale = scale
        return scale * x**3

    @staticmethod
    def backward(ctx, grad):
        _Cube.calls += 1
        (x,) = ctx.saved_tensors
        return grad * 3 * ctx.scale * x**2


def test_custom_function_with_keyword_arguments():
    x = ttrain.tensor([1.0, 2.0], requires_grad=True)
    y = _Cube.apply(x, scale=2.0)
    assert repr(y.grad_fn) == "<_CubeBackward>" and y.grad_fn.needs_input_grad == (True,)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, 6 * x.data**2)
    x64 = ttrain.randn(3, dtype=np.float64, requires_grad=True)
    assert ttrain.autograd.gradcheck(lambda t: _Cube.apply(t, scale=0.5), x64)


def test_backward_is_skipped_for_branches_that_need_no_gradient():
    _Cube.calls = 0
    x = ttrain.tensor([1.0, 2.0], requires_grad=True)
    frozen = _Cube.apply(ttrain.tensor([1.0, 2.0]))
    (x * frozen).sum().backward()
    assert _Cube.calls == 0 and frozen.grad_fn is None


def test_backward_returning_the_wrong_number_or_shape_of_gradients_is_reported():
    class TooMany(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, grad):
            return grad, grad

    class WrongShape(Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum()

        @staticmethod
        def backward(ctx, grad):
            return grad

    x = ttrain.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="TooMany.backward returned 2 gradients for 1 inputs"):
        TooMany.apply(x).sum().backward()
    with pytest.raises(RuntimeError, match=r"WrongShape.backward returned a gradient of shape \(\) for an input"):
        WrongShape.apply(x).backward()


def test_numpy_scalars_behave_like_python_numbers():
    x = ttrain.tensor([1.0, 2.0], requires_grad=True)
    y = x * np.float64(0.5) + np.float64(1.0)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize(
    "grad_shape, shape, expected",
    [((2, 3), (2, 3), (2, 3)), ((2, 3), (3,), (3,)), ((2, 3), (1, 3), (1, 3)), ((4, 2, 3), (2, 1), (2, 1)),
     ((2, 3), (), ()), ((0, 3), (1, 3), (1, 3))],
)
def test_unbroadcast_sums_back_to_the_input_shape(grad_shape, shape, expected):
    grad = np.arange(int(np.prod(grad_shape)), dtype=np.float64).reshape(grad_shape)
    out = unbroadcast(grad, shape)
    assert out.shape == expected
    assert out.sum() == grad.sum()
