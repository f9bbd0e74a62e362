"""Kernels are cached on disk, and still cache when the installed package folder is read-only."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

# Runs in a fresh process: the package folder refuses writes (as for a system-wide install), so
# Numba's in-tree cache cannot be used and the kernel must be cached in the user's cache folder.
_READ_ONLY_PACKAGE = textwrap.dedent(
    """
    import os, tempfile
    import numpy as np
    import ttrain

    package = os.path.dirname(ttrain.__file__)
    real = tempfile.TemporaryFile

    def refuse_package(*args, dir=None, **kwargs):
        if dir is not None and os.path.abspath(dir).startswith(package):
            raise PermissionError(13, "Read-only file system", dir)
        return real(*args, dir=dir, **kwargs)

    tempfile.TemporaryFile = refuse_package
    from ttrain.autograd.kernels.elementwise import erf

    print(float(erf(np.array([0.5], dtype=np.float32))[0]))
    """
)


def test_kernels_fall_back_to_a_user_cache_folder_when_the_package_is_read_only(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    env.pop("NUMBA_CACHE_DIR", None)
    env.pop("NUMBA_DISABLE_JIT", None)
    result = subprocess.run([sys.executable, "-c", _READ_ONLY_PACKAGE], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert abs(float(result.stdout) - 0.5204998778) < 1e-6
    cached = [p.name for p in (tmp_path / "cache").rglob("*") if p.suffix in (".nbi", ".nbc")]
    assert any(name.startswith("elementwise") for name in cached), cached
