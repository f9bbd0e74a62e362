"""Reverse-mode differentiation: walk the recorded graph from one tensor back to the leaves."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ttrain.autograd.grad_mode import no_grad

if TYPE_CHECKING:
    from ttrain.autograd.tensor import Tensor


def _topological_order(root: "Tensor") -> list["Tensor"]:
    """Tensors reachable from `root` that need a gradient, each after everything it depends on.

    Iterative depth-first search, so a chain 10,000 ops deep needs no recursion.
    """
    order: list[Tensor] = []
    seen: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        tensor, done = stack.pop()
        if done:
            order.append(tensor)
            continue
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        stack.append((tensor, True))
        ctx = tensor._ctx
        if ctx is not None:
            for parent, needs in zip(ctx.parents, ctx.needs_input_grad):
                if needs and id(parent) not in seen:
                    stack.append((parent, False))
    return order


def _accumulate_leaf(tensor: "Tensor", grad: np.ndarray, handed_out: set[int]) -> None:
    """Add `grad` into `tensor.grad`, never aliasing an array another tensor also holds."""
    from ttrain.autograd.tensor import Tensor

    if grad.dtype != tensor.data.dtype:
        grad = grad.astype(tensor.data.dtype)
    if tensor.grad is None:
        if id(grad) in handed_out or not grad.flags.owndata or not grad.flags.writeable:
            grad = grad.copy()
        handed_out.add(id(grad))
        tensor.grad = Tensor._wrap(grad, False)
    else:
        tensor.grad.data = tensor.grad.data + grad


def run_backward(root: "Tensor", grad: np.ndarray, retain_graph: bool = False) -> None:
    """Compute d(root)/d(leaf) for every leaf that requires a gradient, seeded with `grad`."""
    order = _topological_order(root)
    grads: dict[int, np.ndarray] = {id(root): grad}
    handed_out: set[int] = set()
    with no_grad():
        for tensor in reversed(order):
            g = grads.pop(id(tensor), None)
            if g is None:
                continue
            ctx = tensor._ctx
            if ctx is None or tensor._retains_grad:
                _accumulate_leaf(tensor, g, handed_out)
            if ctx is None:
                continue
            if ctx.freed:
                raise RuntimeError(
                    f"backward through {type(ctx).__name__} a second time: its graph was freed by "
                    "the first backward(); pass retain_graph=True to the first call to keep it"
                )
            input_grads = ctx.backward(ctx, g)
            if not isinstance(input_grads, tuple):
                input_grads = (input_grads,)
            for parent, needs, pg in zip(ctx.parents, ctx.needs_input_grad, input_grads):
                if not needs or pg is None:
                    continue
                if pg.shape != parent.data.shape:
                    raise RuntimeError(
                        f"{type(ctx).__name__}.backward returned a gradient of shape {pg.shape} "
                        f"for an input of shape {parent.data.shape}"
                    )
                key = id(parent)
                previous = grads.get(key)
                grads[key] = pg if previous is None else previous + pg
            if not retain_graph:
                ctx.saved_tensors = ()
                ctx.__dict__.clear()
                ctx.freed = True
