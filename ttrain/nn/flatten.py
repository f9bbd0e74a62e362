"""`Flatten`: merge a range of dimensions (by default all but the batch dimension)."""

from __future__ import annotations

from ttrain.autograd.tensor import Tensor
from ttrain.nn import functional as F
from ttrain.nn.module import Module


class Flatten(Module):
    """Merge dimensions start_dim..end_dim: (N, 1, 28, 28) -> (N, 784) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        """The input with dimensions start_dim..end_dim merged."""
        return F.flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
