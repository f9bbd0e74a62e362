"""Every tensor op's public forms, generated from one table.

An op can be published in three places: as a `Tensor` method (`x.exp()`), as a top-level function
(`ttrain.exp(x)`, listed in `ttrain.__all__` through `ttrain.autograd.functions`), and in
`ttrain.nn.functional` (`F.relu`). `OPS` says which, one row per public name; the `@public` decorator
on the one function that implements the op adds its rows, so adding an op touches its `Function`
class, one decorated function here and one test.

Speed, since these are the engine's hot path: a method and an `nn.functional` form *are* the
implementation function (set on `Tensor` when the engine loads), so `x.exp()` and the `F.relu` inside
every `nn.ReLU` cost one Python call, as the hand-written forms did. The top-level function is that
same function too, except for ops marked `tensor_first`: `ttrain.exp(2.0)` first turns its plain
first argument into a tensor as `ttrain.tensor` does (float32), which a method never needs. Ops that
take plain values in any position (`pow`, `where`, `maximum`, `cat`, ...) leave them to
`Function.apply`, which keeps NumPy's weak Python scalars.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ttrain.autograd.ops import logic as _logic
from ttrain.autograd.ops import select as _select
from ttrain.autograd.ops.activation import GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Softplus, Tanh
from ttrain.autograd.ops.arith import (
    Abs, Add, Clamp, Cos, Div, Exp, Log, Log1p, Maximum, Minimum, Mul, Neg, Pow, Sin, Sqrt, Step, Sub, Where,
)
from ttrain.autograd.ops.einsum import einsum as _einsum
from ttrain.autograd.ops.errors import ShapeError
from ttrain.autograd.ops.matmul import MatMul
from ttrain.autograd.ops.reduce import Extreme, Mean, Sum, arg_extreme, extreme
from ttrain.autograd.ops.reduce import logsumexp as _logsumexp
from ttrain.autograd.ops.reduce import var as _var
from ttrain.autograd.ops.shape import (
    Clone,
    Permute,
    Reshape,
    cat,
    expand as _expand,
    flatten,
    gather,
    shape_arg,
    squeeze,
    stack,
    transpose,
    unsqueeze,
)
from ttrain.autograd.tensor import Tensor, unwrap
from ttrain.devices import require_cpu


@dataclass(frozen=True)
class PublicOp:
    """One public name of an op and the forms it is published in."""

    name: str
    impl: Callable[..., Any]
    method: bool  # a Tensor method
    function: bool  # a top-level `ttrain.<name>` function
    functional: bool  # re-exported by `ttrain.nn.functional`
    tensor_first: bool  # the top-level function turns a non-tensor first argument into a tensor


OPS: dict[str, PublicOp] = {}


def public(
    *names: str, method: bool = True, function: bool = True, functional: bool = False, tensor_first: bool = True
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add rows to `OPS` for the decorated function, under its own name or under `names`."""

    def register(impl: Callable[..., Any]) -> Callable[..., Any]:
        for name in names or (impl.__name__,):
            OPS[name] = PublicOp(name, impl, method, function, functional, tensor_first)
        return impl

    return register


def _top_level_form(op: PublicOp) -> Callable[..., Any]:
    """The top-level function of `op`: the implementation itself, or a wrapper that makes its first argument a tensor."""
    impl = op.impl
    if not op.tensor_first:
        return impl

    @functools.wraps(impl)
    def form(input: Any, *args: Any, **kwargs: Any) -> Any:
        return impl(input if isinstance(input, Tensor) else Tensor(input), *args, **kwargs)

    return form


def install_methods(cls: type) -> None:
    """Set every method form of the table on `cls` (the engine does this once, for `Tensor`)."""
    for name, op in OPS.items():
        if op.method:
            setattr(cls, name, op.impl)


def function_forms() -> dict[str, Callable[..., Any]]:
    """The top-level functions (`ttrain.exp`, ...) by name."""
    return {name: _top_level_form(op) for name, op in OPS.items() if op.function}


def functional_forms() -> dict[str, Callable[..., Any]]:
    """The forms `ttrain.nn.functional` re-exports (activations, `flatten`) by name: the implementations."""
    return {name: op.impl for name, op in OPS.items() if op.functional}


# ---- arithmetic (operators stay on Tensor: `x + y` is `Add.apply` directly) ------------------------
@public(tensor_first=False)
def add(input: Any, other: Any) -> Tensor:
    """input + other."""
    return Add.apply(input, other)


@public(tensor_first=False)
def sub(input: Any, other: Any) -> Tensor:
    """input - other."""
    return Sub.apply(input, other)


