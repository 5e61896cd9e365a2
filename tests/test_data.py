"""The IDX reader, dataset lookup and the embedded digits."""

import gzip
import struct

import numpy as np
import pytest

from nudge import load_dataset, read_idx
from nudge.data import parse_idx
from nudge.errors import DataError, NudgeError


def idx_bytes(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(np.uint8).tobytes()


@pytest.fixture
def images():
    return np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)


def test_reads_raw_and_gzipped_idx(tmp_path, images):
    raw, gz = tmp_path / "a-idx3-ubyte", tmp_path / "b-idx3-ubyte.gz"
    raw.write_bytes(idx_bytes(images))
    gz.write_bytes(gzip.compress(idx_bytes(images)))
    for path in (raw, gz):
        arr = read_idx(path)
        assert arr.dtype == np.uint8 and arr.shape == (3, 4, 5)
        np.testing.assert_array_equal(arr, images)
    labels = np.array([5, 0, 4], dtype=np.uint8)
    (tmp_path / "l").write_bytes(idx_bytes(labels))
    np.testing.assert_array_equal(read_idx(tmp_path / "l"), labels)


@pytest.mark.parametrize("mutate,match", [
    (lambda b: b"\x00\x00\x0d\x03" + b[4:], "not an IDX file of bytes"),    # float type code
    (lambda b: b"PK\x03\x04" + b[4:], "magic number"),
    (lambda b: b[:-7], "truncated"),
    (lambda b: b[:10], "truncated IDX header"),
    (lambda b: b + b"xx", "unexpected bytes"),
    (lambda b: b"", "only 0 bytes"),
])
def test_corrupt_idx_files_are_reported_with_path_and_reason(tmp_path, images, mutate, match):
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(mutate(idx_bytes(images)))
    with pytest.raises(DataError, match=match) as err:
        read_idx(path)
    assert str(path) in str(err.value)


def test_truncated_gzip_is_reported(tmp_path, images):
    path = tmp_path / "x-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(images))[:-10])
    with pytest.raises(DataError, match="gzip data is corrupt or truncated"):
        read_idx(path)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_idx(tmp_path / "nope")


def test_parse_idx_keeps_uint8_without_copy():
    arr = parse_idx(idx_bytes(np.zeros((2, 2), np.uint8)))
    assert arr.dtype == np.uint8


def test_embedded_digits_work_offline(digits):
    assert digits.name == "digits"
    assert digits.X_train.shape == (1497, 64) and digits.X_test.shape == (300, 64)
    assert digits.X_train.dtype == np.uint8 and digits.X_train.max() == 255
    assert set(np.unique(digits.y_train)) == set(range(10))
    again = load_dataset("digits")
    np.testing.assert_array_equal(again.X_test, digits.X_test)


def test_mnist_loads_from_data_dir(mnist):
    assert mnist.X_train.shape == (60000, 784) and mnist.X_test.shape == (10000, 784)
    assert mnist.X_train.dtype == np.uint8
    assert list(mnist.y_train[:10]) == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert list(mnist.y_test[:10]) == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert mnist.X_train.mean() == pytest.approx(33.3184, abs=1e-3)


def test_mnist_found_through_environment_variable(mnist_path, monkeypatch):
    monkeypatch.setenv("NUDGE_DATA", str(mnist_path))
    data = load_dataset("mnist")
    assert len(data.y_test) == 10000


def test_wrong_file_contents_are_refused(tmp_path, monkeypatch):
    # a structurally valid IDX file that is not the official one
    fake = np.zeros((10000, 28, 28), np.uint8)
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]:
        arr = fake if "images" in name else np.zeros(10000, np.uint8)
        if "train" in name:
            arr = np.zeros((60000, 28, 28) if "images" in name else 60000, np.uint8)
        (folder / name).write_bytes(idx_bytes(arr))
    monkeypatch.delenv("NUDGE_DATA", raising=False)
    with pytest.raises(DataError, match="differ from the official file.*the official mnist"):
        load_dataset("mnist", data_dir=folder, download=False)


def test_truncated_mnist_file_in_data_dir_is_reported(tmp_path, mnist_path, monkeypatch):
    folder = tmp_path / "m"
    folder.mkdir()
    for f in mnist_path.iterdir():
        if f.name.endswith(".gz"):
            (folder / f.name).write_bytes(f.read_bytes())
    data = (folder / "t10k-labels-idx1-ubyte.gz").read_bytes()
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(gzip.decompress(data)[:-5]))
    monkeypatch.delenv("NUDGE_DATA", raising=False)
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz: truncated"):
        load_dataset("mnist", data_dir=folder, download=False)


def test_missing_mnist_names_the_ways_to_provide_it(tmp_path, monkeypatch):
    monkeypatch.delenv("NUDGE_DATA", raising=False)
    with pytest.raises(DataError, match="--data-dir DIR, or set NUDGE_DATA"):
        load_dataset("mnist", data_dir=tmp_path, download=False)


def test_unknown_dataset_and_missing_folder():
    with pytest.raises(NudgeError, match="unknown dataset"):
        load_dataset("cifar")
    with pytest.raises(DataError, match="no such folder"):
        load_dataset("mnist", data_dir="/nonexistent/folder")


def test_subset(digits):
    small = digits.subset(100, 20)
    assert len(small.X_train) == 100 and len(small.y_test) == 20
    with pytest.raises(NudgeError):
        digits.subset(0)
