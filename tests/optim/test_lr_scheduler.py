"""LR schedulers: each lr sequence against its NumPy closed form, behaviour, state dicts, errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ttrain.nn.parameter import Parameter
from ttrain.optim import SGD, Adam
from ttrain.optim import lr_scheduler as S

BASE = np.array([0.1, 0.04])  # two parameter groups with their own base lr
STEPS = 30


def _sgd(**kwargs):
    a, b = Parameter(np.zeros(1)), Parameter(np.zeros(1))
    return SGD([{"params": [a]}, {"params": [b], "lr": BASE[1]}], lr=BASE[0], **kwargs)


def _lrs(scheduler, steps=STEPS):
    """The lrs of both groups right after construction and after each of `steps` steps."""
    out = [scheduler.get_last_lr()]
    for _ in range(steps):
        scheduler.optimizer.step()
        scheduler.step()
        out.append(scheduler.get_last_lr())
    return np.array(out)


EPOCHS = np.arange(STEPS + 1)[:, None]

CLOSED_FORMS = {
    "step": (lambda o: S.StepLR(o, step_size=4, gamma=0.5), BASE * 0.5 ** (EPOCHS // 4)),
    "multistep": (lambda o: S.MultiStepLR(o, milestones=[3, 10, 10, 25], gamma=0.3),
                  BASE * 0.3 ** np.searchsorted([3, 10, 10, 25], EPOCHS, side="right")),
    "exponential": (lambda o: S.ExponentialLR(o, gamma=0.9), BASE * 0.9**EPOCHS),
    "cosine": (lambda o: S.CosineAnnealingLR(o, T_max=12, eta_min=0.001),
               0.001 + (BASE - 0.001) * (1 + np.cos(np.pi * EPOCHS / 12)) / 2),
    "linear": (lambda o: S.LinearLR(o, start_factor=0.25, end_factor=0.75, total_iters=8),
               BASE * (0.25 + 0.5 * np.minimum(EPOCHS, 8) / 8)),
}


@pytest.mark.parametrize("name", list(CLOSED_FORMS))
def test_lr_sequence_matches_closed_form(name):
    make, expected = CLOSED_FORMS[name]
    np.testing.assert_allclose(_lrs(make(_sgd())), expected, rtol=1e-10, atol=1e-15)


def _one_cycle_expected(total, max_lr, pct, div, final_div, anneal):
    """OneCycleLR's two phases written out: warm up to max_lr, then anneal to the minimum."""
    initial, minimum = max_lr / div, max_lr / div / final_div
    up_end = pct * total - 1
    out = []
    for t in range(total):
        if t <= up_end:
            start, end, frac = initial, max_lr, t / up_end
        else:
            start, end, frac = max_lr, minimum, (t - up_end) / (total - 1 - up_end)
        if anneal == "cos":
            out.append(end + (start - end) / 2 * (1 + math.cos(math.pi * frac)))
        else:
            out.append(start + (end - start) * frac)
    return np.array(out)


@pytest.mark.parametrize("anneal", ["cos", "linear"])
def test_one_cycle_matches_closed_form(anneal):
    opt = _sgd(momentum=0.9)
    sched = S.OneCycleLR(opt, max_lr=[1.0, 0.5], total_steps=STEPS, pct_start=0.3, anneal_strategy=anneal,
                         div_factor=10.0, final_div_factor=100.0)
    lrs = _lrs(sched, steps=STEPS - 1)
    for group, top in enumerate([1.0, 0.5]):
        np.testing.assert_allclose(lrs[:, group], _one_cycle_expected(STEPS, top, 0.3, 10.0, 100.0, anneal), rtol=1e-10)
    assert opt.param_groups[0]["initial_lr"] == 0.1 and opt.param_groups[1]["min_lr"] == pytest.approx(5e-4)
    sched.step()  # step 30 is allowed, as in torch
    with pytest.raises(ValueError, match="Tried to step 31 times"):
        sched.step()