@public(tensor_first=False)
def mul(input: Any, other: Any) -> Tensor:
    """input * other."""
    return Mul.apply(input, other)


@public(tensor_first=False)
def div(input: Any, other: Any) -> Tensor:
    """input / other."""
    return Div.apply(input, other)


@public(tensor_first=False)
def pow(input: Any, exponent: Any) -> Tensor:  # noqa: A001  (PyTorch's name)
    """input ** exponent (either may be a Python number)."""
    return Pow.apply(input, exponent)


@public(tensor_first=False)
def matmul(input: Any, other: Any) -> Tensor:
    """Matrix product, batched and broadcasting like `numpy.matmul`."""
    return MatMul.apply(input, other)


@public(method=False, tensor_first=False)
def where(condition: Any, input: Any, other: Any) -> Tensor:
    """`input` where `condition` holds, else `other` (differentiable in `input` and `other`)."""
    return Where.apply(condition, input, other)


# ---- elementwise maths ----------------------------------------------------------------------------
@public()
def exp(input: Tensor) -> Tensor:
    """e ** input."""
    return Exp.apply(input)


@public()
def log(input: Tensor) -> Tensor:
    """Natural logarithm."""
    return Log.apply(input)


@public()
def sqrt(input: Tensor) -> Tensor:
    """Square root."""
    return Sqrt.apply(input)


@public()
def abs(input: Tensor) -> Tensor:  # noqa: A001  (PyTorch's name)
    """Absolute value."""
    return Abs.apply(input)


@public()
def neg(input: Tensor) -> Tensor:
    """-input."""
    return Neg.apply(input)


@public("clamp", "clip")
def clamp(input: Tensor, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
    """Limit values to [min, max]."""
    return Clamp.apply(input, min, max)


@public(tensor_first=False)
def maximum(input: Any, other: Any) -> Tensor:
    """Elementwise maximum."""
    return Maximum.apply(input, other)


@public(tensor_first=False)
def minimum(input: Any, other: Any) -> Tensor:
    """Elementwise minimum."""
    return Minimum.apply(input, other)


# ---- activations ----------------------------------------------------------------------------------
@public(functional=True)
def relu(input: Tensor) -> Tensor:
    """max(input, 0)."""
    return ReLU.apply(input)


@public(functional=True)
def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + exp(-input)), without overflow."""
    return Sigmoid.apply(input)


@public(functional=True)
def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent."""
    return Tanh.apply(input)


@public(functional=True)
def softmax(input: Tensor, dim: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along `dim` (the last dimension by default)."""
    return Softmax.apply(input, dim=dim)


@public(functional=True)
def log_softmax(input: Tensor, dim: int = -1) -> Tensor:
    """log(softmax(x)) along `dim`, computed stably."""
    return LogSoftmax.apply(input, dim=dim)


@public(method=False, functional=True)
def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """input where positive, negative_slope * input elsewhere."""
    return LeakyReLU.apply(input, negative_slope=negative_slope)


@public(method=False, functional=True)
def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) (Phi the normal CDF), or its tanh approximation with `approximate="tanh"`."""
    return GELU.apply(input, approximate=approximate)


@public(method=False, functional=True)
def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta * x)) / beta, linear where beta * x > threshold."""
    return Softplus.apply(input, beta=beta, threshold=threshold)


# ---- reductions -----------------------------------------------------------------------------------
@public()
def sum(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """Sum over `dim` (all dimensions by default)."""
    return Sum.apply(input, dim=dim, keepdim=keepdim)


@public()
def mean(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Mean over `dim` (all dimensions by default)."""
    return Mean.apply(input, dim=dim, keepdim=keepdim)


@public()
def var(
    input: Tensor, dim: Any = None, unbiased: bool = True, keepdim: bool = False, *, correction: int | None = None
) -> Tensor:
    """Variance over `dim`; `correction` (default 1, or 0 when `unbiased=False`) as in PyTorch."""
    if correction is None:
        correction = 1 if unbiased else 0
    return _var(input, dim=dim, keepdim=keepdim, correction=correction)


@public()
def std(
    input: Tensor, dim: Any = None, unbiased: bool = True, keepdim: bool = False, *, correction: int | None = None
) -> Tensor:
    """Standard deviation over `dim` (the square root of `var`)."""
    return Sqrt.apply(var(input, dim, unbiased, keepdim, correction=correction))


