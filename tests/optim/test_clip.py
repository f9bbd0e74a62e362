"""Gradient clipping by total norm and by value."""

from __future__ import annotations

import math

import numpy as np
import pytest

import ttrain
from ttrain.nn.parameter import Parameter
from ttrain.optim import clip_grad_norm_, clip_grad_value_, get_total_norm


def _params(*grads, dtype=np.float64):
    params = []
    for g in grads:
        p = Parameter(np.zeros(np.shape(g), dtype=dtype))
        p.grad = ttrain.tensor(np.asarray(g, dtype=dtype))
        params.append(p)
    return params


def test_total_norm_is_taken_over_all_gradients_as_one_vector():
    params = _params([3.0, 0.0], [[4.0]])
    total = clip_grad_norm_(params, max_norm=100.0)
    assert isinstance(total, ttrain.Tensor) and total.shape == ()
    assert total.item() == pytest.approx(5.0)
    np.testing.assert_array_equal(params[0].grad.data, [3.0, 0.0])  # under the limit: untouched


def test_gradients_above_max_norm_are_scaled_in_place():
    params = _params([3.0, 0.0], [[4.0]])
    grad_array = params[0].grad.data
    total = clip_grad_norm_(params, max_norm=1.0)
    assert total.item() == pytest.approx(5.0)  # the norm before clipping
    assert params[0].grad.data is grad_array
    scale = 1.0 / (5.0 + 1e-6)
    np.testing.assert_allclose(params[0].grad.data, [3.0 * scale, 0.0])
    np.testing.assert_allclose(params[1].grad.data, [[4.0 * scale]])
    assert get_total_norm([p.grad for p in params]).item() == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("norm_type, expected",
                         [(math.inf, 4.0), ("inf", 4.0), (1, 9.0), (3, (27 + 8 + 64) ** (1 / 3))])
def test_other_norms(norm_type, expected):
    params = _params([-3.0, 2.0], [-4.0])
    assert clip_grad_norm_(params, max_norm=1e9, norm_type=norm_type).item() == pytest.approx(expected)


def test_inf_norm_clips_by_the_largest_entry():
    params = _params([-3.0, 2.0], [-4.0])
    clip_grad_norm_(params, max_norm=2.0, norm_type=math.inf)
    np.testing.assert_allclose(params[1].grad.data, [-2.0], rtol=1e-6)
    np.testing.assert_allclose(params[0].grad.data, [-1.5, 1.0], rtol=1e-6)


def test_float32_gradients_give_a_float32_norm_and_stay_float32():
    params = _params([3.0, 4.0], dtype=np.float32)
    total = clip_grad_norm_(params, max_norm=1.0)
    assert total.dtype == np.float32 and params[0].grad.dtype == np.float32


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_norm(bad):
    params = _params([1.0, bad])
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(params, max_norm=1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(params[0].grad.data[:1], [1.0])  # nothing scaled on error
    total = clip_grad_norm_(params, max_norm=1.0)  # as torch: scaled by the non-finite norm anyway
    assert not math.isfinite(total.item())
    assert not np.isfinite(params[0].grad.data).all()


def test_single_tensor_generator_and_missing_grads():
    p = _params([6.0, 8.0])[0]
    assert clip_grad_norm_(p, max_norm=5.0).item() == pytest.approx(10.0)
    np.testing.assert_allclose(p.grad.data, [3.0, 4.0], rtol=1e-6)
    q = _params([0.0, 2.0])[0]
    assert clip_grad_norm_((x for x in [q]), max_norm=1.0).item() == pytest.approx(2.0)
    np.testing.assert_allclose(q.grad.data, [0.0, 1.0], rtol=1e-6)
    no_grad = Parameter(np.ones(2))
    assert clip_grad_norm_([no_grad], max_norm=1.0).item() == 0.0
    assert no_grad.grad is None


def test_clip_grad_value():
    params = _params([-3.0, 0.5, 2.0], [[10.0]], dtype=np.float32)
    assert clip_grad_value_(params, clip_value=1.0) is None
    np.testing.assert_array_equal(params[0].grad.data, np.array([-1.0, 0.5, 1.0], dtype=np.float32))
    np.testing.assert_array_equal(params[1].grad.data, [[1.0]])
    assert params[0].grad.dtype == np.float32
