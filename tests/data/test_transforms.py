"""Batch transforms: values, shapes, errors, and RandomShift against a per-image reference."""

import numpy as np
import pytest

import ttrain
from ttrain.data import Compose, Flatten, Normalize, OneHot, RandomShift, ToFloat


def test_to_float_scales_integers_to_unit_range():
    out = ToFloat()(np.array([[0, 51, 255]], np.uint8))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.0, 0.2, 1.0]], rtol=1e-6)


def test_to_float_keeps_float_values_and_honours_scale():
    np.testing.assert_array_equal(ToFloat()(np.array([0.5, 3.0])), np.float32([0.5, 3.0]))
    np.testing.assert_array_equal(ToFloat(scale=0.5)(np.array([2, 4], np.uint8)), np.float32([1, 2]))
    assert ToFloat(np.float64)(np.zeros(2, np.uint8)).dtype == np.float64


def test_normalize_scalar_and_dtype():
    out = Normalize(0.5, 0.25)(np.float32([[0.0, 0.5, 1.0]]))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[-2.0, 0.0, 2.0]])


def test_normalize_per_channel_and_per_feature():
    batch = np.ones((2, 3, 4, 4), np.float32)
    out = Normalize([1.0, 0.0, 0.5], [1.0, 2.0, 0.5])(batch)
    np.testing.assert_allclose(out[:, :, 0, 0], [[0.0, 0.5, 1.0]] * 2)
    features = np.float32([[1, 2], [3, 4]])
    np.testing.assert_allclose(Normalize([2.0, 3.0], [1.0, 1.0])(features), [[-1, -1], [1, 1]])
    per_pixel = Normalize(np.ones((2, 2)), np.ones((2, 2)))(np.ones((5, 2, 2), np.float32))
    np.testing.assert_array_equal(per_pixel, 0)


@pytest.mark.parametrize("transform, batch, error, message", [
    (Normalize(0.0, 1.0), np.zeros(3, np.uint8), TypeError, "ToFloat"),
    (Normalize([0.0, 0.0], [1.0, 1.0]), np.zeros((2, 3), np.float32), ValueError, "do not fit"),
])
def test_normalize_errors(transform, batch, error, message):
    with pytest.raises(error, match=message):
        transform(batch)


def test_normalize_refuses_non_positive_std():
    with pytest.raises(ValueError, match="std must be positive"):
        Normalize(0.0, 0.0)


def test_flatten_and_compose_shapes():
    t = Compose([ToFloat(), Normalize(0.1307, 0.3081), Flatten()])
    out = t(np.zeros((5, 1, 28, 28), np.uint8))
    assert out.shape == (5, 784) and out.dtype == np.float32
    np.testing.assert_allclose(out, -0.1307 / 0.3081, rtol=1e-6)
    assert t.output_shape((5, 1, 28, 28)) == (5, 784)
    assert "Normalize(mean=0.1307, std=0.3081)" in repr(t)


def test_one_hot():
    out = OneHot(4)(np.array([2, 0, 3]))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 0, 1]])
    assert OneHot(4).output_shape((3,)) == (3, 4)


@pytest.mark.parametrize("labels, error, message", [
    (np.array([0, 4]), ValueError, r"labels must lie in \[0, 4\)"),
    (np.array([-1]), ValueError, "from -1"),
    (np.array([0.5]), TypeError, "integer class labels"),
])
def test_one_hot_errors(labels, error, message):
    with pytest.raises(error, match=message):
        OneHot(4)(labels)


def _shifted(image, dy, dx, fill):
    """Reference: one image moved down by dy and right by dx, the uncovered border filled."""
    out = np.full_like(image, fill)
    h, w = image.shape[-2:]
    out[..., max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        image[..., max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
    return out


@pytest.mark.parametrize("shape", [(16, 6, 7), (16, 2, 6, 7)])
def test_random_shift_moves_each_image_by_its_own_bounded_offset(shape):
    s = 2
    batch = np.random.default_rng(0).permutation(np.prod(shape)).reshape(shape).astype(np.float32) + 1
    out = RandomShift(s, fill=-1.0, generator=3)(batch)
    assert out.shape == batch.shape and out.dtype == batch.dtype
    offsets = []
    for image, moved in zip(batch, out, strict=True):
        matches = [
            (dy, dx) for dy in range(-s, s + 1) for dx in range(-s, s + 1)
            if np.array_equal(moved, _shifted(image, dy, dx, -1.0))
        ]
        assert len(matches) == 1
        offsets.append(matches[0])
    assert len(set(offsets)) > 1  # offsets are drawn per image


def test_random_shift_is_seeded():
    batch = np.random.default_rng(1).integers(0, 255, (8, 10, 10), dtype=np.uint8)
    a, b = RandomShift(3, generator=ttrain.Generator(5)), RandomShift(3, generator=ttrain.Generator(5))
    first = a(batch)
    np.testing.assert_array_equal(first, b(batch))
    assert not np.array_equal(first, a(batch))  # the stream moves on between batches
    ttrain.manual_seed(2)
    c = RandomShift(3)(batch)
    ttrain.manual_seed(2)
    np.testing.assert_array_equal(c, RandomShift(3)(batch))


def test_random_shift_zero_is_identity_and_flat_input_is_refused():
    batch = np.ones((2, 4, 4), np.uint8)
    assert RandomShift(0)(batch) is batch
    with pytest.raises(ValueError, match=r"\(N, \[C,\] H, W\)"):
        RandomShift(1)(np.ones((2, 16)))
    with pytest.raises(ValueError, match="non-negative"):
        RandomShift(-1)
