"""Losses against NumPy references, gradients by gradcheck, and stability at huge logits.

The fused ops (cross-entropy, NLL, MSE, BCE, BCE-with-logits) are also held to compositions of
primitive ops, values and gradients.
"""

import math

import numpy as np
import pytest

import ttrain
from ttrain import nn
from ttrain.autograd import ShapeError, gradcheck
from ttrain.nn import functional as F

REDUCTIONS = ["mean", "sum", "none"]


def _rng(seed=0):
    return np.random.default_rng(seed)


def _t(array, grad=False):
    return ttrain.tensor(array, requires_grad=grad)


def _reduce(loss, reduction, denominator=None):
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.sum() / (loss.size if denominator is None else denominator)


def _log_softmax(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


# ---- NumPy references -----------------------------------------------------------------------
def ref_cross_entropy(x, t, weight=None, ignore_index=-100, label_smoothing=0.0, reduction="mean"):
    """PyTorch's documented formula, on (N, C, d...) logits and (N, d...) class indices."""
    c = x.shape[1]
    rows = np.moveaxis(x, 1, -1).reshape(-1, c)
    target = t.reshape(-1)
    log_p = _log_softmax(rows, 1)
    w = np.ones(c) if weight is None else weight
    counted = target != ignore_index
    safe = np.where(counted, target, 0)
    w_target = w[safe] * counted
    nll = -w_target * log_p[np.arange(len(safe)), safe]
    smooth = -(log_p * w).sum(1) * counted
    loss = (1 - label_smoothing) * nll + label_smoothing / c * smooth
    if reduction == "none":
        return loss.reshape(t.shape)
    return _reduce(loss, reduction, w_target.sum())


def ref_bce(x, t, weight=None):
    loss = -(t * np.maximum(np.log(x), -100) + (1 - t) * np.maximum(np.log(1 - x), -100))
    return loss if weight is None else loss * weight


def ref_bce_logits(x, t, weight=None, pos_weight=None):
    pw = 1.0 if pos_weight is None else pos_weight
    log_sig = -np.logaddexp(0, -x)  # log(sigmoid(x)), stable
    log_one_minus = -np.logaddexp(0, x)
    loss = -(pw * t * log_sig + (1 - t) * log_one_minus)
    return loss if weight is None else loss * weight


# ---- cross-entropy ----------------------------------------------------------------------------
CE_CASES = [
    dict(),
    dict(weight=True),
    dict(ignore=True),
    dict(label_smoothing=0.25),
    dict(weight=True, ignore=True, label_smoothing=0.1),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", CE_CASES, ids=lambda c: "-".join(c) or "plain")
@pytest.mark.parametrize("shape", [(6, 5), (3, 4, 2, 3)], ids=["NC", "NCd1d2"])
def test_cross_entropy_class_indices_match_numpy(shape, case, reduction):
    rng = _rng()
    x = rng.standard_normal(shape) * 3
    t = rng.integers(0, shape[1], (shape[0], *shape[2:]))
    ignore_index = 2 if case.get("ignore") else -100
    weight = rng.random(shape[1]) + 0.5 if case.get("weight") else None
    smoothing = case.get("label_smoothing", 0.0)
    expected = ref_cross_entropy(x, t, weight, ignore_index, smoothing, reduction)
    out = F.cross_entropy(
        _t(x), _t(t), None if weight is None else _t(weight), ignore_index=ignore_index,
        reduction=reduction, label_smoothing=smoothing,
    )
    assert out.shape == np.shape(expected) and out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)
    module = nn.CrossEntropyLoss(weight=None if weight is None else _t(weight), ignore_index=ignore_index,
                                 reduction=reduction, label_smoothing=smoothing)
    np.testing.assert_allclose(module(_t(x), _t(t)).numpy(), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CE_CASES, ids=lambda c: "-".join(c) or "plain")
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 2)], ids=["NC", "NCd1"])
def test_cross_entropy_gradcheck(shape, case):
    rng = _rng(1)
    x = _t(rng.standard_normal(shape), grad=True)
    t = _t(rng.integers(0, shape[1], (shape[0], *shape[2:])))
    weight = _t(rng.random(shape[1]) + 0.5) if case.get("weight") else None
    kwargs = dict(ignore_index=1 if case.get("ignore") else -100, label_smoothing=case.get("label_smoothing", 0.0))
    for reduction in REDUCTIONS:
        assert gradcheck(lambda x: F.cross_entropy(x, t, weight, reduction=reduction, **kwargs), [x])


def test_cross_entropy_hand_computed_value():
    # softmax([0, ln 3]) = [1/4, 3/4]
    out = F.cross_entropy(ttrain.tensor([[0.0, math.log(3.0)]]), ttrain.tensor([1]))
    assert out.item() == pytest.approx(-math.log(0.75), rel=1e-6)


