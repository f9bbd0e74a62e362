"""Activations composed from primitive ops: `elu`, `selu`, `silu`, `mish`, `hardtanh`, as in PyTorch.

Re-exported by `ttrain.nn.functional`. Each is a few `Where`/`exp`/`sigmoid` calls, so its gradient
comes from the primitives' own backward rules (no hand-written backward to keep in step).
"""

from __future__ import annotations

import numpy as np

from ttrain.autograd.op_table import sigmoid, softplus, tanh
from ttrain.autograd.ops.arith import Where
from ttrain.autograd.tensor import Tensor, ensure_tensor

__all__ = ["elu", "hardtanh", "mish", "selu", "silu"]

# PyTorch's SELU constants (Klambauer et al., 2017), to the digits torch uses.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def elu(input: Tensor, alpha: float = 1.0) -> Tensor:
    """x where x > 0, alpha * (exp(x) - 1) elsewhere."""
    x = ensure_tensor(input)
    # exp of min(x, 0): the unused branch must not overflow, or its zero gradient becomes 0 * inf.
    negative = alpha * (x.clamp(max=0.0).exp() - 1.0)
    return Where.apply(x.data > 0, x, negative)


def selu(input: Tensor) -> Tensor:
    """SELU_SCALE * elu(x, SELU_ALPHA): self-normalising for standard-normal inputs."""
    return SELU_SCALE * elu(input, SELU_ALPHA)


def silu(input: Tensor) -> Tensor:
    """x * sigmoid(x) (also called swish)."""
    x = ensure_tensor(input)
    return x * sigmoid(x)


def mish(input: Tensor) -> Tensor:
    """x * tanh(softplus(x))."""
    x = ensure_tensor(input)
    return x * tanh(softplus(x))


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """x clipped to [min_val, max_val]; the gradient is zero at and beyond the limits, as in PyTorch."""
    if max_val <= min_val:
        raise ValueError(f"hardtanh: max_val ({max_val}) must be greater than min_val ({min_val})")
    x = ensure_tensor(input)
    inside = (x.data > min_val) & (x.data < max_val)
    return Where.apply(inside, x, np.clip(x.data, min_val, max_val))
