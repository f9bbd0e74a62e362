"""Activations: relu leaky_relu sigmoid tanh gelu softplus softmax log_softmax, and the erf kernel."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ttrain
from ttrain.autograd.ops.activation import erf

from .op_helper import SETTINGS, check_op, shape_and_dim, shapes


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _erf(a):
    return np.vectorize(math.erf, otypes=[np.float64])(a)  # plain-Python reference for the kernel


def _softmax(a, dim):
    e = np.exp(a - a.max(axis=dim, keepdims=True)) if a.size else a
    return e / e.sum(axis=dim, keepdims=True) if a.size else a


@SETTINGS
@given(shapes())
def test_relu_and_leaky_relu(s):
    check_op([s], lambda a: a.relu(), lambda a: np.maximum(a, 0))
    check_op([s], ttrain.relu, lambda a: np.maximum(a, 0))
    check_op([s], ttrain.leaky_relu, lambda a: np.where(a > 0, a, 0.01 * a))
    check_op([s], lambda a: ttrain.leaky_relu(a, negative_slope=0.2), lambda a: np.where(a > 0, a, 0.2 * a))


@SETTINGS
@given(shapes())
def test_sigmoid_and_tanh(s):
    check_op([s], lambda a: a.sigmoid(), _sigmoid, low=-10, high=10)
    check_op([s], ttrain.sigmoid, _sigmoid)
    check_op([s], lambda a: a.tanh(), np.tanh)
    check_op([s], ttrain.tanh, np.tanh)


@SETTINGS
@given(shapes())
def test_gelu(s):
    check_op([s], ttrain.gelu, lambda a: 0.5 * a * (1 + _erf(a / math.sqrt(2))), low=-4, high=4)
    tanh_form = lambda a: 0.5 * a * (1 + np.tanh(math.sqrt(2 / math.pi) * (a + 0.044715 * a**3)))  # noqa: E731
    check_op([s], lambda a: ttrain.gelu(a, approximate="tanh"), tanh_form, low=-4, high=4)


def test_gelu_rejects_unknown_approximations():
    with pytest.raises(ValueError, match="gelu: approximate must be 'none' or 'tanh'"):
        ttrain.gelu(ttrain.zeros(2), approximate="fast")


@SETTINGS
@given(shapes(), st.sampled_from([(1.0, 20.0), (2.0, 5.0), (0.5, 1.0)]))
def test_softplus(s, beta_threshold):
    beta, threshold = beta_threshold

    def reference(a):
        return np.where(beta * a > threshold, a, np.log1p(np.exp(beta * a)) / beta)

    check_op([s], lambda a: ttrain.softplus(a, beta=beta, threshold=threshold), reference, low=-6, high=6)


@SETTINGS
@given(shape_and_dim(min_dims=0))
def test_softmax_and_log_softmax(s_dim):
    s, dim = s_dim
    axis = dim if s else None
    check_op([s], lambda a: a.softmax(dim), lambda a: _softmax(a, axis))
    check_op([s], lambda a: ttrain.softmax(a, dim=dim), lambda a: _softmax(a, axis))
    check_op([s], lambda a: a.log_softmax(dim), lambda a: np.log(_softmax(a, axis)) if a.size else a)
    check_op([s], lambda a: ttrain.log_softmax(a, dim), lambda a: np.log(_softmax(a, axis)) if a.size else a)


def test_softmax_and_log_softmax_are_stable_for_huge_logits():
    x = ttrain.tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], requires_grad=True)
    log_p = x.log_softmax(-1)
    assert np.isfinite(log_p.data).all()
    np.testing.assert_allclose(log_p.data[0], [0.0, -2e4, -1e4], rtol=1e-6)
    np.testing.assert_allclose(x.softmax(1).data[1], [1 / 3] * 3, rtol=1e-6)
    log_p[:, 0].sum().backward()
    assert np.isfinite(x.grad.data).all()


def test_sigmoid_and_softplus_do_not_overflow():
    x = ttrain.tensor([-1e4, 0.0, 1e4], requires_grad=True)
    np.testing.assert_array_equal(x.sigmoid().data, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(ttrain.softplus(x).data, [0.0, math.log(2), 1e4], rtol=1e-6)
    ttrain.softplus(x).sum().backward()
    np.testing.assert_allclose(x.grad.data, [0.0, 0.5, 1.0])


def test_softmax_dim_errors_name_the_op():
    with pytest.raises(IndexError, match="softmax: dim 2 is out of range"):
        ttrain.zeros(2, 3).softmax(2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_erf_kernel_matches_math_erf(dtype):
    x = np.concatenate([np.linspace(-6, 6, 101), [0.0, -0.0, np.inf, -np.inf]]).astype(dtype).reshape(5, 21)
    out = erf(x[:, ::2])  # a non-contiguous view
    assert out.dtype == dtype and out.shape == (5, 11)
    np.testing.assert_allclose(out, _erf(x[:, ::2]), rtol=1e-6 if dtype == np.float32 else 1e-15, atol=1e-7)
    assert erf(np.zeros((0, 3), dtype)).shape == (0, 3)


def test_sigmoid_keeps_tiny_float32_values_accurate():
    # A tanh-based formula would round sigmoid(-20) to 0, and a later log would give -inf.
    out = ttrain.tensor([-20.0, -5.0, 0.0, 5.0]).sigmoid().data
    expected = 1 / (1 + np.exp(-np.array([-20.0, -5.0, 0.0, 5.0])))
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_sigmoid_of_huge_inputs_is_exact_and_silent():
    x = ttrain.tensor([-1e4, 1e4], requires_grad=True)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        y = x.sigmoid()
        y.sum().backward()
    np.testing.assert_array_equal(y.data, [0.0, 1.0])
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0])
