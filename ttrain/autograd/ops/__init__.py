"""The differentiable ops: each a `Function` subclass with forward and backward side by side."""

from ttrain.autograd.ops import activation, arith, matmul, reduce, shape

__all__ = ["activation", "arith", "matmul", "reduce", "shape"]
