"""Recurrent layers: gradcheck in float64, PyTorch parity (outputs, final states, gradients, state
dicts both ways), shapes and layouts, dropout between layers, the `layers:`-list forms."""

import numpy as np
import pytest

import ttrain
from ttrain import nn
from ttrain.autograd.gradcheck import gradcheck
from ttrain.config.registry import resolve

T, B, I, H = 3, 2, 3, 4
FAMILY = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}


def _flat(result):
    """(output, h_n) or (output, (h_n, c_n)) as one flat tuple of tensors."""
    output, state = result
    return (output, *state) if isinstance(state, tuple) else (output, state)


def _initial(kind, count, batch, rng):
    h0 = ttrain.tensor(rng.standard_normal((count, batch, H)), requires_grad=True)
    if kind != "LSTM":
        return h0, [h0]
    c0 = ttrain.tensor(rng.standard_normal((count, batch, H)), requires_grad=True)
    return (h0, c0), [h0, c0]


# ---- gradcheck ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind, options", [
    ("RNN", {}), ("RNN", {"nonlinearity": "relu", "num_layers": 2, "bidirectional": True}),
    ("LSTM", {}), ("LSTM", {"num_layers": 2, "bidirectional": True}),
    ("GRU", {"bias": False}), ("GRU", {"num_layers": 2, "bidirectional": True, "batch_first": True}),
])
def test_gradients_of_input_initial_states_and_every_weight_match_finite_differences(kind, options):
    ttrain.manual_seed(0)
    layer = FAMILY[kind](I, H, dtype=np.float64, **options)
    rng = np.random.default_rng(1)
    shape = (B, T, I) if options.get("batch_first") else (T, B, I)
    x = ttrain.tensor(rng.standard_normal(shape), requires_grad=True)
    count = layer.num_layers * (2 if layer.bidirectional else 1)
    hx, states = _initial(kind, count, B, rng)
    weights = list(layer.parameters())
    assert gradcheck(lambda x, *rest: _flat(layer(x, hx)), [x, *states, *weights])


@pytest.mark.parametrize("cell_class", [nn.RNNCell, nn.LSTMCell, nn.GRUCell])
def test_cells_gradcheck(cell_class):
    ttrain.manual_seed(0)
    cell = cell_class(I, H, dtype=np.float64)
    rng = np.random.default_rng(2)
    x = ttrain.tensor(rng.standard_normal((B, I)), requires_grad=True)
    h = ttrain.tensor(rng.standard_normal((B, H)), requires_grad=True)
    c = ttrain.tensor(rng.standard_normal((B, H)), requires_grad=True)
    hx, states = ((h, c), [h, c]) if cell_class is nn.LSTMCell else (h, [h])

    def step(x, *rest):
        out = cell(x, hx)
        return out if isinstance(out, tuple) else (out,)

    assert gradcheck(step, [x, *states, *cell.parameters()])


# ---- parameters, shapes, arguments -------------------------------------------------------------
def test_parameter_names_layouts_and_default_init_follow_pytorch():
    ttrain.manual_seed(0)
    lstm = nn.LSTM(5, 8, num_layers=2, bidirectional=True)
    shapes = {name: tuple(p.shape) for name, p in lstm.named_parameters()}
    assert shapes == {
        "weight_ih_l0": (32, 5), "weight_hh_l0": (32, 8), "bias_ih_l0": (32,), "bias_hh_l0": (32,),
        "weight_ih_l0_reverse": (32, 5), "weight_hh_l0_reverse": (32, 8),
        "bias_ih_l0_reverse": (32,), "bias_hh_l0_reverse": (32,),
        "weight_ih_l1": (32, 16), "weight_hh_l1": (32, 8), "bias_ih_l1": (32,), "bias_hh_l1": (32,),
        "weight_ih_l1_reverse": (32, 16), "weight_hh_l1_reverse": (32, 8),
        "bias_ih_l1_reverse": (32,), "bias_hh_l1_reverse": (32,),
    }
    values = np.concatenate([p.detach().numpy().ravel() for p in lstm.parameters()])
    bound = 1 / np.sqrt(8)
    assert values.dtype == np.float32 and np.all(np.abs(values) <= bound) and values.std() > bound / 2
    assert [name for name, _ in nn.GRU(5, 8, bias=False).named_parameters()] == ["weight_ih_l0", "weight_hh_l0"]
    assert tuple(nn.GRUCell(5, 8).weight_ih.shape) == (24, 5)


@pytest.mark.parametrize("batch_first", [False, True])
def test_output_and_state_shapes(batch_first):
    lstm = nn.LSTM(I, H, num_layers=3, batch_first=batch_first, bidirectional=True)
    x = ttrain.randn(B, T, I) if batch_first else ttrain.randn(T, B, I)
    output, (h_n, c_n) = lstm(x)
    assert output.shape == ((B, T, 2 * H) if batch_first else (T, B, 2 * H))
    assert h_n.shape == c_n.shape == (6, B, H)
    output, h_n = nn.GRU(I, H)(ttrain.randn(T, I))  # unbatched
    assert output.shape == (T, H) and h_n.shape == (1, H)
    h, c = nn.LSTMCell(I, H)(ttrain.randn(I))  # an unbatched cell step
    assert h.shape == c.shape == (H,) and nn.GRUCell(I, H)(ttrain.randn(B, I)).shape == (B, H)


