"""The web page's training job (nudge.web.training) on its own: it runs nudge.train.train
and reports what a watcher needs."""

import json
import time

import numpy as np
import pytest

from nudge.errors import DivergenceError
from nudge.history import History
from nudge.settings import resolve
from nudge.web import measure, training
from nudge.web.training import TrainingJob, TrainingSettings


def make_job(data, epochs=2, **options):
    setup = resolve("3b1b", n_inputs=data.n_inputs, n_classes=len(data.classes), epochs=epochs,
                    hidden=[16], **options)
    settings = TrainingSettings(setup, len(data.X_train), len(data.X_test), seed=1)
    return TrainingJob(setup.network(1), settings, data.X_train, data.y_train, data.X_test,
                       data.y_test, dataset=data.name)


def test_the_job_trains_like_the_trainer(digits):
    from nudge.train import train

    job = make_job(digits, schedule="constant")
    job.start()
    job.join(60)
    assert job.state == "finished" and job.seen == 2 * len(digits.X_train)
    setup = job.settings.setup
    net = setup.network(1)
    train(net, digits.X_train, digits.y_train, **setup.train_options(), seed=1,
          test_data=digits.test_data)
    for a, b in zip(net.weights, job.net.weights):      # the same run, the same weights
        assert np.array_equal(a, b)
    s = job.summary()
    assert [e["epoch"] for e in s["epoch_results"]] == [1, 2]
    assert s["epoch_results"][0]["test_accuracy"] is not None and "as_dict" not in dir(job)
    assert job.points and all(np.isfinite(c) for _, c in job.points)
    assert s["engine"]["engine"] in ("fast", "reference")


def test_the_smoothed_cost_averages_over_examples_not_samples(digits):
    """A run too short or fast for many samples (20,000 examples in 0.01 s at full speed:
    two or three) showed a smoothed cost near its start (0.71 against a test cost of 0.2),
    each sample weighing 1/10 however many examples it stood for."""
    from nudge.web.training import EMA, smoothed

    assert smoothed(None, 2.0, 0, 100.0) == 2.0
    assert smoothed(1.0, 0.0, 1, 1000.0) == pytest.approx(EMA)          # a sample per step
    assert smoothed(1.0, 0.0, 100, 100.0) == pytest.approx(np.exp(-1))  # one span later
    assert smoothed(1.0, 0.0, 10**6, 100.0) == pytest.approx(0.0)       # long after: now
    job = make_job(digits, epochs=3)
    trained = job.net.copy()
    trained.fit(digits.X_train, digits.y_train, epochs=3, learning_rate=1.0, seed=1)
    batch = np.arange(500)
    job._sample(batch, job.net)                       # at the start
    job.seen = job.total_examples                     # one more sample, at the end
    job._sample(batch, trained)
    assert job.smoothed_cost == pytest.approx(trained.cost(digits.X_train[batch],
                                                           digits.y_train[batch]), rel=1e-6)


def test_a_divergence_is_reported_with_advice(digits, monkeypatch):
    def diverging(*args, **kwargs):
        e = DivergenceError("training diverged")
        e.history = History(settings={"engine": "fast", "kernel": "c"})
        raise e

    monkeypatch.setattr(training, "train", diverging)
    job = make_job(digits)
    ended = []
    job.on_end = ended.append
    job.start()
    job.join(10)
    assert job.state == "failed" and "diverged" in job.message and ended == [job]
    w = job.summary()["warnings"]
    assert w[0]["kind"] == "diverged" and "smaller learning rate" in w[0]["advice"]


def test_a_divergence_names_the_learning_rate_set_while_running(digits):
    job = make_job(digits, epochs=50, schedule="constant", activation="relu",
                   learning_rate=0.1)
    job.control.set_speed(2000)
    job.start()
    deadline = time.monotonic() + 30              # a busy machine may be slow to step
    while job.step == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert job.step > 0 and job.state == "running"     # so the η is set mid-run
    job.set_learning_rate(1e30)                  # set on the page, mid-run
    job.set_speed(None)
    job.join(30)
    assert job.state == "failed" and "with learning rate 1e+30" in job.message
    assert "e.g. 1e+29" in job.summary()["warnings"][-1]["advice"]


