"""ELU, SELU, SiLU, Mish, Hardtanh, Unflatten, KLDivLoss, MaxPool1d, AdaptiveMaxPool2d: values against
NumPy references, float64 gradchecks, argument checks, and each built from a config `layers:` list."""

from __future__ import annotations

import numpy as np
import pytest

import ttrain
from ttrain import nn
from ttrain.autograd.ops.errors import ShapeError
from ttrain.config import config_from_dict
from ttrain.nn import functional as F
from ttrain.nn.functional_activation import SELU_ALPHA, SELU_SCALE
from ttrain.training.experiment import build_loss, build_model

from tests.autograd.op_helper import check_op


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


# ---- activations ------------------------------------------------------------------------------
@pytest.mark.parametrize("fn, reference", [
    (F.elu, _elu),
    (lambda x: F.elu(x, 0.5), lambda x: _elu(x, 0.5)),
    (F.selu, lambda x: SELU_SCALE * _elu(x, SELU_ALPHA)),
    (F.silu, lambda x: x * _sigmoid(x)),
    (F.mish, lambda x: x * np.tanh(np.log1p(np.exp(x)))),
    (lambda x: F.hardtanh(x, -0.5, 1.5), lambda x: np.clip(x, -0.5, 1.5)),
], ids=["elu", "elu_alpha", "selu", "silu", "mish", "hardtanh"])
def test_activation_values_and_gradients(fn, reference):
    check_op([(3, 4)], fn, reference, low=-3.0, high=3.0)


def test_activations_stay_finite_for_huge_inputs():
    x = ttrain.tensor(np.array([-1e4, -50.0, 0.0, 50.0, 1e4]), requires_grad=True)
    for fn in (F.elu, F.selu, F.silu, F.mish, F.hardtanh):
        x.grad = None
        y = fn(x)
        y.sum().backward()
        assert np.isfinite(y.data).all() and np.isfinite(x.grad.data).all(), fn.__name__


def test_hardtanh_gradient_is_zero_at_its_limits_and_elu_is_alpha_at_zero():
    x = ttrain.tensor(np.array([-1.0, 0.0, 1.0]), requires_grad=True)
    F.hardtanh(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0, 0.0])
    x.grad = None
    F.elu(x, 2.0).sum().backward()
    np.testing.assert_allclose(x.grad.data, [2 * np.exp(-1.0), 2.0, 1.0])


def test_activation_modules_call_their_functions_and_describe_themselves():
    x = ttrain.tensor(np.linspace(-2, 2, 7))
    np.testing.assert_allclose(nn.ELU(0.3)(x).data, _elu(x.data, 0.3))
    np.testing.assert_allclose(nn.Hardtanh(-2.0, 0.5)(x).data, np.clip(x.data, -2.0, 0.5))
    assert repr(nn.ELU(0.3)) == "ELU(alpha=0.3)"
    assert repr(nn.Hardtanh()) == "Hardtanh(min_val=-1.0, max_val=1.0)"
    assert repr(nn.SiLU(inplace=True)) == "SiLU(inplace=True)"
    with pytest.raises(ValueError, match="max_val"):
        nn.Hardtanh(1.0, 1.0)


# ---- Unflatten ---------------------------------------------------------------------------------
def test_unflatten_splits_one_dimension_and_undoes_flatten():
    x = ttrain.tensor(np.arange(2 * 784, dtype=np.float64).reshape(2, 784))
    y = nn.Unflatten(1, (1, 28, 28))(x)
    assert y.shape == (2, 1, 28, 28)
    np.testing.assert_array_equal(nn.Flatten()(y).data, x.data)
    assert nn.Unflatten(-1, (4, -1))(x).shape == (2, 4, 196)
    assert repr(nn.Unflatten(1, [2, 3])) == "Unflatten(dim=1, unflattened_size=(2, 3))"
    check_op([(2, 6, 3)], lambda t: F.unflatten(t, 1, (3, 2)), lambda a: a.reshape(2, 3, 2, 3))


