"""How many threads the C kernel trains with: the rules live here only, the kernel does as told.

The kernel sums the first layer in two pixel ranges when given a split, and uses the
threads it is given; :func:`kernel_threads` decides both from the network's size, the
mini-batch, the ``threads`` argument, ``$NUDGE_THREADS`` and the CPUs this process may
use.  The weights do not depend on it (each parameter gets the same operations in the
same order); only the time does.  So where nobody said how many, the engine may take
either: :class:`ThreadTimer` times both on the run's own steps, now and then again, and
trains on the faster (two threads help a wide network on an idle machine and hurt it
where another process wants a CPU, and which case holds can change during a run).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import NudgeError

#: ThreadTimer: each thread count is timed on at least PROBE_EXAMPLES examples (a few
#: hundredths of a second of a 512-wide network's steps), and the slower one again after
#: every REPROBE_EXAMPLES examples on the faster (about one MNIST epoch; it then costs at
#: most PROBE_EXAMPLES / REPROBE_EXAMPLES of its time, about 3%, twice over at worst)
PROBE_EXAMPLES = 2_000
REPROBE_EXAMPLES = 60_000

#: The rules (the kernel sums the first layer in two pixel ranges when given a
#: split, and uses the threads it is given): two ranges from TWO_THREADS_MIN_HIDDEN
#: neurons in the first hidden layer, and there two threads for batches of
#: TWO_THREADS_MIN_BATCH to TWO_THREADS_MAX_BATCH.  On a 2-CPU virtual machine, B = 10
#: (``python benchmarks/threads_speed.py``, nine runs), two threads trained 784-512-10 and
#: 784-1024-10 1.4-1.7x as fast as one in eight runs, 64 to 256 neurons 0.8-1.6x; in the
#: ninth (load average rising to 1.9) 0.1-0.3x at 64 to 256, 1.6x at 512, 0.6x at 1,024.
#: With a process spinning beside them (``--busy 1``, two runs) two threads were slower at
#: every width: 0.5-0.7x at 512 and 1,024, 0.3-0.4x at 64 to 256 (too little work per batch).
#: Hence the timer where nobody gave a count: in the same script's third column (``--hidden
#: 128 512 1024 --rounds 3``, two runs quiet and two ``--busy 1``) it took 0.97-1.08x the
#: time of the better fixed count at 512 and 1,024 neurons (up to 1.17x at 128, forced).
TWO_THREADS_MIN_HIDDEN = 512
TWO_THREADS_MIN_BATCH = 4
TWO_THREADS_MAX_BATCH = 1024
#: the kernel has a second thread only with POSIX threads (its NUDGE_PTHREADS: Unix and
#: macOS, not Windows); elsewhere it takes the steps on one whatever it is told
KERNEL_THREADS = 2 if os.name == "posix" and sys.platform != "win32" else 1


def available_cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def check_threads(threads: Any) -> int | None:
    """``threads`` (None: decide; else 1 or more, at most 2 used) validated, or a
    NudgeError saying why not."""
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise NudgeError(f"threads must be a whole number of 1 or more (None: decide; more "
                         f"than 2 means 2), not {threads!r}")
    return min(int(threads), 2)


def kernel_threads(sizes: list[int], batch_size: int, threads: int | None = None) -> int:
    """How many threads (1 or 2) the C kernel may train with.

    ``threads`` if given, else ``$NUDGE_THREADS``, else 2 where two CPUs are
    available; either way 1 unless the network and the mini-batch are big
    enough to share (see :data:`TWO_THREADS_MIN_HIDDEN`).  The weights do not
    depend on it (each parameter gets the same operations in the same order);
    only the time does.  Where it is 2 and :func:`given_threads` is None, the
    engine times one against two (:class:`ThreadTimer`).
    """
    threads = given_threads(threads)
    if threads is None:
        threads = min(available_cpus(), 2)
    if (not two_ranges(sizes) or KERNEL_THREADS == 1
            or not TWO_THREADS_MIN_BATCH <= batch_size <= TWO_THREADS_MAX_BATCH):
        return 1
    return threads


def given_threads(threads: Any = None) -> int | None:
    """The thread count someone asked for: ``threads`` (checked), else
    ``$NUDGE_THREADS``, else None (nobody did: the engine may choose by timing)."""
    threads = check_threads(threads)
    if threads is None:
        env = os.environ.get("NUDGE_THREADS", "").strip()
        if env and (not env.isdigit() or int(env) < 1):
            raise NudgeError(f"NUDGE_THREADS={env!r} is not a number of threads: "
                             "set it to 1 or 2, or unset it")
        threads = min(int(env), 2) if env else None
    return threads


@dataclass
class _Timing:
    """What is being timed for one thread count: examples and seconds so far."""

    examples: int = 0
    seconds: float = 0.0


class ThreadTimer:
    """Which of one and two threads takes the steps faster, found by timing both.

    The engine asks :meth:`next` how many threads to use for how many of the examples
    it has left, runs them, and tells :meth:`record` how long they took.  It times two
    threads, then one, each on at least :data:`PROBE_EXAMPLES` examples (the steps of
    short calls add up), then trains on the faster, and times the slower again after
    :data:`REPROBE_EXAMPLES` examples, since the machine's load changes.  The weights
    are the same whichever it picks; only the time is not.
    """

    def __init__(self, batch_size: int, probe: int | None = None,
                 reprobe: int | None = None) -> None:
        probe = PROBE_EXAMPLES if probe is None else probe
        reprobe = REPROBE_EXAMPLES if reprobe is None else reprobe
        # whole mini-batches: a call of the kernel starts at a mini-batch's first example
        self.batch_size = batch_size
        self.probe = -(-probe // batch_size) * batch_size
        self.reprobe = -(-reprobe // batch_size) * batch_size
        #: examples per second of each thread count, last timed (None: not yet)
        self.speed: dict[int, float | None] = {1: None, 2: None}
        #: what is being timed, per thread count
        self._timing = {1: _Timing(), 2: _Timing()}
        self._since = 0                       # examples on the faster since the last probe
        self._probing: int | None = 2
        #: examples run with each thread count, for ``History.settings``
        self.examples = {1: 0, 2: 0}

    @property
    def faster(self) -> int:
        """The faster thread count as last timed (2 until both have been)."""
        one, two = self.speed[1], self.speed[2]
        return 1 if one is not None and two is not None and one > two else 2

    def next(self, left: int) -> tuple[int, int]:
        """(threads, examples) for the next call: at most ``left`` examples, and whole
        mini-batches unless that is all of ``left`` (an epoch's partial last mini-batch
        makes the counts so far uneven; a piece that ended inside a mini-batch would
        shift every later one, and the weights with them)."""
        if self._probing is None and self._since >= self.reprobe:
            self._probing = 3 - self.faster       # time the slower one again
        threads = self._probing if self._probing is not None else self.faster
        wanted = (self.probe - self._timing[threads].examples if self._probing is not None
                  else self.reprobe - self._since)
        return threads, min(left, -(-wanted // self.batch_size) * self.batch_size)

    def record(self, threads: int, examples: int, seconds: float) -> None:
        """``examples`` took ``seconds`` on ``threads`` threads."""
        self.examples[threads] += examples
        faster, timing = self.faster, self._timing[threads]
        timing.examples += examples
        timing.seconds += seconds
        timed = timing.examples >= self.probe    # timed enough: a probe, or the faster as it runs
        if timed:
            self.speed[threads] = timing.examples / max(timing.seconds, 1e-9)
            self._timing[threads] = _Timing()
        if threads == self._probing:
            if timed:
                self._probing = 1 if self.speed[1] is None else None
                self._since = 0
        elif self.faster != faster:          # slower now than the other was: switch
            self._since = 0
        else:
            self._since += examples


def two_ranges(sizes: Any) -> bool:
    """Whether the C kernel sums the first layer in two pixel ranges (given a split)."""
    return len(sizes) > 2 and int(sizes[1]) >= TWO_THREADS_MIN_HIDDEN
