"""Transformer layers with PyTorch's constructors and parameter names, so state dicts move both ways.

`TransformerEncoderLayer`: `self_attn` (MultiheadAttention), `linear1` (d_model -> dim_feedforward),
`linear2` (back), `norm1`, `norm2`; post-norm by default, pre-norm with `norm_first=True`.
`TransformerDecoderLayer` adds `multihead_attn` (attention over the encoder's memory) and `norm3`.
`TransformerEncoder` / `TransformerDecoder` hold `layers.{i}` (deep copies of one layer, so every
layer starts from the same weights, as in PyTorch) and an optional final `norm`.
`TransformerEncoderStack` is the encoder a config's `layers:` list builds from sizes
(registered as `transformer_encoder`): batch-first, d_model read from the data.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Literal

from ttrain.autograd.tensor import Tensor
from ttrain.nn import functional as F
from ttrain.nn.attention import MultiheadAttention
from ttrain.nn.container import ModuleList
from ttrain.nn.dropout import Dropout
from ttrain.nn.linear import Linear
from ttrain.nn.module import Module
from ttrain.nn.normalization import LayerNorm

Activation = str | Callable[[Tensor], Tensor]
_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"relu": F.relu, "gelu": F.gelu}


def _activation(layer: str, activation: Activation) -> Callable[[Tensor], Tensor]:
    if callable(activation):
        return activation
    if activation not in _ACTIVATIONS:
        raise ValueError(f"{layer}: activation must be 'relu', 'gelu' or a callable, got {activation!r}")
    return _ACTIVATIONS[activation]


class _FeedForwardBlock(Module):
    """What encoder and decoder layers share: the feed-forward block, its norms' eps and pre/post-norm."""

    norm_first: bool

    def _init_feed_forward(self, d_model: int, dim_feedforward: int, dropout: float, activation: Activation,
                           bias: bool, dtype: Any) -> None:
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.activation_name = activation if isinstance(activation, str) else getattr(activation, "__name__", "")
        self.activation = _activation(type(self).__name__, activation)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout_ff(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def _residual(self, x: Tensor, block: Callable[[Tensor], Tensor], norm: LayerNorm) -> Tensor:
        """x + block(norm(x)) with norm_first, else norm(x + block(x))."""
        return x + block(norm(x)) if self.norm_first else norm(x + block(x))


class TransformerEncoderLayer(_FeedForwardBlock):
    """Self-attention then a feed-forward block, each with a residual connection and LayerNorm.

    forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False): src (S, N, E), or
    (N, S, E) with `batch_first`, or unbatched (S, E); masks as `MultiheadAttention`'s attn_mask and
    key_padding_mask.
    """

    inferred_args = {"d_model": "last"}

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: Activation = "relu", layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, dtype: Any = None) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            dtype=dtype)
        self._init_feed_forward(d_model, dim_feedforward, dropout, activation, bias, dtype)
        self.norm_first = bool(norm_first)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)

    @property
    def dropout_ff(self) -> Dropout:
        return self.dropout2

    def forward(self, src: Tensor, src_mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool = False) -> Tensor:
        """The layer's output, in src's layout."""
        def sa_block(x: Tensor) -> Tensor:
            out, _ = self.self_attn(x, x, x, key_padding_mask=src_key_padding_mask, need_weights=False,
                                    attn_mask=src_mask, is_causal=is_causal)
            return self.dropout1(out)

        x = self._residual(src, sa_block, self.norm1)
        return self._residual(x, self._ff_block, self.norm2)

    def extra_repr(self) -> str:
        return f"activation={self.activation_name!r}" + (", norm_first=True" if self.norm_first else "")


