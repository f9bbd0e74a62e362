"""The optimizers' update rules as pure functions of one parameter's arrays, as in torch.optim.

Each function updates `param` and its state arrays in place with torch's formula, in torch's order of
operations, doing the maths in the parameter's dtype (the scalars are cast to it first, into one
array that the kernels take as it is). The NumPy code here is the reference; `fused=True` runs the
Numba kernel of `ttrain.optim.fused` instead, which gives the same bits in one pass.
`fused=None` picks the kernel whenever the arrays allow it (C-contiguous float32/float64) and the JIT
is on.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

# With the JIT off the kernels run as Python loops: fine for tests, hopeless for training.
_JIT_DISABLED = os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0")
_kernel_module: Any = None


def _kernels() -> Any:
    global _kernel_module
    if _kernel_module is None:
        from ttrain.optim import fused  # imports numba: only on the first fused step

        _kernel_module = fused
    return _kernel_module


def _use_kernel(fused: bool | None, param: np.ndarray, *state: np.ndarray | None) -> bool:
    """Whether to run the Numba kernel: asked for (`True`), or chosen (`None`) where it applies."""
    if fused is False:
        return False
    ok = param.dtype.char in "fd" and param.flags.c_contiguous
    for a in state:
        if ok and a is not None:
            ok = a.flags.c_contiguous and a.dtype == param.dtype
    if fused is None:
        return ok and not _JIT_DISABLED
    if not ok:
        raise RuntimeError(
            f"fused=True needs C-contiguous float32 or float64 parameters and state, got a {param.dtype} "
            f"parameter of shape {param.shape}; use fused=None to fall back to NumPy"
        )
    return True


def _grad_for(param: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """The gradient as an array of the parameter's dtype and shape (C-contiguous, for the kernels)."""
    if grad.shape != param.shape:
        raise ValueError(f"gradient of shape {grad.shape} for a parameter of shape {param.shape}")
    if grad.dtype == param.dtype and grad.flags.c_contiguous:  # the usual case: nothing to convert
        return grad
    return np.asarray(grad, dtype=param.dtype, order="C")


def sgd_update(param: np.ndarray, grad: np.ndarray, momentum_buffer: np.ndarray | None, *, lr: float,
               momentum: float, dampening: float, weight_decay: float, nesterov: bool, maximize: bool,
               fused: bool | None = False) -> np.ndarray | None:
    """One SGD step; returns the momentum buffer (made on the first step), or None without momentum."""
    scalars = sgd_scalars(param.dtype, lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay)
    return sgd_step(param, grad, momentum_buffer, scalars, nesterov=nesterov, maximize=maximize, fused=fused)


def sgd_scalars(dtype: np.dtype, *, lr: float, momentum: float, dampening: float,
                weight_decay: float) -> np.ndarray:
    """SGD's options cast to `dtype`, in the order `sgd_step` (and its kernel) takes them."""
    return np.array((weight_decay, momentum, 1 - dampening, lr), dtype=dtype)


def sgd_step(param: np.ndarray, grad: np.ndarray, momentum_buffer: np.ndarray | None, scalars: np.ndarray, *,
             nesterov: bool, maximize: bool, fused: bool | None = False) -> np.ndarray | None:
    """`sgd_update` with its scalars already cast by `sgd_scalars` (an optimizer builds them once a step)."""
    grad = _grad_for(param, grad)
    # Branch on the cast values, as the kernel does, so both paths agree even for a tiny momentum.
    first = scalars[1] != 0 and momentum_buffer is None
    if first:
        momentum_buffer = np.empty(param.shape, dtype=param.dtype)
    if _use_kernel(fused, param, grad, momentum_buffer):
        _kernels().fused_sgd(param, grad, momentum_buffer, scalars, nesterov, maximize, first)
        return momentum_buffer
    wd, mom, one_minus_dampening, lr_ = scalars
    g = -grad if maximize else grad
    if wd != 0:
        g = g + wd * param
    if mom != 0:
        buf = momentum_buffer
        if first:
            buf[...] = g
        else:
            buf *= mom
            buf += one_minus_dampening * g
        g = g + mom * buf if nesterov else buf
    param -= lr_ * g
    return momentum_buffer