def test_stop_while_paused_keeps_the_partial_epoch(digits):
    job = make_job(digits, epochs=50)
    job.control.set_speed(500)
    job.start()
    assert job.pause()
    job.stop()
    assert job.state == "stopped"
    assert len(job.epochs) >= 1 and job.epochs[-1].record.steps < len(digits.X_train) // 10


def test_a_pause_pressed_as_the_run_ends_does_not_leave_it_paused(digits, monkeypatch):
    """The pause is let through just as the run ends (its control waits for the trainer
    to return): the run's end must win, not leave a finished run 'paused'.  (It waited a
    second for the job's end, which cannot come while the pause holds the state's lock:
    a run slower than that second, on a busy machine, was paused mid-run and stayed so.)"""
    import threading

    trained, real_train = threading.Event(), training.train

    def train_then_say_so(*args, **kwargs):
        try:
            return real_train(*args, **kwargs)
        finally:
            trained.set()

    monkeypatch.setattr(training, "train", train_then_say_so)
    job = make_job(digits, epochs=1)
    pause = job.control.pause
    job.control.pause = lambda: (trained.wait(60), pause())
    job.start()
    job.pause()
    job.join(30)
    assert job.state == "finished" and not job.active


@pytest.mark.parametrize("bad", [0, -5, float("nan")])
def test_speed_must_be_positive(digits, bad):
    from nudge.errors import NudgeError

    with pytest.raises(NudgeError):
        make_job(digits).set_speed(bad)


def test_curvature_and_noise_measured_live_when_asked(digits, monkeypatch):
    monkeypatch.setattr(measure, "INSIGHT_GAP", 0.2)
    job = make_job(digits, epochs=30, schedule="constant")
    job.settings.measure = True
    job.control.set_speed(3000)
    job.start()
    end = time.time() + 30
    while len(job.insight) < 2 and time.time() < end:
        time.sleep(0.05)
    job.stop()
    assert len(job.insight) >= 2, job.warnings
    p = job.summary()["insight"][0]
    assert p["lambda_max"] > 0 and p["b_simple"] > 0 and p["batch_size"] == 10
    assert p["two_over_eta"] == pytest.approx(2 / p["learning_rate"])
    seen = [q["seen"] for q in job.insight]
    assert seen == sorted(seen) and len(set(seen)) == len(seen)


def test_no_measurements_unless_asked(digits):
    job = make_job(digits)
    job.start()
    job.join(60)
    assert job.insight == [] and job.summary()["settings"]["measure"] is False


def test_each_job_names_its_run(digits):
    """The page keeps the stream's news of a run over the (older) reply that started it:
    it tells them apart by the run's number, new for every job."""
    first, second = make_job(digits), make_job(digits)
    assert second.summary()["run"] > first.summary()["run"]


def test_the_curvature_and_noise_points_of_a_long_run_are_bounded(digits):
    """One measurement every 3 s: a run left going overnight must not send ever more of
    them in every update (each stream sends the summary up to 20 times a second)."""
    from types import SimpleNamespace

    job = make_job(digits)
    noise = lambda *a: SimpleNamespace(b_simple=10.0)                     # noqa: E731
    sharpness = lambda *a, **k: SimpleNamespace(largest=[2.0])          # noqa: E731
    for seen in range(1, 5 * measure.MAX_INSIGHT_POINTS):
        job.measurements._measure(job.net, seen, 1, 0.5, noise, sharpness)
    seen = [p["seen"] for p in job.insight]
    assert len(seen) <= measure.MAX_INSIGHT_POINTS and seen == sorted(seen)
    assert seen[-1] == 5 * measure.MAX_INSIGHT_POINTS - 1 and seen[0] < 50    # all the run


