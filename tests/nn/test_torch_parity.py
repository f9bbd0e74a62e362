"""Parity with PyTorch: same weights and inputs give the same outputs and gradients, state dicts
move between the two, and reprs read the same. Skipped where torch is not installed."""

import numpy as np
import pytest

import ttrain
from ttrain import nn
from ttrain.nn import functional as F

torch = pytest.importorskip("torch")
tnn = torch.nn
TF = torch.nn.functional


def _pair(array, grad=True):
    """The same values as a ttrain tensor and a torch tensor."""
    return ttrain.tensor(array, requires_grad=grad), torch.tensor(array, requires_grad=grad)


def _close(ours, theirs, rtol=1e-5, atol=1e-6):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    ours = ours.detach().numpy() if isinstance(ours, ttrain.Tensor) else ours
    assert ours.dtype == theirs.dtype
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)


def _torch_state(module):
    return {k: torch.from_numpy(v.numpy().copy()) for k, v in module.state_dict().items()}


def _backward_both(ours, theirs, weights):
    (ours * ttrain.tensor(weights)).sum().backward()
    (theirs * torch.tensor(weights)).sum().backward()


# ---- layers -----------------------------------------------------------------------------------
def test_linear_with_the_same_weights_gives_the_same_outputs_and_gradients():
    ours = nn.Linear(6, 4)
    theirs = tnn.Linear(6, 4)
    theirs.load_state_dict(_torch_state(ours))
    x, tx = _pair(np.random.default_rng(0).standard_normal((5, 6)).astype(np.float32))
    out, tout = ours(x), theirs(tx)
    _close(out, tout)
    _backward_both(out, tout, np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32))
    _close(x.grad, tx.grad)
    _close(ours.weight.grad, theirs.weight.grad)
    _close(ours.bias.grad, theirs.bias.grad)


ACTIVATION_PAIRS = [
    (nn.ReLU(), tnn.ReLU()), (nn.LeakyReLU(0.1), tnn.LeakyReLU(0.1)), (nn.Sigmoid(), tnn.Sigmoid()),
    (nn.Tanh(), tnn.Tanh()), (nn.GELU(), tnn.GELU()), (nn.GELU("tanh"), tnn.GELU("tanh")),
    (nn.Softplus(), tnn.Softplus()), (nn.Softplus(2.0, 5.0), tnn.Softplus(2.0, 5.0)),
    (nn.Softmax(dim=1), tnn.Softmax(dim=1)), (nn.LogSoftmax(dim=1), tnn.LogSoftmax(dim=1)),
    (nn.Flatten(), tnn.Flatten()), (nn.Identity(), tnn.Identity()),
]


@pytest.mark.parametrize("ours, theirs", ACTIVATION_PAIRS, ids=lambda m: repr(m))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_parity(ours, theirs, dtype):
    rng = np.random.default_rng(2)
    x, tx = _pair((rng.standard_normal((4, 5, 3)) * 4).astype(dtype))
    out, tout = ours(x), theirs(tx)
    tolerance = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    _close(out, tout, **tolerance)
    _backward_both(out, tout, rng.standard_normal(tout.shape).astype(dtype))
    _close(x.grad, tx.grad, **tolerance)


@pytest.mark.parametrize("ours, theirs", [
    *ACTIVATION_PAIRS, (nn.ReLU(inplace=True), tnn.ReLU(inplace=True)), (nn.Dropout(0.2), tnn.Dropout(0.2)),
    (nn.Linear(3, 2, bias=False), tnn.Linear(3, 2, bias=False)), (nn.MSELoss(), tnn.MSELoss()),
    (nn.Sequential(nn.Linear(2, 3), nn.ReLU()), tnn.Sequential(tnn.Linear(2, 3), tnn.ReLU())),
], ids=lambda m: type(m).__name__)
def test_reprs_match(ours, theirs):
    assert repr(ours) == repr(theirs)


# ---- state dicts --------------------------------------------------------------------------------
def _torch_mlp():
    class TorchMLP(tnn.Module):
        def __init__(self):
            super().__init__()
            self.net = tnn.Sequential(
                tnn.Linear(784, 512), tnn.ReLU(), tnn.Linear(512, 256), tnn.ReLU(), tnn.Linear(256, 10)
            )

        def forward(self, x):
            return self.net(x)

    return TorchMLP()


