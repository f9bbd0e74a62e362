"""`PatchEmbedding`: images to a sequence of patch tokens, the input stage of a Vision Transformer."""

from __future__ import annotations

from typing import Any

import numpy as np

from ttrain.autograd.ops.errors import ShapeError
from ttrain.autograd.ops.shape import cat
from ttrain.autograd.tensor import Tensor
from ttrain.nn import functional as F
from ttrain.nn import init
from ttrain.nn.conv import Conv2d
from ttrain.nn.module import Module
from ttrain.nn.parameter import Parameter


class PatchEmbedding(Module):
    """Cut (N, C, H, W) images into non-overlapping `patch_size` squares and project each to
    `embed_dim`: (N, L, embed_dim) tokens, L = (H / p) * (W / p) in row-major order (registered as
    `patch_embedding`). With `class_token`, a learned `cls_token` (1, 1, embed_dim) leads the
    sequence (L + 1 tokens; pick it with `sequence_output: {mode: first}`).

    The projection is a Conv2d(C, embed_dim, p, stride=p), kept as `proj` with that conv's init and
    state-dict names (`proj.weight` (D, C, p, p), `proj.bias`, as timm's ViT). Since stride equals
    the kernel, the patches do not overlap: the forward unfolds them with a reshape and runs one GEMM
    with the conv's weight, instead of a strided convolution.
    """

    inferred_args = {"in_channels": "channels"}

    def __init__(self, in_channels: int, embed_dim: int, patch_size: int = 4, class_token: bool = False,
                 dtype: Any = None) -> None:
        super().__init__()
        self.proj = Conv2d(in_channels, embed_dim, patch_size, stride=patch_size, dtype=dtype)
        self.in_channels, self.embed_dim, self.patch_size = int(in_channels), int(embed_dim), int(patch_size)
        if class_token:
            self.cls_token = Parameter(np.empty((1, 1, self.embed_dim), dtype=self.proj.weight.dtype))
            init.normal_(self.cls_token, std=0.02)  # ViT's and BERT's scale for learned tokens
        else:
            self.register_parameter("cls_token", None)

    def forward(self, input: Tensor) -> Tensor:
        """The patch tokens (N, L, embed_dim), led by the class token if there is one."""
        p = self.patch_size
        if input.ndim != 4 or input.shape[1] != self.in_channels or input.shape[2] % p or input.shape[3] % p:
            raise ShapeError(f"PatchEmbedding: expected images (N, {self.in_channels}, H, W) with H and W multiples "
                             f"of patch_size {p}, got {tuple(input.shape)}")
        n, c, h, w = input.shape
        patches = input.reshape(n, c, h // p, p, w // p, p).permute(0, 2, 4, 1, 3, 5)
        patches = patches.reshape(n, (h // p) * (w // p), c * p * p)
        tokens = F.linear(patches, self.proj.weight.reshape(self.embed_dim, c * p * p), self.proj.bias)
        if self.cls_token is None:
            return tokens
        return cat([self.cls_token.expand(n, 1, self.embed_dim), tokens], dim=1)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.embed_dim}, patch_size={self.patch_size}"
                + (", class_token=True" if self.cls_token is not None else ""))
