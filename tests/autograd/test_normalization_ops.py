"""The fused normalisation op behind batch norm, layer norm and group norm.

Forward against NumPy formulas, gradients against finite differences (float64), the fused op
against the same maths composed from primitive ops, running statistics, and torch parity.
"""

import numpy as np
import pytest

import ttrain
from ttrain.autograd.ops.errors import ShapeError
from ttrain.nn import functional as F

from .op_helper import check_op

EPS = 1e-5


def _standardize(x, axes):
    mean = x.mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(x.var(axis=axes, keepdims=True) + EPS)


def _channel(p, ndim):
    return p.reshape((1, -1) + (1,) * (ndim - 2))


@pytest.mark.parametrize("shape", [(5, 3), (3, 2, 4), (2, 3, 2, 3)])
def test_batch_norm_training_matches_formula_and_finite_differences(shape):
    axes = (0, *range(2, len(shape)))
    check_op(
        [shape, shape[1:2], shape[1:2]],
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        lambda x, w, b: _standardize(x, axes) * _channel(w, len(shape)) + _channel(b, len(shape)),
        rtol32=1e-4, atol32=1e-5,
    )


def test_batch_norm_without_affine():
    check_op([(4, 3, 2, 2)], lambda x: F.batch_norm(x, None, None, training=True),
             lambda x: _standardize(x, (0, 2, 3)), rtol32=1e-4, atol32=1e-5)


def test_batch_norm_eval_uses_the_running_statistics_as_constants():
    mean, var = np.array([0.5, -1.0, 2.0]), np.array([1.5, 0.25, 3.0])
    check_op(
        [(2, 3, 2, 2), (3,), (3,)],
        lambda x, w, b: F.batch_norm(x, ttrain.tensor(mean), ttrain.tensor(var), w, b, training=False),
        lambda x, w, b: (x - _channel(mean, 4)) / np.sqrt(_channel(var, 4) + EPS) * _channel(w, 4) + _channel(b, 4),
    )


def test_batch_norm_updates_the_running_statistics_in_place():
    x = np.random.default_rng(0).standard_normal((6, 3, 2, 2)).astype(np.float32)
    running_mean, running_var = ttrain.zeros(3), ttrain.ones(3)
    mean_array = running_mean.data
    F.batch_norm(ttrain.tensor(x), running_mean, running_var, training=True, momentum=0.25)
    assert running_mean.data is mean_array
    n = x.size // 3
    np.testing.assert_allclose(running_mean.data, 0.25 * x.mean(axis=(0, 2, 3)), rtol=1e-5, atol=1e-7)
    unbiased = x.var(axis=(0, 2, 3)) * n / (n - 1)
    np.testing.assert_allclose(running_var.data, 0.75 + 0.25 * unbiased, rtol=1e-5)
    assert running_mean.dtype == np.float32 and running_var.dtype == np.float32


def test_batch_norm_updates_running_statistics_under_no_grad_too():
    running_mean, running_var = ttrain.zeros(2), ttrain.ones(2)
    with ttrain.no_grad():
        F.batch_norm(ttrain.randn(4, 2) + 3.0, running_mean, running_var, training=True)
    assert np.all(running_mean.data > 0)


@pytest.mark.parametrize("shape, normalized", [((4, 5), (5,)), ((2, 3, 4), (3, 4)), ((3, 2, 2, 3), (3,))])
def test_layer_norm_matches_formula_and_finite_differences(shape, normalized):
    axes = tuple(range(len(shape) - len(normalized), len(shape)))
    check_op([shape, normalized, normalized], lambda x, w, b: F.layer_norm(x, normalized, w, b),
             lambda x, w, b: _standardize(x, axes) * w + b, rtol32=1e-4, atol32=1e-5)


@pytest.mark.parametrize("shape, groups", [((2, 4, 3), 2), ((2, 6, 2, 2), 3), ((1, 4, 2, 3), 1), ((2, 4), 4)])
def test_group_norm_matches_formula_and_finite_differences(shape, groups):
    def reference(x, w, b):
        xs = _standardize(x.reshape(shape[0], groups, -1), (2,)).reshape(shape)
        return xs * _channel(w, len(shape)) + _channel(b, len(shape))

    check_op([shape, shape[1:2], shape[1:2]], lambda x, w, b: F.group_norm(x, groups, w, b), reference,
             rtol32=1e-4, atol32=1e-5)


