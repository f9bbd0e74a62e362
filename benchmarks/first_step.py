"""Run the `ttrain` CLI and note when its first training step ends.

    BENCH_FIRST_STEP_FILE=path python -m benchmarks.first_step fit CONFIG [options]

Writes `time.monotonic()` at the end of the first optimizer step (the Trainer's first
`on_train_batch_end` dispatch) to the file, then lets the command finish as usual. The runner
takes `time.monotonic()` just before starting this process: the difference is the time from
process start to the end of the first step. The hook adds only what ttrain imports anyway.
"""

from __future__ import annotations

import os
import sys
import time


def main() -> None:
    """Patch the callback dispatch, then hand over to `ttrain.cli.main` with the remaining arguments."""
    from ttrain.training.callbacks.base import CallbackList

    path = os.environ["BENCH_FIRST_STEP_FILE"]
    dispatch = CallbackList.on_train_batch_end

    def on_train_batch_end(self: CallbackList, trainer, loss: float, batch_size: int) -> None:  # noqa: ANN001
        if trainer.global_step == 1:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(repr(time.monotonic()))
        dispatch(self, trainer, loss, batch_size)

    CallbackList.on_train_batch_end = on_train_batch_end
    from ttrain.cli import main as ttrain_main

    sys.argv = ["ttrain", *sys.argv[1:]]
    ttrain_main()


if __name__ == "__main__":
    main()
