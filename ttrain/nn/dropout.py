"""`Dropout`: inverted dropout in training mode, the identity in evaluation mode."""

from __future__ import annotations

from ttrain.autograd.tensor import Tensor
from ttrain.nn import functional as F
from ttrain.nn.module import Module


class Dropout(Module):
    """Zero each element with probability `p` while training, scaling the rest by 1 / (1 - p).

    Masks come from the global seeded stream (`ttrain.manual_seed`). `inplace` is accepted for
    PyTorch compatibility; ttrain always computes out of place, which gives the same values.
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        """The input with dropout applied when training."""
        return F.dropout(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
