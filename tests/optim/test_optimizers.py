"""Each optimizer against textbook formulas written out in float64, and the Optimizer contract."""

from __future__ import annotations

import math

import numpy as np
import pytest

import ttrain
from ttrain.nn.parameter import Parameter
from ttrain.optim import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop


# ---- textbook references: one step on float64 copies, state in a dict ------------------------------
def sgd_ref(p, g, st, lr, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False):
    g = -g if maximize else g
    g = g + weight_decay * p
    if momentum:
        st["buf"] = g.copy() if "buf" not in st else momentum * st["buf"] + (1 - dampening) * g
        g = g + momentum * st["buf"] if nesterov else st["buf"]
    return p - lr * g


def adam_ref(p, g, st, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, maximize=False,
             decoupled=False):
    b1, b2 = betas
    t = st["t"] = st.get("t", 0) + 1
    g = -g if maximize else g
    if decoupled:
        p = p * (1 - lr * weight_decay)
    else:
        g = g + weight_decay * p
    st["m"] = b1 * st.get("m", 0) + (1 - b1) * g
    st["v"] = b2 * st.get("v", 0) + (1 - b2) * g * g
    v = st["v"]
    if amsgrad:
        v = st["vmax"] = np.maximum(st.get("vmax", 0), st["v"])
    m_hat, v_hat = st["m"] / (1 - b1**t), v / (1 - b2**t)
    # torch adds eps to sqrt(v) / sqrt(bias correction), which is sqrt(v_hat)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps)


def rmsprop_ref(p, g, st, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, maximize=False):
    g = -g if maximize else g
    g = g + weight_decay * p
    st["sq"] = alpha * st.get("sq", 0) + (1 - alpha) * g * g
    mean_sq = st["sq"]
    if centered:
        st["ga"] = alpha * st.get("ga", 0) + (1 - alpha) * g
        mean_sq = mean_sq - st["ga"] ** 2
    scaled = g / (np.sqrt(mean_sq) + eps)
    if momentum:
        st["buf"] = momentum * st.get("buf", 0) + scaled
        scaled = st["buf"]
    return p - lr * scaled


def adagrad_ref(p, g, st, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                maximize=False):
    t = st["t"] = st.get("t", 0) + 1
    g = -g if maximize else g
    g = g + weight_decay * p
    st["sum"] = st.get("sum", initial_accumulator_value) + g * g
    return p - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(st["sum"]) + eps)


CASES = [
    (SGD, sgd_ref, dict(lr=0.1)),
    (SGD, sgd_ref, dict(lr=0.1, momentum=0.9)),
    (SGD, sgd_ref, dict(lr=0.1, momentum=0.9, dampening=0.3)),
    (SGD, sgd_ref, dict(lr=0.1, momentum=0.8, nesterov=True)),
    (SGD, sgd_ref, dict(lr=0.05, momentum=0.5, weight_decay=0.1, maximize=True)),
    (Adam, adam_ref, dict()),
    (Adam, adam_ref, dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6)),
    (Adam, adam_ref, dict(lr=0.01, weight_decay=0.1)),
    (Adam, adam_ref, dict(lr=0.01, amsgrad=True)),
    (Adam, adam_ref, dict(lr=0.01, maximize=True)),
    (RMSprop, rmsprop_ref, dict()),
    (RMSprop, rmsprop_ref, dict(lr=0.01, alpha=0.9, weight_decay=0.1)),
    (RMSprop, rmsprop_ref, dict(lr=0.01, centered=True)),
    (RMSprop, rmsprop_ref, dict(lr=0.01, momentum=0.9, centered=True, maximize=True)),
    (Adagrad, adagrad_ref, dict()),
    (Adagrad, adagrad_ref, dict(lr=0.1, lr_decay=0.1, initial_accumulator_value=0.5)),
    (Adagrad, adagrad_ref, dict(lr=0.1, weight_decay=0.1, eps=1e-6, maximize=True)),
]


@pytest.mark.parametrize("fused", [False, True], ids=["numpy", "kernel"])
@pytest.mark.parametrize("cls, ref, kwargs", CASES, ids=[f"{c.__name__}-{k}" for c, _, k in CASES])
def test_matches_textbook_formula(cls, ref, kwargs, fused, run, make_problem):
    init, grads = make_problem(steps=4)
    params, _ = run(cls, dict(kwargs, fused=fused), init, grads)
    expected = [a.copy() for a in init]
    states = [{} for _ in init]
    for step_grads in grads:
        expected = [ref(p, g, st, **kwargs) for p, g, st in zip(expected, step_grads, states)]
    for p, e in zip(params, expected):
        np.testing.assert_allclose(p.data, e, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adamw_decouples_weight_decay(amsgrad, run, make_problem):
    init, grads = make_problem(steps=4)
    params, _ = run(AdamW, dict(lr=0.01, weight_decay=0.5, amsgrad=amsgrad), init, grads)
    expected, states = [a.copy() for a in init], [{} for _ in init]
    for step_grads in grads:
        expected = [adam_ref(p, g, st, lr=0.01, weight_decay=0.5, amsgrad=amsgrad, decoupled=True)
                    for p, g, st in zip(expected, step_grads, states)]
    for p, e in zip(params, expected):
        np.testing.assert_allclose(p.data, e, rtol=1e-12, atol=1e-14)


def test_defaults_follow_pytorch():
    p = [Parameter(np.zeros(2))]
    assert SGD(p).defaults["lr"] == 1e-3
    assert Adam(p).defaults == dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
                                    maximize=False, fused=None, decoupled_weight_decay=False)
    assert AdamW(p).defaults["weight_decay"] == 1e-2 and AdamW(p).defaults["decoupled_weight_decay"]
    assert RMSprop(p).defaults["lr"] == 1e-2 and RMSprop(p).defaults["alpha"] == 0.99
    assert Adagrad(p).defaults["eps"] == 1e-10


