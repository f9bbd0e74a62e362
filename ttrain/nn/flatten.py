"""`Flatten`: merge a range of dimensions (by default all but the batch dimension); `Unflatten` splits one."""

from __future__ import annotations

from typing import Sequence

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


class Unflatten(Module):
    """Split dimension `dim` into `unflattened_size`: Unflatten(1, (1, 28, 28)) takes (N, 784) to (N, 1, 28, 28).

    One entry of `unflattened_size` may be -1, as in `reshape`.
    """

    def __init__(self, dim: int, unflattened_size: Sequence[int]) -> None:
        super().__init__()
        if isinstance(unflattened_size, int) or not all(isinstance(s, int) for s in unflattened_size):
            raise TypeError(f"Unflatten: unflattened_size must be a sequence of ints, got {unflattened_size!r}")
        self.dim = dim
        self.unflattened_size = tuple(unflattened_size)

    def forward(self, input: Tensor) -> Tensor:
        """The input with dimension `dim` split into `unflattened_size`."""
        return F.unflatten(input, self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
