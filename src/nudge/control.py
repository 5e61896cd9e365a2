"""Watching and steering a training run: :class:`Progress`, :class:`Control`, Ctrl-C,
and :class:`EarlyStopping`.

:func:`nudge.train.train` calls the engine in pieces (a few thousand examples, or
fewer when someone watches closely) and, between pieces, reports a
:class:`Progress` to its ``on_steps`` callback and asks its :class:`Control`
whether to go on: paused, one more mini-batch, a new η, a speed limit, or stop.
After each epoch an :class:`EarlyStopping` may stop it when the accuracy on the
held-out examples no longer rises.
"""

from __future__ import annotations

import itertools
import math
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from .bounds import check_count, positive_float
from .errors import NudgeError, short_repr

#: the most step counts a list given as ``every`` may hold
MAX_EVERY = 1_000_000
#: the most single steps a paused run holds on to (the page's Step button pressed fast)
MAX_GRANTED = 1000


#: the step count callback_steps gives past a list's last one: later than any run goes
NEVER = 2**63 - 1


def callback_steps(every: Any) -> Callable[[int], int | None]:
    """A function of ``step`` (the steps taken so far) that gives the next step count at
    which ``on_steps`` is due, or None (then after every call of the engine), from
    ``every``: None (after every call of the engine), k (every k steps) or a list of step
    counts (past the last one, a count no run reaches: no more calls)."""
    if every is None:
        return lambda step: None
    if isinstance(every, (int, np.integer)) and not isinstance(every, bool):
        k = check_count("every", every, most=None)
        return lambda step: (step // k + 1) * k
    if isinstance(every, (str, bytes)) or not isinstance(every, Iterable):
        raise NudgeError(f"every {short_repr(every)}: give None, a whole number of steps, or "
                         "a list of step counts")
    steps = list(itertools.islice(every, MAX_EVERY + 1))
    if len(steps) > MAX_EVERY:
        raise NudgeError(f"every: give at most {MAX_EVERY:,} step counts")
    if not all(not isinstance(s, bool) and isinstance(s, (int, np.integer)) and 0 <= s < 2**63
               for s in steps):
        raise NudgeError("every: step counts are whole numbers of 0 or more")
    at = np.unique(np.asarray(steps, dtype=np.int64))

    def next_at(step: int) -> int | None:
        i = int(np.searchsorted(at, step, side="right"))
        return int(at[i]) if i < len(at) else NEVER
    return next_at


@dataclass
class Progress:
    """Where a run is, as an ``on_steps`` callback sees it (after a call of the engine)."""

    epoch: int               # the epoch under way (1-based)
    epochs: int
    step: int                # mini-batch steps taken in all
    epoch_step: int          # ... in this epoch
    steps_per_epoch: int
    seen: int                # examples processed in all
    learning_rate: float     # η of the last step
    batch: np.ndarray        # the example indices of the last mini-batch
    seconds: float           # time spent taking steps (callbacks and pauses not counted)
    engine: str = ""         # the engine taking the steps: "fast" or "reference"


class Control:
    """Steers a run from another thread (the web page) or from a callback.

    ``pause()``, ``resume()``, ``stop()``; ``step()`` while paused takes one more
    mini-batch step and pauses again; ``set_learning_rate(η)`` replaces the schedule's
    η from the next step on (``None``: back to the schedule); ``set_speed(r)`` limits
    the run to about ``r`` examples per second (``None``: full speed).

    A stop is for good: a run given a Control that was stopped ends before its first
    step (so a stop asked for just before the run starts is not lost); use a new Control
    for each run.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.paused = False
        #: why the run was told to stop (None: it was not), ``history.stopped``'s words:
        #: "stopped", "interrupted" (Ctrl-C), "callback" or "no improvement" (early stopping)
        self.stop_requested: str | None = None
        self.learning_rate: float | None = None
        self.examples_per_second: float | None = None
        self._granted = 0
        self._waiting = False      # the run waits, paused, between two calls of the engine

    def pause(self) -> None:
        """Pause the run before its next call of the engine (it waits; :meth:`step` takes
        one mini-batch step at a time)."""
        with self._cond:
            self.paused = True
            self._granted = 0              # steps asked for before this pause are void
            self._cond.notify_all()        # ... and a wait for the speed limit ends

    def resume(self) -> None:
        """Go on at full speed (or at the speed set) after a pause."""
        with self._cond:
            self.paused = False
            self._granted = 0
            self._cond.notify_all()

    def stop(self, why: str = "stopped") -> None:
        """End the run before its next call of the engine, for good; ``why`` becomes
        ``history.stopped`` (the first reason given is kept)."""
        with self._cond:
            if self.stop_requested is None:
                self.stop_requested = why
            self._cond.notify_all()

    def step(self, steps: int = 1) -> None:
        """While paused: ``steps`` more mini-batch steps, then paused again (at most
        :data:`MAX_GRANTED` waiting; a pause or resume voids the ones not yet taken)."""
        with self._cond:
            self._granted = min(MAX_GRANTED, self._granted + check_count(
                "steps", steps, most=None))
            self._cond.notify_all()

    def set_learning_rate(self, learning_rate: float | None) -> None:
        """Take steps of η = ``learning_rate`` from the next one on, in place of the
        schedule's (``None``: back to the schedule)."""
        self.learning_rate = None if learning_rate is None else positive_float(
            "learning rate", learning_rate)

    def set_speed(self, examples_per_second: float | None) -> None:
        """Keep the run to about ``examples_per_second`` (``None``: full speed)."""
        speed = None if examples_per_second is None else positive_float(
            "speed", examples_per_second)
        with self._cond:
            self.examples_per_second = speed
            self._cond.notify_all()

    def _pace(self, examples: int, spent: float) -> None:
        """After ``examples`` taken in ``spent`` seconds: wait out the rest of their time at
        the speed limit; a stop, a pause or a new speed ends the wait at once.  The speed
        is read under the lock the wait holds, so a new speed set just before the wait
        begins is the one it keeps to (not a wait of the old one's length)."""
        with self._cond:
            speed = self.examples_per_second
            if speed is None or examples / speed - spent <= 0:
                return
            self._cond.wait_for(lambda: self.stop_requested is not None or self.paused
                                or self.examples_per_second != speed,
                                timeout=min(examples / speed - spent, threading.TIMEOUT_MAX))

    @property
    def held(self) -> bool:
        """Paused, with every step asked for taken and reported to ``on_steps``: the run
        waits between two calls of the engine, and nothing more happens until asked (a
        pause takes effect after the call of the engine under way and the steps granted)."""
        with self._cond:
            return self.paused and self._waiting and not self._granted

    def _steps_allowed(self, wanted: int) -> int:
        """Wait while paused (unless a step was granted); 0 once a stop is requested."""
        with self._cond:
            while self.paused and not self._granted and self.stop_requested is None:
                self._waiting = True
                self._cond.wait(0.25)
            self._waiting = False
            if self.stop_requested is not None:
                return 0
            if self.paused:
                self._granted -= 1
                return 1
            return wanted


class EarlyStopping:
    """Nielsen's no-improvement-in-n rule: stop when the validation accuracy has not risen
    for ``patience`` epochs, and keep the parameters of the epoch where it was highest.

    The held-out examples choose the epoch, so the test set stays unseen; with a patience
    of 10 a run that peaks at epoch 20 stops after epoch 30 and ends with epoch 20's
    network.  Ties keep the earlier epoch.

    With ``learning_rate`` (the ``plateau`` schedule) such a plateau halves the learning
    rate instead, and patience counts again from there; the run stops at the plateau where
    η/2 would be below ``min_learning_rate``.
    """

    def __init__(self, patience: int, learning_rate: float | None = None,
                 min_learning_rate: float = 0.0) -> None:
        self.patience = patience
        self.learning_rate = learning_rate     # the plateau schedule's η for the next epoch
        self.min_learning_rate = min_learning_rate
        self.best_epoch: int | None = None
        self.best_accuracy = -math.inf
        self._since = 0                        # the epoch of the last halving
        self._best: Any = None                 # the best epoch's Network.snapshot()

    def go_on(self, epoch: int, validation_accuracy: float, net: Any) -> bool:
        """After an epoch: remember the parameters if they are the best so far; after
        ``patience`` epochs without a better one halve η (plateau) or return False."""
        if validation_accuracy > self.best_accuracy:
            self.best_epoch, self.best_accuracy = epoch, validation_accuracy
            self._best = net.snapshot()
            return True
        if epoch - max(self.best_epoch or 0, self._since) < self.patience:
            return True
        if self.learning_rate is not None and self.learning_rate / 2 >= self.min_learning_rate:
            self.learning_rate /= 2
            self._since = epoch
            return True
        return False

    def restore(self, net: Any) -> None:
        """Put the best epoch's parameters back into ``net`` (in place)."""
        if self._best is not None:
            net.restore(self._best)


class CtrlC:
    """Turns the first Ctrl-C into ``control.stop("interrupted")``: the run stops after
    the current call of the engine.  A second Ctrl-C aborts at once."""

    def __init__(self, control: Control) -> None:
        self.control = control
        self._previous: Any = None

    def __enter__(self) -> CtrlC:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.control.stop_requested is not None:
            raise KeyboardInterrupt
        self.control.stop("interrupted")

    def __exit__(self, *exc: Any) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


@contextmanager
def ctrl_c_held() -> Iterator[None]:
    """Holds Ctrl-C back while child processes start (a process pool's): they begin with
    SIGINT blocked, as multiprocessing's resource tracker does, so a Ctrl-C sent to them all
    cannot end their start-up in a traceback of their own; and a Ctrl-C meanwhile is raised
    as KeyboardInterrupt when the block ends, once every process started is known to be
    stopped.  Only in the main thread, where Python handles signals."""
    if (threading.current_thread() is not threading.main_thread()
            or not hasattr(signal, "pthread_sigmask")
            or signal.getsignal(signal.SIGINT) is None):     # a handler set outside Python
        yield
        return
    pressed: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})   # one held runs now
        signal.signal(signal.SIGINT, previous)
    if pressed:
        raise KeyboardInterrupt