def test_mlp_state_dict_moves_to_torch_and_back():
    ours, theirs = nn.MLP(), _torch_mlp()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict(_torch_state(ours))  # strict: same names, same layouts
    x, tx = _pair(np.random.default_rng(3).standard_normal((8, 784)).astype(np.float32), grad=False)
    _close(ours(x), theirs(tx), rtol=1e-4, atol=1e-5)

    # and back: a torch state dict loads straight into a fresh ttrain model
    with torch.no_grad():
        for p in theirs.parameters():
            p.mul_(0.5)
    fresh = nn.MLP()
    fresh.load_state_dict(theirs.state_dict())
    for key, value in theirs.state_dict().items():
        np.testing.assert_array_equal(fresh.state_dict()[key].numpy(), value.numpy())
    _close(fresh(x), theirs(tx), rtol=1e-4, atol=1e-5)


def test_state_dict_order_with_buffers_matches_torch():
    def build(lib, param, module_cls):
        class Block(module_cls):
            def __init__(self):
                super().__init__()
                self.scale = param(lib.ones(3))
                self.fc = lib.nn.Linear(3, 2)
                self.register_buffer("count", lib.zeros(1))

        class Net(module_cls):
            def __init__(self):
                super().__init__()
                self.block = Block()
                self.head = lib.nn.Linear(2, 1)
                self.bias = param(lib.zeros(1))

        return Net()

    ours = build(ttrain, nn.Parameter, nn.Module)
    theirs = build(torch, tnn.Parameter, tnn.Module)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]


def test_load_error_lists_the_same_problems_as_torch():
    ours, theirs = nn.Linear(3, 2), tnn.Linear(3, 2)
    bad = {"weight": np.zeros((2, 4), np.float32), "extra": np.zeros(1, np.float32)}
    with pytest.raises(RuntimeError) as ours_error:
        ours.load_state_dict(bad)
    with pytest.raises(RuntimeError) as theirs_error:
        theirs.load_state_dict({k: torch.from_numpy(v) for k, v in bad.items()})
    for fragment in ('Missing key(s) in state_dict: "bias"', 'Unexpected key(s) in state_dict: "extra"',
                     "size mismatch for weight"):
        assert fragment in str(ours_error.value) and fragment in str(theirs_error.value)


# ---- losses ---------------------------------------------------------------------------------------
def _rng_data(seed, shape, scale=3.0, dtype=np.float32):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


CE_OPTIONS = [
    dict(),
    dict(weight=True),
    dict(ignore_index=1),
    dict(label_smoothing=0.2),
    dict(weight=True, ignore_index=0, label_smoothing=0.3),
]


CLASS_INDEX_CASES = [
    *[(nn.CrossEntropyLoss, tnn.CrossEntropyLoss, options) for options in CE_OPTIONS],
    *[(nn.NLLLoss, tnn.NLLLoss, options) for options in CE_OPTIONS if "label_smoothing" not in options],
]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(7, 4), (3, 4, 5)], ids=["NC", "NCd"])
@pytest.mark.parametrize("cls, tcls, options", CLASS_INDEX_CASES, ids=lambda v: getattr(v, "__name__", str(v)))
def test_class_index_loss_parity(cls, tcls, options, shape, reduction):
    rng = np.random.default_rng(4)
    target = rng.integers(0, shape[1], (shape[0], *shape[2:]))
    kwargs = {k: v for k, v in options.items() if k != "weight"}
    weight = (rng.random(shape[1]) + 0.5).astype(np.float32) if options.get("weight") else None
    ours = cls(weight=None if weight is None else ttrain.tensor(weight), reduction=reduction, **kwargs)
    theirs = tcls(weight=None if weight is None else torch.tensor(weight), reduction=reduction, **kwargs)
    x, tx = _pair(_rng_data(5, shape))
    if cls is nn.NLLLoss:
        x, tx = _pair(F.log_softmax(x, dim=1).detach().numpy())
    out, tout = ours(x, ttrain.tensor(target)), theirs(tx, torch.tensor(target))
    _close(out, tout)
    _backward_both(out, tout, rng.standard_normal(tout.shape).astype(np.float32))
    _close(x.grad, tx.grad)


@pytest.mark.parametrize("label_smoothing", [0.0, 0.15])
def test_cross_entropy_probability_target_parity(label_smoothing):
    rng = np.random.default_rng(6)
    probs = rng.random((5, 4, 2)).astype(np.float32)
    probs /= probs.sum(1, keepdims=True)
    weight = (rng.random(4) + 0.5).astype(np.float32)
    x, tx = _pair(_rng_data(7, (5, 4, 2)))
    p, tp = _pair(probs)
    out = F.cross_entropy(x, p, ttrain.tensor(weight), label_smoothing=label_smoothing)
    tout = TF.cross_entropy(tx, tp, torch.tensor(weight), label_smoothing=label_smoothing)
    _close(out, tout)
    out.backward()
    tout.backward()
    _close(x.grad, tx.grad)
    _close(p.grad, tp.grad)


