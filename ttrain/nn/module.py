"""`Module`: the base class of every layer and network, with PyTorch's registration contract.

Assigning a `Parameter`, a `Module` or a registered buffer to an attribute records it in
`_parameters`, `_modules` or `_buffers` (the registries that `parameters()`, `state_dict()` and
friends walk, in registration order). The value is also kept in the instance `__dict__`, so
`self.weight` inside `forward` is a plain attribute lookup rather than a `__getattr__` call:
per-call overhead is what decides the speed of small networks.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, ClassVar, Iterator, Mapping, NamedTuple

import numpy as np

from ttrain.autograd.tensor import Tensor, unwrap
from ttrain.devices import requested_dtype
from ttrain.nn import hooks
from ttrain.nn.parameter import Parameter
from ttrain.utils.hooks import RemovableHandle

_FLOAT_KINDS = "fc"


class IncompatibleKeys(NamedTuple):
    """What `load_state_dict(strict=False)` could not match, as in PyTorch."""

    missing_keys: list[str]
    unexpected_keys: list[str]


def _addindent(text: str, spaces: int) -> str:
    """Indent every line but the first (nested reprs)."""
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


def _check_name(name: Any, kind: str) -> None:
    if not isinstance(name, str):
        raise TypeError(f"{kind} name should be a string, not {type(name).__name__}")
    if not name:
        raise KeyError(f"{kind} name must not be empty")
    if "." in name:
        raise KeyError(f"{kind} name must not contain a dot (dots separate submodules), got {name!r}")


class Module:
    """Base class for all neural network modules; subclass it and write `forward`.

    Parameters, submodules and buffers assigned as attributes are registered automatically, in the
    order they are assigned; `state_dict()` names them with dotted paths (`encoder.0.weight`).

    `inferred_args` maps constructor parameters that a config may leave out to the quantity of the
    data that fills them (one rule for a registered model, a ``layers:`` list and a user's class):
    ``"features"`` the product of a sample's shape (a model that flattens its input), ``"last"``
    its last axis, ``"channels"`` its first axis, ``"spatial"`` an image's ``(H, W)``, ``"classes"``
    the dataset's number of classes. In a ``layers:`` list the sample is what flows into the layer.
    """

    inferred_args: ClassVar[Mapping[str, str]] = {}
    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", OrderedDict())

    # ---- calling ----------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Compute the module's output; every subclass defines it."""
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Deliberately nothing but the forward call: no hook machinery on the hot path. A module
        # with hooks runs `ttrain.nn.hooks.call_with_hooks` instead (see that module).
        return self.forward(*args, **kwargs)

    # ---- hooks --------------------------------------------------------------------------------
    def register_forward_pre_hook(self, hook: Callable[..., Any], *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """Call `hook(module, args)` before each forward; a returned value replaces the positional
        arguments (a tuple, or one value). With `with_kwargs`, `hook(module, args, kwargs)` may return
        `(args, kwargs)`. Returns a handle whose `remove()` unregisters the hook."""
        return hooks.add_hook(self, "forward_pre", hook, prepend=prepend, with_kwargs=with_kwargs)

    def register_forward_hook(self, hook: Callable[..., Any], *, prepend: bool = False,
                              with_kwargs: bool = False) -> RemovableHandle:
        """Call `hook(module, args, output)` after each forward (`hook(module, args, kwargs, output)`
        with `with_kwargs`); a returned value replaces the output. Returns a removable handle."""
        return hooks.add_hook(self, "forward", hook, prepend=prepend, with_kwargs=with_kwargs)

    def register_full_backward_hook(self, hook: Callable[..., Any], prepend: bool = False) -> RemovableHandle:
        """Call `hook(module, grad_input, grad_output)` when the gradients of the module's positional
        tensor inputs have been computed in backward (with those of its outputs); a returned tuple
        replaces `grad_input`. Entries are None where no gradient flows. Returns a removable handle."""
        return hooks.add_hook(self, "backward", hook, prepend=prepend)

    # ---- registration -----------------------------------------------------------------------
    def _registries(self, name: str) -> tuple[dict, dict, dict]:
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError(f"cannot assign {name!r} before Module.__init__() call")
        return d["_parameters"], d["_modules"], d["_buffers"]

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            params, modules, buffers = self._registries(name)
            modules.pop(name, None)
            buffers.pop(name, None)
            d["_non_persistent_buffers"].discard(name)
            params[name] = value
        elif isinstance(value, Module):
            params, modules, buffers = self._registries(name)
            params.pop(name, None)
            buffers.pop(name, None)
            d["_non_persistent_buffers"].discard(name)
            modules[name] = value
        elif params is not None:
            if name in params:
                if value is not None:
                    raise TypeError(
                        f"cannot assign {type(value).__name__} as parameter {name!r} "
                        "(ttrain.nn.Parameter or None expected)"
                    )
                params[name] = None
            elif name in d["_modules"]:
                if value is not None:
                    raise TypeError(
                        f"cannot assign {type(value).__name__} as child module {name!r} (Module or None expected)"
                    )
                d["_modules"][name] = None
            elif name in d["_buffers"]:
                if value is not None and not isinstance(value, Tensor):
                    raise TypeError(
                        f"cannot assign {type(value).__name__} as buffer {name!r} (Tensor or None expected)"
                    )
                d["_buffers"][name] = value
        object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        # Only reached when the instance dict misses: look in the registries, then give up.
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            entries = d.get(registry)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            entries = d.get(registry)
            if entries is not None and name in entries:
                del entries[name]
                d["_non_persistent_buffers"].discard(name)
                d.pop(name, None)
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or a None placeholder, like a disabled bias) under `name`."""
        _check_name(name, "parameter")
        self._registries(name)
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"attribute {name!r} already exists")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign {type(param).__name__} as parameter {name!r} (ttrain.nn.Parameter or None expected)"
            )
        self._parameters[name] = param
        object.__setattr__(self, name, param)

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a tensor that is state but not a parameter (running statistics, class weights).

        Persistent buffers appear in `state_dict()`; non-persistent ones do not.
        """
        _check_name(name, "buffer")
        self._registries(name)
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute {name!r} already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign {type(tensor).__name__} as buffer {name!r} (Tensor or None expected)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)
        object.__setattr__(self, name, tensor)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module under `name` (what attribute assignment does, for computed names)."""
        _check_name(name, "module")
        self._registries(name)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute {name!r} already exists")
        self._modules[name] = module
        object.__setattr__(self, name, module)

    register_module = add_module

    def get_submodule(self, target: str) -> Module:
        """The submodule at dotted path `target` (`""` is this module)."""
        module: Module = self
        for part in target.split(".") if target else []:
            child = module._modules.get(part)
            if not isinstance(child, Module):
                raise AttributeError(f"{type(module).__name__} has no submodule {part!r} (looking up {target!r})")
            module = child
        return module

    # ---- traversal --------------------------------------------------------------------------
    def named_modules(
        self, memo: set[int] | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """This module and all below it, depth first, each once (unless remove_duplicate=False)."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(memo, f"{prefix}.{name}" if prefix else name, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        """This module and all below it."""
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Direct submodules with their names."""
        seen: set[int] = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        """Direct submodules."""
        for _, module in self.named_children():
            yield module

    def _named_members(
        self, registry: str, prefix: str, recurse: bool, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Any]]:
        seen: set[int] = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """Parameters with dotted names: this module's own first, then each child's, each once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """All parameters (what an optimizer is given)."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        """Buffers with dotted names."""
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """All buffers."""
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    # ---- modes and gradients ----------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout active, batch statistics) here and below; returns self."""
        if not isinstance(mode, bool):
            raise ValueError(f"training mode is expected to be a bool, not {type(mode).__name__}")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self) -> Module:
        """Set evaluation mode; same as `train(False)`."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Switch gradient tracking of every parameter (freezing); returns self."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient: drop it (default) or fill it with zeros."""
        for param in self.parameters():
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                param.grad.data.fill(0)

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call `fn` on every submodule (children first) and on self, e.g. for custom init."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ---- device and dtype ---------------------------------------------------------------------
    def to(self, *args: Any, dtype: Any = None, device: Any = None, non_blocking: bool = False) -> Module:
        """Cast floating-point parameters and buffers to a dtype in place, as PyTorch's `to(dtype)`,
        `to(device)`, `to(device, dtype)` or `to(tensor)`; returns self.

        The device must be the CPU (`"cpu"` or `ttrain.device("cpu")`, a no-op); `"cuda"` or `"mps"`
        raise a `DeviceError` saying that ttrain runs on the CPU. Parameters stay the same objects
        (an optimizer built before still holds them).
        """
        dtype = requested_dtype(args, dtype, device)
        if dtype is None:
            return self
        dtype = np.dtype(dtype)
        if dtype.kind not in _FLOAT_KINDS:
            raise TypeError(f"to(): expects a floating point dtype, got {dtype}")
        for tensor in [*self.parameters(), *self.buffers()]:
            if tensor.data.dtype.kind in _FLOAT_KINDS:
                tensor.data = tensor.data.astype(dtype, copy=False)
                if tensor.grad is not None:
                    tensor.grad.data = tensor.grad.data.astype(dtype, copy=False)
        return self

    def float(self) -> Module:
        """Cast floating-point parameters and buffers to float32."""
        return self.to(np.float32)

    def double(self) -> Module:
        """Cast floating-point parameters and buffers to float64."""
        return self.to(np.float64)

    def cpu(self) -> Module:
        """This module (ttrain runs on the CPU)."""
        return self

    # ---- state dict -------------------------------------------------------------------------
    def state_dict(
        self, destination: dict[str, Any] | None = None, prefix: str = "", keep_vars: bool = False
    ) -> dict[str, Tensor]:
        """Parameters and persistent buffers by dotted name, in PyTorch's layouts.

        Values are detached tensors sharing memory with the module (`keep_vars=True` returns the
        Parameters themselves); `{k: v.numpy() for k, v in sd.items()}` gives plain arrays.
        """
        if destination is None:
            destination = OrderedDict()
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if keep_vars else param.detach()
        for name, buffer in self._buffers.items():
            if buffer is not None and name not in self._non_persistent_buffers:
                destination[prefix + name] = buffer if keep_vars else buffer.detach()
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination, prefix + name + ".", keep_vars)
        return destination

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy values into this module's parameters and buffers in place, keeping their dtypes.

        Values may be ttrain tensors, NumPy arrays or anything `numpy.asarray` accepts (a torch
        state dict's tensors included). With `strict=True`, missing or unexpected keys are an
        error; a wrong shape always is. All problems are reported together, and nothing is
        copied unless everything matches.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict: expected a mapping of names to tensors, got {type(state_dict).__name__}")
        targets = self.state_dict(keep_vars=True)
        missing = [key for key in targets if key not in state_dict]
        unexpected = [key for key in state_dict if key not in targets]
        errors = []
        if strict and missing:
            errors.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
        if strict and unexpected:
            errors.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
        values: list[tuple[Tensor, np.ndarray]] = []
        for key, target in targets.items():
            if key not in state_dict:
                continue
            raw = state_dict[key]
            value = np.asarray(unwrap(raw))
            if value.shape != target.data.shape:
                errors.append(
                    f"size mismatch for {key}: copying a param with shape {value.shape} from checkpoint, "
                    f"the shape in current model is {target.data.shape}."
                )
            else:
                values.append((target, value))
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors))
        for target, value in values:
            target.data[...] = value
        return IncompatibleKeys(missing, unexpected)

    # ---- repr -------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The layer's settings shown inside its repr; override in layers."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): {_addindent(repr(module), 2)}" for name, module in self._modules.items()]
        lines = extra_lines + child_lines
        body = ""
        if len(extra_lines) == 1 and not child_lines:
            body = extra_lines[0]
        elif lines:
            body = "\n  " + "\n  ".join(lines) + "\n"
        return f"{self._get_name()}({body})"

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))