def test_sgd_step_is_minus_lr_times_grad_exactly():
    p = Parameter(np.array([1.0, -2.0, 3.0], dtype=np.float32))
    p.grad = ttrain.tensor(np.array([0.5, 0.25, -1.0], dtype=np.float32))
    before = p.data.copy()
    SGD([p], lr=0.01).step()
    np.testing.assert_array_equal(p.data, before - np.float32(0.01) * p.grad.data)


def test_adam_first_step_moves_each_weight_by_lr():
    # m_hat / sqrt(v_hat) = g / |g| on the first step, so every weight moves by lr against its gradient
    p = Parameter(np.array([1.0, 1.0, 1.0]))
    p.grad = ttrain.tensor(np.array([3.0, -0.2, 1e-3]))
    Adam([p], lr=0.1, eps=0).step()
    np.testing.assert_allclose(p.data, [0.9, 1.1, 0.9], rtol=1e-12)


@pytest.mark.parametrize("cls", [SGD, Adam, AdamW, RMSprop, Adagrad])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_update_is_in_place_and_keeps_dtype(cls, dtype):
    p = Parameter(np.ones((2, 3), dtype=dtype))
    data, view = p.data, p.data[0]
    p.grad = ttrain.tensor(np.full((2, 3), 0.5, dtype=dtype))
    cls([p], lr=0.1).step()
    assert p.data is data and p.data.dtype == dtype
    assert view[0] != 1  # a view taken before the step sees the update


def test_parameters_without_grad_are_skipped_and_get_no_state():
    a, b = Parameter(np.ones(2)), Parameter(np.ones(2))
    a.grad = ttrain.tensor(np.ones(2))
    opt = Adam([a, b], lr=0.1)
    opt.step()
    np.testing.assert_array_equal(b.data, [1.0, 1.0])
    assert b not in opt.state and opt.state[a]["step"] == 1


