"""Runs of modules that `Sequential` computes as one op: Conv2d, ReLU, MaxPool2d(2).

A CNN block of conv, ReLU and 2x2 pool as three ops writes the full-size conv output, its ReLU
and their gradients to memory and reads each back; the fused op (`ops.conv.Conv2dReLUMaxPool`)
keeps them in a per-sample scratch and gives the same outputs and gradients (a LeNet-style
training step 15-20% faster on one core). Only plain modules are fused: exact classes (a module
with hooks has its own class) with no `forward` set on the instance (`summary` wraps it there),
explicit or "valid" padding, one group, a batched input of the weight's dtype, and a 2x2
stride-2 unpadded pool; anything else runs module by module.
"""

from __future__ import annotations

from typing import Any

from ttrain.autograd.tensor import Tensor
from ttrain.autograd.window_geometry import window2d
from ttrain.nn.activation import ReLU
from ttrain.nn.conv import Conv2d
from ttrain.nn.module import Module
from ttrain.nn.pooling import MaxPool2d

_POOL_2X2 = ((2, 2), (2, 2), (0, 0), (1, 1))  # kernel, stride, padding, dilation


def conv_relu_pool(conv: Module, relu: Module, pool: Module, input: Any) -> Tensor | None:
    """pool(relu(conv(input))) as one op when the three modules and the input allow it, else None."""
    if type(conv) is not Conv2d or type(relu) is not ReLU or type(pool) is not MaxPool2d:
        return None
    if "forward" in vars(conv) or "forward" in vars(relu) or "forward" in vars(pool):  # wrapped (summary)
        return None
    if not isinstance(input, Tensor) or input.ndim != 4:
        return None
    if conv.groups != 1 or not _is_2x2(pool):
        return None
    padding = (0, 0) if conv.padding == "valid" else conv.padding
    if isinstance(padding, str):  # "same": may pad unevenly
        return None
    from ttrain.autograd.ops.conv import Conv2dReLUMaxPool

    if not Conv2dReLUMaxPool.fusable(input.data, conv.weight.data, conv.groups):
        return None
    ho = (input.shape[2] + 2 * padding[0] - conv.dilation[0] * (conv.kernel_size[0] - 1) - 1) // conv.stride[0] + 1
    wo = (input.shape[3] + 2 * padding[1] - conv.dilation[1] * (conv.kernel_size[1] - 1) - 1) // conv.stride[1] + 1
    if ho < 2 or wo < 2 or input.shape[1] != conv.in_channels:
        return None  # the modules one by one name the problem
    return Conv2dReLUMaxPool.apply(input, conv.weight, conv.bias, stride=conv.stride, padding=padding,
                                   dilation=conv.dilation)


def _is_2x2(pool: MaxPool2d) -> bool:
    try:
        win = window2d("max_pool2d", pool.kernel_size, pool.stride, pool.padding, pool.dilation)
    except (TypeError, ValueError):
        return False
    return ((win.kh, win.kw), (win.sh, win.sw), (win.ph, win.pw), (win.dh, win.dw)) == _POOL_2X2
