"""Module: registration, traversal, modes, gradients, state dicts and repr, as PyTorch's contract."""

import copy
import pickle

import numpy as np
import pytest

import ttrain
from ttrain import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(ttrain.ones(3))
        self.fc = nn.Linear(3, 2)
        self.register_buffer("count", ttrain.zeros(1))
        self.register_buffer("scratch", ttrain.zeros(2), persistent=False)

    def forward(self, x):
        return self.fc(x * self.scale)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.head = nn.Linear(2, 1)
        self.bias = nn.Parameter(ttrain.zeros(1))  # own parameter, assigned after the children

    def forward(self, x):
        return self.head(self.block(x)) + self.bias


def test_assignment_registers_parameters_modules_and_buffers():
    net = Net()
    assert list(net._parameters) == ["bias"]
    assert list(net._modules) == ["block", "head"]
    assert list(net.block._buffers) == ["count", "scratch"]
    assert net.block.fc.weight is net.block.fc._parameters["weight"]
    assert isinstance(net.block.fc.weight, nn.Parameter) and net.block.fc.weight.requires_grad


def test_named_parameters_order_names_and_deduplication():
    net = Net()
    names = [name for name, _ in net.named_parameters()]
    # own parameters first, then each child's, depth first, in registration order (as torch)
    assert names == ["bias", "block.scale", "block.fc.weight", "block.fc.bias", "head.weight", "head.bias"]
    assert [p.shape for p in net.parameters()] == [(1,), (3,), (2, 3), (2,), (1, 2), (1,)]
    assert [n for n, _ in net.named_parameters(prefix="model")][0] == "model.bias"
    assert [n for n, _ in net.named_parameters(recurse=False)] == ["bias"]

    shared = nn.Linear(2, 2)
    seq = nn.Sequential(shared, nn.ReLU(), shared)
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias"]
    assert len(list(seq.named_parameters(remove_duplicate=False))) == 4
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_traversal_of_modules_children_and_buffers():
    net = Net()
    assert [n for n, _ in net.named_modules()] == ["", "block", "block.fc", "head"]
    assert [type(m).__name__ for m in net.modules()] == ["Net", "Block", "Linear", "Linear"]
    assert [n for n, _ in net.named_children()] == ["block", "head"]
    assert list(net.children()) == [net.block, net.head]
    assert [n for n, _ in net.named_buffers()] == ["block.count", "block.scratch"]
    assert len(list(net.buffers())) == 2
    assert net.get_submodule("block.fc") is net.block.fc
    assert net.get_submodule("") is net
    with pytest.raises(AttributeError, match="no submodule 'nope'"):
        net.get_submodule("block.nope")


def test_reassignment_and_deletion_keep_registries_in_sync():
    net = Net()
    net.head = None  # a registered module slot may hold None
    assert net._modules["head"] is None and net.head is None
    assert [n for n, _ in net.named_parameters()][-1] == "block.fc.bias"
    net.head = nn.Linear(2, 1)
    del net.bias
    assert "bias" not in net._parameters
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'bias'"):
        net.bias
    net.plain = 3  # a plain attribute is not registered
    assert net.plain == 3 and "plain" not in net._parameters


