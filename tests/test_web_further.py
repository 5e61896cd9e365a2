"""The page's "train the model in use further" (``"start_from": "model"`` in a start),
the web's ``nudge train --start-from``: the same network as the API's copy + train, the
model it started from untouched, and the start recorded in the trained model."""

import time

import numpy as np
import pytest
from test_web_api import BASE, TestClient, wait_until_idle

from nudge import Network, load, load_dataset, save, train
from nudge.modelfile import parameters_sha256
from nudge.web.server import create_app


@pytest.fixture
def client(tmp_path, digits):
    net = Network([64, 12, 10], seed=4)
    net.fit(digits.X_train, digits.y_train, epochs=2, batch_size=10, learning_rate=3.0,
            engine="reference")
    path = tmp_path / "first.safetensors"
    save(net, path, dataset="digits", epochs_trained=2)
    save_dir = tmp_path / "saved"
    save_dir.mkdir()
    with TestClient(create_app(path, save_dir=save_dir, dataset="digits"),
                    base_url=BASE) as c:
        yield c, path, save_dir


SETTINGS = {"preset": "nielsen", "epochs": 2, "batch_size": 10, "learning_rate": 1.5,
            "seed": 9}


def test_training_the_model_in_use_further_is_copy_then_train(client):
    c, path, save_dir = client
    r = c.post("/api/train/start", json={**SETTINGS, "start_from": "model"})
    assert r.status_code == 200, r.text
    assert r.json()["message"].startswith("training 64-12-10 further, from first.safetensors")
    t = wait_until_idle(c)
    assert t["state"] == "finished"
    start, data = load(path), load_dataset("digits")
    expected = start.copy()
    train(expected, data.X_train, data.y_train, epochs=2, batch_size=10, learning_rate=1.5,
          seed=9)
    assert c.post("/api/models/save", json={"name": "further"}).status_code == 200
    got = load(save_dir / "further.safetensors")
    for a, b in zip(got.weights + got.biases, expected.weights + expected.biases):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)   # the page's engine may differ
    assert got.metadata["started_from"] == {
        "model": "first.safetensors", "parameters_sha256": parameters_sha256(start),
        "epochs": 2, "dataset": "digits",
        "test_accuracy": pytest.approx(start.score(data.X_test, data.y_test))}
    assert "started_from" not in got.metadata["training"]
    s = c.get("/api/state").json()
    assert s["model"]["source"] == "page"
    assert t["settings"]["started_from"]["model"] == "first.safetensors"
    # the command-line model is as it was: a copy was trained
    example = {"example": {"split": "test", "index": 0}}
    trained = c.post("/api/nudges", json=example).json()["outputs"]
    r = c.post("/api/models/select", json={"source": "file"})
    assert r.status_code == 200, r.text
    outputs = c.post("/api/nudges", json=example).json()["outputs"]
    x = data.X_test[:1].astype(np.float32) / 255
    np.testing.assert_allclose(outputs, start.feedforward(x)[0], atol=1e-6)
    assert not np.allclose(outputs, trained, atol=1e-3)


def test_the_page_s_model_trained_further_counts_every_epoch(client):
    c, _, save_dir = client
    for start_from in (None, "model", "model"):
        body = {**SETTINGS, **({"start_from": start_from} if start_from else {})}
        assert c.post("/api/train/start", json=body).status_code == 200
        wait_until_idle(c)
    assert c.post("/api/models/save", json={"name": "third"}).status_code == 200
    md = load(save_dir / "third.safetensors").metadata
    assert md["started_from"]["epochs"] == 4 and md["epochs_trained"] == 2
    assert md["started_from"]["model"] == "trained on this page"


@pytest.mark.parametrize("extra, words", [
    ({"hidden": [30]}, "hidden: the network is the model in use (64-12-10, sigmoid) when "
                       "training it further; leave hidden out"),
    ({"activation": "relu"}, "activation: the network is the model in use"),
    ({"start_from": "file"}, "start_from"),
])
def test_what_would_make_another_network_is_refused(client, extra, words):
    c, _, _ = client
    r = c.post("/api/train/start", json={**SETTINGS, "start_from": "model", **extra})
    assert r.status_code == 400 and words in r.json()["error"]
    assert c.get("/api/train/state").json()["training"] is None


