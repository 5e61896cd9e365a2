"""How interactive the insight features are on full MNIST (not a unit test).

    python benchmarks/insight_speed.py [--repeats 5]

Times, for a 784-16-16-10 network: the full gradient over the 60,000 training
images (what ``nudge sensitivity`` computes), the whole sensitivity ranking,
and one example's wished-for nudges (``nudge nudges``); and the first layer's weight gradient
of one chunk of 16,384 images both ways round, ``(Aᵀ δ)ᵀ`` (as ``full_gradient`` computes it)
and ``δᵀ A``.  Prints medians.
"""

from __future__ import annotations

import argparse
import statistics
import time

from nudge import Network, load_dataset
from nudge import insight as ins


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    data = load_dataset("mnist", args.data_dir)
    net = Network([784, 16, 16, 10], seed=1)
    X, y = data.X_train, data.y_train
    ins.full_gradient(net, X[:2000], y[:2000])                      # warm up
    acts, _, deltas = net.deltas(X[:ins.CHUNK], y[:ins.CHUNK])
    A, delta = acts[0], deltas[0]
    rows = [
        ("full gradient, 60,000 examples", timed(lambda: ins.full_gradient(net, X, y),
                                                 args.repeats)),
        ("sensitivity ranking, 60,000 examples", timed(lambda: ins.sensitivity(net, X, y),
                                                       args.repeats)),
        ("one example's nudges", timed(lambda: ins.example_wishes(net, X[0], y[0], 0),
                                       args.repeats)),
        ("a chunk's first-layer gradient, (A^T d)^T", timed(lambda: (A.T @ delta).T,
                                                             args.repeats)),
        ("a chunk's first-layer gradient, d^T A", timed(lambda: delta.T @ A, args.repeats)),
    ]
    for name, seconds in rows:
        print(f"{name:40s} {1000 * seconds:9.1f} ms (median of {args.repeats})")


if __name__ == "__main__":
    main()
