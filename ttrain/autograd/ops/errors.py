"""The error ops raise for inputs of the wrong shape."""

from __future__ import annotations

from typing import Any

import numpy as np


class ShapeError(ValueError):
    """Inputs whose shapes an op cannot combine; the message names the op and the shapes."""


def broadcast_error(op: str, *operands: Any) -> ShapeError:
    """The error for operands that do not broadcast together."""
    shapes = " and ".join(str(np.shape(x)) for x in operands)
    return ShapeError(f"{op}: shapes {shapes} cannot be broadcast together")
