"""A model chain as PyTorch sees it: a `torch.nn.Sequential` of the same layers.

Every ttrain layer below keeps PyTorch's constructor argument names as attributes and PyTorch's
tensor names and layouts (Linear weight (out, in), Conv2d (out, in/groups, kh, kw), BatchNorm's
running statistics and `num_batches_tracked`), so a layer maps by its class alone: link i of the
chain becomes `nn.<Class>(**arguments)` at index i of the Sequential, and its tensors are named
`i.weight`, `i.bias`, ... there.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ttrain import nn
from ttrain.interop.chain import InteropError, Link

_CONV = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias")

# The constructor arguments of each layer's torch.nn twin, read from the ttrain layer's attributes
# (`bias`: whether it has one). The class must match exactly: a subclass may compute anything.
TORCH_ARGUMENTS: dict[type, tuple[str, ...]] = {
    nn.Linear: ("in_features", "out_features", "bias"),
    nn.Conv1d: _CONV,
    nn.Conv2d: _CONV,
    nn.ConvTranspose2d: (*_CONV, "output_padding"),
    nn.BatchNorm1d: ("num_features", "eps", "momentum", "affine", "track_running_stats"),
    nn.BatchNorm2d: ("num_features", "eps", "momentum", "affine", "track_running_stats"),
    nn.LayerNorm: ("normalized_shape", "eps", "elementwise_affine", "bias"),
    nn.GroupNorm: ("num_groups", "num_channels", "eps", "affine"),
    nn.ReLU: (), nn.Sigmoid: (), nn.Tanh: (), nn.SELU: (), nn.SiLU: (), nn.Mish: (), nn.Identity: (),
    nn.LeakyReLU: ("negative_slope",),
    nn.ELU: ("alpha",),
    nn.GELU: ("approximate",),
    nn.Softplus: ("beta", "threshold"),
    nn.Hardtanh: ("min_val", "max_val"),
    nn.Softmax: ("dim",),
    nn.LogSoftmax: ("dim",),
    nn.Dropout: ("p",),
    nn.Dropout2d: ("p",),
    nn.Flatten: ("start_dim", "end_dim"),
    nn.Unflatten: ("dim", "unflattened_size"),
    nn.MaxPool1d: ("kernel_size", "stride", "padding", "dilation", "ceil_mode"),
    nn.MaxPool2d: ("kernel_size", "stride", "padding", "dilation"),
    nn.AvgPool2d: ("kernel_size", "stride", "padding", "count_include_pad"),
    nn.AdaptiveAvgPool2d: ("output_size",),
    nn.AdaptiveMaxPool2d: ("output_size",),
}


def _no_bias_without_twin(link: Link, index: int) -> None:
    # ttrain's BatchNorm and GroupNorm can drop the shift alone (bias=False); PyTorch's cannot.
    layer = link.layer
    if getattr(layer, "affine", False) and getattr(layer, "bias", True) is None:
        raise InteropError(f"{link.describe(index)}: an affine norm without a bias has no torch.nn equivalent")


def torch_arguments(link: Link, index: int) -> dict[str, Any]:
    """The keyword arguments of the link's torch.nn layer; InteropError when it has none."""
    names = TORCH_ARGUMENTS.get(type(link.layer))
    if names is None or getattr(link.layer, "return_indices", False):
        raise InteropError(f"{link.describe(index)} has no torch.nn equivalent that export knows; it maps "
                          f"{', '.join(sorted(c.__name__ for c in TORCH_ARGUMENTS))}")
    _no_bias_without_twin(link, index)
    return {name: (link.layer.bias is not None) if name == "bias" else getattr(link.layer, name) for name in names}


def check_torch_chain(links: list[Link]) -> None:
    """InteropError naming the first layer that has no torch.nn twin."""
    for index, link in enumerate(links):
        torch_arguments(link, index)


def torch_state_dict(links: list[Link]) -> dict[str, np.ndarray]:
    """The chain's tensors under the names of a `torch.nn.Sequential` of its layers (`0.weight`, ...)."""
    check_torch_chain(links)
    return {f"{index}.{name}": array for index, link in enumerate(links) for name, array in link.tensors().items()}


def name_map(links: list[Link]) -> dict[str, str]:
    """Sequential tensor name -> the ttrain model's name (`1.weight` -> `net.0.weight`)."""
    return {f"{index}.{name}": f"{link.prefix}.{name}" for index, link in enumerate(links) for name in link.tensors()}


def torch_snippet(links: list[Link], weights_path: str) -> str:
    """Python that rebuilds the chain as a `torch.nn.Sequential` and loads the exported weights."""
    lines = []
    for index, link in enumerate(links):
        arguments = ", ".join(f"{k}={v!r}" for k, v in torch_arguments(link, index).items())
        lines.append(f"    nn.{link.kind}({arguments}),  # {index}: ttrain {link.prefix}")
    return "\n".join([
        "from safetensors.torch import load_file",
        "from torch import nn",
        "",
        "model = nn.Sequential(",
        *lines,
        ")",
        f"model.load_state_dict(load_file({weights_path!r}))",
        "model.eval()",
        "",
    ])