def test_fused_cross_entropy_matches_nll_of_log_softmax():
    rng = _rng(2)
    x = rng.standard_normal((8, 6)).astype(np.float32)
    t = _t(rng.integers(0, 6, 8))
    weight = _t((rng.random(6) + 0.5).astype(np.float32))
    fused_x, composite_x = _t(x, True), _t(x, True)
    fused = F.cross_entropy(fused_x, t, weight)
    composite = F.nll_loss(F.log_softmax(composite_x, dim=1), t, weight)
    fused.backward()
    composite.backward()
    np.testing.assert_allclose(fused.item(), composite.item(), rtol=1e-6)
    np.testing.assert_allclose(fused_x.grad.numpy(), composite_x.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_fused_cross_entropy_matches_primitive_ops():
    """The reference made of primitive ops only: log_softmax, integer indexing, mean."""
    rng = _rng(12)
    x = rng.standard_normal((16, 10)).astype(np.float32) * 5
    t = rng.integers(0, 10, 16)
    fused_x, composite_x = _t(x, True), _t(x, True)
    fused = F.cross_entropy(fused_x, _t(t))
    composite = -F.log_softmax(composite_x, dim=1)[np.arange(16), t].mean()
    fused.backward()
    composite.backward()
    np.testing.assert_allclose(fused.item(), composite.item(), rtol=1e-6)
    np.testing.assert_allclose(fused_x.grad.numpy(), composite_x.grad.numpy(), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_probability_targets(reduction):
    rng = _rng(3)
    x = rng.standard_normal((4, 3, 2))
    probs = np.exp(_log_softmax(rng.standard_normal((4, 3, 2)), 1))
    weight = rng.random(3) + 0.5
    smoothed = probs * 0.8 + 0.2 / 3
    expected = -(_log_softmax(x, 1) * smoothed * weight[:, None]).sum(1)
    out = F.cross_entropy(_t(x), _t(probs), _t(weight), reduction=reduction, label_smoothing=0.2)
    np.testing.assert_allclose(out.numpy(), _reduce(expected, reduction), rtol=1e-12)
    xg, pg = _t(x, True), _t(probs, True)
    assert gradcheck(lambda x, p: F.cross_entropy(x, p, _t(weight), reduction=reduction), [xg, pg])


def test_cross_entropy_unbatched_input():
    x = _rng().standard_normal(5)
    out = F.cross_entropy(_t(x), _t(np.int64(3)))
    assert out.shape == ()
    np.testing.assert_allclose(out.item(), -_log_softmax(x, 0)[3])


def test_cross_entropy_is_stable_for_huge_float32_logits():
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [0.0, 0.0, -1e4]], dtype=np.float32)
    t = np.array([1, 2, 2])
    logits = _t(x, True)
    loss = F.cross_entropy(logits, _t(t), reduction="none")
    expected = ref_cross_entropy(x.astype(np.float64), t, reduction="none")  # [2e4, ln 2, 1e4 + ln 2]
    assert np.isfinite(loss.detach().numpy()).all()
    np.testing.assert_allclose(loss.detach().numpy(), expected, rtol=1e-6)
    loss.sum().backward()
    softmax = np.exp(_log_softmax(x.astype(np.float64), 1))
    assert np.isfinite(logits.grad.numpy()).all()
    np.testing.assert_allclose(logits.grad.numpy(), softmax - np.eye(3)[t], atol=1e-6)
    smoothed = F.cross_entropy(_t(x), _t(t), label_smoothing=0.1)
    assert np.isfinite(smoothed.item())


