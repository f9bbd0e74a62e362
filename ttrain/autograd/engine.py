"""Reverse-mode differentiation: walk the recorded graph from one tensor back to the leaves."""

from __future__ import annotations

import numpy as np

from ttrain.autograd.anomaly import ANOMALY, check_backward
from ttrain.autograd.grad_mode import STATE
from ttrain.autograd.tensor import Tensor  # engine is first imported by Tensor.backward, after tensor.py
from ttrain.autograd.tensor_hooks import HOOKS, run_hooks


def _tree_order(root: "Tensor") -> list["Tensor"] | None:
    """Tensors reachable from `root` that need a gradient, each after every op that consumes it, when
    each tensor feeds one op only (a chain of layers, each parameter used once: the usual model);
    None as soon as a tensor is reached twice.

    In such a tree each tensor has one consumer, which a pre-order walk visits first, so the walk
    itself is the order: no second pass, no per-node marker tuples.
    """
    order: list[Tensor] = []
    seen: set[int] = set()
    stack = [root]
    while stack:
        tensor = stack.pop()
        order.append(tensor)
        ctx = tensor._ctx
        if ctx is None:
            continue
        for parent, needs in zip(ctx.parents, ctx.needs_input_grad):
            if needs:
                key = id(parent)
                if key in seen:
                    return None
                seen.add(key)
                stack.append(parent)
    return order


def _topological_order(root: "Tensor") -> list["Tensor"]:
    """Tensors reachable from `root` that need a gradient, each after every op that consumes it.

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
        ctx = tensor._ctx
        if ctx is None:  # a leaf depends on nothing
            order.append(tensor)
            continue
        stack.append((tensor, True))
        for parent, needs in zip(ctx.parents, ctx.needs_input_grad):
            if needs and id(parent) not in seen:
                stack.append((parent, False))
    order.reverse()
    return order


def _accumulate(tensor: "Tensor", grad: np.ndarray, handed_out: set[int]) -> None:
    """Add `grad` into `tensor.grad`; a new `.grad` owns its array, shared with no other tensor."""
    if tensor.grad is None:
        # Ops return fresh arrays, views (reshape, sum's broadcast) or the incoming array itself
        # (add): copy all but a fresh array that no other tensor has been given yet.
        if id(grad) in handed_out or not grad.flags.owndata or not grad.flags.writeable:
            grad = grad.copy()
        handed_out.add(id(grad))
        tensor.grad = Tensor._wrap(grad, False)
    else:
        tensor.grad.data = tensor.grad.data + grad


def _free(ctx: object) -> None:
    """Drop what a node holds for backward (saved arrays, inputs), keeping a mark that it is gone."""
    ctx.saved_tensors = ()
    ctx.parents = ()
    ctx.__dict__.clear()
    ctx.freed = True


def run_backward(root: "Tensor", grad: np.ndarray, retain_graph: bool = False) -> None:
    """Accumulate d(root)/d(leaf) into the `.grad` of every leaf that requires one, seeded with `grad`.

    `grad` must be an array no one else holds. Each node's gradients are cast to its inputs' dtypes,
    as PyTorch's engine does. Without `retain_graph` every node visited is freed. Inside
    `detect_anomaly` a node whose backward returns a NaN or infinity raises `AnomalyError`.
    """
    check_anomalies = ANOMALY.enabled  # read once: off, it costs one local test per node
    hooked = bool(HOOKS)  # Tensor.register_hook anywhere: likewise one local test per node when off
    order = _tree_order(root) or _topological_order(root)
    grads: dict[int, np.ndarray] = {id(root): grad}
    handed_out: set[int] = set()
    was_enabled, STATE.enabled = STATE.enabled, False  # record nothing (a no_grad block, minus its object)
    try:
        for tensor in order:
            g = grads.pop(id(tensor), None)
            if g is None:
                continue
            if hooked and id(tensor) in HOOKS:
                g = run_hooks(tensor, g)
            ctx = tensor._ctx
            if ctx is None:
                _accumulate(tensor, g, handed_out)
                continue
            if ctx.freed:
                raise RuntimeError(
                    f"backward through {type(ctx).__name__} a second time: its graph was freed by "
                    "the first backward(); pass retain_graph=True to the first call to keep it"
                )
            if tensor._retains_grad:
                _accumulate(tensor, g, handed_out)
            input_grads = ctx.backward(ctx, g)
            if type(input_grads) is not tuple:
                input_grads = tuple(input_grads) if isinstance(input_grads, list) else (input_grads,)
            if check_anomalies:
                check_backward(ctx, g, input_grads)
            parents = ctx.parents
            if len(input_grads) != len(parents):
                raise RuntimeError(
                    f"{type(ctx).__name__}.backward returned {len(input_grads)} gradients for "
                    f"{len(parents)} inputs"
                )
            for parent, needs, pg in zip(parents, ctx.needs_input_grad, input_grads):
                if not needs or pg is None:
                    continue
                data = parent.data
                if pg.shape != data.shape:
                    raise RuntimeError(
                        f"{type(ctx).__name__}.backward returned a gradient of shape {pg.shape} "
                        f"for an input of shape {data.shape}"
                    )
                if pg.dtype != data.dtype:
                    pg = pg.astype(data.dtype)
                key = id(parent)
                earlier = grads.get(key)
                grads[key] = pg if earlier is None else earlier + pg
            if not retain_graph:
                _free(ctx)
    finally:
        STATE.enabled = was_enabled
