"""The web server's guards for other computers and for load: allowed hosts, the token,
bounded concurrent work (429/503), work off the event loop, no 500 that sticks."""

import asyncio
import contextlib
import json
import re
import socket
import threading
import time
import warnings

import pytest

pytest.importorskip("starlette")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from nudge.errors import NudgeError
from nudge.network import Network
from nudge.web import connections, create_app, limits
from nudge.web.connections import server_config
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
        for odd in ("%C3%A9", "s3cret%C3%A9", "%FF%FE"):       # any characters: 401, not 500
            assert c.get(f"/api/state?token={odd}").status_code == 401
    with TestClient(app, base_url="http://evil.example") as c:
        r = c.get("/?token=s3cret")
        assert r.status_code == 400                              # not an allowed host
        assert "default-src" in r.headers["content-security-policy"]


def test_a_host_name_not_allowed_is_told_in_one_line_of_json(model):
    """A Host header the server does not answer to (DNS rebinding, or a name the page is
    reached by that nudge serve was not given): a JSON error that says what to do, like
    every other refusal, not a plain-text 'Invalid host header'."""
    app = create_app(model, dataset="digits", allowed_hosts=["127.0.0.1", "mybox.local",
                                                             "[fe80::1]"])
    with TestClient(app, base_url=BASE) as c:
        for host in ("evil.example", "mybox.local.evil.example", "", "mybox.local:x",
                     "127.0.0.1@evil.example", "[::1]"):
            r = c.get("/api/state", headers={"host": host})
            assert r.status_code == 400, host
            assert "--allowed-host" in r.json()["error"] and "\n" not in r.json()["error"]
        for host in ("127.0.0.1", "127.0.0.1:8000", "MyBox.Local:80", "[fe80::1]:8000"):
            assert c.get("/api/state", headers={"host": host}).status_code == 200, host


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
    # as in the address bar, with the port: the Host header's port is never compared
    assert allowed_hosts("0.0.0.0", ["MyBox.local:8000", "[fe80::1]:8000"])[-2:] == [
        "mybox.local", "[fe80::1]"]
    for bad in ("*", "*.com", "a/b", ""):
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


def test_a_slot_waited_for_too_long_is_a_503_on_python_3_10_too(monkeypatch):
    """asyncio.wait_for raises asyncio.TimeoutError, which is not the built-in TimeoutError
    before Python 3.11 (nudge runs on 3.10): the wait is a 503 there too, not a 500."""
    import types

    class OldTimeoutError(Exception):              # asyncio.TimeoutError on Python 3.10
        pass

    async def wait_for(waited, timeout):
        waited.close()
        raise OldTimeoutError

    monkeypatch.setattr(limits, "asyncio", types.SimpleNamespace(
        Semaphore=asyncio.Semaphore, wait_for=wait_for, TimeoutError=OldTimeoutError,
        get_running_loop=asyncio.get_running_loop))

    async def scenario():
        with pytest.raises(Busy) as e:
            await Limits().run("heavy", lambda: 1)
        return e.value.status

    assert asyncio.run(scenario()) == 503


def test_the_slots_work_in_every_event_loop_that_uses_them():
    """An app outlives its event loop (Starlette's TestClient without ``with`` runs each
    request in a new one): slots that a request waited for in one loop still work in the
    next, not "bound to a different event loop"."""
    lim = Limits(heavy=1)

    async def two_at_once():
        release = threading.Event()
        first = asyncio.create_task(lim.run("heavy", release.wait, 10))
        await asyncio.sleep(0.05)
        second = asyncio.create_task(lim.run("heavy", lambda: 2))     # waits for the slot
        await asyncio.sleep(0.05)
        release.set()
        return [await first, await second]

    for _ in range(3):
        assert asyncio.run(two_at_once()) == [True, 2]


def test_busy_answers_say_when_to_retry(model, monkeypatch):
    app = create_app(model, dataset="digits")

    async def busy(kind, fn, *args):
        raise Busy(503, "the server is busy: try again in a few seconds", 5)

    monkeypatch.setattr(app.state.limits, "run", busy)
    with TestClient(app, base_url=BASE) as c:
        r = c.get("/api/sensitivity?examples=10")
        assert r.status_code == 503 and r.headers["retry-after"] == "5"


