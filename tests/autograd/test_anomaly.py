"""detect_anomaly: the first op whose forward output or backward gradient is not finite is named."""

from __future__ import annotations

import numpy as np
import pytest

import ttrain
from ttrain.autograd import AnomalyError, detect_anomaly, gradcheck, is_anomaly_enabled


def test_off_by_default_non_finite_values_flow_through() -> None:
    x = ttrain.tensor([1.0, 0.0], requires_grad=True)
    with np.errstate(divide="ignore"):
        assert np.isneginf(x.log().data[1])
    assert not is_anomaly_enabled()


def test_a_forward_op_is_named_with_its_phase() -> None:
    x = ttrain.tensor([1.0, 0.0], requires_grad=True)
    with pytest.raises(AnomalyError, match=r"^log \(in forward\) produced -inf from finite inputs$") as info:
        with detect_anomaly(), np.errstate(divide="ignore"):
            x.log()
    assert (info.value.op, info.value.phase) == ("log", "forward")
    assert not is_anomaly_enabled()  # restored on the way out


def test_a_backward_op_is_named_with_its_phase() -> None:
    x = ttrain.tensor([0.0, 4.0], requires_grad=True)
    with pytest.raises(AnomalyError, match=r"^sqrt backward produced inf in the gradient of its input 0$"):
        with detect_anomaly(), np.errstate(divide="ignore"):
            x.sqrt().sum().backward()


def test_an_op_fed_a_non_finite_input_blames_the_input_not_itself() -> None:
    x = ttrain.tensor([np.nan, 1.0])
    with pytest.raises(AnomalyError, match=r"^mul \(in forward\) produced nan; its input 0 was already non-finite"):
        with detect_anomaly():
            x * 2.0


def test_it_works_as_a_decorator_and_nests() -> None:
    @detect_anomaly()
    def inside() -> bool:
        with detect_anomaly():
            pass
        return is_anomaly_enabled()

    assert inside() and not is_anomaly_enabled()


def test_gradients_are_unchanged_and_gradcheck_passes_under_it() -> None:
    a = ttrain.randn(3, 4, dtype=np.float64, requires_grad=True)
    b = ttrain.randn(4, 2, dtype=np.float64, requires_grad=True)

    def f(a, b):
        return (a @ b).tanh().log_softmax(dim=1)

    f(a, b).sum().backward()
    plain = a.grad.data.copy(), b.grad.data.copy()
    a.grad = b.grad = None
    with detect_anomaly():
        f(a, b).sum().backward()
        np.testing.assert_array_equal(a.grad.data, plain[0])
        np.testing.assert_array_equal(b.grad.data, plain[1])
        assert gradcheck(f, (a, b))
