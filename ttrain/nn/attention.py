"""Multi-head attention with PyTorch's constructor, parameter names and layouts, and its masks.

Parameters, so state dicts move both ways: `in_proj_weight` (3E, E) holding the query, key and
value projections stacked in that order, `in_proj_bias` (3E,), `out_proj.weight` (E, E),
`out_proj.bias`; with `kdim`/`vdim` different from `embed_dim`, `q_proj_weight` (E, E),
`k_proj_weight` (E, kdim), `v_proj_weight` (E, vdim) in place of `in_proj_weight`.

Masks, as in `torch.nn.MultiheadAttention`: `key_padding_mask` (N, S) and `attn_mask` (L, S) or
(N * num_heads, L, S); a bool mask is True where attention is *not* allowed, a float mask is added
to the scores (-inf forbids). Both fold into one additive mask for the fused softmax
(ttrain.autograd.ops.attention), which also takes the 1/sqrt(head_dim) scale. Masks are constants:
no gradient flows into a float mask.

The heads run as batched GEMMs: (N, H, L, D) @ (N, H, D, S), and NumPy's matmul hands each of the
N * H matrices to BLAS directly, the transposes included, without copying.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ttrain.autograd.creation import from_numpy
from ttrain.autograd.ops.attention import AttentionSoftmax
from ttrain.autograd.ops.errors import ShapeError
from ttrain.autograd.tensor import Tensor
from ttrain.nn import functional as F
from ttrain.nn import init
from ttrain.nn.linear import Linear
from ttrain.nn.module import Module
from ttrain.nn.parameter import Parameter


def generate_square_subsequent_mask(size: int, dtype: Any = None) -> Tensor:
    """The causal mask of `torch.nn.Transformer.generate_square_subsequent_mask`: (size, size) floats,
    -inf above the diagonal (position i may not attend to j > i), 0 on and below it."""
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 1:
        raise ValueError(f"generate_square_subsequent_mask: size must be a positive integer, got {size!r}")
    dtype = np.dtype(np.float32 if dtype is None else dtype)
    return from_numpy(np.triu(np.full((size, size), -np.inf, dtype=dtype), k=1))


def additive_mask(mask: Any, dtype: np.dtype, name: str) -> np.ndarray | None:
    """A bool mask (True: forbidden) or a float mask (added) as an array of additive floats; None stays None."""
    if mask is None:
        return None
    array = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if array.dtype == np.bool_:
        return np.where(array, dtype.type(-np.inf), dtype.type(0))
    if array.dtype.kind == "f":
        return array.astype(dtype, copy=False)
    raise TypeError(f"MultiheadAttention: {name} must be a bool or float mask, got dtype {array.dtype}")


def _combined_mask(attn_mask: Any, key_padding_mask: Any, is_causal: bool, batch: int, heads: int,
                   target: int, source: int, dtype: np.dtype) -> np.ndarray | None:
    """One additive mask that broadcasts to the scores (N, H, L, S), or None when nothing is masked."""
    if attn_mask is None and is_causal:
        attn_mask = np.triu(np.ones((target, source), dtype=bool), k=1)
    mask = additive_mask(attn_mask, dtype, "attn_mask")
    if mask is not None:
        if mask.shape == (target, source):
            pass
        elif mask.shape == (batch * heads, target, source):
            mask = mask.reshape(batch, heads, target, source)
        else:
            raise ShapeError(f"MultiheadAttention: attn_mask has shape {mask.shape}, expected ({target}, {source}) "
                             f"or ({batch * heads}, {target}, {source})")
    padding = additive_mask(key_padding_mask, dtype, "key_padding_mask")
    if padding is not None:
        if padding.shape != (batch, source):
            raise ShapeError(f"MultiheadAttention: key_padding_mask has shape {padding.shape}, "
                             f"expected ({batch}, {source})")
        padding = padding.reshape(batch, 1, 1, source)
        mask = padding if mask is None else mask + padding
    return mask


class MultiheadAttention(Module):
    """Attention from `num_heads` heads of size embed_dim / num_heads, as `torch.nn.MultiheadAttention`.

    forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False) -> (output, weights). query (L, N, E), key (S, N,
    kdim), value (S, N, vdim), or (N, L, E) ... with `batch_first`, or unbatched (L, E). output has
    query's layout; weights are (N, L, S) averaged over heads, (N, H, L, S) with
    `average_attn_weights=False`, None with `need_weights=False`. `is_causal` without an
    `attn_mask` applies the causal mask. `dropout` drops attention weights while training (the
    returned weights are the dropped ones, as PyTorch's).
    """

    embed_dim: int
    num_heads: int
    head_dim: int
    dropout: float
    batch_first: bool

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 kdim: int | None = None, vdim: int | None = None, batch_first: bool = False,
                 dtype: Any = None) -> None:
        super().__init__()
        for name, value in (("embed_dim", embed_dim), ("num_heads", num_heads), ("kdim", kdim), ("vdim", vdim)):
            if value is not None and (not isinstance(value, (int, np.integer)) or isinstance(value, bool)
                                      or value < 1):
                raise ValueError(f"MultiheadAttention: {name} must be a positive integer, got {value!r}")
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim {embed_dim} must be divisible by num_heads {num_heads}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout <= 1.0:
            raise ValueError(f"MultiheadAttention: dropout must be a number between 0 and 1, got {dropout!r}")
        self.embed_dim, self.num_heads = int(embed_dim), int(num_heads)
        self.head_dim = self.embed_dim // self.num_heads
        self.kdim = int(kdim) if kdim is not None else self.embed_dim
        self.vdim = int(vdim) if vdim is not None else self.embed_dim
        self._qkv_same_embed_dim = self.kdim == self.embed_dim and self.vdim == self.embed_dim
        self.dropout, self.batch_first = float(dropout), bool(batch_first)
        dtype = np.dtype(np.float32 if dtype is None else dtype)
        e = self.embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(np.empty((3 * e, e), dtype=dtype))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = Parameter(np.empty((e, e), dtype=dtype))
            self.k_proj_weight = Parameter(np.empty((e, self.kdim), dtype=dtype))
            self.v_proj_weight = Parameter(np.empty((e, self.vdim), dtype=dtype))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(np.empty(3 * e, dtype=dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(e, e, bias=bias, dtype=dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's: Xavier-uniform projections, zero projection biases; out_proj.weight keeps
        Linear's default init."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for weight in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def _projections(self) -> list[tuple[Tensor, Tensor | None]]:
        """(weight, bias) of the query, key and value projections."""
        e = self.embed_dim
        if self._qkv_same_embed_dim:
            weights = [self.in_proj_weight[i * e:(i + 1) * e] for i in range(3)]
        else:
            weights = [self.q_proj_weight, self.k_proj_weight, self.v_proj_weight]
        bias = self.in_proj_bias
        return [(w, None if bias is None else bias[i * e:(i + 1) * e]) for i, w in enumerate(weights)]

    def _split_heads(self, x: Tensor) -> Tensor:
        """(N, T, E) -> (N, H, T, D): a view whose (T, D) matrices BLAS reads in place."""
        n, t, _ = x.shape
        return x.reshape(n, t, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Any = None,
                need_weights: bool = True, attn_mask: Any = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        """(output, weights); see the class docstring for shapes and masks."""
        batched = query.ndim == 3
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise ShapeError(f"MultiheadAttention: query, key and value must all be 3-D (batched) or 2-D "
                             f"(unbatched), got {tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}")
        if not batched:
            query, key, value = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
            if key_padding_mask is not None:
                key_padding_mask = (key_padding_mask.data if isinstance(key_padding_mask, Tensor)
                                    else np.asarray(key_padding_mask))[None]
        elif not self.batch_first:
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        batch, target, _ = query.shape
        source = key.shape[1]
        expected = ((query, self.embed_dim, "query"), (key, self.kdim, "key"), (value, self.vdim, "value"))
        for tensor, size, name in expected:
            if tensor.shape[-1] != size or tensor.shape[0] != batch:
                raise ShapeError(f"MultiheadAttention: {name} has shape {tuple(tensor.shape)} (batch first), "
                                 f"expected ({batch}, length, {size})")
        if value.shape[1] != source:
            raise ShapeError(f"MultiheadAttention: key and value lengths differ ({source} and {value.shape[1]})")
        (wq, bq), (wk, bk), (wv, bv) = self._projections()
        q = self._split_heads(F.linear(query, wq, bq))
        k = self._split_heads(F.linear(key, wk, bk))
        v = self._split_heads(F.linear(value, wv, bv))
        mask = _combined_mask(attn_mask, key_padding_mask, is_causal, batch, self.num_heads, target, source,
                              query.dtype)
        weights = AttentionSoftmax.apply(q @ k.transpose(-1, -2), scale=1.0 / math.sqrt(self.head_dim), mask=mask)
        weights = F.dropout(weights, self.dropout, self.training)
        heads = (weights @ v).transpose(1, 2).reshape(batch, target, self.embed_dim)
        output = self.out_proj(heads)
        if not batched:
            output = output.squeeze(0)
        elif not self.batch_first:
            output = output.transpose(0, 1)
        if not need_weights:
            return output, None
        if average_attn_weights:
            weights = weights.mean(dim=1)
        return output, (weights if batched else weights.squeeze(0))

    def extra_repr(self) -> str:
        text = f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if not self._qkv_same_embed_dim:
            text += f", kdim={self.kdim}, vdim={self.vdim}"
        return text + (", batch_first=True" if self.batch_first else "")
