"""The web server's API: every endpoint, with good and bad requests (Starlette's TestClient).

Runs offline: a 784-input model (untrained is enough) checks the drawing path, and
a 64-input model with the embedded 8x8 digits checks examples, nudges, sensitivity,
training and saving."""

import base64
import io
import json
import re
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

from PIL import Image, ImageDraw  # noqa: E402

with warnings.catch_warnings():        # newer Starlette suggests httpx2; httpx works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: E402

from nudge.images import prepare_file  # noqa: E402
from nudge.modelfile import load, save  # noqa: E402
from nudge.network import Network  # noqa: E402
from nudge.web import create_app  # noqa: E402
from nudge.web.validation import MAX_BODY  # noqa: E402

BASE = "http://127.0.0.1"


def png_of_seven(size=280, blank=False) -> bytes:
    img = Image.new("L", (size, size), 255)
    if not blank:
        d = ImageDraw.Draw(img)
        d.line([(70, 60), (210, 60), (130, 240)], fill=0, width=20, joint="curve")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def unpack(packed):
    return np.frombuffer(base64.b64decode(packed["b64"]), dtype="<f4").reshape(packed["shape"])


@pytest.fixture(scope="module")
def model28(tmp_path_factory):
    path = tmp_path_factory.mktemp("m28") / "m28.safetensors"
    save(Network([784, 16, 16, 10], seed=3), path, dataset="mnist")
    return path


@pytest.fixture(scope="module")
def model8(tmp_path_factory, digits):
    path = tmp_path_factory.mktemp("m8") / "m8.safetensors"
    net = Network([64, 16, 10], seed=1)
    net.fit(digits.X_train, digits.y_train, epochs=3, batch_size=10, learning_rate=3.0,
            engine="reference")
    save(net, path, dataset="digits")
    return path


@pytest.fixture
def c28(model28):
    with TestClient(create_app(model28, dataset="digits"), base_url=BASE) as client:
        yield client


@pytest.fixture
def c8(model8, tmp_path):
    save_dir = tmp_path / "saved"
    save_dir.mkdir()
    app = create_app(model8, save_dir=save_dir, dataset="digits")
    with TestClient(app, base_url=BASE) as client:
        client.save_dir = save_dir
        yield client
        job = app.state.web.job
        if job is not None:
            job.stop()


