"""The bundled MNIST files: intact, credited, and read with the right shapes, dtypes and labels."""

import hashlib

import numpy as np
import pytest

from ttrain.data import load_mnist
from ttrain.data.mnist import BUNDLED_DIR

SHA256 = {
    "train-10k-images-idx3-ubyte.gz": "ed26e16809576cf68656d1fda697daf361cb9ae023171f37509f8acb0bcc671f",
    "train-10k-labels-idx1-ubyte.gz": "4401b6937c803731713bc8844f14f50ad71d9c4f3db262862ee2e4f7155b3394",
    "t10k-images-idx3-ubyte.gz": "167310007f03058885c7e95e6c0b19c20de5c7fd3031f4cbdadc9014a523d80b",
    "t10k-labels-idx1-ubyte.gz": "fc607395669ec21321ea83e4b82c0544b7e8e63ff5b34337c06bc0a17cc0da3c",
}
TRAIN_CLASS_COUNTS = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
# The official test set's per-digit counts, as published with MNIST.
TEST_CLASS_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.mark.parametrize("name", sorted(SHA256))
def test_bundled_files_match_their_published_sha256(name):
    assert hashlib.sha256((BUNDLED_DIR / name).read_bytes()).hexdigest() == SHA256[name]


def test_credit_ships_beside_the_files():
    readme = (BUNDLED_DIR / "README.md").read_text()
    for credit in ("Yann LeCun", "Corinna Cortes", "Burges", "CC BY-SA 3.0"):
        assert credit in readme


@pytest.mark.parametrize("split, counts", [("train", TRAIN_CLASS_COUNTS), ("test", TEST_CLASS_COUNTS)])
def test_splits_have_mnist_shapes_dtypes_and_class_counts(split, counts):
    images, labels = load_mnist(split)
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and labels.dtype == np.int64
    assert np.bincount(labels, minlength=10).tolist() == counts
    assert images.max() == 255 and images.min() == 0


def test_official_test_set_matches_its_known_md5():
    # The uncompressed official test files have well-known MD5s; rebuild them from the arrays.
    images, labels = load_mnist("test")
    images_file = bytes.fromhex("00000803" "00002710" "0000001c" "0000001c") + images.tobytes()
    labels_file = bytes.fromhex("00000801" "00002710") + labels.astype(np.uint8).tobytes()
    assert hashlib.md5(images_file).hexdigest() == "2646ac647ad5339dbf082846283269ea"
    assert hashlib.md5(labels_file).hexdigest() == "27ae3e4e09519cfbb04c329615203637"


def test_unknown_split_is_refused():
    with pytest.raises(ValueError, match="'train' or 'test'"):
        load_mnist("val")