def test_the_stream_follows_a_curve_thinned_while_it_reads_it(digits, monkeypatch):
    """The training thread thins a long curve into a new list; when that happens just as
    the stream reads the curve, the page still ends up with the job's curve (it kept the
    old one, and got only the points past the old one's length, until the next thinning)."""
    import asyncio

    from nudge.web.routes.training import Broadcast
    from nudge.web.state import WebState

    class ThinsWhileRead(TrainingJob):
        thin = False

        @property
        def points(self):
            curve = self._curve
            if self.thin:                # the training thread goes on right after the read
                self.thin = False
                for seen in range(9, 12):
                    self._add_point(seen, 1.0 / seen)
            return curve

        @points.setter
        def points(self, value):
            self._curve = value

    monkeypatch.setattr(training, "MAX_CURVE_POINTS", 10)
    base = make_job(digits)
    job = ThinsWhileRead(base.net, base.settings, digits.X_train, digits.y_train)
    state = WebState(dataset="digits")
    state.job = job
    page: list = []

    async def watch():
        stream = Broadcast(state, 0.0, "server").events()
        await stream.__anext__()                           # retry: ...

        async def update():
            job._bump()
            msg = json.loads((await stream.__anext__())[len("data: "):])
            if msg["replace"]:
                page.clear()
            page.extend(msg["points"])

        for seen in range(1, 9):
            job._add_point(seen, 1.0 / seen)
        await update()
        job.thin = True                                    # thinned as it is read
        await update()
        for more in ((12, 13), (14,)):
            for seen in more:
                job._add_point(seen, 1.0 / seen)
            await update()
        await stream.aclose()

    asyncio.run(watch())
    assert page == [[s, round(c, 6)] for s, c in job.points]


def test_a_speed_set_as_the_rate_is_counted_does_not_fail_the_run(digits):
    """The page's speed menu (or Resume) clears the rate count from the server's thread
    while the training thread counts: cleared between the training thread's two looks at
    it, the run failed with "TypeError: 'NoneType' object is not subscriptable"."""
    class ClearedAfterEachLook(TrainingJob):
        @property
        def _rate_at(self):
            rate_at, self._rate = self._rate, None   # a new speed lands right after the look
            return rate_at

        @_rate_at.setter
        def _rate_at(self, value):
            self._rate = (value[0] - 1.0, value[1]) if value else value   # a window past

    base = make_job(digits, epochs=2)
    job = ClearedAfterEachLook(base.net, base.settings, digits.X_train, digits.y_train)
    job.control.set_speed(20000)                     # a few calls of the engine an epoch
    job.start()
    job.join(60)
    assert job.state == "finished", job.message


def test_dead_neurons_are_warned_of_when_a_tenth_of_them_are():
    """One of 30 tanh neurons saturates in a healthy nielsen run that reaches 90%: true,
    but no reason to change the settings; a tenth of them is."""
    from nudge.web.advice import too_many_dead

    assert [too_many_dead(d, h) for d, h in ((0, 30), (1, 30), (2, 30), (3, 30), (1, 5),
                                              (11, 32))] == [False, False, False, True,
                                                             True, True]


def test_the_cost_watch_judges_a_run_of_sampled_costs_not_one():
    """The page's mid-epoch rule (nudge.web.advice.CostWatch): costs all above a network
    that guesses, and not falling, say "stuck"; all above the start, "rising"; a healthy
    run's noisy costs (one high mini-batch, a plateau at the chance cost) nothing."""
    from nudge.web.advice import SUSTAINED, CostWatch, chance_cost

    net = resolve("3b1b", n_inputs=64, n_classes=10).network(1)
    assert chance_cost(net, np.arange(10)) == pytest.approx(0.9)       # 9/100 + 81/100
    soft = resolve("3b1b", n_inputs=64, n_classes=10, output="softmax",
                   cost="cross-entropy").network(1)
    assert chance_cost(soft, np.arange(10)) == pytest.approx(np.log(10))

    def said(watch, costs, every=1000):         # a sample every 1,000 examples
        return [k for i, c in enumerate(costs, 1) for k in watch.add(c, seen=i * every)]

    assert said(CostWatch(3.0, 0.9), [1.0] * 2 * SUSTAINED) == ["stuck"]   # saturated: 0
    assert said(CostWatch(3.0, 0.9), [1.0] * (2 * SUSTAINED - 1)) == []     # not yet
    assert said(CostWatch(3.0, 0.9), [0.89, 0.91, 0.87] * 20) == []         # the plateau
    assert said(CostWatch(3.0, 0.9), [0.3, 2.0] * 20) == []                 # noise
    assert said(CostWatch(3.0, 0.9), list(np.geomspace(3.0, 1.0, 40))) == []   # learning
    assert said(CostWatch(2.3, None), [9.0] * 2 * SUSTAINED) == ["rising"]
    # a model trained further, cost 0.09 at the start: its mini-batches scatter about it (4
    # in 10 above 1.1 times it, up to 3 in 10 above twice it), and ten in a row above that
    # is luck, not a rise; twice it, twenty in a row, is a rise
    assert said(CostWatch(0.09, 0.9), [0.11] * 3 * SUSTAINED) == []
    assert said(CostWatch(0.09, 0.9), [0.2] * (2 * SUSTAINED - 1)) == []
    assert said(CostWatch(0.09, 0.9), [0.2] * 2 * SUSTAINED) == ["rising"]
    # the smoothed cost above the start once 2% of the run (at least 2,000 examples) went
    steady = CostWatch(0.09, 0.9, total_examples=1_800_000)
    assert steady.add(0.05, smoothed=0.11, seen=30_000) == []            # not settled yet
    assert steady.add(0.05, smoothed=0.11, seen=36_000) == ["rising"]
    assert steady.add(0.05, smoothed=0.095, seen=40_000) == []           # within the margin


