"""Argument checks and output shapes for the 2-D sliding-window ops (convolution and pooling).

Plain Python, no Numba: the kernels, their NumPy references and the layers share these, so every
entry point rejects bad input with the same message. It sits beside the engine rather than inside the
private `kernels` package so that `ttrain.nn` may import it too.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ttrain.autograd.ops.errors import ShapeError

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

IntPair = int | tuple[int, int]


def pair(value: IntPair, name: str, op: str, minimum: int) -> tuple[int, int]:
    """`value` as an (h, w) pair of ints (an int counts for both), each at least `minimum`."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        result = (int(value), int(value))
    elif (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value)
    ):
        result = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if min(result) < minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {value!r}")
    return result


def output_length(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Number of window positions along one axis (PyTorch's formula, floor mode)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


class Window2d(NamedTuple):
    """Kernel size, stride, padding and dilation of a 2-D sliding window, per axis."""

    kh: int
    kw: int
    sh: int
    sw: int
    ph: int
    pw: int
    dh: int
    dw: int

    def output_hw(self, h: int, w: int) -> tuple[int, int]:
        """Output height and width for an input plane of h x w."""
        return (
            output_length(h, self.kh, self.sh, self.ph, self.dh),
            output_length(w, self.kw, self.sw, self.pw, self.dw),
        )


def window2d(op: str, kernel: IntPair, stride: IntPair, padding: IntPair, dilation: IntPair) -> Window2d:
    """Validate and normalize the window arguments of `op`."""
    kh, kw = pair(kernel, "kernel_size", op, 1)
    sh, sw = pair(stride, "stride", op, 1)
    ph, pw = pair(padding, "padding", op, 0)
    dh, dw = pair(dilation, "dilation", op, 1)
    return Window2d(kh, kw, sh, sw, ph, pw, dh, dw)


def check_float_array(op: str, name: str, a: np.ndarray, ndim: int) -> None:
    """`a` must be a float32/float64 ndarray with `ndim` dimensions."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{op}: {name} must be a numpy array, got {type(a).__name__}")
    if a.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{op}: {name} must be float32 or float64, got {a.dtype}")
    if a.ndim != ndim:
        raise ShapeError(f"{op}: {name} must have {ndim} dimensions, got shape {a.shape}")


def check_output_hw(op: str, x_shape: tuple[int, ...], win: Window2d) -> tuple[int, int]:
    """Output (height, width) for input `x_shape` (N, C, H, W); an error if it would be empty."""
    ho, wo = win.output_hw(x_shape[2], x_shape[3])
    if ho < 1 or wo < 1:
        eff = ((win.kh - 1) * win.dh + 1, (win.kw - 1) * win.dw + 1)
        raise ShapeError(
            f"{op}: input {tuple(x_shape)} padded by {(win.ph, win.pw)} is smaller than the "
            f"(dilated) kernel {eff}: the output would be empty"
        )
    return ho, wo


class Conv2dShape(NamedTuple):
    """Everything a conv2d kernel needs to know about its operands' shapes."""

    n: int
    c: int
    h: int
    w: int
    o: int
    groups: int
    ho: int
    wo: int
    win: Window2d

    @property
    def c_group(self) -> int:
        """Input channels per group."""
        return self.c // self.groups

    @property
    def o_group(self) -> int:
        """Output channels per group."""
        return self.o // self.groups

    @property
    def k_group(self) -> int:
        """Length of one group's reduction: input channels per group x kernel taps."""
        return self.c_group * self.win.kh * self.win.kw


def conv2d_shape(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    stride: IntPair,
    padding: IntPair,
    dilation: IntPair,
    groups: int,
    op: str = "conv2d",
) -> Conv2dShape:
    """Validate conv2d operands (PyTorch layouts) and return their shapes."""
    check_float_array(op, "input", x, 4)
    check_float_array(op, "weight", weight, 4)
    if weight.dtype != x.dtype:
        raise TypeError(f"{op}: input is {x.dtype} but weight is {weight.dtype}")
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    groups = int(groups)
    n, c, h, w = x.shape
    o, c_group, kh, kw = weight.shape
    if o % groups:
        raise ShapeError(f"{op}: weight {weight.shape} has {o} output channels, not divisible by groups={groups}")
    if c != c_group * groups:
        raise ShapeError(
            f"{op}: input {x.shape} has {c} channels but weight {weight.shape} with groups={groups} "
            f"expects {c_group * groups}"
        )
    if bias is not None:
        check_float_array(op, "bias", bias, 1)
        if bias.dtype != x.dtype:
            raise TypeError(f"{op}: input is {x.dtype} but bias is {bias.dtype}")
        if bias.shape != (o,):
            raise ShapeError(f"{op}: bias {bias.shape} does not match weight {weight.shape}: expected ({o},)")
    win = window2d(op, (kh, kw), stride, padding, dilation)
    ho, wo = check_output_hw(op, x.shape, win)
    return Conv2dShape(n, c, h, w, o, groups, ho, wo, win)


def pool2d_window(
    op: str,
    input_shape: tuple[int, ...],
    kernel_size: IntPair,
    stride: IntPair | None,
    padding: IntPair,
    dilation: IntPair = 1,
) -> tuple[Window2d, int, int]:
    """Validate pooling arguments for an (N, C, H, W) input; returns the window and output (H, W).

    `stride=None` means stride = kernel size, as in PyTorch. Padding may be at most half the
    kernel, as PyTorch requires, so that every window holds at least one input element.
    """
    if len(input_shape) != 4:
        raise ShapeError(f"{op}: input must have 4 dimensions (N, C, H, W), got shape {tuple(input_shape)}")
    win = window2d(op, kernel_size, kernel_size if stride is None else stride, padding, dilation)
    if win.ph > win.kh // 2 or win.pw > win.kw // 2:
        raise ValueError(
            f"{op}: padding {(win.ph, win.pw)} must be at most half the kernel size {(win.kh, win.kw)}"
        )
    ho, wo = check_output_hw(op, input_shape, win)
    return win, ho, wo
