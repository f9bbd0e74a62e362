"""`ttrain.device`: where tensors live. ttrain runs on the CPU, so "cpu" is the one device there is.

PyTorch scripts name a device once (`torch.device("cuda" if torch.cuda.is_available() else "cpu")`)
and move models and batches to it with `.to(device)`; with `ttrain.cuda.is_available()` False they
take their CPU path and run unchanged. Asking for an accelerator is an error that says so at once,
rather than a script that silently runs somewhere other than where its author meant.
"""

from __future__ import annotations

from typing import Any

_ACCELERATORS = ("cuda", "mps", "xpu", "hip", "xla", "meta", "mtia", "hpu", "ipu", "vulkan", "privateuseone")


class DeviceError(ValueError, RuntimeError):
    """A device other than the CPU was asked for (a ValueError, as ttrain's bad input is, and a
    RuntimeError, as PyTorch's device errors are)."""


class device:  # noqa: N801  (PyTorch's name)
    """A device, as `torch.device`: `device("cpu")`, `device("cpu:0")` or `device("cpu", 0)`.

    Any other device type (`"cuda"`, `"mps"`, ...) raises `DeviceError`: ttrain runs on the CPU.
    """

    __slots__ = ("type", "index")

    def __init__(self, type: Any, index: int | None = None) -> None:  # noqa: A002
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        if isinstance(type, int) and not isinstance(type, bool):
            raise DeviceError(f"device {type}: a bare device number means a CUDA device; {_CPU_ONLY}")
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string such as 'cpu', got {type.__class__.__name__}")
        name, _, number = type.partition(":")
        if name != "cpu":
            raise DeviceError(f"device {type!r}: {_CPU_ONLY}" if name in _ACCELERATORS
                              else f"device {type!r}: unknown device type (ttrain has only 'cpu')")
        if number:
            if not number.isdigit():
                raise ValueError(f"device {type!r}: the device index must be a number")
            index = int(number)
        self.type = "cpu"
        self.index = index

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except (DeviceError, ValueError, TypeError):
                return False
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __repr__(self) -> str:
        return f"device(type='cpu')" if self.index is None else f"device(type='cpu', index={self.index})"

    def __str__(self) -> str:
        return "cpu" if self.index is None else f"cpu:{self.index}"


_CPU_ONLY = ("ttrain runs on the CPU only (no CUDA, MPS or other accelerator); use 'cpu', or test "
             "ttrain.cuda.is_available(), which is False, to take a script's CPU path")

CPU = device("cpu")


def check_device(target: Any) -> device | None:
    """`target` as a device when it names one (a `device` or a string), None when it is something else
    (a dtype, say); raises `DeviceError` for any device but the CPU."""
    if isinstance(target, device):
        return target
    if isinstance(target, str) and target.partition(":")[0] in ("cpu", *_ACCELERATORS):
        return device(target)
    return None


def require_cpu(target: Any) -> None:
    """Accept None or the CPU (the `device=` argument of factories); raise `DeviceError` for others."""
    if target is not None and check_device(target) is None:
        device(target)  # not a device name at all: device() says what is wrong with it


def requested_dtype(args: tuple[Any, ...], dtype: Any = None, device: Any = None) -> Any:
    """The dtype a PyTorch-style `to(*args, dtype=, device=)` asks for (None: keep it), its device
    checked to be the CPU: a positional tensor gives its dtype, a device is a device, anything else
    is a dtype."""
    for arg in args:
        if hasattr(arg, "dtype") and hasattr(arg, "requires_grad"):  # a tensor (no import: tensor.py imports us)
            dtype = arg.dtype
        elif check_device(arg) is not None:
            device = arg
        else:
            dtype = arg
    require_cpu(device)
    return dtype
