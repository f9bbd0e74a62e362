"""Sequential runs Conv2d, ReLU, MaxPool2d(2) as one fused op (ttrain.nn.fusion): same outputs and
gradients as the modules one by one, and no fusion where a module or the input does not allow it."""

from __future__ import annotations

import numpy as np
import pytest

import ttrain
from ttrain import nn
from ttrain.autograd import gradcheck
from ttrain.autograd.kernels import blas
from ttrain.nn import fusion

pytestmark = pytest.mark.skipif(not blas.gemm_address(np.dtype(np.float32)),
                                reason="NumPy's BLAS is not an OpenBLAS with 64-bit integer CBLAS")


def _net(dtype=None, conv=None, pool=None):
    ttrain.manual_seed(0)
    return nn.Sequential(conv or nn.Conv2d(2, 4, 3, dtype=dtype), nn.ReLU(), pool or nn.MaxPool2d(2),
                         nn.Flatten())


def _run(net, x, fused, monkeypatch):
    """Output and parameter/input gradients of `net` on x, with fusion on or off."""
    with monkeypatch.context() as patch:
        if not fused:
            patch.setattr(fusion, "conv_relu_pool", lambda *args: None)
        t = ttrain.tensor(x, requires_grad=True)
        for p in net.parameters():
            p.grad = None
        y = net(t)
        y.backward(ttrain.tensor(np.random.default_rng(1).standard_normal(y.shape).astype(x.dtype)))
        return y.data, [t.grad.data] + [p.grad.data for p in net.parameters()]


def _count_fused(net, x, monkeypatch):
    calls = []
    real = fusion.conv_relu_pool
    monkeypatch.setattr(fusion, "conv_relu_pool", lambda *args: calls.append(r := real(*args)) or r)
    net(ttrain.tensor(x))
    return sum(r is not None for r in calls)


@pytest.mark.parametrize("shape", [(3, 2, 9, 9), (2, 2, 8, 10)])
def test_fused_block_gives_the_modules_results(monkeypatch, shape):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    net = _net()
    assert _count_fused(net, x, monkeypatch) == 1
    monkeypatch.undo()
    y, grads = _run(net, x, True, monkeypatch)
    y_ref, grads_ref = _run(net, x, False, monkeypatch)
    assert y.dtype == y_ref.dtype and y.tobytes() == y_ref.tobytes()  # the same bits
    for got, want in zip(grads, grads_ref):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_fused_block_gradcheck_float64(monkeypatch):
    net = _net(dtype=np.float64)
    x = ttrain.tensor(np.random.default_rng(0).standard_normal((2, 2, 7, 7)), requires_grad=True)
    assert _count_fused(net, x.data, monkeypatch) == 1
    assert gradcheck(lambda x, w, b: net(x), (x, net[0].weight, net[0].bias))


@pytest.mark.parametrize("make", [
    lambda: _net(conv=nn.Conv2d(2, 4, 3, padding="same")),  # may pad unevenly
    lambda: _net(conv=nn.Conv2d(2, 4, 3, groups=2)),
    lambda: _net(pool=nn.MaxPool2d(3)),
    lambda: _net(pool=nn.MaxPool2d(2, stride=1)),
    lambda: nn.Sequential(nn.Conv2d(2, 4, 3), nn.Tanh(), nn.MaxPool2d(2)),
])
def test_other_blocks_run_module_by_module(monkeypatch, make):
    assert _count_fused(make(), np.zeros((1, 2, 8, 8), np.float32), monkeypatch) == 0


def test_a_module_with_hooks_is_not_fused(monkeypatch):
    net = _net()
    seen = []
    net[1].register_forward_hook(lambda module, args, out: seen.append(out.shape))
    x = np.random.default_rng(0).standard_normal((2, 2, 8, 8)).astype(np.float32)
    assert _count_fused(net, x, monkeypatch) == 0
    assert seen == [(2, 4, 6, 6)]


def test_unbatched_and_mismatched_inputs_keep_the_modules_behaviour(monkeypatch):
    net = _net()
    assert _count_fused(net, np.zeros((2, 8, 8), np.float32), monkeypatch) == 0  # (C, H, W): module by module
    with pytest.raises(Exception, match="channels"):
        net(ttrain.tensor(np.zeros((1, 3, 8, 8), np.float32)))


def test_lenet_block_matches_torch():
    torch = pytest.importorskip("torch")
    ttrain.manual_seed(0)
    ours = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 6, 3), nn.ReLU(), nn.MaxPool2d(2))
    theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                 torch.nn.Conv2d(4, 6, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2))
    theirs.load_state_dict({k: torch.from_numpy(v.data.copy()) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((3, 1, 16, 15)).astype(np.float32)
    t, tt = ttrain.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = ours(t), theirs(tt)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    g = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
    y.backward(ttrain.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(t.grad.data, tt.grad.numpy(), rtol=1e-4, atol=1e-5)
    for (name, p), tp in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.data, tp.grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)
