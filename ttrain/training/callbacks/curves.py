"""`CurvesWriter`: the run's learning curves drawn into `<run_dir>/curves.png` when training ends."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ttrain.training.callbacks.base import Callback, Priority
from ttrain.training.write_errors import writing

if TYPE_CHECKING:
    from ttrain.training.trainer import Trainer


class CurvesWriter(Callback):
    """At the end of `fit` (also one a stop signal ended), draws every logged quantity's train
    and val curves, as `ttrain plot RUN_DIR` does, into `<directory>/curves.png` (matplotlib)."""

    priority = Priority.METRICS

    def __init__(self, directory: Path, label: str) -> None:
        self.path = Path(directory) / "curves.png"
        self.label = label

    def _draw(self, trainer: "Trainer") -> None:
        if not trainer.history:
            return
        from ttrain.plot.curves import RunCurves, panels
        from ttrain.plot.png import save_png

        run = RunCurves(self.label, self.path.parent, trainer.history)
        with writing("curves", self.path):
            save_png([run], panels([run]), self.path)

    def on_fit_end(self, trainer: "Trainer") -> None:
        self._draw(trainer)

    def on_interrupt(self, trainer: "Trainer") -> None:
        self._draw(trainer)
