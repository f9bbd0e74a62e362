"""`Parameter`: a tensor that a Module registers as trainable."""

from __future__ import annotations

from typing import Any

import numpy as np

from ttrain.autograd.tensor import Tensor, as_array, unwrap


class Parameter(Tensor):
    """A leaf tensor with `requires_grad=True` that `Module.__setattr__` registers."""

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        # Shares memory with a given tensor or array, as torch.nn.Parameter does.
        if data is None:
            array = np.empty(0, dtype=np.float32)
        else:
            array = unwrap(data)
            if not isinstance(array, np.ndarray):
                array = as_array(array)
        super().__init__(np.empty(0), requires_grad=False)
        self.data = array
        self.requires_grad_(requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
