"""A constructor's signature as the schema of its config keyword arguments.

``inspect.signature`` and the type hints give each parameter's type and default; each value is
validated by a pydantic ``TypeAdapter`` for its parameter's type (one adapter per parameter, so
a parameter called ``copy`` or ``schema`` cannot clash with pydantic's own names).

Values are checked as strictly as the config's own sections (`ttrain.config.schema.Section`):
`strict_annotation` makes every ``int``, ``bool`` and ``float`` in a parameter's type strict and
finite, and a parameter typed ``Any`` still refuses NaN and infinities.
"""

from __future__ import annotations

import functools
import inspect
import os
import pathlib
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable

import collections.abc
import math

from annotated_types import Ge, Gt, Le, Lt
from pydantic import AfterValidator, AllowInfNan, ConfigDict, PydanticUserError, Strict, TypeAdapter, ValidationError

from ttrain.config.errors import KeyPath, did_you_mean

REQUIRED = inspect.Parameter.empty

_ADAPTER_CONFIG = ConfigDict(arbitrary_types_allowed=True)

# Ranges of hyper-parameters that mean the same in every class taking them (PyTorch's names), so
# `lr: -0.1` is caught at the key that says it; applied to int/float parameters of these names.
# The constructors still validate their arguments themselves.
COMMON_BOUNDS: dict[str, tuple[Any, ...]] = {
    "lr": (Gt(0),), "max_lr": (Gt(0),), "eps": (Gt(0),), "gamma": (Gt(0),),
    "weight_decay": (Ge(0),), "momentum": (Ge(0),), "dampening": (Ge(0),),
    "step_size": (Ge(1),), "T_max": (Ge(1),), "patience": (Ge(0),), "factor": (Gt(0), Lt(1)),
    "p": (Ge(0), Le(1)), "dropout": (Ge(0), Lt(1)), "label_smoothing": (Ge(0), Le(1)),
    "in_features": (Ge(1),), "out_features": (Ge(1),), "num_classes": (Ge(1),),
    "in_channels": (Ge(1),), "out_channels": (Ge(1),), "num_features": (Ge(1),), "hidden_dropout": (Ge(0), Lt(1)),
}


@dataclass(frozen=True)
class Param:
    """One keyword argument a config may give."""

    name: str
    annotation: Any
    default: Any = REQUIRED
    inferred: bool = False

    @property
    def required(self) -> bool:
        """True when the config must give it (no default, not inferred from the data)."""
        return self.default is REQUIRED and not self.inferred

    @property
    def type_name(self) -> str:
        """The annotation as a short readable string (``float``, ``list[int]``, ``'relu' | 'tanh'``)."""
        return _type_name(self.annotation)

    @property
    def is_path(self) -> bool:
        """True when the parameter takes a filesystem path (its type mentions Path or PathLike)."""
        return _mentions_path(self.annotation)

    @functools.cached_property
    def adapter(self) -> TypeAdapter[Any]:
        """The pydantic TypeAdapter validating this parameter's values."""
        try:
            return TypeAdapter(self.annotation, config=_ADAPTER_CONFIG)
        except PydanticUserError:  # models and dataclasses carry their own config
            return TypeAdapter(self.annotation)


@dataclass(frozen=True)
class Signature:
    """The config-facing parameters of a callable: what may, must and must not be given."""

    target: str  # the callable's name, for messages
    params: dict[str, Param]
    supplied: tuple[str, ...]  # filled by ttrain itself, never by a config
    accepts_any: bool  # the callable takes **kwargs


def _type_name(annotation: Any) -> str:
    if annotation is Any or annotation is REQUIRED:
        return "any"
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *metadata = typing.get_args(annotation)
        symbols = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
        limits = [f"{symbols[k]} {getattr(m, k)}" for m in metadata for k in symbols if hasattr(m, k)]
        return f"{_type_name(base)} ({', '.join(limits)})" if limits else _type_name(base)
    if origin is typing.Literal:
        return " | ".join(repr(v) for v in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(annotation))
    if origin is not None:
        args = ", ".join(_type_name(a) for a in typing.get_args(annotation))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if annotation is type(None):
        return "None"
    if annotation is Ellipsis:
        return "..."
    return getattr(annotation, "__name__", str(annotation))


def _mentions_path(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, (pathlib.PurePath, os.PathLike)):
        return True
    origin = typing.get_origin(annotation)
    if origin is not None and isinstance(origin, type) and issubclass(origin, os.PathLike):
        return True
    if origin is None or origin is typing.Literal:
        return False
    return any(_mentions_path(a) for a in typing.get_args(annotation))


def _with_bounds(name: str, annotation: Any) -> Any:
    """``annotation`` constrained by COMMON_BOUNDS[name] when it is int or float (or Optional of them)."""
    bounds = COMMON_BOUNDS.get(name)
    if bounds is None:
        return annotation
    if annotation in (int, float):
        return typing.Annotated[(annotation, *bounds)]
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 2 and type(None) in args:
        (inner,) = [a for a in args if a is not type(None)]
        if inner in (int, float):
            return typing.Optional[typing.Annotated[(inner, *bounds)]]
    return annotation


