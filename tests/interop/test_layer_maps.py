"""Every layer export maps, with arguments off their defaults, gives ttrain's outputs in PyTorch
(the printed snippet's model with the exported state dict) and in onnxruntime."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import ttrain
from ttrain import nn
from ttrain.interop.chain import InteropError, layer_chain, trace_shapes
from ttrain.interop.onnx_format import ONNX_CONVERTERS, onnx_model
from ttrain.interop.torch_format import TORCH_ARGUMENTS, torch_snippet, torch_state_dict


def rows_chain() -> tuple[nn.Sequential, tuple[int, ...]]:
    return nn.Sequential(
        nn.Linear(6, 8), nn.GELU(), nn.Linear(8, 8, bias=False), nn.GELU(approximate="tanh"), nn.LayerNorm(8, eps=1e-3),
        nn.ELU(0.5), nn.LeakyReLU(0.2), nn.SiLU(), nn.Mish(), nn.Softplus(beta=2.0), nn.Hardtanh(-0.5, 0.75), nn.SELU(),
        nn.Tanh(), nn.BatchNorm1d(8, eps=1e-3), nn.Unflatten(1, (2, 4)), nn.Linear(4, 3),  # a Linear over 3-D input
        nn.LayerNorm(3, elementwise_affine=False), nn.Sigmoid(), nn.Flatten(), nn.Identity(), nn.Dropout(0.3),
        nn.Softplus(), nn.Softmax(dim=1), nn.LogSoftmax(dim=-1),
    ), (6,)


def image_chain() -> tuple[nn.Sequential, tuple[int, ...]]:
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding="same"), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Conv2d(4, 4, (3, 2), stride=2, padding=1, groups=2, bias=False), nn.MaxPool2d(2, stride=1, padding=1),
        nn.Sequential(nn.AvgPool2d(2, stride=1, padding=1, count_include_pad=False), nn.Dropout2d(0.2)),  # spliced in
        nn.ConvTranspose2d(4, 3, 3, stride=2, output_padding=1), nn.Conv2d(3, 3, 3, dilation=2, padding="valid"),
        nn.AdaptiveAvgPool2d((7, 4)), nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(3, 5),
    ), (2, 12, 12)


def sequence_chain() -> tuple[nn.Sequential, tuple[int, ...]]:
    return nn.Sequential(nn.Conv1d(2, 4, 3, padding=2, dilation=2), nn.ReLU(), nn.MaxPool1d(3, stride=2, padding=1),
                         nn.BatchNorm1d(4), nn.Flatten(), nn.Linear(20, 3)), (2, 9)


CHAINS = {"rows": rows_chain, "images": image_chain, "sequences": sequence_chain}


def prepared(name: str) -> tuple[nn.Sequential, tuple[int, ...], np.ndarray, np.ndarray]:
    """A chain in evaluation mode with non-trivial running statistics, an input and ttrain's output."""
    model, sample = CHAINS[name]()
    rng = np.random.default_rng(0)
    for module in model.modules():
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            module.running_mean.data[...] = rng.normal(size=module.num_features)
            module.running_var.data[...] = rng.uniform(0.5, 2.0, size=module.num_features)
            module.weight.data[...] = rng.normal(size=module.num_features)
    model.eval()
    x = rng.standard_normal((4, *sample)).astype(np.float32)
    with ttrain.no_grad():
        return model, sample, x, model(ttrain.from_numpy(x)).data


def test_the_chains_cover_every_mapped_layer() -> None:
    kinds = {type(link.layer) for make in CHAINS.values() for link in layer_chain(make()[0])}
    assert set(TORCH_ARGUMENTS) - {nn.GroupNorm} <= kinds  # GroupNorm: torch only, tested below
    assert set(ONNX_CONVERTERS) <= kinds


@pytest.mark.parametrize("name", list(CHAINS))
def test_torch_twin_gives_ttrains_outputs(name: str, tmp_path) -> None:
    torch = pytest.importorskip("torch")
    from safetensors.numpy import save_file

    model, _, x, expected = prepared(name)
    links = layer_chain(model)
    save_file(torch_state_dict(links), tmp_path / "w.safetensors")
    namespace: dict[str, Any] = {}
    exec(torch_snippet(links, str(tmp_path / "w.safetensors")), namespace)
    with torch.no_grad():
        outputs = namespace["model"](torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(outputs, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", list(CHAINS))
def test_onnx_graph_gives_ttrains_outputs(name: str) -> None:
    onnxruntime = pytest.importorskip("onnxruntime")
    model, sample, x, expected = prepared(name)
    links = layer_chain(model)
    proto = onnx_model(links, trace_shapes(links, sample))
    session = onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"input": x})[0], expected, rtol=1e-4, atol=1e-5)


def test_group_norm_has_a_torch_twin_but_no_onnx_mapping(tmp_path) -> None:
    torch = pytest.importorskip("torch")
    from safetensors.numpy import save_file

    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.GroupNorm(2, 4, eps=1e-3)).eval()
    links = layer_chain(model)
    save_file(torch_state_dict(links), tmp_path / "w.safetensors")
    namespace: dict[str, Any] = {}
    exec(torch_snippet(links, str(tmp_path / "w.safetensors")), namespace)
    x = np.random.default_rng(2).standard_normal((2, 1, 6, 6)).astype(np.float32)
    with torch.no_grad(), ttrain.no_grad():
        np.testing.assert_allclose(namespace["model"](torch.from_numpy(x)).numpy(), model(ttrain.from_numpy(x)).data,
                                   rtol=1e-5, atol=1e-5)
    with pytest.raises(InteropError, match=r"layer 1 \(1, GroupNorm\) has no ONNX mapping"):
        onnx_model(links, trace_shapes(links, (1, 6, 6)))


def test_a_norm_without_its_shift_has_no_torch_twin() -> None:
    links = layer_chain(nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4, bias=False)))
    with pytest.raises(InteropError, match=r"layer 1 \(1, BatchNorm1d\): an affine norm without a bias"):
        torch_state_dict(links)


def test_a_model_that_is_not_a_chain_is_named() -> None:
    class Branches(nn.Module):
        def forward(self, x: Any) -> Any:
            return x

    with pytest.raises(InteropError, match="model Branches is not a chain of layers"):
        layer_chain(Branches())


@pytest.mark.parametrize("make", [nn.SeedNet, lambda: nn.MLP(hidden=(16, 8), dropout=0.2), nn.LeNet5,
                                  lambda: nn.CNN(channels=(4, 8), hidden=16, batch_norm=True)])
def test_a_built_in_models_chain_is_its_forward_pass_with_its_state_dict_names(make) -> None:
    model = make().eval()
    links = layer_chain(model)
    assert {f"{link.prefix}.{name}" for link in links for name in link.tensors()} == set(model.state_dict())
    x = ttrain.from_numpy(np.random.default_rng(3).standard_normal((2, 1, 28, 28)).astype(np.float32))
    with ttrain.no_grad():
        chained = nn.Sequential(*(link.layer for link in links)).eval()(x)
        np.testing.assert_array_equal(chained.data, model(x).data)
    assert [link.prefix for link in layer_chain(nn.CNN())][:2] == ["features.0", "features.1"]