def test_with_no_model_in_use_there_is_nothing_to_train_further(digits):
    with TestClient(create_app(None, dataset="digits"), base_url=BASE) as c:
        r = c.post("/api/train/start", json={**SETTINGS, "start_from": "model"})
        assert r.status_code == 409 and "there is no model yet" in r.json()["error"]


@pytest.mark.parametrize("sizes, words", [
    ([784, 10], "the model reads 784 inputs but the digits images have 64 pixels"),
    ([64, 12, 5], "the model in use has 5 outputs but the digits images have 10 classes"),
])
def test_a_model_of_other_images_is_not_trained_further_on_these(client, sizes, words):
    """A saved model made for other images: said so, not as the CLI's --sizes (which the
    request never named)."""
    c, _, save_dir = client
    save(Network(sizes, seed=1), save_dir / "other.safetensors")
    assert c.post("/api/models/load", json={"name": "other"}).status_code == 200
    r = c.post("/api/train/start", json={**SETTINGS, "start_from": "model"})
    assert r.status_code == 409, r.text
    assert r.json()["error"] == (f"{words}: it cannot be trained further on them; start a new "
                                 "network")
    assert c.get("/api/train/state").json()["training"] is None


def test_a_run_says_it_has_ended_only_once_its_record_is_written(client, monkeypatch):
    """A run's record (what it was, in the network's metadata) was written after the run
    said it had ended: a client told "finished" that at once saved the model, or trained it
    further, got it without its record (on a busy machine: "epochs" None, not 4).  A slow
    record (0.5 s here) is written before the end is shown."""
    import time

    from nudge.web.routes import training

    real = training.finished
    monkeypatch.setattr(training, "finished",
                        lambda state, job: (time.sleep(0.5), real(state, job)))
    c, _, save_dir = client
    for start_from in (None, "model"):
        body = {**SETTINGS, **({"start_from": start_from} if start_from else {})}
        assert c.post("/api/train/start", json=body).status_code == 200
        assert wait_until_idle(c)["state"] == "finished"
        assert c.post("/api/models/save", json={"name": "now", "overwrite": True}
                      ).status_code == 200
        md = load(save_dir / "now.safetensors").metadata
        assert md["epochs_trained"] == 2 and md["stopped"] == "finished", md
    assert md["started_from"]["epochs"] == 2 and md["started_from"]["model"] == (
        "trained on this page")


def test_a_model_stopped_in_an_epoch_is_said_to_hold_part_of_one(client, tmp_path, capsys):
    """A run stopped part of the way through its first epoch records that epoch, cut short
    (``complete: false``); a run trained further from it, and ``nudge info`` on that, say
    "part of an epoch", not "1 epoch"."""
    from test_cli import run

    c, _, save_dir = client
    body = {**SETTINGS, "epochs": 1, "examples_per_second": 1000}     # 1.5 s an epoch
    assert c.post("/api/train/start", json=body).status_code == 200
    end = time.time() + 30
    while c.get("/api/train/state").json()["training"]["seen"] < 200:
        assert time.time() < end
        time.sleep(0.02)
    assert c.post("/api/train/stop", json={}).status_code == 200
    t = wait_until_idle(c)
    assert t["state"] == "stopped" and len(t["epoch_results"]) == 1
    assert t["epoch_results"][0]["complete"] is False
    r = c.post("/api/train/start", json={**SETTINGS, "epochs": 1, "start_from": "model"})
    assert r.status_code == 200, r.text
    t = wait_until_idle(c)
    assert t["settings"]["started_from"]["partial"] is True
    assert t["settings"]["started_from"]["epochs"] == 1
    assert t["epoch_results"][0]["complete"] is True
    assert c.post("/api/models/save", json={"name": "on"}).status_code == 200
    code, out, _ = run(capsys, "info", str(save_dir / "on.safetensors"))
    assert code == 0
    said = " ".join(out.split())
    assert "started from trained on this page after part of an epoch of training" in said
    assert "after 1 more epoch" in said