def test_cross_entropy_parity_at_huge_logits():
    logits = np.array([[1e4, -1e4, 0.0, 5.0], [-1e4, 1e4, 1e4, 0.0]], np.float32)
    target = np.array([1, 3])
    x, tx = _pair(logits)
    out = F.cross_entropy(x, ttrain.tensor(target), label_smoothing=0.1)
    tout = TF.cross_entropy(tx, torch.tensor(target), label_smoothing=0.1)
    _close(out, tout, rtol=1e-6)
    out.backward()
    tout.backward()
    _close(x.grad, tx.grad)


REGRESSION_PAIRS = [
    (nn.MSELoss, tnn.MSELoss, {}), (nn.L1Loss, tnn.L1Loss, {}), (nn.HuberLoss, tnn.HuberLoss, {"delta": 0.7}),
    (nn.SmoothL1Loss, tnn.SmoothL1Loss, {"beta": 0.5}), (nn.SmoothL1Loss, tnn.SmoothL1Loss, {"beta": 0.0}),
]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("cls, tcls, kwargs", REGRESSION_PAIRS, ids=lambda v: getattr(v, "__name__", str(v)))
def test_regression_loss_parity(cls, tcls, kwargs, reduction):
    x, tx = _pair(_rng_data(8, (6, 3), scale=1.5))
    y, ty = _pair(_rng_data(9, (6, 3), scale=1.5))
    out, tout = cls(reduction=reduction, **kwargs)(x, y), tcls(reduction=reduction, **kwargs)(tx, ty)
    _close(out, tout)
    _backward_both(out, tout, np.random.default_rng(10).standard_normal(tout.shape).astype(np.float32))
    _close(x.grad, tx.grad)
    _close(y.grad, ty.grad)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_parity(reduction):
    rng = np.random.default_rng(11)
    probs = np.concatenate([rng.uniform(0.01, 0.99, (5, 3)), [[0.0, 1.0, 0.5]]]).astype(np.float32)
    x, tx = _pair(probs)
    target = rng.random((6, 3)).astype(np.float32)
    weight = (rng.random(3) + 0.5).astype(np.float32)
    out = nn.BCELoss(ttrain.tensor(weight), reduction=reduction)(x, ttrain.tensor(target))
    tout = tnn.BCELoss(torch.tensor(weight), reduction=reduction)(tx, torch.tensor(target))
    _close(out, tout)
    _backward_both(out, tout, rng.standard_normal(tout.shape).astype(np.float32))
    _close(x.grad, tx.grad, rtol=1e-4)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits_parity(reduction):
    rng = np.random.default_rng(12)
    logits = np.concatenate([rng.standard_normal((5, 3)) * 4, [[1e4, -1e4, 0.0]]]).astype(np.float32)
    x, tx = _pair(logits)
    y, ty = _pair(rng.random((6, 3)).astype(np.float32))
    weight, pos_weight = (rng.random((6, 1)) + 0.5).astype(np.float32), (rng.random(3) * 3).astype(np.float32)
    out = nn.BCEWithLogitsLoss(ttrain.tensor(weight), reduction=reduction, pos_weight=ttrain.tensor(pos_weight))(x, y)
    tout = tnn.BCEWithLogitsLoss(torch.tensor(weight), reduction=reduction, pos_weight=torch.tensor(pos_weight))(tx, ty)
    _close(out, tout, rtol=1e-5, atol=1e-5)
    _backward_both(out, tout, rng.standard_normal(tout.shape).astype(np.float32))
    _close(x.grad, tx.grad)
    _close(y.grad, ty.grad, rtol=1e-5, atol=1e-4)


def test_init_bounds_match_torch_defaults():
    ttrain.manual_seed(0)
    torch.manual_seed(0)  # seeded: a 40-value bias's spread is too noisy to compare unseeded
    ours, theirs = nn.Linear(50, 40), tnn.Linear(50, 40)
    bound = 1 / np.sqrt(50)
    for a, b in ((ours.weight.data, theirs.weight.detach().numpy()), (ours.bias.data, theirs.bias.detach().numpy())):
        assert np.abs(a).max() <= bound and np.abs(b).max() <= bound
        # both U(-bound, bound), whose standard deviation is bound / sqrt(3)
        assert abs(a.std() / (bound / np.sqrt(3)) - 1) < 0.25 and abs(b.std() / (bound / np.sqrt(3)) - 1) < 0.25
