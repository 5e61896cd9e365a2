"""Model files: round trip, PyTorch compatibility, and refusal of anything else."""

import json
import os
import re

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
    # and back, as getting-started shows: a PyTorch model's layers make a nudge network
    layers = [m for m in seq if isinstance(m, torch.nn.Linear)]
    back = Network.from_parameters([m.weight.detach().numpy() for m in layers],
                                   [m.bias.detach().numpy() for m in layers])
    np.testing.assert_array_equal(load(save(back, tmp_path / "t.safetensors")).feedforward(x),
                                  net.feedforward(x))


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


def test_parameters_set_wrong_by_hand_are_not_saved(tmp_path, net):
    """A file that load would refuse is never written (and one already there is kept)."""
    path = save(net, tmp_path / "m.safetensors")
    before = path.read_bytes()
    for change, words in ((lambda n: n.weights.__setitem__(0, n.weights[0].T), "shape"),
                          (lambda n: n.biases[-1].__setitem__(0, np.nan), "NaN"),
                          (lambda n: n.weights.pop(), "layers")):
        bad = net.copy()
        change(bad)
        with pytest.raises(NudgeError, match=words):
            save(bad, path)
        assert path.read_bytes() == before


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


def test_a_shape_that_is_not_a_list_is_shown_as_written(tmp_path):
    """A header whose shape is a string was shown letter by letter ("biases ('1', ',',
    '6')"); it is shown as the header writes it."""
    import struct

    path = tmp_path / "m.safetensors"
    _write_st(path, _tensors(), _meta())
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    header["0.bias"]["shape"] = "3,"
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + n:])
    with pytest.raises(ModelFileError) as caught:
        load(path)
    assert "layer 1 has weights (3, 4) and biases '3,', expected (3, 4) and (3,)" in str(
        caught.value)


