"""The learning rate of full-batch gradient descent in ``nudge descent``: the cost each η
reaches, and the sharpness of the network before and after.

Runs :func:`nudge.insight.descent` (full batch only) from the starts of seeds 0-4, as
``nudge descent --seed S --batch-sizes full --learning-rates ETA`` does, with the
command's defaults (784-16-16-10, the first 5,000 MNIST training images, 100 steps, the
cost on 2,000 of them), for each η, and prints the mean final cost per η with each
seed's.  With ``--curvature`` it also prints λ_max of the Hessian (and 2/λ_max, the
largest step plain gradient descent is stable at) at the start and after the 100 steps
of the default η.

    NUDGE_DATA=/path/to/mnist python docs/scripts/descent_rates.py [--curvature]
"""

from __future__ import annotations

import argparse

import numpy as np

import nudge
import nudge.insight as ins

RATES = [2, 3, 4, 5, 6, 8, 10, 15, 20]
SEEDS = [0, 1, 2, 3, 4]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--curvature", action="store_true",
                        help="also λ_max at the start and after the default η's steps")
    args = parser.parse_args()
    data = nudge.load_dataset("mnist")
    X, y = data.X_train[:5000], data.y_train[:5000]
    print(f"{'eta':>5}  {'mean final cost':>15}  seeds " + " ".join(f"{s:>6}" for s in SEEDS))
    for eta in RATES:
        costs = [ins.descent(nudge.Network([784, 16, 16, 10], seed=s), X, y,
                             batch_sizes=[None], learning_rates=[eta],
                             seed=s).runs[0].costs[-1]       # as nudge descent --seed s
                 for s in SEEDS]
        print(f"{eta:>5g}  {np.mean(costs):>15.4f}        "
              + " ".join(f"{c:>6.4f}" for c in costs))
    if args.curvature:
        eta = ins.default_learning_rate(None)
        for s in SEEDS:
            start = nudge.Network([784, 16, 16, 10], seed=s)
            before = ins.curvature(start, X, y, k=1, smallest=0, hutchinson=0).largest[0]
            net = start.copy()
            nudge.train(net, X, y, epochs=100, batch_size=None, learning_rate=eta, seed=s,
                        monitor_train_cost=False)
            after = ins.curvature(net, X, y, k=1, smallest=0, hutchinson=0).largest[0]
            print(f"seed {s}: lambda_max {before:.3f} at the start (2/lambda_max "
                  f"{2 / before:.2f}), {after:.3f} after 100 steps of eta {eta:g} "
                  f"(2/lambda_max {2 / after:.2f})")


if __name__ == "__main__":
    main()