@pytest.mark.parametrize("dim, sizes", [(1, (5, 2)), (3, (2, 3)), (1, (-1, -1)), (1, (4, -1))])
def test_unflatten_rejects_sizes_that_do_not_split_the_dimension(dim, sizes):
    with pytest.raises(ShapeError, match="unflatten"):
        F.unflatten(ttrain.tensor(np.zeros((2, 6))), dim, sizes)


# ---- KLDivLoss ----------------------------------------------------------------------------------
def _kl_reference(log_q, p):
    return np.where(p > 0, p * (np.log(np.where(p > 0, p, 1.0)) - log_q), 0.0)


@pytest.mark.parametrize("reduction, reduce", [
    ("none", lambda a: a), ("sum", np.sum), ("mean", np.mean), ("batchmean", lambda a: a.sum() / a.shape[0]),
])
def test_kl_div_values_and_gradients(reduction, reduce):
    # Targets in (0, 1]: gradcheck of the target too, away from the kink at 0.
    check_op([(4, 3), (4, 3)], lambda x, t: F.kl_div(x, t, reduction=reduction),
             lambda x, t: reduce(_kl_reference(x, t)), low=[-3.0, 0.05], high=[0.0, 1.0])


def test_kl_div_of_log_targets_and_zero_targets():
    log_p = np.log(np.array([[0.1, 0.9], [0.5, 0.5]]))
    log_q = np.log(np.array([[0.3, 0.7], [0.2, 0.8]]))
    expected = (np.exp(log_p) * (log_p - log_q)).sum() / 2
    got = F.kl_div(ttrain.tensor(log_q), ttrain.tensor(log_p), reduction="batchmean", log_target=True)
    np.testing.assert_allclose(got.item(), expected)
    check_op([(2, 3), (2, 3)], lambda x, t: F.kl_div(x, t, log_target=True, reduction="sum"),
             lambda x, t: (np.exp(t) * (t - x)).sum())
    # A zero target contributes nothing, and its input a zero gradient, not NaN.
    x = ttrain.tensor(log_q, requires_grad=True)
    loss = nn.KLDivLoss(reduction="sum")(x, ttrain.tensor(np.array([[0.0, 1.0], [1.0, 0.0]])))
    loss.backward()
    np.testing.assert_allclose(loss.item(), -log_q[0, 1] - log_q[1, 0])
    np.testing.assert_array_equal(x.grad.data, [[0.0, -1.0], [-1.0, 0.0]])


def test_kl_div_loss_checks_its_reduction():
    assert nn.KLDivLoss(reduction="batchmean").reduction == "batchmean"
    with pytest.raises(ValueError, match="batchmean"):
        nn.KLDivLoss(reduction="average")
    with pytest.raises(ValueError, match="batchmean"):
        F.kl_div(ttrain.tensor(np.zeros(2)), ttrain.tensor(np.zeros(2)), reduction="average")
    with pytest.raises(ValueError, match="mean"):
        nn.MSELoss(reduction="batchmean")  # the other losses keep their three reductions
    with pytest.raises(ShapeError):
        F.kl_div(ttrain.tensor(np.zeros((2, 3))), ttrain.tensor(np.zeros((2, 2))))


# ---- pooling ----------------------------------------------------------------------------------
def _max_pool1d_reference(x, k, s, p, d):
    padded = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(p, p)], constant_values=-np.inf)
    length = (x.shape[-1] + 2 * p - d * (k - 1) - 1) // s + 1
    windows = [padded[..., i * s: i * s + d * (k - 1) + 1: d].max(axis=-1) for i in range(length)]
    return np.stack(windows, axis=-1)


@pytest.mark.parametrize("k, s, p, d", [(2, None, 0, 1), (3, 2, 1, 1), (3, 1, 0, 2), (4, 3, 2, 1)])
def test_max_pool1d_values_and_gradients(k, s, p, d):
    check_op([(2, 3, 11)], lambda x: F.max_pool1d(x, k, s, p, d),
             lambda x: _max_pool1d_reference(x, k, k if s is None else s, p, d))