def test_param_groups_have_their_own_options():
    a, b = Parameter(np.zeros(2)), Parameter(np.zeros(2))
    opt = SGD([{"params": [a]}, {"params": b, "lr": 1.0, "momentum": 0.5}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 1.0]
    assert opt.param_groups[0]["momentum"] == 0 and opt.param_groups[1]["momentum"] == 0.5
    for p in (a, b):
        p.grad = ttrain.tensor(np.ones(2))
    opt.step()
    np.testing.assert_allclose(a.data, [-0.1, -0.1])
    np.testing.assert_allclose(b.data, [-1.0, -1.0])
    assert "momentum_buffer" in opt.state[b] and "momentum_buffer" not in opt.state[a]


def test_add_param_group_fills_defaults_and_refuses_shared_parameters():
    a, b = Parameter(np.zeros(2)), Parameter(np.zeros(3))
    opt = Adam([a], lr=0.1)
    opt.add_param_group({"params": [b], "betas": (0.5, 0.6)})
    assert opt.param_groups[1]["lr"] == 0.1 and opt.param_groups[1]["betas"] == (0.5, 0.6)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(ValueError, match="param group 2: Invalid learning rate: -1"):
        opt.add_param_group({"params": [Parameter(np.zeros(1))], "lr": -1})


def test_named_parameters_are_accepted():
    a = Parameter(np.zeros(2))
    opt = SGD([("layer.weight", a)], lr=0.1)
    assert opt.param_groups[0]["params"] == [a] and opt.param_groups[0]["param_names"] == ["layer.weight"]


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad(set_to_none):
    p = Parameter(np.ones(3))
    p.grad = ttrain.tensor(np.ones(3))
    grad_array = p.grad.data
    SGD([p]).zero_grad(set_to_none=set_to_none)
    if set_to_none:
        assert p.grad is None
    else:
        assert p.grad.data is grad_array and not grad_array.any()


def test_zero_grad_then_backward_accumulates_fresh():
    w = Parameter(np.array([2.0]))
    opt = SGD([w], lr=0.1)
    for _ in range(2):
        opt.zero_grad()
        (w * 3.0).sum().backward()
    np.testing.assert_array_equal(w.grad.data, [3.0])


def test_step_with_closure_returns_loss_and_records_no_graph():
    w = Parameter(np.array([1.0, 2.0]))
    opt = SGD([w], lr=0.5)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == 5.0
    np.testing.assert_allclose(w.data, [0.0, 0.0])
    assert w.grad_fn is None and w.is_leaf


def test_training_loop_reduces_a_quadratic():
    target = np.array([1.0, -2.0, 0.5])
    w = Parameter(np.zeros(3))
    opt = Adam([w], lr=0.1)
    for _ in range(200):
        opt.zero_grad()
        ((w - ttrain.tensor(target)) ** 2).sum().backward()
        opt.step()
    np.testing.assert_allclose(w.data, target, atol=1e-3)


@pytest.mark.parametrize("make, message", [
    (lambda p: SGD(p, lr=-0.1), "Invalid learning rate: -0.1"),
    (lambda p: SGD(p, momentum=-1), "Invalid momentum value"),
    (lambda p: SGD(p, weight_decay=-1e-4), "Invalid weight_decay value"),
    (lambda p: SGD(p, nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    (lambda p: SGD(p, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov momentum requires"),
    (lambda p: Adam(p, lr=-1), "Invalid learning rate"),
    (lambda p: Adam(p, eps=-1e-8), "Invalid epsilon value"),
    (lambda p: Adam(p, betas=(1.0, 0.999)), "Invalid beta parameter at index 0"),
    (lambda p: Adam(p, betas=(0.9, -0.1)), "Invalid beta parameter at index 1"),
    (lambda p: Adam(p, betas=(0.9,)), "betas must be a pair"),
    (lambda p: AdamW(p, weight_decay=-0.01), "Invalid weight_decay value"),
    (lambda p: RMSprop(p, alpha=-0.5), "Invalid alpha value"),
    (lambda p: RMSprop(p, momentum=-0.5), "Invalid momentum value"),
    (lambda p: RMSprop(p, eps=float("nan")), "Invalid epsilon value"),
    (lambda p: Adagrad(p, lr_decay=-1), "Invalid lr_decay value"),
    (lambda p: Adagrad(p, initial_accumulator_value=-1), "Invalid initial_accumulator_value value"),
])
def test_invalid_arguments_raise_value_error(make, message):
    with pytest.raises(ValueError, match=message):
        make([Parameter(np.zeros(2))])


def test_invalid_params_argument():
    p = Parameter(np.zeros(2))
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        SGD(p)
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD([])
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        SGD([np.zeros(2)])
    with pytest.raises(ValueError, match="non-leaf"):
        SGD([p * 2.0])
    with pytest.raises(TypeError, match="sets"):
        SGD({p})
    with pytest.raises(TypeError, match="lr must be a number, not str"):
        SGD([p], lr="1e-3")


def test_gradient_of_wrong_shape_is_an_error():
    p = Parameter(np.zeros(3))
    p.grad = ttrain.tensor(np.zeros(4))
    with pytest.raises(ValueError, match=r"gradient of shape \(4,\) for a parameter of shape \(3,\)"):
        SGD([p], lr=0.1).step()


def test_base_class_step_needs_an_update_rule():
    with pytest.raises(NotImplementedError):
        p = Parameter(np.zeros(1))
        p.grad = ttrain.tensor(np.ones(1))
        Optimizer([p], {"lr": 0.1}).step()


def test_repr_lists_group_options():
    text = repr(SGD([Parameter(np.zeros(1))], lr=0.5))
    assert text.startswith("SGD (") and "Parameter Group 0" in text and "lr: 0.5" in text


def test_adagrad_effective_lr_decays_with_step():
    p = Parameter(np.array([0.0]))
    opt = Adagrad([p], lr=1.0, lr_decay=1.0, eps=0)
    moves = []
    for _ in range(3):
        before = p.data.copy()
        p.grad = ttrain.tensor(np.array([1.0]))
        opt.step()
        moves.append(float(before[0] - p.data[0]))
    # clr = 1 / (1 + (t - 1)), sum = t  ->  move_t = 1 / (t * sqrt(t))
    np.testing.assert_allclose(moves, [1 / (t * math.sqrt(t)) for t in (1, 2, 3)], rtol=1e-12)


def test_sgd_without_momentum_keeps_no_state():
    p = Parameter(np.zeros(2))
    p.grad = ttrain.tensor(np.ones(2))
    opt = SGD([p], lr=0.1)
    opt.step()
    assert opt.state_dict()["state"] == {}


def test_sgd_group_mixing_float32_and_float64_updates_each_in_its_own_dtype():
    from ttrain.optim.functional import sgd_update

    rng = np.random.default_rng(0)
    params = [Parameter(rng.standard_normal(5).astype(dt)) for dt in (np.float32, np.float64)]
    grads = [rng.standard_normal(5).astype(p.data.dtype) for p in params]
    expected = []
    for p, g in zip(params, grads):
        p.grad = ttrain.tensor(g)
        w = p.data.copy()
        sgd_update(w, g.copy(), None, lr=0.1, momentum=0.0, dampening=0.0, weight_decay=0.01, nesterov=False, maximize=False)
        expected.append(w)
    SGD(params, lr=0.1, weight_decay=0.01).step()
    for p, w in zip(params, expected):
        assert p.data.dtype == w.dtype
        np.testing.assert_array_equal(p.data, w)
