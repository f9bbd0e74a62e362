"""`ttrain predict` on every input format it reads (IDX, .npz, .npy, CSV, PNG/JPEG images), its
CSV output (a file, or stdout with `-o -`), output names that never collide, and bad files."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from ttrain.cli.app import app
from ttrain.data import load_mnist, write_idx

from .helpers import MNIST, SPIRALS, assert_fails

N = 12  # test images predicted


def _cli(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def mnist_model(tmp_path_factory) -> Path:
    """The best checkpoint of a small MLP trained on flattened, normalised MNIST."""
    folder = tmp_path_factory.mktemp("model")
    (folder / "mnist.yaml").write_text(MNIST)
    result = _cli("fit", folder / "mnist.yaml", "--json", "--set", f"trainer.output_dir={folder / 'runs'}")
    assert result.exit_code == 0, result.stderr
    return Path(json.loads(result.stdout)["checkpoints"]["best"])


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return load_mnist("test")[0][:N]  # raw uint8 pixels (N, 28, 28), as a scanner or a PNG holds them


@pytest.fixture
def reference(mnist_model: Path, images: np.ndarray, tmp_path: Path) -> np.ndarray:
    """The probabilities predict writes for the images given as IDX, the format it always read."""
    write_idx(tmp_path / "ref.idx", images)
    result = _cli("predict", mnist_model, tmp_path / "ref.idx", "-o", tmp_path / "ref.npz")
    assert result.exit_code == 0, result.stderr
    return np.load(tmp_path / "ref.npz")["probabilities"]


def _stdout_csv(*args: object) -> list[dict[str, str]]:
    result = _cli("predict", *args, "-o", "-")
    assert result.exit_code == 0, result.stderr
    return list(csv.DictReader(io.StringIO(result.stdout)))


def _probabilities(rows: list[dict[str, str]]) -> np.ndarray:
    return np.array([[float(row[f"p_{k}"]) for k in range(10)] for row in rows], dtype=np.float32)


def test_stdout_csv_has_a_row_per_sample_naming_where_it_came_from(mnist_model, images, reference, tmp_path) -> None:
    np.save(tmp_path / "digits.npy", images)
    rows = _stdout_csv(mnist_model, tmp_path / "digits.npy")
    assert list(rows[0])[:3] == ["file", "row", "prediction"] and len(rows) == N
    assert [(r["file"], int(r["row"])) for r in rows] == [(str(tmp_path / "digits.npy"), i) for i in range(N)]
    probabilities = _probabilities(rows)
    np.testing.assert_array_equal(probabilities, reference)  # float32 printed exactly
    assert [int(r["prediction"]) for r in rows] == list(reference.argmax(axis=1))


def test_csv_reads_features_alone_or_a_training_style_file_with_its_target(mnist_model, images, reference,
                                                                          tmp_path) -> None:
    flat = images.reshape(N, -1).astype(int)
    np.savetxt(tmp_path / "features.csv", flat, fmt="%d", delimiter=",")
    header = ",".join([*(f"px{i}" for i in range(784)), "label"])
    labels = load_mnist("test")[1][:N]
    np.savetxt(tmp_path / "labelled.csv", np.column_stack([flat, labels]), fmt="%d", delimiter=",",
               header=header, comments="")
    for name in ("features.csv", "labelled.csv"):
        np.testing.assert_allclose(_probabilities(_stdout_csv(mnist_model, tmp_path / name)), reference, rtol=1e-6)
    result = _cli("predict", mnist_model, tmp_path / "labelled.csv", "-o", tmp_path / "out.csv")
    assert result.exit_code == 0, result.stderr
    assert len((tmp_path / "out.csv").read_text().splitlines()) == N + 1


def test_images_are_read_grayscale_resized_and_normalised_as_the_training_data(mnist_model, images, reference,
                                                                              tmp_path) -> None:
    Image = pytest.importorskip("PIL.Image")
    paths = []
    for i, pixels in enumerate(images):
        paths.append(tmp_path / f"digit{i}.png")
        Image.fromarray(pixels).save(paths[-1])
    rows = _stdout_csv(mnist_model, *paths)
    assert [r["file"] for r in rows] == list(map(str, paths)) and {r["row"] for r in rows} == {"0"}
    np.testing.assert_allclose(_probabilities(rows), reference, rtol=1e-6)  # PNG is lossless: the same answers
    # A colour JPEG twice the size: converted to grayscale and resized to 28 x 28 before the model sees it.
    big = Image.fromarray(images[0]).resize((56, 56)).convert("RGB")
    big.save(tmp_path / "big.jpg", quality=95)
    (row,) = _stdout_csv(mnist_model, tmp_path / "big.jpg")
    assert int(row["prediction"]) == int(reference[0].argmax())


def test_default_output_names_never_collide(mnist_model, images, tmp_path) -> None:
    np.save(tmp_path / "digits.npy", images)
    np.savez(tmp_path / "digits.npz", x=images)
    outputs = []
    for name in ("digits.npy", "digits.npy", "digits.npz"):
        result = _cli("predict", mnist_model, tmp_path / name, "--json")
        assert result.exit_code == 0, result.stderr
        outputs.append(json.loads(result.stdout)["output"])
    assert outputs == [str(tmp_path / f"digits.predictions{suffix}.npz") for suffix in ("", "-2", "-3")]
    first = np.load(outputs[0])
    assert first["predictions"].shape == (N,) and list(first["files"]) == [str(tmp_path / "digits.npy")] * N


@pytest.fixture(scope="module")
def spirals_model(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("spirals")
    (folder / "spirals.yaml").write_text(SPIRALS)
    result = _cli("fit", folder / "spirals.yaml", "--json", "--set", f"trainer.output_dir={folder / 'runs'}",
                  "--set", "trainer.epochs=1")
    assert result.exit_code == 0, result.stderr
    return Path(json.loads(result.stdout)["checkpoints"]["best"])


def test_bad_files_are_input_errors_naming_the_file(mnist_model, spirals_model, images, tmp_path) -> None:
    pytest.importorskip("PIL")
    bad = {"noise.png": b"\x89PNG not really", "notes.csv": b"1,2\n3,oops\n", "wide.csv": b"1,2,3\n",
           "trunc.npy": b""}
    np.save(tmp_path / "full.npy", images)
    bad["trunc.npy"] = (tmp_path / "full.npy").read_bytes()[:-100]
    for name, content in bad.items():
        (tmp_path / name).write_bytes(content)
    expected = {"noise.png": "not a readable image", "notes.csv": "'oops' is not a number",
                "wide.csv": "inputs of shape (3,) per sample do not match the model's data (1, 28, 28)",
                "trunc.npy": "more than the file holds"}
    for name, message in expected.items():
        assert_fails(_cli("predict", mnist_model, tmp_path / name, "-o", tmp_path / "o.csv"), 2,
                     str(tmp_path / name), message)
    assert not (tmp_path / "o.csv").exists()
    from PIL import Image

    Image.fromarray(images[0]).save(tmp_path / "digit.png")
    assert_fails(_cli("predict", spirals_model, tmp_path / "digit.png"), 2, f"{tmp_path / 'digit.png'}: ",
                 "the model's inputs (2,) are not an image")
    assert_fails(_cli("predict", mnist_model, tmp_path / "digit.png", "-o", "-", "--json"), 2, "-o -")


def test_images_without_pillow_say_how_to_install_it(mnist_model, images, tmp_path, monkeypatch) -> None:
    (tmp_path / "digit.png").write_bytes(b"\x89PNG")
    monkeypatch.setitem(sys.modules, "PIL", None)  # as if Pillow were not installed
    assert_fails(_cli("predict", mnist_model, tmp_path / "digit.png"), 2,
                 f"{tmp_path / 'digit.png'}: reading images needs Pillow: pip install 'ttrain[images]'")
