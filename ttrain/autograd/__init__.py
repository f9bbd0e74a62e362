"""The define-by-run autograd engine: Tensor, Function, backward, grad modes, gradcheck.

Besides the engine, two NumPy-level helpers are public for code that turns saved model outputs into
probabilities without building a graph: `log_softmax_array` and `stable_sigmoid`.
"""

from ttrain.autograd.anomaly import AnomalyError, detect_anomaly, is_anomaly_enabled
from ttrain.autograd.function import Function, unbroadcast
from ttrain.autograd.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from ttrain.autograd.gradcheck import GradcheckError, gradcheck
from ttrain.autograd.ops.activation import log_softmax_array, stable_sigmoid
from ttrain.autograd.ops.errors import ShapeError
from ttrain.autograd.tensor import Tensor

__all__ = [
    "AnomalyError", "Function", "GradcheckError", "ShapeError", "Tensor", "detect_anomaly", "enable_grad", "gradcheck",
    "is_anomaly_enabled", "is_grad_enabled", "log_softmax_array", "no_grad", "set_grad_enabled", "stable_sigmoid",
    "unbroadcast",
]
