"""The IDX reader, dataset lookup and the embedded digits."""

import gzip
import struct

import numpy as np
import pytest

from nudge import load_dataset, read_idx
from nudge.errors import DataError, NudgeError
from nudge.idx import parse_idx


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


def test_messages_name_the_folder_option_for_python_callers_too(tmp_path, monkeypatch):
    """The messages named only the command line's --data-dir, which a caller of
    nudge.load_dataset cannot pass: they name data_dir= too."""
    monkeypatch.delenv("NUDGE_DATA", raising=False)
    with pytest.raises(DataError) as err:
        load_dataset("mnist", data_dir=tmp_path, download=False)
    assert "data_dir=DIR" in str(err.value) and "--data-dir DIR" in str(err.value)
    with pytest.raises(DataError) as err:
        load_dataset("mnist", data_dir=tmp_path / "nowhere")
    assert "data_dir=" in str(err.value) and "--data-dir" in str(err.value)


def test_unknown_dataset_and_missing_folder(tmp_path):
    with pytest.raises(NudgeError, match="unknown dataset"):
        load_dataset("cifar")
    with pytest.raises(DataError, match="no such folder"):
        load_dataset("mnist", data_dir="/nonexistent/folder")
    (tmp_path / "m.safetensors").write_bytes(b"x")
    with pytest.raises(DataError, match="m.safetensors: a file, not a folder; give the folder"):
        load_dataset("mnist", data_dir=tmp_path / "m.safetensors")


@pytest.mark.parametrize("call, words", [
    (lambda: load_dataset(["mnist"]), r"unknown dataset \['mnist'\]"),
    (lambda: load_dataset("mnist", data_dir=5), "data_dir must be a file name"),
    (lambda: read_idx(None), "the IDX file must be a file name"),
])
def test_arguments_of_the_wrong_kind_are_one_line(call, words):
    """The data's doors took arguments of the wrong kind to Python's errors, as save and
    load did (fsutil.as_path, bounds.check_choice): 'unhashable type: list', pathlib's
    'expected str, bytes or os.PathLike object, not int'."""
    with pytest.raises(NudgeError, match=words):
        call()


def test_subset(digits):
    small = digits.subset(100, 20)
    assert len(small.X_train) == 100 and len(small.y_test) == 20
    with pytest.raises(NudgeError):
        digits.subset(0)
    # 100.0 and "100" were numpy's or Python's TypeError from inside; True one example
    for n_train, n_test in ((100.0, None), ("100", None), (True, None), (None, 2.5)):
        with pytest.raises(NudgeError, match=r"^number of (training|test) examples must be "
                           "a whole number of at least 1, got "):
            digits.subset(n_train, n_test)
    assert len(digits.subset(np.int64(7)).X_train) == 7


def test_idx_dimensions_whose_product_overflows_int64(tmp_path):
    header = bytes([0, 0, 0x08, 3]) + struct.pack(">3I", 2**32 - 1, 2**32 - 1, 2**32 - 1)
    with pytest.raises(DataError, match="impossibly large") as err:
        parse_idx(header + b"\x00" * 10)
    assert "\n" not in str(err.value)
    many = bytes([0, 0, 0x08, 255]) + struct.pack(">255I", *([2**31] * 255))
    with pytest.raises(DataError, match="255 dimensions"):
        parse_idx(many)
    big = bytes([0, 0, 0x08, 2]) + struct.pack(">2I", 2**31, 2**31)     # fits int64
    with pytest.raises(DataError, match="truncated: the header promises"):
        parse_idx(big + b"\x00" * 10)


def test_gzip_bombs_stop_at_the_limit(tmp_path):
    import tracemalloc

    path = tmp_path / "bomb-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 1]) + struct.pack(">I", 2**30)
                                   + b"\x00" * (64 * 2**20)))
    tracemalloc.start()
    with pytest.raises(DataError, match="decompresses to more than"):
        read_idx(path, max_bytes=2**20)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 16 * 2**20


