"""The web page in a real browser: Debian's Chromium, driven headless by Playwright.

A small network is trained on part of MNIST in the set-up; the tests draw a 7
with mouse strokes and expect the page to read 7, train on the page and watch
the curve and the accuracy update, open the other views, and check that the
browser console stays free of errors.  Screenshots of each view go to
``docs/screenshots/`` when ``NUDGE_SCREENSHOTS=1`` (that is how the README's
pictures are made), else to a temporary folder.
"""

import os
import socket
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = Path(__file__).resolve().parents[1] / "docs/screenshots"


@pytest.fixture(scope="module")
def playwright_api():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found: apt-get install -y chromium")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    return sync_api


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory, mnist):
    from nudge import Network, save, train

    data = mnist.subset(10000, 2000)
    net = Network([784, 16, 16, 10], seed=1)
    history = train(net, data.X_train, data.y_train, epochs=5, batch_size=10,
                    learning_rate=3.0, test_data=data.test_data, seed=1)
    path = tmp_path_factory.mktemp("web-model") / "mnist-small.safetensors"
    save(net, path, dataset="mnist", test_accuracy=history.last.test_accuracy,
         epochs_trained=5)
    return path


@pytest.fixture(scope="module")
def server(trained_model, mnist_path, tmp_path_factory):
    import uvicorn

    from nudge.web import create_app

    save_dir = tmp_path_factory.mktemp("web-saved")
    app = create_app(trained_model, save_dir=save_dir, dataset="mnist", data_dir=mnist_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    end = time.time() + 20
    while not srv.started and time.time() < end:
        time.sleep(0.05)
    assert srv.started, "the server did not start"
    yield f"http://127.0.0.1:{port}/"
    job = app.state.web.job
    if job is not None:
        job.stop()
    srv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser(playwright_api):
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    if os.environ.get("NUDGE_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        return SHOTS
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture
def page(browser, server):
    # bypass_csp: Playwright evaluates its wait predicates as strings, which the
    # page's Content-Security-Policy (rightly) forbids for the page's own scripts
    context = browser.new_context(viewport={"width": 1200, "height": 820}, bypass_csp=True)
    pg = context.new_page()
    problems = []
    pg.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
          if m.type in ("error", "warning") else None)
    pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    pg.set_default_timeout(15000)
    pg.base = server
    yield pg
    context.close()
    assert problems == [], problems


def snap(page, path):
    """A screenshot, stored as a 256-colour PNG so the committed pictures stay small."""
    from PIL import Image

    page.screenshot(path=str(path))
    with Image.open(path) as img:
        small = img.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


def open_view(page, view):
    page.goto(page.base + "#" + view)
    page.wait_for_selector(f"#view-{view}:not([hidden])")
    page.wait_for_function("document.getElementById('model-badge').textContent.includes('-')")


def draw_seven(page):
    box = page.locator("#draw-canvas").bounding_box()
    sx, sy = box["width"] / 280, box["height"] / 280

    def at(x, y):
        return box["x"] + x * sx, box["y"] + y * sy

    page.mouse.move(*at(70, 62))
    page.mouse.down()
    page.mouse.move(*at(210, 60), steps=12)
    page.mouse.move(*at(130, 240), steps=16)
    page.mouse.up()


def test_draw_a_seven_and_the_page_reads_seven(page, shots):
    open_view(page, "draw")
    draw_seven(page)
    page.wait_for_function("document.getElementById('d-digit').textContent === '7'")
    page.wait_for_function("document.getElementById('d-latency').dataset.ms !== undefined")
    # predictions while drawing: time a few more round trips from the browser
    times = page.evaluate("""async () => {
        const image = document.getElementById('draw-canvas').toDataURL('image/png');
        const out = [];
        for (let i = 0; i < 10; i++) {
            const t0 = performance.now();
            const r = await fetch('/api/predict', {method: 'POST',
                headers: {'Content-Type': 'application/json'}, body: JSON.stringify({image})});
            await r.json();
            out.push(performance.now() - t0);
        }
        return out;
    }""")
    times.sort()
    print(f"\nprediction round trip from the browser: median {times[5]:.1f} ms, "
          f"max {times[-1]:.1f} ms")
    assert times[5] < 50
    bars = page.locator("#d-outputs .bar-row")
    assert bars.count() == 10
    assert "7" in page.locator("#d-outputs .bar-row.best").text_content()
    snap(page, shots / "draw.png")
    page.click("#d-clear")
    assert page.locator("#d-digit").text_content() == "?"


def test_inside_the_network_and_hover_a_neuron(page, shots):
    open_view(page, "draw")
    draw_seven(page)
    page.wait_for_function("document.getElementById('d-digit').textContent === '7'")
    page.click("#tab-inside")
    page.wait_for_selector("#diagram .neuron")
    assert page.locator("#diagram .neuron").count() == 16 + 16 + 10
    page.locator("#diagram .neuron").nth(3).hover()
    page.wait_for_selector("#neuron-panel dl")
    panel = page.locator("#neuron-panel").text_content()
    assert "bias b" in panel and "weighted sum z" in panel and "28×28" in panel
    snap(page, shots / "inside.png")
    # keyboard: focus an output neuron
    page.locator("#diagram .neuron").nth(40).focus()
    page.wait_for_function("document.querySelector('#neuron-panel h2').textContent"
                           ".startsWith('Output neuron 8')")
    page.click("#i-random")
    page.wait_for_function("document.getElementById('i-caption').textContent"
                           ".startsWith('test image')")


def test_the_nudges_and_a_gradient_step(page, shots, trained_model, mnist):
    from nudge import load

    # an example the model gets wrong shows the biggest nudges
    wrong = load(trained_model).predict(mnist.X_train[:500]) != mnist.y_train[:500]
    index = int(wrong.argmax()) if wrong.any() else 12
    open_view(page, "nudges")
    page.check('input[name="n-source"][value="train"]')
    page.fill("#n-index", str(index))
    page.click("#n-show")
    page.wait_for_selector(".layer-card")
    assert page.locator(".layer-card").count() == 3
    assert page.locator(".outputs-table tbody tr").count() == 10
    page.fill("#n-lr", "3")
    page.click("#n-step")
    page.wait_for_function("document.getElementById('n-cost-fall').textContent.includes('→')")
    costs = [float(c) for c in
             page.locator("#n-cost-fall").text_content().replace("cost", "").split("→")]
    assert costs[1] < costs[0]
    snap(page, shots / "nudges.png")


def test_sensitivity(page, shots):
    open_view(page, "sensitivity")
    page.click("#g-run")
    page.wait_for_selector("#g-body table tbody tr")
    assert page.locator("#g-body table").first.locator("tbody tr").count() == 20
    assert page.locator("#g-body .maps canvas").count() == 16
    snap(page, shots / "sensitivity.png")


def test_watch_it_learn(page, shots):
    open_view(page, "learn")
    page.fill("#t-epochs", "3")
    page.select_option("#t-examples", "60000")
    page.click("#t-start")
    page.wait_for_function("document.getElementById('s-state').textContent === 'running'")
    t0 = time.perf_counter()
    first = int(page.locator("#s-updates").get_attribute("data-total") or 0)
    page.wait_for_function("document.getElementById('s-epoch').textContent.startsWith('2')",
                           timeout=30000)
    snap(page, shots / "learn-running.png")
    n = int(page.locator("#s-updates").get_attribute("data-total")) - first
    rate = n / (time.perf_counter() - t0)
    print(f"\nstream updates received by the page: {rate:.1f} per second")
    assert rate >= 10
    page.wait_for_function("document.getElementById('s-state').textContent === 'finished'",
                           timeout=40000)
    acc = page.locator("#s-acc").text_content()
    assert acc.endswith("%") and float(acc[:-1]) > 80
    assert int(page.locator("#cost-chart").get_attribute("data-points")) > 10
    assert page.locator("#weights-grid canvas").count() == 16
    snap(page, shots / "learn.png")
    assert "trained on this page" in page.locator("#model-badge").text_content()


def test_models_view_saves_the_page_model(page, shots):
    open_view(page, "models")
    page.wait_for_function("!document.getElementById('m-save').disabled")
    page.fill("#m-name", "from-the-page")
    page.click("#m-save")
    page.wait_for_selector("#m-saved li button")
    assert "from-the-page" in page.locator("#m-saved").text_content()
    snap(page, shots / "models.png")
    page.click("#m-use-file")
    page.wait_for_function("document.getElementById('model-badge').textContent"
                           ".includes('mnist-small')")


def test_keyboard_moves_between_tabs(page):
    open_view(page, "learn")
    page.focus("#tab-learn")
    page.keyboard.press("ArrowRight")
    page.wait_for_selector("#view-draw:not([hidden])")
    assert page.evaluate("document.activeElement.id") == "tab-draw"
    page.keyboard.press("End")
    page.wait_for_selector("#view-models:not([hidden])")


def test_no_console_errors_under_the_real_security_policy(browser, server):
    """The page's own Content-Security-Policy in force (no bypass): every view, no errors."""
    context = browser.new_context(viewport={"width": 1200, "height": 820})
    pg = context.new_page()
    problems = []
    pg.on("console", lambda m: problems.append(f"{m.type}: {m.text}")
          if m.type in ("error", "warning") else None)
    pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    pg.goto(server + "#inside")
    pg.check('input[name="i-source"][value="test"]')
    pg.click("#i-random")
    pg.wait_for_selector("#diagram .neuron")
    pg.locator("#diagram .neuron").nth(1).hover()
    pg.wait_for_selector("#neuron-panel dl")
    pg.click("#tab-nudges")
    pg.check('input[name="n-source"][value="train"]')
    pg.click("#n-show")
    pg.wait_for_selector(".layer-card")
    for view in ("learn", "draw", "sensitivity", "models"):
        pg.click(f"#tab-{view}")
        pg.wait_for_selector(f"#view-{view}:not([hidden])")
    pg.wait_for_timeout(300)
    context.close()
    assert problems == [], problems


def test_page_fits_a_phone(browser, server):
    context = browser.new_context(viewport={"width": 390, "height": 800}, has_touch=True)
    pg = context.new_page()
    pg.goto(server + "#draw")
    pg.wait_for_selector("#view-draw:not([hidden])")
    width = pg.evaluate("document.documentElement.scrollWidth")
    context.close()
    assert width <= 400