_STRICT_SCALARS: dict[Any, Any] = {
    int: typing.Annotated[int, Strict()],  # no bool, no float, no numeric string
    bool: typing.Annotated[bool, Strict()],  # true/false only, not 1 or "yes"
    float: typing.Annotated[float, Strict(), AllowInfNan(False)],  # an int is fine; bool, inf, nan are not
}
# Generic containers whose type arguments are made strict too (others are left as they are).
_CONTAINERS = (list, tuple, dict, set, frozenset, collections.abc.Sequence, collections.abc.Mapping)


def _finite_anywhere(value: Any) -> Any:
    """``value`` itself, after checking that no float in it (however nested) is NaN or infinite."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError(f"expected a finite number, found {item}")
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return value


_FINITE_ANY = typing.Annotated[Any, AfterValidator(_finite_anywhere)]


def strict_annotation(annotation: Any) -> Any:
    """``annotation`` with each ``int``, ``bool`` and ``float`` in it (inside unions, Optional,
    Annotated and containers) made strict, floats also finite, and ``Any`` refusing non-finite floats."""
    if annotation is Any or annotation is REQUIRED:
        return _FINITE_ANY
    if annotation in _STRICT_SCALARS:
        return _STRICT_SCALARS[annotation]
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return typing.Annotated[(strict_annotation(args[0]), *annotation.__metadata__)]
    if origin in (typing.Union, types.UnionType):
        return typing.Union[tuple(strict_annotation(a) for a in args)]
    if origin in _CONTAINERS and args:
        inner = tuple(a if a is Ellipsis else strict_annotation(a) for a in args)
        return origin[inner]
    return annotation


def _hints(obj: Callable[..., Any]) -> dict[str, Any]:
    function = obj.__init__ if isinstance(obj, type) else obj
    try:
        return typing.get_type_hints(function, include_extras=True)
    except Exception:  # unresolvable forward references: fall back to "any" for those parameters
        return {}


def inferred_params(obj: Any) -> tuple[str, ...]:
    """The parameters of ``obj`` that ttrain fills when a config leaves them out, as its class declares:
    the keys of a module's ``inferred_args`` (sizes read from the data), and the ``total_steps_kwarg``
    (``total_steps``, cosine's ``T_max``) of a scheduler that ``needs_total_steps`` (the run's length)."""
    names = tuple(getattr(obj, "inferred_args", None) or ())
    if getattr(obj, "needs_total_steps", False) is True:
        names += (getattr(obj, "total_steps_kwarg", "total_steps"),)
    return names


@functools.lru_cache(maxsize=None)
def signature_of(obj: Callable[..., Any], supplied: int = 0) -> Signature:
    """The config schema of ``obj``'s constructor or call signature.

    The first ``supplied`` positional parameters are passed by ttrain; the parameters its class
    declares inferred (`inferred_params`) become optional (None: infer them).
    """
    inferred = inferred_params(obj)
    try:
        parameters = list(inspect.signature(obj).parameters.values())
    except (TypeError, ValueError):
        parameters = []
        accepts_any = True
    else:
        accepts_any = any(p.kind is p.VAR_KEYWORD for p in parameters)
    named = [p for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    hints = _hints(obj)
    skipped = tuple(p.name for p in named[:supplied])
    params: dict[str, Param] = {}
    for p in named[supplied:]:
        annotation = strict_annotation(_with_bounds(p.name, hints.get(p.name, Any)))
        if p.name in inferred:
            annotation = typing.Optional[annotation]
        default = None if p.name in inferred and p.default is REQUIRED else p.default
        params[p.name] = Param(p.name, annotation, default, p.name in inferred)
    return Signature(getattr(obj, "__qualname__", repr(obj)), params, skipped, accepts_any)


@dataclass(frozen=True)
class KwargIssue:
    """A problem with one keyword argument, ``path`` relative to the component's section."""

    path: KeyPath
    message: str
    suggestion: str | None = None


def validate_kwargs(
    signature: Signature, kwargs: dict[str, Any], other_keys: tuple[str, ...] = ()
) -> tuple[dict[str, Any], list[KwargIssue]]:
    """Validate ``kwargs`` against ``signature``: returns the coerced values and the issues found.

    ``other_keys`` are the section's own keys (``name``, ...), offered as did-you-mean candidates.
    """
    from ttrain.config.pydantic_errors import translate  # noqa: PLC0415 - keeps this module light

    values: dict[str, Any] = {}
    issues: list[KwargIssue] = []
    suggested: set[str] = set()  # a misspelt key already explains its missing counterpart
    for key, value in kwargs.items():
        if key in signature.supplied:
            issues.append(KwargIssue((key,), f"is passed by ttrain, not set in the config (remove {key!r})"))
        elif key in signature.params:
            try:
                values[key] = signature.params[key].adapter.validate_python(value)
            except ValidationError as exc:
                issues += [KwargIssue((key, *path), message, hint) for path, message, hint in translate(exc, value)]
        elif signature.accepts_any:
            values[key] = value
        else:
            suggestion = did_you_mean(key, [*signature.params, *other_keys])
            suggested.add(suggestion or "")
            accepted = ", ".join(signature.params) or "no arguments"
            takes = "" if suggestion else f" ({signature.target} takes: {accepted})"
            issues.append(KwargIssue((key,), f"unknown key for {signature.target}{takes}", suggestion))
    for param in signature.params.values():
        if param.required and param.name not in kwargs and param.name not in suggested:
            message = f"missing required value ({param.type_name}) for {signature.target}"
            issues.append(KwargIssue((param.name,), message))
    return values, issues