class TransformerDecoderLayer(_FeedForwardBlock):
    """Self-attention over the target, attention over the encoder's memory, then a feed-forward
    block, each with a residual connection and LayerNorm.

    forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False).
    """

    inferred_args = {"d_model": "last"}

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: Activation = "relu", layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, dtype: Any = None) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            dtype=dtype)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first, dtype=dtype)
        self._init_feed_forward(d_model, dim_feedforward, dropout, activation, bias, dtype)
        self.norm_first = bool(norm_first)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)

    @property
    def dropout_ff(self) -> Dropout:
        return self.dropout3

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Any = None, memory_mask: Any = None,
                tgt_key_padding_mask: Any = None, memory_key_padding_mask: Any = None,
                tgt_is_causal: bool = False, memory_is_causal: bool = False) -> Tensor:
        """The layer's output, in tgt's layout."""
        def sa_block(x: Tensor) -> Tensor:
            out, _ = self.self_attn(x, x, x, key_padding_mask=tgt_key_padding_mask, need_weights=False,
                                    attn_mask=tgt_mask, is_causal=tgt_is_causal)
            return self.dropout1(out)

        def mha_block(x: Tensor) -> Tensor:
            out, _ = self.multihead_attn(x, memory, memory, key_padding_mask=memory_key_padding_mask,
                                         need_weights=False, attn_mask=memory_mask, is_causal=memory_is_causal)
            return self.dropout2(out)

        x = self._residual(tgt, sa_block, self.norm1)
        x = self._residual(x, mha_block, self.norm2)
        return self._residual(x, self._ff_block, self.norm3)

    def extra_repr(self) -> str:
        return f"activation={self.activation_name!r}" + (", norm_first=True" if self.norm_first else "")


def _clones(layer: Module, num_layers: int, owner: str) -> ModuleList:
    if not isinstance(num_layers, int) or isinstance(num_layers, bool) or num_layers < 1:
        raise ValueError(f"{owner}: num_layers must be a positive integer, got {num_layers!r}")
    return ModuleList([copy.deepcopy(layer) for _ in range(num_layers)])


class TransformerEncoder(Module):
    """`num_layers` copies of `encoder_layer` applied in turn, then `norm` if given.

    forward(src, mask=None, src_key_padding_mask=None, is_causal=False).
    """

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int, norm: Module | None = None) -> None:
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers, "TransformerEncoder")
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src: Tensor, mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool = False) -> Tensor:
        """The encoded sequence, in src's layout."""
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=is_causal)
        return x if self.norm is None else self.norm(x)


class TransformerDecoder(Module):
    """`num_layers` copies of `decoder_layer` applied in turn over (tgt, memory), then `norm` if given."""

    def __init__(self, decoder_layer: TransformerDecoderLayer, num_layers: int, norm: Module | None = None) -> None:
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers, "TransformerDecoder")
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Any = None, memory_mask: Any = None,
                tgt_key_padding_mask: Any = None, memory_key_padding_mask: Any = None,
                tgt_is_causal: bool = False, memory_is_causal: bool = False) -> Tensor:
        """The decoded sequence, in tgt's layout."""
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask, memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
        return x if self.norm is None else self.norm(x)


class TransformerEncoderStack(TransformerEncoder):
    """A `TransformerEncoder` built from sizes, for a config's `layers:` list (registered as
    `transformer_encoder`): batch-first (N, S, d_model) in and out, d_model read from the data,
    `final_norm` a LayerNorm after the last layer (the usual with `norm_first`). `causal` masks
    every position from the ones after it (a language model's encoder)."""

    inferred_args = {"d_model": "last"}

    def __init__(self, d_model: int, nhead: int, num_layers: int = 1, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: Literal["relu", "gelu"] = "relu", layer_norm_eps: float = 1e-5,
                 norm_first: bool = False, final_norm: bool = False, causal: bool = False) -> None:
        layer = TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                                        batch_first=True, norm_first=norm_first)
        super().__init__(layer, num_layers, LayerNorm(d_model, eps=layer_norm_eps) if final_norm else None)
        self.causal = bool(causal)

    def forward(self, src: Tensor, mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool = False) -> Tensor:
        """The encoded (N, S, d_model) sequence; causal when built with `causal=True`."""
        return super().forward(src, mask, src_key_padding_mask, is_causal or self.causal)
