"""Fused optimizer updates: one pass over a parameter and its state instead of NumPy's many.

Each kernel mirrors, operation for operation, the NumPy reference in `ttrain.optim.functional`, so
both give the same bits: the scalars arrive in one array of the parameter's dtype (the maths stays in
float32 for float32 parameters, as in torch; one array also costs the dispatcher less than eight
scalars), nothing is reassociated and there is no fastmath. `error_model="numpy"` drops Python's
zero-division checks, which is what lets LLVM vectorise the loops (about 4x over the scalar loop).
Boolean options are ordinary arguments, so one compilation per dtype covers every option; an unused
state array is passed as an empty placeholder.

They live in `ttrain.optim`, not in the engine's private `autograd/kernels`, because they are the
optimizers' own: they touch no Tensor and no graph, only the arrays `ttrain.optim.functional` hands
them, and nothing outside `ttrain.optim` calls them. Importing this module imports numba, so
`functional` imports it on the first fused step only.

The public functions take arrays of any shape that are C-contiguous and share one float dtype, and
the scalars in the order their docstrings give.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from ttrain.autograd import compilation, parallel

compilation.watch()  # before any kernel of this module compiles

_jit = numba.njit(cache=True, error_model="numpy", nogil=True)
# No twins: while a kernel compiles in the background (kernels.cold_start), the public functions
# return False and `ttrain.optim.functional` takes its NumPy path, which gives the same bits.
_cold = compilation.background_kernel(None)


def _in_shares(kernel: Any, arrays: tuple[np.ndarray, ...], *options: Any) -> bool:
    """kernel(*arrays, *options) over shares of the flat `arrays` (the parameter first; an empty
    placeholder stays empty) on the kernel threads once they run, for a large parameter (a CNN's
    1.2M-weight layer: its update is elementwise, so the bits are the same); else one direct call,
    without the slices and the closure (a few microseconds a parameter, a good part of a small step).
    Returns False, having done nothing, while the kernel compiles in the background (`_cold`)."""
    if not kernel.ready(*arrays, *options):
        return False
    run = kernel.jitted
    size = arrays[0].size
    if parallel.splits(size, size):
        parallel.over_rows(size, size, lambda i, j: run(*[a[i:j] for a in arrays], *options))
    else:
        run(*arrays, *options)
    return True


@_cold
@_jit
def _sgd_kernel(param, grad, buf, scalars, nesterov, maximize, first):
    weight_decay, momentum, one_minus_dampening, lr = scalars[0], scalars[1], scalars[2], scalars[3]
    for i in range(param.size):
        g = grad[i]
        if maximize:
            g = -g
        if weight_decay != 0:
            g = g + weight_decay * param[i]
        if momentum != 0:
            if first:
                b = g
            else:
                b = buf[i] * momentum + one_minus_dampening * g
            buf[i] = b
            if nesterov:
                g = g + momentum * b
            else:
                g = b
        param[i] = param[i] - lr * g


@_cold
@_jit
def _adam_kernel(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, scalars, amsgrad, maximize, decoupled):
    weight_decay, decay, one_minus_beta1, beta2 = scalars[0], scalars[1], scalars[2], scalars[3]
    one_minus_beta2, bias_correction2_sqrt, eps, step_size = scalars[4], scalars[5], scalars[6], scalars[7]
    for i in range(param.size):
        g = grad[i]
        if maximize:
            g = -g
        p = param[i]
        if weight_decay != 0:
            if decoupled:
                p = p * decay
            else:
                g = g + weight_decay * p
        m = exp_avg[i] + one_minus_beta1 * (g - exp_avg[i])
        v = exp_avg_sq[i] * beta2 + (one_minus_beta2 * g) * g
        exp_avg[i] = m
        exp_avg_sq[i] = v
        if amsgrad:
            if v > max_exp_avg_sq[i] or v != v:  # a NaN propagates, as np.maximum does
                max_exp_avg_sq[i] = v
            v = max_exp_avg_sq[i]
        denom = np.sqrt(v) / bias_correction2_sqrt + eps
        param[i] = p - (step_size * m) / denom


@_cold
@_jit
def _rmsprop_kernel(param, grad, square_avg, grad_avg, buf, scalars, centered, maximize):
    lr, alpha, one_minus_alpha = scalars[0], scalars[1], scalars[2]
    eps, weight_decay, momentum = scalars[3], scalars[4], scalars[5]
    for i in range(param.size):
        g = grad[i]
        if maximize:
            g = -g
        if weight_decay != 0:
            g = g + weight_decay * param[i]
        s = square_avg[i] * alpha + (one_minus_alpha * g) * g
        square_avg[i] = s
        if centered:
            a = grad_avg[i] + one_minus_alpha * (g - grad_avg[i])
            grad_avg[i] = a
            avg = np.sqrt(s - a * a)
        else:
            avg = np.sqrt(s)
        avg = avg + eps
        if momentum > 0:
            b = buf[i] * momentum + g / avg
            buf[i] = b
            param[i] = param[i] - lr * b
        else:
            param[i] = param[i] - (lr * g) / avg


@_cold
@_jit
def _adagrad_kernel(param, grad, state_sum, scalars, maximize):
    clr, eps, weight_decay = scalars[0], scalars[1], scalars[2]
    for i in range(param.size):
        g = grad[i]
        if maximize:
            g = -g
        if weight_decay != 0:
            g = g + weight_decay * param[i]
        s = state_sum[i] + g * g
        state_sum[i] = s
        param[i] = param[i] - (clr * g) / (np.sqrt(s) + eps)


def _flat(array: np.ndarray | None, like: np.ndarray) -> np.ndarray:
    """A 1-D view of `array`, or an empty placeholder of `like`'s type for a state not in use."""
    return like[:0] if array is None else array.reshape(-1)


