"""`Tensor`: a NumPy array plus what autograd needs (its gradient and the op that made it)."""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from ttrain.devices import CPU, requested_dtype
from ttrain.autograd.grad_mode import STATE

_FLOAT_KINDS = "fc"


def as_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Convert data to an ndarray the way `ttrain.tensor` does.

    NumPy arrays keep their dtype; Python floats become float32 and Python ints int64.
    """
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        return np.array(data, dtype=dtype)
    if isinstance(data, (np.ndarray, np.generic)):
        return np.array(data)
    array = np.array(data)
    if array.dtype == np.float64:
        return array.astype(np.float32)
    if array.dtype.kind in "iu":
        return array.astype(np.int64)
    return array


def unwrap(value: Any) -> Any:
    """The NumPy array behind a tensor (shared, not copied), or `value` itself when it is not one."""
    return value.data if isinstance(value, Tensor) else value


def ensure_tensor(value: Any) -> "Tensor":
    """`value` itself when it is a Tensor, else a new tensor made from it as `ttrain.tensor` makes one."""
    return value if isinstance(value, Tensor) else Tensor(value)


class Tensor:
    """An n-dimensional array that records the ops applied to it for `backward()`.

    `data` is the NumPy array, `grad` the accumulated gradient (a Tensor or None), `requires_grad`
    whether gradients flow to it. Ops are methods and operators, as in PyTorch; the named op methods
    (`exp`, `sum`, `reshape`, ...) are set from the op table, `ttrain.autograd.op_table`.
    """

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "_retains_grad", "__weakref__")
    __array_priority__ = 1000  # ndarray <op> Tensor defers to Tensor's reflected operator

    def __init__(self, data: Any, dtype: Any = None, requires_grad: bool = False) -> None:
        self.data = as_array(data, dtype)
        self.grad: Tensor | None = None
        self._ctx = None
        self._retains_grad = False
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, array: Any, requires_grad: bool) -> "Tensor":
        """Wrap an op's output array without copying or converting it (the hot path)."""
        if type(array) is not np.ndarray:
            array = np.asarray(array)
        t = object.__new__(Tensor)
        t.data = array
        t.grad = None
        t.requires_grad = requires_grad
        t._ctx = None
        t._retains_grad = False
        return t

    # ---- attributes -------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        """The array's shape."""
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        """The array's NumPy dtype."""
        return self.data.dtype

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return self.data.ndim

    @property
    def grad_fn(self) -> Any:
        """The op that produced this tensor, or None for a leaf."""
        return self._ctx

    @property
    def is_leaf(self) -> bool:
        """True for tensors not produced by a recorded op."""
        return self._ctx is None

    @property
    def T(self) -> "Tensor":
        """The tensor with its dimensions reversed."""
        return self.permute(*reversed(range(self.ndim)))

    def size(self, dim: int | None = None) -> Any:
        """The shape, or the size of one dimension."""
        return self.data.shape if dim is None else self.data.shape[dim]

    def dim(self) -> int:
        """Number of dimensions."""
        return self.data.ndim

    def numel(self) -> int:
        """Number of elements."""
        return self.data.size

    nelement = numel

    def is_floating_point(self) -> bool:
        """Whether the dtype is a floating-point one."""
        return self.data.dtype.kind == "f"

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self) -> Iterator["Tensor"]:
        for i in range(len(self)):
            yield self[i]

    def __hash__(self) -> int:
        return id(self)

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise RuntimeError("the truth value of a tensor with more than one element is ambiguous")
        return bool(self.data)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        # np.asarray(tensor) and NumPy functions see the values, as with torch tensors
        data = self.numpy()
        return data if dtype is None else data.astype(dtype, copy=False)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        # `classes[pred.argmax()]`, `range(n_tensor)`: an integer tensor of one element is an index
        if self.data.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError(f"only integer tensors of a single element can be converted to an index, "
                            f"not {self.data.dtype} of shape {self.data.shape}")
        return int(self.data.item())

    def __repr__(self) -> str:
        body = np.array2string(self.data, precision=4, separator=", ", prefix="tensor(")
        extras = ""
        if self.data.dtype not in (np.float32, np.int64, np.bool_):
            extras += f", dtype={self.data.dtype}"
        if self._ctx is not None:
            extras += f", grad_fn={self._ctx!r}"
        elif self.requires_grad:
            extras += ", requires_grad=True"
        return f"tensor({body}{extras})"

    # ---- conversion and autograd bookkeeping ----------------------------------------------------
    def numpy(self) -> np.ndarray:
        """The underlying array (shared memory); refuses tensors that require grad, as PyTorch does."""
        if self.requires_grad and STATE.enabled:
            raise RuntimeError("can't call numpy() on a tensor that requires grad: use .detach().numpy()")
        return self.data

    def tolist(self) -> Any:
        """The values as (nested) Python lists."""
        return self.data.tolist()

    def item(self) -> Any:
        """The single value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise RuntimeError(f"item(): tensor of shape {self.data.shape} has {self.data.size} elements, not 1")
        return self.data.item()

    def detach(self) -> "Tensor":
        """A tensor sharing the data, cut from the graph."""
        return Tensor._wrap(self.data, False)

    def contiguous(self) -> "Tensor":
        """This tensor (arrays are made contiguous by the ops that need it)."""
        return self

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Set whether gradients flow into this leaf tensor; returns self."""
        if requires_grad and self.data.dtype.kind not in _FLOAT_KINDS:
            raise RuntimeError(f"only floating point tensors can require gradients, not {self.data.dtype}")
        if not requires_grad and self._ctx is not None:
            raise RuntimeError("requires_grad_(False) is only allowed on leaf tensors; use detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> None:
        """Keep `.grad` for this non-leaf tensor after backward."""
        self._retains_grad = True

    def backward(self, gradient: Any = None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's `.grad` (see `ttrain.autograd.engine`)."""
        if not self.requires_grad:
            raise RuntimeError("backward(): this tensor does not require grad and has no grad_fn")
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward(): gradient can be implied only for a one-element output, not shape "
                    f"{self.data.shape}; pass gradient= with the output's shape"
                )
            data = self.data  # np.array(1) is 5x quicker than np.ones_like for the usual 0-d loss
            seed = np.array(1, dtype=data.dtype) if data.ndim == 0 else np.ones(data.shape, dtype=data.dtype)
        else:
            seed = np.array(unwrap(gradient), dtype=self.data.dtype)  # a copy: leaves' .grad may get it
            if seed.shape != self.data.shape:
                raise RuntimeError(f"backward(): gradient shape {seed.shape} != tensor shape {self.data.shape}")
        engine.run_backward(self, seed, retain_graph=retain_graph)

    # ---- device and dtype conversion ------------------------------------------------------------
    @property
    def device(self) -> Any:
        """Where the tensor lives: always `ttrain.device("cpu")`."""
        return CPU

    @property
    def is_cuda(self) -> bool:
        """False: ttrain runs on the CPU."""
        return False

    def cpu(self) -> "Tensor":
        """This tensor (it is on the CPU already)."""
        return self

    def to(self, *args: Any, dtype: Any = None, device: Any = None, non_blocking: bool = False,
           copy: bool = False, **_ignored: Any) -> "Tensor":
        """This tensor cast to a dtype, as PyTorch's `to`: `to(dtype)`, `to(device)`, `to(device, dtype)`,
        `to(other)` (other's dtype), or keywords. Differentiable between float types, detached otherwise.

        The device must be the CPU (`"cpu"` or `ttrain.device("cpu")`); `"cuda"` or `"mps"` raise a
        `DeviceError` that says ttrain runs on the CPU. `non_blocking` is accepted and changes nothing.
        """
        dtype = requested_dtype(args, dtype, device)
        if dtype is None or np.dtype(dtype) == self.data.dtype:
            return self.clone() if copy else self
        dtype = np.dtype(dtype)
        if dtype.kind not in _FLOAT_KINDS:
            return Tensor._wrap(self.data.astype(dtype), False)
        return ops.shape.Cast.apply(self, dtype=dtype)

    def type(self, dtype: Any = None) -> Any:
        """Cast to `dtype` (as `to`), or without one the dtype's name, e.g. `"float32"`."""
        return self.data.dtype.name if dtype is None else self.to(dtype)

    def type_as(self, other: "Tensor") -> "Tensor":
        """Cast to `other`'s dtype."""
        return self.to(other.dtype)

    def half(self) -> "Tensor":
        """Cast to float16."""
        return self.to(np.float16)

    def float(self) -> "Tensor":
        """Cast to float32."""
        return self.to(np.float32)

    def double(self) -> "Tensor":
        """Cast to float64."""
        return self.to(np.float64)

    def long(self) -> "Tensor":
        """Cast to int64."""
        return self.to(np.int64)

    def int(self) -> "Tensor":
        """Cast to int32."""
        return self.to(np.int32)

    def bool(self) -> "Tensor":
        """Cast to bool."""
        return self.to(np.bool_)

    # ---- in-place updates (no graph: initialisation and optimizers) ---------------------------
    def _check_inplace(self) -> None:
        if self.requires_grad and self._ctx is None and STATE.enabled:
            raise RuntimeError("a leaf tensor that requires grad is used in an in-place operation: use no_grad()")

    def zero_(self) -> "Tensor":
        """Fill with zeros in place."""
        self._check_inplace()
        self.data[...] = 0
        return self

    def fill_(self, value: float) -> "Tensor":
        """Fill with `value` in place."""
        self._check_inplace()
        self.data[...] = value
        return self

    def copy_(self, src: Any) -> "Tensor":
        """Copy values from `src` (broadcast to this shape) in place."""
        self._check_inplace()
        self.data[...] = unwrap(src)
        return self

    def add_(self, other: Any, alpha: float = 1.0) -> "Tensor":
        """self += alpha * other, in place."""
        self._check_inplace()
        self.data += alpha * unwrap(other) if alpha != 1.0 else unwrap(other)
        return self

    def sub_(self, other: Any) -> "Tensor":
        """self -= other, in place."""
        self._check_inplace()
        self.data -= unwrap(other)
        return self

    def mul_(self, other: Any) -> "Tensor":
        """self *= other, in place."""
        self._check_inplace()
        self.data *= unwrap(other)
        return self

    def clamp_(self, min: float | None = None, max: float | None = None) -> "Tensor":
        """Clamp in place."""
        self._check_inplace()
        np.clip(self.data, min, max, out=self.data)
        return self

    def div_(self, other: Any) -> "Tensor":
        """self /= other, in place."""
        self._check_inplace()
        self.data /= unwrap(other)
        return self

    # `x -= y` and friends: in place where no graph is recorded (no_grad, or tensors that need no
    # gradient: parameter updates by hand, as in "What is torch.nn really"); on a tensor inside a
    # recorded graph they rebind the name to a new tensor, which keeps every gradient right.
    def _inplace(self, other: Any, apply: Any, ufunc: Any) -> "Tensor":
        if self.requires_grad and STATE.enabled:
            if self._ctx is None:
                self._check_inplace()  # a leaf that requires grad: PyTorch's error
            return apply(self, other)
        other = unwrap(other)
        if ufunc is np.true_divide and self.data.dtype.kind not in _FLOAT_KINDS:
            raise RuntimeError(f"in-place division of a {self.data.dtype} tensor: its result would be a float")
        ufunc(self.data, other, out=self.data, casting="same_kind")
        return self

    def __iadd__(self, other: Any) -> "Tensor":
        return self._inplace(other, Tensor.__add__, np.add)

    def __isub__(self, other: Any) -> "Tensor":
        return self._inplace(other, Tensor.__sub__, np.subtract)

    def __imul__(self, other: Any) -> "Tensor":
        return self._inplace(other, Tensor.__mul__, np.multiply)

    def __itruediv__(self, other: Any) -> "Tensor":
        return self._inplace(other, Tensor.__truediv__, np.true_divide)

    def scatter_(self, dim: int, index: Any, src: Any = None, *, value: Any = None) -> "Tensor":
        """`scatter` written into this tensor, in place (one-hot encodings, masks)."""
        self._check_inplace()
        self.data[...] = ops.select.scatter(self.detach(), dim, index, src, value=value).data
        return self

    def uniform_(self, a: float = 0.0, b: float = 1.0, *, generator: Any = None) -> "Tensor":
        """Fill with samples from U(a, b), in place (drawn from `generator`, the global stream by default)."""
        from ttrain.random import resolve

        self._check_inplace()
        self.data[...] = resolve(generator).uniform(a, b, self.data.shape)
        return self

    def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator: Any = None) -> "Tensor":
        """Fill with samples from N(mean, std^2), in place."""
        from ttrain.random import resolve

        self._check_inplace()
        self.data[...] = resolve(generator).normal(mean, std, self.data.shape)
        return self

    def masked_fill_(self, mask: Any, value: Any) -> "Tensor":
        """Set the elements where `mask` holds to `value`, in place."""
        self._check_inplace()
        np.copyto(self.data, unwrap(value), where=np.asarray(unwrap(mask), dtype=bool), casting="unsafe")
        return self

    def __setitem__(self, key: Any, value: Any) -> None:
        self._check_inplace()
        self.data[ops.shape.index_key(key)] = unwrap(value)

    # ---- arithmetic -----------------------------------------------------------------------------
    def __add__(self, other: Any) -> "Tensor":
        return ops.arith.Add.apply(self, other)

    def __radd__(self, other: Any) -> "Tensor":
        return ops.arith.Add.apply(other, self)

    def __sub__(self, other: Any) -> "Tensor":
        return ops.arith.Sub.apply(self, other)

    def __rsub__(self, other: Any) -> "Tensor":
        return ops.arith.Sub.apply(other, self)

    def __mul__(self, other: Any) -> "Tensor":
        return ops.arith.Mul.apply(self, other)

    def __rmul__(self, other: Any) -> "Tensor":
        return ops.arith.Mul.apply(other, self)

    def __truediv__(self, other: Any) -> "Tensor":
        return ops.arith.Div.apply(self, other)

    def __rtruediv__(self, other: Any) -> "Tensor":
        return ops.arith.Div.apply(other, self)

    def __pow__(self, other: Any) -> "Tensor":
        return ops.arith.Pow.apply(self, other)

    def __rpow__(self, other: Any) -> "Tensor":
        return ops.arith.Pow.apply(other, self)

    def __neg__(self) -> "Tensor":
        return ops.arith.Neg.apply(self)

    def __abs__(self) -> "Tensor":
        return ops.arith.Abs.apply(self)

    def __matmul__(self, other: Any) -> "Tensor":
        return ops.matmul.MatMul.apply(self, other)

    def __rmatmul__(self, other: Any) -> "Tensor":
        return ops.matmul.MatMul.apply(other, self)

    def __getitem__(self, key: Any) -> "Tensor":
        return ops.shape.Index.apply(self, key=ops.shape.index_key(key))

    # comparisons and logic record nothing: their outputs are boolean masks
    def _compare(self, other: Any, ufunc: Any, name: str) -> "Tensor":
        try:
            return Tensor._wrap(ufunc(self.data, unwrap(other)), False)
        except ValueError:
            raise ops.errors.broadcast_error(name, self.data, unwrap(other)) from None

    def __lt__(self, other: Any) -> "Tensor":
        return self._compare(other, np.less, "lt")

    def __le__(self, other: Any) -> "Tensor":
        return self._compare(other, np.less_equal, "le")

    def __gt__(self, other: Any) -> "Tensor":
        return self._compare(other, np.greater, "gt")

    def __ge__(self, other: Any) -> "Tensor":
        return self._compare(other, np.greater_equal, "ge")

    def __eq__(self, other: Any) -> "Tensor":  # type: ignore[override]
        return self._compare(other, np.equal, "eq")

    def __ne__(self, other: Any) -> "Tensor":  # type: ignore[override]
        return self._compare(other, np.not_equal, "ne")

    def __and__(self, other: Any) -> "Tensor":
        return self._compare(other, np.bitwise_and, "and")

    def __or__(self, other: Any) -> "Tensor":
        return self._compare(other, np.bitwise_or, "or")

    def __xor__(self, other: Any) -> "Tensor":
        return self._compare(other, np.bitwise_xor, "xor")

    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    def __invert__(self) -> "Tensor":
        return Tensor._wrap(~self.data, False)

    def eq(self, other: Any) -> "Tensor":
        """Elementwise ==."""
        return self == other

    def ne(self, other: Any) -> "Tensor":
        """Elementwise !=."""
        return self != other

    def lt(self, other: Any) -> "Tensor":
        """Elementwise <."""
        return self < other

    def le(self, other: Any) -> "Tensor":
        """Elementwise <=."""
        return self <= other

    def gt(self, other: Any) -> "Tensor":
        """Elementwise >."""
        return self > other

    def ge(self, other: Any) -> "Tensor":
        """Elementwise >=."""
        return self >= other

    # ---- shape conveniences (the ops' own methods come from `op_table`) -------------------------
    def t(self) -> "Tensor":
        """Transpose of a matrix."""
        if self.ndim > 2:
            raise RuntimeError(f"t(): expects a tensor with <= 2 dimensions, got shape {self.shape}")
        return self.T

    def expand_as(self, other: "Tensor") -> "Tensor":
        """Broadcast to `other`'s shape."""
        return self.expand(*other.shape)

    def view_as(self, other: "Tensor") -> "Tensor":
        """The same data in `other`'s shape."""
        return self.reshape(other.shape)

    reshape_as = view_as

    def where(self, condition: Any, other: Any) -> "Tensor":
        """This tensor where `condition` holds, else `other` (`ttrain.where(condition, self, other)`)."""
        return ops.arith.Where.apply(condition, self, other)

    # ---- autograd hooks -------------------------------------------------------------------------
    def register_hook(self, hook: Any) -> Any:
        """Call `hook(grad)` each time this tensor's gradient is computed in backward; a tensor the hook
        returns replaces the gradient. Returns a handle whose `remove()` unregisters it."""
        from ttrain.autograd.tensor_hooks import register_hook

        return register_hook(self, hook)


def _import_ops() -> None:
    # Bound at the end: the op modules subclass Function, which refers back to Tensor.
    global ops, engine
    from ttrain.autograd import engine as _engine
    from ttrain.autograd import ops as _ops
    from ttrain.autograd.op_table import install_methods

    ops, engine = _ops, _engine
    install_methods(Tensor)  # exp, sum, reshape, ...: each op's method form, from the one table


ops: Any = None
engine: Any = None
_import_ops()
