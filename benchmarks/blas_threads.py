"""Small matrix products on BLAS's default threads against one thread, side by side.

    NUDGE_DATA=/path/to/mnist python benchmarks/blas_threads.py [--batch 100] [--busy N]

Times ``Network.backprop`` (NumPy, the reference engine's gradient) of a 784-16-16-10
network on mini-batches of ``--batch`` MNIST images, 60 batches per round, with BLAS on
its default threads and limited to one (``nudge.insight.single_threaded_blas``) taking
turns for ``--rounds`` rounds; prints the median time per mini-batch of each and the
median of the per-round ratios (default threads / one).  ``--busy N`` keeps N other
processes spinning on the CPUs meanwhile (a busy machine).  This is a script, not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time

from busy import spinning

from nudge import Network, load_dataset
from nudge import insight as ins


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--busy", type=int, default=0, help="processes spinning beside it")
    args = ap.parse_args()
    data = load_dataset("mnist")
    n = 60 * args.batch
    X, y = data.X_train[:n], data.y_train[:n]
    net = Network([784, 16, 16, 10], seed=1)
    with spinning(args.busy):
        times: dict[str, list[float]] = {"one": [], "default": []}
        for r in range(args.rounds + 1):                # round 0: warm-up, not counted
            for blas in (("one", "default") if r % 2 else ("default", "one")):
                with ins.single_threaded_blas() if blas == "one" else contextlib.nullcontext():
                    t = time.perf_counter()
                    for s in range(0, n, args.batch):
                        net.backprop(X[s:s + args.batch], y[s:s + args.batch])
                    if r:
                        times[blas].append((time.perf_counter() - t) / 60)
        load = os.getloadavg()[0]
    one, default = times["one"], times["default"]
    ratios = [d / o for d, o in zip(default, one)]
    print(f"backprop of 784-16-16-10 on B={args.batch}, {args.busy} busy process(es) beside "
          f"it, load average {load:.2f} at the end: one thread "
          f"{1000 * statistics.median(one):.2f} ms, "
          f"default threads {1000 * statistics.median(default):.2f} ms a mini-batch; "
          f"default/one x{statistics.median(ratios):.2f} (rounds: "
          f"{' '.join(f'{x:.2f}' for x in ratios)})")


if __name__ == "__main__":
    main()
