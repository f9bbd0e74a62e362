"""`ttrain.cuda`: what scripts ask before choosing a device. ttrain runs on the CPU, so there is no
CUDA device: `is_available()` is False and scripts take their CPU path; the seeding calls that many
scripts make unconditionally are harmless no-ops, as they are in PyTorch without a GPU."""

from __future__ import annotations


def is_available() -> bool:
    """False: ttrain has no CUDA devices."""
    return False


def device_count() -> int:
    """0: ttrain has no CUDA devices."""
    return 0


def manual_seed(seed: int) -> None:
    """Nothing to seed: there is no CUDA device (PyTorch ignores the call without one too)."""


def manual_seed_all(seed: int) -> None:
    """Nothing to seed: there is no CUDA device."""


def synchronize(device: object = None) -> None:
    """Nothing to wait for: CPU work has finished when a call returns."""


def empty_cache() -> None:
    """Nothing to free: there is no CUDA memory."""
