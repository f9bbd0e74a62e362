"""Parity with PyTorch for ELU, SELU, SiLU, Mish, Hardtanh, Unflatten, KLDivLoss, MaxPool1d and
AdaptiveMaxPool2d: outputs, input gradients and reprs on the same inputs. Skipped without torch."""

import numpy as np
import pytest

import ttrain
from ttrain import nn

torch = pytest.importorskip("torch")
tnn = torch.nn

LAYER_PAIRS = [
    (nn.ELU(), tnn.ELU()), (nn.ELU(0.4), tnn.ELU(0.4)), (nn.SELU(), tnn.SELU()), (nn.SiLU(), tnn.SiLU()),
    (nn.Mish(), tnn.Mish()), (nn.Hardtanh(), tnn.Hardtanh()), (nn.Hardtanh(-0.5, 2.0), tnn.Hardtanh(-0.5, 2.0)),
    (nn.Unflatten(2, (2, 6)), tnn.Unflatten(2, (2, 6))),
    (nn.MaxPool1d(2), tnn.MaxPool1d(2)), (nn.MaxPool1d(3, 2, 1), tnn.MaxPool1d(3, 2, 1)),
    (nn.MaxPool1d(3, 1, 0, 2), tnn.MaxPool1d(3, 1, 0, 2)),
    (nn.AdaptiveMaxPool2d(1), tnn.AdaptiveMaxPool2d(1)), (nn.AdaptiveMaxPool2d((3, 5)), tnn.AdaptiveMaxPool2d((3, 5))),
    (nn.AdaptiveMaxPool2d((None, 2)), tnn.AdaptiveMaxPool2d((None, 2))),
]


def _input_for(module, rng, dtype):
    shape = (2, 3, 4, 7) if "Adaptive" in type(module).__name__ else (2, 3, 12)
    return (rng.standard_normal(shape) * 3).astype(dtype)


@pytest.mark.parametrize("ours, theirs", LAYER_PAIRS, ids=repr)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layer_outputs_and_input_gradients_match_torch(ours, theirs, dtype):
    rng = np.random.default_rng(3)
    array = _input_for(ours, rng, dtype)
    x, tx = ttrain.tensor(array, requires_grad=True), torch.tensor(array, requires_grad=True)
    out, tout = ours(x), theirs(tx)
    tolerance = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    assert out.dtype == dtype and out.shape == tuple(tout.shape)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), **tolerance)
    weights = rng.standard_normal(tout.shape).astype(dtype)
    (out * ttrain.tensor(weights)).sum().backward()
    (tout * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), **tolerance)


@pytest.mark.parametrize("ours, theirs", LAYER_PAIRS, ids=repr)
def test_reprs_match_torch(ours, theirs):
    assert repr(ours) == repr(theirs)


@pytest.mark.filterwarnings("ignore:reduction. .mean. divides")  # torch's note on its own default
@pytest.mark.parametrize("reduction", ["mean", "batchmean", "sum", "none"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_loss_matches_torch(reduction, log_target):
    rng = np.random.default_rng(4)
    log_q = np.log(rng.dirichlet(np.ones(5), size=4))
    p = rng.dirichlet(np.ones(5), size=4)
    p[0, 1] = 0.0  # a zero target (its term is 0 in both)
    target = np.log(p + 1e-3) if log_target else p
    x, tx = ttrain.tensor(log_q, requires_grad=True), torch.tensor(log_q, requires_grad=True)
    t, tt = ttrain.tensor(target), torch.tensor(target)
    out = nn.KLDivLoss(reduction=reduction, log_target=log_target)(x, t)
    tout = tnn.KLDivLoss(reduction=reduction, log_target=log_target)(tx, tt)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12, atol=1e-14)
    out.sum().backward()
    tout.sum().backward()
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-12, atol=1e-14)
    assert repr(nn.KLDivLoss()) == repr(tnn.KLDivLoss())
