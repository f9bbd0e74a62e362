"""Sequential, ModuleList and ModuleDict: list/dict behaviour and the names they give parameters."""

from collections import OrderedDict

import numpy as np
import pytest

import ttrain
from ttrain import nn


def test_sequential_runs_modules_in_order():
    seq = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    x = ttrain.randn(5, 3)
    expected = seq[2](seq[1](seq[0](x)))
    np.testing.assert_array_equal(seq(x).detach().numpy(), expected.detach().numpy())
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_sequential_indexing_slicing_and_iteration():
    layers = [nn.Linear(2, 2), nn.ReLU(), nn.Tanh()]
    seq = nn.Sequential(*layers)
    assert len(seq) == 3 and list(seq) == layers
    assert seq[-1] is layers[2]
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and list(head) == layers[:2]
    with pytest.raises(IndexError, match="index 3 is out of range for Sequential of length 3"):
        seq[3]
    seq[1] = nn.Sigmoid()
    assert isinstance(seq[1], nn.Sigmoid) and isinstance(seq.get_submodule("1"), nn.Sigmoid)


def test_sequential_append_insert_delete_renumber():
    seq = nn.Sequential(nn.ReLU())
    seq.append(nn.Tanh()).extend([nn.Sigmoid()])
    assert [type(m).__name__ for m in seq] == ["ReLU", "Tanh", "Sigmoid"]
    seq.insert(0, nn.Identity())
    assert list(seq._modules) == ["0", "1", "2", "3"] and isinstance(seq[0], nn.Identity)
    del seq[1]
    assert list(seq._modules) == ["0", "1", "2"]
    assert [type(m).__name__ for m in seq] == ["Identity", "Tanh", "Sigmoid"]
    assert isinstance(seq.__dict__["2"], nn.Sigmoid)  # attribute view follows the renumbering
    assert "3" not in seq.__dict__


def test_sequential_from_ordered_dict_keeps_names():
    seq = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 3)), ("act", nn.ReLU())]))
    assert seq.fc is seq[0]
    assert list(seq.state_dict()) == ["fc.weight", "fc.bias"]
    assert list(seq[:1]._modules) == ["fc"]
    assert repr(seq) == "Sequential(\n  (fc): Linear(in_features=2, out_features=3, bias=True)\n  (act): ReLU()\n)"


def test_module_list_registers_its_modules():
    class Tower(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList(nn.Linear(2, 2) for _ in range(3))

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

    tower = Tower()
    assert len(list(tower.parameters())) == 6
    assert [n for n, _ in tower.named_parameters()][:2] == ["layers.0.weight", "layers.0.bias"]
    tower.layers.append(nn.Linear(2, 1))
    tower.layers += [nn.ReLU()]
    assert len(tower.layers) == 5 and tower(ttrain.randn(4, 2)).shape == (4, 1)
    assert isinstance(tower.layers[1:3], nn.ModuleList) and len(tower.layers[1:3]) == 2
    del tower.layers[0]
    assert list(tower.layers._modules) == ["0", "1", "2", "3"]


def test_module_dict():
    heads = nn.ModuleDict({"a": nn.Linear(2, 1), "b": nn.Linear(2, 3)})
    assert list(heads) == ["a", "b"] and "a" in heads and len(heads) == 2
    assert [n for n, _ in heads.named_parameters()] == ["a.weight", "a.bias", "b.weight", "b.bias"]
    heads["c"] = nn.ReLU()
    assert list(heads.keys()) == ["a", "b", "c"]
    assert isinstance(heads.pop("b"), nn.Linear) and list(heads) == ["a", "c"]
    heads.update([("d", nn.Tanh())])
    assert [type(m).__name__ for m in heads.values()] == ["Linear", "ReLU", "Tanh"]
    heads.clear()
    assert len(heads) == 0 and list(heads.parameters()) == []