def test_one_cycle_cycles_momentum_or_beta1_against_the_lr():
    opt = _sgd(momentum=0.9)
    sched = S.OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=0.5, anneal_strategy="linear")
    momenta = [opt.param_groups[0]["momentum"]]
    for _ in range(9):
        sched.step()
        momenta.append(opt.param_groups[0]["momentum"])
    assert momenta[0] == pytest.approx(0.95) and momenta[-1] == pytest.approx(0.95)
    assert min(momenta) == pytest.approx(0.85)
    assert momenta[4] == pytest.approx(0.85)  # lowest momentum at the peak lr
    adam = Adam([Parameter(np.zeros(1))], betas=(0.9, 0.99))
    S.OneCycleLR(adam, max_lr=1.0, total_steps=10)
    assert adam.param_groups[0]["betas"] == (0.95, 0.99)


def test_one_cycle_three_phase_and_epochs_times_steps():
    opt = _sgd()
    sched = S.OneCycleLR(opt, max_lr=1.0, epochs=2, steps_per_epoch=10, pct_start=0.25, three_phase=True,
                         cycle_momentum=False, anneal_strategy="linear")
    assert sched.total_steps == 20
    lrs = _lrs(sched, steps=19)[:, 0]
    assert lrs[0] == pytest.approx(0.04) and lrs[4] == pytest.approx(1.0) and lrs[8] == pytest.approx(0.04)
    assert lrs[-1] == pytest.approx(0.04 / 1e4)


def test_reduce_on_plateau_waits_patience_then_cools_down():
    opt = _sgd()
    sched = S.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=2, cooldown=1, min_lr=[0.02, 0.0])
    metrics = [1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95]
    lrs = []
    for m in metrics:
        sched.step(m)
        lrs.append(sched.get_last_lr())
    # best 0.9 at step 2; bad steps 3, 4, 5 -> reduce at 5; cooldown swallows step 6; bad 7, 8, 9 -> reduce at 9
    expected = [[0.1, 0.04]] * 4 + [[0.05, 0.02]] * 4 + [[0.025, 0.01]] * 2
    np.testing.assert_allclose(lrs, expected)
    for _ in range(20):
        sched.step(0.95)
    assert sched.get_last_lr()[0] == 0.02  # never below min_lr


@pytest.mark.parametrize("mode, threshold_mode, metrics, reductions", [
    ("max", "abs", [1.0, 1.05, 1.08, 1.09], 1),  # +0.1 needed: three steps without improvement
    ("max", "rel", [1.0, 2.0, 3.0, 4.0], 0),
    ("min", "rel", [1.0, 0.99999, 0.99998, 0.99997], 1),  # improvements below the 1e-4 relative threshold
])
def test_reduce_on_plateau_threshold_modes(mode, threshold_mode, metrics, reductions):
    opt = _sgd()
    sched = S.ReduceLROnPlateau(opt, mode=mode, threshold_mode=threshold_mode, threshold=0.1 if threshold_mode == "abs"
                                else 1e-4, patience=2, factor=0.5)
    for m in metrics:
        sched.step(m)
    assert sched.get_last_lr()[0] == pytest.approx(0.1 * 0.5**reductions)


def test_sequential_warmup_then_cosine():
    opt = _sgd()
    warmup = S.LinearLR(opt, start_factor=0.1, total_iters=5)
    cosine = S.CosineAnnealingLR(opt, T_max=25)
    sched = S.SequentialLR(opt, [warmup, cosine], milestones=[5])
    lrs = _lrs(sched)
    epochs = EPOCHS[:, 0]
    warm = BASE * (0.1 + 0.9 * epochs[:5, None] / 5)
    cos = BASE * (1 + np.cos(np.pi * (epochs[5:, None] - 5) / 25)) / 2
    np.testing.assert_allclose(lrs, np.vstack([warm, cos]), rtol=1e-10, atol=1e-15)


def test_initial_lr_recorded_and_base_lrs():
    opt = _sgd()
    sched = S.StepLR(opt, step_size=2)
    assert [g["initial_lr"] for g in opt.param_groups] == list(BASE)
    assert sched.base_lrs == list(BASE) and sched.last_epoch == 0