# --------------------------------------------------------------------------- where a save goes
def test_save_through_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path, net):
    real = tmp_path / "models" / "real.safetensors"
    real.parent.mkdir()
    save(net, real)
    real.chmod(0o600)
    link = tmp_path / "link.safetensors"
    link.symlink_to(real)
    save(Network([4, 3, 2], seed=1), link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert load(real).sizes == [4, 3, 2] and real.stat().st_mode & 0o777 == 0o600
    dangling = tmp_path / "dangling.safetensors"
    dangling.symlink_to(tmp_path / "new.safetensors")
    save(net, dangling)
    assert dangling.is_symlink() and load(tmp_path / "new.safetensors").sizes == net.sizes


def test_save_keeps_the_mode_of_the_file_it_replaces(tmp_path, net):
    path = tmp_path / "m.safetensors"
    path.write_bytes(b"old")
    path.chmod(0o640)
    save(net, path)
    assert path.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize("make,match", [
    (lambda p: (p.mkdir(), p)[-1], "is a folder"),
    (lambda p: (os.mkfifo(p), p)[-1], "FIFO"),
    (lambda p: (p.symlink_to("/dev/null"), p)[-1], "character device"),
    (lambda p: (p.write_bytes(b"keep"), p.chmod(0o444), p)[-1], "read-only"),
    (lambda p: p.with_name("n" * 256), "allows 255"),
])
def test_save_refuses_what_is_not_a_writable_regular_file(tmp_path, net, make, match):
    target = make(tmp_path / "m.safetensors")
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(NudgeError, match=match):
        save(net, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    if match == "read-only":
        assert target.read_bytes() == b"keep"


def test_save_over_a_hard_link_gives_this_name_the_new_model(tmp_path, net):
    first = tmp_path / "a.safetensors"
    first.write_bytes(b"old")
    second = tmp_path / "b.safetensors"
    os.link(first, second)
    save(net, first)
    assert load(first).sizes == net.sizes and second.read_bytes() == b"old"


def test_a_failed_write_leaves_nothing_behind(tmp_path, net, monkeypatch):
    import nudge.fsutil

    path = tmp_path / "m.safetensors"
    path.write_bytes(b"old")

    def no_space(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(nudge.fsutil.os, "fsync", no_space)
    with pytest.raises(NudgeError, match="the disk is full"):
        save(net, path)
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]
    assert path.read_bytes() == b"old"


def test_stale_temporary_files_are_cleaned(tmp_path, net):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = tmp_path / f".m.safetensors.{dead}.0123abcd.tmp"
    stale.write_bytes(b"half")
    alive = tmp_path / f".m.safetensors.{os.getppid()}.0123abcd.tmp"   # a running process
    alive.write_bytes(b"busy")
    old = tmp_path / f".m.safetensors.{os.getppid()}.89abcdef.tmp"
    old.write_bytes(b"ancient")
    os.utime(old, (0, 0))
    other = tmp_path / "notes.tmp"
    other.write_bytes(b"not ours")
    save(net, tmp_path / "m.safetensors")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [alive.name, "m.safetensors", "notes.tmp"])


def test_check_writable_wants_free_space(tmp_path):
    from nudge.fsutil import check_writable

    assert check_writable(tmp_path / "m.safetensors", size=1) == tmp_path / "m.safetensors"
    with pytest.raises(NudgeError, match="MB are free"):
        check_writable(tmp_path / "m.safetensors", size=10**18)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- damaged metadata
@pytest.mark.parametrize("key,value,match", [
    ("test_accuracy", "high", "invalid test_accuracy"),
    ("test_accuracy", 7.5, "invalid test_accuracy"),
    ("training", [1, 2], "invalid training"),
    ("classes", "0123456789", "invalid classes"),
    ("classes", ["a", "b", "c"], "classes .* does not fit"),
    ("dataset", 42, "invalid dataset"),
    ("seed", "x", "invalid seed"),
    ("seed", -7, "seed -7: give a whole number"),
    ("init", "zeros", "invalid init"),
    ("input_shape", [2, 3], "input_shape .* does not fit"),
    ("n_parameters", 5, "n_parameters 5 does not fit"),
    ("dtype", "float64", "the metadata says float64"),
    ("history", {"a": 1}, "invalid history"),
    ("preset", "p" * 10**6, "invalid preset 'ppp.*at most 1,000 characters"),   # no 1 MB line
    ("epochs_trained", 10**3000, "invalid epochs_trained 1000.*from 0 to 1e"),
    ("n_train", -1, "invalid n_train"),
    # the model a run started from (nudge train --start-from): nudge info showed "None after
    # 1 epoch of training (nan% ...)", "5 after -3 epochs", and a run started from it added
    # its 4,000-digit count of epochs to its own, making a file load refuses
    ("started_from", "first.safetensors", "invalid started_from 'first.safetensors'"),
    ("started_from", {"model": None, "epochs": 2}, "invalid started_from"),
    ("started_from", {"model": "a", "epochs": True}, "invalid started_from"),
    ("started_from", {"model": "a", "epochs": -3}, "invalid started_from"),
    ("started_from", {"model": "a", "epochs": 10**3999}, "invalid started_from"),
    ("started_from", {"model": "a", "test_accuracy": float("nan")}, "invalid started_from"),
    ("started_from", {"model": "a", "test_accuracy": "x"}, "invalid started_from"),
    ("started_from", {"model": "a", "dataset": "\x1b[31m"}, "invalid started_from"),
    ("started_from", {"model": "a" * 5000}, "invalid started_from"),
])
def test_metadata_of_the_wrong_type_is_refused(tmp_path, key, value, match):
    path = tmp_path / "bad.safetensors"
    _write_st(path, _tensors(), _meta(**{key: value}))
    with pytest.raises(ModelFileError, match=match) as err:
        load(path)
    assert "\n" not in str(err.value)


def test_the_best_epoch_is_one_of_those_trained(tmp_path):
    path = tmp_path / "bad.safetensors"
    _write_st(path, _tensors(), _meta(epochs_trained=3, best_epoch=7))
    with pytest.raises(ModelFileError, match="best_epoch 7 does not fit.*epochs_trained, 3"):
        load(path)
    _write_st(path, _tensors(), _meta(epochs_trained=3, best_epoch=3))
    assert load(path).metadata["best_epoch"] == 3


def test_absurd_layer_sizes_are_refused_before_allocating(tmp_path):
    import time
    import tracemalloc

    path = tmp_path / "huge.safetensors"
    for sizes, words in (([4000, 4000, 2], "layer 1 has weights"),        # within the bounds
                         ([200_000, 300_000, 2], "300,000 neurons.*at most 4,096")):
        _write_st(path, _tensors(), _meta(sizes=sizes))
        tracemalloc.start()
        started = time.perf_counter()
        with pytest.raises(ModelFileError, match=words):
            load(path)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < 10 * 2**20 and time.perf_counter() - started < 10   # nothing read


def test_a_numpy_sized_seed_still_loads(tmp_path):
    """Seeds from numpy's SeedSequence have 39 digits: a model file keeps them."""
    seed = int(np.random.SeedSequence(2**127 + 12345).entropy)
    path = save(Network([64, 16, 10], seed=seed), tmp_path / "m.safetensors")
    assert load(path).metadata["seed"] == seed


def test_a_file_cut_short_while_it_loads_is_an_error_not_a_crash(tmp_path, monkeypatch):
    """The tensors are read, not mapped: a file truncated between the header check and the
    tensors (a copy over it, say) is refused in one line instead of killing the process."""
    import nudge.modelfile as mf

    path = save(Network([64, 16, 10], seed=1), tmp_path / "m.safetensors")
    checked = mf._check_tensors

    def check_then_cut(*args):
        checked(*args)
        with open(path, "r+b") as f:
            f.truncate(200)

    monkeypatch.setattr(mf, "_check_tensors", check_then_cut)
    with pytest.raises(ModelFileError, match="not a readable safetensors model file"):
        load(path)


def test_save_keeps_the_architecture_and_refuses_metadata_load_would_refuse(tmp_path):
    net = Network([64, 16, 10], seed=1)
    path = save(net, tmp_path / "m.safetensors", activation="relu", sizes=[1, 2])
    assert load(path).activation == "sigmoid" and load(path).sizes == [64, 16, 10]
    kept = path.read_bytes()
    for metadata, words in (({"test_accuracy": 95.3}, "invalid test_accuracy 95.3"),
                            ({"classes": [0, 1]}, "invalid classes"),
                            ({"created": object()}, "cannot be saved as JSON")):
        with pytest.raises(NudgeError, match=words) as e:
            save(net, path, **metadata)
        assert "damaged" not in str(e.value)
    net.weights[0] = net.weights[0].astype(np.float64)
    with pytest.raises(NudgeError, match="are float64 in this float32 network"):
        save(net, path)
    assert path.read_bytes() == kept                   # the good model is still there


def test_metadata_nested_too_deep_is_refused_and_never_saved(tmp_path):
    """Lists in lists 900 deep parse, but showing or saving them again overflowed Python's
    recursion (nudge info --json printed a RecursionError traceback): refused in one line."""
    path = tmp_path / "deep.safetensors"
    _write_st(path, _tensors(), _meta(training={"x": json.loads("[" * 900 + "]" * 900)}))
    with pytest.raises(ModelFileError, match="more than 32 levels deep") as err:
        load(path)
    assert "\n" not in str(err.value)
    _write_st(path, _tensors(), _meta(training={"x": [[[{"a": [1]}]]]}))
    assert load(path).metadata["training"] == {"x": [[[{"a": [1]}]]]}
    net, cycle = Network([4, 3, 2], seed=1), []
    cycle.append(cycle)
    for metadata, words in (({"notes": json.loads("[" * 40 + "]" * 40)}, "levels deep"),
                            ({"notes": cycle}, "cannot be saved as JSON")):
        with pytest.raises(NudgeError, match=words):
            save(net, tmp_path / "new.safetensors", **metadata)
    assert not (tmp_path / "new.safetensors").exists()


def test_a_changed_weight_is_found_by_the_checksum(tmp_path, net, capsys):
    """safetensors checks no data: a flipped bit in a weight gives another finite number,
    which only the SHA-256 of the parameters saved in the metadata can tell."""
    from nudge.cli import main

    path = save(net, tmp_path / "m.safetensors")
    data = bytearray(path.read_bytes())
    data[-100] ^= 0x01                               # in the last tensor's values
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="SHA-256.*the file is damaged") as err:
        load(path)
    assert "\n" not in str(err.value)
    assert main(["info", str(path)]) == 1
    assert "damaged" in capsys.readouterr().err