def fused_sgd(param: np.ndarray, grad: np.ndarray, buf: np.ndarray | None, scalars: np.ndarray, nesterov: bool,
              maximize: bool, first: bool) -> bool:
    """SGD in place on `param` and `buf`; scalars: weight_decay, momentum, 1 - dampening, lr.

    `first` fills `buf` with the gradient (torch's first momentum step). Returns False, having done
    nothing, while the kernel compiles in the background (`_cold`)."""
    p = param.reshape(-1)
    return _in_shares(_sgd_kernel, (p, grad.reshape(-1), _flat(buf, p)), scalars, nesterov, maximize, first)


def fused_adam(param: np.ndarray, grad: np.ndarray, exp_avg: np.ndarray, exp_avg_sq: np.ndarray,
               max_exp_avg_sq: np.ndarray | None, scalars: np.ndarray, amsgrad: bool, maximize: bool,
               decoupled: bool) -> bool:
    """Adam/AdamW in place on `param` and its moments; scalars: weight_decay, 1 - lr * weight_decay,
    1 - beta1, beta2, 1 - beta2, sqrt(bias correction 2), eps, step size (lr / bias correction 1).
    Returns False, having done nothing, while the kernel compiles in the background."""
    p = param.reshape(-1)
    arrays = (p, grad.reshape(-1), exp_avg.reshape(-1), exp_avg_sq.reshape(-1), _flat(max_exp_avg_sq, p))
    return _in_shares(_adam_kernel, arrays, scalars, amsgrad, maximize, decoupled)


def fused_rmsprop(param: np.ndarray, grad: np.ndarray, square_avg: np.ndarray, grad_avg: np.ndarray | None,
                  buf: np.ndarray | None, scalars: np.ndarray, centered: bool, maximize: bool) -> bool:
    """RMSprop in place on `param` and its state; scalars: lr, alpha, 1 - alpha, eps, weight_decay, momentum.
    Returns False, having done nothing, while the kernel compiles in the background."""
    p = param.reshape(-1)
    args = (p, grad.reshape(-1), square_avg.reshape(-1), _flat(grad_avg, p), _flat(buf, p), scalars, centered, maximize)
    if not _rmsprop_kernel.ready(*args):
        return False
    _rmsprop_kernel.jitted(*args)
    return True


def fused_adagrad(param: np.ndarray, grad: np.ndarray, state_sum: np.ndarray, scalars: np.ndarray,
                  maximize: bool) -> bool:
    """Adagrad in place on `param` and its sum of squared gradients; scalars: clr, eps, weight_decay.
    Returns False, having done nothing, while the kernel compiles in the background."""
    args = (param.reshape(-1), grad.reshape(-1), state_sum.reshape(-1), scalars, maximize)
    if not _adagrad_kernel.ready(*args):
        return False
    _adagrad_kernel.jitted(*args)
    return True
