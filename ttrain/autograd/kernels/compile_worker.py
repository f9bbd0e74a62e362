"""The cold-start helper process (`cold_start`): compiles ttrain kernels into Numba's on-disk cache.

    python -m ttrain.autograd.kernels.compile_worker

Reads requests "ID<tab>MODULE<tab>KERNEL<tab>SIGNATURE" on stdin, one a line (SIGNATURE: the JSON of
`cold_start.encode_signature`), compiles them in order and answers "ok ID" or "failed ID". Ends
when stdin closes (the run that started it has ended) and it has compiled what it was asked, so
the next run finds those kernels cached even when this one was short.
"""

from __future__ import annotations

import importlib
import os
import sys


def _compile(module: str, name: str, signature: str) -> None:
    from ttrain.autograd.kernels.cold_start import decode_signature

    if not module.startswith("ttrain."):
        raise ValueError(f"not a ttrain kernel: {module}")  # imports only ttrain's own modules
    kernel = getattr(importlib.import_module(module), name)
    getattr(kernel, "jitted", kernel).compile(decode_signature(signature))


def main() -> None:
    """Answer requests until stdin closes."""
    from ttrain.autograd import compilation

    compilation.set_notifier(None)  # the run that started this one says it
    if hasattr(os, "nice"):
        os.nice(10)  # background work: the run itself goes first
    for line in sys.stdin:
        ident, module, name, signature = (line.rstrip("\n").split("\t") + ["", "", ""])[:4]
        try:
            _compile(module, name, signature)
            answer = "ok"
        except Exception:  # noqa: BLE001 (any failure: the run compiles it itself)
            answer = "failed"
        try:
            print(f"{answer} {ident}", flush=True)
        except OSError:  # the run has ended: finish what it asked, unheard
            pass


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