# ----------------------------------------------------------------------------- page & plumbing
def test_index_and_static_files_are_served_with_security_headers(c28):
    r = c28.get("/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    refs = re.findall(r'(?:src|href)="(/static/[^"]+)"', r.text)
    assert "/static/app.js" in refs and "/static/style.css" in refs
    static = Path(__file__).resolve().parents[1] / "src/nudge/web/static"
    for js in static.glob("*.js"):
        refs += [f"/static/{m}" for m in re.findall(r'from "\./([^"]+)"', js.read_text())]
    for ref in set(refs):
        assert c28.get(ref).status_code == 200, ref
    assert c28.get("/static/../server.py").status_code == 404
    assert c28.get("/static/nope.js").status_code == 404


def test_every_asset_is_local():
    static = Path(__file__).resolve().parents[1] / "src/nudge/web/static"
    for f in static.iterdir():
        text = f.read_text()
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), f.name


def test_static_files_are_package_data():
    import fnmatch

    tomllib = pytest.importorskip("tomllib")
    root = Path(__file__).resolve().parents[1]
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["nudge"]
    for f in (root / "src/nudge/web/static").rglob("*"):
        if f.is_file():
            rel = f.relative_to(root / "src/nudge").as_posix()
            assert any(fnmatch.fnmatch(rel, p) for p in patterns), rel


def test_foreign_host_header_is_refused(c28):
    assert c28.get("/api/state", headers={"host": "attacker.example"}).status_code == 400


def test_cross_origin_post_and_other_methods_are_refused(c28):
    body = {"image": data_url(png_of_seven())}
    r = c28.post("/api/predict", json=body, headers={"origin": "http://attacker.example"})
    assert r.status_code == 403
    assert c28.post("/api/predict", json=body, headers={"origin": BASE}).status_code == 200
    assert c28.put("/api/predict", json=body).status_code == 405
    r = c28.get("/api/predict")
    assert r.status_code == 405 and r.json()["error"] == "GET is not allowed on /api/predict"
    r = c28.post("/api/nothing", json={})
    assert r.status_code == 404 and "no such page or API endpoint" in r.json()["error"]


def test_bodies_must_be_small_json_objects(c28):
    url = "/api/predict"
    assert c28.post(url, content=b"x" * (MAX_BODY + 1),
                    headers={"content-type": "application/json"}).status_code == 413
    assert c28.post(url, content=b"{}", headers={"content-type": "text/plain"}).status_code == 415
    assert c28.post(url, content=b"{nope", headers={"content-type": "application/json"}
                    ).status_code == 400
    assert c28.post(url, content=b"[1, 2]", headers={"content-type": "application/json"}
                    ).status_code == 400
    assert c28.post(url, content=b'{"image": NaN}', headers={"content-type": "application/json"}
                    ).status_code == 400
    r = c28.post(url, json={"image": data_url(png_of_seven()), "path": "/etc/passwd"})
    assert r.status_code == 400 and "unknown field" in r.json()["error"]
    # what is wrong, whole (the message of Python's parser was cut at 80 characters)
    for body, said in ((b'{"image": ', "not valid JSON (Expecting value at line 1, column 11)"),
                       (b'\xff{}', "not valid JSON: it is not UTF-8 text"),
                       (b"[" * 100_000, "nested too deeply")):
        r = c28.post(url, content=body, headers={"content-type": "application/json"})
        assert r.status_code == 400 and said in r.json()["error"], body[:20]


def test_a_path_that_is_not_found_is_named_as_sent(c28):
    """A 404 named the path percent-decoded as Latin-1: /%FF came back as '/Ã¿'-like
    mojibake; it is now the path as sent."""
    r = c28.get("/%FF/x%20y")
    assert r.status_code == 404
    assert r.json()["error"] == "no such page or API endpoint: /%FF/x%20y"


def test_odd_characters_in_field_names_are_named_back_safely(c28):
    """A lone surrogate ("\\ud800" is valid JSON, not encodable as UTF-8) or a control
    character in an unknown field's name: a 400 that names it escaped, not a 500."""
    for raw in (b'{"\\ud800": 1}', b'{"a\\u001b[2Jb": 1}',
                b'{"example": {"split": "test", "index": 0, "\\udfff": 1}}'):
        r = c28.post("/api/nudges", content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 400 and "unknown field" in r.json()["error"], raw
        assert "\\u" in r.json()["error"] or "\\x1b" in r.json()["error"]


def test_state(c28):
    s = c28.get("/api/state").json()
    assert s["model"]["sizes"] == [784, 16, 16, 10] and s["model"]["source"] == "file"
    assert s["training"] is None and s["saving"] is False and "3b1b" in s["presets"]
    assert s["dataset"]["name"] == "digits"


# ----------------------------------------------------------------------------- draw
def test_predict_prepares_the_drawing_exactly_like_nudge_predict(c28, model28, tmp_path):
    png = png_of_seven()
    (tmp_path / "seven.png").write_bytes(png)
    r = c28.post("/api/predict", json={"image": data_url(png)})
    assert r.status_code == 200
    p = r.json()
    x = unpack(p["input"])
    assert x.shape == (784,)
    assert np.array_equal(x, prepare_file(tmp_path / "seven.png", 784))
    out = load(model28).feedforward(x)
    assert np.allclose(p["outputs"], out, atol=1e-6) and p["digit"] == int(np.argmax(out))
    assert [len(a) for a in p["activations"]] == [16, 16, 10] and len(p["sums"]) == 3
    assert p["ms"] >= 0          # how long it takes: benchmarks/web_requests.py


@pytest.mark.parametrize("image,status", [
    ("data:image/png;base64,", 400),
    ("data:image/jpeg;base64,AAAA", 400),
    ("data:image/png;base64,@@@@", 400),
    ("data:image/png;base64," + base64.b64encode(b"not a png").decode(), 400),
    (12, 400),
    (None, 400),
])
def test_predict_rejects_bad_images(c28, image, status):
    r = c28.post("/api/predict", json={"image": image})
    assert r.status_code == status and r.json()["error"]


def test_predict_rejects_blank_huge_and_tiny_drawings(c28):
    r = c28.post("/api/predict", json={"image": data_url(png_of_seven(blank=True))})
    assert r.status_code == 422 and "blank" in r.json()["error"]
    for w, h in ((2000, 20), (4, 4)):
        buf = io.BytesIO()
        Image.new("L", (w, h), 255).save(buf, format="PNG")
        r = c28.post("/api/predict", json={"image": data_url(buf.getvalue())})
        assert r.status_code == 400 and "pixels" in r.json()["error"]
    assert c28.post("/api/predict", json={}).status_code == 400


def test_no_model_yet(tmp_path):
    with TestClient(create_app(dataset="digits"), base_url=BASE) as c:
        r = c.post("/api/predict", json={"image": data_url(png_of_seven())})
        assert r.status_code == 409 and "no model" in r.json()["error"]
        assert c.get("/api/state").json()["model"] is None
        assert c.get("/api/sensitivity").status_code == 409


# ----------------------------------------------------------------------------- inside
def test_example_neuron_and_weights(c8, model8, digits):
    net = load(model8)
    r = c8.get("/api/example?split=test&index=5")
    assert r.status_code == 200
    p = r.json()
    assert p["label"] == int(digits.y_test[5])
    x = digits.X_test[5].astype(np.float32) / 255
    assert np.allclose(unpack(p["input"]), x)
    assert np.allclose(p["outputs"], net.feedforward(x), atol=1e-6)
    n = c8.get("/api/neuron?layer=1&index=3").json()
    assert n["bias"] == pytest.approx(float(net.biases[0][3]))
    assert np.allclose(unpack(n["weights"]), net.weights[0][3].reshape(8, 8))
    n2 = c8.get("/api/neuron?layer=2&index=9").json()
    assert np.allclose(unpack(n2["weights"]), net.weights[1][9])
    w = c8.get("/api/weights?layer=2").json()
    assert np.allclose(unpack(w["weights"]), net.weights[1])


@pytest.mark.parametrize("url", [
    "/api/example?split=test&index=99999", "/api/example?split=nope&index=1",
    "/api/example?split=test&index=1.5", "/api/example?split=test&index=-1",
    "/api/example?split=test", "/api/neuron?layer=0&index=0", "/api/neuron?layer=3&index=0",
    "/api/neuron?layer=1&index=16", "/api/neuron?layer=x&index=0", "/api/weights?layer=9",
    "/api/sensitivity?examples=0", "/api/sensitivity?top=100000", "/api/sensitivity?examples=NaN",
    "/api/example?split=test&index=%D9%A3", "/api/mistakes?limit=%EF%BC%91",   # ٣ and １
])
def test_bad_queries(c8, url):
    r = c8.get(url)
    assert r.status_code == 400 and r.json()["error"]


def test_model_and_dataset_must_match(c28):
    r = c28.get("/api/example?split=test&index=0")
    assert r.status_code == 409 and "784" in r.json()["error"]


# ----------------------------------------------------------------------------- nudges
def test_nudges_of_a_training_example_are_its_negative_gradient(c8, model8, digits):
    net = load(model8)
    r = c8.post("/api/nudges", json={"example": {"split": "train", "index": 7}})
    assert r.status_code == 200
    p = r.json()
    label = int(digits.y_train[7])
    assert p["target"] == label == p["label"] and p["targets"][label] == 1
    gw, gb = net.backprop(digits.X_train[7:8], digits.y_train[7:8])
    by_layer = {L["layer"]: L for L in p["layers"]}
    assert [L["layer"] for L in p["layers"]] == [2, 1]
    for l in (1, 2):
        assert np.allclose(by_layer[l]["bias_nudges"], -gb[l - 1], atol=1e-6)
        assert np.allclose(unpack(by_layer[l]["weight_nudges"]).reshape(gw[l - 1].shape),
                           -gw[l - 1], atol=1e-6)
    a = np.array(p["outputs"])
    assert np.allclose(p["wished_outputs"], -2 * (a - np.array(p["targets"])), atol=1e-6)


def test_nudges_of_a_drawing_need_the_intended_digit(c28):
    img = data_url(png_of_seven())
    assert c28.post("/api/nudges", json={"image": img}).status_code == 400
    assert c28.post("/api/nudges", json={"image": img, "target": 10}).status_code == 400
    assert c28.post("/api/nudges", json={"image": img, "target": True}).status_code == 400
    r = c28.post("/api/nudges", json={"image": img, "target": 7})
    assert r.status_code == 200 and r.json()["target"] == 7
    assert unpack(r.json()["layers"][-1]["weight_nudges"]).shape == (16, 28, 28)
    both = {"image": img, "example": {"split": "train", "index": 0}, "target": 7}
    assert c28.post("/api/nudges", json=both).status_code == 400
    assert c28.post("/api/nudges", json={"example": {"split": "train", "index": "0"}}
                    ).status_code == 400
    assert c28.post("/api/nudges", json={"example": {"split": "train", "index": 0,
                                                     "path": "x"}}).status_code == 400


def test_a_gradient_step_lowers_the_cost_of_that_example(c8):
    body = {"example": {"split": "train", "index": 3}, "learning_rate": 1.0}
    r = c8.post("/api/nudges/step", json=body)
    assert r.status_code == 200
    p = r.json()
    assert p["cost_after"] < p["cost_before"] and p["cost"] == pytest.approx(p["cost_after"])
    r2 = c8.post("/api/nudges/step", json=body).json()
    assert r2["cost_before"] == pytest.approx(p["cost_after"], rel=1e-5)
    for lr in (0, -1, 1e9, "1", None, 10**400):
        bad = dict(body, learning_rate=lr)
        assert c8.post("/api/nudges/step", json=bad).status_code == 400, lr
    # the file's model is untouched: selecting it again gives a fresh copy
    before = c8.post("/api/nudges", json={"example": {"split": "train", "index": 3}}).json()
    c8.post("/api/models/select", json={"source": "file"})
    after = c8.post("/api/nudges", json={"example": {"split": "train", "index": 3}}).json()
    assert after["cost"] > before["cost"]


# ----------------------------------------------------------------------------- sensitivity
def test_sensitivity(c8, model8, digits):
    r = c8.get("/api/sensitivity?examples=500&top=5")
    assert r.status_code == 200
    p = r.json()
    assert p["examples"] == 500 and len(p["top"]) == 5
    net = load(model8)
    gw, gb = net.backprop(digits.X_train[:500], digits.y_train[:500])
    flat = np.concatenate([a.ravel() for pair in zip(gw, gb) for a in pair])
    assert abs(p["top"][0]["gradient"]) == pytest.approx(np.abs(flat).max(), rel=1e-4)
    assert unpack(p["first_layer_maps"]).shape == (16, 8, 8)
    assert np.allclose(unpack(p["first_layer_maps"]), np.abs(gw[0]).reshape(16, 8, 8),
                       atol=1e-6)
    assert sum(L["weights_share"] + L["biases_share"] for L in p["layers"]) == pytest.approx(1)


# ----------------------------------------------------------------------------- training
def read_events(client, n):
    """The first n updates of the event stream (ping events left out)."""
    with client.stream("GET", f"/api/train/stream?max_events={n}") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events, kind = [], "message"
        for line in r.iter_lines():
            if line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:"):
                if kind == "message":
                    events.append(json.loads(line[5:]))
                kind = "message"
        return events


def wait_until_idle(client, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        t = client.get("/api/train/state").json()["training"]
        if t["state"] not in ("running", "paused", "stopping"):
            return t
        time.sleep(0.05)
    raise AssertionError("training did not end")


def wait_until_held(client, timeout=30):
    """The paused run's summary once every step asked for has been taken ("held"), however
    long a busy machine keeps the training thread waiting for its turn."""
    end = time.time() + timeout
    while time.time() < end:
        t = client.get("/api/train/state").json()["training"]
        if t["held"]:
            return t
        time.sleep(0.02)
    raise AssertionError("the paused run did not settle")


def test_training_run_start_pause_resume_stream_and_finish(c8):
    r = c8.post("/api/train/start", json={"hidden": [16], "epochs": 3, "batch_size": 10,
                                          "learning_rate": 3.0, "seed": 1,
                                          "examples_per_second": 1000})
    assert r.status_code == 200, r.text
    again = c8.post("/api/train/start", json={})
    assert again.status_code == 409 and "under way" in again.json()["error"]
    assert c8.post("/api/train/pause", json={}).status_code == 200
    assert c8.post("/api/train/pause", json={}).status_code == 409
    assert c8.post("/api/nudges/step", json={"example": {"split": "train", "index": 0}}
                   ).status_code == 409
    assert c8.post("/api/models/save", json={"name": "x"}).status_code == 409
    assert c8.post("/api/train/resume", json={}).status_code == 200
    assert c8.post("/api/train/resume", json={}).status_code == 409
    assert c8.post("/api/train/set", json={"examples_per_second": None}).status_code == 200
    t = wait_until_idle(c8)
    assert t["state"] == "finished" and len(t["epoch_results"]) == 3
    assert t["seen"] == 3 * t["settings"]["train_examples"]
    assert t["test_accuracy"] > 0.7
    events = read_events(c8, 1)
    ev = events[0]
    assert ev["training"]["state"] == "finished" and ev["points"]
    assert ev["weights"]["shape"] == [16, 64] and ev["image_side"] == 8
    seen = [p[0] for p in ev["points"]]
    assert seen == sorted(seen) and seen[-1] == t["seen"]
    live = c8.get("/api/train/state?live=1").json()    # a page refused a stream reads it
    assert live["replace"] and live["points"] == ev["points"] and live["server"]
    assert live["weights"] == ev["weights"]
    assert live["training"]["epoch_results"] == t["epoch_results"]
    assert c8.get("/api/train/state?live=2").status_code == 400
    s = c8.get("/api/state").json()
    assert s["model"]["source"] == "page" and s["model"]["test_accuracy"] == t["test_accuracy"]
    assert s["model"]["n_test"] == t["settings"]["test_examples"]    # what it was measured on
    assert isinstance(s["model"]["epochs_trained"], int) and s["model"]["epochs_trained"] == 3
    assert c8.post("/api/train/stop", json={}).status_code == 409


def test_the_stream_follows_a_run(c8):
    """The updates of a running run report ever more examples seen (their rate, at least
    10 a second, is measured by benchmarks/web_training_speed.py: a timed test fails on
    a busy machine)."""
    r = c8.post("/api/train/start", json={"hidden": [16], "epochs": 100, "batch_size": 1,
                                          "learning_rate": 0.5, "seed": 1,
                                          "examples_per_second": 2000})
    assert r.status_code == 200
    events = read_events(c8, 15)
    assert all(e["training"]["state"] == "running" for e in events[1:])
    seen = [e["training"]["seen"] for e in events[1:]]
    assert all(a <= b for a, b in zip(seen, seen[1:])) and seen[0] < seen[-1], seen
    assert c8.post("/api/train/stop", json={}).status_code == 200
    assert c8.get("/api/train/state").json()["training"]["state"] == "stopped"
    r = c8.post("/api/train/reset", json={})
    assert r.status_code == 200 and r.json()["model"]["source"] == "file"
    assert c8.get("/api/train/state").json()["training"] is None
    assert read_events(c8, 1)[0]["training"] is None
    assert c8.post("/api/train/pause", json={}).status_code == 409


def test_training_runs_on_the_one_trainer_with_the_presets_settings(c8):
    r = c8.post("/api/train/start", json={"preset": "3b1b", "epochs": 2, "seed": 1})
    assert r.status_code == 200, r.text
    s = r.json()["training"]["settings"]
    # nudge.settings.resolve: the preset's schedule, floor and weight decay
    assert s["schedule"] == "cosine" and s["min_learning_rate"] == 0.02
    assert s["weight_decay"] == 5e-5 and s["sizes"] == [64, 16, 16, 10]
    t = wait_until_idle(c8)
    assert t["state"] == "finished" and t["engine"]["engine"] in ("fast", "reference")
    assert [e["learning_rate"] for e in t["epoch_results"]] == [1.0, pytest.approx(0.51)]
    assert t["epoch_results"][-1]["examples"] == t["seen"]
    custom = {"preset": "custom", "hidden": [8], "activation": "relu", "schedule": "constant",
              "weight_decay": 0, "learning_rate": 0.1, "epochs": 1}
    r = c8.post("/api/train/start", json=custom)
    assert r.status_code == 200, r.text
    s = r.json()["training"]["settings"]
    assert s["preset"] == "custom" and s["activation"] == "relu" and s["min_learning_rate"] == 0
    wait_until_idle(c8)


def test_examples_per_second_is_unknown_until_measured_not_zero(c8):
    """A run's rate was 0 until its first 0.5 s had been measured: the Live card showed
    "Examples / s 0" for a run going at 3,000 a second.  It is None (the page shows "–")
    until measured, and again after a resume or a new speed until measured at it."""
    state = lambda: c8.get("/api/train/state").json()["training"]      # noqa: E731
    r = c8.post("/api/train/start", json={"hidden": [16], "epochs": 5, "batch_size": 10,
                                          "seed": 1, "examples_per_second": 10})
    assert r.status_code == 200                       # a step a second: 2 s before measured
    assert r.json()["training"]["examples_per_second"] is None
    deadline = time.monotonic() + 60
    while (rate := state()["examples_per_second"]) is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert 2 < rate < 50
    assert c8.post("/api/train/set", json={"examples_per_second": 10}).status_code == 200
    assert state()["examples_per_second"] is None
    assert c8.post("/api/train/stop", json={}).status_code == 200
    wait_until_idle(c8)


def test_step_one_mini_batch_speed_and_learning_rate(c8):
    r = c8.post("/api/train/start", json={"hidden": [16], "epochs": 2, "batch_size": 10,
                                          "learning_rate": 3.0, "seed": 1, "schedule": "constant",
                                          "examples_per_second": 100})
    assert r.status_code == 200
    assert r.json()["training"]["speed"] == 100
    r = c8.post("/api/train/step", json={})        # pauses, then one mini-batch
    assert r.status_code == 200 and r.json()["training"]["state"] == "paused"
    before = wait_until_held(c8)["step"]            # the call under way and that step taken
    assert c8.post("/api/train/step", json={}).status_code == 200
    t = wait_until_held(c8)
    assert t["step"] == before + 1 and t["state"] == "paused"
    r = c8.post("/api/train/set", json={"learning_rate": 0.5, "examples_per_second": None})
    assert r.status_code == 200
    assert r.json()["training"]["learning_rate_override"] == 0.5
    assert r.json()["training"]["speed"] is None
    for body in ({"examples_per_second": 5}, {"examples_per_second": 0}, {"learning_rate": -1},
                 {"learning_rate": "x"}, {"what": 1}):
        assert c8.post("/api/train/set", json=body).status_code == 400, body
    c8.post("/api/train/resume", json={})
    t = wait_until_idle(c8)
    assert t["state"] == "finished" and t["learning_rate"] == 0.5
    assert c8.post("/api/train/step", json={}).status_code == 409
    assert c8.post("/api/train/set", json={"learning_rate": 1}).status_code == 409


def test_near_chance_during_a_run_says_it_may_yet_get_going(c8):
    """Near chance after epoch 1 of 3 (the 3b1b preset on the digits is slow to start):
    the advice said '3 epochs may be too few to get going (try more epochs)', advice for a
    run that has ended, while two more epochs were to come."""
    r = c8.post("/api/train/start", json={"preset": "3b1b", "epochs": 3, "seed": 1})
    assert r.status_code == 200, r.text
    t = wait_until_idle(c8)
    assert t["epoch_results"][0]["test_accuracy"] < 0.15
    chance = [w["advice"] for w in t["warnings"] if w["kind"] == "chance"]
    assert chance and chance[0].startswith(
        "After 1 epoch of 3 it may not have got going yet (a network often sits on a plateau "
        "at first: let it run), or steps of eta 1 too large"), chance
    # it rose above chance after epoch 2: the warning stays, as what happened, and says so
    risen = [e["epoch"] for e in t["epoch_results"] if e["test_accuracy"] > 0.15][0]
    warned = next(w for w in t["warnings"] if w["kind"] == "chance")
    assert warned["since"].startswith("It has since risen above chance: ")
    assert warned["since"].endswith(f"% after epoch {risen}.")
    from nudge.settings import resolve

    setup = resolve("3b1b", n_inputs=64, n_classes=10)          # 30 epochs
    assert setup.chance_advice(ran=0).startswith("in its first epoch it may not have got")
    assert setup.chance_advice(ran=30).startswith("30 epochs may be too few to get going")
    assert setup.chance_advice() == setup.chance_advice(ran=30)  # a run that has ended


def test_warnings_for_a_run_near_chance_with_dead_neurons(c8):
    r = c8.post("/api/train/start", json={"preset": "custom", "hidden": [16],
                                          "activation": "relu", "learning_rate": 100,
                                          "schedule": "constant", "epochs": 2, "seed": 1})
    assert r.status_code == 200
    t = wait_until_idle(c8)
    kinds = {w["kind"] for w in t["warnings"]}
    assert t["test_accuracy"] < 0.2 and {"chance", "dead"} <= kinds
    assert sum(t["dead_neurons"]) > 0 and all(w["advice"] for w in t["warnings"])
    chance = next(w["advice"] for w in t["warnings"] if w["kind"] == "chance")
    # nudge train's words; "custom" starts from the 3b1b preset (its eta was said to be
    # "sgd's default", 3, a number the page never shows)
    assert chance.startswith("With eta 100 (the 3b1b preset's is 1) the steps may be far "
                             "too large (ReLU neurons stop firing"), chance


def test_a_run_near_chance_with_tiny_steps_is_told_to_take_larger_ones(c8):
    """The page said 'try a smaller learning rate' also when eta was far too small."""
    r = c8.post("/api/train/start", json={"learning_rate": 1e-5, "schedule": "constant",
                                          "epochs": 1, "seed": 1})
    assert r.status_code == 200
    t = wait_until_idle(c8)
    chance = [w["advice"] for w in t["warnings"] if w["kind"] == "chance"]
    assert chance and "the steps may be too small" in chance[0], t["warnings"]
    assert "try a larger learning rate or more epochs" in chance[0]


@pytest.mark.parametrize("body", [
    {"hidden": "16"}, {"hidden": [0]}, {"hidden": [16] * 9}, {"hidden": [1.5]},
    {"learning_rate": 0}, {"learning_rate": -1}, {"learning_rate": "3"},
    {"epochs": 1000}, {"epochs": 0}, {"batch_size": 100000}, {"batch_size": 5000},
    {"preset": "nope"}, {"activation": "cosine"}, {"optimizer": "lbfgs"}, {"seed": -1},
    {"train_examples": 5}, {"what": 1}, {"schedule": "cosine", "learning_rate": 0.01,
                                         "min_learning_rate": 0.1},
    {"weight_decay": -1}, {"examples_per_second": 1, "batch_size": 10},
    {"examples_per_second": None}, {"epochs": None}, {"schedule": "plateau"},
    {"schedule": "constant", "min_learning_rate": 0.1},
])
def test_bad_training_settings(c8, body):
    r = c8.post("/api/train/start", json=body)
    assert r.status_code == 400 and r.json()["error"]
    assert "--" not in r.json()["error"] and "min-learning" not in r.json()["error"]
    if "min_learning_rate" in body:                     # named as the page's field
        assert "min_learning_rate" in r.json()["error"]
    assert c8.get("/api/train/state").json()["training"] is None


def test_bad_control_bodies(c8):
    assert c8.post("/api/train/pause", json={"x": 1}).status_code == 400
    assert c8.post("/api/train/stop", json={}).status_code == 409
    assert c8.post("/api/train/resume", json={}).status_code == 409


# ----------------------------------------------------------------------------- models
def test_save_list_load_and_select_models(c8):
    assert c8.post("/api/models/save", json={"name": "first"}).status_code == 409  # none yet
    c8.post("/api/train/start", json={"hidden": [8], "epochs": 1, "seed": 2})
    wait_until_idle(c8)
    for name in ("../evil", "a/b", "/etc/passwd", "", ".hidden", "x" * 65, 5, None, "a.b",
                 "x\n", "CON", "nul", "Aux", "com1", "LPT9", "prn"):    # devices on Windows
        r = c8.post("/api/models/save", json={"name": name})
        assert r.status_code == 400, name
    r = c8.post("/api/models/save", json={"name": "first"})
    assert r.status_code == 200 and r.json()["saved"] == ["first"]
    path = c8.save_dir / "first.safetensors"
    net = load(path)
    assert net.sizes == [64, 8, 10] and net.metadata["dataset"] == "digits"
    assert net.metadata["epochs_trained"] == 1
    assert c8.post("/api/models/save", json={"name": "first"}).status_code == 409
    assert c8.post("/api/models/save", json={"name": "first", "overwrite": True}
                   ).status_code == 200
    assert c8.post("/api/models/save", json={"name": "z", "overwrite": "yes"}).status_code == 400
    # saves of one new name at once: one is made, the others are told it exists
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(6) as pool:
        codes = sorted(pool.map(lambda _: c8.post("/api/models/save", json={
            "name": "race"}).status_code, range(6)))
    assert codes == [200] + [409] * 5
    (c8.save_dir / "folder.safetensors").mkdir()
    r = c8.post("/api/models/save", json={"name": "folder", "overwrite": True})
    assert r.status_code == 409 and str(c8.save_dir) not in r.json()["error"]
    assert "not a model file" in r.json()["error"]
    assert c8.get("/api/models").json()["saved"] == ["first", "race"]
    assert c8.post("/api/models/load", json={"name": "nothere"}).status_code == 404
    assert c8.post("/api/models/load", json={"name": "../first"}).status_code == 400
    r = c8.post("/api/models/load", json={"name": "first"})
    assert r.status_code == 200 and r.json()["model"]["label"] == "first.safetensors"
    assert r.json()["model"]["sizes"] == [64, 8, 10]
    r = c8.post("/api/models/select", json={"source": "page"})
    assert r.status_code == 200 and r.json()["model"]["source"] == "page"
    assert c8.post("/api/models/select", json={"source": "/tmp/x"}).status_code == 400


def test_the_save_folder_holds_a_bounded_number_of_models(c8, monkeypatch):
    from nudge.web import state

    monkeypatch.setattr(state, "MAX_LISTED", 3)
    c8.app.state.web.page_net = Network([64, 8, 10], seed=1)
    (c8.save_dir / "mine.safetensors").write_bytes(b"the user's own file")
    for name in ("a", "b"):
        assert c8.post("/api/models/save", json={"name": name}).status_code == 200
    r = c8.post("/api/models/save", json={"name": "c"})
    assert r.status_code == 409 and "holds 3 models" in r.json()["error"]
    assert not (c8.save_dir / "c.safetensors").exists()
    r = c8.post("/api/models/save", json={"name": "a", "overwrite": True})   # no more room
    assert r.status_code == 200
    assert c8.get("/api/models").json()["saved"] == ["a", "b", "mine"]
    assert sorted(p.name for p in c8.save_dir.iterdir()) == [
        "a.safetensors", "b.safetensors", "mine.safetensors"]       # no temporary file left


def test_listing_the_saved_models_reads_them_within_the_servers_limits(c8, model8,
                                                                      monkeypatch):
    """The listing reads up to 200 model files: requests that ask for it together (a
    client hammering it, a page and its state) read them one listing at a time, in the
    file slot of :mod:`nudge.web.limits`, as a load does; not one thread each."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import nudge.modelfile

    for name in ("a", "b", "c"):
        (c8.save_dir / f"{name}.safetensors").write_bytes(model8.read_bytes())
    real_load, lock, reading = nudge.modelfile.load, threading.Lock(), [0, 0]   # now, most

    def slow_load(path):
        with lock:
            reading[0] += 1
            reading[1] = max(reading)
        try:
            time.sleep(0.1)
            return real_load(path)
        finally:
            with lock:
                reading[0] -= 1

    monkeypatch.setattr(nudge.modelfile, "load", slow_load)
    c8.app.state.web._saved_info.clear()

    def ask(i):
        if i == 5:
            return c8.post("/api/models/load", json={"name": "a"}).status_code
        c8.app.state.web._saved_info.clear()          # every listing reads every file
        return c8.get("/api/models" if i % 2 else "/api/state").status_code

    with ThreadPoolExecutor(6) as pool:
        assert list(pool.map(ask, range(6))) == [200] * 6
    assert reading == [0, 1]


def test_the_state_names_the_model_in_use_when_it_answers_not_when_asked(c8, monkeypatch):
    """/api/state waits for the save folder's listing (one at a time): a model changed
    meanwhile (a load, a hand step) is the one it names, else the page shows the old one."""
    import threading

    web = c8.app.state.web
    real, listing, stepped = web.saved_listing, threading.Event(), threading.Event()

    def slow_listing():           # the listing ends after the step, however slow the host
        listing.set()
        assert stepped.wait(20)
        return real()

    monkeypatch.setattr(web, "saved_listing", slow_listing)
    answer = {}
    asking = threading.Thread(target=lambda: answer.update(c8.get("/api/state").json()))
    asking.start()
    assert listing.wait(10)
    body = {"example": {"split": "train", "index": 3}, "learning_rate": 1.0}
    assert c8.post("/api/nudges/step", json=body).status_code == 200
    stepped.set()
    asking.join(20)
    assert answer["model"]["modified"]["steps"] == 1
    assert answer["model"]["version"] == c8.get("/api/train/state").json()["model"]["version"]


def test_a_name_in_other_letter_case_never_overwrites_a_saved_model(c8):
    """On macOS and Windows Digits.safetensors is digits.safetensors: saving Digits would
    overwrite digits unasked, even with overwrite (which names Digits, not digits). Told
    apart by name here, where the file system tells them apart."""
    c8.app.state.web.page_net = Network([64, 8, 10], seed=1)
    assert c8.post("/api/models/save", json={"name": "digits"}).status_code == 200
    before = (c8.save_dir / "digits.safetensors").read_bytes()
    for overwrite in (False, True):
        r = c8.post("/api/models/save", json={"name": "Digits", "overwrite": overwrite})
        assert r.status_code == 409, r.text
        message = r.json()["error"]
        assert "Digits is digits in other letter case" in message
        assert "\n" not in message and str(c8.save_dir) not in message
    assert sorted(p.name for p in c8.save_dir.iterdir()) == ["digits.safetensors"]
    assert (c8.save_dir / "digits.safetensors").read_bytes() == before
    r = c8.post("/api/models/save", json={"name": "digits", "overwrite": True})
    assert r.status_code == 200                          # its own name: saved over as asked


def test_a_save_that_fails_says_why_without_the_servers_paths(c8):
    import shutil

    c8.app.state.web.page_net = Network([64, 8, 10], seed=1)
    shutil.rmtree(c8.save_dir)                        # the folder removed while serving
    r = c8.post("/api/models/save", json={"name": "gone"})
    assert r.status_code == 422 and "gone.safetensors" in r.json()["error"]
    assert "the save folder does not exist" in r.json()["error"]
    assert str(c8.save_dir) not in r.json()["error"]


def test_a_model_changed_by_hand_is_saved_without_the_runs_test_figures(c8, tmp_path):
    """After hand steps the run's test accuracy is no longer the weights': the saved file
    does not claim it. A link in the save folder to a file outside is not listed (nor
    loaded: saved_path refuses it)."""
    c8.post("/api/train/start", json={"hidden": [8], "epochs": 1, "seed": 2})
    wait_until_idle(c8)
    assert c8.post("/api/models/save", json={"name": "as-trained"}).status_code == 200
    assert load(c8.save_dir / "as-trained.safetensors").metadata["test_accuracy"] is not None
    assert c8.post("/api/models/select", json={"source": "page"}).status_code == 200
    body = {"example": {"split": "train", "index": 3}, "learning_rate": 10.0}
    assert c8.post("/api/nudges/step", json=body).status_code == 200
    assert c8.post("/api/models/save", json={"name": "by-hand"}).status_code == 200
    metadata = load(c8.save_dir / "by-hand.safetensors").metadata
    assert metadata.get("test_accuracy") is None and metadata["epochs_trained"] == 1
    outside = tmp_path / "outside.safetensors"
    outside.write_bytes((c8.save_dir / "by-hand.safetensors").read_bytes())
    (c8.save_dir / "link.safetensors").symlink_to(outside)
    assert c8.get("/api/models").json()["saved"] == ["as-trained", "by-hand"]


def test_a_content_length_of_other_digits_is_a_400(c8):
    for value in (b"\xb2", b"\xb9", b"1e3"):      # latin-1 ² and ¹: str.isdigit says yes
        r = c8.post("/api/predict", content=b"{}", headers={
            "content-type": "application/json", "content-length": value})
        assert r.status_code == 400, value
    for value in (b"9" * 5000, b"0" * 5000 + b"2"):  # more digits than int() reads: no 500
        r = c8.post("/api/train/reset", content=b"{}", headers={
            "content-type": "application/json", "content-length": value})
        assert r.status_code == (413 if value[0] == ord("9") else 200), r.text


def test_saving_is_off_without_a_save_folder(c28):
    r = c28.post("/api/models/save", json={"name": "x"})
    assert r.status_code == 409 and "--save-dir" in r.json()["error"]
    assert c28.post("/api/models/load", json={"name": "x"}).status_code == 409
    assert c28.post("/api/models/select", json={"source": "page"}).status_code == 409


# ----------------------------------------------------------------------------- the command
def test_serve_binds_loopback_unless_allowed(capsys):
    from nudge.cli import main
    from nudge.cli.serve import check_host
    from nudge.errors import NudgeError

    assert check_host("127.0.0.1", False) is True
    with pytest.raises(NudgeError, match="--allow-remote"):
        check_host("0.0.0.0", False)
    assert check_host("0.0.0.0", True) is False
    assert main(["serve", "--host", "0.0.0.0"]) == 1
    assert "--allow-remote" in capsys.readouterr().err
    assert main(["serve", "--save-dir", "/nonexistent/folder"]) == 1
    assert "--save-dir /nonexistent/folder: no such folder" in capsys.readouterr().err
    afile = Path(__file__)
    assert main(["serve", "--save-dir", str(afile)]) == 1
    assert f"--save-dir {afile}: a file, not a folder" in capsys.readouterr().err
    assert main(["serve", "--port", "70000"]) == 1


def test_serve_refuses_a_model_that_cannot_read_the_dataset_asked_for(tmp_path, capsys):
    from nudge.cli import main

    path = save(Network([784, 10, 10], seed=1), tmp_path / "m784.safetensors")
    assert main(["serve", "--dataset", "digits", "--model", str(path), "--port", "1"]) == 1
    err = capsys.readouterr().err
    assert "reads 784 inputs but the digits images have 64" in err and err.count("\n") == 1


def test_serve_shows_the_dataset_the_model_names(model8, tmp_path, capsys):
    """Without --dataset the page takes the model's dataset, as `nudge evaluate` does (it
    took MNIST: a digits model met 784-pixel images, a fashion-mnist one MNIST's digits)."""
    import json as json_

    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    from nudge.cli import main
    from nudge.cli.serve import page_dataset
    from nudge.errors import NudgeError

    assert page_dataset("auto", str(model8)) == "digits"
    assert page_dataset("mnist", str(model8)) == "mnist"            # asked for: as asked
    assert page_dataset("auto", None) == "auto"
    unnamed = save(Network([64, 10], seed=1), tmp_path / "unnamed.safetensors")
    assert page_dataset("auto", str(unnamed)) == "auto"
    with safe_open(str(model8), "np") as f:
        metadata = dict(f.metadata())
    nudge_md = json_.loads(metadata["nudge"])
    metadata["nudge"] = json_.dumps({**nudge_md, "dataset": "cifar"})
    cifar = tmp_path / "cifar.safetensors"
    save_file(load_file(str(model8)), str(cifar), metadata=metadata)
    with pytest.raises(NudgeError, match="names the dataset 'cifar'"):
        page_dataset("auto", str(cifar))
    capsys.readouterr()
    assert main(["serve", "--model", str(cifar), "--port", "1"]) == 1
    err = capsys.readouterr().err
    assert "names the dataset 'cifar', which nudge does not have" in err and err.count("\n") == 1


def test_serve_on_a_port_in_use_says_so_before_anything_else(capsys):
    import socket

    from nudge.cli import main

    capsys.readouterr()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port), "--dataset", "digits"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert f"--port {port}: another program already listens there" in err
    assert main(["serve", "--data-dir", "/nonexistent/folder"]) == 1
    assert "no such folder" in capsys.readouterr().err
    assert main(["serve", "--dataset", "fashion-mnist", "--data-dir", "/tmp"]) == 1
    assert "fashion-mnist" in capsys.readouterr().err.lower()


# ----------------------------------------------------------------------------- honest state
def test_hand_steps_are_measured_marked_and_undone(c8, model8, digits):
    net = load(model8)
    acc0 = float(np.mean(net.predict(digits.X_test[:1000]) == digits.y_test[:1000]))
    body = {"example": {"split": "train", "index": 3}, "target": 8, "learning_rate": 20.0}
    first = c8.post("/api/nudges/step", json=body).json()
    m = first["model"]["modified"]
    assert m["steps"] == 1 and m["accuracy_before"] == pytest.approx(acc0)
    assert m["examples"] == 1000 and m["can_undo"]
    for _ in range(2):
        r = c8.post("/api/nudges/step", json=body).json()
    m = r["model"]["modified"]
    assert m["steps"] == 3 and m["accuracy_now"] != m["accuracy_before"]
    assert c8.get("/api/state").json()["model"]["modified"]["steps"] == 3
    r = c8.post("/api/nudges/undo", json={})
    assert r.status_code == 200 and r.json()["model"]["modified"]["steps"] == 2
    r = c8.post("/api/nudges/undo", json={"all": True})
    assert r.status_code == 200 and r.json()["model"]["modified"] is None
    back = c8.post("/api/nudges", json={"example": {"split": "train", "index": 3}}).json()
    assert back["cost"] == pytest.approx(float(net.cost(digits.X_train[3:4],
                                                        digits.y_train[3:4])), rel=1e-5)
    assert c8.post("/api/nudges/undo", json={}).status_code == 409
    assert c8.post("/api/nudges/undo", json={"all": "yes"}).status_code == 400
    # one step and undo leaves it as it was, and unmarked
    c8.post("/api/nudges/step", json=body)
    r = c8.post("/api/nudges/undo", json={})
    assert r.json()["model"]["modified"] is None


def test_the_model_is_described_while_an_undo_ends_its_hand_steps(c8, monkeypatch):
    """An undo runs in a worker thread while the event loop describes the model (the
    stream, /api/state): ended between the two looks at the hand edits, the description
    raised AttributeError (a 500, or a live stream cut off)."""
    from nudge.web.state import WebState

    body = {"example": {"split": "train", "index": 3}, "learning_rate": 1.0}
    assert c8.post("/api/nudges/step", json=body).status_code == 200
    state, real, undoing = c8.app.state.web, WebState.edits, []

    def undone_right_after_the_look(self):
        edits = real.fget(self)
        if edits is not None and not undoing:
            undoing.append(True)
            self.undo(everything=True)          # the worker thread, at that moment
        return edits

    monkeypatch.setattr(WebState, "edits", property(undone_right_after_the_look))
    info = state.model_info()
    # the hand step, under the version before the undo: readers see the version move on
    assert info["modified"]["steps"] == 1 and info["version"] == state.version - 1
    monkeypatch.undo()
    assert state.model_info()["modified"] is None


def _trainers() -> list:
    import threading

    return [t for t in threading.enumerate() if t.name == "nudge-training" and t.is_alive()]


def test_a_reset_racing_starts_leaves_no_run_nobody_can_stop(c8):
    from concurrent.futures import ThreadPoolExecutor

    slow = {"epochs": 50, "seed": 1, "schedule": "constant", "examples_per_second": 500}
    state = c8.app.state.web
    with ThreadPoolExecutor(8) as pool:
        for _ in range(5):
            assert c8.post("/api/train/start", json=slow).status_code == 200
            calls = [pool.submit(c8.post, "/api/train/reset", json={})]
            for _ in range(40):                  # starts 2 ms apart, through the reset
                calls.append(pool.submit(c8.post, "/api/train/start", json=slow))
                time.sleep(0.002)
            assert sorted({f.result().status_code for f in calls}) in ([200], [200, 409])
            end = time.monotonic() + 30         # the runs replaced have ended...
            while len(_trainers()) > 1 and time.monotonic() < end:
                time.sleep(0.05)
            alive = _trainers()                  # ...and the one left is the page's
            assert len(alive) <= 1
            assert not alive or (state.job is not None and state.job.active)
            c8.post("/api/train/reset", json={})
    assert _trainers() == [] and state.job is None


def test_a_hand_step_never_changes_a_network_in_training(c8):
    from concurrent.futures import ThreadPoolExecutor

    body = {"example": {"split": "train", "index": 3}, "target": 8, "learning_rate": 50.0}
    slow = {"epochs": 50, "seed": 1, "schedule": "constant", "examples_per_second": 500}
    state = c8.app.state.web
    with ThreadPoolExecutor(8) as pool:
        for _ in range(5):
            calls = [pool.submit(c8.post, "/api/nudges/step", json=body) for _ in range(4)]
            calls.insert(2, pool.submit(c8.post, "/api/train/start", json=slow))
            assert {f.result().status_code for f in calls} <= {200, 409}
            with state.lock:
                assert state.source == "page" and state.edits is None   # no step on it
            c8.post("/api/train/reset", json={})
            c8.post("/api/nudges/undo", json={"all": True})


def test_a_network_whose_cost_is_infinite_gets_nulls_not_a_500(tmp_path):
    net = Network([64, 16, 10], activation="relu", cost="cross-entropy", seed=1)
    net.weights[0] *= 1e30                       # what a learning rate of 100 leaves behind
    net.weights[1] *= 1e10
    path = tmp_path / "blown.safetensors"
    save(net, path, dataset="digits")
    body = {"example": {"split": "train", "index": 0}}
    with TestClient(create_app(path, dataset="digits"), base_url=BASE) as c, \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        r = c.post("/api/nudges", json=body)
        assert r.status_code == 200 and r.json()["cost"] is None
        r = c.post("/api/nudges/step", json={**body, "target": 0, "learning_rate": 100})
        # the trainer refuses a step to NaN or infinite weights, and leaves the model as it was
        assert r.status_code == 422 and "try a smaller learning rate" in r.json()["error"]
        assert c.get("/api/state").json()["model"].get("modified") is None
        assert c.post("/api/nudges", json=body).json()["cost"] is None    # still served


def test_mistakes_and_the_confusion_matrix(c8, model8, digits):
    net = load(model8)
    pred = net.predict(digits.X_test)
    r = c8.get("/api/mistakes?limit=10")
    assert r.status_code == 200
    p = r.json()
    conf = np.array(p["confusion"])
    assert conf.sum() == len(digits.X_test) and np.trace(conf) == int(np.sum(pred == digits.y_test))
    assert p["wrong"] == int(np.sum(pred != digits.y_test)) and len(p["mistakes"]) == 10
    outs = [m["output"] for m in p["mistakes"]]
    assert outs == sorted(outs, reverse=True)
    for m in p["mistakes"]:
        assert m["label"] == digits.y_test[m["index"]] != m["predicted"] == pred[m["index"]]
    imgs = np.frombuffer(base64.b64decode(p["images"]["b64"]), dtype=np.uint8)
    assert p["images"]["shape"] == [10, 8, 8]
    assert np.array_equal(imgs.reshape(10, 64), digits.X_test[[m["index"] for m in p["mistakes"]]])
    label, predicted = np.unravel_index(np.argmax(conf - np.diag(np.diag(conf))), conf.shape)
    r = c8.get(f"/api/mistakes?label={label}&predicted={predicted}").json()
    assert r["wrong"] == conf[label, predicted]
    assert all(m["label"] == label and m["predicted"] == predicted for m in r["mistakes"])
    for bad in ("label=10", "predicted=-1", "limit=0", "limit=100000", "label=x"):
        assert c8.get(f"/api/mistakes?{bad}").status_code == 400, bad


def test_the_command_line_model_stays_after_loading_another(c8, model8):
    c8.post("/api/train/start", json={"hidden": [8], "epochs": 1, "seed": 2})
    wait_until_idle(c8)
    assert c8.post("/api/models/save", json={"name": "mine"}).status_code == 200
    (c8.save_dir / "broken.safetensors").write_bytes(b"not a model at all")
    r = c8.post("/api/models/load", json={"name": "mine"})
    assert r.status_code == 200 and r.json()["model"]["source"] == "saved"
    s = c8.get("/api/state").json()
    assert s["models"]["file"]["label"] == model8.name
    assert s["models"]["saved"]["sizes"] == [64, 8, 10]
    details = {d["name"]: d for d in s["saved_details"]}
    assert details["mine"]["sizes"] == [64, 8, 10] and details["mine"]["test_accuracy"] > 0.2
    assert "error" in details["broken"]
    r = c8.post("/api/models/load", json={"name": "broken"})
    assert r.status_code == 422 and "broken.safetensors" in r.json()["error"]
    r = c8.post("/api/models/select", json={"source": "file"})
    assert r.status_code == 200 and r.json()["model"]["label"] == model8.name
    r = c8.post("/api/models/select", json={"source": "saved"})
    assert r.status_code == 200 and r.json()["model"]["label"] == "mine.safetensors"
    assert c8.get("/api/models").json()["models"]["page"]["sizes"] == [64, 8, 10]


def test_the_stream_says_when_the_model_in_use_changes_while_idle(model8, monkeypatch):
    """Another tab loads a model or takes a hand step while nothing trains: every open page
    hears of it on its stream (and reloads), not only the tab that asked."""
    import asyncio

    from nudge.web.routes import broadcast
    from nudge.web.routes.training import Broadcast
    from nudge.web.state import WebState

    # the next event is the update, not the idle stream's ping: pings far apart, so that a
    # busy machine's update gets more than the 2 s it had (pings came every 5 s)
    monkeypatch.setattr(broadcast, "PING_INTERVAL", 120.0)
    state = WebState(model8, dataset="digits")

    async def scenario():
        events = Broadcast(state, 0.01, "server").events()
        assert (await anext(events)).startswith(b"retry")
        first = json.loads((await anext(events))[len("data: "):])
        state.use("file")                         # what a load, a select or a step does
        second = await asyncio.wait_for(anext(events), 60)  # not a ping
        await events.aclose()
        return first, json.loads(second[len("data: "):])

    first, second = asyncio.run(scenario())
    assert first["training"] is None and second["training"] is None
    assert second["model"]["version"] == first["model"]["version"] + 1


def test_the_stream_names_the_server_run_and_pings_when_idle(model8):
    app = create_app(model8, dataset="digits", stream_interval=0.01)
    with TestClient(app, base_url=BASE) as c:
        server = c.get("/api/state").json()["server"]
        import nudge.web.routes.broadcast as tr

        old, tr.PING_INTERVAL = tr.PING_INTERVAL, 0.05
        try:
            with c.stream("GET", "/api/train/stream") as r:
                lines = []
                for line in r.iter_lines():
                    lines.append(line)
                    if line.startswith("event: ping"):
                        break
        finally:
            tr.PING_INTERVAL = old
    assert lines[0] == "retry: 1000"
    first = json.loads(next(ln for ln in lines if ln.startswith("data:"))[5:])
    assert first["server"] == server and first["training"] is None
    assert create_app(model8, dataset="digits").state.server_id != server
