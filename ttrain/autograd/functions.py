"""Free-function forms of the tensor ops (`ttrain.exp(x)`, `ttrain.cat([...])`, ...), as in PyTorch."""

from __future__ import annotations

from typing import Any, Sequence

from ttrain.autograd.ops import activation, arith
from ttrain.autograd.ops.shape import cat, gather, stack
from ttrain.autograd.tensor import Tensor


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def exp(x: Tensor) -> Tensor:
    """e ** x."""
    return _t(x).exp()


def log(x: Tensor) -> Tensor:
    """Natural logarithm."""
    return _t(x).log()


def sqrt(x: Tensor) -> Tensor:
    """Square root."""
    return _t(x).sqrt()


def neg(x: Tensor) -> Tensor:
    """-x."""
    return -_t(x)


def pow(x: Any, exponent: Any) -> Tensor:  # noqa: A001  (PyTorch's name)
    """x ** exponent (either may be a Python number)."""
    return arith.Pow.apply(x, exponent)


def abs(x: Tensor) -> Tensor:  # noqa: A001  (PyTorch's name)
    """Absolute value."""
    return _t(x).abs()


def clamp(x: Tensor, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
    """Limit values to [min, max]."""
    return _t(x).clamp(min, max)


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum."""
    return arith.Maximum.apply(a, b)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum."""
    return arith.Minimum.apply(a, b)


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """`a` where `condition` holds, else `b` (differentiable in `a` and `b`)."""
    return arith.Where.apply(condition, a, b)


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product, batched and broadcasting like `numpy.matmul`."""
    return _t(a) @ b


def sum(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """Sum over `dim`."""
    return _t(x).sum(dim, keepdim)


def mean(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Mean over `dim`."""
    return _t(x).mean(dim, keepdim)


def var(
    x: Tensor, dim: Any = None, unbiased: bool = True, keepdim: bool = False, *, correction: int | None = None
) -> Tensor:
    """Variance over `dim` (see `Tensor.var`)."""
    return _t(x).var(dim, unbiased, keepdim, correction=correction)


def std(
    x: Tensor, dim: Any = None, unbiased: bool = True, keepdim: bool = False, *, correction: int | None = None
) -> Tensor:
    """Standard deviation over `dim` (see `Tensor.std`)."""
    return _t(x).std(dim, unbiased, keepdim, correction=correction)


def max(x: Tensor, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001
    """Maximum of all elements, `(values, indices)` along `dim`, or `maximum(x, other)` for a tensor."""
    if isinstance(dim, Tensor):
        return maximum(x, dim)
    return _t(x).max(dim, keepdim)


def min(x: Tensor, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001
    """Minimum of all elements, `(values, indices)` along `dim`, or `minimum(x, other)` for a tensor."""
    if isinstance(dim, Tensor):
        return minimum(x, dim)
    return _t(x).min(dim, keepdim)


def argmax(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the maximum."""
    return _t(x).argmax(dim, keepdim)


def argmin(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the minimum."""
    return _t(x).argmin(dim, keepdim)


def reshape(x: Tensor, shape: Sequence[int]) -> Tensor:
    """Same data, new shape."""
    return _t(x).reshape(shape)


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions start_dim..end_dim."""
    return _t(x).flatten(start_dim, end_dim)


def squeeze(x: Tensor, dim: int | None = None) -> Tensor:
    """Drop size-1 dimensions."""
    return _t(x).squeeze(dim)


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dimension."""
    return _t(x).unsqueeze(dim)


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dimensions."""
    return _t(x).transpose(dim0, dim1)


def permute(x: Tensor, dims: Sequence[int]) -> Tensor:
    """Reorder dimensions."""
    return _t(x).permute(*dims)


def relu(x: Tensor) -> Tensor:
    """max(x, 0)."""
    return _t(x).relu()


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, else negative_slope * x."""
    return activation.LeakyReLU.apply(x, negative_slope=negative_slope)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) (Phi the normal CDF); `approximate="tanh"` uses the tanh formula."""
    return activation.GELU.apply(x, approximate=approximate)


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta * x)) / beta, linear where beta * x > threshold."""
    return activation.Softplus.apply(x, beta=beta, threshold=threshold)


def sigmoid(x: Tensor) -> Tensor:
    """Logistic sigmoid."""
    return _t(x).sigmoid()


def tanh(x: Tensor) -> Tensor:
    """Hyperbolic tangent."""
    return _t(x).tanh()


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """Softmax along `dim`."""
    return _t(x).softmax(dim)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """Log-softmax along `dim`."""
    return _t(x).log_softmax(dim)


__all__ = [
    "abs", "argmax", "argmin", "cat", "clamp", "exp", "flatten", "gather", "gelu", "leaky_relu", "log",
    "log_softmax", "matmul", "max", "maximum", "mean", "min", "minimum", "neg", "permute", "pow", "relu",
    "reshape", "sigmoid", "softmax", "softplus", "sqrt", "squeeze", "stack", "std", "sum", "tanh",
    "transpose", "unsqueeze", "var", "where",
]
