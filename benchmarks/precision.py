"""Does float32 cost accuracy?  A preset trained in float32 (the compiled engine) and in
float64 (the NumPy reference engine), same seeds, same shuffles, side by side.

    python benchmarks/precision.py --preset nielsen-ch3 --seeds 1 2 3

Each pair starts from the same initial weights (the float32 ones, widened for float64)
and takes its mini-batches in the same order; the final test accuracy of both is printed
and written to ``benchmarks/precision.json`` (or ``--out``).  MNIST is found the usual way.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from nudge.data import load_dataset
from nudge.settings import resolve
from nudge.train import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="nielsen-ch3")
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--data-dir")
    parser.add_argument("--out", default=str(Path(__file__).with_name("precision.json")))
    args = parser.parse_args()
    data = load_dataset("mnist", args.data_dir)
    setup = resolve(args.preset, n_inputs=data.n_inputs, n_classes=len(data.classes))
    runs = []
    for seed in args.seeds:
        row = {"preset": args.preset, "seed": seed}
        for dtype, engine in ((np.float32, "auto"), (np.float64, "reference")):
            net = setup.network(seed)
            if dtype is np.float64:
                net = net.astype(np.float64)
            history = train(net, data.X_train, data.y_train, **setup.train_options(),
                            test_data=data.test_data, seed=seed, engine=engine,
                            monitor_train_cost=False)
            name = np.dtype(dtype).name
            row[name] = {"test_accuracy": history.last.test_accuracy,
                         "engine": history.settings["engine"],
                         "train_seconds": history.train_seconds}
        runs.append(row)
        print(f"{args.preset} seed {seed}: float32 ({row['float32']['engine']}) "
              f"{100 * row['float32']['test_accuracy']:.2f}%, float64 "
              f"({row['float64']['engine']}) {100 * row['float64']['test_accuracy']:.2f}%",
              flush=True)
    Path(args.out).write_text(json.dumps({"runs": runs}, indent=2) + "\n")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
