"""The compiled engine's epoch time for each kind of network, against sigmoid/quadratic.

    NUDGE_DATA=/path/to/mnist python benchmarks/engine_configs.py [--rounds 5]

One epoch of the 60,000 MNIST training images with ``engine="fast"`` (the C kernel),
for 784-16-16-10 and 784-100-10 at B = 10 (``--sizes``/``--batch`` for others): the
sigmoid hidden / sigmoid output / quadratic cost network trained with plain SGD (the
baseline), then other hidden functions, outputs, costs and momentum on the same sizes.
The set-ups take turns, one epoch each per round (a slow patch of a shared machine
falls on all alike); the figure is the median over the rounds, and the ratio is its
time over the baseline's (the target: at most 1.5).  Training time only (``History``'s
epoch seconds: the engine's calls, not the evaluation).  This is a script, not a test.
"""

from __future__ import annotations

import argparse
import statistics

from nudge import Network, load_dataset, train

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5, help="epochs per set-up (median)")
    ap.add_argument("--sizes", nargs="*", default=["784-16-16-10", "784-100-10"])
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--threads", type=int, choices=[1, 2])
    args = ap.parse_args()
    data = load_dataset("mnist")
    X, y = data.X_train, data.y_train
    print(f"one epoch of {len(X):,} images, engine fast, B={args.batch}, "
          f"median of {args.rounds} (ratio: time / sigmoid-sigmoid-quadratic-sgd's)")
    for text in args.sizes:
        sizes = [int(s) for s in text.split("-")]
        times: dict[tuple, list[float]] = {s: [] for s in SETUPS}
        for r in range(args.rounds + 1):               # round 0: warm-up, not counted
            for setup in SETUPS:
                hidden, output, cost, optimizer, eta = setup
                net = Network(sizes, hidden, output, cost, seed=0)
                h = train(net, X, y, epochs=1, batch_size=args.batch, learning_rate=eta,
                          optimizer=optimizer, engine="fast", seed=1, threads=args.threads,
                          monitor_train_cost=False)
                if r:
                    times[setup].append(h.last.seconds)
        base = statistics.median(times[SETUPS[0]])
        for setup, ts in times.items():
            t = statistics.median(ts)
            print(f"  {text} {'/'.join(setup[:4]):38s} {t:.3f} s  x{t / base:.2f}", flush=True)


if __name__ == "__main__":
    main()
