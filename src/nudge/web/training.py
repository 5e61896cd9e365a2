"""A training run the web page can watch and steer.

The run is :func:`nudge.train.train` (the one training loop, on the compiled
engine where it applies) in a background thread, steered by a
:class:`nudge.control.Control`: pause, resume, stop, one mini-batch at a time, a
speed limit in examples per second, a new learning rate.  Its callbacks keep a
few numbers a watcher can read at any moment without stopping it:

* the cost of the last mini-batch (``Progress.batch``), *sampled*: at most one
  sample every :data:`SAMPLE_GAP` seconds, at most :data:`SAMPLE_ROWS` examples
  each, and never more than :data:`SAMPLE_BUDGET` of the run's time spent on
  them; the samples are smoothed by an exponential moving average over the
  examples seen (:func:`smoothed`);
* a curve of (examples seen, smoothed cost) points, one per sample;
* per epoch: :class:`nudge.history.EpochRecord` (test cost, test accuracy, η),
  the examples seen so far and the mean sampled mini-batch cost;
* examples per second (wall clock) over the last half second;
* warnings a learner should see: the cost rising, accuracy near chance, dead
  or saturated hidden neurons, and divergence (what to try is in each one);
* when asked for, the curvature and noise panel's measurements
  (:mod:`nudge.web.measure`, on a copy of the network handed over between two steps).

Readers (the server's event stream) only read these fields; they never take a
lock the training thread waits for, so watching costs the run almost nothing
(``benchmarks/web_training_speed.py`` measures it).
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..control import Control, Progress
from ..display import counted
from ..errors import DivergenceError
from ..history import EpochRecord, History
from ..network import Network
from ..settings import TrainingSetup
from ..train import near_chance, train
from . import advice
from .measure import Measurements

SAMPLE_GAP = 0.005           # at least this long between two cost samples...
SAMPLE_BUDGET = 0.03         # ...at most this share of the training time spent on them...
SAMPLE_ROWS = 1000           # ...and at most this many examples in one sample
EMA = 0.9                    # smoothing of the sampled mini-batch costs (smoothed)...
SMOOTHING_SPAN = 0.05        # ...over about this share of the run's examples
MAX_CURVE_POINTS = 20000     # the curve is thinned to half when it grows past this
RATE_WINDOW = 0.5            # seconds over which examples per second are counted
CHECK_EXAMPLES = 1000        # images for the starting cost and (test) the dead-neuron check
ACTIVE = ("running", "paused", "stopping")


def smoothed(previous: float | None, cost: float, examples_since: int, span: float) -> float:
    """The moving average of the sampled costs with ``cost`` added, ``examples_since``
    examples after the sample before: the new sample weighs 1 − e^(−examples_since/span),
    and at least 1 − EMA.  Averaged over examples, not samples, so that a run too short or
    too fast for many samples (20,000 examples take 0.01 s) shows its cost now, not one
    stuck near its start."""
    if previous is None:
        return cost
    weight = max(1 - EMA, -math.expm1(-examples_since / span))
    return previous + weight * (cost - previous)


#: each job's number: the page tells a reply about one run from the stream's news of it
_RUNS = itertools.count(1)


@dataclass
class TrainingSettings:
    """What the page asked for: the resolved set-up (:func:`nudge.settings.resolve`),
    how many training and test images, the seed, and a starting speed."""

    setup: TrainingSetup
    train_examples: int
    test_examples: int
    seed: int
    examples_per_second: float | None = None     # None: full speed
    measure: bool = False      # the curvature (λ_max) and noise (B_simple) panel, live
    # the model in use it trains further (nudge.modelfile.start_record); None: a new network
    started_from: dict[str, Any] | None = None

    @property
    def epochs(self) -> int:
        return self.setup.epochs

    @property
    def batch_size(self) -> int:
        return self.setup.batch_size or self.train_examples

    def to_dict(self) -> dict[str, Any]:
        return {**self.setup.to_dict(), "train_examples": self.train_examples,
                "test_examples": self.test_examples, "seed": self.seed,
                "measure": self.measure, "started_from": self.started_from}


@dataclass
class EpochView:
    """One epoch as the page shows it: the trainer's record, where it ended on the
    curve (examples seen) and the mean of its sampled mini-batch costs."""

    record: EpochRecord
    examples: int
    batch_cost: float | None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self.record), "examples": self.examples, "batch_cost": self.batch_cost}


class TrainingJob:
    """One training run, started with :meth:`start`; all attributes are safe to read."""

    def __init__(self, net: Network, settings: TrainingSettings, X_train: np.ndarray,
                 y_train: np.ndarray, X_test: np.ndarray | None = None,
                 y_test: np.ndarray | None = None, dataset: str = "") -> None:
        self.net, self.settings, self.dataset = net, settings, dataset
        self.run = next(_RUNS)
        self.X_train, self.y_train = X_train, np.asarray(y_train)
        has_test = X_test is not None and len(X_test) > 0
        self.X_test = X_test if has_test else None
        self.y_test = np.asarray(y_test) if has_test else None
        self.control = Control()
        if settings.examples_per_second is not None:
            self.control.set_speed(settings.examples_per_second)
        self.state = "ready"     # ready, running, paused, stopping, finished, stopped, failed
        self.message = ""
        self.epoch = 0           # the epoch under way (1-based), or the last one finished
        self.step = 0
        self.seen = 0            # examples processed in all
        self.learning_rate = settings.setup.learning_rate    # η of the last step
        self.smoothed_cost: float | None = None
        self._watch = advice.CostWatch(None, None)   # the sampled costs judged mid-epoch
        # measured over RATE_WINDOW; None until then (the page shows "–", not 0), and again
        # after a resume or a new speed, until it is measured at that speed
        self.examples_per_second: float | None = None
        self.train_seconds = 0.0       # time spent taking steps (pauses, callbacks excluded)
        self.points: list[tuple[int, float]] = []     # thinned into a new list
        self.epochs: list[EpochView] = []
        self.warnings: list[dict[str, str]] = []
        self.dead_neurons: list[int] = []      # per hidden layer, after the last epoch
        self.engine: dict[str, Any] = {}       # which engine ran (known once the run ends)
        #: the curvature and noise panel (measured when settings.measure, read as .insight)
        self.measurements = Measurements(X_train, self.y_train, settings.batch_size,
                                         lambda: self.active, self._warn, self._bump)
        self.version = 0         # bumps whenever anything above changes in a visible way
        self._version_lock = threading.Lock()
        #: the state's changes: a pause or stop pressed as the run ends must not leave a
        #: finished run "paused" or "stopping"
        self._state_lock = threading.RLock()
        self.total_examples = settings.epochs * len(X_train)
        self.on_end: Callable[[TrainingJob], Any] | None = None   # called when the run ends
        self._thread: threading.Thread | None = None
        self._sample_time = 0.0
        self._last_sample = 0.0
        self._sampled_seen = 0         # examples seen at the last sample
        self._epoch_costs: list[float] = []
        self._started = 0.0
        self._rate_at: tuple[float, int] | None = None
        self._done = threading.Event()        # set as the run ends, after on_end
        #: how the run ended ("finished", "stopped", "failed"), known to on_end before
        #: ``state`` says so (None while it runs)
        self.outcome: str | None = None

    # ------------------------------------------------------------------ control
    def _bump(self) -> None:
        """A visible change: the stream sends an update.  Under a lock, because the training
        thread and the server's handlers (pause, step) bump it at the same time, and a lost
        bump would leave the page without the update."""
        with self._version_lock:
            self.version += 1

    def start(self) -> None:
        self.state = "running"
        self._bump()
        self._thread = threading.Thread(target=self._main, name="nudge-training", daemon=True)
        self._thread.start()

    def pause(self) -> bool:
        with self._state_lock:
            if self.state != "running":
                return False
            self.control.pause()
            self.state = "paused"
        self._bump()
        return True

    def resume(self) -> bool:
        with self._state_lock:
            if self.state != "paused":
                return False
            self._rate_at = self.examples_per_second = None
            self.state = "running"
            self.control.resume()
        self._bump()
        return True

    def step_once(self) -> bool:
        """Take one mini-batch step and stay paused (pausing first if running)."""
        with self._state_lock:
            if self.state == "running":
                self.pause()
            if self.state != "paused":
                return False
            self.control.step()
        return True

    def set_speed(self, examples_per_second: float | None) -> None:
        self._rate_at = self.examples_per_second = None
        self.control.set_speed(examples_per_second)
        self._bump()

    def set_learning_rate(self, learning_rate: float | None) -> None:
        self.control.set_learning_rate(learning_rate)
        self._bump()

    def stop(self, wait: float | None = 10.0) -> None:
        """Stop after the current call of the engine (the network keeps what it learned)."""
        with self._state_lock:
            stopping = self.active
            if stopping:
                self.state = "stopping"
                self.control.stop()
        if stopping:
            self._bump()
        if wait and self._thread is not None:
            self._thread.join(wait)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def insight(self) -> list[dict[str, Any]]:
        """The curvature and noise measurements so far (none unless ``settings.measure``)."""
        return self.measurements.points

    @property
    def ended(self) -> bool:
        """Whether the run's thread has ended (``on_end`` called), as ``join`` waits for."""
        return self._thread is None or not self._thread.is_alive()

    # ------------------------------------------------------------------ the run
    def _main(self) -> None:
        s = self.settings
        test = (self.X_test, self.y_test) if self.X_test is not None else None
        self._started = time.perf_counter()
        if self.settings.measure:
            self.measurements.start()
        outcome, message = "failed", "training failed"     # (unless told how below)
        try:
            self._watch = advice.CostWatch.for_run(
                self.net, self.X_train[:CHECK_EXAMPLES], self.y_train[:CHECK_EXAMPLES],
                self.total_examples, len(self.X_train))
            history = train(self.net, self.X_train, self.y_train, **s.setup.train_options(),
                            test_data=test, seed=s.seed, callback=self._on_epoch,
                            on_steps=self._on_steps, control=self.control,
                            monitor_train_cost=False)
            with self._state_lock:
                outcome, message = self._ended(history)
        except DivergenceError as e:
            with self._state_lock:
                outcome, message = self._diverged(e)
        except Exception as e:  # pragma: no cover - reported on the page, never swallowed
            outcome, message = "failed", f"training failed: {type(e).__name__}: {e}"
        finally:
            self.outcome = outcome
            self.measurements.finish()
            # the run's record first (on_end: the network's metadata), then its end: a
            # client told "finished" may at once save the model or train it further
            try:
                if self.on_end is not None:
                    self.on_end(self)
            finally:
                with self._state_lock:          # a pause or stop meanwhile: the end wins
                    self.state, self.message = outcome, message
                self._done.set()
                self._bump()

    def _on_steps(self, p: Progress, net: Network) -> None:
        """After a call of the engine: progress, a sampled cost, the speed."""
        now = time.perf_counter()
        if p.epoch != self.epoch:
            self.epoch, self._epoch_costs = p.epoch, []
        self.step, self.seen, self.learning_rate = p.step, p.seen, p.learning_rate
        self.train_seconds = p.seconds
        if (self.smoothed_cost is None or now - self._last_sample >= SAMPLE_GAP
                and self._sample_time <= SAMPLE_BUDGET * (now - self._started)):
            self._sample(p.batch[:SAMPLE_ROWS], net)
            self._last_sample = time.perf_counter()
            self._sample_time += self._last_sample - now
        self.measurements.offer(net, p)        # a copy between two steps, if it asks
        rate_at = self._rate_at        # read once: a new speed or a resume clears it meanwhile
        if rate_at is None:
            self._rate_at = (now, p.seen)
        elif now - rate_at[0] >= RATE_WINDOW:
            self.examples_per_second = (p.seen - rate_at[1]) / (now - rate_at[0])
            self._rate_at = (now, p.seen)
        self._bump()

    def _sample(self, batch: np.ndarray, net: Network) -> None:
        with np.errstate(all="ignore"):
            c = net.cost(self.X_train[batch], self.y_train[batch])
        if not math.isfinite(c):
            self._warn(*advice.cost_infinite())
            return
        self._epoch_costs.append(c)
        self.smoothed_cost = smoothed(self.smoothed_cost, c, self.seen - self._sampled_seen,
                                      max(1.0, SMOOTHING_SPAN * self.total_examples))
        self._sampled_seen = self.seen
        found = self._watch.add(c, self.smoothed_cost, self.seen)
        if "rising" in found:
            self._warn(*advice.cost_rising())
        if "stuck" in found and self.X_test is not None and self.y_test is not None:
            n = CHECK_EXAMPLES                    # worse than a guess: the accuracy says
            self._check_chance(net.score(self.X_test[:n], self.y_test[:n]), net.sizes[-1])
        self._add_point(self.seen, self.smoothed_cost)

    def _on_epoch(self, record: EpochRecord, net: Network) -> None:
        mean = float(np.mean(self._epoch_costs)) if self._epoch_costs else None
        self.epochs.append(EpochView(record, self.seen, mean))
        if self.smoothed_cost is not None:
            self._add_point(self.seen, self.smoothed_cost)
        self._check(record, net)
        self._bump()

    def _ended(self, history: History) -> tuple[str, str]:
        """The run's last figures; its end state and message (set once on_end has run)."""
        for record in history.epochs[len(self.epochs):]:     # a stopped, partial epoch
            self.epochs.append(EpochView(record, self.seen, None))
        self.engine = history.engine
        self.train_seconds = history.train_seconds
        if history.stopped == "finished":
            return "finished", f"finished {counted(self.settings.epochs, 'epoch')}"
        return "stopped", f"stopped after {self.seen:,} examples"

    def _diverged(self, e: DivergenceError) -> tuple[str, str]:
        if e.history is not None:
            self.engine = {k: e.history.settings.get(k) for k in ("engine", "kernel")}
        lr = e.learning_rate or self.learning_rate   # the η that blew up (set on the page too)
        self._warn(*advice.diverged(lr))
        return "failed", (f"training diverged in epoch {self.epoch} (the cost became NaN or "
                          f"infinite) with learning rate {lr:g}; the network is back where it "
                          "was at the start of that epoch")

    # ------------------------------------------------------------------ warnings
    def _warn(self, kind: str, text: str, advice: str) -> None:
        if any(w["kind"] == kind for w in self.warnings):
            return
        self.warnings = [*self.warnings, {"kind": kind, "text": text, "advice": advice}]
        self._bump()

    def _check(self, record: EpochRecord, net: Network) -> None:
        """After an epoch: accuracy near chance (also checked mid-epoch, when the sampled
        costs say so: :class:`nudge.web.advice.CostWatch`), dead hidden neurons."""
        self._check_chance(record.test_accuracy, net.sizes[-1], record.epoch)
        X = self.X_test if self.X_test is not None else self.X_train
        self.dead_neurons = advice.dead_neurons(net, X[:CHECK_EXAMPLES])
        dead, hidden = sum(self.dead_neurons), sum(net.sizes[1:-1])
        if advice.too_many_dead(dead, hidden):
            self._warn(*advice.dead(dead, hidden, net.activation))

    def _check_chance(self, accuracy: float | None, classes: int,
                      epoch: int | None = None) -> None:
        """Near chance: warned of; no longer so after an epoch: the warning says it rose."""
        if accuracy is not None and near_chance(accuracy, classes):
            self._warn(*advice.near_chance(accuracy, classes, self.settings.setup,
                                           self.control.learning_rate,
                                           sum(e.record.complete for e in self.epochs)))
        elif accuracy is not None and epoch is not None and (
                marked := advice.since_risen(self.warnings, accuracy, epoch)) is not None:
            self.warnings = marked
            self._bump()

    def _add_point(self, seen: int, cost: float) -> None:
        if self.points and self.points[-1][0] == seen:
            return
        self.points.append((seen, cost))
        if len(self.points) > MAX_CURVE_POINTS:
            # every other point, in a new list: a reader tells a thinned curve by that alone
            self.points = self.points[::2]

    # ------------------------------------------------------------------ what watchers read
    def summary(self, epochs: list[Any] | None = None,
                insight: list[Any] | None = None) -> dict[str, Any]:
        """What a watcher reads; ``epochs`` and ``insight``: the run's lists as the caller
        read them (the live stream records what it sent of them), else read now."""
        epochs = self.epochs if epochs is None else epochs
        last = epochs[-1].record if epochs else None
        c = self.control
        return {
            "version": self.version,    # read first: the rest is at least this new
            "run": self.run, "state": self.state, "message": self.message, "epoch": self.epoch,
            "epochs": self.settings.epochs, "step": self.step, "seen": self.seen,
            "total_examples": self.total_examples, "dataset": self.dataset,
            "smoothed_cost": self.smoothed_cost,
            "examples_per_second": self.examples_per_second,
            "train_seconds": self.train_seconds,
            "test_accuracy": last.test_accuracy if last else None,
            "learning_rate": self.learning_rate,
            "learning_rate_override": c.learning_rate,
            "speed": c.examples_per_second, "held": c.held,    # paused, nothing under way
            "settings": self.settings.to_dict(),
            "epoch_results": [e.to_dict() for e in epochs],
            "warnings": self.warnings, "dead_neurons": self.dead_neurons,
            "engine": self.engine, "insight": self.insight if insight is None else insight,
        }