def test_cross_entropy_errors_name_the_loss_and_shapes():
    x = ttrain.randn(4, 10)
    message = r"cross_entropy: input of shape \(4, 10\) needs class-index targets of shape \(4,\), got target shape \(5"
    with pytest.raises(ShapeError, match=message):
        F.cross_entropy(x, ttrain.tensor([0, 1, 2, 3, 4]))
    with pytest.raises(ShapeError, match=r"probability targets must have the input's shape \(4, 10\), got \(4, 9\)"):
        F.cross_entropy(x, ttrain.rand(4, 9))
    with pytest.raises(IndexError, match="target 10 is out of bounds for 10 classes"):
        F.cross_entropy(x, ttrain.tensor([0, 10, 2, 3]))
    with pytest.raises(IndexError, match="target -1 is out of bounds"):
        F.cross_entropy(x, ttrain.tensor([0, -1, 2, 3]))
    with pytest.raises(ShapeError, match=r"weight of shape \(3,\) must have one entry per class: \(10,\)"):
        F.cross_entropy(x, ttrain.tensor([0, 1, 2, 3]), ttrain.ones(3))
    with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none', not 'avg'"):
        nn.CrossEntropyLoss(reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing must be between 0.0 and 1.0"):
        F.cross_entropy(x, ttrain.tensor([0, 1, 2, 3]), label_smoothing=1.5)


def test_cross_entropy_all_ignored_is_nan_with_zero_gradient():
    x = _t(np.zeros((2, 3), np.float32), True)
    loss = F.cross_entropy(x, ttrain.tensor([-100, -100]))
    assert math.isnan(loss.item())
    loss.backward()
    assert not x.grad.numpy().any()


# ---- NLL ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_matches_numpy_and_gradcheck(reduction):
    rng = _rng(4)
    log_p = _log_softmax(rng.standard_normal((5, 4, 3)), 1)
    t = rng.integers(0, 4, (5, 3))
    weight = rng.random(4) + 0.5
    expected = ref_cross_entropy(log_p, t, weight, 0, 0.0, reduction)  # log_softmax is idempotent
    out = nn.NLLLoss(_t(weight), ignore_index=0, reduction=reduction)(_t(log_p), _t(t))
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)
    x = _t(log_p[:2, :, :2].copy(), True)
    assert gradcheck(lambda x: F.nll_loss(x, _t(t[:2, :2]), _t(weight), ignore_index=0, reduction=reduction), [x])


# ---- regression losses ----------------------------------------------------------------------------
def _huber(d, delta):
    return np.where(np.abs(d) < delta, 0.5 * d * d, delta * (np.abs(d) - 0.5 * delta))


def _smooth_l1(d, beta):
    return np.where(np.abs(d) < beta, 0.5 * d * d / beta, np.abs(d) - 0.5 * beta)