def test_live_streams_are_bounded_and_counted_back(model, monkeypatch):
    from nudge.web.routes import training

    app = create_app(model, dataset="digits", stream_interval=0.01)
    with TestClient(app, base_url=BASE) as c:
        r = c.get("/api/train/stream?max_events=1")     # a stream that ends by itself
        assert r.status_code == 200 and "data:" in r.text
        assert app.state.streams == 0                   # counted back when it ended
        monkeypatch.setattr(training, "MAX_STREAMS", 0)
        r = c.get("/api/train/stream?max_events=1")
        assert r.status_code == 429 and "close a tab" in r.json()["error"]
        assert r.headers["retry-after"] == "5"
        r = c.head("/api/train/stream")      # how the page learns why it was refused
        assert r.status_code == 429 and r.headers["retry-after"] == "5"


def test_streams_asked_for_at_once_are_counted_at_once(model, monkeypatch):
    """The count is taken when a stream is granted, not when it first runs: many asked for
    in one moment (before any has begun) do not all pass the check."""
    from starlette.requests import Request

    from nudge.web.routes import training

    monkeypatch.setattr(training, "MAX_STREAMS", 2)
    app = create_app(model, dataset="digits")
    scope = {"type": "http", "app": app, "method": "GET", "path": "/api/train/stream",
             "query_string": b"", "headers": []}

    async def ask(n):
        granted = []
        for _ in range(n):
            try:
                granted.append(await training.train_stream(Request(scope)))
            except Busy as e:
                assert e.status == 429
        return granted

    assert len(asyncio.run(ask(5))) == 2 and app.state.streams == 2


def test_each_update_is_made_once_for_all_open_streams(model, monkeypatch):
    """A class watching one run: every open stream cost the server an update of its own
    (the run's summary, the weight pictures, the JSON: about 1 ms each, with the GIL the
    training thread needs), so 16 streams took 16 times the work of one.  Now an update
    is made once and its bytes go to every stream: with 6 streams reading a running run,
    the updates made are about the updates one stream receives, not six times as many."""
    import httpx

    from nudge.web.routes import broadcast

    made = []
    update = broadcast._summary
    monkeypatch.setattr(broadcast, "_summary", lambda *a: made.append(1) or update(*a))
    app = create_app(model, dataset="digits", stream_interval=0.02)
    with serving_a_run(app, hidden=[16], epochs=100, batch_size=1,
                       examples_per_second=2000) as base:
        # paused while the streams open: the updates made while the first ones already
        # read and the last were still connecting (seconds on a busy machine, 117 updates
        # made at 0.7 s a connection) are not counted against the broadcast
        assert httpx.post(base + "/api/train/pause", json={}).status_code == 200
        with contextlib.ExitStack() as streams:
            readers = [streams.enter_context(httpx.stream(
                "GET", base + "/api/train/stream?max_events=30", timeout=20))
                for _ in range(6)]
            lines = [r.iter_lines() for r in readers]
            for each in lines:                        # each stream open: its first update
                assert any(line.startswith("data:") for line in each)
            assert httpx.post(base + "/api/train/resume", json={}).status_code == 200
            received = [1 + sum(line.startswith("data:") for line in each) for each in lines]
    assert received == [30] * 6
    # not 6 x 30 = 180, as one update per stream made; about 30 (and one for each stream
    # opening while the run was paused)
    assert len(made) < 6 * 30 / 2, (len(made), received)


