"""Module hooks: `register_forward_pre_hook`, `register_forward_hook`, `register_full_backward_hook`.

`Module.__call__` is nothing but the forward call: small networks are as fast as their per-call
overhead. So a module gets hook machinery only while it has hooks: registering the first one moves
it to a subclass of its own class (same name, same module) whose `__call__` runs them, and removing
the last one moves it back. Modules without hooks pay nothing, not even a test.

A full backward hook `hook(module, grad_input, grad_output)` sees the gradients of the module's
positional tensor inputs and of its outputs, as in PyTorch. They are caught by identity ops: the
inputs that need a gradient are packed into one tensor that passes through a tap before `forward`
sees them (so the tap's backward receives every input gradient at once and the hook may replace
them), and the outputs pass through another tap after `forward`.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable

import numpy as np

from ttrain.autograd.creation import from_numpy
from ttrain.autograd.function import Function
from ttrain.autograd.tensor import Tensor, unwrap
from ttrain.utils.hooks import RemovableHandle

_HOOKED_CLASSES: dict[type, type] = {}


class ModuleHooks:
    """One module's hooks by kind, each an ordered dict from handle id to `(hook, with_kwargs)`."""

    def __init__(self) -> None:
        self.forward_pre: OrderedDict[int, tuple[Callable[..., Any], bool]] = OrderedDict()
        self.forward: OrderedDict[int, tuple[Callable[..., Any], bool]] = OrderedDict()
        self.backward: OrderedDict[int, tuple[Callable[..., Any], bool]] = OrderedDict()

    def empty(self) -> bool:
        return not (self.forward_pre or self.forward or self.backward)


def add_hook(module: Any, kind: str, hook: Callable[..., Any], *, prepend: bool = False,
             with_kwargs: bool = False) -> RemovableHandle:
    """Register `hook` of `kind` ("forward_pre", "forward" or "backward") on `module`; returns its handle."""
    if not callable(hook):
        raise TypeError(f"a hook must be callable, not {type(hook).__name__}")
    hooks = module.__dict__.get("_hooks")
    if hooks is None:
        hooks = ModuleHooks()
        object.__setattr__(module, "_hooks", hooks)
    table = getattr(hooks, kind)
    handle = RemovableHandle(table, on_empty=lambda: _release(module))
    table[handle.id] = (hook, with_kwargs)
    if prepend:
        table.move_to_end(handle.id, last=False)
    cls = type(module)
    if cls not in _HOOKED_CLASSES.values():
        object.__setattr__(module, "__class__", _hooked_class(cls))
    return handle


def _release(module: Any) -> None:
    """Back to the module's own class once its last hook is removed."""
    hooks = module.__dict__.get("_hooks")
    if hooks is not None and hooks.empty() and type(module) in _HOOKED_CLASSES.values():
        object.__setattr__(module, "__class__", type(module).__bases__[0])


def _hooked_class(cls: type) -> type:
    """`cls` with a `__call__` that runs hooks, named as `cls` (repr, checkpoints and errors are unchanged)."""
    hooked = _HOOKED_CLASSES.get(cls)
    if hooked is None:
        hooked = type(cls.__name__, (cls,), {"__call__": call_with_hooks, "__module__": cls.__module__,
                                             "__qualname__": cls.__qualname__})
        _HOOKED_CLASSES[cls] = hooked
    return hooked


