"""Embedding lookup: rows gathered by index, gradients summed per row, padding row left out."""

import numpy as np
import pytest

import ttrain
from ttrain.autograd import gradcheck
from ttrain.nn import functional as F

from .op_helper import check_op

INDICES = np.array([[0, 2, 2], [4, 1, 2]])


def test_forward_gathers_rows_and_gradients_match_finite_differences():
    check_op([(5, 3)], lambda w: F.embedding(ttrain.tensor(INDICES), w), lambda w: w[INDICES])


def test_repeated_indices_sum_their_gradients():
    weight = ttrain.randn(5, 2, requires_grad=True)
    F.embedding(ttrain.tensor(INDICES), weight).sum().backward()
    counts = np.bincount(INDICES.ravel(), minlength=5)
    np.testing.assert_array_equal(weight.grad.data, np.repeat(counts[:, None], 2, axis=1).astype(np.float32))


@pytest.mark.parametrize("padding_idx", [2, -3])
def test_padding_row_gets_no_gradient(padding_idx):
    weight = ttrain.randn(5, 3, dtype=ttrain.float64, requires_grad=True)
    F.embedding(ttrain.tensor(INDICES), weight, padding_idx=padding_idx).sum().backward()
    assert not weight.grad.data[2].any()
    assert weight.grad.data[0].all()
    assert gradcheck(lambda w: F.embedding(INDICES[:, :1], w, padding_idx=padding_idx), [weight])


def test_bad_indices_are_clear_errors():
    weight = ttrain.randn(5, 3)
    with pytest.raises(IndexError, match="index 5 is out of range for 5 embeddings"):
        F.embedding(ttrain.tensor([1, 5]), weight)
    with pytest.raises(IndexError, match="index -1 is out of range"):
        F.embedding(ttrain.tensor([-1, 0]), weight)
    with pytest.raises(TypeError, match="indices must be integers"):
        F.embedding(ttrain.tensor([1.0]), weight)
    with pytest.raises(ValueError, match="padding_idx 5 must be within num_embeddings"):
        F.embedding(ttrain.tensor([1]), weight, padding_idx=5)


def test_same_inputs_give_the_same_bits():
    indices = ttrain.tensor(np.random.default_rng(0).integers(0, 50, size=(64, 20)))
    weight = ttrain.randn(50, 16, requires_grad=True)
    grads = []
    for _ in range(2):
        weight.grad = None
        (F.embedding(indices, weight) ** 2).sum().backward()
        grads.append(weight.grad.data.tobytes())
    assert grads[0] == grads[1]


def test_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((7, 4)).astype(np.float32)
    idx = rng.integers(0, 7, size=(3, 5))
    g = rng.standard_normal((3, 5, 4)).astype(np.float32)
    ours = ttrain.tensor(w0, requires_grad=True)
    theirs = torch.tensor(w0, requires_grad=True)
    y = F.embedding(ttrain.tensor(idx), ours, padding_idx=1)
    ty = torch.nn.functional.embedding(torch.tensor(idx), theirs, padding_idx=1)
    np.testing.assert_array_equal(y.data, ty.detach().numpy())
    y.backward(g)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-6, atol=1e-6)
