"""Property-based tests of the IDX reader: any bytes, mutated files, gzip or not.

Whatever the input: a uint8 array whose shape accounts for every byte after the header,
or one :class:`DataError` line naming the file; never another exception.  Dataset files
carry an official SHA-256, so there a damaged file is never accepted.
"""

from __future__ import annotations

import gzip
import os
import shutil
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
from fuzzing import examples
from hypothesis import example, given
from hypothesis import strategies as st

from nudge.data import _load_file
from nudge.errors import DataError
from nudge.idx import parse_idx, read_idx

FAST, SLOW = examples(150), examples(3000)


def idx_bytes(arr: np.ndarray) -> bytes:
    return bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + \
        arr.astype(np.uint8).tobytes()


@st.composite
def idx_files(draw):
    shape = draw(st.lists(st.integers(0, 6), min_size=1, max_size=4))
    arr = np.frombuffer(draw(st.binary(min_size=int(np.prod(shape)),
                                       max_size=int(np.prod(shape)))), np.uint8)
    return idx_bytes(arr.reshape(shape))


@st.composite
def mutations(draw, data: bytes):
    """``data`` with a few bytes changed, cut, inserted or the header rewritten."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "header", "extend"]))
        pos = draw(st.integers(0, max(0, len(out) - 1)))
        if kind == "flip" and out:
            out[pos] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del out[pos:pos + draw(st.integers(1, 64))]
        elif kind == "insert":
            out[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "header" and len(out) >= 8:
            out[4:8] = struct.pack(">I", draw(st.sampled_from(
                [0, 1, 2**16, 2**31, 2**32 - 1, draw(st.integers(0, 2**32 - 1))])))
        elif kind == "extend":
            out += draw(st.binary(max_size=32))
    return bytes(out)


def _check(raw: bytes, path: str = "<bytes>") -> None:
    try:
        arr = parse_idx(raw, path)
    except DataError as e:
        assert str(e).startswith(path) and "\n" not in str(e)
        return
    assert arr.dtype == np.uint8
    assert 4 + 4 * arr.ndim + arr.size == len(raw)


@FAST
@given(st.binary(max_size=300))
@example(b"\x00\x00\x08\x04\x00\x01\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00")
def test_any_bytes(raw):
    _check(raw)


@FAST
@given(st.data())
def test_mutated_idx_files(data):
    _check(data.draw(mutations(data.draw(idx_files()))))


@FAST
@given(st.data())
def test_mutated_files_on_disk_gzip_or_raw(tmp_path, data):
    raw = data.draw(mutations(data.draw(idx_files())))
    if data.draw(st.booleans()):
        raw = gzip.compress(raw)
        if data.draw(st.booleans()):
            raw = data.draw(mutations(raw))
    path = tmp_path / "x-idx3-ubyte.gz"
    path.write_bytes(raw)
    try:
        arr = read_idx(path, max_bytes=4096)
    except DataError as e:
        assert str(e).startswith(str(path)) and "\n" not in str(e)
        return
    assert arr.dtype == np.uint8


@pytest.fixture(scope="module")
def labels_dir(mnist_path):
    folder = Path(tempfile.mkdtemp(prefix="nudge-fuzz-idx-"))
    shutil.copy(mnist_path / "t10k-labels-idx1-ubyte.gz", folder)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _dataset_file_property(folder: Path, data) -> None:
    official = gzip.decompress((folder / "t10k-labels-idx1-ubyte.gz").read_bytes())
    raw = data.draw(mutations(official))
    if raw == official:
        return
    work = Path(tempfile.mkdtemp(dir=folder))
    try:
        name = data.draw(st.sampled_from(["t10k-labels-idx1-ubyte",
                                          "t10k-labels-idx1-ubyte.gz"]))
        (work / name).write_bytes(gzip.compress(raw) if name.endswith(".gz") else raw)
        with pytest.raises(DataError) as err:       # never a damaged file accepted
            _load_file("mnist", "t10k-labels-idx1-ubyte", work, download=False)
        assert "\n" not in str(err.value)
    finally:
        shutil.rmtree(work, ignore_errors=True)


@FAST
@given(st.data())
def test_a_damaged_dataset_file_is_never_accepted(labels_dir, monkeypatch, data):
    monkeypatch.setenv("NUDGE_CACHE", os.fspath(labels_dir / "cache"))
    _dataset_file_property(labels_dir, data)


@pytest.mark.slow
@SLOW
@given(st.data())
def test_a_damaged_dataset_file_is_never_accepted_many(labels_dir, monkeypatch, data):
    monkeypatch.setenv("NUDGE_CACHE", os.fspath(labels_dir / "cache"))
    _dataset_file_property(labels_dir, data)


@pytest.mark.slow
@SLOW
@given(st.data())
def test_mutated_idx_files_many(data):
    _check(data.draw(mutations(data.draw(idx_files()))))
