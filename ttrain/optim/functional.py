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
    # The kernels return False, having done nothing, while they compile in the background (a first
    # run; kernels.cold_start): NumPy does the step then, with the same bits.
    if _use_kernel(fused, param, grad, momentum_buffer) and _kernels().fused_sgd(
            param, grad, momentum_buffer, scalars, nesterov, maximize, first):
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
    if _use_kernel(fused, param, grad, exp_avg, exp_avg_sq, max_sq) and _kernels().fused_adam(
            param, grad, exp_avg, exp_avg_sq, max_sq, scalars, amsgrad, maximize, decoupled_weight_decay):
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
    if _use_kernel(fused, param, grad, square_avg, grad_avg, buf) and _kernels().fused_rmsprop(
            param, grad, square_avg, grad_avg, buf, scalars, centered, maximize):
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
    if _use_kernel(fused, param, grad, state_sum) and _kernels().fused_adagrad(param, grad, state_sum, scalars,
                                                                                maximize):
        return
    clr, eps_, wd = scalars
    g = -grad if maximize else grad
    if wd != 0:
        g = g + wd * param
    state_sum += g * g
    std = np.sqrt(state_sum)
    std += eps_
    param -= clr * g / std


# ---- optimizers without a fused kernel: NumPy only, in torch's order of operations ----------------
def _signed_decayed(param: np.ndarray, grad: np.ndarray, weight_decay: float, maximize: bool) -> np.ndarray:
    """The gradient as the update rules use it: negated to maximise, plus `weight_decay * param` (L2)."""
    g = -grad if maximize else grad
    return g + param.dtype.type(weight_decay) * param if weight_decay != 0 else g


def adadelta_update(param: np.ndarray, grad: np.ndarray, square_avg: np.ndarray, acc_delta: np.ndarray, *,
                    lr: float, rho: float, eps: float, weight_decay: float, maximize: bool) -> None:
    """One Adadelta step: the step size is the ratio of two running RMS, of updates and of gradients."""
    g = _signed_decayed(param, _grad_for(param, grad), weight_decay, maximize)
    rho_, one_minus_rho, eps_, lr_ = np.array((rho, 1 - rho, eps, lr), dtype=param.dtype)
    square_avg *= rho_
    square_avg += one_minus_rho * g * g
    delta = np.sqrt(acc_delta + eps_) / np.sqrt(square_avg + eps_) * g
    acc_delta *= rho_
    acc_delta += one_minus_rho * delta * delta
    param -= lr_ * delta


def adamax_update(param: np.ndarray, grad: np.ndarray, exp_avg: np.ndarray, exp_inf: np.ndarray, *, step: int,
                  lr: float, beta1: float, beta2: float, eps: float, weight_decay: float, maximize: bool) -> None:
    """One Adamax step (Adam with the infinity norm); `step` counts this step, from 1."""
    g = _signed_decayed(param, _grad_for(param, grad), weight_decay, maximize)
    one_minus_beta1, beta2_, eps_, clr = np.array((1 - beta1, beta2, eps, lr / (1 - beta1**step)), dtype=param.dtype)
    exp_avg += one_minus_beta1 * (g - exp_avg)
    np.maximum(exp_inf * beta2_, np.abs(g) + eps_, out=exp_inf)
    param -= clr * exp_avg / exp_inf


def nadam_update(param: np.ndarray, grad: np.ndarray, exp_avg: np.ndarray, exp_avg_sq: np.ndarray, *, step: int,
                 mu_product: float, lr: float, beta1: float, beta2: float, eps: float, weight_decay: float,
                 momentum_decay: float, decoupled_weight_decay: bool, maximize: bool) -> float:
    """One NAdam step (Adam with Nesterov momentum and a momentum schedule); returns the new `mu_product`."""
    grad = _grad_for(param, grad)
    if decoupled_weight_decay and weight_decay != 0:
        param *= param.dtype.type(1 - lr * weight_decay)
        weight_decay = 0
    g = _signed_decayed(param, grad, weight_decay, maximize)
    mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
    mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
    mu_product *= mu
    one_minus_beta1, beta2_, one_minus_beta2, bias_correction2, eps_, grad_step, avg_step = np.array(
        (1 - beta1, beta2, 1 - beta2, 1 - beta2**step, eps, lr * (1.0 - mu) / (1.0 - mu_product),
         lr * mu_next / (1.0 - mu_product * mu_next)), dtype=param.dtype)
    exp_avg += one_minus_beta1 * (g - exp_avg)
    exp_avg_sq *= beta2_
    exp_avg_sq += one_minus_beta2 * g * g
    denom = np.sqrt(exp_avg_sq / bias_correction2) + eps_
    param -= grad_step * g / denom
    param -= avg_step * exp_avg / denom
    return mu_product


def radam_update(param: np.ndarray, grad: np.ndarray, exp_avg: np.ndarray, exp_avg_sq: np.ndarray, *, step: int,
                 lr: float, beta1: float, beta2: float, eps: float, weight_decay: float,
                 decoupled_weight_decay: bool, maximize: bool) -> None:
    """One RAdam step: Adam whose adaptive term is switched on, rectified, once its variance is tractable."""
    grad = _grad_for(param, grad)
    if decoupled_weight_decay and weight_decay != 0:
        param *= param.dtype.type(1 - lr * weight_decay)
        weight_decay = 0
    g = _signed_decayed(param, grad, weight_decay, maximize)
    one_minus_beta1, beta2_, one_minus_beta2 = np.array((1 - beta1, beta2, 1 - beta2), dtype=param.dtype)
    exp_avg += one_minus_beta1 * (g - exp_avg)
    exp_avg_sq *= beta2_
    exp_avg_sq += one_minus_beta2 * g * g
    bias_correction1, bias_correction2 = 1 - beta1**step, 1 - beta2**step
    corrected = exp_avg / param.dtype.type(bias_correction1)
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
    if rho_t > 5.0:  # the variance of the adaptive learning rate is tractable: rectify it
        rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
        adaptive_lr = param.dtype.type(bias_correction2**0.5) / (np.sqrt(exp_avg_sq) + param.dtype.type(eps))
        param -= corrected * param.dtype.type(lr) * adaptive_lr * param.dtype.type(rect)
    else:
        param -= corrected * param.dtype.type(lr)
