"""npz and CSV loaders (happy paths and their errors) and the synthetic datasets."""

import io
import pickle
import zipfile

import numpy as np
import pytest

from ttrain.data import DataError, load_csv, load_npz, make_blobs, make_spirals, sources


def test_npz_round_trip_and_dtypes(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.arange(6.0).reshape(3, 2), y=np.array([0.0, 2.0, 1.0]))
    x, y = load_npz(path)
    assert x.dtype == np.float32 and x.shape == (3, 2)
    assert y.dtype == np.int64 and y.tolist() == [0, 2, 1]  # whole numbers become labels


def test_npz_custom_keys_and_regression_targets(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, images=np.zeros((2, 2, 2), np.uint8), values=np.array([0.5, 1.0]))
    x, y = load_npz(path, features_key="images", targets_key="values")
    assert x.shape == (2, 2, 2) and y.dtype == np.float32


def test_npz_missing_key_lists_the_keys_found(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x_train=np.zeros((2, 2)), y_train=np.zeros(2))
    with pytest.raises(DataError, match=r"no array named 'x', 'y'; the file holds \['x_train', 'y_train'\]"):
        load_npz(path)


@pytest.mark.parametrize("arrays, message", [
    ({"x": np.zeros((3, 2)), "y": np.zeros(2)}, "3 feature rows but 2 targets"),
    ({"x": np.array(["a", "b"]), "y": np.zeros(2)}, "array 'x' has dtype <U1; expected numbers"),
    ({"x": np.zeros((0, 2)), "y": np.zeros(0)}, "no samples"),
    ({"x": np.float64(1.0), "y": np.zeros(1)}, "is a scalar"),
])
def test_npz_bad_contents(tmp_path, arrays, message):
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=message) as info:
        load_npz(path)
    assert str(path) in str(info.value)


def test_npz_object_arrays_are_never_unpickled(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.array([{"a": 1}, None], dtype=object), y=np.zeros(2))
    with pytest.raises(DataError, match="without unpickling"):
        load_npz(path)


def test_npz_declaring_more_than_the_data_limit_is_refused_before_decompressing(tmp_path, monkeypatch):
    path = tmp_path / "d.npz"
    np.savez_compressed(path, x=np.zeros((1 << 18, 1)), y=np.zeros(1 << 18))  # 2 MiB + 2 MiB of zeros
    assert path.stat().st_size < 64 << 10
    monkeypatch.setenv("TTRAIN_MAX_DATA_BYTES", "1M")
    with pytest.raises(DataError, match=r"d.npz: its arrays declare, uncompressed, 4 MiB, over the 1 MiB limit for a data file"):
        load_npz(path)


def _npz_with_member(path, name: str, content: bytes) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(name, content)
        buffer = io.BytesIO()
        np.save(buffer, np.zeros(2))
        archive.writestr("y.npy", buffer.getvalue())


def test_npz_whose_array_header_claims_more_than_its_member_holds(tmp_path):
    # NumPy allocates the shape an .npy header declares before reading: 8 GB here, from 144 bytes.
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**9,)})
    path = tmp_path / "d.npz"
    _npz_with_member(path, "x.npy", header.getvalue() + bytes(16))
    with pytest.raises(DataError, match=r"d.npz: array 'x' is damaged: its shape \(1000000000,\) of float64 needs "
                                        r"7.45 GiB, its archive member holds 144 bytes"):
        load_npz(path)


def test_npz_member_that_is_not_an_array(tmp_path):
    path = tmp_path / "d.npz"
    _npz_with_member(path, "x", b"hello")
    with pytest.raises(DataError, match=r"d.npz: array 'x' is not a readable .npy array"):
        load_npz(path)


@pytest.mark.parametrize("content", [b"not a zip at all", pickle.dumps({"x": 1})])
def test_npz_not_an_npz(tmp_path, content):
    path = tmp_path / "d.npz"
    path.write_bytes(content)
    with pytest.raises(DataError, match=r"d\.npz"):
        load_npz(path)


def test_npz_missing_file(tmp_path):
    with pytest.raises(DataError, match="gone.npz: no such data file"):
        load_npz(tmp_path / "gone.npz")


