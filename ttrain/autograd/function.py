"""`Function`: one differentiable op, with its forward and backward side by side.

An instance of a Function subclass is both the `ctx` its static methods receive and the graph
node that the output tensor points back to.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ttrain.autograd.anomaly import ANOMALY, check_forward
from ttrain.autograd.grad_mode import STATE

_new_object = object.__new__


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum `grad` over the axes that broadcasting added or stretched, back to `shape`."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


class Function:
    """Base class of every op: subclass it and write `forward` and `backward` as static methods.

    `forward(ctx, *args, **kwargs)` receives NumPy arrays in place of tensors and returns one array.
    `backward(ctx, grad)` returns one gradient (or None) per positional input; only positional
    tensor arguments are differentiated. `ctx.needs_input_grad` says which inputs need one, and
    `ctx.parents` holds the inputs as given (tensors, not arrays) once the op is recorded.
    """

    __slots__ = ("parents", "needs_input_grad", "saved_tensors", "freed", "__dict__")

    def __init__(self) -> None:
        self.parents: tuple[Any, ...] = ()
        self.needs_input_grad: tuple[bool, ...] = ()
        self.saved_tensors: tuple[Any, ...] = ()
        self.freed = False

    def save_for_backward(self, *values: Any) -> None:
        """Keep the arrays `backward` needs; they are dropped when the graph is freed."""
        self.saved_tensors = values

    @staticmethod
    def forward(ctx: "Function", *args: Any, **kwargs: Any) -> np.ndarray:
        """Compute the output array from input arrays."""
        raise NotImplementedError

    @staticmethod
    def backward(ctx: "Function", grad: np.ndarray) -> Any:
        """Return the gradient for each positional input (None where none is needed)."""
        raise NotImplementedError

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> "Tensor":
        """Run the op on tensors (or plain values) and record it when a gradient is needed."""
        # The hot path of every op: keep it to one pass over the arguments and no extra calls.
        arrays = []
        needs = []
        for a in args:
            if isinstance(a, Tensor):
                arrays.append(a.data)
                needs.append(a.requires_grad)
            else:
                # A NumPy scalar becomes a Python one, which NumPy treats as "weak" like PyTorch
                # does: float32 * np.float64(2) stays float32.
                arrays.append(a.item() if isinstance(a, np.generic) else a)
                needs.append(False)
        ctx = _new_object(cls)  # skips __init__: `parents` and `freed` are only set on recorded nodes
        ctx.saved_tensors = ()
        ctx.needs_input_grad = needs = tuple(needs)
        out = cls.forward(ctx, *arrays, **kwargs)
        if ANOMALY.enabled:  # detect_anomaly(): the one test this path pays when it is off
            check_forward(cls, arrays, out)
        if True in needs and STATE.enabled:
            result = Tensor._wrap(out, True)
            ctx.parents = args
            ctx.freed = False
            result._ctx = ctx
            return result
        return Tensor._wrap(out, False)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}Backward>"


from ttrain.autograd.tensor import Tensor  # noqa: E402  (Tensor's methods call Function.apply)
