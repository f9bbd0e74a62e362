"""The full-MNIST downloader against real HTTP servers on 127.0.0.1 (no outside network)."""

import functools
import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest

from ttrain.data import DataError, download_file, load_mnist_full, write_idx
from ttrain.data.factories import mnist_full
from ttrain.data import mnist as mnist_module


@pytest.fixture
def serve():
    """Start an HTTP server on a free port serving a folder; yields a function folder -> base URL."""
    servers = []

    def start(folder: Path) -> str:
        handler = functools.partial(QuietHandler, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def fake_mnist(tmp_path, monkeypatch):
    """Small IDX files under the canonical names, with the MD5 table patched to theirs."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 6), ("test", 4)):
        images_name, labels_name = mnist_module.FULL_FILES[split]
        arrays[split] = (rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), np.arange(n, dtype=np.uint8) % 10)
        write_idx(folder / images_name, arrays[split][0])
        write_idx(folder / labels_name, arrays[split][1])
    md5s = {name: _md5(folder / name) for name in mnist_module.FULL_MD5}
    monkeypatch.setattr(mnist_module, "FULL_MD5", md5s)
    return folder, arrays


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_downloads_verifies_and_caches(tmp_path, fake_mnist, serve):
    mirror, arrays = fake_mnist
    cache = tmp_path / "cache"
    images, labels = load_mnist_full("train", root=cache, mirrors=[serve(mirror)])
    np.testing.assert_array_equal(images, arrays["train"][0])
    assert labels.dtype == np.int64 and labels.tolist() == arrays["train"][1].tolist()
    assert _files(cache) == sorted(mnist_module.FULL_FILES["train"])
    # Cached: a second load needs no server at all.
    images2, _ = load_mnist_full("train", root=cache, mirrors=["http://127.0.0.1:9/unreachable/"])
    np.testing.assert_array_equal(images2, images)


def test_404_on_first_mirror_then_second_succeeds(tmp_path, fake_mnist, serve):
    mirror, _ = fake_mnist
    empty = tmp_path / "empty"
    empty.mkdir()
    cache = tmp_path / "cache"
    images, _ = load_mnist_full("test", root=cache, mirrors=[serve(empty), serve(mirror)])
    assert images.shape == (4, 28, 28)
    assert _files(cache) == sorted(mnist_module.FULL_FILES["test"])


def test_corrupt_download_is_an_error_and_leaves_no_file(tmp_path, fake_mnist, serve):
    mirror, _ = fake_mnist
    name = "t10k-labels-idx1-ubyte.gz"
    (mirror / name).write_bytes(b"corrupted bytes")
    cache = tmp_path / "cache"
    with pytest.raises(DataError) as info:
        download_file(name, mnist_module.FULL_MD5[name], cache, mirrors=[serve(mirror)])
    message = str(info.value)
    assert "MD5 mismatch" in message and name in message and "127.0.0.1" in message
    assert _files(cache) == []  # neither the file nor a temporary part


def test_every_mirror_failing_lists_them_all(tmp_path, fake_mnist, serve):
    empty = tmp_path / "empty"
    empty.mkdir()
    first, second = serve(empty), "http://127.0.0.1:9/"  # a 404, then a refused connection
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match="could not download train-images-idx3-ubyte.gz") as info:
        load_mnist_full("train", root=cache, mirrors=[first, second])
    message = str(info.value)
    assert f"{first}train-images-idx3-ubyte.gz: HTTP Error 404" in message
    assert f"{second}train-images-idx3-ubyte.gz" in message
    assert _files(cache) == []


def test_a_corrupted_cached_file_is_downloaded_again(tmp_path, fake_mnist, serve):
    mirror, arrays = fake_mnist
    cache = tmp_path / "cache"
    cache.mkdir()
    for name in mnist_module.FULL_FILES["test"]:
        (cache / name).write_bytes(b"left by an old, broken run")
    images, _ = load_mnist_full("test", root=cache, mirrors=[serve(mirror)])
    np.testing.assert_array_equal(images, arrays["test"][0])


def test_mirrors_and_cache_from_the_environment(tmp_path, fake_mnist, serve, monkeypatch):
    mirror, _ = fake_mnist
    monkeypatch.setenv("TTRAIN_MNIST_MIRRORS", f"http://127.0.0.1:9/, {serve(mirror)}")
    monkeypatch.setenv("TTRAIN_DATA", str(tmp_path / "data"))
    splits = mnist_full(flatten=False)
    assert len(splits["train"]) == 6 and len(splits["test"]) == 4
    assert splits["train"].input_shape == (1, 28, 28)
    assert _files(tmp_path / "data" / "mnist") == sorted(mnist_module.FULL_MD5)


def test_default_mirrors_are_the_canonical_ones(monkeypatch):
    monkeypatch.delenv("TTRAIN_MNIST_MIRRORS", raising=False)
    assert mnist_module.default_mirrors() == [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ]


def test_default_cache_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("TTRAIN_DATA", raising=False)
    assert mnist_module.default_cache_dir() == Path.home() / ".cache" / "ttrain" / "mnist"
    monkeypatch.setenv("TTRAIN_DATA", str(tmp_path))
    assert mnist_module.default_cache_dir() == tmp_path / "mnist"
