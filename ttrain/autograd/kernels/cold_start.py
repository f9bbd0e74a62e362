"""Cold start: a kernel missing from Numba's cache compiles in a background process while the run
goes on with the kernel's NumPy twin.

With an empty cache, a CNN's first `ttrain fit` spent ~16 s compiling before its first step: Numba
compiles in the calling process and holds the GIL meanwhile. Where background compiling is on
(`compilation.compile_in_background`, which the CLI's training commands call), the first call of a wrapped kernel
(`Kernel`) asks Numba for its compiled code with compiling forbidden: the compile listener of
`ttrain.autograd.compilation` raises `NotCached` when Numba would start to compile. The kernel's
signature then goes to a helper process (`compile_worker`), which compiles it into the same on-disk
cache, and calls run the twin: a NumPy function doing the same float operations in the same order
on the same BLAS, so it writes the same bits (tests/autograd/kernels/test_kernel_twins.py). Once
the helper answers, the next call loads the kernel from the cache (milliseconds) and runs it.
Results therefore do not depend on when the switch happens: a cold run trains to the bits of a warm
one.

Where the helper cannot help (it failed to start or died, or a kernel it compiled is still not in
the cache: a read-only cache folder), the kernel compiles in this process as before. The helper
runs at a lower priority and ends when this process has ended and it has compiled what it was
asked, so the next run finds those kernels cached. TTRAIN_BACKGROUND_COMPILE=0 switches all this
off.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numba
import numpy as np
from numba import types

from ttrain.autograd import compilation

ENV_SWITCH = "TTRAIN_BACKGROUND_COMPILE"
WORKER_MODULE = "ttrain.autograd.kernels.compile_worker"

_local = threading.local()  # .deferring: this thread asks for kernels with compiling forbidden
_worker_lock = threading.Lock()
_worker: _Worker | None = None
_worker_failed = False


class NotCached(Exception):
    """Numba was about to compile a ttrain kernel that a `Kernel` asked for with compiling forbidden."""


class NoTwin(Exception):
    """A twin cannot give the kernel's bits for these arguments (raised before it writes anything)."""


def enabled() -> bool:
    """Whether missing kernels compile in the background: asked for, not switched off, and a Python
    to run the helper with (a frozen application's executable is the application)."""
    return (compilation.in_background() and os.environ.get(ENV_SWITCH, "1") != "0"
            and not getattr(sys, "frozen", False))


def refuse_compile() -> None:
    """Called by the compile listener when Numba starts compiling a ttrain kernel: raises `NotCached`
    if this thread asked for kernels with compiling forbidden."""
    if getattr(_local, "deferring", False):
        raise NotCached


# ---- signatures sent to the helper, as JSON: arrays and NumPy scalar types only ---------------------


def encode_signature(sig: tuple[types.Type, ...]) -> str | None:
    """The argument types as a JSON line for the helper; None if one is not an array or a scalar."""
    spec: list[Any] = []
    for t in sig:
        if isinstance(t, types.Array):
            dtype = numba.np.numpy_support.as_dtype(t.dtype).name
            spec.append([dtype, t.ndim, t.layout, not t.mutable])
        elif isinstance(t, (types.Integer, types.Float, types.Boolean)):
            spec.append(numba.np.numpy_support.as_dtype(t).name)
        else:
            return None
    return json.dumps(spec)


def decode_signature(text: str) -> tuple[types.Type, ...]:
    """The argument types of `encode_signature`'s JSON (ValueError if it is not that)."""
    sig: list[types.Type] = []
    for item in json.loads(text):
        if isinstance(item, str):
            sig.append(numba.from_dtype(np.dtype(item)))
        elif isinstance(item, list) and len(item) == 4 and item[2] in ("C", "F", "A"):
            dtype, ndim, layout, readonly = item
            sig.append(types.Array(numba.from_dtype(np.dtype(dtype)), int(ndim), layout, readonly=bool(readonly)))
        else:
            raise ValueError(f"not an argument type: {item!r}")
    return tuple(sig)


# ---- the helper process ----------------------------------------------------------------------------


class _Request:
    """One kernel signature sent to the helper; `done` is set when it answers (or ends)."""

    def __init__(self) -> None:
        self.done = threading.Event()


