"""Embedding layer: N(0, 1) init, padding row, shapes, torch parity both ways."""

import numpy as np
import pytest

import ttrain
from ttrain.nn.embedding import Embedding


def test_init_is_standard_normal_and_seeded():
    ttrain.manual_seed(1)
    emb = Embedding(1000, 16)
    assert emb.weight.shape == (1000, 16) and emb.weight.dtype == np.float32
    assert abs(emb.weight.data.mean()) < 0.02 and abs(emb.weight.data.std() - 1) < 0.02
    ttrain.manual_seed(1)
    np.testing.assert_array_equal(Embedding(1000, 16).weight.data, emb.weight.data)


def test_padding_row_starts_at_zero_and_stays_there_under_sgd():
    emb = Embedding(6, 3, padding_idx=-1)
    assert emb.padding_idx == 5 and not emb.weight.data[5].any()
    emb(ttrain.tensor([[5, 1], [5, 5]])).sum().backward()
    assert not emb.weight.grad.data[5].any() and emb.weight.grad.data[1].all()


def test_output_shape_is_index_shape_plus_embedding_dim():
    assert Embedding(10, 4)(ttrain.tensor(np.zeros((2, 3, 5), dtype=np.int64))).shape == (2, 3, 5, 4)


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_embeddings must be a positive integer"):
        Embedding(0, 3)
    with pytest.raises(ValueError, match="padding_idx 7 must be within num_embeddings"):
        Embedding(5, 3, padding_idx=7)


def test_matches_torch_and_loads_its_state_dict():
    torch = pytest.importorskip("torch")
    ours = Embedding(9, 4, padding_idx=0)
    theirs = torch.nn.Embedding(9, 4, padding_idx=0)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    idx = np.random.default_rng(0).integers(0, 9, size=(3, 7))
    y, ty = ours(ttrain.tensor(idx)), theirs(torch.tensor(idx))
    np.testing.assert_array_equal(y.data, ty.detach().numpy())
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), rtol=1e-6, atol=1e-6)
    assert repr(ours) == repr(theirs)
