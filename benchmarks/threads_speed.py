"""The C kernel's epoch time with two threads against one, and timed, side by side.

    NUDGE_DATA=/path/to/mnist python benchmarks/threads_speed.py [--rounds 5] [--busy N]

One epoch of the 60,000 MNIST training images on the C kernel (``CompiledEngine``, called
in chunks as ``nudge.train`` calls it) for 784-H-10 networks (``--hidden``, default 64 to
1,024) at B = 10 (``--batch``), with ``threads=1``, ``threads=2`` and the default (two
threads timed against one: ``nudge.engine.threads.ThreadTimer``) taking turns, one epoch
each per round (a slow patch of a shared machine falls on all alike), wall clock.  Prints,
per width, the median epoch time of each, the medians of the per-round ratios (one
thread's time over two threads', and over the timed choice's), and the load average
before and after.  ``--busy N``
keeps N other processes spinning on the CPUs meanwhile (a busy host).  Below
:data:`nudge.engine.threads.TWO_THREADS_MIN_HIDDEN` the kernel is asked for two threads
and a split all the same (what the rule spares them), and the timer runs there too.
This is a script, not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
from busy import spinning
from engine_configs import epoch_seconds

from nudge import Network, load_dataset
from nudge.engine import CompiledEngine, clib, compiled
from nudge.engine.threads import ThreadTimer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5, help="epochs per thread count (median)")
    ap.add_argument("--hidden", nargs="*", type=int, default=[64, 128, 256, 512, 1024])
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--busy", type=int, default=0, help="processes spinning beside it")
    args = ap.parse_args()
    with spinning(args.busy):
        measure(args)


def measure(args: argparse.Namespace) -> None:
    if not clib.available():
        raise SystemExit(f"the C kernel is not available: {clib.unavailable_reason()}")
    data = load_dataset("mnist")
    inputs, y = compiled.Inputs(data.X_train), data.y_train
    order = np.random.default_rng(1).permutation(len(y))
    print(f"one epoch of {len(y):,} images on the C kernel ({clib.c_kernel_isa}), "
          f"B={args.batch}, wall seconds, median of {args.rounds}, {args.busy} busy "
          f"process(es) beside it; "
          f"load average {os.getloadavg()[0]:.2f}")
    ways = (1, 2, "timed")
    for hidden in args.hidden:
        sizes = [784, hidden, 10]
        times: dict[object, list[float]] = {way: [] for way in ways}
        for r in range(args.rounds + 1):               # round 0: warm-up, not counted
            for way in ways[r % 3:] + ways[:r % 3]:
                net = Network(sizes, seed=0)
                threads = 2 if way == "timed" else way
                engine = CompiledEngine(net, inputs, y, args.batch, threads=threads)
                if engine.threads != threads:          # below the rule's width: forced
                    engine.split = engine.args.split = inputs.split
                    engine.threads = engine.args.threads = threads
                engine.timer = ThreadTimer(args.batch) if way == "timed" else None
                seconds = epoch_seconds(engine, net, order, 3.0, time.perf_counter)
                if r:
                    times[way].append(seconds)
        one, two, timed = (statistics.median(times[way]) for way in ways)
        paired = statistics.median(a / b for a, b in zip(times[1], times[2]))
        chosen = statistics.median(a / b for a, b in zip(times[1], times["timed"]))
        print(f"  784-{hidden}-10  1 thread {one:.3f} s  2 threads {two:.3f} s  "
              f"timed {timed:.3f} s  1/2: x{paired:.2f}  1/timed: x{chosen:.2f} (1/2 per "
              f"round: {' '.join(f'{a / b:.2f}' for a, b in zip(times[1], times[2]))})",
              flush=True)
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
