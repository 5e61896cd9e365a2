"""The live stream's updates, made once for every open stream (:class:`Broadcast`).

An update is made and encoded once per look (at most one per ``interval``, whenever the
run or the model in use changed) and the same bytes are queued to every open stream: a
stream costs the server a queue, not an encoding.  What changes slowly is sent less often
or only when it changes, so that a class of pages watching over one Wi-Fi is not sent the
same bytes 18 times a second (``benchmarks/web_streams.py`` measures the bytes per stream):

* the cost curve and the run's lists that only grow (``epoch_results``, ``insight``) as
  their new items: ``points`` past those sent, and ``from[key]``, the index from which
  ``training[key]`` holds the list's items (0 after the list was thinned);
* the run's parts that seldom change (:data:`STEADY`: its settings, warnings...) and the
  model in use, only when they changed: absent, the page keeps what it has;
* the first-layer weight pictures, the bulk of an update, at most every
  :data:`WEIGHTS_INTERVAL` seconds while the run goes, and only when it changed.

An update with ``replace`` true is whole: all of the above, as ``/api/train/state`` has it.
A stream gets one when it has just opened or fell :data:`QUEUED` updates behind (a slow
client), and every stream when the curve was thinned or a new run began.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from .. import explain
from ..state import WebState
from ..training import TrainingJob
from .common import WEIGHT_PICTURES, dumps

PING_INTERVAL = 5.0         # seconds: an idle stream says it is alive this often
RETRY_MS = 1000            # the browser reconnects this long after losing the stream
QUEUED = 8                 # updates a stream may fall behind by before it is sent all afresh
WEIGHTS_INTERVAL = 0.5     # seconds: the weight pictures at most twice a second in a run
GROWING = ("epoch_results", "insight")     # a run's lists that grow: sent as new items
STEADY = ("settings", "warnings", "dead_neurons", "engine")   # sent when they change

log = logging.getLogger("nudge.web")


class Sent:
    """What every stream in step has been sent of the run (the page keeps it)."""

    def __init__(self) -> None:
        self.lists: dict[str, tuple[int, Any]] = {}     # key: (items sent, the last one)
        self.steady: dict[str, str] = {}                # key: its JSON text
        self.model: str | None = None
        self.weights_version, self.weights_at = -1, 0.0

    def delta(self, summary: dict[str, Any], sources: dict[str, list]) -> dict[str, int]:
        """``summary`` cut down to what changed since; the lists' start indices."""
        start = {}
        for key, items in sources.items():
            n, last = self.lists.get(key, (0, None))
            keep = n if len(items) >= n and (n == 0 or items[n - 1] is last) else 0
            if keep == len(items) and key in self.lists:
                del summary[key]
            else:
                summary[key] = summary[key][keep:]
                start[key] = keep
            self.lists[key] = (len(items), items[-1] if items else None)
        for key in STEADY:
            text = dumps(summary[key])
            if self.steady.get(key) == text:
                del summary[key]
            self.steady[key] = text
        return start


def _lists(job: TrainingJob) -> dict[str, list]:
    """The run's growing lists, each read once (the training thread replaces them)."""
    return {"epoch_results": list(job.epochs), "insight": job.insight}


def _summary(job: TrainingJob, lists: dict[str, list]) -> dict[str, Any]:
    return job.summary(lists["epoch_results"], lists["insight"])