def test_registration_errors():
    net = Net()
    with pytest.raises(TypeError, match="cannot assign Tensor as parameter 'bias'"):
        net.bias = ttrain.zeros(1)
    with pytest.raises(KeyError, match="attribute 'head' already exists"):
        net.register_parameter("head", nn.Parameter(ttrain.zeros(1)))
    with pytest.raises(KeyError, match="must not contain a dot"):
        net.register_buffer("a.b", ttrain.zeros(1))
    with pytest.raises(TypeError, match="buffer 'count'"):
        net.block.count = np.zeros(1)

    class Forgot(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(ttrain.zeros(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Forgot()
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(1)


def test_call_runs_forward():
    net = Net()
    x = ttrain.randn(4, 3)
    assert net(x).shape == (4, 1)


def test_train_eval_reach_every_module():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="bool"):
        net.train("yes")


def test_zero_grad_and_requires_grad():
    net = Net()
    net(ttrain.randn(4, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_apply_visits_children_then_self():
    visited = []
    Net().apply(lambda m: visited.append(type(m).__name__))
    assert visited == ["Linear", "Block", "Linear", "Net"]


def test_state_dict_has_dotted_names_detached_shared_values():
    net = Net()
    sd = net.state_dict()
    # each module's own parameters, then its buffers, then its children's entries (as torch)
    assert list(sd) == [
        "bias", "block.scale", "block.count", "block.fc.weight", "block.fc.bias", "head.weight", "head.bias",
    ]
    assert "block.scratch" not in sd  # non-persistent buffer
    weight = sd["block.fc.weight"]
    assert isinstance(weight, ttrain.Tensor) and not isinstance(weight, nn.Parameter)
    assert not weight.requires_grad
    assert np.shares_memory(weight.numpy(), net.block.fc.weight.data)
    assert net.state_dict(keep_vars=True)["block.fc.weight"] is net.block.fc.weight


def test_load_state_dict_round_trip_copies_in_place_and_keeps_dtype():
    source, target = Net(), Net()
    target.double()
    weight = target.block.fc.weight
    result = target.load_state_dict({k: v.numpy() for k, v in source.state_dict().items()})
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert target.block.fc.weight is weight and weight.dtype == np.float64  # same object, dtype kept
    for key, value in source.state_dict().items():
        np.testing.assert_array_equal(target.state_dict()[key].numpy(), value.numpy().astype(np.float64))
    # ttrain tensors are accepted too, and the values are copies, not aliases
    target.load_state_dict(source.state_dict())
    source.head.bias.data[...] = 5
    assert target.head.bias.data[0] != 5


def test_strict_mismatch_lists_everything_and_copies_nothing():
    net = Net()
    before = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    bad = {k: v.numpy() + 1 for k, v in net.state_dict().items()}
    del bad["head.bias"], bad["bias"]
    bad["extra.weight"] = np.zeros(2)
    bad["block.fc.weight"] = np.zeros((3, 3))
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(bad)
    message = str(info.value)
    assert "Error(s) in loading state_dict for Net" in message
    assert 'Missing key(s) in state_dict: "bias", "head.bias"' in message
    assert 'Unexpected key(s) in state_dict: "extra.weight"' in message
    assert "size mismatch for block.fc.weight: copying a param with shape (3, 3)" in message
    assert "current model is (2, 3)" in message
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), before[key])


def test_non_strict_load_reports_keys_and_still_refuses_wrong_shapes():
    net = Net()
    partial = {"head.weight": np.full((1, 2), 7.0), "other": np.zeros(1)}
    result = net.load_state_dict(partial, strict=False)
    assert result.unexpected_keys == ["other"]
    assert "head.bias" in result.missing_keys and len(result.missing_keys) == 6
    assert result == (result.missing_keys, result.unexpected_keys)  # a named tuple, as in torch
    np.testing.assert_array_equal(net.head.weight.data, np.full((1, 2), 7.0, np.float32))
    with pytest.raises(RuntimeError, match="size mismatch for head.weight"):
        net.load_state_dict({"head.weight": np.zeros((2, 2))}, strict=False)
    with pytest.raises(TypeError, match="mapping"):
        net.load_state_dict([1, 2])


def test_to_dtype_keeps_parameter_objects():
    net = Net()
    params = list(net.parameters())
    net.to(ttrain.float64)
    assert list(net.parameters()) == params
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert net.block.count.dtype == np.float64
    assert net.to("cpu") is net and net.float().head.weight.dtype == np.float32
    with pytest.raises(ValueError, match="CPU only"):
        net.to("cuda")


def test_repr_matches_pytorch_layout():
    assert repr(Net()) == (
        "Net(\n"
        "  (block): Block(\n"
        "    (fc): Linear(in_features=3, out_features=2, bias=True)\n"
        "  )\n"
        "  (head): Linear(in_features=2, out_features=1, bias=True)\n"
        ")"
    )
    assert repr(nn.Linear(2, 3, bias=False)) == "Linear(in_features=2, out_features=3, bias=False)"


def test_deepcopy_and_pickle_keep_parameters_tied():
    net = Net()
    for clone in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        assert clone.block.fc.weight is clone._modules["block"]._modules["fc"]._parameters["weight"]
        assert clone.block.fc.weight is not net.block.fc.weight
        np.testing.assert_array_equal(clone.block.fc.weight.data, net.block.fc.weight.data)
        x = ttrain.randn(2, 3)
        np.testing.assert_array_equal(clone(x).detach().numpy(), net(x).detach().numpy())


def test_parameter_shares_memory_and_requires_grad():
    data = ttrain.randn(2, 3)
    param = nn.Parameter(data)
    assert param.requires_grad and param.is_leaf and np.shares_memory(param.data, data.data)
    assert not nn.Parameter(np.zeros(2, np.float32), requires_grad=False).requires_grad
    assert repr(param).startswith("Parameter containing:\ntensor(")
