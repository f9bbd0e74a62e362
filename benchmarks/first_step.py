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
    from ttrain.training.callbacks.callback_list import CallbackList

    path = os.environ["BENCH_FIRST_STEP_FILE"]
    dispatch = CallbackList.call

    def call(self: CallbackList, hook: str, *args) -> None:  # noqa: ANN002
        if hook == "on_train_batch_end" and args[0].global_step == 1:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(repr(time.monotonic()))
        dispatch(self, hook, *args)

    CallbackList.call = call
    from ttrain.cli import main as ttrain_main

    sys.argv = ["ttrain", *sys.argv[1:]]
    ttrain_main()


if __name__ == "__main__":
    main()
