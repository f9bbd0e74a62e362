"""A model as one chain of layers, and the shapes that flow through it.

Export needs a model whose forward pass is a plain chain: a `Sequential` (what a config's
`layers:` list builds), or a model that lists its chain itself with `as_layers()` (the built-in
SeedNet, MLP, LeNet5 and CNN). Each link keeps the prefix of its state-dict names, so the
tensors of link i can be renamed to PyTorch's `Sequential` names (`i.weight`) and back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ttrain.autograd.tensor import unwrap
from ttrain.training.checkpoint import CheckpointError


class InteropError(CheckpointError):
    """A model that cannot move between ttrain and another framework, or weights that do not fit it;
    the message names the layer or tensor. A CheckpointError: bad input, exit code 2."""


@dataclass(frozen=True)
class Link:
    """One layer of the chain: its state-dict prefix in the ttrain model, and the layer itself."""

    prefix: str
    layer: Any

    @property
    def kind(self) -> str:
        return type(self.layer).__name__

    def describe(self, index: int) -> str:
        """`layer 3 (features.3, Dropout)`: how messages name the link."""
        return f"layer {index} ({self.prefix}, {self.kind})"

    def tensors(self) -> dict[str, np.ndarray]:
        """The layer's own state dict as arrays, under its local names (`weight`, `running_mean`, ...)."""
        return {name: np.asarray(unwrap(value)) for name, value in self.layer.state_dict().items()}


def layer_chain(model: Any) -> list[Link]:
    """The model's forward pass as a list of layers; InteropError for a model that is not a chain."""
    from ttrain.nn.container import Sequential

    if isinstance(model, Sequential):
        pairs = list(model.named_children())
    elif callable(getattr(model, "as_layers", None)):
        pairs = model.as_layers()
    else:
        raise InteropError(f"model {type(model).__name__} is not a chain of layers: export takes a `layers:` list "
                          "or a built-in model (seed_net, mlp, lenet5, cnn)")
    links = []
    for prefix, layer in pairs:
        if isinstance(layer, Sequential):  # a Sequential inside the chain is spliced in, with its names
            links += [Link(f"{prefix}.{inner.prefix}", inner.layer) for inner in layer_chain(layer)]
        else:
            links.append(Link(prefix, layer))
    return links


def trace_shapes(links: list[Link], sample_shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    """The shape entering each link and, last, the output's: one zero sample run through the chain
    in evaluation mode (the batch dimension is 1)."""
    from ttrain.autograd.creation import from_numpy
    from ttrain.autograd.grad_mode import no_grad

    modes = [link.layer.training for link in links]
    value = from_numpy(np.zeros((1, *sample_shape), np.float32))
    shapes = [tuple(value.shape)]
    try:
        with no_grad():
            for link in links:
                link.layer.eval()
                value = link.layer(value)
                shapes.append(tuple(value.shape))
    finally:
        for link, mode in zip(links, modes):
            link.layer.train(mode)
    return shapes
