"""The web's full-batch GD against SGD (/api/descent): the numbers of
``nudge.insight.descent`` for the same settings, and every field checked, the work bounded.

Runs offline, on the embedded 8x8 digits (Starlette's TestClient; no model needed: each
request trains a new network)."""

import warnings

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

from test_web_api import BASE  # noqa: E402

with warnings.catch_warnings():        # newer Starlette suggests httpx2; httpx works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: E402

import nudge.insight as ins  # noqa: E402
from nudge.network import Network  # noqa: E402
from nudge.web import create_app  # noqa: E402
from nudge.web.routes.descent import MAX_EXAMPLES  # noqa: E402


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(None, dataset="digits"), base_url=BASE) as c:
        yield c


def test_the_reply_is_descent_s_numbers(client, digits):
    body = {"hidden": [12], "train_examples": 600, "epochs": 20, "batch_sizes": [None, 50, 10],
            "learning_rates": [4, 3, 2.5], "seed": 3}
    r = client.post("/api/descent", json=body)
    assert r.status_code == 200, r.text
    got = r.json()
    want = ins.descent(Network([64, 12, 10], seed=3), digits.X_train[:600],
                       digits.y_train[:600], [None, 50, 10], 20, [4, 3, 2.5], 3)
    assert got["dataset"] == "digits" and got["sizes"] == [64, 12, 10]
    assert (got["seed"], got["epochs"], got["n_train"], got["n_monitor"]) == (3, 20, 600, 600)
    for g, w in zip(got["runs"], want.runs, strict=True):
        assert (g["label"], g["batch_size"], g["learning_rate"]) == (
            w.label, w.batch_size, w.learning_rate)
        assert g["steps"] == w.steps and g["examples"] == w.examples
        assert g["costs"] == w.costs                       # the same numbers, exactly
        assert g["final_train_cost"] == w.final_train_cost
        assert g["final_accuracy"] == w.final_accuracy
        assert len(g["seconds"]) == len(w.seconds)
        np.testing.assert_allclose(g["path"], w.projected, rtol=1e-9, atol=1e-12)
    assert got["target_cost"] == want.target_cost
    assert got["explained"] == pytest.approx(want.explained, rel=1e-9)
    np.testing.assert_allclose(got["plane"]["u"], want.plane_u, rtol=1e-9)
    np.testing.assert_allclose(got["plane"]["v"], want.plane_v, rtol=1e-9)
    np.testing.assert_allclose(got["plane"]["costs"], want.plane_costs, rtol=1e-6)
    assert [x["examples"] for x in got["reached"]] == [x.examples for x in want.reached]
    assert got["summary"].startswith(f"full-batch GD reached cost {want.target_cost:.4f}")
    assert got["ms"] > 0


def test_the_summary_writes_eta_as_the_page_does(client):
    """Two runs of one batch size are named with their η: the page's summary said "at eta
    2" (the command line's words) beside a legend and table that write η."""
    r = client.post("/api/descent", json={"hidden": [12], "train_examples": 300, "epochs": 5,
                                          "batch_sizes": [10, 10], "learning_rates": [2, 1]})
    assert r.status_code == 200, r.text
    summary = r.json()["summary"]
    assert "SGD, B=10 at η = 2" in summary and "eta" not in summary, summary


def test_the_defaults_are_nudge_descent_s(client, digits):
    """full,100,10 at η 4, 3, 3; 100 epochs; 16,16; seed 0; the first 5,000 images (all
    1,497 of the digits)."""
    r = client.post("/api/descent", json={})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["sizes"] == [64, 16, 16, 10] and got["seed"] == 0 and got["epochs"] == 100
    assert got["n_train"] == len(digits.X_train)
    assert [(x["batch_size"], x["learning_rate"]) for x in got["runs"]] == [
        (None, 4.0), (100, 3.0), (10, 3.0)]
    assert len(got["plane"]["costs"]) == 21 and len(got["plane"]["costs"][0]) == 21
    one = client.post("/api/descent", json={"batch_sizes": [None, 10], "learning_rates": [2]})
    assert [x["learning_rate"] for x in one.json()["runs"]] == [2.0, 2.0]    # one for all


