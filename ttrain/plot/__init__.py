"""Learning curves of runs: as a PNG through matplotlib (`png`), or as text in the terminal
through plotext (`terminal`); both are optional (the `plot` extra) and imported only here."""

from __future__ import annotations

import importlib.util

from ttrain.plot.curves import Panel, RunCurves, panels, read_runs

INSTALL_HINT = "pip install 'ttrain[plot]'"


def have_matplotlib() -> bool:
    """Whether matplotlib can be imported (without importing it)."""
    return importlib.util.find_spec("matplotlib") is not None


__all__ = ["INSTALL_HINT", "Panel", "RunCurves", "have_matplotlib", "panels", "read_runs"]
