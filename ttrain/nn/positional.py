"""Position information for sequence models: fixed sinusoidal `PositionalEncoding` and a trainable
`LearnedPositionalEmbedding`, each added to (N, L, d_model) input (batch first, as the rest of a
`layers:` list), or (L, N, d_model) with `batch_first=False`."""

from __future__ import annotations

from typing import Any

import numpy as np

from ttrain.autograd.creation import from_numpy
from ttrain.autograd.ops.errors import ShapeError
from ttrain.autograd.tensor import Tensor
from ttrain.nn import init
from ttrain.nn.module import Module
from ttrain.nn.parameter import Parameter


def sinusoidal_table(max_len: int, d_model: int, dtype: Any = np.float32) -> np.ndarray:
    """(max_len, d_model) table of "Attention Is All You Need": sin(pos / 10000^(2i/d)) in even
    columns 2i, cos of the same angle in odd columns 2i + 1 (an odd d_model drops the last cos)."""
    position = np.arange(max_len, dtype=np.float64)[:, None]
    frequency = np.exp(np.arange(0, d_model, 2, dtype=np.float64) * (-np.log(10000.0) / d_model))
    table = np.zeros((max_len, d_model))
    table[:, 0::2] = np.sin(position * frequency)
    table[:, 1::2] = np.cos(position * frequency[: d_model // 2])
    return table.astype(dtype)


def _positive(layer: str, **values: Any) -> None:
    for name, value in values.items():
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{layer}: {name} must be a positive integer, got {value!r}")


def add_positions(input: Tensor, table: Tensor, batch_first: bool, layer: str) -> Tensor:
    """input + the first L rows of `table` (max_len, d_model), for a sequence of length L, broadcast over the batch."""
    max_len, d_model = table.shape
    if input.ndim not in (2, 3) or input.shape[-1] != d_model:
        raise ShapeError(f"{layer}: expected input (N, L, {d_model}) or (L, {d_model}), got {tuple(input.shape)}")
    length = input.shape[-2] if batch_first or input.ndim == 2 else input.shape[0]
    if length > max_len:
        raise ShapeError(f"{layer}: sequence of length {length} is longer than max_len {max_len}")
    rows = table[:length]
    return input + (rows if batch_first or input.ndim == 2 else rows.unsqueeze(1))


class PositionalEncoding(Module):
    """Adds fixed sinusoidal positions (`sinusoidal_table`) to the input; nothing is trained.

    The table is a non-persistent buffer: it is rebuilt from (max_len, d_model), so it follows
    `.to(dtype)` but does not weigh on state dicts. Follow it with `Dropout` for the classic recipe.
    """

    d_model: int
    max_len: int
    batch_first: bool
    inferred_args = {"d_model": "last"}

    def __init__(self, d_model: int, max_len: int = 5000, batch_first: bool = True) -> None:
        super().__init__()
        _positive("PositionalEncoding", d_model=d_model, max_len=max_len)
        self.d_model, self.max_len, self.batch_first = int(d_model), int(max_len), batch_first
        self.register_buffer("pe", from_numpy(sinusoidal_table(self.max_len, self.d_model)), persistent=False)

    def forward(self, input: Tensor) -> Tensor:
        """input + the sinusoidal rows of its positions."""
        return add_positions(input, self.pe, self.batch_first, "PositionalEncoding")

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}" + ("" if self.batch_first else ", batch_first=False")


class LearnedPositionalEmbedding(Module):
    """Adds a trained row per position: `weight` of shape (max_len, d_model), drawn from N(0, 0.02^2)
    as in BERT and ViT (small next to unit-scale token embeddings)."""

    max_len: int
    d_model: int
    batch_first: bool
    weight: Parameter
    inferred_args = {"d_model": "last"}

    def __init__(self, max_len: int, d_model: int, batch_first: bool = True, dtype: Any = None) -> None:
        super().__init__()
        _positive("LearnedPositionalEmbedding", max_len=max_len, d_model=d_model)
        self.max_len, self.d_model, self.batch_first = int(max_len), int(d_model), batch_first
        dtype = np.dtype(np.float32 if dtype is None else dtype)
        self.weight = Parameter(np.empty((self.max_len, self.d_model), dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """N(0, 0.02^2) draws."""
        init.normal_(self.weight, std=0.02)

    def forward(self, input: Tensor) -> Tensor:
        """input + the learned rows of its positions."""
        return add_positions(input, self.weight, self.batch_first, "LearnedPositionalEmbedding")

    def extra_repr(self) -> str:
        return f"{self.max_len}, {self.d_model}" + ("" if self.batch_first else ", batch_first=False")