def test_max_pool1d_layer_unbatched_input_and_arguments():
    pool = nn.MaxPool1d(3, 2, 1)
    x = np.random.default_rng(0).standard_normal((4, 9))
    np.testing.assert_array_equal(pool(ttrain.tensor(x)).data, _max_pool1d_reference(x, 3, 2, 1, 1))
    assert nn.MaxPool1d((2,)).stride == 2
    assert repr(pool) == "MaxPool1d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False)"
    with pytest.raises(ValueError, match="ceil_mode"):
        nn.MaxPool1d(2, ceil_mode=True)
    with pytest.raises(ShapeError, match="max_pool1d"):
        pool(ttrain.tensor(np.zeros((1, 2, 3, 4))))


def _adaptive_max_reference(x, ho, wo):
    h, w = x.shape[-2:]
    out = np.empty(x.shape[:-2] + (ho, wo))
    for i in range(ho):
        for j in range(wo):
            rows = slice(i * h // ho, -(-(i + 1) * h // ho))
            cols = slice(j * w // wo, -(-(j + 1) * w // wo))
            out[..., i, j] = x[..., rows, cols].max(axis=(-2, -1))
    return out


@pytest.mark.parametrize("size, expected", [(1, (1, 1)), ((3, 2), (3, 2)), ((None, 2), (7, 2)), (4, (4, 4))])
def test_adaptive_max_pool2d_values_and_gradients(size, expected):
    check_op([(2, 3, 7, 5)], lambda x: F.adaptive_max_pool2d(x, size),
             lambda x: _adaptive_max_reference(x, *expected))


def test_adaptive_max_pool2d_layer():
    pool = nn.AdaptiveMaxPool2d((2, 3))
    x = np.random.default_rng(1).standard_normal((3, 6, 6))
    np.testing.assert_array_equal(pool(ttrain.tensor(x)).data, _adaptive_max_reference(x, 2, 3))
    assert repr(pool) == "AdaptiveMaxPool2d(output_size=(2, 3))"
    for bad in (0, (2, 0, 1), "2"):
        with pytest.raises(ValueError, match="output_size"):
            nn.AdaptiveMaxPool2d(bad)


# ---- configs ------------------------------------------------------------------------------------
def _config(layers, loss=None, shape=None):
    data = {
        "seed": 0, "model": {"layers": layers}, "data": {"name": "spirals", "n_train": 32, "n_test": 8},
        "optimizer": {"name": "sgd", "lr": 0.1}, "trainer": {"epochs": 1, "batch_size": 8},
    }
    if loss:
        data["loss"] = loss
    return config_from_dict(data)


def test_every_new_layer_builds_from_a_config_layers_list():
    layers = [
        {"linear": {"out_features": 24}}, "elu", "selu", "silu", "mish",
        {"hardtanh": {"min_val": -2.0, "max_val": 2.0}},
        {"unflatten": {"dim": 1, "unflattened_size": [2, 12]}}, {"max_pool1d": {"kernel_size": 2}},
        {"unflatten": {"dim": 1, "unflattened_size": [1, 2]}}, {"adaptive_max_pool2d": {"output_size": [1, 3]}},
        "flatten", {"linear": {"out_features": 2}},
    ]
    model = build_model(_config(layers), (5,), 2)
    names = [type(layer).__name__ for layer in model]
    assert names == ["Linear", "ELU", "SELU", "SiLU", "Mish", "Hardtanh", "Unflatten", "MaxPool1d", "Unflatten",
                     "AdaptiveMaxPool2d", "Flatten", "Linear"]
    assert model[-1].in_features == 3  # inferred through the new layers' output shapes
    assert model(ttrain.tensor(np.zeros((4, 5), dtype=np.float32))).shape == (4, 2)


def test_kl_div_builds_as_a_config_loss():
    loss = build_loss(_config(["relu"], loss={"name": "kl_div", "reduction": "batchmean"}))
    assert isinstance(loss, nn.KLDivLoss) and loss.reduction == "batchmean"
