"""How many threads the C kernel trains with: the rules live here only, the kernel does as told.

The kernel sums the first layer in two pixel ranges when given a split, and uses the
threads it is given; :func:`kernel_threads` decides both from the network's size, the
mini-batch, the ``threads`` argument, ``$NUDGE_THREADS`` and the CPUs this process may
use.  The weights do not depend on it (each parameter gets the same operations in the
same order); only the time does.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..errors import NudgeError

#: The rules (the kernel sums the first layer in two pixel ranges when given a
#: split, and uses the threads it is given): two ranges from TWO_THREADS_MIN_HIDDEN
#: neurons in the first hidden layer, and there two threads for batches of
#: TWO_THREADS_MIN_BATCH to TWO_THREADS_MAX_BATCH.  On a 2-CPU virtual machine, B = 10
#: (``python benchmarks/threads_speed.py``, nine runs), two threads trained 784-512-10 and
#: 784-1024-10 1.4-1.7x as fast as one in eight runs, 64 to 256 neurons 0.8-1.6x; in the
#: ninth (load average rising to 1.9) 0.1-0.3x at 64 to 256, 1.6x at 512, 0.6x at 1,024.
#: With a process spinning beside them (``--busy 1``, two runs) two threads were slower at
#: every width: 0.5-0.7x at 512 and 1,024, 0.3-0.4x at 64 to 256 (too little work per batch).
TWO_THREADS_MIN_HIDDEN = 512
TWO_THREADS_MIN_BATCH = 4
TWO_THREADS_MAX_BATCH = 1024


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
    """How many threads (1 or 2) the C kernel trains with.

    ``threads`` if given, else ``$NUDGE_THREADS``, else 2 where two CPUs are
    available; either way 1 unless the network and the mini-batch are big
    enough to share (see :data:`TWO_THREADS_MIN_HIDDEN`).  The weights do not
    depend on it (each parameter gets the same operations in the same order);
    only the time does.
    """
    threads = check_threads(threads)
    if threads is None:
        env = os.environ.get("NUDGE_THREADS", "").strip()
        if env and (not env.isdigit() or int(env) < 1):
            raise NudgeError(f"NUDGE_THREADS={env!r} is not a number of threads: "
                             "set it to 1 or 2, or unset it")
        threads = min(int(env), 2) if env else min(available_cpus(), 2)
    if (not two_ranges(sizes)
            or not TWO_THREADS_MIN_BATCH <= batch_size <= TWO_THREADS_MAX_BATCH):
        return 1
    return threads


def two_ranges(sizes: Any) -> bool:
    """Whether the C kernel sums the first layer in two pixel ranges (given a split)."""
    return len(sizes) > 2 and int(sizes[1]) >= TWO_THREADS_MIN_HIDDEN
