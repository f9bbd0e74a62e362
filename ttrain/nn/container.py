"""Containers: `Sequential` (runs its modules in order), `ModuleList`, `ModuleDict`, `ParameterList`
and `ParameterDict`."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Iterable, Iterator, Mapping

from ttrain.nn import fusion
from ttrain.nn.conv import Conv2d
from ttrain.nn.module import Module
from ttrain.nn.parameter import Parameter


class _ModuleSequence(Module):
    """Shared list behaviour of Sequential and ModuleList: children named by position."""

    def _index(self, idx: int) -> int:
        if not isinstance(idx, int):
            raise TypeError(f"{type(self).__name__} indices must be integers or slices, not {type(idx).__name__}")
        size = len(self._modules)
        if not -size <= idx < size:
            raise IndexError(f"index {idx} is out of range for {type(self).__name__} of length {size}")
        return idx % size

    def _slice(self, idx: slice) -> Module:
        raise NotImplementedError

    def _replace_children(self, items: list[tuple[str, Module]]) -> None:
        for name in list(self._modules):
            delattr(self, name)
        for name, module in items:
            self.add_module(name, module)

    def __getitem__(self, idx: int | slice) -> Any:
        if isinstance(idx, slice):
            return self._slice(idx)
        return list(self._modules.values())[self._index(idx)]

    def __setitem__(self, idx: int, module: Module) -> None:
        setattr(self, list(self._modules)[self._index(idx)], module)

    def __delitem__(self, idx: int | slice) -> None:
        items = list(self._modules.items())
        if isinstance(idx, slice):
            del items[idx]
        else:
            del items[self._index(idx)]
        # Renumber the remaining children, as PyTorch does.
        self._replace_children([(str(i), m) for i, (_, m) in enumerate(items)])

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    def append(self, module: Module) -> "_ModuleSequence":
        """Add `module` at the end; returns self."""
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> "_ModuleSequence":
        """Append each of `modules`; returns self."""
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert `module` before position `index`."""
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._replace_children([(str(i), m) for i, m in enumerate(modules)])


class Sequential(_ModuleSequence):
    """Modules run one after another: `Sequential(Linear(4, 8), ReLU(), Linear(8, 2))`.

    Children are named "0", "1", ... unless given as an `OrderedDict` of names to modules.
    """

    def __init__(self, *args: Module | "OrderedDict[str, Module]") -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for index, module in enumerate(args):
                self.add_module(str(index), module)

    def _slice(self, idx: slice) -> "Sequential":
        return Sequential(OrderedDict(list(self._modules.items())[idx]))

    def forward(self, input: Any) -> Any:
        """Feed `input` through every module in order (a Conv2d, ReLU, MaxPool2d(2) run as one op:
        `ttrain.nn.fusion`)."""
        modules = tuple(self._modules.values())
        i = 0
        while i < len(modules):
            module = modules[i]
            if type(module) is Conv2d and i + 2 < len(modules):
                fused = fusion.conv_relu_pool(module, modules[i + 1], modules[i + 2], input)
                if fused is not None:
                    input = fused
                    i += 3
                    continue
            input = module(input)
            i += 1
        return input


class ModuleList(_ModuleSequence):
    """A list of modules whose parameters are registered (it has no forward of its own)."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _slice(self, idx: slice) -> "ModuleList":
        return ModuleList(list(self._modules.values())[idx])

    def __iadd__(self, modules: Iterable[Module]) -> "ModuleList":
        return self.extend(modules)  # type: ignore[return-value]


class ModuleDict(Module):
    """A dict of named modules whose parameters are registered, in insertion order."""

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._modules))

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def keys(self) -> Iterable[str]:
        """The names."""
        return self._modules.keys()

    def values(self) -> Iterable[Module]:
        """The modules."""
        return self._modules.values()

    def items(self) -> Iterable[tuple[str, Module]]:
        """(name, module) pairs."""
        return self._modules.items()

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        """Add or replace modules from a mapping or (name, module) pairs."""
        pairs = modules.items() if isinstance(modules, Mapping) else modules
        for name, module in pairs:
            self[name] = module

    def pop(self, key: str) -> Module:
        """Remove `key` and return its module."""
        module = self._modules[key]
        del self[key]
        return module

    def clear(self) -> None:
        """Remove every module."""
        for key in list(self._modules):
            del self[key]


def _as_parameter(value: Any) -> Parameter:
    """A Parameter as given; a plain tensor or array becomes one (sharing its data), as in PyTorch."""
    return value if isinstance(value, Parameter) else Parameter(value)


class ParameterList(Module):
    """A list of parameters that are registered (named "0", "1", ...), for a variable number of weights."""

    def __init__(self, values: Iterable[Any] | None = None) -> None:
        super().__init__()
        if values is not None:
            self.extend(values)

    def _key(self, idx: int) -> str:
        if not isinstance(idx, int):
            raise TypeError(f"ParameterList indices must be integers or slices, not {type(idx).__name__}")
        size = len(self._parameters)
        if not -size <= idx < size:
            raise IndexError(f"index {idx} is out of range for ParameterList of length {size}")
        return str(idx % size)

    def __getitem__(self, idx: int | slice) -> Any:
        if isinstance(idx, slice):
            return ParameterList(list(self._parameters.values())[idx])
        return self._parameters[self._key(idx)]

    def __setitem__(self, idx: int, value: Any) -> None:
        self.register_parameter(self._key(idx), _as_parameter(value))

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(list(self._parameters.values()))

    def __iadd__(self, values: Iterable[Any]) -> "ParameterList":
        return self.extend(values)

    def append(self, value: Any) -> "ParameterList":
        """Add a parameter at the end; returns self."""
        self.register_parameter(str(len(self._parameters)), _as_parameter(value))
        return self

    def extend(self, values: Iterable[Any]) -> "ParameterList":
        """Append each of `values`; returns self."""
        for value in values:
            self.append(value)
        return self

    def extra_repr(self) -> str:
        return "\n".join(f"({name}): Parameter containing: [{p.dtype} of size {tuple(p.shape)}]"
                         for name, p in self._parameters.items())


class ParameterDict(Module):
    """A dict of named parameters that are registered, in insertion order."""

    def __init__(self, parameters: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None) -> None:
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key: str) -> Parameter:
        return self._parameters[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.register_parameter(key, _as_parameter(value))

    def __delitem__(self, key: str) -> None:
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._parameters))

    def __contains__(self, key: object) -> bool:
        return key in self._parameters

    def keys(self) -> Iterable[str]:
        """The names."""
        return self._parameters.keys()

    def values(self) -> Iterable[Parameter]:
        """The parameters."""
        return self._parameters.values()

    def items(self) -> Iterable[tuple[str, Parameter]]:
        """(name, parameter) pairs."""
        return self._parameters.items()

    def update(self, parameters: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> None:
        """Add or replace parameters from a mapping or (name, value) pairs."""
        pairs = parameters.items() if isinstance(parameters, Mapping) else parameters
        for name, value in pairs:
            self[name] = value

    def pop(self, key: str) -> Parameter:
        """Remove `key` and return its parameter."""
        value = self._parameters[key]
        del self[key]
        return value

    def get(self, key: str, default: Any = None) -> Any:
        """The parameter under `key`, or `default`."""
        return self._parameters.get(key, default)

    def extra_repr(self) -> str:
        return "\n".join(f"({name}): Parameter containing: [{p.dtype} of size {tuple(p.shape)}]"
                         for name, p in self._parameters.items())
