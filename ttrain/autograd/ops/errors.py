"""The error ops raise for inputs of the wrong shape."""

from __future__ import annotations

from typing import Any

import numpy as np


class ShapeError(ValueError):
    """Inputs whose shapes an op cannot combine; the message names the op and the shapes."""


def broadcast_error(op: str, a: Any, b: Any) -> ShapeError:
    """The error for two operands that do not broadcast together."""
    return ShapeError(f"{op}: shapes {np.shape(a)} and {np.shape(b)} cannot be broadcast together")
