"""Training: stochastic gradient descent, as in the videos.

One *epoch*: shuffle the training examples, split them into *mini-batches*
of ``batch_size``, and take one step downhill per mini-batch using the
gradient of that mini-batch's average cost (an estimate of the true
gradient).  With ``batch_size`` equal to the number of examples this is plain
(full-batch) gradient descent.

How a step uses the gradient (sgd, momentum, adam; weight decay) is in
:mod:`nudge.optimizers`; who computes it (the NumPy reference or the compiled C
kernel) is in :mod:`nudge.engine`.  :func:`train` is the one training loop: the
CLI, the web page, ``nudge descent``, ``nudge stability`` and ``nudge sweep`` all call it, with
callbacks (every k steps, every epoch) and a :class:`Control` (pause, resume,
stop, one mini-batch at a time, a new η, a speed limit) for those that watch.

Learning-rate schedules (constant, cosine, and Nielsen's plateau halving) are in
:mod:`nudge.schedules`.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from .bounds import check_count, check_seed, fixed_seed
from .checks import (
    MAX_EPOCHS,
    check_callables,
    check_data,
    check_held_out,
    check_options,
    check_patience,
)
from .control import Control, CtrlC, EarlyStopping, Progress, callback_steps
from .engine import make_engine
from .errors import DivergenceError, NudgeError
from .history import EpochRecord, History
from .inputs import classes_of
from .network import Network, Snapshot, activate
from .optimizers import DEFAULT_MOMENTUM
from .schedules import learning_rate_at, plateau_floor
from .settings import TrainingSetup, applicable

#: examples per call of the engine when nothing asks for more frequent calls: between
#: calls Ctrl-C is honoured, the progress bar moves and the network is checked for NaN
EXAMPLES_PER_CALL = 5000


# --------------------------------------------------------------------------- evaluation
def evaluate(net: Network, X: Any, y: Any, chunk: int = 2000,
             output_sums: np.ndarray | None = None) -> tuple[float, float]:
    """(average cost C, accuracy) over a data set: the one way nudge measures a data set
    (:func:`nudge.insight.total_cost` is its C; :meth:`Network.cost` the same C in one pass,
    averaged in the network's float type).

    In chunks of ``chunk`` examples so memory stays small; the products are in the
    network's float type and the sum of the Cₓ in float64.  ``y`` holds labels or
    desired-output rows (a row's class is its largest entry).  ``output_sums``: the
    rows' zᴸ, already worked out (the fast engine's forward pass), instead of
    :meth:`Network.forward`'s."""
    X, y = check_data(net, X, y)
    n = len(X)
    if n == 0:
        raise NudgeError("cannot evaluate on an empty data set")
    chunk = check_count("chunk", chunk)
    total_cost, correct = 0.0, 0
    if output_sums is not None:
        if output_sums.shape != (n, net.sizes[-1]):
            raise NudgeError(f"output sums of shape {output_sums.shape} for {n} examples")
        chunk = n                  # already in memory: the rest is n x outputs numbers
    for start in range(0, n, chunk):
        yc = np.asarray(y[start:start + chunk])
        if output_sums is None:
            activations, zs = net.forward(X[start:start + chunk])  # one pass for both
            z, out = zs[-1], activations[-1]
        else:
            z = output_sums[start:start + chunk]
            out = activate(net.output, z)
        costs = net.output_costs(out, z, net.desired_outputs(yc))
        total_cost += float(np.sum(costs, dtype=np.float64))
        correct += int(np.sum(np.argmax(out, axis=1) == classes_of(yc, net.sizes[-1])))
    return total_cost / n, correct / n


def near_chance(accuracy: float | None, classes: int) -> bool:
    """Whether an accuracy is within 5 points of guessing (1 in ``classes``): the network
    has learned nothing useful (often: steps so large that the neurons saturated)."""
    return accuracy is not None and accuracy <= 1 / classes + 0.05


class ChanceWarning(UserWarning):
    """:meth:`Network.fit` ended at about chance test accuracy: the network has learned
    nothing useful (the message says what to try)."""


def warn_at_chance(net: Network, history: History) -> History:
    """``history``, with a :class:`ChanceWarning` first where its test accuracy is about
    chance (:func:`near_chance`), saying what to try as ``nudge train`` does.
    :meth:`Network.fit` calls it; :func:`train` itself warns of nothing (the command line,
    the page and sweeps say it in their own ways)."""
    kept, classes, s = history.kept, net.sizes[-1], history.settings
    accuracy = kept.test_accuracy if kept is not None else None
    if accuracy is None or classes < 2 or not near_chance(accuracy, classes):
        return history
    ran = TrainingSetup(
        preset="", sizes=list(net.sizes), activation=net.activation, output=net.output,
        cost=net.cost_function, init=net.init, epochs=len(history.epochs),
        batch_size=s["batch_size"], learning_rate=s["learning_rate"], schedule=s["schedule"],
        min_learning_rate=s["min_learning_rate"] or 0.0, weight_decay=s["weight_decay"],
        optimizer=s["optimizer"],
        momentum=DEFAULT_MOMENTUM if s["momentum"] is None else s["momentum"])
    warnings.warn(ran.chance_note(accuracy, classes), ChanceWarning, stacklevel=3)
    return history


# --------------------------------------------------------------------------- the trainer
def _stops(answer: Any) -> bool:
    """A callback's answer that stops training: False (also numpy's, as ``acc < t`` gives)."""
    return answer is False or answer is np.False_


def _finite(net: Network) -> bool:
    return all(np.isfinite(p).all() for p in net.weights + net.biases)


# train() is long by its signature and docstring (the options are the API) and by the
# epoch loop, kept here so the order of an epoch's events reads top to bottom; the checks
# are in nudge.checks, an epoch's steps in _Run.epoch and its record in _end_of_epoch
def train(
    net: Network,
    X: Any,
    y: Any,
    *,
    epochs: int = 30,
    batch_size: int | None = 10,
    learning_rate: float | None = None,
    schedule: str = "constant",
    min_learning_rate: float = 0.0,
    optimizer: str = "sgd",
    momentum: float | None = None,
    weight_decay: float = 0.0,
    test_data: tuple[Any, Any] | None = None,
    validation_data: tuple[Any, Any] | None = None,
    patience: int | None = None,
    seed: int | None = None,
    callback: Callable[[EpochRecord, Network], Any] | None = None,
    on_steps: Callable[[Progress, Network], Any] | None = None,
    every: int | Any = None,
    control: Control | None = None,
    progress: bool = False,
    monitor_train_cost: bool = True,
    engine: str = "auto",
    threads: int | None = None,
) -> History:
    """Train ``net`` in place by mini-batch stochastic gradient descent.

    ``X`` holds one example per row (whole-number pixels, 0-255, are read as intensity/255;
    floats as they are, in [0, 1]),
    ``y`` the labels (or desired output rows).  ``batch_size=None`` means the
    whole training set: full-batch gradient descent.  The defaults are plain SGD (30
    epochs, B = 10, the optimiser's η from ``DEFAULT_LEARNING_RATES``, constant);
    ``momentum`` (μ, default ``DEFAULT_MOMENTUM``) is for ``optimizer="momentum"`` only,
    and an error with any other optimiser; ``nudge
    train`` starts from a preset instead, whose options are
    ``nudge.settings.resolve("3b1b", n_inputs=784, n_classes=10).train_options()``.
    ``test_data=(X, y)`` and ``validation_data=(X, y)`` (examples held out of training to
    choose settings by, as Nielsen's ``validation_data``) are evaluated after every epoch;
    with ``patience`` (and validation data) training stops when their accuracy has not
    risen for that many epochs, and the network keeps the best epoch's parameters
    (:class:`EarlyStopping`, ``history.best_epoch``, ``history.kept``), also when a later
    epoch diverges (``history.stopped == "diverged"``, no error).  ``seed`` fixes the
    shuffling (default: the network's seed, or a fresh one for a network without one;
    either way recorded in ``history.settings``).  Each call starts afresh: the shuffling
    from its seed, momentum and Adam from zero, a schedule from its first epoch (two calls
    of one epoch shuffle alike; one call of two epochs does not).  ``schedule`` is ``"constant"``,
    ``"cosine"`` (η decays towards ``min_learning_rate`` over the epochs) or ``"plateau"``
    (with patience: η halves at each plateau while η/2 ≥ ``min_learning_rate``, default
    η/64; :mod:`nudge.schedules`).

    Watching and steering: ``callback(record, net)`` runs after every epoch and
    ``on_steps(progress, net)`` (a :class:`Progress`) every ``every`` steps (an int,
    or a list of step counts; None: after every call of the engine, about
    :data:`EXAMPLES_PER_CALL` examples); either returning ``False`` stops training.
    ``control`` (a :class:`Control`) pauses, resumes, stops, steps and re-times the
    run from another thread.

    ``engine`` is ``"reference"`` (NumPy), ``"fast"`` (the compiled C kernel) or
    ``"auto"`` (fast where it applies); ``threads`` (1 or 2; default
    ``$NUDGE_THREADS``, else, where two CPUs are free, the faster of one and two by the
    clock) for the C kernel on networks big enough to share (the result is the same
    either way).  Which engine ran is in ``history.engine`` (and ``history.settings``,
    with ``threads_timed`` and ``examples_by_threads`` where the count was timed).

    The first Ctrl-C stops after the current call of the engine and returns the
    history so far (``history.stopped == "interrupted"``); the network keeps what it
    learned.  A NaN or infinite cost raises :class:`DivergenceError` (its ``history``
    attribute holds the epochs before) with the network restored to where it was at
    the start of the epoch.
    """
    X, y = check_data(net, X, y, "training inputs")
    check_callables(callback=callback, on_steps=on_steps)
    if control is not None and not isinstance(control, Control):
        raise NudgeError(f"control must be a nudge.Control (or None), got {type(control).__name__}")
    epochs, batch_size, learning_rate, momentum, weight_decay = check_options(
        net, X, epochs, batch_size, learning_rate, schedule, min_learning_rate, optimizer,
        momentum, weight_decay)
    seed = check_seed(seed)
    if seed is None:             # the network's; drawn and recorded if it has none (a net
        seed = fixed_seed(net.seed)     # from_parameters, a model file without one)
    # checked now, not after an epoch of steps (and whole-number pixels made uint8 once)
    test_data = check_held_out("test", test_data, net)
    validation_data = check_held_out("validation", validation_data, net)
    net.desired_outputs(y)                     # the labels: a one-line error if they are odd
    patience = check_patience(patience, validation_data is not None, MAX_EPOCHS, schedule)
    plateau = schedule == "plateau"            # EarlyStopping halves η at each plateau
    if plateau:
        min_learning_rate = plateau_floor(learning_rate, min_learning_rate)
    stopping = (EarlyStopping(patience, learning_rate if plateau else None, min_learning_rate)
                if patience is not None else None)
    run = _Run(net, y, batch_size, control if control is not None else Control(),
               on_steps, callback_steps(every), epochs)
    run.engine = make_engine(net, X, y, batch_size, optimizer=optimizer,
                             momentum=momentum, weight_decay=weight_decay, engine=engine,
                             threads=threads)
    rng = np.random.default_rng(seed)
    history = History(settings=applicable({
        "epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
        "schedule": schedule, "min_learning_rate": min_learning_rate,
        "optimizer": optimizer, "momentum": momentum,
        "weight_decay": weight_decay, "seed": seed,
        "patience": patience,
        **run.engine.settings,
    }))
    if progress:
        from tqdm.auto import tqdm

        run.bar = tqdm(total=epochs * run.steps_per_epoch, unit="step", desc="training",
                       dynamic_ncols=True, leave=True)
    try:
        # a diverging run overflows on its way to NaN: we report that ourselves, once
        with CtrlC(run.control), np.errstate(over="ignore", invalid="ignore"):
            for epoch in range(1, epochs + 1):
                snapshot = net.snapshot()
                order = rng.permutation(len(X))
                if plateau:       # check_patience: the plateau schedule needs a patience
                    assert stopping is not None and stopping.learning_rate is not None
                    scheduled = stopping.learning_rate
                else:
                    scheduled = learning_rate_at(epoch, epochs, learning_rate, schedule,
                                                 min_learning_rate)
                steps, seconds, eta = run.epoch(epoch, order, scheduled)
                try:
                    record = _end_of_epoch(net, epoch,
                                           (X, y, run.engine) if monitor_train_cost
                                           else None,
                                           test_data, validation_data, seconds, steps,
                                           snapshot, eta, history)
                    record.complete = steps == run.steps_per_epoch   # else cut short
                except DivergenceError:
                    if stopping is None or stopping.best_epoch is None:
                        raise
                    history.stopped = "diverged"     # early stopping keeps its best epoch
                    break
                history.epochs.append(record)
                if run.bar is not None and record.test_accuracy is not None:
                    run.bar.set_postfix(epoch=epoch, test_acc=f"{record.test_accuracy:.2%}")
                if run.control.stop_requested is None and callback is not None:
                    if _stops(callback(record, net)):
                        run.control.stop("callback")
                    net.check_parameters(True, writable=True)   # what the callback set
                # after the callback, which sees every epoch (the last one too)
                if stopping is not None:       # a patience needs validation examples
                    assert record.validation_accuracy is not None
                    if not stopping.go_on(epoch, record.validation_accuracy, net):
                        run.control.stop("no improvement")
                if run.control.stop_requested is not None:
                    history.stopped = run.control.stop_requested
                    break
            if stopping is not None and stopping.best_epoch is not None:
                stopping.restore(net)
                history.best_epoch = stopping.best_epoch
    finally:
        if run.bar is not None:
            run.bar.close()
    history.settings.update(run.engine.settings)     # what ran, now that it has
    return history


class _Run:
    """The state of one call of :func:`train` between the engine's calls: counters, the
    callback that is due next, and the pieces an epoch is cut into."""

    def __init__(self, net: Network, labels: np.ndarray, batch_size: int, control: Control,
                 on_steps: Callable[[Progress, Network], Any] | None,
                 next_callback: Callable[[int], int | None], epochs: int) -> None:
        self.net, self.batch_size, self.control = net, batch_size, control
        self.on_steps, self.next_callback, self.epochs = on_steps, next_callback, epochs
        self.n = len(labels)
        self.steps_per_epoch = -(-self.n // batch_size)
        self.steps_per_call = max(1, EXAMPLES_PER_CALL // batch_size)
        self.step = self.seen = 0
        self.seconds = 0.0
        self.due = next_callback(0)
        self.engine: Any = None
        self.bar: Any = None

    def _wanted(self, left: int) -> int:
        """How many steps the next call of the engine should take."""
        speed = self.control.examples_per_second
        if speed is not None:                    # about 20 calls a second at that speed
            left = min(left, max(1, int(speed * 0.05) // self.batch_size))
        else:
            left = min(left, self.steps_per_call)
        if self.due is not None:
            left = min(left, max(1, self.due - self.step))
        return self.control._steps_allowed(left)

    def epoch(self, epoch: int, order: np.ndarray, scheduled: float) -> tuple[int, float, float]:
        """One epoch's steps, in calls of the engine; ``(steps, seconds, last η)``.  Stops
        early when the control says so or the parameters stop being finite."""
        B, net, control = self.batch_size, self.net, self.control
        epoch_step, seconds, eta = 0, 0.0, scheduled
        while epoch_step < self.steps_per_epoch:
            k = self._wanted(self.steps_per_epoch - epoch_step)
            if k == 0:
                break
            eta = control.learning_rate or scheduled
            first = epoch_step * B
            last = min(first + k * B, self.n)
            started = time.perf_counter()
            taken = self.engine.run(net, order, first, last, eta)
            spent = time.perf_counter() - started
            seconds += spent
            self.seconds += spent
            epoch_step += taken
            self.step += taken
            self.seen += last - first
            if self.bar is not None:
                self.bar.update(taken)
            if not _finite(net):
                break                            # reported by _end_of_epoch, as diverged
            control._pace(last - first, spent)   # keep to the speed: wait out the rest
            if self.on_steps is not None and (self.due is None or self.step >= self.due):
                self.due = self.next_callback(self.step)
                begins = first + max(taken - 1, 0) * B       # the last mini-batch
                progress = Progress(epoch, self.epochs, self.step, epoch_step,
                                    self.steps_per_epoch, self.seen, eta,
                                    order[begins:min(begins + B, self.n)], self.seconds,
                                    self.engine.name)
                if _stops(self.on_steps(progress, net)):
                    control.stop("callback")
                net.check_parameters(True, writable=True)   # what the callback set
        return epoch_step, seconds, eta


def _end_of_epoch(net: Network, epoch: int, train_data: tuple[Any, Any, Any] | None,
                  test_data: tuple[Any, Any] | None, validation_data: tuple[Any, Any] | None,
                  seconds: float, steps: int, snapshot: Snapshot,
                  learning_rate: float, history: History) -> EpochRecord:
    """The epoch's record: (cost, accuracy) on each set given (the training set, with the
    engine that trains on it: its forward pass where it has one); a NaN cost raises."""
    finite = _finite(net)
    absent: tuple[float | None, float | None] = (None, None)   # (cost, accuracy)
    train, test, validation = absent, absent, absent
    if finite and train_data is not None:
        X, labels, engine = train_data
        train = evaluate(net, X, labels, output_sums=engine.output_sums(net))
    if finite:
        test, validation = ((evaluate(net, *data) if data is not None else (None, None))
                            for data in (test_data, validation_data))
    costs = [c for c in (train[0], test[0], validation[0]) if c is not None]
    if not finite or not all(math.isfinite(c) for c in costs):
        net.restore(snapshot)
        raise DivergenceError(
            f"training diverged in epoch {epoch} (the cost became NaN or infinite) with "
            f"learning rate {learning_rate:g}: try a smaller one, e.g. --learning-rate "
            f"{history.settings.get('learning_rate', learning_rate) / 10:g}",  # the starting η
            epoch, learning_rate, history)
    return EpochRecord(epoch, train[0], test[0], test[1], seconds, steps, learning_rate,
                       validation[0], validation[1])