def call_with_hooks(module: Any, *args: Any, **kwargs: Any) -> Any:
    """`module(*args, **kwargs)` with its pre-hooks, forward hooks and backward hooks, in PyTorch's order."""
    hooks: ModuleHooks = module.__dict__["_hooks"]
    for hook, with_kwargs in list(hooks.forward_pre.values()):
        if with_kwargs:
            result = hook(module, args, kwargs)
            if result is not None:
                args, kwargs = result
        else:
            result = hook(module, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
    capture = _BackwardCapture(module, list(hooks.backward.values())) if hooks.backward else None
    if capture is not None:
        args = capture.tap_inputs(args)
    output = module.forward(*args, **kwargs)
    for hook, with_kwargs in list(hooks.forward.values()):
        result = hook(module, args, kwargs, output) if with_kwargs else hook(module, args, output)
        if result is not None:
            output = result
    if capture is not None:
        output = capture.tap_outputs(output)
    return output


def _needs_grad(value: Any) -> bool:
    return isinstance(value, Tensor) and value.requires_grad


class _Tap(Function):
    """Identity in forward; in backward hands the gradient to `on_grad`, which may replace it."""

    @staticmethod
    def forward(ctx, x, on_grad):
        ctx.on_grad = on_grad
        return x.view()

    @staticmethod
    def backward(ctx, grad):
        return ctx.on_grad(grad)


def _pack(tensors: list[Tensor], on_grad: Callable[[np.ndarray], np.ndarray]) -> list[Tensor]:
    """`tensors` passed through one tap together (flattened into one tensor and cut apart again)."""
    if len(tensors) == 1:
        return [_Tap.apply(tensors[0], on_grad=on_grad)]
    dtype = np.result_type(*(t.dtype for t in tensors))
    packed = _Tap.apply(_cat_flat(tensors, dtype), on_grad=on_grad)
    pieces, start = [], 0
    for t in tensors:
        piece = packed[start:start + t.data.size].reshape(t.shape)
        pieces.append(piece.to(t.dtype))
        start += t.data.size
    return pieces


def _cat_flat(tensors: list[Tensor], dtype: Any) -> Tensor:
    from ttrain.autograd.ops.shape import cat

    return cat([t.reshape(-1).to(dtype) for t in tensors])


def _unpack(grad: np.ndarray, tensors: list[Tensor]) -> list[np.ndarray]:
    """The packed gradient cut into one array per tensor, in each tensor's shape and dtype."""
    out, start = [], 0
    for t in tensors:
        out.append(grad.reshape(-1)[start:start + t.data.size].reshape(t.shape).astype(t.dtype, copy=False))
        start += t.data.size
    return out


class _BackwardCapture:
    """The gradients of one call of a module with full backward hooks, and the calls of those hooks."""

    def __init__(self, module: Any, hooks: list[tuple[Callable[..., Any], bool]]) -> None:
        self.module = module
        self.hooks = [hook for hook, _ in hooks]
        self.tensor_positions: list[int] = []  # the positional arguments that are tensors
        self.input_positions: list[int] = []
        self.inputs: list[Tensor] = []
        self.grad_output: tuple[Any, ...] = ()

    def tap_inputs(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        self.tensor_positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        self.input_positions = [i for i, a in enumerate(args) if _needs_grad(a)]
        self.inputs = [args[i] for i in self.input_positions]
        if not self.inputs:
            return args
        tapped = _pack(self.inputs, self._on_input_grad)
        args = list(args)
        for i, t in zip(self.input_positions, tapped):
            args[i] = t
        return tuple(args)

    def tap_outputs(self, output: Any) -> Any:
        outputs = list(output) if isinstance(output, (tuple, list)) else [output]
        positions = [i for i, o in enumerate(outputs) if _needs_grad(o)]
        if not positions:
            return output
        tensors = [outputs[i] for i in positions]

        def on_output_grad(grad: np.ndarray) -> np.ndarray:
            grads: list[Any] = [None] * len(outputs)
            for i, g in zip(positions, _unpack(grad, tensors)):
                grads[i] = from_numpy(np.asarray(g))
            self.grad_output = tuple(grads)
            if not self.inputs:  # nothing upstream needs a gradient: the hooks run now
                self._call_hooks((None,) * len(self.tensor_positions))
            return grad

        for i, t in zip(positions, _pack(tensors, on_output_grad)):
            outputs[i] = t
        if isinstance(output, (tuple, list)):
            return type(output)(outputs)
        return outputs[0]

    def _on_input_grad(self, grad: np.ndarray) -> np.ndarray:
        grads = dict(zip(self.input_positions, _unpack(grad, self.inputs)))
        grad_input = tuple(from_numpy(np.asarray(grads[i])) if i in grads else None for i in self.tensor_positions)
        replaced = self._call_hooks(grad_input)
        if replaced is None:
            return grad
        slot = {position: k for k, position in enumerate(self.tensor_positions)}
        new = [np.asarray(unwrap(replaced[slot[i]]), dtype=t.dtype).reshape(-1)
               for i, t in zip(self.input_positions, self.inputs)]
        return np.concatenate(new).astype(grad.dtype, copy=False).reshape(grad.shape)

    def _call_hooks(self, grad_input: tuple[Any, ...]) -> tuple[Any, ...] | None:
        replaced = None
        for hook in self.hooks:
            result = hook(self.module, grad_input if replaced is None else replaced, self.grad_output)
            if result is not None:
                replaced = tuple(result)
        return replaced