def test_a_look_that_fails_does_not_silence_the_streams(model, monkeypatch, caplog):
    """Every stream's updates come from one task: an error in one look at the run ended
    it, and every open page got only pings from then on (alive, never updated).  The
    error is logged and the next look sends every stream the whole run."""
    import httpx

    from nudge.web.routes import broadcast

    looks = []
    update = broadcast._summary

    def fails_once(*a):
        looks.append(1)
        if len(looks) == 5:
            raise RuntimeError("a look gone wrong")
        return update(*a)

    monkeypatch.setattr(broadcast, "_summary", fails_once)
    app = create_app(model, dataset="digits", stream_interval=0.02)
    with serving_a_run(app, hidden=[16], epochs=100, batch_size=1,
                       examples_per_second=2000) as base:
        msgs, end = [], time.monotonic() + 10
        with httpx.stream("GET", base + "/api/train/stream", timeout=20) as stream:
            for line in stream.iter_lines():     # (pings every 5 s: the deadline is read)
                if line.startswith("data:"):
                    msgs.append(json.loads(line[5:]))
                if len(msgs) >= 20 or time.monotonic() > end:
                    break
    assert len(looks) > 5
    assert sum(m["replace"] for m in msgs) >= 2         # the first, and the one after
    assert "a look gone wrong" in caplog.text


def test_a_stream_sends_what_changed_and_the_weights_twice_a_second(model):
    """Each update was about 31 KB on the 3b1b network (the 16 weight pictures, every
    epoch's results, the settings), 18 a second: 40 pages were 22 MB/s, more than a
    classroom's Wi-Fi carries.  The weight pictures now go at most twice a second, the
    epochs' results once each, the settings when they change; a page putting the updates
    together (as learn.js does) has the run's state all the same."""
    import httpx

    from nudge.web.routes import broadcast

    app = create_app(model, dataset="digits", stream_interval=0.02)
    # slow till the stream is open: the 2 s run at 30,000 examples a second, started
    # first, could end before a busy machine opened the stream (one update, 'finished')
    with serving_a_run(app, hidden=[8], epochs=40, batch_size=10,
                       examples_per_second=100) as base:
        updates, t0 = [], time.monotonic()
        with httpx.stream("GET", base + "/api/train/stream", timeout=20) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    updates.append(json.loads(line[5:]))
                    if len(updates) == 1:
                        assert updates[0]["training"]["state"] == "running"
                        assert httpx.post(base + "/api/train/set", json={
                            "examples_per_second": 30000}).status_code == 200
                    if updates[-1]["training"]["state"] != "running":
                        break
        seconds = time.monotonic() - t0
        final = httpx.get(base + "/api/train/state").json()["training"]
    page = None
    for msg in updates:                                # learn.js's merged()
        t = msg["training"]
        if msg["replace"] or page is None:
            page = t
            continue
        page = {**page, **t, **{key: page[key][:start] + t[key]
                                for key, start in msg.get("from", {}).items()}}
    # many deltas to put together (about 100 on a quiet machine; a busy one sends fewer,
    # so the count is not held to a speed: 40 came once, with four test runs beside it)
    assert final["state"] == "finished" and len(updates) > 10, (final["state"], len(updates))
    assert page["epoch_results"] == final["epoch_results"] and len(final["epoch_results"]) == 40
    assert page["settings"] == final["settings"] and page["seen"] == final["seen"]
    deltas = [m for m in updates if not m["replace"]]
    with_weights = sum("weights" in m for m in deltas)
    assert with_weights <= seconds / broadcast.WEIGHTS_INTERVAL + 2, (with_weights, seconds)
    assert "weights" in updates[-1]                    # the last weights, at the end
    assert sum("settings" in m["training"] for m in deltas) == 0
    assert sum(len(m["training"].get("epoch_results", [])) for m in deltas) <= 40


PAGE_FILES = ["/", "/static/style.css", "/static/app.js", "/static/favicon.svg"] + [
    f"/static/{name}.js" for name in ("util", "stream", "learn", "draw", "inside", "nudges",
                                      "mistakes", "sensitivity", "descent", "models")]


def load_page(port: int, connections: int = 6) -> tuple[list, list, object]:
    """What a browser does as it opens the page: its files over ``connections`` connections
    (kept open after, as a browser keeps them for the keep-alive; one the server closed
    meanwhile is opened again and the request sent again, as a browser does), then the live
    stream.  Returns the files' statuses, the connections and the stream's response."""
    import http.client

    conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=10)
             for _ in range(connections)]
    statuses = []
    for i, path in enumerate(PAGE_FILES):
        conn = conns[i % connections]
        for again in (False, True):
            try:
                conn.request("GET", path)
                r = conn.getresponse()
                r.read()
                break
            except (http.client.RemoteDisconnected, ConnectionError):
                conn.close()
                if again:
                    raise
        statuses.append(r.status)
    stream = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    stream.request("GET", "/api/train/stream")
    return statuses, conns + [stream], stream.getresponse()


