"""``nudge train --start-from MODEL``: a saved model trained further, exactly as the Python
API's ``load`` then ``train`` would, and recorded as such."""

import json

import numpy as np
import pytest
from test_cli import run

from nudge import load, load_dataset, train
from nudge.modelfile import parameters_sha256


@pytest.fixture
def first(tmp_path, capsys):
    """A 64-16-10 network trained for 2 epochs on the 8x8 digits with the nielsen preset."""
    path = tmp_path / "first.safetensors"
    code, _, err = run(capsys, "train", "--dataset", "digits", "--preset", "nielsen",
                       "--sizes", "64,16,10", "--epochs", "2", "--seed", "1",
                       "--out", str(path), "--quiet")
    assert code == 0, err
    return path


def test_training_further_is_load_then_train(first, tmp_path, capsys):
    """The command's network is the saved one trained on: the same weights as the API's
    load + train with the same options, the preset and dataset taken from the model."""
    out = tmp_path / "second.safetensors"
    code, _, err = run(capsys, "train", "--start-from", str(first), "--epochs", "3",
                       "--seed", "7", "--out", str(out), "--quiet")
    assert code == 0, err
    said = " ".join(err.split())                   # lines wrap at the terminal's width
    assert f"from {first} (2 epochs of training, " in said and "on digits" in said
    net, data = load(first), load_dataset("digits")
    before = net.score(data.X_test, data.y_test)
    train(net, data.X_train, data.y_train, epochs=3, batch_size=10, learning_rate=1.5,
          seed=7)                                  # the nielsen preset's options
    got = load(out)
    for a, b in zip(got.weights + got.biases, net.weights + net.biases):
        np.testing.assert_array_equal(a, b)
    md = got.metadata
    assert md["preset"] == "nielsen" and md["training"]["learning_rate"] == 1.5
    assert md["epochs_trained"] == 3
    assert md["started_from"] == {
        "model": str(first), "parameters_sha256": parameters_sha256(load(first)),
        "epochs": 2, "dataset": "digits", "test_accuracy": before}


def test_a_chain_of_runs_counts_every_epoch_and_info_says_so(first, tmp_path, capsys):
    """A model trained further and then further again holds the epochs of all three runs;
    --out may be the --start-from file itself (replaced once training has ended)."""
    for epochs in ("1", "4"):
        code, _, err = run(capsys, "train", "--start-from", str(first), "--epochs", epochs,
                           "--out", str(first), "--quiet")
        assert code == 0, err
    assert load(first).metadata["started_from"]["epochs"] == 3      # 2, then 1 more
    code, out, _ = run(capsys, "info", str(first))
    assert code == 0
    said = " ".join(out.split())
    assert f"started from {first} after 3 epochs of training (" in said
    assert "after 4 more epochs" in said
    result = json.loads(run(capsys, "train", "--start-from", str(first), "--epochs", "1",
                            "--out", str(tmp_path / "next.safetensors"), "--json")[1])
    assert result["started_from"]["epochs"] == 7 and result["epochs"] == 1


def test_the_preset_given_replaces_the_models(first, tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    code, _, err = run(capsys, "train", "--start-from", str(first), "--preset", "3b1b",
                       "--epochs", "1", "--out", str(out), "--quiet")
    assert code == 0, err
    md = load(out).metadata
    assert md["preset"] == "3b1b" and md["training"]["schedule"] == "cosine"
    assert load(out).sizes == [64, 16, 10]


@pytest.mark.parametrize("extra, message", [
    (["--sizes", "64,30,10"], "--sizes 64,30,10: the network comes from --start-from "),
    (["--activation", "relu"], "--activation relu: the network comes from --start-from "),
    (["--cost", "cross-entropy"], "--cost cross-entropy: the network comes from "),
    (["--init", "normal"], "--init normal: the network comes from --start-from "),
    (["--plot", "START"], "--plot START is the file --start-from reads: writing it would "
                          "destroy"),
], ids=["sizes", "activation", "cost", "init", "plot-over-it"])
def test_what_cannot_change_is_refused_and_nothing_is_written(extra, message, first, tmp_path,
                                                             capsys):
    before = first.read_bytes()
    extra = [str(first) if e == "START" else e for e in extra]
    out = tmp_path / "m.safetensors"
    code, _, err = run(capsys, "train", "--start-from", str(first), *extra, "--epochs", "1",
                       "--out", str(out))
    assert code == 1 and message.replace("START", str(first)) in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert first.read_bytes() == before and not out.exists()


def test_a_damaged_or_missing_start_is_one_line(first, tmp_path, capsys):
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(first.read_bytes()[:-10])
    for path, words in ((damaged, "damaged.safetensors"), (tmp_path / "no.safetensors",
                                                          "no such model file")):
        code, _, err = run(capsys, "train", "--start-from", str(path), "--epochs", "1",
                           "--out", str(tmp_path / "m.safetensors"))
        assert code == 1 and words in err and err.count("\n") == 1
    assert not (tmp_path / "m.safetensors").exists()


def test_images_held_out_before_are_kept_out_or_the_run_says_it_trains_on_them(tmp_path,
                                                                               capsys):
    first = tmp_path / "held.safetensors"
    code, _, err = run(capsys, "train", "--dataset", "digits", "--epochs", "1",
                       "--validation", "300", "--out", str(first), "--quiet")
    assert code == 0, err
    out = str(tmp_path / "m.safetensors")
    code, _, err = run(capsys, "train", "--start-from", str(first), "--epochs", "1",
                       "--out", out, "--quiet")
    assert code == 0 and "the last 300 training images held out; this run trains on them" \
        in " ".join(err.split()) and "give --validation 300 to keep them out" in err
    code, _, err = run(capsys, "train", "--start-from", str(first), "--epochs", "1",
                       "--validation", "300", "--out", out, "--quiet")
    assert code == 0 and "held out" not in err.replace("300 held out", "")
    assert load(out).metadata["n_validation"] == 300


def test_a_start_whose_metadata_names_no_dataset_is_told_to_give_one(tmp_path, capsys,
                                                                     mnist_path):
    """A network saved from Python (no dataset in its metadata) was taken for an MNIST one
    and refused with 'choose the dataset it was trained on', naming no option."""
    from nudge import Network, save

    start = tmp_path / "python.safetensors"
    save(Network([64, 8, 10], seed=1), start)
    out = str(tmp_path / "m.safetensors")
    code, _, err = run(capsys, "train", "--start-from", str(start), "--epochs", "1",
                       "--data-dir", str(mnist_path), "--out", out)
    assert code == 1 and err.count("\n") == 1
    assert ("the model reads 64 inputs but mnist images have 784 pixels (its metadata names "
            "no dataset: mnist was taken); give the --dataset it was trained on (") in err
    code, _, err = run(capsys, "train", "--start-from", str(start), "--dataset", "digits",
                       "--epochs", "1", "--out", out, "--quiet")
    assert code == 0, err