def _write(tmp_path, text, name="d.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_detects_a_header_and_selects_the_target_by_name(tmp_path):
    path = _write(tmp_path, "a,label,b\n1,0,2\n3,1,4\n\n5,2,6\n")
    x, y = load_csv(path, target_column="label")
    assert x.dtype == np.float32 and x.tolist() == [[1, 2], [3, 4], [5, 6]]
    assert y.dtype == np.int64 and y.tolist() == [0, 1, 2]


def test_csv_without_header_uses_the_last_column_by_default(tmp_path):
    x, y = load_csv(_write(tmp_path, "1,2,0.5\n3,4,1.5\n"))
    assert x.tolist() == [[1, 2], [3, 4]]
    assert y.dtype == np.float32 and y.tolist() == [0.5, 1.5]


def test_csv_target_by_index_and_delimiter(tmp_path):
    x, y = load_csv(_write(tmp_path, "7;1;2\n8;3;4\n"), target_column=0, delimiter=";", header=False)
    assert y.tolist() == [7, 8] and x.tolist() == [[1, 2], [3, 4]]


@pytest.mark.parametrize("text, kwargs, message", [
    ("a,b\n1,2\n3,x\n", {}, r"d\.csv:3: column 1 \('b'\): 'x' is not a number"),
    ("1,2\n3,\n", {}, r"d\.csv:2: column 1: '' is not a number"),
    ("1,2,3\n4,5\n", {}, r"d\.csv:2: 2 columns, expected 3"),
    ("a,b\n", {}, "no data rows"),
    ("", {}, "empty file"),
    ("1\n2\n", {}, "at least two columns"),
    ("a,b\n1,2\n", {"target_column": "c"}, r"no column named 'c'; the header has \['a', 'b'\]"),
    ("1,2\n", {"target_column": "c"}, "no header row"),
    ("1,2\n", {"target_column": 5}, "out of range for 2 columns"),
])
def test_csv_errors_say_where(tmp_path, text, kwargs, message):
    with pytest.raises(DataError, match=message):
        load_csv(_write(tmp_path, text), **kwargs)


def test_csv_line_longer_than_the_limit_is_refused_as_it_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "MAX_CSV_LINE_CHARS", 100)
    path = _write(tmp_path, "1,2\n" + ",".join(["1"] * 200) + "\n")
    with pytest.raises(DataError, match=r"d.csv:2: a line longer than 100 characters; store rows this wide in an .npz file"):
        load_csv(path)


def test_csv_byte_order_mark_is_not_part_of_the_first_name(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes("\ufeffa,b\n1,2\n".encode())
    assert load_csv(path, target_column="a")[1].tolist() == [1]


def test_csv_missing_file(tmp_path):
    with pytest.raises(DataError, match="gone.csv: no such data file"):
        load_csv(tmp_path / "gone.csv")


@pytest.mark.parametrize("make, kwargs", [
    (make_spirals, {"classes": 3, "noise": 0.05}),
    (make_blobs, {"classes": 4, "dim": 5}),
])
def test_synthetic_data_is_balanced_and_seeded(make, kwargs):
    x, y = make(200, seed=1, **kwargs)
    classes = kwargs["classes"]
    assert x.dtype == np.float32 and y.dtype == np.int64
    assert x.shape == (200, kwargs.get("dim", 2))
    assert np.bincount(y, minlength=classes).tolist() == [200 // classes + (c < 200 % classes) for c in range(classes)]
    x2, y2 = make(200, seed=1, **kwargs)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(make(200, seed=2, **kwargs)[0], x)


def test_blobs_are_separable_by_their_centres():
    x, y = make_blobs(300, classes=3, dim=4, std=0.1, seed=0)
    centres = np.stack([x[y == c].mean(axis=0) for c in range(3)])
    nearest = np.argmin(((x[:, None] - centres[None]) ** 2).sum(-1), axis=1)
    assert (nearest == y).all()


def test_spirals_lie_on_their_arms():
    x, y = make_spirals(400, classes=3, noise=0.0, seed=0)
    radius = np.linalg.norm(x, axis=1)
    assert radius.max() <= 1.0 + 1e-6
    # Noise-free, arm c turns as angle = 3*pi*radius + 2*pi*c/classes.
    expected = 3 * np.pi * radius + 2 * np.pi * y / 3
    gap = np.angle(np.exp(1j * (np.arctan2(x[:, 1], x[:, 0]) - expected)))
    np.testing.assert_allclose(gap, 0.0, atol=1e-4)
