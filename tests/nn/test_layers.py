"""Layers against NumPy: Linear, Flatten, Identity, Dropout and the activation modules."""

import math

import numpy as np
import pytest

import ttrain
from ttrain import nn
from ttrain.autograd import gradcheck
from ttrain.nn import functional as F

_erf = np.vectorize(math.erf)


def _x(shape, seed=0, dtype=np.float64, scale=2.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


# ---- Linear ---------------------------------------------------------------------------------
def test_linear_forward_matches_numpy_for_batched_inputs():
    layer = nn.Linear(4, 3)
    x = _x((2, 5, 4), dtype=np.float32)
    out = layer(ttrain.tensor(x))
    expected = x @ layer.weight.data.T + layer.bias.data
    assert out.shape == (2, 5, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-6, atol=1e-6)


def test_linear_shapes_layout_and_options():
    layer = nn.Linear(784, 10)
    assert layer.weight.shape == (10, 784) and layer.bias.shape == (10,)  # PyTorch's (out, in) layout
    no_bias = nn.Linear(3, 2, bias=False)
    assert no_bias.bias is None and [n for n, _ in no_bias.named_parameters()] == ["weight"]
    x = _x((4, 3), dtype=np.float32)
    np.testing.assert_allclose(no_bias(ttrain.tensor(x)).detach().numpy(), x @ no_bias.weight.data.T, rtol=1e-6)
    double = nn.Linear(3, 2, dtype=ttrain.float64)
    assert double.weight.dtype == np.float64 and double.bias.dtype == np.float64
    with pytest.raises(ValueError, match="in_features must be a non-negative integer"):
        nn.Linear(-1, 2)
    with pytest.raises(ValueError, match=r"linear: input \(4, 5\)"):
        no_bias(ttrain.randn(4, 5))


def test_linear_default_init_is_pytorchs_uniform_bound():
    layer = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    for p in (layer.weight.data, layer.bias.data):
        assert np.abs(p).max() <= bound
    # U(-b, b) has standard deviation b / sqrt(3)
    assert abs(layer.weight.data.std() / (bound / math.sqrt(3)) - 1) < 0.02
    assert abs(layer.weight.data.mean()) < 0.01 * bound


def test_linear_init_is_reproducible_from_the_seed():
    ttrain.manual_seed(7)
    a = nn.Linear(5, 3)
    ttrain.manual_seed(7)
    b = nn.Linear(5, 3)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)
    c = nn.Linear(5, 3)
    assert not np.array_equal(a.weight.data, c.weight.data)
    before = c.weight.data
    c.reset_parameters()
    assert c.weight.data is before and not np.array_equal(c.weight.data, a.weight.data)


def test_linear_gradients():
    layer = nn.Linear(3, 2).double()
    x = ttrain.tensor(_x((4, 3)), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.linear(x, w, b), [x, layer.weight, layer.bias])


# ---- Flatten, Identity --------------------------------------------------------------------------
def test_flatten_and_identity():
    x = ttrain.randn(2, 3, 4, 5)
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    assert nn.Flatten(start_dim=2)(x).shape == (2, 3, 20)
    np.testing.assert_array_equal(nn.Flatten()(x).numpy(), x.numpy().reshape(2, 60))
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
    identity = nn.Identity(54, unused="argument")
    assert identity(x) is x and repr(identity) == "Identity()"


# ---- Dropout ------------------------------------------------------------------------------------
def test_dropout_training_zeroes_p_and_scales_the_rest():
    p = 0.3
    x = ttrain.ones(200_000)
    out = nn.Dropout(p)(x).numpy()
    kept = out != 0
    assert abs(1 - kept.mean() - p) < 0.005
    np.testing.assert_allclose(out[kept], 1 / (1 - p), rtol=1e-6)


def test_dropout_gradient_is_the_mask():
    x = ttrain.ones(1000, requires_grad=True)
    out = F.dropout(x, 0.5, training=True)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), out.detach().numpy())


def test_dropout_is_reproducible_and_off_in_eval():
    layer = nn.Dropout(0.5)
    x = ttrain.randn(64)
    ttrain.manual_seed(3)
    first = layer(x).numpy()
    ttrain.manual_seed(3)
    np.testing.assert_array_equal(layer(x).numpy(), first)
    assert layer.eval()(x) is x
    assert F.dropout(x, 0.0) is x
    assert not F.dropout(x, 1.0).numpy().any()
    with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)
    assert repr(nn.Dropout()) == "Dropout(p=0.5, inplace=False)"


def test_dropout_draws_from_a_given_generator():
    x = ttrain.ones(50)
    a = F.dropout(x, 0.5, generator=ttrain.Generator(1)).numpy()
    b = F.dropout(x, 0.5, generator=ttrain.Generator(1)).numpy()
    np.testing.assert_array_equal(a, b)


# ---- activations --------------------------------------------------------------------------------
def _softmax(x, dim):
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


ACTIVATIONS = [
    (nn.ReLU(), lambda x: np.maximum(x, 0)),
    (nn.LeakyReLU(), lambda x: np.where(x > 0, x, 0.01 * x)),
    (nn.LeakyReLU(0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
    (nn.Tanh(), np.tanh),
    (nn.GELU(), lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2)))),
    (nn.GELU("tanh"), lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))),
    (nn.Softplus(), lambda x: np.log1p(np.exp(x))),
    (nn.Softplus(beta=2.0, threshold=3.0), lambda x: np.where(2 * x > 3, x, np.log1p(np.exp(2 * x)) / 2)),
    (nn.Softmax(dim=1), lambda x: _softmax(x, 1)),
    (nn.Softmax(), lambda x: _softmax(x, -1)),
    (nn.LogSoftmax(dim=0), lambda x: np.log(_softmax(x, 0))),
]


@pytest.mark.parametrize("module, reference", ACTIVATIONS, ids=lambda v: repr(v) if isinstance(v, nn.Module) else "")
def test_activation_matches_numpy_and_gradcheck(module, reference):
    x = _x((3, 4, 5))
    out = module(ttrain.tensor(x))
    np.testing.assert_allclose(out.numpy(), reference(x), rtol=1e-10, atol=1e-12)
    x32 = module(ttrain.tensor(x.astype(np.float32)))
    assert x32.dtype == np.float32
    assert gradcheck(module, [ttrain.tensor(x, requires_grad=True)])


def test_activation_reprs_follow_pytorch():
    assert [repr(m) for m in (nn.ReLU(), nn.ReLU(inplace=True), nn.LeakyReLU(), nn.Sigmoid())] == [
        "ReLU()", "ReLU(inplace=True)", "LeakyReLU(negative_slope=0.01)", "Sigmoid()",
    ]
    assert repr(nn.GELU()) == "GELU(approximate='none')"
    assert repr(nn.Softplus()) == "Softplus(beta=1.0, threshold=20.0)"
    assert repr(nn.Softmax(dim=1)) == "Softmax(dim=1)" and repr(nn.LogSoftmax()) == "LogSoftmax(dim=-1)"
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh'"):
        nn.GELU("fast")


def test_one_hot():
    out = F.one_hot(ttrain.tensor([0, 2, 1]), num_classes=4)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.numpy(), np.eye(4, dtype=np.int64)[[0, 2, 1]])
    assert F.one_hot(ttrain.tensor([[1], [3]])).shape == (2, 1, 4)
    with pytest.raises(ValueError, match="class values must be in \\[0, 3\\)"):
        F.one_hot(ttrain.tensor([3]), 3)
