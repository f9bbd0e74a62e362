"""Adadelta, Adamax, NAdam, RAdam and LBFGS follow torch's trajectory on the same problem."""

import numpy as np
import pytest

import ttrain

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
A, B, W0 = RNG.standard_normal((20, 5)), RNG.standard_normal(20), RNG.standard_normal(5)


def _trajectory(lib, name, options, steps=25, dtype="float64", closure_steps=False):
    """Parameters after each step on a least-squares problem with a quartic term (a curved valley)."""
    w = lib.tensor(W0.astype(dtype), requires_grad=True)
    a, b = lib.tensor(A.astype(dtype)), lib.tensor(B.astype(dtype))
    optimizer = getattr(lib.optim, name)([w], **options)

    def closure():
        optimizer.zero_grad()
        loss = ((a @ w - b) ** 2).mean() + 0.01 * (w**4).sum()
        loss.backward()
        return loss

    path = []
    for _ in range(steps):
        if closure_steps:
            optimizer.step(closure)
        else:
            closure()
            optimizer.step()
        path.append(w.detach().numpy().copy())
    return np.array(path)


CASES = [
    ("Adadelta", {}),
    ("Adadelta", {"lr": 0.5, "rho": 0.8, "weight_decay": 0.1}),
    ("Adadelta", {"maximize": True}),
    ("Adamax", {"lr": 0.05}),
    ("Adamax", {"lr": 0.05, "betas": (0.8, 0.99), "weight_decay": 0.1}),
    ("NAdam", {"lr": 0.05}),
    ("NAdam", {"lr": 0.05, "weight_decay": 0.1, "momentum_decay": 0.01}),
    ("NAdam", {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("RAdam", {"lr": 0.05}),
    ("RAdam", {"lr": 0.05, "weight_decay": 0.1}),
    ("RAdam", {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True, "maximize": True}),
]


@pytest.mark.parametrize("name, options", CASES)
def test_trajectory_matches_torch(name, options):
    ours, theirs = _trajectory(ttrain, name, options), _trajectory(torch, name, options)
    assert np.abs(theirs[-1] - W0).max() > 0.01  # the problem moves the parameters
    # NAdam keeps its momentum product in float32 in torch, hence the looser tolerance there
    np.testing.assert_allclose(ours, theirs, rtol=2e-6 if name == "NAdam" else 1e-12, atol=1e-12)


@pytest.mark.parametrize("name, options", CASES[::2])
def test_float32_trajectory_stays_close_to_torch(name, options):
    ours, theirs = (_trajectory(lib, name, options, dtype="float32") for lib in (ttrain, torch))
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("options", [
    {"max_iter": 4, "history_size": 3},
    {"lr": 0.5, "max_iter": 3},
    {"max_iter": 5, "line_search_fn": "strong_wolfe"},
    {"max_iter": 6, "history_size": 2, "line_search_fn": "strong_wolfe", "tolerance_change": 1e-12},
])
def test_lbfgs_with_a_closure_matches_torch(options):
    ours = _trajectory(ttrain, "LBFGS", options, steps=4, closure_steps=True)
    theirs = _trajectory(torch, "LBFGS", options, steps=4, closure_steps=True)
    assert np.abs(theirs[0] - W0).max() > 0.01
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-11)


def test_lbfgs_returns_the_first_loss_and_needs_a_closure():
    w = ttrain.tensor([3.0, -2.0], dtype=ttrain.float64, requires_grad=True)
    optimizer = ttrain.optim.LBFGS([w], line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = ((w - 1) ** 2).sum()
        loss.backward()
        return loss

    assert optimizer.step(closure).item() == pytest.approx(13.0)
    np.testing.assert_allclose(w.detach().numpy(), [1.0, 1.0], atol=1e-6)
    with pytest.raises(RuntimeError, match="closure"):
        optimizer.step()
    with pytest.raises(ValueError, match="strong_wolfe"):
        ttrain.optim.LBFGS([w], line_search_fn="backtracking")


@pytest.mark.parametrize("name", ["Adadelta", "Adamax", "NAdam", "RAdam"])
def test_state_dict_round_trip_continues_exactly(name):
    def run(steps, optimizer, w):
        for _ in range(steps):
            optimizer.zero_grad()
            ((w - 2) ** 2).sum().backward()
            optimizer.step()

    w = ttrain.tensor([0.5, -1.0], requires_grad=True)
    optimizer = getattr(ttrain.optim, name)([w])
    run(3, optimizer, w)
    saved, w_saved = optimizer.state_dict(), w.detach().clone()
    run(2, optimizer, w)
    again = ttrain.tensor(w_saved.numpy(), requires_grad=True)
    restored = getattr(ttrain.optim, name)([again])
    restored.load_state_dict(saved)
    run(2, restored, again)
    np.testing.assert_array_equal(again.detach().numpy(), w.detach().numpy())


@pytest.mark.parametrize("name, options, message", [
    ("Adadelta", {"rho": 1.5}, "rho"),
    ("Adamax", {"betas": (1.0, 0.9)}, "beta"),
    ("NAdam", {"momentum_decay": -1}, "momentum_decay"),
    ("RAdam", {"lr": -1}, "learning rate"),
])
def test_bad_options_are_refused(name, options, message):
    with pytest.raises(ValueError, match=message):
        getattr(ttrain.optim, name)([ttrain.zeros(1, requires_grad=True)], **options)


def test_a_config_names_the_new_optimizers():
    from ttrain.config.registry import resolve

    for key, cls in (("adadelta", "Adadelta"), ("adamax", "Adamax"), ("nadam", "NAdam"), ("radam", "RAdam")):
        assert resolve("optimizers", key) is getattr(ttrain.optim, cls)


def test_lbfgs_resumes_from_its_state_dict(tmp_path):
    def make(w0):
        w = ttrain.tensor(w0, requires_grad=True)
        optimizer = ttrain.optim.LBFGS([w], max_iter=3, history_size=4)
        a, b = ttrain.tensor(A), ttrain.tensor(B)

        def closure():
            optimizer.zero_grad()
            loss = ((a @ w - b) ** 2).mean() + 0.01 * (w**4).sum()
            loss.backward()
            return loss

        return w, optimizer, closure

    w, optimizer, closure = make(W0.copy())
    optimizer.step(closure)
    ttrain.save({"w": w.detach(), "optimizer": optimizer.state_dict()}, tmp_path / "lbfgs.pt")
    optimizer.step(closure)
    saved = ttrain.load(tmp_path / "lbfgs.pt")
    again, restored, closure_again = make(saved["w"].numpy().copy())
    restored.load_state_dict(saved["optimizer"])
    restored.step(closure_again)
    np.testing.assert_allclose(again.detach().numpy(), w.detach().numpy(), rtol=1e-12)
