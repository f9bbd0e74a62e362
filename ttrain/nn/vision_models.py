"""Built-in convolutional architectures the config layer names (`model: {name: lenet5}`, `{name: cnn, ...}`).

Constructor signatures are the config schema: every argument is typed and has a default. Both
take images (N, C, H, W) and return logits (N, num_classes) for `CrossEntropyLoss`. Layers sit in
two `Sequential`s, `features` and `classifier`, so state-dict names follow PyTorch's indexing
(`features.0.weight`, `classifier.1.bias`, ...).
"""

from __future__ import annotations

from ttrain.autograd.tensor import Tensor
from ttrain.nn.activation import ReLU
from ttrain.nn.container import Sequential
from ttrain.nn.conv import Conv2d
from ttrain.nn.dropout import Dropout
from ttrain.nn.flatten import Flatten
from ttrain.nn.linear import Linear
from ttrain.nn.module import Module
from ttrain.nn.normalization import BatchNorm2d
from ttrain.nn.pooling import MaxPool2d


def _chain(model: Module, *parts: str) -> list[tuple[str, Module]]:
    """The layers of the model's Sequentials named `parts`, in order, with their state-dict prefixes."""
    return [(f"{part}.{name}", layer) for part in parts for name, layer in getattr(model, part).named_children()]


class LeNet5(Module):
    """LeCun et al. (1998)'s LeNet-5 with ReLU and max-pooling, for 28x28 images.

    conv 5x5 -> 6 maps (padding 2, so 28x28 stays 28x28 as the original's 32x32 input did),
    pool 2 -> conv 5x5 -> 16 maps -> pool 2 -> 16*5*5 -> 120 -> 84 -> num_classes.
    `features`: 0 conv, 1 relu, 2 pool, 3 conv, 4 relu, 5 pool; `classifier`: 0 flatten,
    1 linear 400->120, 2 relu, 3 linear 120->84, 4 relu, 5 linear 84->num_classes.
    """

    inferred_args = {"in_channels": "channels", "num_classes": "classes"}

    def __init__(self, num_classes: int = 10, in_channels: int = 1) -> None:
        super().__init__()
        self.features = Sequential(
            Conv2d(in_channels, 6, 5, padding=2), ReLU(), MaxPool2d(2),
            Conv2d(6, 16, 5), ReLU(), MaxPool2d(2),
        )
        self.classifier = Sequential(
            Flatten(), Linear(16 * 5 * 5, 120), ReLU(), Linear(120, 84), ReLU(), Linear(84, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        """Logits (N, num_classes) for images (N, in_channels, 28, 28)."""
        return self.classifier(self.features(x))

    def as_layers(self) -> list[tuple[str, Module]]:
        """The forward pass as one chain of (state-dict prefix, layer), for export (ttrain.interop)."""
        return _chain(self, "features", "classifier")


class CNN(Module):
    """A configurable small CNN in the layout of PyTorch's MNIST example.

    `features`: per entry of `channels`, a conv ("valid", stride 1) [+ BatchNorm2d] + ReLU; then
    one 2x2 max-pool and Dropout(`dropout`). `classifier`: Flatten, Linear to `hidden`, ReLU,
    Dropout(`hidden_dropout`), Linear to `num_classes`. `kernel_sizes` is one size for every conv
    or one per conv; `input_size` (the images' side, or their (height, width)) sizes the first
    Linear: each conv takes kernel - 1 pixels off, the pool halves (rounding down).

    The defaults (conv 32 and 64 3x3, max-pool, dropout 0.25, FC 128, dropout 0.5) are the
    network of `configs/mnist_cnn.yaml`.
    """

    inferred_args = {"in_channels": "channels", "num_classes": "classes", "input_size": "spatial"}

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        channels: tuple[int, ...] = (32, 64),
        kernel_sizes: int | tuple[int, ...] = 3,
        hidden: int = 128,
        dropout: float = 0.25,
        batch_norm: bool = False,
        input_size: int | tuple[int, int] = 28,
        hidden_dropout: float = 0.5,
    ) -> None:
        super().__init__()
        if not channels:
            raise ValueError("CNN: channels must name at least one conv layer")
        kernels = (kernel_sizes,) * len(channels) if isinstance(kernel_sizes, int) else tuple(kernel_sizes)
        if len(kernels) != len(channels):
            raise ValueError(f"CNN: kernel_sizes {kernel_sizes!r} must be one int or one per conv layer ({len(channels)})")
        for name, rate in (("dropout", dropout), ("hidden_dropout", hidden_dropout)):
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"CNN: {name} must be in [0, 1), got {rate}")
        layers: list[Module] = []
        height, width = (input_size, input_size) if isinstance(input_size, int) else input_size
        depth = in_channels
        for out, k in zip(channels, kernels):
            layers.append(Conv2d(depth, out, k, bias=not batch_norm))  # BN's shift makes a conv bias redundant
            if batch_norm:
                layers.append(BatchNorm2d(out))
            layers.append(ReLU())
            height, width, depth = height - k + 1, width - k + 1, out
        height, width = height // 2, width // 2
        if height < 1 or width < 1:
            raise ValueError(f"CNN: input_size {input_size} is too small for convs of kernel sizes {kernels} and a 2x2 pool")
        layers += [MaxPool2d(2), Dropout(dropout)]
        self.features = Sequential(*layers)
        self.classifier = Sequential(
            Flatten(), Linear(depth * height * width, hidden), ReLU(), Dropout(hidden_dropout), Linear(hidden, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        """Logits (N, num_classes) for images (N, in_channels, input_size, input_size)."""
        return self.classifier(self.features(x))

    def as_layers(self) -> list[tuple[str, Module]]:
        """The forward pass as one chain of (state-dict prefix, layer), for export (ttrain.interop)."""
        return _chain(self, "features", "classifier")