class Broadcast:
    """The live updates of one app (see the module's doc), made and encoded once and the
    same bytes handed to every open stream.  One per event loop, ticking only while a
    stream is open."""

    def __init__(self, state: WebState, interval: float, server: str) -> None:
        self.state, self.interval, self.server = state, interval, server
        self.streams: dict[asyncio.Queue[bytes], bool] = {}   # queue: needs everything
        self.task: asyncio.Task[None] | None = None
        self.job: Any = object()       # nothing sent yet: the first look always reports
        self.cursor = self.last_version = self.last_model = -1
        self.curve: list | None = None  # the job's list of points sent (a thinned curve is
        #                                 a new list: read once, it cannot change under us)
        self.sent = Sent()

    def open(self) -> asyncio.Queue[bytes]:
        queue: asyncio.Queue[bytes] = asyncio.Queue(QUEUED)
        self.streams[queue] = True
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())
        return queue

    def close(self, queue: asyncio.Queue[bytes]) -> None:
        self.streams.pop(queue, None)

    async def _run(self) -> None:
        failing = False
        try:
            while self.streams:
                try:
                    self.tick()
                    failing = False
                except Exception:      # one task feeds every page: it must not end here
                    if not failing:    # (logged once while the looks keep failing)
                        log.exception("the live update failed: the streams get the whole run")
                    failing = True
                    self.job = object()     # the next look starts afresh: the whole run
                await asyncio.sleep(self.interval)
        finally:
            self.task = None

    def _encode(self, msg: dict[str, Any]) -> bytes:
        msg["server"] = self.server
        return f"data: {dumps(msg)}\n\n".encode()

    def _idle(self) -> dict[str, Any]:
        return {"training": None, "model": self.state.model_info()}

    def _whole(self, job: TrainingJob | None, record: bool = False) -> dict[str, Any]:
        """Everything, as a page that just opened needs it; ``record``: sent to every
        stream, whose deltas follow from it."""
        msg, lists = _whole_run(self.state, job, (self.curve or [])[:self.cursor])
        if record and job is not None:
            self.sent = sent = Sent()
            sent.delta(dict(msg["training"]), lists)
            sent.model = dumps(msg["model"])
            sent.weights_version = msg["training"]["version"]
            sent.weights_at = time.monotonic()
        return msg

    def _delta(self, job: TrainingJob, new: list, weights: bool) -> dict[str, Any]:
        """An update of the run for the streams in step: what changed since the last."""
        lists = _lists(job)
        summary = _summary(job, lists)
        msg = {"training": summary, "replace": False, "points": _points(new)}
        start = self.sent.delta(summary, lists)
        if start:
            msg["from"] = start
        if weights:
            self.sent.weights_version, self.sent.weights_at = summary["version"], time.monotonic()
            msg.update(_weights(job))
        model = self.state.model_info()
        if (text := dumps(model)) != self.sent.model:
            self.sent.model = text
            msg["model"] = model
        return msg

    def tick(self) -> None:
        """One look at the run and the model in use: what changed, to every stream."""
        state, msg = self.state, None
        current = state.job
        if current is not self.job:
            self.job, self.cursor, self.curve, self.last_version = current, 0, None, -1
            msg = self._idle() if current is None else None
        job = self.job
        model_changed = state.version != self.last_model   # another tab loaded a model,
        self.last_model = state.version                     # took a hand step...: say so
        if job is not None:
            version, sent = job.version, self.sent
            changed = version != self.last_version
            self.last_version = version
            weights = model_changed or (version != sent.weights_version and (
                job.state != "running" or time.monotonic() - sent.weights_at >= WEIGHTS_INTERVAL))
            if changed or model_changed or weights:
                points = job.points
                replace = points is not self.curve
                if replace:
                    self.cursor, self.curve = 0, points
                new = points[self.cursor:]
                self.cursor += len(new)
                # a new run, or a thinned curve: the whole run to every stream
                msg = self._whole(job, record=True) if replace else self._delta(job, new, weights)
        elif model_changed and msg is None:
            msg = self._idle()
        self._send(job, None if msg is None else self._encode(msg))

    def _send(self, job: TrainingJob | None, update: bytes | None) -> None:
        everything = None
        for queue, fresh in list(self.streams.items()):
            if fresh:
                everything = everything or self._encode(self._whole(job))
            data = everything if fresh else update
            if data is None:
                continue
            if queue.full():               # fell behind: what it has is dropped, and it is
                while not queue.empty():   # sent the whole run at the next look
                    queue.get_nowait()
                self.streams[queue] = True
            else:
                queue.put_nowait(data)
                self.streams[queue] = False

    async def events(self, max_events: int = 0,
                     queue: asyncio.Queue[bytes] | None = None) -> AsyncIterator[bytes]:
        """One stream's server-sent events: the updates, and a ``ping`` event when idle
        (the page reconnects when those stop).  Each update names the server run
        (``server``), so a page that reconnects to a restarted server knows to reload its
        state."""
        yield f"retry: {RETRY_MS}\n\n".encode()
        queue = self.open() if queue is None else queue
        sent = 0
        try:
            while True:
                try:
                    yield await asyncio.wait_for(queue.get(), PING_INTERVAL)
                except asyncio.TimeoutError:    # not the built-in one before Python 3.11
                    yield f"event: ping\ndata: {json.dumps({'server': self.server})}\n\n".encode()
                    continue
                sent += 1
                if max_events and sent >= max_events:
                    return
        finally:
            self.close(queue)


def whole(state: WebState, job: TrainingJob | None, curve: list) -> dict[str, Any]:
    """The whole run (``curve``: its cost curve so far) and the model in use, as an update
    with ``replace`` has it."""
    return _whole_run(state, job, curve)[0]


def _whole_run(state: WebState, job: TrainingJob | None,
               curve: list) -> tuple[dict[str, Any], dict[str, list]]:
    """:func:`whole`, and the run's lists it was made of."""
    if job is None:
        return {"training": None, "model": state.model_info()}, {}
    lists = _lists(job)
    return {"training": _summary(job, lists), "replace": True, "points": _points(curve),
            **_weights(job), "model": state.model_info()}, lists


def _points(points: list) -> list:
    return [[s, round(c, 6)] for s, c in points]


def _weights(job: TrainingJob) -> dict[str, Any]:
    return {"weights": explain.pack_weights_u8(job.net.weights[0][:WEIGHT_PICTURES]),
            "image_side": explain.image_side(job.net.sizes[0])}
