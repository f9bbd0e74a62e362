"""What a run writes for people besides its metric files, as `trainer` asks: TensorBoard event
files (`loggers: [tensorboard]`, `histograms`) and `curves.png` (`save_curves`). Each needs an
optional package, checked before the run starts so a missing one is a config error at its line."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from ttrain.config import Config, ConfigError, ConfigIssue, SourceMap

# What each option needs: (config key, the module imported, the extra that installs it).
_NEEDS = {"tensorboard": ("trainer.loggers", "tensorboardX", "tensorboard"),
          "save_curves": ("trainer.save_curves", "matplotlib", "plot")}


def installed(module: str) -> bool:
    """Whether `module` can be imported (it is not imported here)."""
    return importlib.util.find_spec(module) is not None


def check_result_extras(config: Config, source: SourceMap | None = None) -> None:
    """A ConfigError, at the key's file and line, for an output whose package is not installed."""
    wanted = [*config.trainer.loggers, *(["save_curves"] if config.trainer.save_curves else [])]
    for option in wanted:
        key, module, extra = _NEEDS[option]
        if not installed(module):
            where = str(source.locate(key.split("."))) if source is not None else None
            raise ConfigError(ConfigIssue(path=key, location=where, message=(
                f"needs {module}, which is not installed: pip install 'ttrain[{extra}]'")))


def result_callbacks(config: Config, run_dir: Path) -> list[Any]:
    """The callbacks that write those outputs into `run_dir` (none unless the config asks)."""
    callbacks: list[Any] = []
    trainer = config.trainer
    if "tensorboard" in trainer.loggers:
        from ttrain.training.callbacks.tensorboard import TensorBoardLogger

        callbacks.append(TensorBoardLogger(run_dir, log_every=trainer.log_every, histograms=trainer.histograms))
    if trainer.save_curves:
        from ttrain.training.callbacks.curves import CurvesWriter

        callbacks.append(CurvesWriter(run_dir, f"{run_dir.parent.name}/{run_dir.name}"))
    return callbacks
