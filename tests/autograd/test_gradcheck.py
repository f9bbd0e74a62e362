"""gradcheck itself: it passes right gradients, catches wrong ones, and guards its preconditions."""

import numpy as np
import pytest

import ttrain
from ttrain.autograd import Function, GradcheckError, gradcheck


class _WrongSquare(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * x  # should be 2x


def test_defaults_follow_the_issue():
    import inspect

    params = inspect.signature(gradcheck).parameters
    assert (params["eps"].default, params["atol"].default, params["rtol"].default) == (1e-6, 1e-5, 1e-3)


def test_right_gradients_pass_for_several_inputs_and_outputs():
    a = ttrain.randn(2, 3, dtype=np.float64, requires_grad=True)
    b = ttrain.randn(3, dtype=np.float64, requires_grad=True)
    assert gradcheck(lambda x, y: (x * y, (x - y).exp(), x.argmax()), (a, b))
    assert gradcheck(lambda x, c: x * c, (a, ttrain.randn(3, dtype=np.float64)))  # c needs no gradient


def test_a_wrong_gradient_is_caught_with_its_location():
    x = ttrain.randn(3, dtype=np.float64, requires_grad=True)
    with pytest.raises(GradcheckError, match=r"gradient of input 0 \(shape \(3,\)\) differs at \(\d,\): backward"):
        gradcheck(_WrongSquare.apply, x)
    assert gradcheck(_WrongSquare.apply, x, raise_exception=False) is False


def test_a_gradient_that_never_arrives_is_caught():
    x = ttrain.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    with pytest.raises(GradcheckError):
        gradcheck(lambda t: ttrain.tensor(t.data * 2), x)  # escapes the graph


def test_non_contiguous_inputs_are_perturbed_in_place():
    base = ttrain.randn(4, 3, dtype=np.float64)
    view = ttrain.from_numpy(base.data.T).requires_grad_()  # a transposed (non-contiguous) leaf
    assert gradcheck(lambda t: t @ t.T, view)


def test_preconditions():
    with pytest.raises(ValueError, match="no input requires grad"):
        gradcheck(lambda t: t * 2, ttrain.zeros(2, dtype=np.float64))
    with pytest.raises(ValueError, match="inputs must be float64.*float32"):
        gradcheck(lambda t: t * 2, ttrain.zeros(2, requires_grad=True))
