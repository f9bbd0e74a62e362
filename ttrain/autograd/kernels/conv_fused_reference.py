"""Plain NumPy reference for the fused conv + ReLU + 2x2 max-pool kernels (`conv_fused.py`): the
three ops' references one after another. The tests hold `conv_fused.py` to it."""

from __future__ import annotations

import numpy as np

from ttrain.autograd.kernels import conv_reference, pool_reference
from ttrain.autograd.window_geometry import IntPair


def conv2d_relu_pool_forward(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, stride: IntPair = 1, padding: IntPair = 0,
    dilation: IntPair = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Reference for `conv_fused.conv2d_relu_pool_forward`: (y, maxima positions, -1 where not positive)."""
    relu = np.maximum(conv_reference.conv2d_forward(x, weight, bias, stride, padding, dilation), 0)
    y, at = pool_reference.max_pool2d_forward(relu, 2)
    positive = np.take_along_axis(relu.reshape(*relu.shape[:2], -1), at.reshape(*at.shape[:2], -1), axis=2) > 0
    return y, np.where(positive.reshape(at.shape), at, -1)


def conv2d_relu_pool_backward(
    grad_output: np.ndarray, x: np.ndarray, weight: np.ndarray, at: np.ndarray, stride: IntPair = 1,
    padding: IntPair = 0, dilation: IntPair = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reference for `conv_fused.conv2d_relu_pool_backward`: (grad_input, grad_weight, grad_bias)."""
    ho = conv_reference.conv2d_forward(x, weight, None, stride, padding, dilation).shape[2:]
    n, o = grad_output.shape[:2]
    kept = np.where(at >= 0, grad_output, 0)  # the ReLU passes no gradient where the maximum is not positive
    grad_conv = pool_reference.max_pool2d_backward(kept, np.maximum(at, 0), (n, o, *ho))
    return conv_reference.conv2d_backward(grad_conv, x, weight, stride, padding, dilation)
