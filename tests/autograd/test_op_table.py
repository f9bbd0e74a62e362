"""Each op's public forms come from the one table in `ttrain.autograd.op_table`."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import ttrain
import ttrain.nn.functional as F
from ttrain.autograd import functions
from ttrain.autograd.op_table import OPS, function_forms, functional_forms, public

ROWS = sorted(OPS.values(), key=lambda op: op.name)


def test_the_table_holds_the_ops_everyone_expects():
    for name in ("exp", "sum", "mean", "reshape", "matmul", "relu", "softmax", "cat", "where", "max", "clamp", "clip"):
        assert name in OPS


@pytest.mark.parametrize("op", [op for op in ROWS if op.method], ids=lambda op: op.name)
def test_each_method_row_is_a_tensor_method(op):
    # The method is the implementation itself: no wrapper between x.exp() and Exp.apply.
    assert getattr(ttrain.Tensor, op.name) is op.impl


@pytest.mark.parametrize("op", [op for op in ROWS if op.function], ids=lambda op: op.name)
def test_each_function_row_is_a_top_level_function_listed_in_all(op):
    assert op.name in ttrain.__all__
    assert op.name in functions.__all__
    form = getattr(ttrain, op.name)
    assert form is function_forms()[op.name] or form.__wrapped__ is op.impl
    assert form.__doc__ == op.impl.__doc__ and form.__doc__
    assert inspect.signature(form) == inspect.signature(op.impl)


def test_all_lists_exactly_the_function_rows():
    assert functions.__all__ == sorted(op.name for op in ROWS if op.function)
    assert set(functions.__all__) <= set(ttrain.__all__)


@pytest.mark.parametrize("op", [op for op in ROWS if op.functional], ids=lambda op: op.name)
def test_each_functional_row_is_in_nn_functional(op):
    assert getattr(F, op.name) is op.impl  # one call inside every nn.ReLU, as before


def test_rows_not_marked_for_a_form_do_not_get_it():
    # (Tensor.where exists, as in PyTorch, but with its own argument order: tensor.py, not this row)
    assert not hasattr(ttrain.Tensor, "leaky_relu") and not hasattr(ttrain.Tensor, "cat")
    assert "view" not in ttrain.__all__ and "expand" not in ttrain.__all__
    assert "exp" not in functional_forms() and "relu" in functional_forms()


def test_every_public_form_has_a_docstring():
    for op in ROWS:
        assert op.impl.__doc__, op.name


def test_top_level_forms_accept_plain_values_as_tensor_does():
    assert ttrain.exp(0.0).dtype == np.float32  # a Python float is float32, as with ttrain.tensor
    assert ttrain.sum([1, 2, 3]).item() == 6
    x = ttrain.tensor([1.0, 2.0])
    assert ttrain.pow(x, 2).dtype == np.float32  # a Python scalar stays weak: no float64 promotion
    assert ttrain.pow(2, x).tolist() == [2.0, 4.0]


def test_method_function_and_functional_forms_agree_and_differentiate():
    x = ttrain.randn(3, 4, requires_grad=True)
    np.testing.assert_array_equal(x.softmax(1).data, ttrain.softmax(x, 1).data)
    np.testing.assert_array_equal(F.softmax(x, 1).data, ttrain.softmax(x, 1).data)
    np.testing.assert_array_equal(x.reshape(4, 3).data, ttrain.reshape(x, (4, 3)).data)
    values, indices = ttrain.max(x, 1)
    assert indices.tolist() == np.argmax(x.data, axis=1).tolist()
    (x.relu().sum() + ttrain.clip(x, -0.5, 0.5).sum()).backward()
    expected = (x.data > 0).astype(np.float32) + (np.abs(x.data) < 0.5).astype(np.float32)
    np.testing.assert_allclose(x.grad.data, expected)


def test_a_new_row_gets_every_form_it_asks_for():
    class Host:
        pass

    from ttrain.autograd.op_table import install_methods

    @public("twice_for_test")
    def twice(input):
        """2 * input."""
        return input * 2

    try:
        install_methods(Host)
        assert Host.twice_for_test is twice
        assert function_forms()["twice_for_test"](3.0).item() == 6.0
    finally:
        del OPS["twice_for_test"]
