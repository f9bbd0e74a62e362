"""Optimizers, learning-rate schedulers and gradient clipping, with PyTorch's names and contracts.

`step()` updates parameters in place through the pure functions of `ttrain.optim.functional`, fused
into the Numba updates of `ttrain.optim.fused` (loaded on the first step, not with the package) wherever
the arrays allow (SGD, Adam/AdamW, RMSprop, Adagrad; Adadelta, Adamax, NAdam and RAdam run in NumPy).
`LBFGS` takes a closure that re-evaluates the loss, as in PyTorch.
"""

from ttrain.optim import lr_scheduler
from ttrain.optim.adadelta import Adadelta
from ttrain.optim.adagrad import Adagrad
from ttrain.optim.adam import Adam, AdamW
from ttrain.optim.adamax import Adamax
from ttrain.optim.clip import clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm
from ttrain.optim.lbfgs import LBFGS
from ttrain.optim.nadam import NAdam, RAdam
from ttrain.optim.optimizer import Optimizer
from ttrain.optim.rmsprop import RMSprop
from ttrain.optim.sgd import SGD

__all__ = [
    "LBFGS", "SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "NAdam", "Optimizer", "RAdam",
    "RMSprop", "clip_grad_norm_", "clip_grad_value_",
    "clip_grads_with_norm_", "get_total_norm", "lr_scheduler",
]
