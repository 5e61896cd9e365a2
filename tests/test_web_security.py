"""The web server's guards for other computers and for load: allowed hosts, the token,
bounded concurrent work (429/503), work off the event loop, no 500 that sticks."""

import asyncio
import threading
import warnings

import pytest

pytest.importorskip("starlette")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from nudge.errors import NudgeError
from nudge.network import Network
from nudge.web import create_app, limits
from nudge.web.limits import Busy, Limits

BASE = "http://127.0.0.1"


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    from nudge.modelfile import save

    path = tmp_path_factory.mktemp("sec") / "m.safetensors"
    save(Network([64, 8, 10], seed=1), path, dataset="digits")
    return path


def test_other_computers_need_the_token_then_a_cookie(model):
    # Starlette's TestClient is not on this computer (its client address is "testclient")
    app = create_app(model, dataset="digits", token="s3cret",
                     allowed_hosts=["127.0.0.1", "mybox.local"])
    with TestClient(app, base_url="http://mybox.local") as c:
        r = c.get("/api/state")
        assert r.status_code == 401 and "token" in r.json()["error"]
        assert c.get("/?token=wrong").status_code == 401
        r = c.get("/?token=s3cret")
        assert r.status_code == 200 and "HttpOnly" in r.headers["set-cookie"]
        assert "SameSite=Strict" in r.headers["set-cookie"]
        assert c.get("/api/state").status_code == 200            # the cookie now
        c.cookies.clear()
        assert c.get("/api/state").status_code == 401
    with TestClient(app, base_url="http://evil.example") as c:
        assert c.get("/?token=s3cret").status_code == 400        # not an allowed host


def test_the_local_computer_needs_no_token(model):
    app = create_app(model, dataset="digits", token="s3cret")
    with TestClient(app, base_url=BASE, client=("127.0.0.1", 5000)) as c:
        assert c.get("/api/state").status_code == 200


def test_serve_allowed_hosts_and_the_token(capsys):
    from nudge.cli import main
    from nudge.cli.serve import allowed_hosts

    assert allowed_hosts("192.168.1.5", []) == ["127.0.0.1", "localhost", "::1", "[::1]",
                                                "192.168.1.5"]
    assert "mybox.local" in allowed_hosts("0.0.0.0", ["MyBox.local"])
    assert "[fe80::1]" in allowed_hosts("::", ["fe80::1"])
    for bad in ("*", "a/b", ""):
        with pytest.raises(NudgeError):
            allowed_hosts("0.0.0.0", [bad])
    with pytest.raises(NudgeError, match="--allowed-host"):
        allowed_hosts("0.0.0.0", [])                 # every address: name them
    assert main(["serve", "--allowed-host", "mybox"]) == 1
    assert "--allow-remote" in capsys.readouterr().err
    assert main(["serve", "--host", "0.0.0.0", "--allow-remote"]) == 1
    assert "--allowed-host" in capsys.readouterr().err


def test_heavy_work_is_bounded_with_429_and_503(monkeypatch):
    async def scenario():
        lim = Limits(heavy=1)
        release = threading.Event()
        first = asyncio.create_task(lim.run("heavy", release.wait, 10))
        await asyncio.sleep(0.1)
        monkeypatch.setattr(limits, "MAX_WAITING", 0)
        with pytest.raises(Busy) as e:
            await lim.run("heavy", lambda: 1)
        assert e.value.status == 429 and e.value.retry_after
        monkeypatch.setattr(limits, "MAX_WAITING", 4)
        monkeypatch.setattr(limits, "WAIT_SECONDS", 0.1)
        with pytest.raises(Busy) as e:
            await lim.run("heavy", lambda: 1)
        assert e.value.status == 503
        assert await lim.run("light", lambda: 2) == 2            # light work goes on
        release.set()
        assert await first is True
        assert await lim.run("heavy", lambda: 3) == 3            # the slot is free again
        return True

    assert asyncio.run(scenario())


def test_busy_answers_say_when_to_retry(model, monkeypatch):
    app = create_app(model, dataset="digits")

    async def busy(kind, fn, *args):
        raise Busy(503, "the server is busy: try again in a few seconds", 5)

    monkeypatch.setattr(app.state.limits, "run", busy)
    with TestClient(app, base_url=BASE) as c:
        r = c.get("/api/sensitivity?examples=10")
        assert r.status_code == 503 and r.headers["retry-after"] == "5"


def test_predictions_run_off_the_event_loop(model, monkeypatch):
    from nudge.web.routes import explain as routes

    seen = []
    original = routes._predict

    def recording(*args):
        try:
            asyncio.get_running_loop()
            seen.append("event loop")
        except RuntimeError:
            seen.append("worker thread")
        return original(*args)

    monkeypatch.setattr(routes, "_predict", recording)
    with TestClient(create_app(model, dataset="digits"), base_url=BASE) as c:
        r = c.post("/api/predict", json={"image": "data:image/png;base64,"})
        assert r.status_code == 400 and seen == ["worker thread"]


def test_odd_metadata_and_bugs_do_not_break_later_requests(model, monkeypatch):
    app = create_app(model, dataset="digits")
    app.state.web.net.metadata = {"test_accuracy": "high", "dataset": 5,
                                  "epochs_trained": [1]}
    with TestClient(app, base_url=BASE) as c:
        r = c.get("/api/state")
        assert r.status_code == 200 and r.json()["model"]["test_accuracy"] is None
        from nudge.web import explain

        monkeypatch.setattr(explain, "neuron_payload", lambda *a: 1 / 0)
        r = c.get("/api/neuron?layer=1&index=0")
        assert r.status_code == 500 and "internal error" in r.json()["error"]
        assert c.get("/api/state").status_code == 200
