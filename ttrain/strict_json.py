"""Strict JSON for everything ttrain writes for machines (`--json`, `metrics.jsonl`): no ``NaN``.

Python's ``json`` writes NaN and infinities as ``NaN`` and ``Infinity``, which ``jq``, browsers
and most JSON parsers refuse. Here they become ``null``. A module of its own, free of NumPy, so
that the CLI can import it without loading the training packages.
"""

from __future__ import annotations

import json
import math
from typing import Any

# The version of the JSON layouts ttrain writes for machines: every `--json` output and each run's
# `summary.json` carry it as `schema_version`; `ttrain/schemas/output.schema.json` describes them.
# It goes up when a field is removed or changes meaning, never for a new field.
SCHEMA_VERSION = 1


def finite_or_none(value: Any) -> Any:
    """``value`` with every NaN or infinite float (however nested in dicts, lists, tuples) replaced by None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    return value


def strict_json(value: Any, indent: int | None = None) -> str:
    """``value`` as strict JSON (one line, or indented by ``indent``), a NaN or infinite number as ``null``."""
    return json.dumps(finite_or_none(value), allow_nan=False, indent=indent)