class _Worker:
    """The helper process, and a thread reading its answers ("ok ID" / "failed ID")."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._requests: dict[int, _Request] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", WORKER_MODULE], env=_helper_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True, bufsize=1,
        )
        self._reader = threading.Thread(target=self._read, name="ttrain-compile-answers", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self._proc.stdout:  # type: ignore[union-attr]
            _, _, ident = line.strip().partition(" ")
            with self._lock:
                request = self._requests.pop(int(ident), None) if ident.isdigit() else None
            if request is not None:
                request.done.set()
        with self._lock:  # the helper ended: what it did not answer compiles in this process
            for request in self._requests.values():
                request.done.set()
            self._requests.clear()

    def request(self, module: str, name: str, signature: str) -> _Request | None:
        """Ask for kernel `module.name` compiled for `signature`; None if the helper is gone."""
        request = _Request()
        with self._lock:
            ident = next(self._ids)
            self._requests[ident] = request
            try:
                self._proc.stdin.write(f"{ident}\t{module}\t{name}\t{signature}\n")  # type: ignore[union-attr]
                self._proc.stdin.flush()  # type: ignore[union-attr]
            except (OSError, ValueError):
                del self._requests[ident]
                return None
        return request


def _helper_env() -> dict[str, str]:
    """This environment with this ttrain's folder first on PYTHONPATH: the helper compiles the same
    kernel source files (Numba's cache entries are keyed on them)."""
    root = str(Path(__file__).resolve().parents[3])
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": root + os.pathsep + path if path else root}


def _helper() -> _Worker | None:
    """The helper process, started on first use; None where there is none (failed to start, or this
    process is a fork of the one that started it)."""
    global _worker, _worker_failed
    with _worker_lock:
        if _worker is not None and _worker.pid == os.getpid():
            return _worker
        if _worker_failed or _worker is not None:
            return None
        try:
            _worker = _Worker()
        except OSError:
            _worker_failed = True
            return None
        return _worker


# ---- kernels with twins ------------------------------------------------------------------------------


class Kernel:
    """A Numba kernel called from Python, with a NumPy twin giving its bits while it compiles in the
    background. `ready(*args)` says whether the compiled kernel runs now, for callers that have their
    own NumPy path instead of a twin (twin None)."""

    def __init__(self, jitted: Any, twin: Callable[..., Any] | None) -> None:
        self.jitted = jitted
        self.twin = twin
        self._loaded = not hasattr(jitted, "overloads")  # NUMBA_DISABLE_JIT: a plain Python function
        self._pending: dict[tuple, _Request] = {}
        self._lock = threading.Lock()
        function = getattr(jitted, "py_func", jitted)
        self.module, self.name = function.__module__, function.__name__
        functools.update_wrapper(self, function, updated=())

    def __call__(self, *args: Any) -> Any:
        if self._loaded or self.ready(*args):
            return self.jitted(*args)
        try:
            if self.twin is None:
                raise NoTwin
            return self.twin(*args)
        except NoTwin:
            self._compile_here(self._signature(args))
            return self.jitted(*args)

    def _signature(self, args: tuple) -> tuple:
        return tuple(numba.typeof(a) for a in args)

    def _compile_here(self, sig: tuple) -> None:
        self.jitted.compile(sig)
        self._loaded = True

    def ready(self, *args: Any) -> bool:
        """Whether the compiled kernel runs these arguments now: loaded, loadable from the cache, or
        to compile in this process (background compiling off or unavailable). False while the
        helper compiles it."""
        if self._loaded:
            return True
        if not enabled():
            self._loaded = True  # the dispatcher compiles on its first call, as any Numba function
            return True
        sig = self._signature(args)
        with self._lock:
            asked = self._pending.get(sig)
            if asked is not None and not asked.done.is_set() and _helper() is not None:
                return False  # (no helper here: a fork of the process that asked, whose helper answers it only)
            _local.deferring = True
            try:
                self.jitted.compile(sig)  # a cache hit loads it; a miss raises NotCached
            except NotCached:
                pass
            else:
                self._loaded = True
                return True
            finally:
                _local.deferring = False
            # Not cached: ask the helper, unless it was asked already (it failed, or saved it where
            # this process cannot load it from) or cannot be.
            encoded = encode_signature(sig)
            helper = _helper() if asked is None and encoded is not None else None
            request = helper.request(self.module, self.name, encoded) if helper is not None else None  # type: ignore[arg-type]
            if request is None:
                self._compile_here(sig)
                return True
            self._pending[sig] = request
            return False


def with_twin(twin: Callable[..., Any] | None) -> Callable[[Any], Kernel]:
    """Decorator for a Numba kernel called from Python: wrap it in a `Kernel` with `twin` (None: no
    twin; callers check `Kernel.ready` and take their own NumPy path)."""

    def wrap(jitted: Any) -> Kernel:
        return Kernel(jitted, twin)

    return wrap
