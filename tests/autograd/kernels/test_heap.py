"""The heap setting the conv kernels apply: effective on glibc, a no-op elsewhere, once per process."""

from __future__ import annotations

import platform

import pytest

from ttrain.autograd.kernels import heap


def test_keep_freed_blocks_applies_on_glibc_and_is_idempotent() -> None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        pytest.skip("glibc only")
    assert heap.keep_freed_blocks() is True
    assert heap.keep_freed_blocks() is True


def test_loading_the_kernel_pool_applies_it() -> None:
    import ttrain.autograd.kernels.conv_threads  # noqa: F401

    assert heap._done == (platform.system() == "Linux" and platform.libc_ver()[0] == "glibc")
