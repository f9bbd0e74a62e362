"""A first run with an empty kernel cache trains on the kernels' twins while a helper process
compiles them (kernels/cold_start.py): it compiles nothing itself, trains to the bits of a run
with the kernels cached, and leaves the cache filled for the next run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from numba import types

from ttrain.autograd.kernels import cold_start

# Trains a small CNN a few steps and prints which ttrain kernels compiled in this process, a digest
# of the trained weights and the helper's pid. It uses every kernel with a twin: the GEMM conv
# (forward, weight gradient), a lone 2x2 max-pool and its backward, the fused conv + ReLU + pool
# (forward, input and weight gradients), dropout, and Adam's update.
SCRIPT = textwrap.dedent("""
    import hashlib, json, os, sys
    import numpy as np
    from numba.core import event
    import ttrain
    from ttrain import nn, optim
    from ttrain.autograd import compilation
    from ttrain.autograd.kernels import cold_start

    compilation.compile_in_background(True)
    if os.environ.get("WORKER_MODULE"):
        cold_start.WORKER_MODULE = os.environ["WORKER_MODULE"]
    compiled = []

    class Compiled(event.Listener):  # compiles that start where cold_start does not refuse them
        def on_start(self, ev):
            name = ev.data["dispatcher"].py_func.__module__ + "." + ev.data["dispatcher"].py_func.__name__
            if name.startswith("ttrain.") and not getattr(cold_start._local, "deferring", False):
                compiled.append(name)

        def on_end(self, ev):
            pass

    event.register("numba:compile", Compiled())
    ttrain.manual_seed(0)
    if os.environ.get("SMALL"):
        model = nn.Sequential(nn.Flatten(), nn.Dropout(0.25), nn.Linear(196, 10))
    else:
        model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.MaxPool2d(2), nn.ReLU(), nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(), nn.Linear(72, 10))
    opt = optim.Adam(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    for step in range(3):
        x = ttrain.tensor(rng.standard_normal((16, 1, 14, 14)).astype(np.float32))
        y = ttrain.tensor(rng.integers(0, 10, 16))
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        if step == 0 and os.environ.get("WORKER_MODULE"):  # a helper that failed: let its end be seen
            cold_start._worker._proc.wait()
            cold_start._worker._reader.join()
    digest = hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in model.parameters())).hexdigest()
    worker = cold_start._worker
    print(json.dumps({"compiled": compiled, "weights": digest, "worker": worker._proc.pid if worker else None}))
""")


def train(cache: Path, background: bool, **env: str) -> dict:
    environ = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "TTRAIN_BACKGROUND_COMPILE": "1" if background else "0",
               **env}
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=environ, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def wait_for_exit(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    raise AssertionError(f"the compile helper {pid} still runs after {timeout} s")


def test_a_cold_run_trains_on_twins_to_the_bits_of_a_warm_run_and_fills_the_cache(tmp_path):
    cache = tmp_path / "cache"
    cold = train(cache, background=True)
    assert cold["compiled"] == []  # every kernel of the run was left to the helper
    assert cold["worker"] is not None
    wait_for_exit(cold["worker"], 300)  # it ends once it has compiled what it was asked
    warm = train(cache, background=False)
    assert warm["compiled"] == []  # all found in the cache the helper filled
    assert warm["weights"] == cold["weights"]


def test_kernels_compile_in_the_run_when_the_helper_fails(tmp_path):
    cache = tmp_path / "cache"
    broken = train(cache, background=True, SMALL="1", WORKER_MODULE="ttrain.no_such_module")
    assert "ttrain.autograd.kernels.elementwise._dropout_into" in broken["compiled"]
    assert "ttrain.optim.fused._adam_kernel" in broken["compiled"]
    plain = train(tmp_path / "other", background=False, SMALL="1")
    assert plain["weights"] == broken["weights"]


def test_switched_off_a_run_compiles_its_kernels_itself(tmp_path):
    plain = train(tmp_path / "cache", background=False, SMALL="1")
    assert plain["worker"] is None
    assert "ttrain.autograd.kernels.elementwise._dropout_into" in plain["compiled"]


@pytest.mark.parametrize("sig", [
    (types.Array(types.float32, 4, "C"), types.int64, types.boolean, types.float64),
    (types.Array(types.float64, 1, "A", readonly=True), types.Array(types.int64, 3, "C"), types.uint64),
])
def test_signatures_reach_the_helper_intact(sig):
    assert cold_start.decode_signature(cold_start.encode_signature(sig)) == sig


def test_signatures_with_other_types_are_not_sent():
    assert cold_start.encode_signature((types.unicode_type,)) is None
    with pytest.raises(ValueError):
        cold_start.decode_signature('[["float32", 2, "X", false]]')
