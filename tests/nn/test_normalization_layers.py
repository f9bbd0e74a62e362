"""BatchNorm1d/2d, LayerNorm, GroupNorm: parameters, buffers, train vs eval, torch parity both ways."""

import numpy as np
import pytest

import ttrain
from ttrain.nn.normalization import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm


def test_batch_norm_state_dict_has_pytorch_names_and_layouts():
    bn = BatchNorm2d(3)
    state = bn.state_dict()
    assert list(state) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert [name for name, _ in bn.named_parameters()] == ["weight", "bias"]
    np.testing.assert_array_equal(state["weight"].data, np.ones(3))
    np.testing.assert_array_equal(state["running_var"].data, np.ones(3))
    assert state["num_batches_tracked"].shape == () and state["num_batches_tracked"].dtype == np.int64


def test_without_affine_or_tracking_there_is_nothing_to_save():
    assert not BatchNorm1d(4, affine=False, track_running_stats=False).state_dict()
    assert list(GroupNorm(2, 4, affine=False).state_dict()) == []
    assert list(LayerNorm(3, bias=False).state_dict()) == ["weight"]


def test_train_normalizes_with_batch_statistics_and_eval_with_running_ones():
    bn = BatchNorm1d(2, momentum=0.5)
    x = ttrain.tensor([[1.0, 10.0], [3.0, 30.0]])
    np.testing.assert_allclose(bn(x).data, [[-1, -1], [1, 1]], atol=1e-4)
    np.testing.assert_allclose(bn.running_mean.data, [1.0, 10.0])  # 0.5 * 0 + 0.5 * batch mean
    np.testing.assert_allclose(bn.running_var.data, [1.5, 100.5])  # 0.5 * 1 + 0.5 * unbiased var
    assert int(bn.num_batches_tracked.data) == 1
    bn.eval()
    np.testing.assert_allclose(bn(x).data, (x.data - [1.0, 10.0]) / np.sqrt(np.array([1.5, 100.5]) + 1e-5), rtol=1e-5)
    assert int(bn.num_batches_tracked.data) == 1  # eval leaves the statistics alone


def test_input_dimensions_are_checked():
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected 4D input, got 2D input of shape \(2, 3\)"):
        BatchNorm2d(3)(ttrain.randn(2, 3))
    with pytest.raises(ValueError, match="BatchNorm1d: expected 2D or 3D input"):
        BatchNorm1d(3)(ttrain.randn(2, 3, 4, 4))
    with pytest.raises(ValueError, match="num_channels=6 must be divisible by num_groups=4"):
        GroupNorm(4, 6)
    with pytest.raises(ValueError, match="momentum must be in"):
        BatchNorm1d(3, momentum=2.0)


def _torch_layer(torch, ours, cls, *args, **kwargs):
    theirs = getattr(torch.nn, cls)(*args, **kwargs)
    theirs.load_state_dict({k: torch.tensor(np.asarray(v.numpy())) for k, v in ours.state_dict().items()})
    return theirs


def _randomize_affine(layer):
    rng = np.random.default_rng(5)
    for p in layer.parameters():
        p.data[...] = rng.uniform(0.5, 1.5, p.shape)


@pytest.mark.parametrize("cls, x_shape, momentum", [("BatchNorm2d", (6, 3, 4, 5), 0.1), ("BatchNorm1d", (8, 4), 0.3),
                                                   ("BatchNorm1d", (5, 4, 6), None)])
def test_batch_norm_matches_torch_over_training_steps_and_in_eval(cls, x_shape, momentum):
    torch = pytest.importorskip("torch")
    from ttrain.nn import normalization

    ours = getattr(normalization, cls)(x_shape[1], momentum=momentum)
    _randomize_affine(ours)
    theirs = _torch_layer(torch, ours, cls, x_shape[1], momentum=momentum)
    rng = np.random.default_rng(0)
    for step in range(3):
        x = (rng.standard_normal(x_shape) * 2 + step).astype(np.float32)
        tx, ttx = ttrain.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, ty = ours(tx), theirs(ttx)
        np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-4, atol=1e-5)
        g = rng.standard_normal(x_shape).astype(np.float32)
        y.backward(g)
        ty.backward(torch.tensor(g))
        np.testing.assert_allclose(tx.grad.data, ttx.grad.numpy(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), rtol=1e-4, atol=1e-4)
    for name, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[name].data, value.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)

    ours.eval()
    theirs.eval()
    x = rng.standard_normal(x_shape).astype(np.float32)
    np.testing.assert_allclose(ours(ttrain.tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-4, atol=1e-5)

    # torch's statistics load back into a fresh ttrain layer and give the same eval output
    fresh = getattr(normalization, cls)(x_shape[1]).eval()
    fresh.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    np.testing.assert_allclose(fresh(ttrain.tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-4, atol=1e-5)


def test_batch_norm_without_running_stats_uses_batch_statistics_in_eval_too():
    torch = pytest.importorskip("torch")
    ours = BatchNorm2d(3, track_running_stats=False).eval()
    theirs = torch.nn.BatchNorm2d(3, track_running_stats=False).eval()
    x = np.random.default_rng(0).standard_normal((4, 3, 2, 2)).astype(np.float32)
    np.testing.assert_allclose(ours(ttrain.tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cls, args, x_shape", [("LayerNorm", ((4, 5),), (3, 2, 4, 5)), ("LayerNorm", (6,), (5, 6)),
                                                ("GroupNorm", (3, 6), (2, 6, 3, 3)), ("GroupNorm", (2, 4), (3, 4))])
def test_layer_and_group_norm_match_torch(cls, args, x_shape):
    torch = pytest.importorskip("torch")
    from ttrain.nn import normalization

    ours = getattr(normalization, cls)(*args)
    _randomize_affine(ours)
    theirs = _torch_layer(torch, ours, cls, *args)
    x = np.random.default_rng(0).standard_normal(x_shape).astype(np.float32)
    tx, ttx = ttrain.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = ours(tx), theirs(ttx)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-4, atol=1e-5)
    y.sum().backward()
    (ty.sum()).backward()
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.data, getattr(theirs, name).grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(tx.grad.data, ttx.grad.numpy(), rtol=1e-4, atol=1e-4)
    assert repr(ours) == repr(theirs)
