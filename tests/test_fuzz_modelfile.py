"""Property-based tests of model files: any bytes, mutated files, metadata of any shape.

Whatever the file: a network whose every part was checked (shapes, finite values,
metadata types), or one :class:`ModelFileError` line naming the file; never another
exception.  ``nudge info`` on whatever loads prints without a traceback.
"""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from fuzzing import examples
from hypothesis import given
from hypothesis import strategies as st

from nudge import Network, load, save
from nudge.cli import main
from nudge.errors import ModelFileError

FAST, SLOW = examples(120), examples(2000)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.text(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=10)

KEYS = ["sizes", "activation", "output", "cost", "init", "seed", "dtype", "dataset", "classes",
        "input_shape", "test_accuracy", "test_cost", "train_cost", "train_seconds",
        "training", "history", "epochs_trained", "n_train", "n_test", "n_parameters",
        "preset", "created", "stopped", "format_version"]


def _valid(net: Network) -> None:
    assert len(net.weights) == len(net.sizes) - 1
    for W, b, n_in, n_out in zip(net.weights, net.biases, net.sizes[:-1], net.sizes[1:]):
        assert W.shape == (n_out, n_in) and b.shape == (n_out,)
        assert np.isfinite(W).all() and np.isfinite(b).all()


def _load_and_show(path, capsys) -> None:
    try:
        net = load(path)
    except ModelFileError as e:
        assert str(e).startswith(str(path)) and "\n" not in str(e)
        return
    _valid(net)
    code = main(["info", str(path)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert main(["info", str(path), "--json"]) == 0
    capsys.readouterr()


def _base_file(path) -> bytes:
    save(Network([6, 4, 3], seed=0), path, dataset="digits", test_accuracy=0.5,
         classes=["a", "b", "c"], training={"epochs": 1}, input_shape=[2, 3])
    return path.read_bytes()


@st.composite
def mutated(draw, data: bytes):
    out = bytearray(data)
    header_len = struct.unpack("<Q", data[:8])[0]
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip-header", "flip", "cut", "insert", "length"]))
        if kind == "flip-header":
            pos = draw(st.integers(8, 8 + header_len - 1))
            out[pos] = draw(st.sampled_from(b'0123456789{}[]",:-.eE nulltrue')) \
                if draw(st.booleans()) else out[pos] ^ draw(st.integers(1, 255))
        elif kind == "flip" and out:
            pos = draw(st.integers(0, len(out) - 1))
            out[pos] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            pos = draw(st.integers(0, len(out)))
            del out[pos:pos + draw(st.integers(1, 100))]
        elif kind == "insert":
            pos = draw(st.integers(0, len(out)))
            out[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "length" and len(out) >= 8:
            out[:8] = struct.pack("<Q", draw(st.sampled_from(
                [0, 1, len(out), 2**63, draw(st.integers(0, 2**64 - 1))])))
    return bytes(out)


@FAST
@given(st.binary(max_size=400))
def test_any_bytes(tmp_path, capsys, raw):
    path = tmp_path / "any.safetensors"
    path.write_bytes(raw)
    _load_and_show(path, capsys)


@FAST
@given(st.data())
def test_mutated_model_files(tmp_path, capsys, data):
    path = tmp_path / "m.safetensors"
    path.write_bytes(data.draw(mutated(_base_file(path))))
    _load_and_show(path, capsys)


def _with_metadata(path, info) -> None:
    from safetensors.numpy import save_file

    tensors = {"0.weight": np.full((4, 6), 0.1, np.float32),
               "0.bias": np.zeros(4, np.float32),
               "2.weight": np.full((3, 4), 0.1, np.float32), "2.bias": np.zeros(3, np.float32)}
    save_file(tensors, str(path), metadata={"format": "nudge-model", "nudge": json.dumps(info)})


@FAST
@given(st.dictionaries(st.sampled_from(KEYS), json_values, max_size=6))
def test_metadata_of_any_shape(tmp_path, capsys, changes):
    info = {"format": "nudge-model", "format_version": 1, "sizes": [6, 4, 3],
            "activation": "sigmoid", "output": "sigmoid", "cost": "quadratic", **changes}
    path = tmp_path / "meta.safetensors"
    _with_metadata(path, info)
    _load_and_show(path, capsys)


@FAST
@given(st.lists(st.integers(-5, 2**40), min_size=0, max_size=70))
def test_absurd_layer_sizes_are_refused_before_allocating(tmp_path, capsys, sizes):
    path = tmp_path / "sizes.safetensors"
    _with_metadata(path, {"format": "nudge-model", "format_version": 1, "sizes": sizes,
                          "activation": "sigmoid", "output": "sigmoid", "cost": "quadratic"})
    if sizes == [6, 4, 3]:
        return
    with pytest.raises(ModelFileError):
        load(path)


@pytest.mark.slow
@SLOW
@given(st.data())
def test_mutated_model_files_many(tmp_path, capsys, data):
    path = tmp_path / "m.safetensors"
    path.write_bytes(data.draw(mutated(_base_file(path))))
    _load_and_show(path, capsys)
