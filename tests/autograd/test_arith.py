"""Elementwise arithmetic ops: values, gradients, broadcasting, dtypes and error messages."""

import numpy as np
import pytest
from hypothesis import given

import ttrain
from ttrain.autograd import ShapeError

from .op_helper import SETTINGS, broadcastable, check_op, shapes


@SETTINGS
@given(broadcastable(2))
def test_add(s):
    check_op(s, lambda a, b: a + b, np.add)


@SETTINGS
@given(broadcastable(2))
def test_sub(s):
    check_op(s, lambda a, b: a - b, np.subtract)


@SETTINGS
@given(broadcastable(2))
def test_mul(s):
    check_op(s, lambda a, b: a * b, np.multiply)


@SETTINGS
@given(broadcastable(2))
def test_div(s):
    check_op(s, lambda a, b: a / b, np.divide, low=[-2, 0.5], high=[2, 2])


@SETTINGS
@given(broadcastable(2))
def test_pow_of_two_tensors(s):
    check_op(s, lambda a, b: a**b, np.power, low=[0.5, -2], high=[2, 2], rtol32=1e-4)


@SETTINGS
@given(shapes())
def test_pow_and_reflected_ops_with_python_numbers(s):
    def expression(a):  # the same code runs on ttrain tensors and on NumPy arrays
        return a**3 + 2**a - 1.5 * a + 1 / (a + 3) - (1 - a)

    check_op([s], expression, expression)


@SETTINGS
@given(shapes())
def test_neg(s):
    check_op([s], lambda a: -a, np.negative)


@SETTINGS
@given(shapes())
def test_exp(s):
    check_op([s], lambda a: a.exp(), np.exp)


@SETTINGS
@given(shapes())
def test_log(s):
    check_op([s], ttrain.log, np.log, low=0.1)


@SETTINGS
@given(shapes())
def test_sqrt(s):
    check_op([s], ttrain.sqrt, np.sqrt, low=0.1)


@SETTINGS
@given(shapes())
def test_abs(s):
    check_op([s], lambda a: abs(a), np.abs)


@SETTINGS
@given(shapes())
def test_clamp(s):
    check_op([s], lambda a: a.clamp(-0.5, 1.0), lambda a: np.clip(a, -0.5, 1.0))
    check_op([s], lambda a: ttrain.clamp(a, min=0.25), lambda a: np.maximum(a, 0.25))
    check_op([s], lambda a: a.clamp(max=0.25), lambda a: np.minimum(a, 0.25))


@SETTINGS
@given(broadcastable(2))
def test_maximum_and_minimum(s):
    check_op(s, ttrain.maximum, np.maximum)
    check_op(s, ttrain.minimum, np.minimum)


@SETTINGS
@given(broadcastable(3))
def test_where(s):
    cond_shape, a_shape, b_shape = s
    mask = np.random.default_rng(1).random(cond_shape) > 0.5
    check_op(
        [a_shape, b_shape], lambda a, b: ttrain.where(ttrain.tensor(mask), a, b),
        lambda a, b: np.where(mask, a, b),
    )


def test_where_with_a_python_number_keeps_float32():
    x = ttrain.tensor([-1.0, 2.0], requires_grad=True)
    y = ttrain.where(x > 0, x, 0.0)
    assert y.dtype == np.float32
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0])


def test_ties_split_the_gradient_evenly_as_in_pytorch():
    a = ttrain.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = ttrain.tensor([1.0, 3.0, 2.0], requires_grad=True)
    ttrain.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.data, [0.5, 0.0, 1.0])
    np.testing.assert_array_equal(b.grad.data, [0.5, 1.0, 0.0])


def test_clamp_passes_the_gradient_at_its_bounds():
    x = ttrain.tensor([-1.0, 0.0, 0.5, 1.0, 2.0], requires_grad=True)
    x.clamp(0.0, 1.0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0, 1, 1, 1, 0])
    with pytest.raises(ValueError, match="clamp"):
        x.clamp()


def test_pow_gradients_at_zero_follow_pytorch():
    x = ttrain.tensor([0.0, 2.0], dtype=np.float64, requires_grad=True)
    (x**0).sum().backward()  # d/dx x**0 is 0 everywhere, not 0 * 0**-1 = nan
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0])
    e = ttrain.tensor([2.0, 3.0], dtype=np.float64, requires_grad=True)
    (ttrain.tensor([0.0, 2.0], dtype=np.float64) ** e).sum().backward()  # d/de 0**e is 0, not 0 * log 0
    np.testing.assert_allclose(e.grad.data, [0.0, 8 * np.log(2)])


@pytest.mark.parametrize("scalar", [2, 2.5, np.float64(2.5), np.float32(2.5), np.int64(2)])
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow", "radd", "rsub", "rmul", "rdiv", "rpow"])
def test_float32_stays_float32_with_scalars(op, scalar):
    x = ttrain.tensor([0.5, 1.5], requires_grad=True)
    fns = {
        "add": lambda: x + scalar, "sub": lambda: x - scalar, "mul": lambda: x * scalar, "div": lambda: x / scalar,
        "pow": lambda: x**scalar, "radd": lambda: scalar + x, "rsub": lambda: scalar - x,
        "rmul": lambda: scalar * x, "rdiv": lambda: scalar / x, "rpow": lambda: scalar**x,
    }
    y = fns[op]()
    assert isinstance(y, ttrain.Tensor) and y.dtype == np.float32
    raw = y.grad_fn.backward(y.grad_fn, np.ones(2, np.float32))
    assert all(g is None or g.dtype == np.float32 for g in raw)


