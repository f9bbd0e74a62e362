"""`ttrain export` (to PyTorch and ONNX) and `ttrain import` through the CLI: the exported files run in
PyTorch and onnxruntime and give ttrain's outputs; a state dict comes back in as a checkpoint that
`ttrain eval` scores exactly as the original; bad input is exit 2 naming the layer or the tensor."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from ttrain.autograd.creation import from_numpy
from ttrain.autograd.grad_mode import no_grad
from ttrain.cli.app import app
from ttrain.training.run import load_for_inference

from .helpers import assert_fails

MNIST_DATA = "data: {name: mnist, train_size: 256, test_size: 128, flatten: false}"
CONFIGS = {
    # the seed network: Linear + Sigmoid, trained with MSE on one-hot targets
    "seed": f"""
        model: {{name: seed_net}}
        {MNIST_DATA[:-1]}, one_hot: true}}
        loss: {{name: mse}}
        optimizer: {{name: sgd, lr: 0.5}}
        """,
    "mlp": f"""
        model: {{name: mlp, hidden: [32, 16], dropout: 0.2}}
        {MNIST_DATA}
        """,
    # conv, batch norm (trained running statistics), ReLU, max-pool, dropout, flatten, linear
    "cnn": f"""
        model: {{name: cnn, channels: [4, 8], hidden: 16, batch_norm: true}}
        {MNIST_DATA}
        """,
}
TRAINER = "trainer: {epochs: 1, batch_size: 32, output_dir: %s}\n"


def invoke(*args: Any) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args])


def write_config(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(textwrap.dedent(text) + TRAINER % (folder / "runs"), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """(config, best checkpoint) of a one-epoch fit of each model."""
    folder = tmp_path_factory.mktemp("export")
    checkpoints = {}
    for name, text in CONFIGS.items():
        config = write_config(folder, name, text)
        result = invoke("fit", config, "--json", "-q")
        assert result.exit_code == 0, result.stderr
        checkpoints[name] = (config, Path(json.loads(result.stdout)["checkpoints"]["best"]))
    return checkpoints


def ttrain_outputs(checkpoint: Path, x: np.ndarray) -> np.ndarray:
    _, model, _, _ = load_for_inference(checkpoint)
    with no_grad():
        return model(from_numpy(x)).data


def images(n: int = 8) -> np.ndarray:
    return np.random.default_rng(1).standard_normal((n, 1, 28, 28)).astype(np.float32)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_torch_export_loads_into_the_printed_model_and_gives_ttrains_outputs(
        trained, name: str, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("safetensors.torch")
    _, checkpoint = trained[name]
    target = tmp_path / "model.safetensors"
    result = invoke("export", checkpoint, "--to", "torch", "-o", target)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"# wrote {target}")
    namespace: dict[str, Any] = {}
    exec(result.stdout, namespace)  # the whole of stdout is the snippet, runnable as it is
    model = namespace["model"]
    assert isinstance(model, torch.nn.Sequential) and not model.training
    x = images()
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(expected, ttrain_outputs(checkpoint, x), rtol=1e-5, atol=1e-5)


def test_torch_export_has_plain_sequential_names(trained, tmp_path: Path) -> None:
    from safetensors.numpy import load_file

    result = invoke("export", trained["cnn"][1], "-o", tmp_path / "cnn.safetensors", "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    names = set(load_file(tmp_path / "cnn.safetensors"))
    assert names == set(report["tensors"])
    assert {"0.weight", "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked",
            "9.weight", "12.bias"} <= names
    assert not any(name.startswith(("model.", "features.", "classifier.")) for name in names)
    assert report["layers"][:3] == ["Conv2d", "BatchNorm2d", "ReLU"] and report["input_shape"] == [1, 28, 28]


@pytest.mark.parametrize("name", list(CONFIGS))
def test_onnx_export_runs_in_onnxruntime_with_ttrains_outputs(trained, name: str, tmp_path: Path) -> None:
    onnxruntime = pytest.importorskip("onnxruntime")
    _, checkpoint = trained[name]
    target = tmp_path / "model.onnx"
    result = invoke("export", checkpoint, "-o", target)  # the format from the suffix
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"wrote {target}: ONNX opset 17, input 'input' (batch, 1, 28, 28)")
    session = onnxruntime.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    x = images(5)  # any batch size: the batch dimension is free
    (outputs,) = session.run(None, {"input": x})
    np.testing.assert_allclose(outputs, ttrain_outputs(checkpoint, x), rtol=1e-4, atol=1e-5)


def test_onnx_graph_uses_the_standard_operators(trained, tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    invoke("export", trained["cnn"][1], "--to", "onnx", "-o", tmp_path / "cnn.onnx")
    graph = onnx.load(tmp_path / "cnn.onnx").graph
    ops = [node.op_type for node in graph.node]
    assert ops[:7] == ["Conv", "BatchNormalization", "Relu", "Conv", "BatchNormalization", "Relu", "MaxPool"]
    assert {"Flatten", "Gemm", "Identity"} <= set(ops)  # Identity: dropout in evaluation mode
    assert {i.name for i in graph.initializer} >= {"features.1.running_mean", "classifier.1.weight"}


def test_import_of_an_export_evaluates_exactly_as_the_original(trained, tmp_path: Path) -> None:
    config, checkpoint = trained["cnn"]
    exported, imported = tmp_path / "cnn.safetensors", tmp_path / "imported.safetensors"
    assert invoke("export", checkpoint, "-o", exported).exit_code == 0
    result = invoke("import", exported, "--config", config, "-o", imported)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == f"wrote {imported}: 16 tensors of the config's CNN from {exported}"
    original = json.loads(invoke("eval", checkpoint, "--json").stdout)
    again = json.loads(invoke("eval", imported, "--json").stdout)
    assert again["metrics"] == original["metrics"] and again["epoch"] == 0


def test_fit_resumes_from_an_imported_checkpoint_to_fine_tune_it(trained, tmp_path: Path) -> None:
    config, checkpoint = trained["seed"]
    exported, imported = tmp_path / "seed.safetensors", tmp_path / "imported.safetensors"
    assert invoke("export", checkpoint, "-o", exported).exit_code == 0
    assert invoke("import", exported, "-c", config, "-o", imported).exit_code == 0
    result = invoke("fit", config, "--resume", imported, "--json", "-q")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["epochs"] == 1 and summary["global_step"] == 8  # one epoch of 256 / 32, from step 0


def test_a_state_dict_made_by_torch_imports(trained, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    config, checkpoint = trained["mlp"]
    namespace: dict[str, Any] = {}
    exec(invoke("export", checkpoint, "-o", tmp_path / "unused.safetensors").stdout, namespace)
    torch.manual_seed(7)
    model = torch.nn.Sequential(*(type(layer)(**_init_args(layer)) for layer in namespace["model"]))
    save_file(model.state_dict(), str(tmp_path / "torch.safetensors"))
    result = invoke("import", tmp_path / "torch.safetensors", "-c", config, "-o", tmp_path / "ckpt.safetensors",
                    "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["tensors"] == 6
    x = images(4)
    with torch.no_grad():
        expected = model.eval()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ttrain_outputs(tmp_path / "ckpt.safetensors", x), expected, rtol=1e-5, atol=1e-6)


def _init_args(layer: Any) -> dict[str, Any]:
    """The constructor arguments of a torch layer of the snippet's model (a fresh, re-initialised twin)."""
    import torch

    if isinstance(layer, torch.nn.Linear):
        return {"in_features": layer.in_features, "out_features": layer.out_features}
    if isinstance(layer, torch.nn.Dropout):
        return {"p": layer.p}
    return {}


