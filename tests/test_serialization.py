"""ttrain.save / ttrain.load: state dicts and optimizer state on safetensors, never a pickle."""

import io
import pickle
import zipfile

import numpy as np
import pytest

import ttrain
from ttrain import nn
from ttrain.devices import DeviceError
from ttrain.training.checkpoint import CheckpointError


def _model():
    ttrain.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.BatchNorm1d(8), nn.Linear(8, 3))


def test_a_state_dict_round_trips_into_a_new_model(tmp_path):
    model = _model()
    path = tmp_path / "model.pth"
    ttrain.save(model.state_dict(), path)
    loaded = ttrain.load(path, weights_only=True)
    assert list(loaded) == list(model.state_dict())
    assert all(isinstance(v, ttrain.Tensor) for v in loaded.values())
    other = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.BatchNorm1d(8), nn.Linear(8, 3))
    other.load_state_dict(loaded)
    x = ttrain.randn(5, 4)
    model.eval(), other.eval()
    np.testing.assert_array_equal(model(x).detach().numpy(), other(x).detach().numpy())
    assert loaded["2.num_batches_tracked"].dtype == np.int64


def test_a_training_snapshot_resumes_exactly(tmp_path):
    def steps(model, optimizer, n):
        for _ in range(n):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()

    x, y = ttrain.randn(16, 4), ttrain.randint(0, 3, (16,))
    model = _model()
    optimizer = ttrain.optim.Adam(model.parameters(), lr=0.01)
    steps(model, optimizer, 3)
    ttrain.save({"epoch": 3, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                 "history": [0.5, 0.25], "note": "after 3", "best": None, "pair": (1, 2.5)}, tmp_path / "ckpt.pt")
    steps(model, optimizer, 2)

    snapshot = ttrain.load(tmp_path / "ckpt.pt", map_location="cpu")
    assert (snapshot["epoch"], snapshot["history"], snapshot["note"], snapshot["best"], snapshot["pair"]) == (
        3, [0.5, 0.25], "after 3", None, (1, 2.5))
    resumed = _model()
    resumed.load_state_dict(snapshot["model"])
    resumed_optimizer = ttrain.optim.Adam(resumed.parameters(), lr=0.01)
    resumed_optimizer.load_state_dict(snapshot["optimizer"])
    assert list(snapshot["optimizer"]["state"]) == [0, 1, 2, 3, 4, 5]  # int keys survive
    steps(resumed, resumed_optimizer, 2)
    for a, b in zip(model.parameters(), resumed.parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_tensors_lists_and_file_objects():
    buffer = io.BytesIO()
    ttrain.save(ttrain.arange(6).reshape(2, 3), buffer)
    buffer.seek(0)
    loaded = ttrain.load(buffer)
    assert loaded.tolist() == [[0, 1, 2], [3, 4, 5]] and loaded.dtype == np.int64
    buffer = io.BytesIO()
    weight = nn.Parameter(ttrain.ones(2))
    ttrain.save([weight, {"inner": [np.float32(1.5), np.zeros(2, np.float16)]}], buffer)
    value = ttrain.load(io.BytesIO(buffer.getvalue()))
    assert value[0].tolist() == [1.0, 1.0] and not value[0].requires_grad
    assert value[1]["inner"][0] == 1.5 and value[1]["inner"][1].dtype == np.float16


@pytest.mark.parametrize("obj, message", [
    (nn.Linear(2, 2), r"cannot save the object, a Linear: ttrain saves only tensors"),
    ({"model": nn.Linear(2, 2)}, r"cannot save the object\['model'\], a Linear"),
    ({"fn": len}, r"a builtin_function_or_method: ttrain saves only tensors"),
    ([1, {2.5: ttrain.ones(1)}], r"the object\[1\] has a key of type float .* keys must be strings or integers"),
    ({"set": {1, 2}}, r"a set: ttrain saves only tensors.*never pickles"),
])
def test_anything_else_is_refused_with_what_is_supported(tmp_path, obj, message):
    with pytest.raises(TypeError, match=message):
        ttrain.save(obj, tmp_path / "x.pt")
    assert not (tmp_path / "x.pt").exists()


def test_a_whole_module_error_says_to_save_its_state_dict(tmp_path):
    with pytest.raises(TypeError, match=r"save its state_dict\(\) instead"):
        ttrain.save(nn.Linear(2, 2), tmp_path / "model.pt")


def test_pickles_and_torch_files_are_never_opened(tmp_path):
    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(pickle.dumps({"a": 1}, protocol=4))
    with pytest.raises(CheckpointError, match="pickle"):
        ttrain.load(pickled)
    zipped = tmp_path / "model.pt"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    with pytest.raises(CheckpointError, match="zip archive"):
        ttrain.load(zipped)
    with pytest.raises(CheckpointError, match="missing"):
        ttrain.load(tmp_path / "missing.pt")


def test_map_location_must_be_the_cpu(tmp_path):
    ttrain.save({"w": ttrain.ones(1)}, tmp_path / "w.pt")
    assert ttrain.load(tmp_path / "w.pt", map_location=ttrain.device("cpu"))["w"].tolist() == [1.0]
    assert ttrain.load(tmp_path / "w.pt", map_location=lambda storage, loc: storage)["w"].tolist() == [1.0]
    with pytest.raises(DeviceError, match="CPU only"):
        ttrain.load(tmp_path / "w.pt", map_location="cuda:0")


def test_a_torch_state_dict_in_safetensors_loads_by_name(tmp_path):
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    layer = torch.nn.Linear(3, 2)
    safetensors_torch.save_file(layer.state_dict(), str(tmp_path / "linear.safetensors"))
    ours = nn.Linear(3, 2)
    ours.load_state_dict(ttrain.load(tmp_path / "linear.safetensors"))
    np.testing.assert_array_equal(ours.weight.detach().numpy(), layer.weight.detach().numpy())
