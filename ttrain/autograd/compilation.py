"""Compiling the Numba kernels: say, once per process, that they are compiling (an empty Numba
cache: a first run), or compile them all ahead of time (`compile_all`, behind `ttrain compile`).

This is the kernels' public face for the rest of ttrain (the kernels package itself is private to
the engine). Library code never prints: the application installs a notifier (`set_notifier`; the
CLI writes to stderr) and the kernel modules call `watch()` when they load. Numba reports a compile only on a
cache miss ("numba:compile" events), so a warm cache costs nothing per call. The same listener
stops a compile that `kernels.cold_start` wants in a background process instead
(`compile_in_background`). This module imports numba only inside `watch`, so installing a notifier
keeps `import ttrain` and the CLI light.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

MESSAGE = "compiling kernels, first run only"

_notifier: Callable[[str], None] | None = None
_told = False
_background = False
_watching = False


def set_notifier(notifier: Callable[[str], None] | None) -> None:
    """Call `notifier(MESSAGE)` the first time a ttrain kernel compiles in this process (None: stay silent)."""
    global _notifier
    _notifier = notifier


def _on_compile_start(dispatcher_module: str) -> None:
    global _told
    if _told or _notifier is None or not dispatcher_module.startswith("ttrain."):
        return
    _told = True
    _notifier(MESSAGE)


def watch() -> None:
    """Listen for Numba compiling a ttrain kernel (idempotent; kernel modules call it on import)."""
    global _watching
    if _watching:
        return
    from numba.core import event

    from ttrain.autograd.kernels import cold_start

    class _Listener(event.Listener):
        def on_start(self, ev: event.Event) -> None:
            module = getattr(ev.data["dispatcher"].py_func, "__module__", "") or ""
            _on_compile_start(module)
            if module.startswith("ttrain."):
                cold_start.refuse_compile()  # raises where the kernel is to compile in the background

        def on_end(self, ev: event.Event) -> None:
            pass

    event.register("numba:compile", _Listener())
    _watching = True


def compile_all(on_group: Callable[[str, str], None] | None = None) -> None:
    """Compile every kernel (convolution, pooling, optimizers, elementwise; float32 and float64) into the
    cache runs load from, one process per core; `on_group(group, dtype)` is called as each group is done."""
    from ttrain.autograd.kernels import warmup

    warmup.compile_kernels(on_group)


def compile_in_background(on: bool = True) -> None:
    """From now on (until called with False), a kernel missing from the cache compiles in a
    background process while this one runs its NumPy twin (`kernels.cold_start`;
    TTRAIN_BACKGROUND_COMPILE=0 keeps compiling here). The CLI's training commands turn it on."""
    global _background
    _background = on


def in_background() -> bool:
    """Whether `compile_in_background` is on."""
    return _background


def background_kernel(twin: Callable[..., Any] | None = None) -> Callable[[Any], Any]:
    """Decorator for a Numba kernel outside the engine (the optimizers'), so that it too compiles in
    the background on a first run: `kernels.cold_start.with_twin` (imports numba)."""
    from ttrain.autograd.kernels.cold_start import with_twin

    return with_twin(twin)
