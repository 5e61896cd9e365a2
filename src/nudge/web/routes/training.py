"""Routes of the live training: start, steer (pause, resume, one step, speed, η, stop,
reset), read the state, and the event stream the page watches."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ...bounds import random_seed
from ...checks import check_batch_fits
from ...errors import NudgeError
from ...modelfile import start_record
from ...network import ACTIVATIONS, Network
from ...optimizers import OPTIMIZERS
from ...presets import DEFAULT_PRESET, PRESETS
from ...schedules import FIXED_SCHEDULES
from ...settings import architecture_of, resolve
from ..limits import Busy
from ..state import WebState
from ..training import TrainingJob, TrainingSettings
from ..validation import (
    LIMITS,
    ApiError,
    allowed,
    bad,
    check_speed,
    conflict,
    get_choice,
    get_float,
    get_int,
    query_int,
    read_json,
)
from .broadcast import Broadcast, whole
from .common import reply, web

SETTINGS_FIELDS = {"preset", "hidden", "activation", "epochs", "batch_size", "learning_rate",
                   "optimizer", "train_examples", "test_examples", "seed", "schedule",
                   "min_learning_rate", "weight_decay", "examples_per_second", "measure",
                   "start_from"}


def _hidden(data: dict[str, Any]) -> list[int] | None:
    hidden = data.get("hidden")
    if hidden is None:
        return None
    lo, hi = LIMITS["hidden_layers"]
    if not isinstance(hidden, list) or not lo <= len(hidden) <= hi:
        raise bad(f"hidden must be a list of {lo} to {hi} layer sizes")
    return [get_int({"hidden layer size": h}, "hidden layer size", *LIMITS["hidden_size"])
            for h in hidden]


def _start(state: WebState, data: dict[str, Any]) -> Network | None:
    """With ``"start_from": "model"``, the model in use, whose architecture the run keeps
    (``hidden`` and ``activation`` refused: they would make another network), as
    ``nudge train --start-from`` does; None: a new network."""
    if get_choice(data, "start_from", ["model"], None) is None:
        return None
    net = state.require_net()
    for field in ("hidden", "activation"):
        if field in data:
            raise bad(f"{field}: the network is the model in use "
                      f"({'-'.join(map(str, net.sizes))}, {net.activation}) when training it "
                      f"further; leave {field} out, or start a new network")
    try:
        d = state.data_for(net)        # its inputs are the page's images' pixels
        if net.sizes[-1] != len(d.classes):
            raise conflict(f"the model in use has {net.sizes[-1]} outputs but the {d.name} "
                           f"images have {len(d.classes)} classes")
    except ApiError as e:
        raise conflict(f"{e.message}: it cannot be trained further on them; start a new "
                       "network") from None
    return net


def training_settings(state: WebState, data: dict[str, Any]) -> TrainingSettings:
    """The request's set-up: the preset with the fields given applied, by
    :func:`nudge.settings.resolve` (the CLI's rules); every field checked."""
    allowed(data, SETTINGS_FIELDS)
    preset_name = get_choice(data, "preset", list(PRESETS) + ["custom"], DEFAULT_PRESET)
    start = _start(state, data)
    hidden = _hidden(data)
    d = state.data()
    architecture: dict[str, Any] = (
        {"hidden": hidden, "activation": get_choice(data, "activation", ACTIVATIONS, None)}
        if start is None else architecture_of(start))
    n_train = min(get_int(data, "train_examples", *LIMITS["train_examples"],
                          min(len(d.X_train), LIMITS["train_examples"][1])), len(d.X_train))
    batch_size = get_int(data, "batch_size", *LIMITS["batch_size"], None)
    try:
        setup = resolve(
            DEFAULT_PRESET if preset_name == "custom" else preset_name,
            n_inputs=d.n_inputs, n_classes=len(d.classes), **architecture,
            epochs=get_int(data, "epochs", *LIMITS["epochs"], None),
            batch_size="preset" if batch_size is None else batch_size,
            learning_rate=get_float(data, "learning_rate", *LIMITS["learning_rate"], None),
            schedule=get_choice(data, "schedule", FIXED_SCHEDULES, None),
            min_learning_rate=get_float(data, "min_learning_rate", *LIMITS["min_learning_rate"],
                                        None),
            weight_decay=get_float(data, "weight_decay", *LIMITS["weight_decay"], None),
            optimizer=get_choice(data, "optimizer", OPTIMIZERS, "sgd"))
    except NudgeError as e:
        # the core names CLI flags (--min-learning-rate): the page's fields are min_learning_rate
        raise bad(re.sub(r"--([a-z-]+)", lambda m: m[1].replace("-", "_"), str(e))) from None
    if preset_name == "custom":
        setup = dataclasses.replace(setup, preset="custom")
    try:
        check_batch_fits(setup.batch_size, n_train, "batch_size", fix="choose at most {n}")
    except NudgeError as e:
        raise bad(str(e)) from None
    speed = get_float(data, "examples_per_second", *LIMITS["examples_per_second"], None)
    check_speed(speed, setup.batch_size or n_train)
    measure = data.get("measure", False)
    if not isinstance(measure, bool):
        raise bad("measure must be true or false")
    return TrainingSettings(
        setup, train_examples=n_train,
        test_examples=min(get_int(data, "test_examples", *LIMITS["test_examples"],
                                  len(d.X_test)), len(d.X_test)),
        seed=get_int(data, "seed", *LIMITS["seed"], random_seed()),
        examples_per_second=speed, measure=measure,
        # for a model trained further, its record is made as the run starts (train_start)
        started_from=None if start is None else {})


def finished(state: WebState, job: TrainingJob) -> None:
    """When a run ends: what it was, in the network's metadata (saved with it)."""
    last = job.epochs[-1].record if job.epochs else None
    training = job.settings.to_dict()
    started = training.pop("started_from")
    job.net.metadata = {
        "dataset": job.dataset, "preset": job.settings.setup.preset,
        **({"started_from": started} if started is not None else {}),
        "training": training, "epochs_trained": len(job.epochs),
        "stopped": job.outcome, "test_accuracy": last.test_accuracy if last else None,
        "test_cost": last.test_cost if last else None,
        "train_seconds": round(job.train_seconds, 4), "n_train": len(job.X_train),
        "n_test": len(job.X_test) if job.X_test is not None else 0,
        "history": [e.to_dict() for e in job.epochs], "trained_on": "nudge serve",
    }
    with state.lock:
        state.version += 1


async def train_start(request: Request) -> Response:
    state = web(request)
    data = await read_json(request)
    await run_in_threadpool(state.data)
    settings = training_settings(state, data)
    with state.lock:
        state.require_idle("start another")
        d = state.data()
        n, m = settings.train_examples, settings.test_examples
        if settings.started_from is None:
            net = settings.setup.network(settings.seed)
        else:                  # a copy: the model in use keeps what it was (its source too)
            start, setup = state.require_net(), settings.setup
            # the set-up was resolved for the model in use then, outside the lock
            if architecture_of(start) != setup.architecture():
                raise conflict("the model in use changed while the run was set up: press "
                               "Start again")
            net = start.copy()
            settings.started_from = start_record(
                state.label(state.source) or "the model in use", start,
                start.score(d.X_test[:m], d.y_test[:m]) if m else None)
        job = TrainingJob(net, settings, d.X_train[:n], d.y_train[:n], d.X_test[:m],
                          d.y_test[:m], dataset=d.name)
        job.on_end = lambda j: finished(state, j)
        state.job = job
        state.page_net = net
        state.use("page")
        job.start()
    further = (f" further, from {settings.started_from['model']}"
               if settings.started_from is not None else "")
    return reply({"ok": True, "message": f"training {'-'.join(map(str, settings.setup.sizes))}"
                  f"{further} on {n:,} {d.name} images", "training": job.summary()})


def _job(request: Request) -> TrainingJob:
    job = web(request).job
    if job is None:
        raise conflict("no training run has been started")
    return job


async def _empty_body(request: Request) -> TrainingJob:
    allowed(await read_json(request), set())
    return _job(request)


async def train_pause(request: Request) -> Response:
    job = await _empty_body(request)
    if not job.pause():
        raise conflict(f"training is {job.state}, not running: nothing to pause")
    return reply({"ok": True, "training": job.summary()})


async def train_resume(request: Request) -> Response:
    job = await _empty_body(request)
    if not job.resume():
        raise conflict(f"training is {job.state}, not paused: nothing to resume")
    return reply({"ok": True, "training": job.summary()})


async def train_step(request: Request) -> Response:
    job = await _empty_body(request)
    if not job.step_once():
        raise conflict(f"training has ended ({job.state}): nothing to step")
    return reply({"ok": True, "training": job.summary()})


async def train_set(request: Request) -> Response:
    """A new speed limit and/or learning rate (null: full speed / back to the schedule)."""
    data = await read_json(request)
    allowed(data, {"examples_per_second", "learning_rate"})
    job = _job(request)
    if not job.active:
        raise conflict(f"training has ended ({job.state})")
    if "examples_per_second" in data:
        speed = data["examples_per_second"]
        if speed is not None:
            speed = get_float(data, "examples_per_second", *LIMITS["examples_per_second"])
        check_speed(speed, job.settings.batch_size)
        job.set_speed(speed)
    if "learning_rate" in data:
        lr = data["learning_rate"]
        if lr is not None:
            lr = get_float(data, "learning_rate", *LIMITS["learning_rate"])
        job.set_learning_rate(lr)
    return reply({"ok": True, "training": job.summary()})


STOP_WAIT = 30.0           # seconds a stop or reset waits for the run to end before replying


async def _until_ended(job: TrainingJob) -> None:
    """Wait until the run has ended (it stops between two calls of the engine, which can take
    seconds), at most :data:`STOP_WAIT`: on the event loop, so stops pressed many times hold
    no worker thread (those are for predictions and the like)."""
    end = time.monotonic() + STOP_WAIT
    while not job.ended and time.monotonic() < end:
        await asyncio.sleep(0.02)


async def train_stop(request: Request) -> Response:
    job = await _empty_body(request)
    if not job.active:
        raise conflict(f"training has already ended ({job.state})")
    job.stop(wait=None)
    await _until_ended(job)
    return reply({"ok": True, "training": job.summary()})


async def train_reset(request: Request) -> Response:
    state = web(request)
    allowed(await read_json(request), set())
    with state.lock:              # one step: no start can slip in between the stop and the clear
        job = state.job
        if job is not None:
            job.stop(wait=None)
        state.job = None
        state.page_net = None
        if state.source == "page":
            state.net, state.source = None, None
            if state.file_net is not None:
                state.use("file")
        state.version += 1
    if job is not None:           # reply once the old run has ended (it stops between calls)
        await _until_ended(job)
    return reply({"ok": True, "model": state.model_info()})


async def train_state(request: Request) -> Response:
    """The run's summary and the model in use; with ``live=1``, the whole run as the live
    stream sends it to a page that opens (its cost curve, weight pictures): what a page
    refused a stream (too many pages watch) reads every few seconds instead."""
    state = web(request)
    if query_int(request, "live", 0, 1, 0):
        job = state.job
        msg = whole(state, job, job.points if job is not None else [])
        return reply({**msg, "server": request.app.state.server_id})
    return reply({"training": state.job.summary() if state.job else None,
                  "model": state.model_info()})


MAX_STREAMS = 64           # live streams open at once (a page holds one; more are refused):
#                            a class and its teacher, half the connections (web_streams.py)


def broadcast(request: Request) -> Broadcast:
    """The app's :class:`Broadcast` in the running event loop."""
    app, loop = request.app.state, asyncio.get_running_loop()
    if loop not in app.broadcasts:
        app.broadcasts[loop] = Broadcast(web(request), app.stream_interval, app.server_id)
    return app.broadcasts[loop]


class CountedStream(StreamingResponse):
    """A live stream, counted in ``app.state.streams`` and fed by the app's broadcast from
    the moment it is granted until its response has ended, however it ends."""

    def __init__(self, request: Request, max_events: int, **options: Any) -> None:
        self.app, self.broadcast = request.app.state, broadcast(request)
        self.queue = self.broadcast.open()
        super().__init__(self.broadcast.events(max_events, self.queue), **options)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.app.streams -= 1
            self.broadcast.close(self.queue)


STREAM_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


async def train_stream(request: Request) -> Response:
    max_events = query_int(request, "max_events", 0, 1_000_000, 0)
    app = request.app.state
    if app.streams >= MAX_STREAMS:   # HEAD too: how the page learns why it was refused
        raise Busy(429, f"{MAX_STREAMS} live streams are open already: close a tab of the "
                   "page", retry_after=5)
    if request.method == "HEAD":     # the headers alone: a stream that never ends would hold
        return Response(media_type="text/event-stream", headers=STREAM_HEADERS)  # a slot
    app.streams += 1         # at once: streams asked for together do not all pass the check
    return CountedStream(request, max_events, media_type="text/event-stream",
                         headers=STREAM_HEADERS)
