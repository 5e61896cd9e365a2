"""Property-based tests of the decoded-data cache: whatever happens to a cached .npy file
(bytes flipped, cut, inserted, or another array saved in its place), loading gives
exactly the official data, and the entry is rebuilt."""

from __future__ import annotations

import gzip
import io
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from fuzzing import examples
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from nudge.data import _load_file

FAST, SLOW = examples(100), examples(1500)
STEM = "t10k-labels-idx1-ubyte"


@pytest.fixture(scope="module")
def source(mnist_path):
    folder = Path(tempfile.mkdtemp(prefix="nudge-fuzz-cache-"))
    shutil.copy(mnist_path / f"{STEM}.gz", folder)
    official = np.frombuffer(gzip.decompress((folder / f"{STEM}.gz").read_bytes())[8:],
                             np.uint8)
    yield folder, official
    shutil.rmtree(folder, ignore_errors=True)


def _entry(folder: Path) -> Path:
    (entry,) = (folder / "cache" / "decoded").glob(f"mnist-{STEM}-*.npy")
    return entry


def _property(source, monkeypatch, damage) -> None:
    folder, official = source
    monkeypatch.setenv("NUDGE_CACHE", str(folder / "cache"))
    arr, _ = _load_file("mnist", STEM, folder, download=False)      # the cache is built
    assert np.array_equal(arr, official)
    entry = _entry(folder)
    entry.write_bytes(damage(entry.read_bytes()))
    arr, _ = _load_file("mnist", STEM, folder, download=False)
    assert np.array_equal(arr, official)                             # never the damage
    assert np.array_equal(np.load(_entry(folder), allow_pickle=False), official)


@st.composite
def byte_damage(draw):
    edits = draw(st.lists(st.tuples(st.sampled_from(["flip", "cut", "insert"]),
                                    st.floats(0, 1), st.integers(1, 255)),
                          min_size=1, max_size=4))

    def damage(data: bytes) -> bytes:
        out = bytearray(data)
        for kind, where, value in edits:
            pos = min(int(where * len(out)), max(0, len(out) - 1))
            if kind == "flip" and out:
                out[pos] ^= value
            elif kind == "cut":
                del out[pos:pos + value]
            else:
                out[pos:pos] = bytes([value]) * (value % 7 + 1)
        return bytes(out)
    return damage


@st.composite
def other_arrays(draw):
    dtype = draw(st.sampled_from([np.uint8, np.int8, np.uint16, np.float32, np.int64]))
    shape = draw(st.sampled_from([(10000,), (9999,), (10001,), (100, 100), (10000, 1), ()]))
    arr = draw(hnp.arrays(dtype, shape, elements=st.integers(0, 9) if dtype != np.float32
                          else st.floats(0, 9, width=32)))
    order = draw(st.sampled_from(["C", "F"]))

    def damage(data: bytes) -> bytes:
        buf = io.BytesIO()
        np.save(buf, np.asarray(arr, order=order))
        return buf.getvalue()
    return damage


@FAST
@given(byte_damage() | other_arrays())
def test_a_damaged_cache_entry_is_never_used(source, monkeypatch, damage):
    _property(source, monkeypatch, damage)


@pytest.mark.slow
@SLOW
@given(byte_damage() | other_arrays())
def test_a_damaged_cache_entry_is_never_used_many(source, monkeypatch, damage):
    _property(source, monkeypatch, damage)
