"""`ttrain.backends`: the switches scripts read or set (`backends.mps.is_available()`,
`backends.cudnn.deterministic = True`). ttrain runs on the CPU: no MPS, no cuDNN; the cuDNN flags
are accepted and change nothing (ttrain's kernels are deterministic for a given thread count)."""

from __future__ import annotations


class _MPS:
    """Apple's Metal backend: never available in ttrain."""

    @staticmethod
    def is_available() -> bool:
        """False: ttrain runs on the CPU only."""
        return False

    @staticmethod
    def is_built() -> bool:
        """False: ttrain is not built with MPS."""
        return False


class _CuDNN:
    """cuDNN's switches, kept so that scripts which set them run; they have no effect."""

    deterministic = False
    benchmark = False
    enabled = True

    @staticmethod
    def is_available() -> bool:
        """False: there is no cuDNN."""
        return False


mps = _MPS()
cudnn = _CuDNN()