@public()
def max(input: Tensor, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001
    """Maximum of all elements, `(values, indices)` along `dim`, or `maximum(input, other)` for a tensor."""
    if isinstance(dim, Tensor):
        return Maximum.apply(input, dim)
    return extreme(input, np.max, dim, keepdim)


@public()
def min(input: Tensor, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001
    """Minimum of all elements, `(values, indices)` along `dim`, or `minimum(input, other)` for a tensor."""
    if isinstance(dim, Tensor):
        return Minimum.apply(input, dim)
    return extreme(input, np.min, dim, keepdim)


@public()
def amax(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Maximum values over `dim`."""
    return Extreme.apply(input, fn=np.max, dim=dim, keepdim=keepdim)


@public()
def amin(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Minimum values over `dim`."""
    return Extreme.apply(input, fn=np.min, dim=dim, keepdim=keepdim)


@public()
def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the maximum (of the flattened input when `dim` is None)."""
    return arg_extreme(input, np.argmax, dim, keepdim)


@public()
def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the minimum (of the flattened input when `dim` is None)."""
    return arg_extreme(input, np.argmin, dim, keepdim)


# ---- shape ----------------------------------------------------------------------------------------
@public()
def reshape(input: Tensor, *shape: Any) -> Tensor:
    """Same data, new shape, given as ints or one sequence (one dimension may be -1)."""
    return Reshape.apply(input, shape=shape_arg(shape))


public("view", function=False)(reshape)


@public()
def permute(input: Tensor, *dims: Any) -> Tensor:
    """Reorder dimensions, given as ints or one sequence."""
    return Permute.apply(input, dims=shape_arg(dims))


@public(function=False)
def expand(input: Tensor, *shape: Any) -> Tensor:
    """Broadcast to a larger shape without copying (-1 keeps a dimension)."""
    return _expand(input, shape_arg(shape))


@public()
def clone(input: Tensor) -> Tensor:
    """A copy that stays in the graph."""
    return Clone.apply(input)


public(functional=True)(flatten)
for _helper in (squeeze, unsqueeze, transpose, gather):
    public()(_helper)
for _helper in (cat, stack):
    public(method=False, tensor_first=False)(_helper)
del _helper


# ---- selection, rearrangement and tests: the rest of PyTorch's everyday tensor API ----------------
for _helper in (_select.sort, _select.topk, _select.index_select, _select.chunk, _select.split, _select.flip,
                _select.scatter, _select.scatter_add, _select.cumsum, _select.norm, _select.unique,
                _logic.isnan, _logic.isfinite, _logic.isinf, _logic.isclose, _logic.allclose, _logic.equal,
                _logic.all, _logic.any):
    public()(_helper)
public(function=False)(_select.repeat)  # torch has Tensor.repeat but no torch.repeat
public(method=False, tensor_first=False)(_einsum)
del _helper


@public()
def masked_fill(input: Tensor, mask: Any, value: Any) -> Tensor:
    """`value` where `mask` holds, else the input (differentiable in the input, and in a tensor value)."""
    return Where.apply(mask, value, input)


@public(tensor_first=False)
def mm(input: Any, mat2: Any) -> Tensor:
    """Product of two matrices (2-D only; `matmul` broadcasts)."""
    if input.ndim != 2 or mat2.ndim != 2:
        raise ShapeError(f"mm: expects two matrices, got shapes {tuple(input.shape)} and {tuple(mat2.shape)}")
    return MatMul.apply(input, mat2)


@public(tensor_first=False)
def bmm(input: Any, mat2: Any) -> Tensor:
    """Batched product of two stacks of matrices, (b, n, m) @ (b, m, p) -> (b, n, p), without broadcasting."""
    if input.ndim != 3 or mat2.ndim != 3 or input.shape[0] != mat2.shape[0]:
        raise ShapeError(f"bmm: expects two 3-D tensors with the same batch size, got shapes "
                         f"{tuple(input.shape)} and {tuple(mat2.shape)}")
    return MatMul.apply(input, mat2)


def _new(input: Tensor, array: np.ndarray, requires_grad: bool) -> Tensor:
    out = Tensor._wrap(array, False)
    return out.requires_grad_(True) if requires_grad else out


@public(function=False)
def new_zeros(input: Tensor, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros of `size`, with this tensor's dtype unless `dtype` is given."""
    require_cpu(device)
    return _new(input, np.zeros(shape_arg(size), dtype=dtype or input.dtype), requires_grad)


@public(function=False)
def new_ones(input: Tensor, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones of `size`, with this tensor's dtype unless `dtype` is given."""
    require_cpu(device)
    return _new(input, np.ones(shape_arg(size), dtype=dtype or input.dtype), requires_grad)


@public(function=False)
def new_full(input: Tensor, size: Any, fill_value: Any, *, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """`fill_value` in a tensor of `size`, with this tensor's dtype unless `dtype` is given."""
    require_cpu(device)
    return _new(input, np.full(shape_arg((size,)), fill_value, dtype=dtype or input.dtype), requires_grad)


@public(function=False)
def new_empty(input: Tensor, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor of `size`, with this tensor's dtype unless `dtype` is given."""
    require_cpu(device)
    return _new(input, np.empty(shape_arg(size), dtype=dtype or input.dtype), requires_grad)


@public(function=False)
def new_tensor(input: Tensor, data: Any, *, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    """A new tensor copying `data`, with this tensor's dtype unless `dtype` is given."""
    require_cpu(device)
    return _new(input, np.array(unwrap(data), dtype=dtype or input.dtype), requires_grad)


# ---- more of the everyday API: elementwise maths, triangles, rolls, comparisons ------------------
for _helper in (_select.argsort, _select.unbind, _select.narrow, _select.masked_select, _select.roll,
                _select.tril, _select.triu, _select.nonzero):
    public()(_helper)
public()(_select.tile)
del _helper


@public()
def logsumexp(input: Tensor, dim: Any, keepdim: bool = False) -> Tensor:
    """log(sum(exp(input))) over `dim`, computed stably."""
    return _logsumexp(input, dim, keepdim)


@public()
def sin(input: Tensor) -> Tensor:
    """Sine."""
    return Sin.apply(input)


@public()
def cos(input: Tensor) -> Tensor:
    """Cosine."""
    return Cos.apply(input)


@public()
def log1p(input: Tensor) -> Tensor:
    """log(1 + input), accurate for small input."""
    return Log1p.apply(input)


@public()
def square(input: Tensor) -> Tensor:
    """input * input."""
    return Mul.apply(input, input)


@public()
def reciprocal(input: Tensor) -> Tensor:
    """1 / input."""
    return Div.apply(1.0, input)


@public()
def rsqrt(input: Tensor) -> Tensor:
    """1 / sqrt(input)."""
    return Div.apply(1.0, Sqrt.apply(input))


def _step(fn: Callable[[np.ndarray], np.ndarray], name: str, doc: str) -> Callable[[Tensor], Tensor]:
    def op(input: Tensor) -> Tensor:
        return Step.apply(input, fn=fn)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return public()(op)


floor = _step(np.floor, "floor", "Round down (zero gradient).")
ceil = _step(np.ceil, "ceil", "Round up (zero gradient).")
round = _step(np.round, "round", "Round half to even, as PyTorch (zero gradient).")  # noqa: A001
trunc = _step(np.trunc, "trunc", "Round towards zero (zero gradient).")
sign = _step(np.sign, "sign", "-1, 0 or 1 by the sign of each element (zero gradient).")


@public(tensor_first=False)
def outer(input: Any, vec2: Any) -> Tensor:
    """The outer product of two vectors."""
    if input.ndim != 1 or vec2.ndim != 1:
        raise ShapeError(f"outer: expects two vectors, got shapes {tuple(input.shape)} and {tuple(vec2.shape)}")
    return MatMul.apply(input.reshape(-1, 1), vec2.reshape(1, -1))


@public(tensor_first=False)
def dot(input: Any, other: Any) -> Tensor:
    """The inner product of two vectors of the same length."""
    if input.ndim != 1 or other.ndim != 1 or input.shape != other.shape:
        raise ShapeError(f"dot: expects two vectors of the same length, got shapes {tuple(input.shape)} and "
                         f"{tuple(other.shape)}")
    return MatMul.apply(input, other)


def _comparison(method: str, doc: str) -> Callable[[Any, Any], Tensor]:
    def compare(input: Any, other: Any) -> Tensor:
        return getattr(input, method)(other)

    compare.__name__ = compare.__qualname__ = method
    compare.__doc__ = doc
    return public(method=False)(compare)


eq = _comparison("eq", "Elementwise ==, a boolean tensor.")
ne = _comparison("ne", "Elementwise !=, a boolean tensor.")
lt = _comparison("lt", "Elementwise <, a boolean tensor.")
le = _comparison("le", "Elementwise <=, a boolean tensor.")
gt = _comparison("gt", "Elementwise >, a boolean tensor.")
ge = _comparison("ge", "Elementwise >=, a boolean tensor.")


@public(method=False)
def numel(input: Tensor) -> int:
    """The number of elements."""
    return input.numel()


@public(method=False)
def t(input: Tensor) -> Tensor:
    """The transpose of a matrix (a tensor of at most 2 dimensions)."""
    return input.t()
