"""Matrix products: `@` in every NumPy case (1-D, 2-D, batched, broadcast) and the fused linear op."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import ttrain
from ttrain.autograd import ShapeError
from ttrain.autograd.ops.matmul import Linear

from .op_helper import SETTINGS, check_op

# NumPy's matmul signature: optional vector dimensions and broadcast batch dimensions
matmul_shapes = hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=2, min_side=0, max_side=4)


@SETTINGS
@given(matmul_shapes)
def test_matmul(s):
    check_op(s.input_shapes, lambda a, b: a @ b, np.matmul, rtol32=1e-5, atol32=1e-5)


def test_matmul_method_and_free_function_and_reflected_ndarray():
    a, b = ttrain.randn(2, 3), ttrain.randn(3, 4)
    expected = a.data @ b.data
    for out in (a.matmul(b), ttrain.matmul(a, b), a.data @ b, a @ b.data):
        assert isinstance(out, ttrain.Tensor)
        np.testing.assert_allclose(out.data, expected, rtol=1e-6)


def test_matmul_error_names_both_shapes():
    with pytest.raises(ShapeError, match=r"^matmul: \(1, 784\) @ \(785, 10\): inner sizes differ$"):
        ttrain.zeros(1, 784) @ ttrain.zeros(785, 10)
    with pytest.raises(ShapeError, match=r"matmul: \(3,\) @ \(4,\): inner sizes differ"):
        ttrain.zeros(3) @ ttrain.zeros(4)
    with pytest.raises(ShapeError, match="at least 1 dimension"):
        ttrain.tensor(2.0) @ ttrain.zeros(3)
    with pytest.raises(ShapeError, match=r"matmul: \(2, 1, 3\) @ \(3, 3, 2\): batch dimensions"):
        ttrain.zeros(2, 1, 3) @ ttrain.zeros(3, 3, 2)


@SETTINGS
@given(st.lists(st.integers(0, 3), max_size=2).map(tuple), st.integers(1, 4), st.integers(1, 4), st.booleans())
def test_fused_linear_matches_x_at_w_transposed_plus_b(lead, n_in, n_out, bias):
    shapes = [lead + (n_in,), (n_out, n_in)] + ([(n_out,)] if bias else [])
    check_op(shapes, lambda *t: Linear.apply(*t), lambda x, w, b=0: x @ w.T + b)


def test_linear_shape_errors():
    with pytest.raises(ShapeError, match=r"linear: input \(2, 3\) @ weight.T \(4, 5\)"):
        Linear.apply(ttrain.zeros(2, 3), ttrain.zeros(5, 4))
    with pytest.raises(ShapeError, match=r"linear: bias \(4,\) does not match weight \(5, 3\)"):
        Linear.apply(ttrain.zeros(2, 3), ttrain.zeros(5, 3), ttrain.zeros(4))


def test_linear_bias_gradient_is_the_batch_sum():
    rng = np.random.default_rng(0)
    x = ttrain.tensor(rng.standard_normal((128, 20)).astype(np.float32))
    w = ttrain.tensor(rng.standard_normal((10, 20)).astype(np.float32), requires_grad=True)
    b = ttrain.zeros(10, requires_grad=True)
    g = rng.standard_normal((128, 10)).astype(np.float32)
    Linear.apply(x, w, b).backward(g)
    np.testing.assert_allclose(b.grad.data, g.astype(np.float64).sum(axis=0), rtol=1e-5, atol=1e-5)
