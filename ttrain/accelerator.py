"""`ttrain.accelerator`: PyTorch 2.6's device-neutral check. ttrain runs on the CPU: no accelerator."""

from __future__ import annotations


def is_available() -> bool:
    """False: ttrain runs on the CPU only."""
    return False


def current_accelerator(check_available: bool = False) -> None:
    """None: there is no accelerator."""
    return None


def device_count() -> int:
    """0: there is no accelerator."""
    return 0