REGRESSION = [
    (nn.MSELoss, {}, lambda d: d * d),
    (nn.L1Loss, {}, np.abs),
    (nn.HuberLoss, {}, lambda d: _huber(d, 1.0)),
    (nn.HuberLoss, {"delta": 0.5}, lambda d: _huber(d, 0.5)),
    (nn.SmoothL1Loss, {}, lambda d: _smooth_l1(d, 1.0)),
    (nn.SmoothL1Loss, {"beta": 2.0}, lambda d: _smooth_l1(d, 2.0)),
    (nn.SmoothL1Loss, {"beta": 0.0}, np.abs),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("cls, kwargs, reference", REGRESSION, ids=lambda v: getattr(v, "__name__", str(v)))
def test_regression_losses_match_numpy_and_gradcheck(cls, kwargs, reference, reduction):
    rng = _rng(5)
    x, y = rng.standard_normal((4, 3)) * 2, rng.standard_normal((4, 3)) * 2
    loss = cls(reduction=reduction, **kwargs)
    np.testing.assert_allclose(loss(_t(x), _t(y)).numpy(), _reduce(reference(x - y), reduction), rtol=1e-12)
    assert gradcheck(loss, [_t(x, True), _t(y, True)])


def test_fused_mse_matches_the_composite_in_float32():
    rng = _rng(6)
    x, y = rng.standard_normal((16, 10)).astype(np.float32), rng.random((16, 10)).astype(np.float32)
    fused_x, composite_x = _t(x, True), _t(x, True)
    fused = F.mse_loss(fused_x, _t(y))
    composite = ((composite_x - _t(y)) ** 2).mean()
    fused.backward()
    composite.backward()
    assert fused.dtype == np.float32
    np.testing.assert_allclose(fused.item(), composite.item(), rtol=1e-6)
    np.testing.assert_allclose(fused_x.grad.numpy(), composite_x.grad.numpy(), rtol=1e-6, atol=1e-9)


def test_regression_loss_shape_errors_name_the_loss_and_shapes():
    with pytest.raises(ShapeError, match=r"mse_loss: input shape \(4, 1\) and target shape \(4,\) differ"):
        nn.MSELoss()(ttrain.randn(4, 1), ttrain.randn(4))
    with pytest.raises(ShapeError, match="l1_loss"):
        F.l1_loss(ttrain.randn(3), ttrain.randn(2))
    with pytest.raises(ValueError, match="delta must be positive"):
        nn.HuberLoss(delta=0)


def test_integer_targets_are_cast_to_the_input_dtype():
    out = F.mse_loss(ttrain.zeros(2, 3), F.one_hot(ttrain.tensor([0, 2]), 3))
    assert out.dtype == np.float32
    assert out.item() == pytest.approx(2 / 6)


# ---- binary cross-entropy -------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_matches_numpy_and_gradcheck(reduction):
    rng = _rng(7)
    x = rng.uniform(0.05, 0.95, (4, 3))
    y = rng.random((4, 3))
    weight = rng.random(3) + 0.5
    out = nn.BCELoss(weight=_t(weight), reduction=reduction)(_t(x), _t(y))
    np.testing.assert_allclose(out.numpy(), _reduce(ref_bce(x, y, weight), reduction), rtol=1e-12)
    loss = nn.BCELoss(_t(weight), reduction=reduction)
    assert gradcheck(loss, [_t(x, True), _t(y, True)])


def test_fused_bce_matches_primitive_ops_inside_the_interval():
    rng = _rng(13)
    x = rng.uniform(0.05, 0.95, (8, 3))
    y = rng.random((8, 3))
    fused_x, composite_x, yt = _t(x, True), _t(x, True), _t(y)
    fused = F.binary_cross_entropy(fused_x, yt)
    composite = -(yt * composite_x.log() + (1 - yt) * (1 - composite_x).log()).mean()
    fused.backward()
    composite.backward()
    np.testing.assert_allclose(fused.item(), composite.item(), rtol=1e-12)
    np.testing.assert_allclose(fused_x.grad.numpy(), composite_x.grad.numpy(), rtol=1e-10)


def test_bce_clamps_logs_at_saturated_probabilities():
    x = _t(np.array([0.0, 1.0, 0.0, 1.0], np.float32), True)
    y = _t(np.array([1.0, 0.0, 0.0, 1.0], np.float32))
    loss = F.binary_cross_entropy(x, y, reduction="none")
    np.testing.assert_array_equal(loss.detach().numpy(), [100, 100, 0, 0])
    loss.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(ttrain.tensor([1.5]), ttrain.tensor([1.0]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_matches_numpy_and_gradcheck(reduction):
    rng = _rng(8)
    x = rng.standard_normal((4, 3)) * 3
    y = rng.random((4, 3))
    weight, pos_weight = rng.random((4, 1)) + 0.5, rng.random(3) * 3
    loss = nn.BCEWithLogitsLoss(weight=_t(weight), reduction=reduction, pos_weight=_t(pos_weight))
    expected = _reduce(ref_bce_logits(x, y, weight, pos_weight), reduction)
    np.testing.assert_allclose(loss(_t(x), _t(y)).numpy(), expected, rtol=1e-12)
    assert gradcheck(loss, [_t(x, True), _t(y, True)])


def test_fused_bce_with_logits_matches_sigmoid_then_bce():
    rng = _rng(9)
    x = rng.standard_normal((6, 2))
    y = (rng.random((6, 2)) > 0.5).astype(np.float64)
    fused_x, composite_x = _t(x, True), _t(x, True)
    fused = F.binary_cross_entropy_with_logits(fused_x, _t(y))
    composite = F.binary_cross_entropy(F.sigmoid(composite_x), _t(y))
    fused.backward()
    composite.backward()
    np.testing.assert_allclose(fused.item(), composite.item(), rtol=1e-12)
    np.testing.assert_allclose(fused_x.grad.numpy(), composite_x.grad.numpy(), rtol=1e-10)


def test_bce_with_logits_is_stable_for_huge_float32_logits():
    x = _t(np.array([1e4, -1e4, 1e4, -1e4], np.float32), True)
    y = np.array([1.0, 0.0, 0.0, 1.0], np.float32)
    loss = F.binary_cross_entropy_with_logits(x, _t(y), reduction="none", pos_weight=ttrain.tensor([2.0]))
    np.testing.assert_allclose(loss.detach().numpy(), [0, 0, 1e4, 2e4])
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0, 0, 1, -2])  # w * (sigmoid(x) - y), positives scaled
    with pytest.raises(ShapeError, match=r"pos_weight of shape \(3,\) does not broadcast to the input shape \(4,\)"):
        F.binary_cross_entropy_with_logits(x, _t(y), pos_weight=ttrain.ones(3))


# ---- modules ----------------------------------------------------------------------------------
def test_loss_weights_are_buffers_in_the_state_dict():
    loss = nn.CrossEntropyLoss(weight=[1.0, 2.0, 3.0])
    assert isinstance(loss.weight, ttrain.Tensor)
    assert list(loss.state_dict()) == ["weight"]
    assert list(nn.BCEWithLogitsLoss(pos_weight=ttrain.ones(2)).state_dict()) == ["pos_weight"]
    assert list(nn.CrossEntropyLoss().state_dict()) == []
    assert repr(nn.MSELoss()) == "MSELoss()" and repr(nn.L1Loss(reduction="sum")) == "L1Loss()"  # as torch
