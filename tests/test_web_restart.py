"""After a server restart the page's live stream reconnects by itself and the page reloads
its state (Chromium, headless, at 1366x768 and 390x844; a real uvicorn on 127.0.0.1)."""


import pytest
from test_web_browser import CHROMIUM, SIZES, new_page, serve

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    from pathlib import Path

    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found: apt-get install -y chromium")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    from test_web_browser import ARGS

    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def small_model(tmp_path_factory, digits):
    from nudge import Network, save

    path = tmp_path_factory.mktemp("restart") / "digits-model.safetensors"
    save(Network([64, 16, 10], seed=1), path, dataset="digits")
    return path


def updates(page):
    return int(page.locator("#s-updates").get_attribute("data-total") or 0)


@pytest.mark.parametrize("size", list(SIZES))
def test_the_stream_reconnects_and_the_page_reloads_after_a_restart(browser, small_model, size):
    import httpx

    from nudge.web import create_app

    srv, thread, base = serve(create_app(dataset="digits"))
    port = int(base.rsplit(":", 1)[1].strip("/"))
    context, page = new_page(browser, base, size)
    try:
        page.goto(base + "#learn")
        page.wait_for_function("Number(document.getElementById('s-updates').dataset.total) >= 1")
        assert "no model yet" in page.locator("#model-badge").text_content()
        srv.should_exit = True                                 # the server stops...
        thread.join(15)
        assert not thread.is_alive(), "the server did not stop with the page's stream open"
        page.wait_for_selector("#connection:not([hidden])", timeout=15000)
        assert "reconnecting" in page.locator("#connection").text_content()
        # ...and a new one starts on the same port, with a model this time
        app2 = create_app(small_model, dataset="digits", stream_interval=0.05)
        srv, thread, base2 = serve(app2, port)
        page.wait_for_function("document.getElementById('connection').textContent"
                               ".includes('restarted')", timeout=20000)
        page.wait_for_function("document.getElementById('model-badge').textContent"
                               ".includes('digits-model')")
        before = updates(page)
        r = httpx.post(base2 + "api/train/start", json={"hidden": [16], "epochs": 50,
                                                         "examples_per_second": 2000})
        assert r.status_code == 200
        page.wait_for_function("document.getElementById('s-state').textContent === 'running'")
        page.wait_for_function("Number(document.getElementById('s-updates').dataset.total)"
                               f" >= {before + 5}")    # the updates go on
        app2.state.web.job.stop()
        assert page.problems == [] or all("Failed to load resource" in p or "ERR_" in p
                                          for p in page.problems), page.problems
    finally:
        context.close()
        srv.should_exit = True
        thread.join(15)


def test_a_result_asked_for_before_a_restart_is_marked_out_of_date(browser, small_model):
    """The restarted server's model versions start again (from the same 1, here): a result
    asked for before is marked as the earlier model's all the same."""
    from nudge.web import create_app

    srv, thread, base = serve(create_app(small_model, dataset="digits"))
    port = int(base.rsplit(":", 1)[1].strip("/"))
    context, page = new_page(browser, base, "desktop")
    try:
        page.goto(base + "#sensitivity")
        page.wait_for_function("document.getElementById('model-badge').textContent"
                               ".includes('digits-model')")
        page.click("#g-run")
        page.wait_for_selector("#g-body table tbody tr")
        srv.should_exit = True
        thread.join(15)
        srv, thread, _ = serve(create_app(small_model, dataset="digits"), port)
        page.wait_for_function("document.getElementById('g-stale').textContent"
                               ".includes('the server has restarted since')", timeout=20000)
        page.click("#g-stale button")
        page.wait_for_function("document.getElementById('g-stale').textContent === ''")
    finally:
        context.close()
        srv.should_exit = True
        thread.join(15)


@pytest.fixture
def one_stream(browser, small_model, monkeypatch):
    """A server that allows one live stream, a run going on it, and a page not yet opened:
    (app, base, page, take), where ``with take():`` holds the one stream (httpx)."""
    import contextlib

    import httpx

    from nudge.web import create_app
    from nudge.web.routes import training

    monkeypatch.setattr(training, "MAX_STREAMS", 1)
    app = create_app(small_model, dataset="digits", stream_interval=0.05)
    srv, thread, base = serve(app)
    context, page = new_page(browser, base, "desktop")

    @contextlib.contextmanager
    def take():
        with httpx.stream("GET", base + "api/train/stream", timeout=20) as held:
            assert held.status_code == 200                 # the one stream, taken
            yield

    try:
        # 150 s (at 2,000 a second, 37 s: a busy machine's waits in a test could outlast it)
        r = httpx.post(base + "api/train/start", json={"hidden": [16], "epochs": 50,
                                                       "examples_per_second": 500})
        assert r.status_code == 200
        yield app, base, page, take
        app.state.web.job.stop()
    finally:
        context.close()
        srv.should_exit = True
        thread.join(15)


def test_a_page_past_the_bound_of_live_streams_says_so_and_catches_up(one_stream):
    """A class opens the page while the teacher trains: a page refused its live stream (the
    server's bound) said it had lost the connection ("is nudge serve still running?").  It
    now says that too many pages watch, and follows the run once a stream is closed.
    Meanwhile it showed blank charts and a frozen Live card: it now reads the run's state
    every few seconds while refused, its numbers, cost curve and weights following it."""
    app, base, page, take = one_stream
    with take():
        page.goto(base + "#learn")
        page.wait_for_function("document.getElementById('connection').textContent"
                               ".includes('Too many pages are watching')")
        assert "still running" not in page.locator("#connection").text_content()
        page.wait_for_function("Number(document.getElementById('cost-chart').dataset"
                               ".points) > 0 && document.querySelectorAll("
                               "'#weights-grid canvas').length === 16")
        seen = page.locator("#s-seen").text_content()
        page.wait_for_function("document.getElementById('s-seen').textContent !== "
                               f"{seen!r}")      # it follows, slower
        assert not page.locator("#connection").is_hidden()     # still refused
    page.wait_for_function("document.getElementById('connection').hidden",
                           timeout=15000)                  # a stream was closed
    before = updates(page)
    page.wait_for_function("Number(document.getElementById('s-updates').dataset.total)"
                           f" >= {before + 5}")    # it follows the run


def test_a_late_answer_to_why_the_stream_was_refused_does_not_start_reading_the_run(
        one_stream):
    """The page asks why its stream was refused (a HEAD of it: 429 when full).  Were that
    answer to come after a stream had been granted, the page went on reading the whole run
    every 3 s beside the stream."""
    app, base, page, take = one_stream
    asked, polls = [], []
    page.route("**/api/train/stream", lambda route: asked.append(route)
               if route.request.method == "HEAD" else route.continue_())
    page.on("request", lambda r: polls.append(r.url) if "live=1" in r.url else None)
    with take():
        page.goto(base + "#learn")
        page.wait_for_function("document.getElementById('connection').textContent"
                               ".includes('Lost the connection')")
        assert asked                                       # the question, held
    page.wait_for_function("document.getElementById('connection').hidden",
                           timeout=15000)                  # granted a stream since
    for route in asked:                                    # the late answer: 'full'
        route.fulfill(status=429)
    before = updates(page)
    page.wait_for_function("Number(document.getElementById('s-updates').dataset.total)"
                           f" >= {before + 5}")
    page.wait_for_timeout(3500)                            # a poll would have come by now
    assert polls == []
    assert page.locator("#connection").is_hidden()
