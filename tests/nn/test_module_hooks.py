"""Module hooks (forward pre, forward, full backward) and ParameterList / ParameterDict, against torch."""

import copy

import numpy as np
import pytest

import ttrain
from ttrain import nn

torch = pytest.importorskip("torch")


def _pair(lib, seed=0):
    """The same small network in ttrain and in torch (float64, equal weights)."""
    lib.manual_seed(seed)
    model = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh(), lib.nn.Linear(4, 2)).double()
    rng = np.random.default_rng(seed)
    with lib.no_grad():
        for p in model.parameters():
            p.copy_(lib.tensor(rng.standard_normal(tuple(p.shape))))
    return model


def _traced(lib):
    model = _pair(lib)
    events = []
    model[0].register_forward_pre_hook(lambda m, args: (args[0] * 2,))
    model[0].register_forward_hook(lambda m, args, out: out + 1)
    model[2].register_forward_hook(lambda m, args, out: events.append(("fwd", tuple(out.shape))))
    model[2].register_full_backward_hook(
        lambda m, gin, gout: events.append(("bwd", gin[0].detach().numpy().copy(), gout[0].detach().numpy().copy())))
    x = lib.tensor(np.linspace(-1, 1, 15).reshape(5, 3), requires_grad=True)
    out = model(x)
    (out * out).sum().backward()
    return out.detach().numpy(), x.grad.numpy(), events


def test_hooks_change_and_see_what_torch_hooks_do():
    ours, theirs = _traced(ttrain), _traced(torch)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-12)
    assert [e[0] for e in ours[2]] == [e[0] for e in theirs[2]] == ["fwd", "bwd"]
    for a, b in zip(ours[2][1][1:], theirs[2][1][1:]):  # grad_input, grad_output of the last Linear
        np.testing.assert_allclose(a, b, rtol=1e-12)


class TwoInputs:
    """A module of two tensor inputs, built the same way in both libraries."""

    @staticmethod
    def make(lib):
        class Mix(lib.nn.Module):
            def forward(self, a, b, scale=1.0):
                return (a * b.sum(1, keepdim=True) * scale, a.exp())
        return Mix()


def _backward_hook_grads(lib, replace):
    module = TwoInputs.make(lib)
    seen = []

    def hook(m, grad_input, grad_output):
        seen.append([None if g is None else g.numpy().copy() for g in (*grad_input, *grad_output)])
        if replace:
            return (grad_input[0] * 10, grad_input[1])

    module.register_full_backward_hook(hook)
    a = lib.tensor(np.arange(6.0).reshape(2, 3) / 5, requires_grad=True)
    b = lib.tensor(np.ones((2, 2)), requires_grad=True)
    first, second = module(a, b, scale=2.0)
    (first.sum() + (second * 3).sum()).backward()
    return seen, a.grad.numpy(), b.grad.numpy()


@pytest.mark.parametrize("replace", [False, True])
def test_full_backward_hook_with_two_inputs_and_two_outputs(replace):
    ours, theirs = _backward_hook_grads(ttrain, replace), _backward_hook_grads(torch, replace)
    assert len(ours[0]) == len(theirs[0]) == 1
    for a, b in zip(ours[0][0], theirs[0][0]):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-12)
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-12)


def test_backward_hook_on_a_first_layer_gets_none_for_data_inputs():
    calls = []
    layer = nn.Linear(3, 2)
    layer.register_full_backward_hook(lambda m, gin, gout: calls.append((gin, gout[0].shape)))
    layer(ttrain.randn(4, 3)).sum().backward()
    assert calls == [((None,), (4, 2))]
    assert layer.weight.grad is not None


def test_removing_the_last_hook_restores_the_plain_class():
    layer = nn.Linear(2, 2)
    pre = layer.register_forward_pre_hook(lambda m, args: None)
    post = layer.register_forward_hook(lambda m, args, out: None, prepend=True)
    assert type(layer) is not nn.Linear and isinstance(layer, nn.Linear) and type(layer).__name__ == "Linear"
    assert repr(layer) == "Linear(in_features=2, out_features=2, bias=True)"
    pre.remove()
    assert type(layer) is not nn.Linear
    post.remove()
    post.remove()  # twice is harmless
    assert type(layer) is nn.Linear
    with layer.register_forward_hook(lambda m, args, out: out * 0):
        assert (layer(ttrain.ones(1, 2)) == 0).all()
    assert type(layer) is nn.Linear and not (layer(ttrain.ones(1, 2)) == 0).all()


def test_hook_order_kwargs_and_copies():
    order = []
    layer = nn.Linear(2, 2)
    layer.register_forward_hook(lambda m, args, out: order.append("second"))
    layer.register_forward_hook(lambda m, args, out: order.append("first"), prepend=True)
    layer.register_forward_pre_hook(lambda m, args, kwargs: ((args[0] * 0,), kwargs), with_kwargs=True)
    out = layer(ttrain.ones(1, 2))
    assert order == ["first", "second"]
    np.testing.assert_allclose(out.detach().numpy(), layer.bias.detach().numpy()[None])
    clone = copy.deepcopy(layer)
    assert isinstance(clone, nn.Linear) and clone.state_dict().keys() == layer.state_dict().keys()


def test_parameter_list_and_dict_register_like_torch():
    ours = nn.Module()
    ours.weights = nn.ParameterList([nn.Parameter(ttrain.ones(2)), ttrain.zeros(3)])
    ours.weights.append(ttrain.ones(1))
    ours.named = nn.ParameterDict({"scale": ttrain.ones(1)})
    ours.named["shift"] = nn.Parameter(ttrain.zeros(2))
    theirs = torch.nn.Module()
    theirs.weights = torch.nn.ParameterList([torch.ones(2), torch.zeros(3)])
    theirs.weights.append(torch.ones(1))
    theirs.named = torch.nn.ParameterDict({"scale": torch.ones(1)})
    theirs.named["shift"] = torch.nn.Parameter(torch.zeros(2))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in ours.parameters())
    assert len(ours.weights) == 3 and ours.weights[-1].shape == (1,) and len(ours.weights[1:]) == 2
    assert "scale" in ours.named and list(ours.named) == ["scale", "shift"] and ours.named.get("x") is None
    assert ours.named.pop("scale").shape == (1,) and list(ours.named.keys()) == ["shift"]
    optimizer = ttrain.optim.SGD(ours.parameters(), lr=1.0)
    sum(p.sum() for p in ours.parameters()).backward()
    optimizer.step()
    assert ours.weights[1].tolist() == [-1.0, -1.0, -1.0]
