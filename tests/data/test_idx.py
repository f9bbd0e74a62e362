"""IDX reader and writer: round trips and every error a damaged file can cause."""

import gzip

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ttrain.data import DataError, read_idx, read_idx_pair, write_idx

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


@settings(max_examples=25, deadline=None)
@given(
    array=st.sampled_from(DTYPES).flatmap(
        lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5))
    ),
    compress=st.booleans(),
)
def test_round_trip_keeps_values_shape_and_dtype(tmp_path_factory, array, compress):
    path = tmp_path_factory.mktemp("idx") / ("a.idx.gz" if compress else "a.idx")
    write_idx(path, array)
    back = read_idx(path)
    assert back.shape == array.shape
    assert back.dtype == array.dtype  # native byte order, same kind and size
    np.testing.assert_array_equal(back, array)


def test_gzip_is_detected_by_content_not_name(tmp_path):
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    misnamed = tmp_path / "plain-name-idx"
    write_idx(misnamed, array, compress=True)
    assert misnamed.read_bytes()[:2] == b"\x1f\x8b"
    np.testing.assert_array_equal(read_idx(misnamed), array)


def test_writes_the_standard_mnist_header(tmp_path):
    path = tmp_path / "images"
    write_idx(path, np.zeros((2, 28, 28), np.uint8))
    assert path.read_bytes()[:16] == bytes.fromhex("00000803" "00000002" "0000001c" "0000001c")
    assert len(path.read_bytes()) == 16 + 2 * 28 * 28


def test_big_endian_on_disk(tmp_path):
    path = tmp_path / "ints"
    write_idx(path, np.array([1, 256], dtype=np.int32))
    assert path.read_bytes()[8:] == bytes.fromhex("00000001" "00000100")


def test_write_refuses_dtypes_without_a_code(tmp_path):
    with pytest.raises(ValueError, match="int64"):
        write_idx(tmp_path / "x", np.zeros(3, np.int64))


def _header(code: int, *shape: int) -> bytes:
    return bytes([0, 0, code, len(shape)]) + np.asarray(shape, ">u4").tobytes()


@pytest.mark.parametrize(
    "content, message",
    [
        (b"\x12\x34\x08\x01" + bytes(8), "wrong magic number 0x12340801"),
        (bytes([0, 0, 8, 0]), "wrong magic number"),
        (_header(0x07, 3) + bytes(3), "unsupported IDX dtype code 0x07"),
        (b"\x00\x00", "truncated"),
        (bytes([0, 0, 8, 3]) + bytes(4), "truncated: a header of 3 dimensions needs 16 bytes"),
        (_header(0x08, 2, 3) + bytes(5), r"truncated: header promises shape \(2, 3\)"),
        (_header(0x0C, 4) + bytes(15), "truncated"),
        (_header(0x08, 2, 3) + bytes(6) + b"junk", r"trailing garbage after the data of shape \(2, 3\)"),
        (_header(0x08, *[1] * 255), "255 dimensions: an IDX file ttrain reads has at most 32"),
        (_header(0x08, 2**32 - 1, 2**32 - 1, 2**32 - 1),
         r"its header \(shape \(4294967295, 4294967295, 4294967295\)\) declares 7.21e\+16 TiB, over the 4 GiB limit for a data file"),
    ],
)
@pytest.mark.parametrize("compress", [False, True])
def test_damaged_files_name_the_file_and_problem(tmp_path, content, message, compress):
    path = tmp_path / "bad-idx"
    path.write_bytes(gzip.compress(content) if compress else content)
    with pytest.raises(DataError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_damaged_gzip_stream(tmp_path):
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(_header(0x08, 100) + bytes(100))[:-10])
    with pytest.raises(DataError, match="damaged gzip data") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_missing_file_or_a_directory(tmp_path):
    with pytest.raises(DataError, match="nope.gz: no such data file"):
        read_idx(tmp_path / "nope.gz")
    with pytest.raises(DataError, match=f"{tmp_path}: is a directory, not a data file"):
        read_idx(tmp_path)


def test_a_gzip_stream_longer_than_declared_is_read_one_byte_past_the_declared_size(tmp_path, monkeypatch):
    path = tmp_path / "bomb.gz"
    path.write_bytes(gzip.compress(_header(0x08, 10) + bytes(20 << 20)))
    sizes = []
    real_read = gzip.GzipFile.read
    monkeypatch.setattr(gzip.GzipFile, "read", lambda self, size=-1: sizes.append(size) or real_read(self, size))
    with pytest.raises(DataError, match=r"bomb.gz: trailing garbage after the data of shape \(10,\)"):
        read_idx(path)
    assert sum(sizes) == 4 + 4 + 11  # the magic, one dimension, then the 10 declared bytes and one more


def test_a_declared_size_over_the_limit_is_refused_before_decompressing(tmp_path, monkeypatch):
    path = tmp_path / "big.gz"
    path.write_bytes(gzip.compress(_header(0x0E, 1000)))
    monkeypatch.setenv("TTRAIN_MAX_DATA_BYTES", "4K")
    with pytest.raises(DataError, match=r"big.gz: its header \(shape \(1000,\)\) declares 7.81 KiB, over the 4 KiB limit "
                                        r"for a data file \(set TTRAIN_MAX_DATA_BYTES to raise it\)"):
        read_idx(path)


def test_an_empty_file_reads_as_an_empty_array_but_not_as_a_dataset(tmp_path):
    write_idx(tmp_path / "imgs", np.zeros((0, 2, 2), np.uint8))
    write_idx(tmp_path / "lbls", np.zeros(0, np.uint8))
    assert read_idx(tmp_path / "imgs").shape == (0, 2, 2)
    with pytest.raises(DataError, match=r"imgs: no samples \(its shape is \(0, 2, 2\)\)"):
        read_idx_pair(tmp_path / "imgs", tmp_path / "lbls")


def test_pair_returns_int64_labels(tmp_path):
    write_idx(tmp_path / "i", np.zeros((3, 2, 2), np.uint8))
    write_idx(tmp_path / "l", np.array([0, 9, 4], np.uint8))
    images, labels = read_idx_pair(tmp_path / "i", tmp_path / "l")
    assert images.shape == (3, 2, 2)
    assert labels.dtype == np.int64
    assert labels.tolist() == [0, 9, 4]


def test_pair_count_mismatch_names_both_files(tmp_path):
    write_idx(tmp_path / "imgs", np.zeros((3, 2, 2), np.uint8))
    write_idx(tmp_path / "lbls", np.zeros(4, np.uint8))
    with pytest.raises(DataError, match="has 3 images but .*lbls has 4 labels"):
        read_idx_pair(tmp_path / "imgs", tmp_path / "lbls")


def test_pair_refuses_labels_that_are_not_1d(tmp_path):
    write_idx(tmp_path / "imgs", np.zeros((3, 2, 2), np.uint8))
    write_idx(tmp_path / "lbls", np.zeros((3, 1), np.uint8))
    with pytest.raises(DataError, match="lbls: labels must be 1-D"):
        read_idx_pair(tmp_path / "imgs", tmp_path / "lbls")
