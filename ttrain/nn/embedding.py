"""`Embedding`: a lookup table of trainable vectors, one row per index."""

from __future__ import annotations

from typing import Any

import numpy as np

from ttrain.autograd.tensor import Tensor
from ttrain.nn import functional as F
from ttrain.nn import init
from ttrain.nn.module import Module
from ttrain.nn.parameter import Parameter


class Embedding(Module):
    """Maps integer indices of any shape to rows of `weight` (num_embeddings, embedding_dim).

    The weight starts from N(0, 1), as in PyTorch. The row at `padding_idx` (negative counts from
    the end) starts at zero and receives no gradient, so it stays zero under plain optimizers.
    """

    num_embeddings: int
    embedding_dim: int
    padding_idx: int | None
    weight: Parameter

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None, dtype: Any = None) -> None:
        super().__init__()
        for name, value in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Embedding: {name} must be a positive integer, got {value!r}")
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        self.padding_idx = None if padding_idx is None else F.normalize_padding_idx(padding_idx, self.num_embeddings)
        dtype = np.dtype(np.float32 if dtype is None else dtype)
        self.weight = Parameter(np.empty((self.num_embeddings, self.embedding_dim), dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """N(0, 1) draws; the padding row zero."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, input: Tensor) -> Tensor:
        """The rows of `input`'s indices: shape input.shape + (embedding_dim,)."""
        return F.embedding(input, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        return text if self.padding_idx is None else text + f", padding_idx={self.padding_idx}"
