"""Strict JSON for everything ttrain writes for machines (`--json`, `metrics.jsonl`): no ``NaN``.

Python's ``json`` writes NaN and infinities as ``NaN`` and ``Infinity``, which ``jq``, browsers
and most JSON parsers refuse. Here they become ``null``. A module of its own, free of NumPy, so
that the CLI can import it without loading the training packages.
"""

from __future__ import annotations

import json
import math
from typing import Any


def finite_or_none(value: Any) -> Any:
    """``value`` with every NaN or infinite float (however nested in dicts, lists, tuples) replaced by None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    return value


def strict_json(value: Any) -> str:
    """``value`` as one line of strict JSON, a NaN or infinite number written as ``null``."""
    return json.dumps(finite_or_none(value), allow_nan=False)
