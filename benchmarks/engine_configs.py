"""The compiled engine's epoch time for each kind of network, against sigmoid/quadratic.

    NUDGE_DATA=/path/to/mnist python benchmarks/engine_configs.py [--rounds 5] [--inputs]

One epoch of the 60,000 MNIST training images on the C kernel (``CompiledEngine``,
called in chunks as ``nudge.train`` calls it), for 784-16-16-10 and 784-100-10 at B = 10
(``--sizes``/``--batch`` for others): the sigmoid hidden / sigmoid output / quadratic
cost network trained with plain SGD (the baseline), then other hidden functions, outputs,
costs and momentum on the same sizes.  The set-ups take turns, one epoch each per round
(a slow patch of a shared machine falls on all alike).  The clock is the process's CPU
time (on a busy machine the time it was not running is left out; with two threads it
counts both), or the wall clock with ``--wall``.  The figure is the median over the
rounds; the ratio is its time over the baseline's (the target: at most 1.5).  ``--inputs``
times instead what the engine makes once per run, the sparse rows of the training images
(``compiled.Inputs``), with the C library's loop and with NumPy's (its fallback), taking
turns (wall clock).  This is a script, not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from unittest import mock

import numpy as np

from nudge import Network, load_dataset
from nudge.engine import CompiledEngine, clib, compiled
from nudge.train import EXAMPLES_PER_CALL

#: hidden, output, cost, optimizer, learning rate: the baseline first
SETUPS = [
    ("sigmoid", "sigmoid", "quadratic", "sgd", 3.0),
    ("relu", "softmax", "cross-entropy", "sgd", 0.1),
    ("relu", "sigmoid", "quadratic", "sgd", 0.1),
    ("tanh", "softmax", "cross-entropy", "sgd", 0.1),
    ("sigmoid", "softmax", "cross-entropy", "sgd", 0.5),
    ("sigmoid", "sigmoid", "cross-entropy", "sgd", 0.5),
    ("sigmoid", "softmax", "quadratic", "sgd", 1.0),
    ("sigmoid", "sigmoid", "quadratic", "momentum", 0.5),
    ("relu", "softmax", "cross-entropy", "momentum", 0.02),
]


def epoch_seconds(engine: CompiledEngine, net: Network, order: np.ndarray, eta: float,
                  clock) -> float:
    """One epoch over ``order``, EXAMPLES_PER_CALL examples per call (whole batches)."""
    chunk = max(1, EXAMPLES_PER_CALL // engine.batch_size) * engine.batch_size
    t0 = clock()
    for first in range(0, len(order), chunk):
        engine.run(net, order, first, min(first + chunk, len(order)), eta)
    return clock() - t0


def inputs_seconds(X: np.ndarray, rounds: int) -> None:
    """Making ``compiled.Inputs(X)`` with the C loop and with NumPy's, taking turns."""
    times: dict[str, list[float]] = {"C": [], "NumPy": []}
    for r in range(rounds + 1):                        # round 0: warm-up, not counted
        for way in (("C", "NumPy") if r % 2 else ("NumPy", "C")):
            with (mock.patch.object(clib, "_load_c_kernel", lambda: None) if way == "NumPy"
                  else contextlib.nullcontext()):
                t0 = time.perf_counter()
                compiled.Inputs(X)
                if r:
                    times[way].append(time.perf_counter() - t0)
    ratios = [n / c for c, n in zip(times["C"], times["NumPy"])]
    print(f"the sparse rows of {len(X):,} images (compiled.Inputs), wall seconds, median of "
          f"{rounds}: C {statistics.median(times['C']):.3f} s, NumPy "
          f"{statistics.median(times['NumPy']):.3f} s, NumPy/C x{statistics.median(ratios):.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5, help="epochs per set-up (median)")
    ap.add_argument("--sizes", nargs="*", default=["784-16-16-10", "784-100-10"])
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--threads", type=int, choices=[1, 2])
    ap.add_argument("--wall", action="store_true", help="the wall clock, not CPU time")
    ap.add_argument("--inputs", action="store_true", help="time making the sparse rows")
    args = ap.parse_args()
    if not clib.available():
        raise SystemExit(f"the C kernel is not available: {clib.unavailable_reason()}")
    data = load_dataset("mnist")
    if args.inputs:
        inputs_seconds(data.X_train, args.rounds)
        return
    inputs, y = compiled.Inputs(data.X_train), data.y_train
    clock = time.perf_counter if args.wall else time.process_time
    print(f"one epoch of {len(y):,} images on the C kernel ({clib.c_kernel_isa}), "
          f"B={args.batch}, {'wall' if args.wall else 'CPU'} seconds, median of "
          f"{args.rounds} (ratio: time / sigmoid-sigmoid-quadratic-sgd's)")
    for text in args.sizes:
        sizes = [int(s) for s in text.split("-")]
        times: dict[tuple, list[float]] = {s: [] for s in SETUPS}
        order = np.random.default_rng(1).permutation(len(y))
        for r in range(args.rounds + 1):               # round 0: warm-up, not counted
            for setup in SETUPS:
                hidden, output, cost, optimizer, eta = setup
                net = Network(sizes, hidden, output, cost, seed=0)
                engine = CompiledEngine(net, inputs, y, args.batch, optimizer=optimizer,
                                        threads=args.threads)
                seconds = epoch_seconds(engine, net, order, eta, clock)
                if r:
                    times[setup].append(seconds)
        base = statistics.median(times[SETUPS[0]])
        for setup, ts in times.items():
            t = statistics.median(ts)
            print(f"  {text} {'/'.join(setup[:4]):38s} {t:.3f} s  x{t / base:.2f}", flush=True)


if __name__ == "__main__":
    main()
