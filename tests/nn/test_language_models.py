"""`CharLSTM`: shapes, state carried between calls, and PyTorch parity on the same weights."""

from __future__ import annotations

import numpy as np
import pytest

from ttrain.autograd.creation import from_numpy
from ttrain.nn import CharLSTM


def _ids(seed: int, shape: tuple[int, int], vocab: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, vocab, shape)


def test_logits_have_the_class_axis_second_for_cross_entropy() -> None:
    model = CharLSTM(vocab_size=11, embedding_dim=4, hidden_size=6, num_layers=2)
    assert model(from_numpy(_ids(0, (3, 5), 11))).shape == (3, 11, 5)
    names = set(model.state_dict())
    assert {"embedding.weight", "lstm.weight_ih_l1", "head.weight", "head.bias"} <= names
    with pytest.raises(ValueError, match=r"CharLSTM: expected character indices of shape \(N, T\)"):
        model(from_numpy(np.zeros((2, 3, 4), dtype=np.int64)))


def test_feeding_a_sequence_in_pieces_with_the_state_equals_feeding_it_whole() -> None:
    model = CharLSTM(vocab_size=7, embedding_dim=3, hidden_size=5)
    ids = _ids(1, (2, 9), 7)
    whole = model(from_numpy(ids)).data
    first, state = model.forward_with_state(from_numpy(ids[:, :4]))
    rest, _ = model.forward_with_state(from_numpy(ids[:, 4:]), state)
    np.testing.assert_allclose(np.concatenate([first.data, rest.data], axis=2), whole, rtol=1e-5, atol=1e-6)


def test_outputs_and_gradients_match_pytorch_on_the_same_weights() -> None:
    torch = pytest.importorskip("torch")
    model = CharLSTM(vocab_size=9, embedding_dim=4, hidden_size=6, num_layers=2)
    embedding, lstm = torch.nn.Embedding(9, 4), torch.nn.LSTM(4, 6, num_layers=2, batch_first=True)
    head = torch.nn.Linear(6, 9)
    reference = torch.nn.ModuleDict({"embedding": embedding, "lstm": lstm, "head": head})
    reference.load_state_dict({k: torch.from_numpy(np.asarray(v.data)) for k, v in model.state_dict().items()})
    ids, targets = _ids(2, (3, 8), 9), _ids(3, (3, 8), 9)

    from ttrain.nn import functional as F

    loss = F.cross_entropy(model(from_numpy(ids)), from_numpy(targets))
    loss.backward()
    logits = head(lstm(embedding(torch.from_numpy(ids)))[0]).transpose(1, 2)
    expected = torch.nn.functional.cross_entropy(logits, torch.from_numpy(targets))
    expected.backward()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    for name, parameter in model.named_parameters():
        torch_grad = reference.get_parameter(name).grad.numpy()
        np.testing.assert_allclose(parameter.grad, torch_grad, rtol=1e-4, atol=1e-5, err_msg=name)