def test_fused_op_matches_the_composite_of_primitives():
    # The same maths through mean/sub/mul/sqrt/div ops: values and gradients agree.
    rng = np.random.default_rng(3)
    x0, w0, b0, g = rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(3), rng.standard_normal(3), rng.standard_normal((4, 3, 3, 2))

    def run(fused):
        x, w, b = (ttrain.tensor(a, requires_grad=True) for a in (x0, w0, b0))
        if fused:
            y = F.batch_norm(x, None, None, w, b, training=True)
        else:
            centred = x - x.mean(dim=(0, 2, 3), keepdim=True)
            var = (centred * centred).mean(dim=(0, 2, 3), keepdim=True)
            y = centred / (var + EPS).sqrt() * w.reshape(1, 3, 1, 1) + b.reshape(1, 3, 1, 1)
        y.backward(g)
        return y.data, x.grad.data, w.grad.data, b.grad.data

    for fused, composite in zip(run(True), run(False)):
        np.testing.assert_allclose(fused, composite, rtol=1e-10, atol=1e-12)


def test_normalization_errors_name_the_op_and_shapes():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(ttrain.randn(1, 3), None, None, training=True)
    with pytest.raises(ValueError, match="running_mean and running_var are required"):
        F.batch_norm(ttrain.randn(2, 3), None, None, training=False)
    with pytest.raises(ShapeError, match=r"batch_norm: weight has shape \(4,\), expected \(3,\)"):
        F.batch_norm(ttrain.randn(2, 3), None, None, ttrain.ones(4), training=True)
    with pytest.raises(ShapeError, match=r"group_norm: 6 channels .* not divisible by num_groups=4"):
        F.group_norm(ttrain.randn(2, 6, 2), 4)
    with pytest.raises(ShapeError, match=r"layer_norm: input \(2, 3\) does not end with normalized_shape \(4,\)"):
        F.layer_norm(ttrain.randn(2, 3), (4,))


def test_same_inputs_give_the_same_bits():
    x = ttrain.randn(8, 4, 5, 5, requires_grad=True)
    w = ttrain.rand(4, requires_grad=True)
    results = []
    for _ in range(2):
        x.grad = w.grad = None
        y = F.group_norm(F.batch_norm(x, None, None, w, None, training=True), 2)
        (y * y).sum().backward()
        results.append((y.data.copy(), x.grad.data.copy(), w.grad.data.copy()))
    for first, second in zip(*results):
        assert first.tobytes() == second.tobytes()


# ---- torch parity ----------------------------------------------------------------------------
def _parity(torch, ours_fn, torch_fn, shapes, atol=1e-5):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    ours = [ttrain.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, ty = ours_fn(*ours), torch_fn(*theirs)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-4, atol=atol)
    g = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(g)
    ty.backward(torch.tensor(g))
    for t, tt in zip(ours, theirs):
        np.testing.assert_allclose(t.grad.data, tt.grad.numpy(), rtol=1e-4, atol=atol)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_matches_torch(training):
    torch = pytest.importorskip("torch")
    stats = np.array([0.1, -0.2, 0.3], np.float32), np.array([1.2, 0.8, 2.0], np.float32)
    ours_stats = [ttrain.tensor(s.copy()) for s in stats]
    torch_stats = [torch.tensor(s.copy()) for s in stats]
    _parity(torch, lambda x, w, b: F.batch_norm(x, *ours_stats, w, b, training=training, momentum=0.3),
            lambda x, w, b: torch.nn.functional.batch_norm(x, *torch_stats, w, b, training=training, momentum=0.3),
            [(5, 3, 4, 4), (3,), (3,)])
    for ours, theirs in zip(ours_stats, torch_stats):
        np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-5, atol=1e-7)


def test_layer_norm_and_group_norm_match_torch():
    torch = pytest.importorskip("torch")
    _parity(torch, lambda x, w, b: F.layer_norm(x, (4, 5), w, b),
            lambda x, w, b: torch.nn.functional.layer_norm(x, (4, 5), w, b), [(3, 2, 4, 5), (4, 5), (4, 5)])
    _parity(torch, lambda x, w, b: F.group_norm(x, 3, w, b),
            lambda x, w, b: torch.nn.functional.group_norm(x, 3, w, b), [(2, 6, 3, 4), (6,), (6,)])
