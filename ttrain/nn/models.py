"""Built-in architectures the config layer names (`model: {name: seed_net}`, `{name: mlp, ...}`).

Constructor signatures are the config schema: every argument is typed and has a default.
Both models accept (N, in_features) rows or images (N, C, H, W), which they flatten.

State-dict names: SeedNet has `linear.weight`, `linear.bias`; MLP keeps its layers in a
`Sequential` called `net`, so names follow PyTorch's indexing, e.g. for hidden=(512, 256) without
dropout `net.0.*` (784->512), `net.2.*` (512->256), `net.4.*` (256->10); with dropout each hidden
block has three entries (Linear, activation, Dropout): `net.0.*`, `net.3.*`, `net.6.*`.
"""

from __future__ import annotations

from typing import Literal

from ttrain.autograd.tensor import Tensor
from ttrain.nn.activation import GELU, LeakyReLU, ReLU, Sigmoid, Tanh
from ttrain.nn.container import Sequential
from ttrain.nn.dropout import Dropout
from ttrain.nn.flatten import Flatten
from ttrain.nn.linear import Linear
from ttrain.nn.module import Module

ActivationName = Literal["relu", "leaky_relu", "gelu", "tanh", "sigmoid"]
ACTIVATIONS: dict[str, type[Module]] = {
    "relu": ReLU, "leaky_relu": LeakyReLU, "gelu": GELU, "tanh": Tanh, "sigmoid": Sigmoid,
}


def _rows(x: Tensor) -> Tensor:
    """Images (N, C, H, W) become rows (N, C*H*W); rows pass through untouched."""
    return x.flatten(1) if x.ndim > 2 else x


class SeedNet(Module):
    """The seed article's network: one Linear layer followed by a Sigmoid (trained with MSE)."""

    inferred_args = {"in_features": "features", "num_classes": "classes"}

    def __init__(self, in_features: int = 784, num_classes: int = 10) -> None:
        super().__init__()
        self.linear = Linear(in_features, num_classes)
        self.sigmoid = Sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        """Class scores in (0, 1) for rows or images."""
        return self.sigmoid(self.linear(_rows(x)))

    def as_layers(self) -> list[tuple[str, Module]]:
        """The forward pass as one chain of (state-dict prefix, layer), for export (ttrain.interop)."""
        return [("flatten", Flatten()), ("linear", self.linear), ("sigmoid", self.sigmoid)]


class MLP(Module):
    """A multi-layer perceptron: Linear + activation (+ Dropout) per hidden size, then a Linear to the classes.

    The output is logits (no final activation), for `CrossEntropyLoss`.
    """

    inferred_args = {"in_features": "features", "num_classes": "classes"}

    def __init__(
        self,
        in_features: int = 784,
        hidden: tuple[int, ...] = (512, 256),
        num_classes: int = 10,
        activation: ActivationName = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"MLP: unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MLP: dropout must be in [0, 1), got {dropout}")
        layers: list[Module] = []
        width = in_features
        for size in hidden:
            layers += [Linear(width, size), ACTIVATIONS[activation]()]
            if dropout > 0:
                layers.append(Dropout(dropout))
            width = size
        layers.append(Linear(width, num_classes))
        self.net = Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """Logits (N, num_classes) for rows or images."""
        return self.net(_rows(x))

    def as_layers(self) -> list[tuple[str, Module]]:
        """The forward pass as one chain of (state-dict prefix, layer), for export (ttrain.interop)."""
        return [("flatten", Flatten()), *((f"net.{name}", layer) for name, layer in self.net.named_children())]
