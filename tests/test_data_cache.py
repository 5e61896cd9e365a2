"""The decoded-array cache: .npy files, memory-mapped, re-decoded when the source changes."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from nudge import load_dataset


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("NUDGE_CACHE", str(folder))
    monkeypatch.delenv("NUDGE_DATA", raising=False)
    return folder / "decoded"


def test_second_load_is_memory_mapped_and_equal(mnist_path, cache):
    first = load_dataset("mnist", data_dir=mnist_path)
    files = sorted(p.name for p in cache.glob("*.npy"))
    assert len(files) == 4 and all(f.startswith("mnist-") for f in files)
    second = load_dataset("mnist", data_dir=mnist_path)
    assert isinstance(second.X_train.base, np.memmap) or not second.X_train.flags.owndata
    assert not second.X_train.flags.writeable
    for a, b in [(first.X_train, second.X_train), (first.y_train, second.y_train),
                 (first.X_test, second.X_test), (first.y_test, second.y_test)]:
        assert a.dtype == b.dtype == np.uint8 and np.array_equal(a, b)


def test_changed_source_is_decoded_again(mnist_path, cache, tmp_path):
    src = tmp_path / "mnist"
    shutil.copytree(mnist_path, src)
    load_dataset("mnist", data_dir=src)
    before = {p.name for p in cache.glob("*.npy")}
    labels = src / "t10k-labels-idx1-ubyte.gz"
    st = labels.stat()
    os.utime(labels, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    data = load_dataset("mnist", data_dir=src)
    after = {p.name for p in cache.glob("*.npy")}
    assert len(after) == 4 and len(after - before) == 1     # only that file, old one removed
    assert data.y_test.shape == (10000,)


def test_damaged_cache_file_is_replaced(mnist_path, cache):
    good = load_dataset("mnist", data_dir=mnist_path).y_train.copy()
    (victim,) = cache.glob("mnist-train-labels*.npy")
    victim.write_bytes(b"not an npy file")
    again = load_dataset("mnist", data_dir=mnist_path)
    assert np.array_equal(again.y_train, good)
    assert np.load(victim, allow_pickle=False).shape == (60000,)


def _shift(a):
    return np.roll(a, 1)


def _zero(a):
    return np.zeros_like(a)


def _one_pixel(a):
    b = a.copy()
    b.flat[len(b.flat) // 2] ^= 1
    return b


def _object_npy() -> bytes:
    """A .npy file declaring an object array (whose data NumPy would unpickle), written by
    hand: its header, then bytes that are never meant to be read."""
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "|O", "fortran_order": False, "shape": (1,)})
    return buf.getvalue() + b"\x80\x04not a payload."


@pytest.mark.parametrize("victim_name,damage", [
    ("train-labels", "shifted"), ("t10k-images", "zeroed"), ("t10k-images", "one pixel"),
    ("t10k-images", "replaced"), ("train-labels", "empty"), ("t10k-images", "truncated"),
    ("train-labels", "other shape"), ("train-labels", "pickle")])
def test_tampered_cache_entries_are_rebuilt_not_used(mnist_path, cache, victim_name, damage):
    good = load_dataset("mnist", data_dir=mnist_path)
    expected = {"train-labels": good.y_train, "t10k-images": good.X_test}[victim_name].copy()
    (victim,) = cache.glob(f"mnist-{victim_name}*.npy")
    arr = np.load(victim)
    if damage == "empty":
        victim.write_bytes(b"")
    elif damage == "truncated":
        victim.write_bytes(victim.read_bytes()[:-100])
    elif damage == "pickle":
        victim.write_bytes(_object_npy())    # an object array: loading it would unpickle
    else:
        changed = {"shifted": _shift, "zeroed": _zero, "one pixel": _one_pixel,
                   "replaced": lambda a: np.random.default_rng(0).integers(
                       0, 256, a.shape, dtype=np.uint8),
                   "other shape": lambda a: a[:-1]}[damage](arr)
        np.save(victim, changed)
    again = load_dataset("mnist", data_dir=mnist_path)
    got = again.y_train if victim_name == "train-labels" else again.X_test
    assert np.array_equal(got.reshape(expected.shape), expected)
    assert np.array_equal(np.load(victim, allow_pickle=False).reshape(expected.shape), expected)
