"""The same composite expressions through ttrain and PyTorch: values and gradients agree.

Skipped where torch is not installed.
"""

import numpy as np
import pytest

import ttrain

torch = pytest.importorskip("torch")


def _both(fn, *arrays):
    """Run `fn` on ttrain and on torch tensors (float64, requiring grad); return outputs and grads."""
    results = []
    for lib in (ttrain, torch):
        inputs = [lib.tensor(a, requires_grad=True) for a in arrays]
        out = fn(lib, *inputs)
        out.backward(lib.ones_like(out))
        results.append((out.detach().numpy(), [t.grad.numpy() for t in inputs]))
    return results


def _cross_entropy(lib, z, t):
    return -(lib.log_softmax(z, 1) * t.softmax(1)).sum(1).mean()


def _layout(lib, x, y):
    return lib.cat([x.permute(1, 0, 2), y.reshape(3, 2, 2)], 2).flatten(1).sum(1)


def _indexing(lib, x):
    return x[[0, 2, 2]].gather(1, lib.tensor([[0, 1], [2, 2], [1, 0]])) + x[x > 0].sum()


def _activations(lib, x):
    return _nn(lib).gelu(x) + _nn(lib).softplus(x, beta=2.0) + _nn(lib).leaky_relu(x, 0.1)


def _selection(lib, x, y):
    return lib.where(x > y, x, y * 2) + lib.maximum(x, y) + (x * x + 1).sqrt().log()


EXPRESSIONS = {
    "mlp_layer": (lambda lib, x, w, b: (x @ w.T + b).relu().sum(1), [(4, 5), (3, 5), (3,)]),
    "softmax_cross_entropy": (_cross_entropy, [(4, 6), (4, 6)]),
    "sigmoid_mse": (lambda lib, x, y: ((x.sigmoid() - y) ** 2).mean(), [(3, 4), (3, 4)]),
    "broadcast_div_pow": (lambda lib, x, y: (x / (y.abs() + 1)) ** 2 + x.exp() * y.tanh(), [(2, 3, 4), (3, 1)]),
    "var_and_clamp": (lambda lib, x: x.var(1, keepdim=True) + x.clamp(-0.5, 0.5).mean(0), [(4, 5)]),
    "max_along_dim": (lambda lib, x: x.max(1).values + x.amax(0).sum(), [(3, 4)]),
    "reshape_permute_cat": (_layout, [(2, 3, 4), (2, 6)]),
    "index_and_gather": (_indexing, [(3, 4)]),
    "gelu_softplus_leaky": (_activations, [(5,)]),
    "where_maximum_sqrt": (_selection, [(3, 3), (3,)]),
    "batched_matmul_std": (lambda lib, a, b: (a @ b).std(-1) + (a[0] @ b[0, :, 0]).sum(), [(2, 3, 4), (2, 4, 5)]),
}


def _nn(lib):
    """gelu/softplus/leaky_relu: top-level functions in ttrain, torch.nn.functional in torch."""
    return ttrain if lib is ttrain else torch.nn.functional


@pytest.mark.parametrize("name", list(EXPRESSIONS))
def test_values_and_gradients_match_torch(name):
    fn, shapes = EXPRESSIONS[name]
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in shapes]
    (ours, our_grads), (theirs, their_grads) = _both(fn, *arrays)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    for g, h in zip(our_grads, their_grads):
        np.testing.assert_allclose(g, h, rtol=1e-10, atol=1e-12)


def test_float32_forward_matches_torch():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((8, 784)).astype(np.float32), rng.standard_normal((10, 784)).astype(np.float32)
    ours = (ttrain.tensor(x) @ ttrain.tensor(w).T).sigmoid().log_softmax(1).data
    theirs = (torch.tensor(x) @ torch.tensor(w).T).sigmoid().log_softmax(1).numpy()
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
