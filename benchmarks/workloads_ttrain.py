"""The benchmark tasks in ttrain: the model a config builds, the optimizer and loss it names, a PyTorch-style step."""

from __future__ import annotations

import numpy as np

from benchmarks.workloads import Inputs, Step, Task, build_ttrain_model


def build(task: Task, inputs: Inputs) -> tuple[Step, float]:
    """A step function over one batch of arrays and a check value (first-batch loss or mean output)."""
    import ttrain
    from ttrain import nn, optim

    model = build_ttrain_model(task.model)
    model.load_state_dict(inputs.init_state(task.model))
    x0, y0 = inputs.batches(task)[0]
    from_numpy = ttrain.from_numpy

    if not task.train:
        model.eval()

        def infer(x: np.ndarray, _y: np.ndarray) -> None:
            with ttrain.no_grad():
                model(from_numpy(x))

        with ttrain.no_grad():
            check = float(model(from_numpy(x0)).numpy().mean())
        return infer, check

    loss_fn = nn.MSELoss() if task.model == "seed" else nn.CrossEntropyLoss()
    model.eval()  # the check loss without dropout, so both frameworks compute the same number
    with ttrain.no_grad():
        check = float(loss_fn(model(from_numpy(x0)), from_numpy(y0)).item())
    if task.model == "seed":
        optimizer = optim.SGD(model.parameters(), lr=0.5)
    else:
        optimizer = optim.Adam(model.parameters(), lr=1e-3)
    model.train()

    def train(x: np.ndarray, y: np.ndarray) -> None:
        optimizer.zero_grad()
        loss = loss_fn(model(from_numpy(x)), from_numpy(y))
        loss.backward()
        optimizer.step()

    return train, check
