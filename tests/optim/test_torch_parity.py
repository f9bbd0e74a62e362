"""The same optimizer steps, schedules and clipping in torch and in ttrain (skipped without torch)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import ttrain
from ttrain import optim
from ttrain.nn.parameter import Parameter
from ttrain.optim import lr_scheduler as S

torch = pytest.importorskip("torch")

OPTIMIZERS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.2, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1, amsgrad=True, maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.5, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.9, centered=True, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.2, maximize=True)),
]
# float32: both round every operation to float32, but torch fuses some into FMAs
TOLERANCE = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}


@pytest.mark.parametrize("fused", [False, True], ids=["numpy", "kernel"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name, kwargs", OPTIMIZERS, ids=[f"{n}-{k}" for n, k in OPTIMIZERS])
def test_optimizer_matches_torch_over_ten_steps(name, kwargs, dtype, fused, make_problem, set_grads):
    init, grads = make_problem(dtype=dtype, steps=10, shapes=[(6, 5), (5,)])
    ours = [Parameter(a.copy()) for a in init]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    opt = getattr(optim, name)(ours, fused=fused, **kwargs)
    topt = getattr(torch.optim, name)(theirs, **kwargs)
    for step_grads in grads:
        set_grads(ours, step_grads)
        for p, g in zip(theirs, step_grads):
            p.grad = torch.from_numpy(g.copy())
        opt.step()
        topt.step()
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.data, b.detach().numpy(), **TOLERANCE[dtype])


def _pair(make, steps=30, metrics=None):
    """lr (and momentum) sequences of the same schedule in ttrain and torch, two param groups."""
    out = []
    for lib, opt_mod, sched_mod, param in [
        ("ttrain", optim, S, lambda: Parameter(np.zeros(1))),
        ("torch", torch.optim, torch.optim.lr_scheduler, lambda: torch.zeros(1, requires_grad=True)),
    ]:
        opt = opt_mod.SGD([{"params": [param()]}, {"params": [param()], "lr": 0.03}], lr=0.1, momentum=0.9)
        sched = make(sched_mod, opt)
        seq = [(*sched.get_last_lr(), *(g["momentum"] for g in opt.param_groups))]
        for i in range(steps):
            opt.step()
            if metrics is None:
                sched.step()
            else:
                sched.step(metrics[i])
            seq.append((*sched.get_last_lr(), *(g["momentum"] for g in opt.param_groups)))
        out.append(np.array(seq, dtype=np.float64))
    return out


SCHEDULES = {
    "StepLR": lambda m, o: m.StepLR(o, step_size=4, gamma=0.5),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, milestones=[3, 10, 10, 25], gamma=0.3),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.9),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, T_max=12, eta_min=0.001),
    "LinearLR": lambda m, o: m.LinearLR(o, start_factor=0.25, end_factor=0.75, total_iters=8),
    "OneCycleLR-cos": lambda m, o: m.OneCycleLR(o, max_lr=[1.0, 0.3], total_steps=30),
    "OneCycleLR-linear-3phase": lambda m, o: m.OneCycleLR(o, max_lr=1.0, epochs=3, steps_per_epoch=10,
                                                          pct_start=0.2, anneal_strategy="linear", three_phase=True,
                                                          div_factor=5.0, final_div_factor=50.0),
    "SequentialLR-warmup-cosine": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.1, total_iters=5), m.CosineAnnealingLR(o, T_max=25)], milestones=[5]),
    "SequentialLR-three": lambda m, o: m.SequentialLR(
        o, [m.ExponentialLR(o, gamma=0.5), m.StepLR(o, step_size=3), m.LinearLR(o, start_factor=0.5)],
        milestones=[4, 12]),
}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_scheduler_matches_torch_at_every_step(name):
    ours, theirs = _pair(SCHEDULES[name])
    np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=0)


def test_reduce_on_plateau_matches_torch():
    metrics = [1.0, 0.9, 0.95, 0.95, 0.95, 0.8, 0.8, 0.8, 0.8, 0.85, 0.7] + [0.7] * 19

    def make(module, opt):
        return module.ReduceLROnPlateau(opt, factor=0.5, patience=2, cooldown=1, threshold=0.05, min_lr=0.004)

    ours, theirs = _pair(make, metrics=metrics)
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_grad_norm_matches_torch(norm_type, dtype, make_problem):
    _, grads = make_problem(dtype=dtype, steps=1, shapes=[(20, 30), (30,), (7,)])
    ours, theirs = [], []
    for g in grads[0]:
        p = Parameter(np.zeros_like(g))
        p.grad = ttrain.tensor(g * 3)
        ours.append(p)
        t = torch.zeros(g.shape, dtype=torch.from_numpy(g).dtype, requires_grad=True)
        t.grad = torch.from_numpy(g * 3)
        theirs.append(t)
    total = optim.clip_grad_norm_(ours, max_norm=1.5, norm_type=norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(theirs, max_norm=1.5, norm_type=norm_type)
    tol = TOLERANCE[dtype]
    np.testing.assert_allclose(total.item(), ttotal.item(), **tol)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), **tol)
