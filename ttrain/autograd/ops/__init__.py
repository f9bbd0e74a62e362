"""The differentiable ops: each a `Function` subclass with forward and backward side by side."""

from ttrain.autograd.ops import activation, arith, dims, errors, matmul, reduce, shape

__all__ = ["activation", "arith", "dims", "errors", "matmul", "reduce", "shape"]