def adam_update(param: np.ndarray, grad: np.ndarray, exp_avg: np.ndarray, exp_avg_sq: np.ndarray,
                max_exp_avg_sq: np.ndarray | None, *, step: int, lr: float, beta1: float, beta2: float, eps: float,
                weight_decay: float, amsgrad: bool, maximize: bool, decoupled_weight_decay: bool = False,
                fused: bool | None = False) -> None:
    """One Adam step (AdamW with `decoupled_weight_decay`); `step` counts this step, from 1."""
    grad = _grad_for(param, grad)
    max_sq = max_exp_avg_sq if amsgrad else None
    # Step size and bias correction in double precision first, as torch computes them in Python.
    scalars = np.array((weight_decay, 1 - lr * weight_decay, 1 - beta1, beta2, 1 - beta2, (1 - beta2**step) ** 0.5,
                        eps, lr / (1 - beta1**step)), dtype=param.dtype)
    if _use_kernel(fused, param, grad, exp_avg, exp_avg_sq, max_sq):
        _kernels().fused_adam(param, grad, exp_avg, exp_avg_sq, max_sq, scalars, amsgrad, maximize,
                              decoupled_weight_decay)
        return
    wd, decay, one_minus_beta1, beta2_, one_minus_beta2, bias_correction2_sqrt, eps_, step_size = scalars
    g = -grad if maximize else grad
    if wd != 0:
        if decoupled_weight_decay:
            param *= decay
        else:
            g = g + wd * param
    exp_avg += one_minus_beta1 * (g - exp_avg)  # torch's lerp towards g
    exp_avg_sq *= beta2_
    exp_avg_sq += one_minus_beta2 * g * g
    second = np.maximum(max_sq, exp_avg_sq, out=max_sq) if amsgrad else exp_avg_sq
    denom = np.sqrt(second)
    denom /= bias_correction2_sqrt
    denom += eps_
    param -= step_size * exp_avg / denom


def rmsprop_update(param: np.ndarray, grad: np.ndarray, square_avg: np.ndarray, grad_avg: np.ndarray | None,
                   momentum_buffer: np.ndarray | None, *, lr: float, alpha: float, eps: float, weight_decay: float,
                   momentum: float, centered: bool, maximize: bool, fused: bool | None = False) -> None:
    """One RMSprop step; `grad_avg` is used when `centered`, `momentum_buffer` when `momentum > 0`."""
    grad = _grad_for(param, grad)
    grad_avg = grad_avg if centered else None
    buf = momentum_buffer if momentum > 0 else None
    scalars = np.array((lr, alpha, 1 - alpha, eps, weight_decay, momentum), dtype=param.dtype)
    if _use_kernel(fused, param, grad, square_avg, grad_avg, buf):
        _kernels().fused_rmsprop(param, grad, square_avg, grad_avg, buf, scalars, centered, maximize)
        return
    lr_, alpha_, one_minus_alpha, eps_, wd, mom = scalars
    g = -grad if maximize else grad
    if wd != 0:
        g = g + wd * param
    square_avg *= alpha_
    square_avg += one_minus_alpha * g * g
    if centered:
        grad_avg += one_minus_alpha * (g - grad_avg)
        avg = np.sqrt(square_avg - grad_avg * grad_avg)
    else:
        avg = np.sqrt(square_avg)
    avg += eps_
    if mom > 0:
        buf *= mom
        buf += g / avg
        param -= lr_ * buf
    else:
        param -= lr_ * g / avg


def adagrad_update(param: np.ndarray, grad: np.ndarray, state_sum: np.ndarray, *, step: int, lr: float,
                   lr_decay: float, weight_decay: float, eps: float, maximize: bool,
                   fused: bool | None = False) -> None:
    """One Adagrad step; `step` counts this step, from 1."""
    grad = _grad_for(param, grad)
    scalars = np.array((lr / (1 + (step - 1) * lr_decay), eps, weight_decay), dtype=param.dtype)
    if _use_kernel(fused, param, grad, state_sum):
        _kernels().fused_adagrad(param, grad, state_sum, scalars, maximize)
        return
    clr, eps_, wd = scalars
    g = -grad if maximize else grad
    if wd != 0:
        g = g + wd * param
    state_sum += g * g
    std = np.sqrt(state_sum)
    std += eps_
    param -= clr * g / std
