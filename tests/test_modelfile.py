"""Model files: round trip, PyTorch compatibility, and refusal of anything else."""

import json
import os

import numpy as np
import pytest

from nudge import Network, load, save
from nudge.errors import ModelFileError, NudgeError


@pytest.fixture
def net():
    return Network([784, 16, 16, 10], seed=3)


def test_round_trip_keeps_everything(tmp_path, net):
    path = save(net, tmp_path / "m.safetensors", dataset="mnist", test_accuracy=0.9,
                training={"epochs": 3})
    back = load(path)
    assert back.sizes == net.sizes and back.config == net.config and back.seed == 3
    for a, b in zip(back.weights + back.biases, net.weights + net.biases):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == np.float32
    assert back.metadata["dataset"] == "mnist" and back.metadata["test_accuracy"] == 0.9
    assert back.metadata["training"] == {"epochs": 3}


def test_loads_into_pytorch_sequential(tmp_path, net):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    path = save(net, tmp_path / "m.safetensors")
    seq = torch.nn.Sequential(torch.nn.Linear(784, 16), torch.nn.Sigmoid(),
                              torch.nn.Linear(16, 16), torch.nn.Sigmoid(),
                              torch.nn.Linear(16, 10), torch.nn.Sigmoid())
    seq.load_state_dict(load_file(str(path)))
    x = np.random.default_rng(0).random((5, 784)).astype(np.float32)
    with torch.no_grad():
        out = seq(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(out, net.feedforward(x), atol=1e-6)


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path, net):
    path = tmp_path / "m.safetensors"
    save(net, path)
    save(net, path)
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_save_into_missing_folder_is_refused(tmp_path, net):
    with pytest.raises(NudgeError, match="does not exist"):
        save(net, tmp_path / "no" / "m.safetensors")


def _write_st(path, tensors, metadata):
    from safetensors.numpy import save_file

    save_file(tensors, str(path), metadata=metadata)


def test_missing_and_garbage_files(tmp_path):
    with pytest.raises(ModelFileError, match="no such model file"):
        load(tmp_path / "nothing.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"this is not a model")
    with pytest.raises(ModelFileError, match="not a readable safetensors model file"):
        load(junk)


def test_truncated_model_file(tmp_path, net):
    path = save(net, tmp_path / "m.safetensors")
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ModelFileError, match="not a readable safetensors"):
        load(path)


def test_foreign_safetensors_files_are_refused(tmp_path, net):
    path = tmp_path / "f.safetensors"
    _write_st(path, {"x": np.zeros(3, np.float32)}, {})
    with pytest.raises(ModelFileError, match="not a nudge model"):
        load(path)


def _meta(**overrides):
    info = {"format": "nudge-model", "format_version": 1, "sizes": [4, 3, 2],
            "activation": "sigmoid", "output": "sigmoid", "cost": "quadratic"}
    info.update(overrides)
    return {"format": "nudge-model", "nudge": json.dumps(info)}


def _tensors(shapes=((3, 4), (3,), (2, 3), (2,)), value=0.1, dtype=np.float32):
    names = ["0.weight", "0.bias", "2.weight", "2.bias"]
    return {n: np.full(s, value, dtype) for n, s in zip(names, shapes)}


@pytest.mark.parametrize("tensors,meta,match", [
    (_tensors(), _meta(sizes=[4, 5, 2]), "layer 1 has weights"),
    (_tensors(), _meta(sizes="4-3-2"), "invalid layer sizes"),
    (_tensors(), _meta(activation="swish"), "invalid activation"),
    (_tensors(), _meta(format_version=99), "format version"),
    (_tensors(value=np.nan), _meta(), "NaN or infinite"),
    (_tensors(dtype=np.int32), _meta(), "float32 or all float64"),
    ({"0.weight": np.zeros((3, 4), np.float32)}, _meta(), "missing"),
    (_tensors(), {"format": "nudge-model", "nudge": "{not json"}, "not valid JSON"),
])
def test_inconsistent_models_are_refused(tmp_path, tensors, meta, match):
    path = tmp_path / "bad.safetensors"
    _write_st(path, tensors, meta)
    with pytest.raises(ModelFileError, match=match):
        load(path)
    _write_st(tmp_path / "good.safetensors", _tensors(), _meta())
    assert load(tmp_path / "good.safetensors").sizes == [4, 3, 2]
