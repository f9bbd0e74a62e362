"""nn.init: bounds and spreads of each scheme, PyTorch's gains and fans, seeding, dtypes."""

import math

import numpy as np
import pytest

import ttrain
from ttrain import nn
from ttrain.nn import init


def _weight(shape, dtype=np.float32):
    return nn.Parameter(np.zeros(shape, dtype=dtype))


def test_calculate_gain_table():
    assert [init.calculate_gain(name) for name in ("linear", "conv2d", "sigmoid")] == [1, 1, 1]
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01**2)))
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")


def test_fans_follow_the_out_in_kernel_layout():
    assert init._calculate_fan_in_and_fan_out(_weight((10, 784))) == (784, 10)
    assert init._calculate_fan_in_and_fan_out(_weight((32, 16, 3, 3))) == (16 * 9, 32 * 9)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(_weight((5,)))


def test_uniform_normal_constant():
    w = _weight((200, 300))
    assert init.uniform_(w, -2.0, 3.0) is w
    assert w.data.min() >= -2 and w.data.max() <= 3 and abs(w.data.mean() - 0.5) < 0.02
    init.normal_(w, mean=1.0, std=0.5)
    assert abs(w.data.mean() - 1.0) < 0.01 and abs(w.data.std() - 0.5) < 0.01
    init.constant_(w, 0.25)
    assert (w.data == 0.25).all()
    init.ones_(w)
    assert (w.data == 1).all()
    init.zeros_(w)
    assert not w.data.any()


def test_xavier_and_kaiming_spreads():
    fan_in, fan_out = 300, 200
    w = _weight((fan_out, fan_in))
    bound = math.sqrt(6 / (fan_in + fan_out))
    init.xavier_uniform_(w)
    assert np.abs(w.data).max() <= bound and abs(w.data.std() / (bound / math.sqrt(3)) - 1) < 0.02
    init.xavier_normal_(w, gain=2.0)
    assert abs(w.data.std() / (2 * math.sqrt(2 / (fan_in + fan_out))) - 1) < 0.02
    init.kaiming_uniform_(w, nonlinearity="relu")
    bound = math.sqrt(2) * math.sqrt(3 / fan_in)
    assert np.abs(w.data).max() <= bound and abs(w.data.std() / (bound / math.sqrt(3)) - 1) < 0.02
    init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert abs(w.data.std() / math.sqrt(2 / fan_out) - 1) < 0.02
    with pytest.raises(ValueError, match="mode 'fan_avg' not supported"):
        init.kaiming_normal_(w, mode="fan_avg")


def test_trunc_normal_stays_within_bounds():
    w = _weight((100, 100))
    init.trunc_normal_(w, mean=0.5, std=1.0, a=0.0, b=1.0)
    assert w.data.min() >= 0 and w.data.max() <= 1
    init.trunc_normal_(w, std=0.02, a=-0.04, b=0.04)
    assert np.abs(w.data).max() <= 0.04
    # N(0, 1) cut at +-2 sigma has standard deviation ~0.880 sigma
    assert abs(w.data.std() / 0.02 - 0.880) < 0.02
    with pytest.raises(ValueError, match="holds only"):
        init.trunc_normal_(w, a=10.0, b=11.0)


def test_fills_are_in_place_and_keep_dtype():
    for dtype in (np.float32, np.float64):
        w = _weight((4, 5), dtype)
        array = w.data
        for fill in (init.uniform_, init.normal_, init.xavier_uniform_, init.kaiming_normal_, init.trunc_normal_):
            fill(w)
            assert w.data is array and w.data.dtype == dtype
    assert init.normal_(np.zeros((2, 2))).std() > 0  # plain arrays are accepted too
    with pytest.raises(TypeError, match="expects a ttrain Tensor"):
        init.zeros_([1.0, 2.0])


def test_zero_element_tensors_are_left_alone():
    w = _weight((0, 3))
    assert init.kaiming_uniform_(w) is w and w.shape == (0, 3)


def test_draws_follow_the_global_seed_and_a_given_generator():
    w = _weight((3, 4))
    ttrain.manual_seed(11)
    first = init.kaiming_uniform_(w).data.copy()
    ttrain.manual_seed(11)
    np.testing.assert_array_equal(init.kaiming_uniform_(w).data, first)
    init.kaiming_uniform_(w)
    assert not np.array_equal(w.data, first)
    a = init.normal_(_weight((3, 4)), generator=ttrain.Generator(5)).data
    b = init.normal_(_weight((3, 4)), generator=ttrain.Generator(5)).data
    np.testing.assert_array_equal(a, b)


def test_init_records_no_graph():
    w = nn.Parameter(ttrain.zeros(3, 3))
    init.uniform_(w)
    assert w.is_leaf and w.grad_fn is None and w.requires_grad
