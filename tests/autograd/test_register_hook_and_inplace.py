"""Tensor.register_hook and the in-place operators (`x -= y`), as PyTorch scripts use them."""

import numpy as np
import pytest

import ttrain

torch = pytest.importorskip("torch")


def _hooked_grads(lib):
    """A leaf hook that doubles its gradient and a non-leaf hook that records and adds one."""
    seen = []
    x = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
    h = x * x
    x.register_hook(lambda g: g * 2)
    handle = h.register_hook(lambda g: seen.append(g.clone()) or g + 1)
    (h * lib.tensor([1.0, 2.0, 3.0])).sum().backward()
    first = x.grad.clone()
    handle.remove()
    x.grad = None
    (x * x).sum().backward()
    return first.numpy(), [s.numpy() for s in seen], x.grad.numpy()


def test_hooks_see_and_replace_gradients_as_in_torch():
    ours, theirs = _hooked_grads(ttrain), _hooked_grads(torch)
    np.testing.assert_allclose(ours[0], theirs[0])  # 2 * 2x * (w + 1)
    np.testing.assert_allclose(ours[1][0], theirs[1][0])
    np.testing.assert_allclose(ours[2], theirs[2])  # the leaf hook still doubles; the removed one is gone


def test_hooks_run_in_order_and_a_hook_needs_a_grad_tensor():
    x = ttrain.ones(2, requires_grad=True)
    order = []
    x.register_hook(lambda g: order.append("a"))
    x.register_hook(lambda g: order.append("b") or g * 3)
    x.sum().backward()
    assert order == ["a", "b"] and x.grad.tolist() == [3.0, 3.0]
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        ttrain.ones(2).register_hook(lambda g: g)
    with pytest.raises(RuntimeError, match="shape"):
        y = ttrain.ones(2, requires_grad=True)
        y.register_hook(lambda g: ttrain.ones(3))
        y.sum().backward()


def test_a_collected_tensor_leaves_no_hook_behind():
    from ttrain.autograd.tensor_hooks import HOOKS

    before = len(HOOKS)
    x = ttrain.ones(2, requires_grad=True)
    x.register_hook(lambda g: g)
    assert len(HOOKS) == before + 1
    del x
    assert len(HOOKS) == before


def test_manual_sgd_updates_the_leaf_in_place_under_no_grad():
    w = ttrain.tensor([1.0, 2.0], requires_grad=True)
    data = w.data
    (w * w).sum().backward()
    with ttrain.no_grad():
        w -= w.grad * 0.1
        w *= 2.0
        w /= 4.0
        w += 1.0
        w.grad.zero_()
    assert w.data is data and w.requires_grad and w.is_leaf
    np.testing.assert_allclose(w.detach().numpy(), [1.4, 1.8], rtol=1e-6)


def test_in_place_operators_keep_gradients_right_inside_a_graph():
    x = ttrain.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y += x * x  # rebinds y to a new node: the gradient still counts both terms
    y *= 2
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2 * (3 + 2 * 1.0), 2 * (3 + 2 * 2.0)])
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        x -= 1
    counts = ttrain.zeros(3, dtype=ttrain.long)
    counts += 1
    with pytest.raises(RuntimeError, match="in-place division"):
        counts /= 2