def test_a_state_dict_under_the_models_own_names_and_a_prefix_imports(trained, tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    from ttrain.training.checkpoint import load_checkpoint

    config, checkpoint = trained["seed"]
    tensors, _ = load_checkpoint(checkpoint)  # model.linear.weight, model.linear.bias, optimizer.*, ...
    save_file({k: v for k, v in tensors.items() if k.startswith("model.")}, tmp_path / "own.safetensors")
    result = invoke("import", tmp_path / "own.safetensors", "-c", config, "-o", tmp_path / "ckpt.safetensors")
    assert result.exit_code == 0, result.stderr
    x = images(3)
    np.testing.assert_array_equal(ttrain_outputs(tmp_path / "ckpt.safetensors", x), ttrain_outputs(checkpoint, x))


def _exported(trained, tmp_path: Path, name: str = "mlp") -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    assert invoke("export", trained[name][1], "-o", tmp_path / "good.safetensors").exit_code == 0
    return load_file(tmp_path / "good.safetensors")


@pytest.mark.parametrize(("change", "fragments"), [
    (lambda s: s.pop("4.bias"), ["lacks 4.bias"]),
    (lambda s: s.update({"9.weight": np.zeros((2, 2), np.float32)}), ["has 9.weight", "which the model does not"]),
    (lambda s: s.update({"1.weight": np.zeros((32, 10), np.float32)}),
     ["tensor 1.weight has shape (32, 10), the model's net.0.weight needs (32, 784)"]),
    (lambda s: s.update({"1.bias": np.zeros(32, np.int32)}), ["tensor 1.bias is int32"]),
])
def test_weights_that_do_not_fit_the_model_are_an_input_error_naming_the_tensor(
        trained, tmp_path: Path, change, fragments: list[str]) -> None:
    from safetensors.numpy import save_file

    state = _exported(trained, tmp_path)
    change(state)
    save_file(state, tmp_path / "bad.safetensors")
    result = invoke("import", tmp_path / "bad.safetensors", "-c", trained["mlp"][0], "-o", tmp_path / "out.safetensors")
    assert_fails(result, 2, str(tmp_path / "bad.safetensors"), *fragments)
    assert not (tmp_path / "out.safetensors").exists()


def test_a_pickled_file_is_refused_without_unpickling_it(trained, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    torch.save({"0.weight": torch.zeros(2)}, tmp_path / "model.pt")
    result = invoke("import", tmp_path / "model.pt", "-c", trained["mlp"][0])
    assert_fails(result, 2, "model.pt: is not a readable safetensors file", "safetensors.torch.save_file")


def test_a_layer_without_an_onnx_mapping_is_an_input_error_naming_it(tmp_path: Path) -> None:
    config = write_config(tmp_path, "groups", """
        model:
          layers: [{conv2d: {out_channels: 4, kernel_size: 3}}, {group_norm: {num_groups: 2}}, flatten,
                   {linear: {out_features: 10}}]
        data: {name: mnist, train_size: 64, test_size: 32, flatten: false}
        """)
    fit = invoke("fit", config, "--json", "-q")
    assert fit.exit_code == 0, fit.stderr
    best = json.loads(fit.stdout)["checkpoints"]["best"]
    result = invoke("export", best, "--to", "onnx", "-o", tmp_path / "model.onnx")
    assert_fails(result, 2, f"error: {best}: layer 1 (1, GroupNorm) has no ONNX mapping", "BatchNorm2d")
    assert not (tmp_path / "model.onnx").exists()
    assert invoke("export", best, "--to", "torch", "-o", tmp_path / "model.safetensors").exit_code == 0


def test_export_never_overwrites_unless_asked_and_needs_a_format(trained, tmp_path: Path) -> None:
    target = tmp_path / "model.onnx"
    target.write_bytes(b"keep")
    checkpoint = trained["seed"][1]
    assert_fails(invoke("export", checkpoint, "-o", target), 2, "already exists", "--overwrite")
    assert target.read_bytes() == b"keep"
    assert invoke("export", checkpoint, "-o", target, "--overwrite").exit_code == 0
    result = invoke("export", checkpoint, "-o", tmp_path / "model.bin")
    assert result.exit_code == 2 and "expected torch or onnx" in result.stderr
    default = invoke("export", checkpoint, "--to", "onnx", "--json")
    assert json.loads(default.stdout)["output"] == str(checkpoint.with_name("best.onnx"))


def test_json_outputs_follow_the_output_schema(trained, tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from ttrain.schemas import output_schema

    validator = jsonschema.Draft202012Validator(output_schema())
    config, checkpoint = trained["seed"]
    outputs = [
        invoke("export", checkpoint, "--to", "torch", "-o", tmp_path / "m.safetensors", "--json"),
        invoke("export", checkpoint, "--to", "onnx", "-o", tmp_path / "m.onnx", "--json"),
        invoke("import", tmp_path / "m.safetensors", "-c", config, "-o", tmp_path / "c.safetensors", "--json"),
        invoke("import", tmp_path / "m.safetensors", "-c", config, "-o", tmp_path / "c.safetensors", "--json"),
    ]
    reports = [json.loads(result.stdout) for result in outputs]
    for report in reports:
        validator.validate(report)
    assert [r["command"] for r in reports] == ["export", "export", "import", "import"]
    assert reports[1]["output_shape"] == ["batch", 10] and reports[0]["tensors"] == ["1.bias", "1.weight"]
    assert (reports[3]["status"], reports[3]["exit_code"], reports[3]["error"]["kind"]) == ("error", 2, "checkpoint")


BRANCHES = """\
from ttrain import nn


class Branches(nn.Module):
    def __init__(self, in_features: int = 2, num_classes: int = 2) -> None:
        super().__init__()
        self.left, self.right = nn.Linear(in_features, num_classes), nn.Linear(in_features, num_classes)

    def forward(self, x):
        return self.left(x) * self.right(x)
"""


def test_a_model_that_is_not_a_chain_imports_by_its_own_names_but_does_not_export(tmp_path: Path, monkeypatch) -> None:
    import sys

    from safetensors.numpy import save_file

    (tmp_path / "ttrain_export_branches.py").write_text(BRANCHES, encoding="utf-8")
    config = write_config(tmp_path, "branches", """
        model: {name: "ttrain_export_branches:Branches"}
        data: {name: spirals, n_train: 64, n_test: 32}
        """)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        rng = np.random.default_rng(0)
        state = {f"module.{side}.{name}": rng.standard_normal(shape).astype(np.float32)
                 for side in ("left", "right") for name, shape in (("weight", (2, 2)), ("bias", (2,)))}
        save_file(state, tmp_path / "w.safetensors")
        result = invoke("import", tmp_path / "w.safetensors", "-c", config, "-o", tmp_path / "c.safetensors", "--json")
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout)["model"] == "Branches"
        assert invoke("eval", tmp_path / "c.safetensors", "--trust-module", "ttrain_export_branches").exit_code == 0
        exported = invoke("export", tmp_path / "c.safetensors", "--to", "onnx",
                          "--trust-module", "ttrain_export_branches")
        assert_fails(exported, 2, "model Branches is not a chain of layers")
    finally:
        sys.modules.pop("ttrain_export_branches", None)
