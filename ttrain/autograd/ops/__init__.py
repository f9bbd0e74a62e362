"""The differentiable ops: each a `Function` subclass with forward and backward side by side."""

from ttrain.autograd.ops import activation, arith, dims, einsum, errors, logic, matmul, reduce, select, shape

__all__ = ["activation", "arith", "dims", "einsum", "errors", "logic", "matmul", "reduce", "select", "shape"]
