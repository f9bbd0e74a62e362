"""Optimizers, learning-rate schedulers and gradient clipping, with PyTorch's names and contracts.

`step()` updates parameters in place through the pure functions of `ttrain.optim.functional`, fused
into the Numba updates of `ttrain.optim.fused` (loaded on the first step, not with the package) wherever
the arrays allow.
"""

from ttrain.optim import lr_scheduler
from ttrain.optim.adagrad import Adagrad
from ttrain.optim.adam import Adam, AdamW
from ttrain.optim.clip import clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm
from ttrain.optim.optimizer import Optimizer
from ttrain.optim.rmsprop import RMSprop
from ttrain.optim.sgd import SGD

__all__ = [
    "SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "clip_grad_norm_", "clip_grad_value_",
    "clip_grads_with_norm_", "get_total_norm", "lr_scheduler",
]