def test_the_cost_watch_waits_out_a_healthy_stall_and_a_lucky_start():
    """Two false alarms, as measured on MNIST.  A tanh network on the nielsen preset's
    steps sits at cost 1 (every output 0, above the chance mark 0.99) for 200-600
    examples, then learns (90% after one epoch): at 100/s, ten samples are 100 examples,
    and it was told "near chance".  A network broken by its steps stays there: told once
    the costs have been above the mark over STALLED examples (half an epoch, if fewer).
    And a trained model's start cost, on 1,000 images, came out 0.056 where its mini-batches
    cost 0.066 on average (a trained model's cost varies 17% from one 1,000 images to the
    next): trained further at B=1000, it was told its cost rose; the start's standard error
    (0.0085 there) now counts."""
    from nudge.web.advice import STALLED, CostWatch

    def said(watch, costs, every):
        return [k for i, c in enumerate(costs, 1) for k in watch.add(c, seen=i * every)]

    stall = [0.94, 0.96, 0.97, 0.98, 0.98] * 4 + [1.0] * 60 + list(np.linspace(0.98, 0.5, 40))
    assert said(CostWatch(3.7, 0.9), stall, every=10) == []                # 600 examples
    assert "stuck" in said(CostWatch(3.7, 0.9), [1.0] * 400, every=10)    # 4,000
    broken = CostWatch(3.7, 0.9)
    found = [i * 10 for i in range(1, 400) if broken.add(1.0, seen=i * 10)]
    assert found[0] == STALLED + 10            # from the first sample above, 10 examples in
    digits = CostWatch(2.5, 0.9, epoch_examples=1497)      # the digits: half an epoch
    assert [i * 10 for i in range(1, 150) if digits.add(1.0, seen=i * 10)][0] == 760
    lucky = CostWatch(0.056, 0.9, total_examples=1_800_000, first_error=0.0085)
    assert lucky.add(0.066, smoothed=0.072, seen=40_000) == []
    assert lucky.add(0.2, smoothed=0.09, seen=45_000) == ["rising"]      # 60% up: it rose


