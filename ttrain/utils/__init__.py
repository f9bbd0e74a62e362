"""`ttrain.utils`: PyTorch's `torch.utils` names a script uses, `utils.data` (datasets, samplers,
`DataLoader`) and `utils.hooks` (`RemovableHandle`). Each loads on first access."""

from __future__ import annotations

import importlib
from typing import Any

_SUBMODULES = ("data", "hooks")


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"ttrain.utils.{name}")
    raise AttributeError(f"module 'ttrain.utils' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_SUBMODULES})