def test_dtype_promotion_follows_pytorch():
    f32, f64 = ttrain.ones(2), ttrain.ones(2, dtype=np.float64)
    i64, mask = ttrain.tensor([1, 2]), ttrain.tensor([True, False])
    assert (f32 + f64).dtype == np.float64
    assert (f64 * 2.0).dtype == np.float64
    assert (f32 * i64).dtype == np.float32  # NumPy alone would give float64
    assert (i64 * 0.5).dtype == np.float32
    assert (i64 / i64).dtype == np.float32
    assert (i64 + 1).dtype == np.int64 and (i64 * i64).dtype == np.int64
    assert (f32 * mask).dtype == np.float32


def test_float32_gradient_through_an_int_operand_stays_float32():
    x = ttrain.tensor([1.0, 2.0], requires_grad=True)
    (x * ttrain.tensor([3, 4])).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, [3.0, 4.0])


@pytest.mark.parametrize("op", ["+", "-", "*", "/", "**", "maximum", "where"])
def test_shape_errors_name_the_op_and_both_shapes(op):
    a, b = ttrain.ones(2, 3), ttrain.ones(4)
    fns = {
        "+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b, "**": lambda: a**b,
        "maximum": lambda: ttrain.maximum(a, b), "where": lambda: ttrain.where(a > 0, a, b),
    }
    names = {"+": "add", "-": "sub", "*": "mul", "/": "div", "**": "pow", "maximum": "maximum", "where": "where"}
    with pytest.raises(ShapeError, match=rf"^{names[op]}: shapes .*\(2, 3\) and \(4,\)"):
        fns[op]()


def test_errors_other_than_shapes_are_not_disguised_as_shape_errors():
    with pytest.raises(ValueError, match="negative integer powers"):
        ttrain.tensor([1, 2]) ** -1


@SETTINGS
@given(broadcastable(2))
def test_comparisons_give_masks_without_a_graph(s):
    rng = np.random.default_rng(0)
    a_np, b_np = rng.integers(0, 3, s[0]).astype(np.float32), rng.integers(0, 3, s[1]).astype(np.float32)
    a, b = ttrain.tensor(a_np, requires_grad=True), ttrain.tensor(b_np)
    for got, want in [(a < b, a_np < b_np), (a <= b, a_np <= b_np), (a > b, a_np > b_np), (a >= b, a_np >= b_np),
                      (a == b, a_np == b_np), (a != b, a_np != b_np), (a.eq(b), a_np == b_np), (a.ne(b), a_np != b_np),
                      (a.lt(b), a_np < b_np), (a.le(b), a_np <= b_np), (a.gt(b), a_np > b_np), (a.ge(b), a_np >= b_np)]:
        assert got.dtype == np.bool_ and not got.requires_grad and got.grad_fn is None
        np.testing.assert_array_equal(got.data, want)


def test_logical_ops_on_masks():
    p, q = ttrain.tensor([True, True, False]), ttrain.tensor([True, False, False])
    np.testing.assert_array_equal((p & q).data, [True, False, False])
    np.testing.assert_array_equal((p | q).data, [True, True, False])
    np.testing.assert_array_equal((p ^ q).data, [False, True, False])
    np.testing.assert_array_equal((~p).data, [False, False, True])


def test_comparison_shape_error_names_the_op():
    with pytest.raises(ShapeError, match=r"lt: shapes \(2,\) and \(3,\)"):
        ttrain.ones(2) < ttrain.ones(3)


def test_ndarray_on_the_left_defers_to_the_tensor():
    x = ttrain.tensor([1.0, 2.0], requires_grad=True)
    for y in (np.ones(2, np.float32) + x, np.ones(2, np.float32) * x, np.float32(2) * x, np.ones(2) < x):
        assert isinstance(y, ttrain.Tensor)
    assert (np.ones(2, np.float32) * x).requires_grad


def test_free_function_forms():
    x = ttrain.tensor([0.25, 4.0])
    np.testing.assert_allclose(ttrain.exp(x).data, np.exp(x.data))
    np.testing.assert_allclose(ttrain.abs(-x).data, x.data)
    np.testing.assert_allclose(ttrain.neg(x).data, -x.data)
    np.testing.assert_allclose(ttrain.pow(x, 2).data, x.data**2)
    np.testing.assert_allclose(ttrain.pow(2, x).data, 2**x.data)


def test_clamp_with_tensor_bounds():
    x = ttrain.tensor([[-1.0, 0.5], [2.0, 3.0]], requires_grad=True)
    y = x.clamp(min=ttrain.tensor([0.0, 1.0]))
    np.testing.assert_array_equal(y.data, [[0.0, 1.0], [2.0, 3.0]])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[0, 0], [1, 1]])