def test_non_regular_files_are_refused(tmp_path):
    import os

    os.mkfifo(tmp_path / "fifo-idx1-ubyte")
    with pytest.raises(DataError, match="not a regular file"):
        read_idx(tmp_path / "fifo-idx1-ubyte")
    with pytest.raises(DataError, match="is a folder"):
        read_idx(tmp_path)


def test_fashion_lookup_skips_mnist_files_and_never_calls_them_damaged(tmp_path, mnist_path,
                                                                      monkeypatch):
    from nudge.errors import DataNotFoundError

    root = tmp_path / "data"
    (root / "fashion-mnist").mkdir(parents=True)
    for f in mnist_path.glob("*.gz"):                  # MNIST's files under both names
        (root / f.name).write_bytes(f.read_bytes())
        (root / "fashion-mnist" / f.name).write_bytes(f.read_bytes())
    monkeypatch.setenv("NUDGE_DATA", str(root))
    with pytest.raises(DataNotFoundError) as err:
        load_dataset("fashion-mnist", download=False)
    text = str(err.value)
    assert "the official mnist train-images-idx3-ubyte, not fashion-mnist's" in text
    assert "replace" not in text and "delete" not in text and "\n" not in text
    assert load_dataset("mnist").y_test.shape == (10000,)   # the same folder serves MNIST


def test_explicit_data_dir_is_the_only_place_looked(tmp_path, mnist_path, monkeypatch):
    from nudge.errors import DataNotFoundError

    monkeypatch.setenv("NUDGE_DATA", str(mnist_path))      # would have the files
    with pytest.raises(DataNotFoundError, match=f"not found in the data folder {tmp_path}"):
        load_dataset("mnist", data_dir=tmp_path)


@pytest.mark.parametrize("kind", ["file", "missing"])
def test_nudge_data_that_is_not_a_folder_is_named_first(tmp_path, monkeypatch, kind):
    import nudge.data
    from nudge.errors import DataNotFoundError

    where = tmp_path / "nudge-data"
    if kind == "file":
        where.write_text("not a folder")
    monkeypatch.setenv("NUDGE_DATA", str(where))
    monkeypatch.setattr(nudge.data, "cache_dir", lambda: tmp_path / "cache")
    monkeypatch.setattr(nudge.data, "_download", lambda *a: (_ for _ in ()).throw(
        DataError("http://mirror/ could not be reached (ConnectionError)")))
    with pytest.raises(DataNotFoundError) as caught:
        load_dataset("fashion-mnist")
    what = "a file, not a folder" if kind == "file" else "no such folder"
    assert str(caught.value).startswith(f"NUDGE_DATA={where} is {what}; fashion-mnist not found")
    monkeypatch.setenv("NUDGE_DATA", str(tmp_path))                  # a folder: not named
    with pytest.raises(DataNotFoundError) as caught:
        load_dataset("fashion-mnist")
    assert not str(caught.value).startswith("NUDGE_DATA")


def test_load_default_falls_back_only_when_nothing_is_configured(tmp_path, monkeypatch):
    import nudge.data
    from nudge.data import load_default
    from nudge.errors import DataNotFoundError

    monkeypatch.delenv("NUDGE_DATA", raising=False)
    monkeypatch.setattr(nudge.data, "_download", lambda *a: (_ for _ in ()).throw(
        DataError("http://mirror/ could not be reached (ConnectionError)")))
    data, why = load_default()
    assert data.name == "digits" and "a download was tried and failed" in why
    assert "could not be reached" in why and "Using the embedded 8x8 digits" in why
    with pytest.raises(DataNotFoundError):
        load_default(data_dir=tmp_path)
    monkeypatch.setenv("NUDGE_DATA", str(tmp_path))
    with pytest.raises(DataNotFoundError):
        load_default()