BAD = [
    ({"nonsense": 1}, "unknown field: nonsense"),
    ({"hidden": "16,16"}, "hidden must be a list of 0 to 4 layer sizes"),
    ({"hidden": [16, 16, 16, 16, 16]}, "hidden must be a list of 0 to 4 layer sizes"),
    ({"hidden": [64]}, "hidden layer size must be from 1 to 32"),
    ({"hidden": [0]}, "hidden layer size must be from 1 to 32"),
    ({"hidden": [1.5]}, "hidden layer size must be a whole number from 1 to 32, got 1.5"),
    ({"epochs": 0}, "epochs must be from 1 to 1000"),
    ({"epochs": "100"}, "epochs must be a whole number from 1 to 1000, got '100'"),
    ({"train_examples": 5}, "train_examples must be from 10 to 60000"),
    ({"batch_sizes": []}, "batch_sizes must be a list of 1 to 4 batch sizes"),
    ({"batch_sizes": [None, 1, 2, 3, 4]}, "batch_sizes must be a list of 1 to 4 batch sizes"),
    ({"batch_sizes": "full"}, "batch_sizes must be a list of 1 to 4 batch sizes"),
    ({"batch_sizes": [0]}, "batch size must be from 1 to 10000"),
    ({"batch_sizes": ["fast"]}, "batch size must be a whole number from 1 to 10000, got "
                                "'fast'"),
    ({"batch_sizes": [True]}, "batch size must be a whole number from 1 to 10000, got True"),
    ({"train_examples": 100, "batch_sizes": [200]},
     "batch size 200 is more than the 100 training images"),
    ({"learning_rates": [1, 2]}, "learning_rates must be a list of one learning rate, or one "
                                 "per batch size (3)"),
    ({"learning_rates": 3}, "learning_rates must be a list"),
    ({"learning_rates": [0]}, "learning rate must be a number from 1e-06 to 100"),
    ({"learning_rates": ["x"]}, "learning rate must be a number"),
    ({"seed": -1}, "seed must be from 0"),
    ({"seed": 2**40}, "seed must be from 0"),
]


@pytest.mark.parametrize("body, message", BAD)
def test_bad_fields_are_refused_in_one_line(client, body, message):
    r = client.post("/api/descent", json=body)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert message in error and "\n" not in error


def test_too_much_work_is_refused_before_any(client):
    """4 runs x 1000 epochs x 1,497 images: 5,988,000 examples, over the bound, which the
    message states, with what to change."""
    r = client.post("/api/descent", json={"epochs": 1000, "batch_sizes": [None, 100, 10, 1]})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error.startswith("4 runs x 1000 epochs x 1,497 images = 5,988,000 examples")
    assert f"at most {MAX_EXAMPLES:,}" in error and "fewer epochs" in error
    assert "\n" not in error
    # the bound itself: 2 runs x 668 epochs are taken, 669 are not
    assert 2 * 668 * 1497 <= MAX_EXAMPLES < 2 * 669 * 1497
    r = client.post("/api/descent", json={"epochs": 669, "batch_sizes": [None, None],
                                          "learning_rates": [4, 1]})
    assert r.status_code == 400 and "= 2,002,986 examples" in r.json()["error"]
    r = client.post("/api/descent", json={"epochs": 668, "batch_sizes": [None, None],
                                          "learning_rates": [4, 1], "hidden": [4]})
    assert r.status_code == 200, r.text
    r = client.post("/api/descent", json={"epochs": 1, "batch_sizes": [None, None]})
    assert r.status_code == 400                   # one run twice: the same numbers again
    assert r.json()["error"].startswith("batch size full with learning rate 4 is given twice")


def test_not_json_and_get_are_refused(client):
    r = client.post("/api/descent", content=b"epochs=1",
                    headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415
    assert client.get("/api/descent").status_code == 405


def test_full_is_the_full_batch_as_on_the_command_line(client):
    """JSON's null is the full batch; "full", the command line's word, was refused as not a
    whole number (with no hint of null)."""
    body = {"hidden": [8], "train_examples": 100, "epochs": 2, "batch_sizes": ["full", 10]}
    r = client.post("/api/descent", json=body)
    assert r.status_code == 200, r.text
    assert [run["batch_size"] for run in r.json()["runs"]] == [None, 10]