def test_files_without_a_checksum_still_load_and_info_says_so(tmp_path, capsys):
    from nudge.cli import main

    path = tmp_path / "old.safetensors"
    _write_st(path, _tensors(), _meta())              # as nudge wrote before the checksum
    assert load(path).sizes == [4, 3, 2]
    assert main(["info", str(path)]) == 0
    assert "no checksum" in capsys.readouterr().out
    save(load(path), path)                           # saved again: with one
    assert len(load(path).metadata["parameters_sha256"]) == 64
    assert main(["info", str(path)]) == 0 and "no checksum" not in capsys.readouterr().out


def test_the_checksum_is_the_networks_own_not_one_passed_in(tmp_path, net):
    path = save(net, tmp_path / "a.safetensors")
    old = load(path)
    other = Network([784, 16, 16, 10], seed=4)
    save(other, tmp_path / "b.safetensors", **old.metadata)   # a stale checksum passed back
    back = load(tmp_path / "b.safetensors")
    np.testing.assert_array_equal(back.weights[0], other.weights[0])
    assert back.metadata["parameters_sha256"] != old.metadata["parameters_sha256"]


def test_an_empty_file_name_is_named_as_empty(tmp_path, monkeypatch):
    """save(net, "") and load("") (a name from an unset variable) were pathlib's ".", the
    current folder: ". is a folder; give a file name", "." not a regular file; an empty
    data folder looked in the current one."""
    from nudge import load_dataset
    from nudge.images import open_image
    from nudge.plots import save_figure

    monkeypatch.chdir(tmp_path)
    for call in (lambda: save(Network([4, 2], seed=0), ""), lambda: load(""),
                 lambda: open_image(""), lambda: load_dataset("mnist", data_dir=""),
                 lambda: save_figure(None, "")):
        with pytest.raises(NudgeError, match='the name is empty \\(""\\); give a name'):
            call()
    assert list(tmp_path.iterdir()) == []


