"""`--json` output: one strict JSON object on stdout."""

from __future__ import annotations

import json
import math
from typing import Any


def _finite(value: Any) -> Any:
    """`value` with every NaN or infinity replaced by None: strict JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def print_json(value: Any) -> None:
    """Print `value` as one line of strict JSON (a NaN metric becomes null, as `jq` and browsers need)."""
    print(json.dumps(_finite(value), allow_nan=False))
