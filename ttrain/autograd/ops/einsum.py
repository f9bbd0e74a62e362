"""`einsum`: Einstein summation over any number of operands, differentiable in each.

The equation is first written out in full (`...` replaced by letters, the implicit output made
explicit), so the gradient of operand i is one more einsum: the output gradient contracted with
every other operand into operand i's subscripts. Two cases need care: a letter only operand i has
(summed away, so its gradient is broadcast back along it), and a letter repeated within operand i
(a diagonal: the gradient is written into the diagonal view that `numpy.einsum` returns).
"""

from __future__ import annotations

import string
from typing import Any

import numpy as np

from ttrain.autograd.function import Function, unbroadcast

_LETTERS = string.ascii_letters


def _normalise(equation: str, ndims: list[int]) -> tuple[list[str], str]:
    """Each operand's subscripts and the output's, with ellipses expanded and the output explicit."""
    equation = equation.replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    inputs = lhs.split(",")
    if len(inputs) != len(ndims):
        raise ValueError(f"einsum: the equation {equation!r} has {len(inputs)} operands, {len(ndims)} were given")
    used = set(equation) - set(".,->")
    spare = [c for c in _LETTERS if c not in used]
    ellipsis_dims = 0
    for subs, ndim in zip(inputs, ndims):
        named = len(subs.replace("...", ""))
        if "..." in subs:
            ellipsis_dims = max(ellipsis_dims, ndim - named)
        elif named != ndim:
            raise ValueError(f"einsum: subscripts {subs!r} name {named} dimensions of an operand with {ndim}")
    broadcast = "".join(spare[:ellipsis_dims])
    expanded = []
    for subs, ndim in zip(inputs, ndims):
        if "..." in subs:
            own = ndim - len(subs.replace("...", ""))
            subs = subs.replace("...", broadcast[ellipsis_dims - own:] if own else "")
        expanded.append(subs)
    if arrow:
        output = rhs.replace("...", broadcast)
    else:  # NumPy's and PyTorch's rule: the letters used once, in alphabetical order, after the ellipsis
        counts = {c: "".join(expanded).count(c) for c in set("".join(expanded))}
        output = broadcast + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in broadcast))
    return expanded, output


class Einsum(Function):
    @staticmethod
    def forward(ctx, *operands, inputs, output):
        ctx.subscripts = (inputs, output)
        ctx.save_for_backward(*operands)
        try:
            return np.asarray(np.einsum(",".join(inputs) + "->" + output, *operands, optimize=len(operands) > 2))
        except ValueError as e:
            shapes = ", ".join(str(np.shape(a)) for a in operands)
            raise ValueError(f"einsum: {e} (equation {','.join(inputs)}->{output}, shapes {shapes})") from None

    @staticmethod
    def backward(ctx, grad):
        inputs, output = ctx.subscripts
        operands = ctx.saved_tensors
        grads = []
        for i, (subs, operand) in enumerate(zip(inputs, operands)):
            if not ctx.needs_input_grad[i]:
                grads.append(None)
                continue
            others = [(s, a) for j, (s, a) in enumerate(zip(inputs, operands)) if j != i]
            available = set(output).union(*(set(s) for s, _ in others))
            distinct = "".join(dict.fromkeys(subs))  # each letter once, in order
            reachable = "".join(c for c in distinct if c in available)
            terms = [output] + [s for s, _ in others]
            g = np.einsum(",".join(terms) + "->" + reachable, grad, *(a for _, a in others),
                          optimize=len(terms) > 2)
            sizes = {c: n for c, n in zip(subs, np.shape(operand))}
            # letters only this operand has were summed away: the gradient is constant along them
            g = np.expand_dims(g, tuple(k for k, c in enumerate(distinct) if c not in available)) if len(
                reachable) < len(distinct) else g
            g = unbroadcast(np.broadcast_to(g, [max(sizes[c], g.shape[k]) for k, c in enumerate(distinct)]),
                            tuple(sizes[c] for c in distinct))
            if len(distinct) < len(subs):  # a repeated letter: only the diagonal gets a gradient
                full = np.zeros(np.shape(operand), dtype=grad.dtype)
                np.einsum(subs + "->" + distinct, full)[...] = g
                g = full
            grads.append(np.ascontiguousarray(g, dtype=grad.dtype))
        return tuple(grads)


def einsum(equation: str, *operands: Any) -> Any:
    """Einstein summation, e.g. `einsum("bij,bjk->bik", a, b)`; operands also as one list."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    from ttrain.autograd.tensor import ensure_tensor

    tensors = [ensure_tensor(t) for t in operands]
    inputs, output = _normalise(equation, [t.ndim for t in tensors])
    return Einsum.apply(*tensors, inputs=inputs, output=output)
