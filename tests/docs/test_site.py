"""The docs site builds with `mkdocs build --strict` (a broken link or a page left out is an error)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .helpers import ROOT


def test_site_builds_strictly(tmp_path) -> None:
    pytest.importorskip("mkdocs")
    pytest.importorskip("material")
    site = tmp_path / "site"
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stderr
    for page in ("tutorial", "config-reference", "json-output", "checkpoint-format", "interop"):
        assert (site / page / "index.html").is_file(), page
    assert "optimizer: adam" in (site / "config-reference" / "index.html").read_text(encoding="utf-8")
