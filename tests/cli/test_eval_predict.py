"""`ttrain eval` and `ttrain predict` in-process: the checkpoint round trip and the output files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ttrain.data import load_mnist, write_idx

from .helpers import MNIST


@pytest.fixture
def trained(write_config, fit_json) -> dict:
    """The --json summary of a 3-epoch SPIRALS fit (2 classes, 2 features)."""
    return fit_json(write_config(), "--set", "trainer.epochs=3")


def test_eval_of_best_gives_exactly_the_metrics_the_fit_reported(trained: dict, cli) -> None:
    best = trained["best"]["metrics"]
    for split in ("test", "val"):
        result = cli("eval", trained["checkpoints"]["best"], "--split", split, "--json")
        assert result.exit_code == 0, result.stderr
        report = json.loads(result.stdout)
        assert report["epoch"] == trained["best"]["epoch"]
        assert report["metrics"] == {f"{split}.loss": best[f"{split}.loss"], f"{split}.accuracy": best[f"{split}.accuracy"]}
    assert report["samples"] == 64  # a quarter of 256 held out for validation


def test_eval_of_mnist_best_matches_the_fit(write_config, fit_json, cli) -> None:
    summary = fit_json(write_config(MNIST, "mnist.yaml"), "--set", "trainer.epochs=2")
    report = json.loads(cli("eval", summary["checkpoints"]["best"], "--json").stdout)
    assert report["samples"] == 256
    assert report["metrics"]["test.accuracy"] == summary["best"]["metrics"]["test.accuracy"]
    assert report["metrics"]["test.loss"] == summary["best"]["metrics"]["test.loss"]


def test_eval_needs_nothing_but_the_checkpoint(trained: dict, cli, tmp_path: Path, monkeypatch) -> None:
    run = Path(trained["run_dir"])
    moved = tmp_path / "elsewhere" / "model.safetensors"
    moved.parent.mkdir()
    Path(trained["checkpoints"]["best"]).rename(moved)
    (run / "config.yaml").unlink()
    monkeypatch.chdir(moved.parent)
    result = cli("eval", moved.name)
    assert result.exit_code == 0, result.stderr
    accuracy = trained["best"]["metrics"]["test.accuracy"]
    assert result.stdout.strip() == (
        f"model.safetensors (epoch {trained['best']['epoch']}) on 128 test samples: "
        f"test.loss={trained['best']['metrics']['test.loss']:.4f}  test.accuracy={accuracy:.4f}"
    )


def test_eval_data_overrides_change_the_evaluated_data(trained: dict, cli) -> None:
    report = json.loads(cli("eval", trained["checkpoints"]["last"], "--data", "n_test=32", "--json").stdout)
    assert report["samples"] == 32


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--split", "val", "--data", "bogus=1"], "data.bogus: unknown key"),
        (["--data", "n_test=0"], "data.n_test: expected a value >= 1, found 0"),
    ],
)
def test_eval_bad_data_overrides_are_input_errors(trained: dict, cli, args: list[str], message: str) -> None:
    result = cli("eval", trained["checkpoints"]["last"], *args)
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_eval_val_split_of_a_run_without_one_is_an_input_error(write_config, fit_json, cli) -> None:
    summary = fit_json(write_config(), "--set", "trainer.val_split=0", "--set", "trainer.epochs=1")
    result = cli("eval", summary["checkpoints"]["last"], "--split", "val")
    assert result.exit_code == 2
    assert "no 'val' split" in result.stderr and "trainer.val_split" in result.stderr


def _inputs(tmp_path: Path, n: int = 5) -> tuple[Path, np.ndarray]:
    x = np.random.default_rng(0).standard_normal((n, 2)).astype(np.float32)
    path = tmp_path / "points.npz"
    np.savez(path, x=x)
    return path, x


def test_predict_writes_probabilities_and_classes(trained: dict, cli, tmp_path: Path) -> None:
    inputs, _ = _inputs(tmp_path)
    result = cli("predict", trained["checkpoints"]["best"], inputs, "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    output = tmp_path / "points.predictions.npz"
    assert report["output"] == str(output) and report["samples"] == 5
    with np.load(output) as saved:
        probabilities, predictions = saved["probabilities"], saved["predictions"]
    assert probabilities.shape == (5, 2) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(predictions, probabilities.argmax(axis=1))


def test_predict_agrees_with_the_models_own_argmax_on_the_test_set(write_config, fit_json, cli, tmp_path: Path) -> None:
    # Inputs in IDX format, raw (un-normalised) MNIST pixels: predict applies the data's transform.
    summary = fit_json(write_config(MNIST, "mnist.yaml"))
    images, labels = load_mnist("test")
    images, labels = images[:256], labels[:256]  # the test_size the fit evaluated on
    write_idx(tmp_path / "images.idx", images)
    result = cli("predict", summary["checkpoints"]["best"], tmp_path / "images.idx", "-o", tmp_path / "p.npz")
    assert result.exit_code == 0, result.stderr
    predictions = np.load(tmp_path / "p.npz")["predictions"]
    assert float(np.mean(predictions == labels)) == summary["best"]["metrics"]["test.accuracy"]


def test_predict_refuses_to_overwrite_unless_asked(trained: dict, cli, tmp_path: Path) -> None:
    inputs, _ = _inputs(tmp_path)
    output = tmp_path / "out.npz"
    output.write_bytes(b"keep me")
    result = cli("predict", trained["checkpoints"]["best"], inputs, "--output", output)
    assert result.exit_code == 2
    assert f"{output}: already exists" in result.stderr and "--overwrite" in result.stderr
    assert output.read_bytes() == b"keep me"
    result = cli("predict", trained["checkpoints"]["best"], inputs, "--output", output, "--overwrite")
    assert result.exit_code == 0, result.stderr
    assert np.load(output)["probabilities"].shape == (5, 2)


def test_predict_inputs_of_the_wrong_shape_are_an_input_error(trained: dict, cli, tmp_path: Path) -> None:
    path = tmp_path / "wrong.npz"
    np.savez(path, x=np.zeros((4, 3), np.float32))
    result = cli("predict", trained["checkpoints"]["best"], path)
    assert result.exit_code == 2
    assert "(3,)" in result.stderr and "(2,)" in result.stderr
    assert not (tmp_path / "wrong.predictions.npz").exists()


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_predict_inputs_with_a_non_finite_value_are_an_input_error_naming_the_row(
        trained: dict, cli, tmp_path: Path, value: float) -> None:
    path = tmp_path / "bad.npz"
    x = np.zeros((4, 2), np.float32)
    x[2, 1] = value
    np.savez(path, x=x)
    result = cli("predict", trained["checkpoints"]["best"], path)
    assert result.exit_code == 2
    assert f"{path}: row 2 has a non-finite feature ({value} at feature 1)" in result.stderr
    assert not (tmp_path / "bad.predictions.npz").exists()
