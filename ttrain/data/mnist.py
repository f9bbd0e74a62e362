"""MNIST: the bundled 10k/10k files, and the full 60k/10k set downloaded on request.

The download tries each mirror in turn, streams into a temporary file in the cache folder while
hashing it, and renames the file into place only when its MD5 matches, so an interrupted or
corrupt download never leaves a file that a later run would trust.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from os import PathLike
from pathlib import Path
from typing import Literal, Sequence

import numpy as np

from ttrain.data.errors import DataError
from ttrain.data.idx import read_idx_pair

Split = Literal["train", "test"]

BUNDLED_DIR = Path(__file__).parent / "mnist"
BUNDLED_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-10k-images-idx3-ubyte.gz", "train-10k-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

FULL_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
# MD5 of each canonical .gz file, as torchvision and most loaders check them.
FULL_MD5: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
DEFAULT_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
MIRRORS_ENV = "TTRAIN_MNIST_MIRRORS"
DATA_ENV = "TTRAIN_DATA"


def _check_split(split: str) -> None:
    if split not in ("train", "test"):
        raise ValueError(f"MNIST split must be 'train' or 'test', got {split!r}")


def load_mnist(split: Split, root: str | PathLike[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The bundled MNIST ``split``: uint8 images ``(10000, 28, 28)`` and int64 labels ``(10000,)``.

    ``train`` is a 10,000-image subset of the MNIST training set, ``test`` the official test set.
    ``root`` reads files of the same names from another folder instead of the package.
    """
    _check_split(split)
    folder = Path(root) if root is not None else BUNDLED_DIR
    images, labels = BUNDLED_FILES[split]
    return read_idx_pair(folder / images, folder / labels)


def default_cache_dir() -> Path:
    """Where downloaded MNIST files live: ``$TTRAIN_DATA/mnist``, else ``~/.cache/ttrain/mnist``."""
    base = os.environ.get(DATA_ENV)
    return (Path(base).expanduser() if base else Path.home() / ".cache" / "ttrain") / "mnist"


def default_mirrors() -> list[str]:
    """The download mirrors: ``$TTRAIN_MNIST_MIRRORS`` (comma-separated URLs) if set, else the canonical two."""
    override = os.environ.get(MIRRORS_ENV, "")
    urls = [u.strip() for u in override.split(",") if u.strip()]
    return urls or list(DEFAULT_MIRRORS)


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch(url: str, folder: Path, name: str, md5: str, timeout: float) -> None:
    """Download ``url`` to ``folder/name`` through a temporary file; raise OSError or DataError on failure."""
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.md5()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != md5:
            raise DataError(f"MD5 mismatch: got {digest.hexdigest()}, expected {md5}")
        os.replace(tmp, folder / name)
    finally:
        tmp.unlink(missing_ok=True)  # gone already after a successful rename


def download_file(
    name: str,
    md5: str,
    folder: str | PathLike[str],
    mirrors: Sequence[str] | None = None,
    timeout: float = 60.0,
) -> Path:
    """``folder/name``, downloaded from the first mirror that serves it with the right MD5 unless a
    verified copy is already there.

    Raises:
        DataError: no mirror gave a verified file; the message lists each mirror tried and why it failed.
    """
    folder = Path(folder)
    target = folder / name
    if target.is_file() and _md5(target) == md5:
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the MNIST cache folder {folder}: {exc}") from None
    mirrors = list(mirrors) if mirrors is not None else default_mirrors()
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + name
        try:
            _fetch(url, folder, name, md5, timeout)
            return target
        except (OSError, http.client.HTTPException, ValueError) as exc:  # ValueError: bad URL or MD5
            is_url_error = isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError)
            failures.append(f"  {url}: {exc.reason if is_url_error else exc}")
    tried = "\n".join(failures) or "  (no mirrors given)"
    raise DataError(
        f"could not download {name} into {folder}; tried:\n{tried}\n"
        f"(set {MIRRORS_ENV} to other mirrors, or put a verified copy of the file in {folder})"
    )


def load_mnist_full(
    split: Split,
    root: str | PathLike[str] | None = None,
    mirrors: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The full MNIST ``split`` (60,000 train / 10,000 test), downloaded and verified on first use.

    ``root`` is the cache folder (default `default_cache_dir`), ``mirrors`` the base URLs to try in
    order (default `default_mirrors`). Returns uint8 images ``(N, 28, 28)`` and int64 labels ``(N,)``.
    """
    _check_split(split)
    folder = Path(root) if root is not None else default_cache_dir()
    paths = [download_file(name, FULL_MD5[name], folder, mirrors) for name in FULL_FILES[split]]
    return read_idx_pair(*paths)