def test_a_model_file_named_by_something_else_than_a_path_is_one_line(tmp_path):
    """save and load of None, a number or bytes: pathlib's TypeError before; save of what
    is no network, an AttributeError; a preset that is no name, 'unhashable type'."""
    from nudge.settings import preset

    for path, shown in ((None, "None"), (3, "3"), (b"m.safetensors", "b'm.safetensors'")):
        for call, args in ((save, (Network([4, 2], seed=0), path)), (load, (path,))):
            with pytest.raises(NudgeError, match=f"the model file must be a file name .* not "
                                                 f"{re.escape(shown)}"):
                call(*args)
    with pytest.raises(NudgeError, match="net must be a nudge.Network, got a str"):
        save("net", tmp_path / "m.safetensors")
    with pytest.raises(NudgeError, match="unknown preset \\[\\]: choose one of"):
        preset([])


def test_a_start_recorded_as_nudge_writes_it_loads_and_its_epochs_stay_in_bounds(tmp_path):
    """What a model trained further records of its start loads again, also where the
    start's metadata is partial; a sum of epochs past the bound load checks is recorded as
    unknown, not written into a file load would refuse."""
    from nudge.modelfile import MAX_METADATA_COUNT, start_record

    path = tmp_path / "m.safetensors"
    start = Network([4, 3, 2], seed=1)
    for metadata, epochs in (({}, None), ({"epochs_trained": 3}, 3),
                             ({"epochs_trained": 3, "started_from": {"epochs": 4}}, 7),
                             ({"epochs_trained": MAX_METADATA_COUNT,
                               "started_from": {"epochs": MAX_METADATA_COUNT}}, None)):
        start.metadata = metadata
        record = start_record("start.safetensors", start, 0.5)
        assert record["epochs"] == epochs
        save(start, path, started_from=record)
        assert load(path).metadata["started_from"] == record
