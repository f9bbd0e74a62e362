"""The LSTM benchmark task: ttrain and PyTorch start from the same weights and data, so both compute
the same first-batch loss, and a step of each runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.workloads import Inputs, prepare_inputs, tasks_for


def test_both_sides_build_the_same_lstm_and_train_a_step(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from benchmarks import workloads_torch, workloads_ttrain

    assert prepare_inputs(tmp_path, {"lstm"}) == {}
    (task,) = tasks_for(["lstm"])
    assert task.target == 1.0 and task.batch_size == 64
    inputs = Inputs.load(tmp_path)
    x, y = inputs.batches(task)[0]
    assert x.shape == (64, 28, 28)
    ours, our_check = workloads_ttrain.build(task, inputs)
    theirs, their_check = workloads_torch.build(task, inputs)
    assert our_check == pytest.approx(their_check, rel=1e-5)
    ours(x, y)
    theirs(x, y)