def test_bad_arguments_and_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="hidden_size must be a positive integer"):
        nn.LSTM(3, 0)
    with pytest.raises(ValueError, match="num_layers"):
        nn.GRU(3, 4, num_layers=0)
    with pytest.raises(ValueError, match="dropout"):
        nn.RNN(3, 4, dropout=1.5)
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="expected input_size 3, got 5"):
        nn.LSTM(3, 4)(ttrain.randn(T, B, 5))
    with pytest.raises(ValueError, match=r"expected initial state of shape \(2, 2, 4\)"):
        nn.GRU(3, 4, num_layers=2)(ttrain.randn(T, B, 3), ttrain.randn(1, B, 4))
    with pytest.raises(ValueError, match="empty"):
        nn.LSTM(3, 4)(ttrain.randn(0, B, 3))
    with pytest.raises(ValueError, match=r"tuple \(h_0, c_0\)"):
        nn.LSTM(3, 4)(ttrain.randn(T, B, 3), ttrain.randn(1, B, 4))


def test_reprs_read_like_pytorch():
    assert repr(nn.LSTM(10, 20, num_layers=2, batch_first=True, dropout=0.1, bidirectional=True)) == (
        "LSTM(10, 20, num_layers=2, batch_first=True, dropout=0.1, bidirectional=True)")
    assert repr(nn.RNN(3, 4, nonlinearity="relu", bias=False)) == "RNN(3, 4, bias=False, nonlinearity='relu')"
    assert repr(nn.GRUCell(3, 4)) == "GRUCell(3, 4)"


# ---- dropout between layers --------------------------------------------------------------------
def test_dropout_acts_between_layers_only_while_training_and_follows_the_global_seed():
    gru = nn.GRU(I, H, num_layers=2, dropout=0.5)
    x = ttrain.randn(T, B, I)
    ttrain.manual_seed(7)
    first = gru(x)[0].detach().numpy()
    ttrain.manual_seed(7)
    np.testing.assert_array_equal(gru(x)[0].detach().numpy(), first)
    gru.eval()
    evaluated = gru(x)[0].detach().numpy()
    assert not np.allclose(first, evaluated)
    np.testing.assert_array_equal(gru(x)[0].detach().numpy(), evaluated)
    single = nn.GRU(I, H, num_layers=1, dropout=0.5)  # no layer after the last: dropout never acts
    np.testing.assert_array_equal(single(x)[0].detach().numpy(), single.eval()(x)[0].detach().numpy())


# ---- the layers: list forms --------------------------------------------------------------------
def test_registered_layers_run_batch_first_return_the_sequence_and_infer_input_size():
    from ttrain.training.experiment import infer_kwargs

    for name, base in (("rnn", nn.RNN), ("lstm", nn.LSTM), ("gru", nn.GRU)):
        target = resolve("layers", name)
        assert issubclass(target, base)
        layer = target(**infer_kwargs(target, {"hidden_size": H, "bidirectional": True}, (T, I)))
        assert layer.input_size == I and layer.batch_first
        assert layer(ttrain.randn(B, T, I)).shape == (B, T, 2 * H)
    sequence = ttrain.tensor(np.arange(B * T * H, dtype=np.float32).reshape(B, T, H))
    pick = resolve("layers", "sequence_output")
    np.testing.assert_array_equal(pick("last")(sequence).numpy(), sequence.numpy()[:, -1])
    np.testing.assert_allclose(pick("mean")(sequence).numpy(), sequence.numpy().mean(axis=1))
    np.testing.assert_array_equal(pick("first")(sequence).numpy(), sequence.numpy()[:, 0])
    assert pick("all")(sequence) is sequence
    with pytest.raises(ValueError, match="mode must be one of last, first, mean, all"):
        pick("middle")


# ---- parity with PyTorch -----------------------------------------------------------------------
def _torch_state(module):
    torch = pytest.importorskip("torch")
    return {k: torch.from_numpy(v.detach().numpy().copy()) for k, v in module.state_dict().items()}


