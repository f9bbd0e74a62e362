"""Optimizer state dicts: PyTorch's layout, exact continuation after a round trip, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

import ttrain
from ttrain.nn.parameter import Parameter
from ttrain.optim import SGD, Adagrad, Adam, AdamW, RMSprop

OPTIMIZERS = [
    (SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
    (Adam, dict(lr=0.01, amsgrad=True)),
    (AdamW, dict(lr=0.01)),
    (RMSprop, dict(lr=0.01, momentum=0.5, centered=True)),
    (Adagrad, dict(lr=0.1, lr_decay=0.01)),
]
IDS = [cls.__name__ for cls, _ in OPTIMIZERS]


def _two_groups(cls, kwargs, init):
    params = [Parameter(a.copy()) for a in init]
    return params, cls([{"params": params[:2]}, {"params": params[2:], "lr": 0.05}], **kwargs)


@pytest.mark.parametrize("cls, kwargs", OPTIMIZERS, ids=IDS)
def test_restored_optimizer_continues_exactly(cls, kwargs, make_problem, set_grads):
    init, grads = make_problem(dtype=np.float32, steps=6)
    params, opt = _two_groups(cls, kwargs, init)
    for g in grads[:3]:
        set_grads(params, g)
        opt.step()
    saved_params = [p.data.copy() for p in params]
    saved = opt.state_dict()

    # a fresh model and optimizer, with other options, take over from the snapshot
    params2 = [Parameter(a) for a in saved_params]
    opt2 = cls([{"params": params2[:2]}, {"params": params2[2:]}], **dict(kwargs, lr=123.0))
    opt2.load_state_dict(saved)
    assert [g["lr"] for g in opt2.param_groups] == [g["lr"] for g in opt.param_groups]
    for g in grads[3:]:
        set_grads(params, g)
        set_grads(params2, g)
        opt.step()
        opt2.step()
    for a, b in zip(params, params2):
        np.testing.assert_array_equal(a.data, b.data)


def test_layout_is_pytorchs():
    a, b = Parameter(np.zeros(2)), Parameter(np.zeros(3))
    opt = Adam([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    for p in (a, b):
        p.grad = ttrain.tensor(np.ones(p.data.shape))
    opt.step()
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert sd["param_groups"][1]["lr"] == 0.5 and sd["param_groups"][0]["betas"] == (0.9, 0.999)
    assert set(sd["state"]) == {0, 1}
    assert set(sd["state"][1]) == {"step", "exp_avg", "exp_avg_sq"}
    assert sd["state"][1]["step"] == 1 and isinstance(sd["state"][1]["step"], int)
    assert sd["state"][1]["exp_avg"].shape == (3,)


def test_state_dict_is_a_snapshot_not_a_view():
    p = Parameter(np.zeros(2))
    opt = SGD([p], lr=0.1, momentum=0.9)
    p.grad = ttrain.tensor(np.ones(2))
    opt.step()
    sd = opt.state_dict()
    opt.step()
    np.testing.assert_array_equal(sd["state"][0]["momentum_buffer"], [1.0, 1.0])
    sd["param_groups"][0]["lr"] = 99
    assert opt.param_groups[0]["lr"] == 0.1


def test_loading_accepts_string_keys_lists_and_array_steps():
    """What a state dict looks like after JSON or safetensors: string indices, lists, 0-d step arrays."""
    p = Parameter(np.zeros(2, dtype=np.float32))
    opt = Adam([p])
    opt.load_state_dict({
        "state": {"0": {"step": np.array(4.0), "exp_avg": np.ones(2), "exp_avg_sq": np.ones(2)}},
        "param_groups": [{**opt.state_dict()["param_groups"][0], "betas": [0.5, 0.6]}],
    })
    state = opt.state[p]
    assert state["step"] == 4 and isinstance(state["step"], int)
    assert state["exp_avg"].dtype == np.float32  # cast to the parameter's dtype
    assert opt.param_groups[0]["betas"] == (0.5, 0.6)


def test_loaded_state_is_copied():
    p = Parameter(np.zeros(2))
    opt = SGD([p], lr=0.1, momentum=0.9)
    buf = np.ones(2)
    opt.load_state_dict({"state": {0: {"momentum_buffer": buf}}, "param_groups": opt.state_dict()["param_groups"]})
    p.grad = ttrain.tensor(np.ones(2))
    opt.step()
    np.testing.assert_array_equal(buf, [1.0, 1.0])


def _adam_with_state(shapes=((2,), (3,))):
    params = [Parameter(np.zeros(s)) for s in shapes]
    opt = Adam(params)
    for p in params:
        p.grad = ttrain.tensor(np.ones(p.data.shape))
    opt.step()
    return opt


@pytest.mark.parametrize("mutate, message", [
    (lambda sd: sd["param_groups"].append(dict(sd["param_groups"][0])), "has 2 parameter groups, this optimizer has 1"),
    (lambda sd: sd["param_groups"][0]["params"].pop(), "parameter group 0 has 1 parameters, this optimizer's has 2"),
    (lambda sd: sd["state"][1].update(exp_avg=np.zeros(4)), r"'exp_avg' of parameter 1 has shape \(4,\), the "
                                                             r"parameter has shape \(3,\)"),
    (lambda sd: sd["state"].update({7: {}}), "state for parameter 7"),
    (lambda sd: sd.pop("param_groups"), "no 'param_groups' entry"),
])
def test_mismatched_state_dict_is_a_clear_error_and_changes_nothing(mutate, message):
    opt = _adam_with_state()
    sd = opt.state_dict()
    mutate(sd)
    before = opt.state_dict()
    with pytest.raises(ValueError, match=message):
        opt.load_state_dict(sd)
    after = opt.state_dict()
    assert after["param_groups"] == before["param_groups"]
    np.testing.assert_array_equal(after["state"][1]["exp_avg"], before["state"][1]["exp_avg"])
