"""A training run the web page can watch, pause, resume and stop.

The run drives stochastic gradient descent itself, one mini-batch at a time,
with the same pieces as :func:`nudge.train.train` (``Network.backprop`` and
the optimisers of :mod:`nudge.train`), in a background thread.  It keeps a
few numbers a watcher can read at any moment without stopping it:

* the cost of the current mini-batch, *sampled*: computing a mini-batch's
  cost costs about half a step, so it is measured only every few
  milliseconds, and never more often than keeps that work under ~3% of the
  training time; the samples are smoothed by an exponential moving average;
* a curve of (examples seen, smoothed cost) points, one every 50 ms;
* per epoch: test cost, test accuracy, and the mean sampled mini-batch cost;
* examples per second over the last half second.

Readers (the server's event stream) only read these fields; they never take
a lock the training thread waits for, so watching costs the run almost
nothing (see ``benchmarks/web_stream_overhead.py``).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..network import Network, desired_outputs
from ..train import evaluate, learning_rate_at, make_optimizer

POINT_INTERVAL = 0.05        # seconds between two points of the cost curve
SAMPLE_GAP = 0.005           # at least this long between two cost samples...
SAMPLE_BUDGET = 0.03         # ...and at most this share of the time spent on them
EMA = 0.9                    # smoothing of the sampled mini-batch costs
MAX_POINTS = 20000           # the curve is thinned to half when it grows past this


@dataclass
class TrainingSettings:
    sizes: list[int]
    activation: str = "sigmoid"
    output: str = "sigmoid"
    cost: str = "quadratic"
    init: str = "scaled"
    epochs: int = 3
    batch_size: int = 10
    learning_rate: float = 3.0
    schedule: str = "constant"          # or "cosine", as in nudge.train
    min_learning_rate: float = 0.0
    weight_decay: float = 0.0
    optimizer: str = "sgd"
    train_examples: int = 60000
    test_examples: int = 10000
    seed: int = 0
    preset: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class EpochResult:
    epoch: int
    test_cost: float | None
    test_accuracy: float | None
    batch_cost: float | None        # mean of this epoch's sampled mini-batch costs
    seconds: float                  # time spent on steps (pauses excluded)
    examples: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class TrainingJob:
    """One training run, started with :meth:`start`; all fields are safe to read."""

    net: Network
    settings: TrainingSettings
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    dataset: str = ""

    state: str = "ready"           # ready, running, paused, stopping, finished, stopped, failed
    message: str = ""
    epoch: int = 0                 # the epoch under way (1-based), or the last one finished
    step: int = 0
    seen: int = 0                  # examples processed in all
    smoothed_cost: float | None = None
    examples_per_second: float = 0.0
    train_seconds: float = 0.0     # time spent training, pauses excluded
    points: list[tuple[int, float]] = field(default_factory=list)
    points_dropped: int = 0        # how often the curve has been thinned
    epochs: list[EpochResult] = field(default_factory=list)
    version: int = 0               # bumps whenever anything above changes in a visible way

    def __post_init__(self) -> None:
        self._run = threading.Event()
        self._run.set()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._elapsed_before = 0.0
        self.on_end: Callable[[TrainingJob], Any] | None = None   # called when the run ends
        self.total_examples = self.settings.epochs * len(self.X_train)

    # ------------------------------------------------------------------ control
    def start(self) -> None:
        self.state = "running"
        self.version += 1
        self._thread = threading.Thread(target=self._main, name="nudge-training", daemon=True)
        self._thread.start()

    def pause(self) -> bool:
        if self.state != "running":
            return False
        self._run.clear()
        self.state = "paused"
        self.version += 1
        return True

    def resume(self) -> bool:
        if self.state != "paused":
            return False
        self.state = "running"
        self._run.set()
        self.version += 1
        return True

    def stop(self, wait: float | None = 10.0) -> None:
        """Stop after the current step (the network keeps what it learned)."""
        if self.active:
            self._stop = True
            self.state = "stopping"
            self._run.set()
            self.version += 1
        if wait and self._thread is not None:
            self._thread.join(wait)

    @property
    def active(self) -> bool:
        return self.state in ("running", "paused", "stopping")

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    # ------------------------------------------------------------------ the loop
    def _main(self) -> None:
        try:
            self._train()
        except Exception as e:  # pragma: no cover - reported on the page, never swallowed
            self.state = "failed"
            self.message = f"training failed: {type(e).__name__}: {e}"
            self.version += 1
        finally:
            if self.on_end is not None:
                self.on_end(self)

    def _train(self) -> None:
        s = self.settings
        net = self.net
        X = self.X_train
        Y = desired_outputs(self.y_train, net.sizes[-1], net.dtype.type)
        n = len(X)
        opt = make_optimizer(s.optimizer, s.learning_rate, weight_decay=s.weight_decay)
        rng = np.random.default_rng(s.seed)
        clock = time.perf_counter
        last_point = last_rate_time = last_sample = clock()
        rate_seen = 0
        sample_cost_time = 0.0        # time spent measuring costs (kept under the budget)
        for epoch in range(1, s.epochs + 1):
            self.epoch = epoch
            snapshot = ([w.copy() for w in net.weights], [b.copy() for b in net.biases])
            order = rng.permutation(n)
            opt.learning_rate = learning_rate_at(epoch, s.epochs, s.learning_rate, s.schedule,
                                                 s.min_learning_rate)
            epoch_start = clock()
            paused_in_epoch = 0.0
            costs: list[float] = []
            for start in range(0, n, s.batch_size):
                if not self._run.is_set():                   # paused: wait, not counted
                    t0 = clock()
                    self._run.wait()
                    waited = clock() - t0
                    paused_in_epoch += waited
                    last_point += waited
                    last_rate_time, rate_seen = clock(), 0
                if self._stop:
                    break
                batch = order[start:start + s.batch_size]
                Xb, Yb = X[batch], Y[batch]
                now = clock()
                if (now - last_sample >= SAMPLE_GAP
                        and sample_cost_time <= SAMPLE_BUDGET * max(self.train_seconds, 1e-9)
                        or self.smoothed_cost is None):
                    c = net.cost(Xb, Yb)
                    after = clock()
                    sample_cost_time += after - now
                    last_sample = after
                    if not math.isfinite(c):
                        self._diverged(snapshot, epoch)
                        return
                    costs.append(c)
                    prev = self.smoothed_cost
                    self.smoothed_cost = c if prev is None else EMA * prev + (1 - EMA) * c
                grad_w, grad_b = net.backprop(Xb, Yb)
                opt.step(net, grad_w, grad_b)
                self.step += 1
                self.seen += len(batch)
                rate_seen += len(batch)
                now = clock()
                if now - last_point >= POINT_INTERVAL:
                    self.train_seconds = self._elapsed_before + (now - epoch_start
                                                                 - paused_in_epoch)
                    if self.smoothed_cost is not None:
                        self._add_point(self.seen, self.smoothed_cost)
                    if now - last_rate_time >= 0.5:
                        self.examples_per_second = rate_seen / (now - last_rate_time)
                        last_rate_time, rate_seen = now, 0
                    last_point = now
                    self.version += 1
            seconds = clock() - epoch_start - paused_in_epoch
            self._elapsed_before += seconds
            self.train_seconds = self._elapsed_before
            finite = all(np.isfinite(w).all() for w in net.weights) and all(
                np.isfinite(b).all() for b in net.biases)
            if not finite:
                self._diverged(snapshot, epoch)
                return
            test_cost = test_accuracy = None
            if self.X_test is not None and len(self.X_test):
                test_cost, test_accuracy = evaluate(net, self.X_test, self.y_test)
            if self.smoothed_cost is not None:
                self._add_point(self.seen, self.smoothed_cost)
            self.epochs.append(EpochResult(
                epoch, test_cost, test_accuracy,
                float(np.mean(costs)) if costs else None, seconds, self.seen))
            self.version += 1
            if self._stop:
                break
        if self._stop:
            self.state = "stopped"
            self.message = f"stopped after {self.seen:,} examples"
        else:
            self.state = "finished"
            self.message = f"finished {s.epochs} epoch{'s' if s.epochs != 1 else ''}"
        self.version += 1

    def _add_point(self, seen: int, cost: float) -> None:
        if self.points and self.points[-1][0] == seen:
            return
        self.points.append((seen, cost))
        if len(self.points) > MAX_POINTS:
            # keep every other point; readers re-read the curve when points_dropped changes
            self.points = self.points[::2]
            self.points_dropped += 1

    def _diverged(self, snapshot: tuple[list, list], epoch: int) -> None:
        self.net.weights, self.net.biases = snapshot
        lr = self.settings.learning_rate
        self.state = "failed"
        self.message = (f"training diverged in epoch {epoch} (the cost became NaN or infinite) "
                        f"with learning rate {lr:g}: try a smaller one, e.g. {lr / 10:g}; the "
                        "network is back where it was at the start of that epoch")
        self.version += 1

    # ------------------------------------------------------------------ what watchers read
    def summary(self) -> dict[str, Any]:
        last = self.epochs[-1] if self.epochs else None
        return {
            "state": self.state, "message": self.message, "epoch": self.epoch,
            "epochs": self.settings.epochs, "step": self.step, "seen": self.seen,
            "total_examples": self.total_examples, "dataset": self.dataset,
            "smoothed_cost": self.smoothed_cost,
            "examples_per_second": self.examples_per_second,
            "train_seconds": self.train_seconds,
            "test_accuracy": last.test_accuracy if last else None,
            "settings": self.settings.as_dict(),
            "epoch_results": [e.as_dict() for e in self.epochs],
        }
