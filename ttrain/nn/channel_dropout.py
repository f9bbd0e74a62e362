"""`Dropout2d`: drops whole feature maps (channels) rather than single elements."""

from __future__ import annotations

from ttrain.autograd.tensor import Tensor
from ttrain.nn import functional as F
from ttrain.nn.module import Module


class Dropout2d(Module):
    """Zero each channel of (N, C, H, W) input with probability `p` while training, scaling the rest by 1 / (1 - p).

    Neighbouring pixels of a feature map are strongly correlated, so dropping single elements
    barely regularises a conv layer; dropping whole maps does. Identity in evaluation mode. Masks
    come from the global seeded stream (`ttrain.manual_seed`).
    """

    p: float
    inplace: bool

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout2d: probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        """The input with channel dropout applied when training."""
        return F.dropout2d(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
