"""How long measuring the training set after an epoch takes: NumPy's forward pass against
the C kernel's (the fast engine's ``output_sums``), side by side.

    NUDGE_DATA=/path/to/mnist python benchmarks/evaluate_speed.py [--rounds 7]

For each network (784-16-16-10, 784-30-10, 784-100-10; sigmoid, quadratic cost), one
``nudge.train.evaluate`` of the 60,000 MNIST training images (cost and accuracy) both
ways, taking turns within each round so a slow patch of a shared machine falls on both
alike; the figure is the median wall-clock time over the rounds, with one epoch of
training steps (``CompiledEngine.run``, B = 10) beside it for scale.  This is a script,
not a test.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from nudge import Network, load_dataset
from nudge.engine import CompiledEngine, clib
from nudge.train import evaluate

SIZES = ([784, 16, 16, 10], [784, 30, 10], [784, 100, 10])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    if not clib.available():
        raise SystemExit(f"the C kernel is not available: {clib.unavailable_reason()}")
    data = load_dataset("mnist")
    X, y = data.X_train, data.y_train
    order = np.random.default_rng(0).permutation(len(X))
    print(f"the {len(X):,} training images, median of {args.rounds} rounds "
          f"(C kernel: {clib.c_kernel_isa})\n")
    print("| network | NumPy forward | C kernel forward | ratio | one epoch of steps |")
    print("|---|---|---|---|---|")
    for sizes in SIZES:
        net = Network(sizes, seed=1)
        engine = CompiledEngine(net, X, y, 10)
        times: dict[str, list[float]] = {"numpy": [], "c": [], "steps": []}
        for _ in range(args.rounds):
            t = time.perf_counter()
            want = evaluate(net, X, y)
            times["numpy"].append(time.perf_counter() - t)
            t = time.perf_counter()
            got = evaluate(net, X, y, output_sums=engine.output_sums(net))
            times["c"].append(time.perf_counter() - t)
            assert abs(got[0] - want[0]) <= 1e-5 * want[0] and got[1] == want[1]
            copy = net.copy()
            t = time.perf_counter()
            engine.run(copy, order, 0, len(order), 0.1)
            times["steps"].append(time.perf_counter() - t)
        m = {k: statistics.median(v) for k, v in times.items()}
        print(f"| {'-'.join(map(str, sizes))} | {m['numpy']:.4f} s | {m['c']:.4f} s | "
              f"x{m['numpy'] / m['c']:.1f} | {m['steps']:.4f} s |")


if __name__ == "__main__":
    main()
