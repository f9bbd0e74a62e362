"""Sinusoidal PositionalEncoding and LearnedPositionalEmbedding: table values, gradients, layouts,
state dicts, argument checks and config `layers:` lists with d_model inferred."""

from __future__ import annotations

import numpy as np
import pytest

import ttrain
from ttrain import nn
from ttrain.autograd import gradcheck
from ttrain.autograd.ops.errors import ShapeError
from ttrain.config import config_from_dict
from ttrain.nn.positional import sinusoidal_table
from ttrain.training.experiment import build_model


def test_sinusoidal_table_follows_attention_is_all_you_need():
    table = sinusoidal_table(50, 6, np.float64)
    pos = np.arange(50)
    for i in range(3):
        angle = pos / 10000 ** (2 * i / 6)
        np.testing.assert_allclose(table[:, 2 * i], np.sin(angle), atol=1e-12)
        np.testing.assert_allclose(table[:, 2 * i + 1], np.cos(angle), atol=1e-12)
    odd = sinusoidal_table(10, 5, np.float64)  # the last column is a sine, with no cosine partner
    np.testing.assert_allclose(odd[:, 4], np.sin(np.arange(10) / 10000 ** (4 / 5)), atol=1e-12)


def test_sinusoidal_table_matches_the_pytorch_tutorial():
    torch = pytest.importorskip("torch")
    d_model, max_len = 16, 30
    position = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float64) * (-np.log(10000.0) / d_model))
    pe = torch.zeros(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term)
    np.testing.assert_allclose(sinusoidal_table(max_len, d_model, np.float64), pe.numpy(), atol=1e-12)


def test_positional_encoding_adds_the_table_and_passes_gradients_through():
    layer = nn.PositionalEncoding(4, max_len=10)
    x = np.random.default_rng(0).standard_normal((3, 6, 4))
    out = layer(ttrain.tensor(x))
    np.testing.assert_allclose(out.data, x + sinusoidal_table(10, 4)[:6].astype(np.float64), rtol=1e-6)
    assert gradcheck(layer, [ttrain.tensor(x, requires_grad=True)])
    seq_first = nn.PositionalEncoding(4, max_len=10, batch_first=False)
    np.testing.assert_allclose(seq_first(ttrain.tensor(x.transpose(1, 0, 2))).data, out.data.transpose(1, 0, 2))
    assert list(layer.state_dict()) == [] and list(layer.parameters()) == []  # fixed, rebuilt from its arguments
    assert repr(layer) == "PositionalEncoding(d_model=4, max_len=10)"


def test_learned_positional_embedding_trains_one_row_per_position():
    layer = nn.LearnedPositionalEmbedding(8, 4)
    assert layer.weight.shape == (8, 4) and [n for n, _ in layer.named_parameters()] == ["weight"]
    assert 0.01 < layer.weight.data.std() < 0.03
    x = ttrain.tensor(np.random.default_rng(1).standard_normal((2, 5, 4)), requires_grad=True)
    layer.double()
    assert gradcheck(lambda x, w: nn.positional.add_positions(x, w, True, "test"), [x, layer.weight])
    layer.weight.grad = None
    layer(x).sum().backward()
    np.testing.assert_array_equal(layer.weight.grad.data, np.r_[np.full((5, 4), 2.0), np.zeros((3, 4))])
    seq_first = nn.LearnedPositionalEmbedding(8, 4, batch_first=False)
    seq_first.load_state_dict(layer.state_dict())
    np.testing.assert_allclose(seq_first(x.permute(1, 0, 2)).data, layer(x).data.transpose(1, 0, 2))
    assert repr(seq_first) == "LearnedPositionalEmbedding(8, 4, batch_first=False)"


@pytest.mark.parametrize("layer", [nn.PositionalEncoding(4, max_len=5), nn.LearnedPositionalEmbedding(5, 4)], ids=repr)
def test_sequences_longer_than_max_len_or_of_the_wrong_width_are_refused(layer):
    with pytest.raises(ShapeError, match="longer than max_len 5"):
        layer(ttrain.tensor(np.zeros((1, 6, 4))))
    with pytest.raises(ShapeError, match=r"\(N, L, 4\)"):
        layer(ttrain.tensor(np.zeros((1, 3, 5))))


@pytest.mark.parametrize("build", [lambda: nn.PositionalEncoding(0), lambda: nn.LearnedPositionalEmbedding(4, 2.5)])
def test_sizes_must_be_positive_integers(build):
    with pytest.raises(ValueError, match="positive integer"):
        build()


def test_both_build_from_a_config_layers_list_with_d_model_inferred():
    config = config_from_dict({
        "seed": 0, "data": {"name": "spirals", "n_train": 32, "n_test": 8}, "optimizer": {"name": "sgd", "lr": 0.1},
        "model": {"layers": [
            {"linear": {"out_features": 24}}, {"unflatten": {"dim": 1, "unflattened_size": [4, 6]}},
            "positional_encoding", {"learned_positional_embedding": {"max_len": 4}},
            "flatten", {"linear": {"out_features": 2}},
        ]},
    })
    model = build_model(config, (2,), 2)
    assert model[2].d_model == 6 and model[3].weight.shape == (4, 6)
    assert model(ttrain.tensor(np.zeros((3, 2), dtype=np.float32))).shape == (3, 2)
