"""no_grad / enable_grad / set_grad_enabled: context managers and decorators, nested, per thread."""

import threading

import numpy as np
import pytest

import ttrain


@pytest.fixture
def x():
    return ttrain.tensor([1.0, 2.0], requires_grad=True)


def _records(t):
    y = t * 2 + 1
    return y.requires_grad, y.grad_fn is not None


def test_no_grad_records_nothing(x):
    with ttrain.no_grad():
        assert not ttrain.is_grad_enabled()
        for y in (x * 2, x.exp(), x @ x, x.sum(), x[0], x.reshape(2, 1), ttrain.cat([x, x]), x.softmax(0)):
            assert y.grad_fn is None and not y.requires_grad
    assert ttrain.is_grad_enabled()
    assert _records(x) == (True, True)


def test_nested_modes_restore_the_outer_one(x):
    with ttrain.no_grad():
        with ttrain.enable_grad():
            assert _records(x) == (True, True)
            with ttrain.no_grad():
                assert _records(x) == (False, False)
            assert ttrain.is_grad_enabled()
        assert not ttrain.is_grad_enabled()
    assert ttrain.is_grad_enabled()


def test_mode_is_restored_when_the_block_raises():
    with pytest.raises(KeyError):
        with ttrain.no_grad():
            raise KeyError
    assert ttrain.is_grad_enabled()


def test_decorators_with_and_without_parentheses(x):
    @ttrain.no_grad()
    def evaluate(t):
        return _records(t)

    @ttrain.no_grad
    def evaluate_bare(t):
        """Keeps its docstring."""
        return _records(t)

    @ttrain.enable_grad()
    def train_step(t):
        return _records(t)

    @ttrain.enable_grad
    def train_step_bare(t):
        return _records(t)

    assert evaluate(x) == (False, False) and evaluate_bare(x) == (False, False)
    assert evaluate_bare.__doc__ == "Keeps its docstring." and evaluate_bare.__name__ == "evaluate_bare"
    with ttrain.no_grad():
        assert train_step(x) == (True, True) and train_step_bare(x) == (True, True)
        assert not ttrain.is_grad_enabled()
    assert ttrain.is_grad_enabled()


def test_decorated_functions_nest_and_recurse(x):
    @ttrain.no_grad()
    def inner(depth):
        assert not ttrain.is_grad_enabled()
        return inner(depth - 1) if depth else enabled_again()

    @ttrain.enable_grad()
    def enabled_again():
        return ttrain.is_grad_enabled()

    assert inner(3) is True
    assert ttrain.is_grad_enabled()


def test_set_grad_enabled_as_context_decorator_and_plain_call(x):
    with ttrain.set_grad_enabled(False):
        assert _records(x) == (False, False)
    assert ttrain.is_grad_enabled()

    @ttrain.set_grad_enabled(False)
    def frozen():
        return ttrain.is_grad_enabled()

    assert ttrain.is_grad_enabled()  # decorating switches nothing
    assert frozen() is False and ttrain.is_grad_enabled()
    try:
        ttrain.set_grad_enabled(False)  # a plain call switches at once, as in PyTorch
        assert not ttrain.is_grad_enabled()
    finally:
        ttrain.set_grad_enabled(True)
    assert ttrain.is_grad_enabled()


def test_backward_works_inside_no_grad_for_a_graph_built_outside(x):
    y = (x * x).sum()
    with ttrain.no_grad():
        y.backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0])


def test_the_mode_is_per_thread(x):
    seen = []
    with ttrain.no_grad():
        thread = threading.Thread(target=lambda: seen.append(ttrain.is_grad_enabled()))
        thread.start()
        thread.join()
    assert seen == [True]
