"""Hyperparameter sweeps on Optuna: `ttrain sweep CONFIG --grid ...` or `--param ... --trials N`.

`make_plan` checks the config, its `sweep:` section and the options; `prepare` creates (or finds,
for `--resume`) the sweep directory; `run_sweep` runs the trials in one or more workers sharing
the study and returns the results (see `ttrain.sweep.runner` for the layout). Importing this
package does not import Optuna: only running a sweep does.
"""

from ttrain.sweep.plan import SweepPlan, make_plan
from ttrain.sweep.runner import prepare, run_sweep

__all__ = ["SweepPlan", "make_plan", "prepare", "run_sweep"]