def test_healthy_runs_that_were_told_of_trouble_are_not(mnist_path):
    """On a real server, two healthy runs that were warned: nielsen with tanh (seed 3) at
    1,000/s sits at cost 1 from 1,050 to 1,450 examples and was told "near chance" (10.7%)
    at 1,500; it is at 49% by 5,000.  A model trained on the page for 5 epochs, trained
    further at B=1000: its start cost (0.076 on 1,000 images) is below its mini-batches'
    (0.068-0.09), and it was told its cost rose, ending the epoch at 94.6%."""
    import httpx
    from test_web_browser import serve

    from nudge.web import create_app

    app = create_app(dataset="mnist", data_dir=mnist_path)
    srv, thread, base = serve(app)

    def run(body, seen):
        httpx.post(base + "api/train/start", json=body).raise_for_status()
        end, t = time.time() + 30, {}
        while time.time() < end:
            t = httpx.get(base + "api/train/state").json()["training"]
            assert t["warnings"] == [], (body, t["seen"], t["warnings"])
            if t["seen"] >= seen or t["state"] not in ("running", "paused"):
                break
            time.sleep(0.1)
        httpx.post(base + "api/train/stop", json={})
        app.state.web.job.join(10)
        return httpx.get(base + "api/train/state").json()["training"]

    try:
        t = run({"preset": "nielsen", "activation": "tanh", "seed": 3,
                 "examples_per_second": 1000}, 4000)
        assert t["seen"] >= 4000 and t["warnings"] == [], t
        httpx.post(base + "api/train/reset", json={}).raise_for_status()
        run({"preset": "3b1b", "epochs": 5, "seed": 4}, 300_000)
        t = run({"preset": "3b1b", "start_from": "model", "batch_size": 1000, "seed": 5},
                1_800_000)
        assert t["state"] == "finished" and t["warnings"] == [], t
    finally:
        srv.should_exit = True
        thread.join(10)


def test_a_run_in_trouble_is_told_while_its_first_epoch_goes(mnist_path):
    """η = 50 on the 3b1b preset at the page's slow speeds took the cost from 3 to 1 (every
    output 0) and the accuracy to 9.8% with nothing said: "cost rising" waited for 2% of the
    run (36 s) and compared with the untrained network's cost (3, never reached), and the
    near-chance check ran only at the epoch's end (60 s).  A real server now says so within
    a couple of seconds; healthy runs (3b1b slow and at full speed, nielsen) say nothing."""
    import httpx
    from test_web_browser import serve

    from nudge.web import create_app

    app = create_app(dataset="mnist", data_dir=mnist_path)
    srv, thread, base = serve(app)

    def run(body, until):
        httpx.post(base + "api/train/reset", json={}).raise_for_status()
        httpx.post(base + "api/train/start", json=body).raise_for_status()
        end, summaries = time.time() + 60, []
        while time.time() < end:
            t = httpx.get(base + "api/train/state").json()["training"]
            summaries.append(t)
            if until(t) or t["state"] not in ("running", "paused"):
                break
            time.sleep(0.1)
        if summaries[-1]["state"] in ("running", "paused"):
            httpx.post(base + "api/train/stop", json={}).raise_for_status()
            app.state.web.job.join(10)
        return summaries

    try:
        t = run({"preset": "3b1b", "learning_rate": 50, "examples_per_second": 1000},
                lambda t: t["warnings"])[-1]
        assert t["state"] == "running" and t["epoch_results"] == [], t
        assert [w["kind"] for w in t["warnings"]] == ["chance"]
        assert "near chance (10%): the network has learned nothing useful" in \
            t["warnings"][0]["text"]
        assert "With eta 50 (the 3b1b preset's is 1) the steps may be far too large" in \
            t["warnings"][0]["advice"]
        for body, until in (
                ({"preset": "3b1b", "examples_per_second": 1000}, lambda t: t["seen"] >= 4000),
                ({"preset": "3b1b", "epochs": 3}, lambda t: False),
                ({"preset": "nielsen", "epochs": 3}, lambda t: False)):
            summaries = run(body, until)
            assert summaries[-1]["seen"] >= 4000, body
            assert all(s["warnings"] == [] for s in summaries), (body, summaries[-1])
        # η raised to 50 on the page while a healthy run goes: the advice is about that η,
        # not the preset's 1 the run started with ("too few epochs")
        raised = []

        def raise_then_warned(t):
            if not raised and t["seen"] >= 500:
                httpx.post(base + "api/train/set", json={"learning_rate": 50}).raise_for_status()
                raised.append(t["seen"])
            return bool(t["warnings"])

        t = run({"preset": "3b1b", "examples_per_second": 1000}, raise_then_warned)[-1]
        assert raised and [w["kind"] for w in t["warnings"]] == ["chance"], t
        assert "With eta 50 (the 3b1b preset's is 1) the steps may be far too large" in \
            t["warnings"][0]["advice"]
    finally:
        srv.should_exit = True
        thread.join(10)
