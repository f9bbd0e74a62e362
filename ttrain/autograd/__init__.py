"""The define-by-run autograd engine: Tensor, Function, backward, grad modes, gradcheck."""

from ttrain.autograd.anomaly import AnomalyError, detect_anomaly, is_anomaly_enabled
from ttrain.autograd.function import Function, unbroadcast
from ttrain.autograd.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from ttrain.autograd.gradcheck import GradcheckError, gradcheck
from ttrain.autograd.ops.errors import ShapeError
from ttrain.autograd.tensor import Tensor

__all__ = [
    "AnomalyError", "Function", "GradcheckError", "ShapeError", "Tensor", "detect_anomaly", "enable_grad", "gradcheck",
    "is_anomaly_enabled", "is_grad_enabled", "no_grad", "set_grad_enabled", "unbroadcast",
]
