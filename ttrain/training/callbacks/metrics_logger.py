"""`MetricsLogger`: one JSON line per epoch in `metrics.jsonl`, and the same table as `metrics.csv`."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

from ttrain.training.callbacks.base import Callback, Priority
from ttrain.strict_json import strict_json
from ttrain.training.write_errors import writing

if TYPE_CHECKING:
    from ttrain.training.trainer import Trainer


class MetricsLogger(Callback):
    """Appends each epoch's metrics to `<directory>/metrics.jsonl` and rewrites `metrics.csv`.

    Every line of `metrics.jsonl` is strict JSON: a NaN or infinite value (an empty split's
    accuracy, a diverged loss) is written as ``null``. The CSV writes such values as ``nan``,
    ``inf`` and ``-inf``, which pandas, NumPy and Python's ``float()`` read back as the same
    numbers. A failed write (disk full) is an `OutputWriteError` naming the file.
    """

    priority = Priority.METRICS

    def __init__(self, directory: Path) -> None:
        self.jsonl_path = Path(directory) / "metrics.jsonl"
        self.csv_path = Path(directory) / "metrics.csv"

    def on_fit_start(self, trainer: "Trainer") -> None:
        # A resumed run starts its new directory with the epochs it continues from.
        if trainer.history and not self.jsonl_path.exists():
            with writing("metrics", self.jsonl_path), open(self.jsonl_path, "w", encoding="utf-8") as f:
                f.writelines(strict_json(row) + "\n" for row in trainer.history)
            self._write_csv(trainer.history)

    def on_train_epoch_end(self, trainer: "Trainer", metrics: dict[str, float]) -> None:
        with writing("metrics", self.jsonl_path), open(self.jsonl_path, "a", encoding="utf-8") as f:
            f.write(strict_json(metrics) + "\n")
        self._write_csv(trainer.history)

    def _write_csv(self, history: list[dict[str, float]]) -> None:
        # The CSV is rewritten whole from the history, so columns stay aligned if they change.
        # Columns follow the newest row: rows restored from a checkpoint come back with sorted keys.
        columns: list[str] = []
        for row in reversed(history):
            columns.extend(k for k in row if k not in columns)
        with writing("metrics", self.csv_path), open(self.csv_path, "w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(history)
