"""How long the noise scale and the curvature take on full MNIST (not a unit test).

    NUDGE_DATA=/path/to/mnist python benchmarks/curvature_speed.py [--model M] [--repeats 5]
        [--busy N]

For a 784-16-16-10 network (the given model, or else the one ``nudge train --seed 1`` makes,
trained here first: the 3b1b preset, as in docs/curvature-and-noise.md) over the 60,000
training images: ``noise_scale`` (B_simple), one exact Hessian-vector product (float32 and
float64), and ``curvature`` with the top 5 eigenvalues only and with the defaults of
``nudge curvature`` (top 5, smallest 1, Hutchinson 10); and what the web page's live panel
measures every 3 s (B_simple and λ_max over 1,000 images), on that model and on a new
network of the 3b1b preset (seed 1).  BLAS on one thread (as
``noise_scale`` and ``curvature`` run it), and a product also on BLAS's default threads.
Prints medians of wall time and of CPU time, and the 1-minute load
average (a busy machine makes the wall times longer; the CPU time shows the work); ``--busy N``
keeps N other processes spinning on the CPUs meanwhile.  Writes
``benchmarks/curvature-speed.json`` unless --quick.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
from busy import spinning

from nudge import insight as ins
from nudge import load, load_dataset
from nudge.settings import resolve
from nudge.train import train
from nudge.web.measure import INSIGHT_EXAMPLES

ROOT = Path(__file__).resolve().parents[1]


def timed(fn, repeats: int) -> tuple[float, float]:
    """(median wall seconds, median CPU seconds of this process) over ``repeats`` calls."""
    walls, cpus = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus)


def panel(net, X, y) -> None:
    """What the web page's curvature and noise panel measures (``nudge.web.measure``)."""
    X, y = X[:INSIGHT_EXAMPLES], y[:INSIGHT_EXAMPLES]
    ins.noise_scale(net, X, y)
    ins.curvature(net, X, y, k=1, smallest=0, hutchinson=0, tol=1e-3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a trained 784-16-16-10 model (default: train the "
                        "one nudge train --seed 1 makes)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--data-dir")
    parser.add_argument("--quick", action="store_true", help="print only")
    parser.add_argument("--busy", type=int, default=0, help="processes spinning beside it")
    args = parser.parse_args()
    with spinning(args.busy):
        measure(args)


def measure(args: argparse.Namespace) -> None:
    data = load_dataset("mnist", args.data_dir)
    X, y = data.X_train, data.y_train
    if args.model:
        net = load(args.model)
    else:                                       # what nudge train --seed 1 does
        setup = resolve("3b1b", n_inputs=784, n_classes=10)
        net = setup.network(1)
        train(net, X, y, **setup.train_options(), seed=1, monitor_train_cost=False)
    new = resolve("3b1b", n_inputs=784, n_classes=10).network(1)
    v = np.random.default_rng(0).standard_normal(net.n_parameters)
    H32 = ins.HessianOperator(net, X, y, chunk=4096, dtype=np.float32)
    H64 = ins.HessianOperator(net, X, y, chunk=4096, dtype=np.float64)
    ins.noise_scale(net, X[:2000], y[:2000])                         # warm up
    one, free = ins.single_threaded_blas, contextlib.nullcontext   # BLAS threads: 1, default
    cases = [
        ("noise_scale, 60,000 examples", lambda: ins.noise_scale(net, X, y), args.repeats, one),
        ("one Hessian-vector product, float32", lambda: H32.matvec(v), args.repeats, one),
        ("  the same, BLAS on its default threads", lambda: H32.matvec(v), args.repeats, free),
        ("one Hessian-vector product, float64", lambda: H64.matvec(v), args.repeats, one),
        ("curvature: top 5 only", lambda: ins.curvature(net, X, y, k=5, smallest=0,
                                                          hutchinson=0), 3, one),
        ("curvature: nudge curvature's defaults", lambda: ins.curvature(net, X, y), 1, one),
        # as the page runs them: in its own thread, BLAS left as it comes
        ("the web page's panel, this model", lambda: panel(net, X, y), args.repeats, free),
        ("the web page's panel, a new network", lambda: panel(new, X, y), args.repeats, free),
    ]
    rows = []
    for name, fn, repeats, ctx in cases:
        with ctx():
            load_before = os.getloadavg()[0]
            wall, cpu = timed(fn, repeats)
        rows.append({"case": name.strip(), "wall_seconds": wall, "cpu_seconds": cpu,
                     "repeats": repeats, "load_average": load_before})
        print(f"{name:42s} {wall:7.3f} s wall, {cpu:7.3f} s CPU (median of {repeats}; "
              f"load average {load_before:.1f})", flush=True)
    cv = ins.curvature(net, X, y, k=5, smallest=0, hutchinson=0)
    print(f"top-5 took {cv.products} Hessian-vector products")
    if not args.quick:
        out = {"model": args.model or "nudge train --seed 1", "cpus": os.cpu_count(),
               "busy": args.busy,
               "machine": platform.processor() or platform.machine(), "rows": rows,
               "top5_products": cv.products}
        (ROOT / "benchmarks" / "curvature-speed.json").write_text(json.dumps(out, indent=1)
                                                                  + "\n")


if __name__ == "__main__":
    main()