def _close(ours, theirs, atol=1e-5):
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-4, atol=atol)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_states", [False, True])
def test_outputs_final_states_and_gradients_match_torch(kind, batch_first, with_states):
    torch = pytest.importorskip("torch")
    ttrain.manual_seed(3)
    ours = FAMILY[kind](I, H, num_layers=2, bidirectional=True, batch_first=batch_first)
    theirs = getattr(torch.nn, kind)(I, H, num_layers=2, bidirectional=True, batch_first=batch_first)
    theirs.load_state_dict(_torch_state(ours))
    rng = np.random.default_rng(4)
    x = rng.standard_normal((B, T, I) if batch_first else (T, B, I)).astype(np.float32)
    states = [rng.standard_normal((4, B, H)).astype(np.float32) for _ in range(2 if kind == "LSTM" else 1)]
    our_x, their_x = ttrain.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    our_states = [ttrain.tensor(s, requires_grad=True) for s in states]
    their_states = [torch.tensor(s, requires_grad=True) for s in states]

    def hx(parts):
        if not with_states:
            return None
        return tuple(parts) if kind == "LSTM" else parts[0]

    our_out, their_out = _flat(ours(our_x, hx(our_states))), _flat(theirs(their_x, hx(their_states)))
    weights = [rng.standard_normal(tuple(o.shape)).astype(np.float32) for o in our_out]
    for a, b in zip(our_out, their_out):
        _close(a, b)
    sum((o * ttrain.tensor(w)).sum() for o, w in zip(our_out, weights)).backward()
    sum((o * torch.tensor(w)).sum() for o, w in zip(their_out, weights)).backward()
    _close(our_x.grad, their_x.grad)
    if with_states:
        for a, b in zip(our_states, their_states):
            _close(a.grad, b.grad)
    their_params = dict(theirs.named_parameters())
    for name, parameter in ours.named_parameters():
        _close(parameter.grad, their_params[name].grad, atol=1e-4)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_an_unbatched_sequence_with_initial_states_matches_torch(kind):
    torch = pytest.importorskip("torch")
    ours = FAMILY[kind](I, H, num_layers=2)
    theirs = getattr(torch.nn, kind)(I, H, num_layers=2)
    theirs.load_state_dict(_torch_state(ours))
    rng = np.random.default_rng(9)
    x = rng.standard_normal((T, I)).astype(np.float32)
    states = [rng.standard_normal((2, H)).astype(np.float32) for _ in range(2 if kind == "LSTM" else 1)]
    our_hx = tuple(map(ttrain.tensor, states)) if kind == "LSTM" else ttrain.tensor(states[0])
    their_hx = tuple(map(torch.tensor, states)) if kind == "LSTM" else torch.tensor(states[0])
    for a, b in zip(_flat(ours(ttrain.tensor(x), our_hx)), _flat(theirs(torch.tensor(x), their_hx))):
        assert a.shape == tuple(b.shape)
        _close(a, b)


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_match_torch(kind):
    torch = pytest.importorskip("torch")
    ours = getattr(nn, kind)(I, H)
    theirs = getattr(torch.nn, kind)(I, H)
    theirs.load_state_dict(_torch_state(ours))
    x = np.random.default_rng(5).standard_normal((B, I)).astype(np.float32)
    h = np.random.default_rng(6).standard_normal((B, H)).astype(np.float32)
    our_hx = (ttrain.tensor(h), ttrain.tensor(h)) if kind == "LSTMCell" else ttrain.tensor(h)
    their_hx = (torch.tensor(h), torch.tensor(h)) if kind == "LSTMCell" else torch.tensor(h)
    ours_out, theirs_out = ours(ttrain.tensor(x), our_hx), theirs(torch.tensor(x), their_hx)
    for a, b in zip(*(o if isinstance(o, tuple) else (o,) for o in (ours_out, theirs_out))):
        _close(a, b)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_state_dicts_move_both_ways_with_torch(kind):
    torch = pytest.importorskip("torch")
    theirs = getattr(torch.nn, kind)(I, H, num_layers=2, bidirectional=True)
    ours = FAMILY[kind](I, H, num_layers=2, bidirectional=True)
    ours.load_state_dict({k: ttrain.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    assert list(ours.state_dict()) == list(theirs.state_dict())
    x = np.random.default_rng(8).standard_normal((T, B, I)).astype(np.float32)
    _close(ours(ttrain.tensor(x))[0], theirs(torch.tensor(x))[0])
    fresh = getattr(torch.nn, kind)(I, H, num_layers=2, bidirectional=True)
    fresh.load_state_dict(_torch_state(ours))
    _close(ours(ttrain.tensor(x))[0], fresh(torch.tensor(x))[0])


@pytest.mark.parametrize("kind, options", [
    ("RNN", {"nonlinearity": "relu"}), ("RNN", {"nonlinearity": "relu", "bias": False}),
    ("GRU", {"bias": False}), ("LSTM", {"bias": False}),
])
def test_relu_rnn_and_bias_free_layers_match_torch_in_outputs_states_and_gradients(kind, options):
    torch = pytest.importorskip("torch")
    ttrain.manual_seed(12)
    ours = FAMILY[kind](I, H, num_layers=2, bidirectional=True, **options)
    theirs = getattr(torch.nn, kind)(I, H, num_layers=2, bidirectional=True, **options)
    theirs.load_state_dict(_torch_state(ours))
    x = np.random.default_rng(13).standard_normal((T, B, I)).astype(np.float32)
    our_x, their_x = ttrain.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    our_out, their_out = _flat(ours(our_x)), _flat(theirs(their_x))
    for a, b in zip(our_out, their_out):
        _close(a, b)
    sum(o.sum() for o in our_out).backward()
    sum(o.sum() for o in their_out).backward()
    _close(our_x.grad, their_x.grad)
    their_params = dict(theirs.named_parameters())
    for name, parameter in ours.named_parameters():
        _close(parameter.grad, their_params[name].grad, atol=1e-4)