def held_by_server(server, count: int, also=lambda: True, seconds: float = 20.0) -> None:
    """Wait until the uvicorn ``server`` holds ``count`` connections (and ``also()``)."""
    deadline = time.monotonic() + seconds
    while not (len(server.server_state.connections) == count and also()):
        assert time.monotonic() < deadline, len(server.server_state.connections)
        time.sleep(0.02)


def test_a_class_opening_the_page_at_once_is_served(model):
    """A class opens the page within a few seconds: each page took about 6 connections for
    its files and kept them (uvicorn's keep-alive, 5 s), so from the 22nd page on the
    server held its 128 connections, most of them idle, and answered 503 to the files.
    Near the bound it now closes the idle connections (a browser opens another): 40 pages,
    each holding 6 connections and its live stream, are all served, within the bound; and
    when the connections are all busy, the next request is still a 503."""
    import http.client

    app = create_app(model, dataset="digits", stream_interval=0.05)
    with uvicorn_server(app) as (port, server), contextlib.ExitStack() as held:
        answers, streams = [], []
        for _ in range(40):
            statuses, conns, stream = load_page(port)
            answers += statuses
            streams.append(stream.status)
            for conn in conns:
                held.callback(conn.close)
        assert answers == [200] * len(answers) and streams == [200] * 40, (
            sorted(set(answers)), answers.index(503) // len(PAGE_FILES))
        assert app.state.streams == 40
        held.close()
        # the server lets go of them (a busy request meanwhile would be counted with them,
        # answered 503, then closed, which would leave room for the late one)
        held_by_server(server, 0, lambda: app.state.streams == 0)
        for _ in range(connections.MAX_CONNECTIONS):     # busy: a body that never comes
            conn = held.enter_context(socket.create_connection(("127.0.0.1", port)))
            conn.sendall(b"POST /api/train/set HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 9\r\n\r\n")
        held_by_server(server, connections.MAX_CONNECTIONS)
        late = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        late.request("GET", "/static/app.js")
        answer = late.getresponse()
        assert answer.status == 503 and answer.getheader("retry-after") == "5"  # the bound
        assert "most connections (128)" in json.loads(answer.read())["error"]
        late.close()
        held.close()


def test_a_class_of_40_can_watch_one_run(model):
    """A teacher trains, 40 students watch (nudge serve --allow-remote): at most 16 streams
    were allowed, so the 17th page on was refused its live updates.  Now that an update is
    made once for every stream (benchmarks/web_streams.py: 64 streams cost the run little),
    up to 64 are, still bounded (the 65th is refused), within the 128 connections."""
    import httpx

    from nudge.web.routes import training

    assert 40 <= training.MAX_STREAMS <= connections.MAX_CONNECTIONS // 2
    app = create_app(model, dataset="digits", stream_interval=0.05)
    with real_server(app) as port, contextlib.ExitStack() as streams:
        url = f"http://127.0.0.1:{port}/api/train/stream"
        answers = [streams.enter_context(httpx.stream("GET", url, timeout=20)).status_code
                   for _ in range(40)]
        assert answers == [200] * 40 and app.state.streams == 40


def test_stops_waiting_for_a_slow_run_hold_no_worker_thread(model, monkeypatch):
    """A run stops between two calls of the engine, which can take seconds (a mini-batch of
    10,000 on 784-512-512-512-512-10): stop and reset pressed meanwhile, however often, wait
    without holding the worker threads that predictions and the page's state need."""
    from concurrent.futures import ThreadPoolExecutor

    import anyio

    from nudge.web import training

    release = threading.Event()

    def one_long_call(*args, **kwargs):          # an engine call that a stop cannot cut short
        release.wait(30)
        raise RuntimeError("released")

    monkeypatch.setattr(training, "train", one_long_call)
    app = create_app(model, dataset="digits")
    with TestClient(app, base_url=BASE) as c, ThreadPoolExecutor(8) as pool:
        c.portal.call(lambda: setattr(anyio.to_thread.current_default_thread_limiter(),
                                      "total_tokens", 4))
        assert c.post("/api/train/start", json={"epochs": 1}).status_code == 200
        try:
            presses = [pool.submit(c.post, f"/api/train/{what}", json={})
                       for what in ("stop",) * 5 + ("reset",)]
            time.sleep(0.5)
            state = pool.submit(c.get, "/api/state")
            assert state.result(timeout=10).status_code == 200
        finally:
            release.set()
        assert {f.result(timeout=30).status_code for f in presses} <= {200, 409}
    assert app.state.web.job is None


@contextlib.contextmanager
def real_server(app):
    """The app served by uvicorn as ``nudge serve`` configures it, on 127.0.0.1 in a
    thread (the test client always sends whole requests): yields the port."""
    with uvicorn_server(app) as (port, _):
        yield port


@contextlib.contextmanager
def uvicorn_server(app):
    """:func:`real_server`, yielding the port and the ``uvicorn.Server``."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(server_config(app))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            threading.Event().wait(0.05)
        yield sock.getsockname()[1], server
    finally:
        server.should_exit = True
        thread.join(10)


@contextlib.contextmanager
def serving_a_run(app, **options):
    """:func:`real_server` with a run started on it (``options`` as the page sends them):
    yields the server's address; the run is stopped at the end."""
    import httpx

    with real_server(app) as port:
        base = f"http://127.0.0.1:{port}"
        r = httpx.post(base + "/api/train/start", json=options)
        assert r.status_code == 200, r.text
        try:
            yield base
        finally:
            httpx.post(base + "/api/train/stop", json={})


def read_until_closed(conn: socket.socket, trickle: bytes = b"", seconds: float = 5.0) -> str:
    """What the server sends until it closes the connection (``trickle``: sent a byte
    every 0.05 s meanwhile, as a slow client would); an AssertionError after ``seconds``."""
    conn.settimeout(0.05)
    answer, end = b"", time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            chunk = conn.recv(4096)
            if not chunk:
                return answer.decode("latin-1")
            answer += chunk
        except TimeoutError:
            pass
        except ConnectionResetError:
            return answer.decode("latin-1")
        if trickle:
            try:
                conn.sendall(trickle[:1])
            except (BrokenPipeError, ConnectionResetError):
                return answer.decode("latin-1")
            trickle = trickle[1:] or b"x"
    raise AssertionError(f"still open after {seconds} s")


def test_a_request_body_that_never_arrives_is_not_waited_for(model, monkeypatch):
    """A client that announces a body and sends only part of it gets 408, not a worker
    held for ever."""
    from nudge.web import validation

    monkeypatch.setattr(validation, "BODY_SECONDS", 0.5)
    with real_server(create_app(model, dataset="digits")) as port, \
            socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{}")
        answer = ""
        while "did not arrive" not in answer:        # headers and body may come apart
            chunk = conn.recv(4096).decode("latin-1")
            if not chunk:
                break
            answer += chunk
    assert answer.startswith("HTTP/1.1 408") and "did not arrive" in answer


@pytest.mark.parametrize("cut_short", [
    b"Content-Length: 100\r\n\r\n{\"exa",                       # the client hangs up
    b"Transfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n",    # a chunk size not hex
])
def test_a_body_cut_short_is_no_internal_error(model, caplog, cut_short):
    """A request whose body ends before it is whole (the client closed the connection, or
    uvicorn closed it on a malformed chunk) was a 500 with a traceback in the server's
    log, as for a bug; nobody is left to answer, and the server goes on as before."""
    app = create_app(model, dataset="digits")
    with real_server(app) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Content-Type: application/json\r\n" + cut_short)
            if cut_short.startswith(b"Content-Length"):
                time.sleep(0.3)                         # the app is reading the body
                conn.shutdown(socket.SHUT_RDWR)
            read_until_closed(conn)
        time.sleep(0.3)
        import httpx

        r = httpx.post(f"http://127.0.0.1:{port}/api/predict", json={"image": "x"})
        assert r.status_code == 400 and "PNG data URL" in r.json()["error"]
    assert "Traceback" not in caplog.text and "error in" not in caplog.text


def test_headers_that_never_end_do_not_hold_a_connection(model, monkeypatch):
    """A client that trickles its headers a byte at a time (a slow-loris), first or after a
    kept-alive request, is cut off HEADER_SECONDS after it connected or was answered; a
    request whose headers came keeps its connection as long as its answer takes (the live
    stream), and a prompt client is answered as before."""
    monkeypatch.setattr(connections, "HEADER_SECONDS", 0.5)
    request = b"GET /api/state HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with real_server(create_app(model, dataset="digits")) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            start = time.monotonic()
            assert read_until_closed(conn, b"GET / HTTP/1.1\r\nX-Slow: " + b"a" * 200) == ""
            assert 0.4 < time.monotonic() - start < 3
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(request)
            first = read_until_closed(conn, b"GET /api/state HTTP/1.1\r\nX-Slow: " + b"a" * 200)
            assert first.startswith("HTTP/1.1 200") and first.count("HTTP/1.1") == 1
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(b"GET /api/train/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            with pytest.raises(AssertionError, match="still open"):
                read_until_closed(conn, seconds=1.5)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(request)
            assert conn.recv(4096).startswith(b"HTTP/1.1 200")


def test_a_head_request_of_the_live_stream_ends_and_holds_no_stream(model):
    """HEAD of the stream (curl -I) is answered with the headers alone: the stream itself
    never ends, so it hung and held one of the MAX_STREAMS slots while connected."""
    app = create_app(model, dataset="digits")
    with real_server(app) as port, socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(b"HEAD /api/train/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Connection: close\r\n\r\n")
        answer = read_until_closed(conn)
        assert answer.startswith("HTTP/1.1 200") and "text/event-stream" in answer
        assert app.state.streams == 0


def test_a_host_name_with_its_trailing_dot_is_the_same_name(model):
    """"mybox.local." is the fully qualified form of "mybox.local", and a browser may send
    it in the Host header: the server answers to either, whichever of the two
    --allowed-host was given (a name of dots alone is still no name; IPv6 as before)."""
    app = create_app(model, dataset="digits",
                     allowed_hosts=["127.0.0.1", "[::1]", "mybox.local", "Other.Box."])

    def status(conn, host):
        conn.sendall(f"GET /api/state HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += conn.recv(4096)
        head, _, body = answer.partition(b"\r\n\r\n")
        length = int(re.search(rb"content-length: ([0-9]+)", head, re.I).group(1))
        while len(body) < length:
            body += conn.recv(4096)
        return int(head.split()[1])

    with real_server(app) as port, socket.create_connection(("127.0.0.1", port)) as conn:
        for host in ("mybox.local.", f"MyBox.Local.:{port}", "mybox.local", "other.box",
                     f"other.box.:{port}", "[::1]", f"[::1]:{port}", f"127.0.0.1:{port}"):
            assert status(conn, host) == 200, host
        for host in ("mybox.local..", ".", f".:{port}", "mybox", "[::1].", "box."):
            assert status(conn, host) == 400, host


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


@pytest.mark.parametrize("request_bytes", [
    b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n"
    b"Content-Length: 3\r\n\r\n{}",                         # two lengths
    b"GET /api/state HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n",     # a header without a colon
    b"GET /\x01 HTTP/1.1\r\n\r\n",                              # a control character
])
def test_a_request_that_is_not_http_gets_a_json_error(model, request_bytes):
    """uvicorn answers malformed HTTP before the app runs, in plain text ('Invalid HTTP
    request received.'); every other refusal is JSON with an 'error'."""
    with real_server(create_app(model, dataset="digits")) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(request_bytes)
            answer = read_until_closed(conn)
    head, _, body = answer.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 400") and "content-type: application/json" in head.lower()
    error = json.loads(body)["error"]
    assert error.startswith("not a valid HTTP request (") and "\n" not in error
