"""Dropout2d: whole channels dropped while training, scaled survivors, identity in eval, seeded masks."""

import numpy as np
import pytest

import ttrain
from ttrain.nn.channel_dropout import Dropout2d


def test_drops_whole_channels_and_scales_the_rest():
    x = ttrain.ones(8, 16, 3, 3, requires_grad=True)
    y = Dropout2d(0.25)(x)
    per_channel = y.data.reshape(8, 16, 9)
    assert np.all(per_channel.min(axis=2) == per_channel.max(axis=2))  # a channel is kept or dropped as one
    assert set(np.unique(per_channel)) <= {0.0, np.float32(1 / 0.75)}
    assert 0 < (per_channel[..., 0] == 0).sum() < 8 * 16
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, y.data)  # the gradient flows through the same mask


def test_eval_mode_and_p_zero_are_the_identity():
    x = ttrain.randn(2, 3, 4, 4)
    assert Dropout2d(0.5).eval()(x) is x
    assert Dropout2d(0.0)(x) is x
    assert not Dropout2d(1.0)(x).data.any()


def test_masks_are_reproduced_by_the_seed():
    x = ttrain.ones(4, 8, 2, 2)
    ttrain.manual_seed(3)
    first = Dropout2d()(x).data
    ttrain.manual_seed(3)
    np.testing.assert_array_equal(Dropout2d()(x).data, first)


def test_three_dimensional_input_is_taken_as_n_c_l_as_torch_does():
    y = Dropout2d(0.5)(ttrain.ones(6, 5, 7)).data
    assert np.all(y.min(axis=2) == y.max(axis=2))


def test_bad_arguments():
    with pytest.raises(ValueError, match="between 0 and 1"):
        Dropout2d(1.5)
    with pytest.raises(ValueError, match=r"expected an input of shape \(N, C, H, W\) or \(N, C, L\)"):
        Dropout2d()(ttrain.ones(3, 4))
