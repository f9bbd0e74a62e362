"""The JSON Schema of a config file, for editors that complete and check YAML.

The static sections come from the pydantic models; each component section becomes an ``anyOf``
with one branch per registered name, its properties taken from the target's signature (the same
introspection that validates configs), plus a branch for a user's ``package.module:Class``.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from ttrain.config.registry import RegistryError, get_registry
from ttrain.config.schema import COMPONENT_SECTIONS, Config, ModelSpec
from ttrain.config.signature import Param, signature_of

_USER_CLASS = {"type": "string", "pattern": r"^[\w.]+:[\w.]+$", "description": "a user class: package.module:ClassName"}


def _param_schema(param: Param) -> dict[str, Any]:
    try:
        schema = dict(param.adapter.json_schema())
    except Exception:  # a type with no JSON form (an object argument): accept anything
        schema = {}
    if not param.required and not param.inferred:
        try:
            json.dumps(param.default)
            schema["default"] = param.default
        except (TypeError, ValueError):
            pass
    return schema


def _name_branch(category: str, name: str, own: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """The schema of ``{name: <name>, **kwargs}`` for one registered name."""
    registry = get_registry(category)
    properties: dict[str, Any] = {"name": {"const": name}, **own}
    branch: dict[str, Any] = {"type": "object", "properties": properties, "required": ["name"]}
    try:
        entry, target = registry.load(name)
    except RegistryError:
        return branch  # not importable here: the name alone
    signature = signature_of(target, entry.supplied)
    for param in signature.params.values():
        schema = _param_schema(param)
        defs.update(schema.pop("$defs", {}))
        properties[param.name] = schema
    branch["required"] += [p.name for p in signature.params.values() if p.required]
    branch["additionalProperties"] = signature.accepts_any
    doc = (getattr(target, "__doc__", None) or "").strip().splitlines()
    if doc:
        branch["description"] = doc[0]
    return branch


def _section_schema(category: str, own: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    branches = [_name_branch(category, name, own, defs) for name in get_registry(category).names()]
    user = {"type": "object", "properties": {"name": _USER_CLASS, **own}, "required": ["name"]}
    return {"anyOf": [*branches, user]}


def _item_schema(category: str, defs: dict[str, Any]) -> dict[str, Any]:
    """A list item: a bare name, or ``{name: {kwargs}}``."""
    names = get_registry(category).names()
    keyed = []
    for name in names:
        branch = _name_branch(category, name, {}, defs)
        kwargs = {k: v for k, v in branch.items() if k != "required"}
        kwargs["properties"] = {k: v for k, v in branch["properties"].items() if k != "name"}
        kwargs["required"] = [r for r in branch["required"] if r != "name"]
        keyed.append({"type": "object", "properties": {name: kwargs}, "required": [name],
                      "additionalProperties": False})
    return {"anyOf": [{"enum": names}, *keyed]}


def _own_fields(model: type[BaseModel], schema: dict[str, Any]) -> dict[str, Any]:
    """The section model's own properties except ``name`` (``interval``, ``warmup``, ...)."""
    ref = schema["$defs"].get(model.__name__, {})
    return {k: v for k, v in ref.get("properties", {}).items() if k != "name"}


def config_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a ttrain config file."""
    schema = Config.model_json_schema()
    defs = schema.setdefault("$defs", {})
    properties = schema["properties"]
    for section, (category, spec_model) in COMPONENT_SECTIONS.items():
        section_schema = _section_schema(category, _own_fields(spec_model, schema), defs)
        if section == "scheduler":
            section_schema["anyOf"].append({"type": "null"})
        noun = get_registry(category).noun
        properties[section] = {**section_schema, "description": f"a registered {noun} and its arguments"}
    layers = {"type": "object", "properties": {"layers": {"type": "array", "items": _item_schema("layers", defs)}},
              "required": ["layers"], "additionalProperties": False}
    properties["model"] = {"anyOf": [*_section_schema("models", {}, defs)["anyOf"], layers],
                           "description": ModelSpec.__doc__}
    trainer = defs["TrainerConfig"]["properties"]
    trainer["metrics"] = {**trainer["metrics"], "items": _item_schema("metrics", defs)}
    schema["title"] = "ttrain config"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