def test_step_with_epoch_uses_closed_form_and_warns():
    sched = S.ExponentialLR(_sgd(), gamma=0.5)
    with pytest.warns(UserWarning, match="deprecated"):
        sched.step(3)
    np.testing.assert_allclose(sched.get_last_lr(), BASE * 0.125)


SCHEDULERS = {
    "step": lambda o: S.StepLR(o, step_size=3, gamma=0.5),
    "multistep": lambda o: S.MultiStepLR(o, milestones=[2, 6], gamma=0.5),
    "exponential": lambda o: S.ExponentialLR(o, gamma=0.9),
    "cosine": lambda o: S.CosineAnnealingLR(o, T_max=5, eta_min=0.01),
    "linear": lambda o: S.LinearLR(o, start_factor=0.2, total_iters=6),
    "onecycle": lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=20),
    "sequential": lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.5, total_iters=3),
                                               S.ExponentialLR(o, gamma=0.8)], milestones=[3]),
}


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_state_dict_round_trip_through_json_continues_exactly(name):
    opt = _sgd(momentum=0.9)
    sched = SCHEDULERS[name](opt)
    _lrs(sched, steps=7)
    saved_sched = json.loads(json.dumps(sched.state_dict()))
    saved_opt = opt.state_dict()
    expected = _lrs(sched, steps=8)[1:]

    opt2 = _sgd(momentum=0.9)
    sched2 = SCHEDULERS[name](opt2)
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved_sched)
    np.testing.assert_array_equal(_lrs(sched2, steps=8)[1:], expected)


def test_reduce_on_plateau_state_dict_round_trip():
    opt = _sgd()
    sched = S.ReduceLROnPlateau(opt, patience=1)
    for m in [1.0, 2.0]:
        sched.step(m)
    sched2 = S.ReduceLROnPlateau(_sgd(), patience=1)
    sched2.load_state_dict(json.loads(json.dumps(sched.state_dict())))
    assert sched2.best == 1.0 and sched2.num_bad_epochs == 1
    sched2.step(3.0)
    assert sched2.get_last_lr()[0] == pytest.approx(0.01)


@pytest.mark.parametrize("make, error, message", [
    (lambda o: S.StepLR(o, step_size=0), ValueError, "step_size must be a positive integer"),
    (lambda o: S.CosineAnnealingLR(o, T_max=0), ValueError, "T_max must be a positive integer"),
    (lambda o: S.LinearLR(o, start_factor=0), ValueError, "Starting multiplicative factor"),
    (lambda o: S.LinearLR(o, end_factor=1.5), ValueError, "Ending multiplicative factor"),
    (lambda o: S.OneCycleLR(o, max_lr=1.0), ValueError, "either total_steps OR"),
    (lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=10, pct_start=2.0), ValueError, "pct_start"),
    (lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=10, anneal_strategy="exp"), ValueError, "anneal_strategy"),
    (lambda o: S.OneCycleLR(o, max_lr=[1.0], total_steps=10), ValueError, "max_lr must have the same length"),
    (lambda o: S.ReduceLROnPlateau(o, factor=1.0), ValueError, "Factor should be < 1.0"),
    (lambda o: S.ReduceLROnPlateau(o, mode="up"), ValueError, "mode 'up' is unknown"),
    (lambda o: S.ReduceLROnPlateau(o, threshold_mode="pct"), ValueError, "threshold mode 'pct' is unknown"),
    (lambda o: S.SequentialLR(o, [S.StepLR(o, 2), S.StepLR(o, 3)], milestones=[]), ValueError, "one more"),
    (lambda o: S.SequentialLR(o, [S.ReduceLROnPlateau(o)], milestones=[]), ValueError, "ReduceLROnPlateau"),
    (lambda o: S.SequentialLR(o, [S.StepLR(_sgd(), 2)], milestones=[]), ValueError, "same optimizer"),
    (lambda o: S.StepLR(o, step_size=2, last_epoch=5), KeyError, "initial_lr"),
    (lambda o: S.StepLR("not an optimizer", step_size=2), TypeError, "str is not an Optimizer"),
])
def test_invalid_arguments(make, error, message):
    with pytest.raises(error, match=message):
        make(_sgd())
