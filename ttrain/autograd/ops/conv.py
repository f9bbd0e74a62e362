"""Sliding-window ops: 2-D convolution, max and average pooling, adaptive average pooling, zero padding.

Convolution and pooling run on the Numba kernels of `ttrain.autograd.kernels` (which validate
their operands and name the op and shapes in errors); those modules import numba, so they are
imported on first use only, keeping `import ttrain` free of it. Conv1d is Conv2d on a height-1
view, done by `ttrain.nn.functional_conv`.
"""

from __future__ import annotations

import numpy as np

from ttrain.autograd.function import Function
from ttrain.autograd.grad_mode import STATE
from ttrain.autograd.ops.errors import ShapeError


class Conv2d(Function):
    """Cross-correlation of x (N, C, H, W) with weight (O, C/groups, kh, kw), plus bias (O,).

    Positional inputs: x, weight, bias (or None). Padding is explicit and symmetric here;
    `"same"` is resolved by the caller.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride=1, padding=0, dilation=1, groups=1):
        from ttrain.autograd.kernels.conv import conv2d_forward, conv2d_forward_keeping

        ctx.save_for_backward(x, weight)
        ctx.window = (stride, padding, dilation, groups)
        ctx.kept = None
        if STATE.enabled and ctx.needs_input_grad[1]:  # the weight gradient will reuse some of the work
            y, ctx.kept = conv2d_forward_keeping(x, weight, bias, stride, padding, dilation, groups)
            return y
        return conv2d_forward(x, weight, bias, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx, grad):
        from ttrain.autograd.kernels.conv import conv2d_backward

        x, weight = ctx.saved_tensors
        kept, ctx.kept = ctx.kept, None
        return conv2d_backward(grad, x, weight, *ctx.window, needs=ctx.needs_input_grad, kept=kept)


class Conv2dReLUMaxPool(Function):
    """max_pool2d(relu(conv2d(x, weight, bias)), 2) in one pass (kernels/conv_fused.py), one group.

    Positional inputs: x, weight, bias (or None); padding explicit. `nn.Sequential` runs its
    Conv2d, ReLU, MaxPool2d(2) runs through this op (`ttrain.nn.fusion`); callers check
    `Conv2dReLUMaxPool.fusable` first.
    """

    @staticmethod
    def fusable(x: np.ndarray, weight: np.ndarray, groups: int) -> bool:
        """Whether the fused kernel takes these operands (`kernels/conv_fused.fusable`)."""
        from ttrain.autograd.kernels.conv_fused import fusable  # imports numba: on first use only

        return fusable(x, weight, groups)

    @staticmethod
    def forward(ctx, x, weight, bias, stride=1, padding=0, dilation=1):
        from ttrain.autograd.kernels.conv_fused import conv2d_relu_pool_forward

        y, at = conv2d_relu_pool_forward(x, weight, bias, stride, padding, dilation)
        ctx.save_for_backward(x, weight, at)
        ctx.window = (stride, padding, dilation)
        return y

    @staticmethod
    def backward(ctx, grad):
        from ttrain.autograd.kernels.conv_fused import conv2d_relu_pool_backward

        x, weight, at = ctx.saved_tensors
        return conv2d_relu_pool_backward(grad, x, weight, at, *ctx.window, needs=ctx.needs_input_grad)


class MaxPool2d(Function):
    """Maximum over each window of x (N, C, H, W); the gradient goes to the first maximum of each window."""

    @staticmethod
    def forward(ctx, x, kernel_size, stride=None, padding=0, dilation=1):
        from ttrain.autograd.kernels.pool import max_pool2d_forward

        y, indices = max_pool2d_forward(x, kernel_size, stride, padding, dilation)
        ctx.save_for_backward(indices)
        ctx.in_shape = x.shape
        return y

    @staticmethod
    def backward(ctx, grad):
        from ttrain.autograd.kernels.pool import max_pool2d_backward

        return max_pool2d_backward(grad, ctx.saved_tensors[0], ctx.in_shape)


class AvgPool2d(Function):
    """Mean over each window of x (N, C, H, W), dividing by the window size or by the real inputs it covers."""

    @staticmethod
    def forward(ctx, x, kernel_size, stride=None, padding=0, count_include_pad=True):
        from ttrain.autograd.kernels.pool import avg_pool2d_forward

        ctx.in_shape = x.shape
        ctx.window = (kernel_size, stride, padding, count_include_pad)
        return avg_pool2d_forward(x, kernel_size, stride, padding, count_include_pad)

    @staticmethod
    def backward(ctx, grad):
        from ttrain.autograd.kernels.pool import avg_pool2d_backward

        return avg_pool2d_backward(grad, ctx.in_shape, *ctx.window)


class ZeroPad(Function):
    """Zero padding of the trailing dimensions: `pads` is ((before, after), ...) for the last len(pads) axes."""

    @staticmethod
    def forward(ctx, x, pads):
        full = ((0, 0),) * (x.ndim - len(pads)) + tuple(pads)
        ctx.inside = tuple(slice(lo, lo + n) for (lo, _), n in zip(full, x.shape))
        return np.pad(x, full)

    @staticmethod
    def backward(ctx, grad):
        return grad[ctx.inside]


def same_padding(kernel: tuple[int, int], dilation: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
    """Per-axis (before, after) zero padding that keeps a stride-1 conv's output size, as PyTorch's "same".

    The total is dilation * (kernel - 1); an odd total puts the extra element after, as PyTorch does.
    """
    pads = []
    for k, d in zip(kernel, dilation):
        total = d * (k - 1)
        pads.append((total // 2, total - total // 2))
    return pads[0], pads[1]


class AdaptiveAvgPool2d(Function):
    """Average over the windows PyTorch's adaptive pooling uses: output cell i covers input rows
    floor(i * H / Ho) to ceil((i + 1) * H / Ho), and likewise for columns."""

    @staticmethod
    def forward(ctx, x, output_size):
        if x.ndim != 4:
            raise ShapeError(f"adaptive_avg_pool2d: expected an input of shape (N, C, H, W), got {x.shape}")
        h, w = x.shape[2:]
        ho, wo = output_size
        if ho < 1 or wo < 1:
            raise ValueError(f"adaptive_avg_pool2d: output_size must be positive, got {output_size}")
        ctx.in_shape = x.shape
        ctx.output_size = (ho, wo)
        if h % ho == 0 and w % wo == 0:
            # Equal, non-overlapping windows: one reshape and one mean.
            return x.reshape(*x.shape[:2], ho, h // ho, wo, w // wo).mean(axis=(3, 5))
        out = np.empty((*x.shape[:2], ho, wo), dtype=x.dtype)
        for i, rows in enumerate(_adaptive_windows(h, ho)):
            for j, cols in enumerate(_adaptive_windows(w, wo)):
                out[:, :, i, j] = x[:, :, rows, cols].mean(axis=(2, 3))
        return out

    @staticmethod
    def backward(ctx, grad):
        n, c, h, w = ctx.in_shape
        ho, wo = ctx.output_size
        if h % ho == 0 and w % wo == 0:
            kh, kw = h // ho, w // wo
            spread = np.broadcast_to((grad / (kh * kw))[:, :, :, None, :, None], (n, c, ho, kh, wo, kw))
            return spread.reshape(n, c, h, w)
        gx = np.zeros(ctx.in_shape, dtype=grad.dtype)
        for i, rows in enumerate(_adaptive_windows(h, ho)):
            for j, cols in enumerate(_adaptive_windows(w, wo)):
                area = (rows.stop - rows.start) * (cols.stop - cols.start)
                gx[:, :, rows, cols] += (grad[:, :, i, j] / area)[:, :, None, None]
        return gx


def _adaptive_windows(size: int, out: int) -> list[slice]:
    return [slice((i * size) // out, -(-(i + 1) * size // out)) for i in range(out)]

