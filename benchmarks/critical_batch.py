"""Does the gradient noise scale B_simple predict the best batch size?  (McCandlish et al. 2018)

    NUDGE_DATA=/path/to/mnist python benchmarks/critical_batch.py            # ~10 min, 2 cores
    python benchmarks/critical_batch.py --batch-sizes 4,64,1024 --learning-rates 1,4 --quick

For each batch size B, a 784-16-16-10 network from one start (seed 0) is trained with plain
SGD (the one trainer, ``nudge.train.train``, constant η) at every learning rate of a small
grid (from the middle out; a run stops as soon as it has taken more steps than another η of
the same B needed for every target it has not reached, since it can no longer be the best);
an ``on_steps`` callback measures the cost on 10,000 fixed training images at step
counts 4% apart, and records the first step S at which it is at or below each target cost
(to within those 4%), with E = B S examples.  Each B keeps its best η (fewest steps) per
target.  For each target the trade-off (S/S_min − 1)(E/E_min − 1) = 1 is fitted
(:func:`nudge.insight.fit_critical_batch`), giving B_crit = E_min / S_min.  At the moment a
run reaches a target, B_simple is measured exactly over all 60,000 training images
(:func:`nudge.insight.noise_scale`); the figure shows the fitted B_crit beside the B_simple of
the best-η runs, and in a few runs (``--b-noise-runs``) also the curvature-weighted
B_noise = tr(HΣ)/(GᵀHG) (:func:`nudge.insight.hessian_noise_scale`, 100 sampled examples).
Writes ``benchmarks/critical-batch.json`` and
``docs/figures/critical-batch.png``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from nudge import Network, load_dataset
from nudge import insight as ins
from nudge.errors import DivergenceError
from nudge.insight.curvature_plots import plot_critical_batch
from nudge.train import train

ROOT = Path(__file__).resolve().parents[1]


def run(net0: Network, X, y, A_mon, y_mon, B: int, eta: float, targets: list[float],
        max_examples: int, bound: dict[float, int], b_noise: bool = False,
        ratio: float = 1.04) -> dict:
    """One SGD run until every target cost is reached, or ``max_examples`` are used, or it
    can no longer be the best of its batch size: it has taken more steps than ``bound[t]``
    (the fewest steps another η of this B needed) for every target t it has not reached."""
    net = net0.copy()
    n = len(X)
    steps_cap = max(1, max_examples // B)
    epochs = -(-steps_cap // -(-n // B))
    checks = np.unique(np.round(np.geomspace(1, steps_cap, max(2, int(
        math.log(steps_cap) / math.log(ratio)) + 1))).astype(int))
    reached: dict[float, dict] = {}
    started = time.perf_counter()

    def on_steps(p, net) -> bool | None:
        c = net.cost(A_mon, y_mon)
        if not math.isfinite(c):
            return False
        for t in targets:
            if t not in reached and c <= t:
                ns = ins.noise_scale(net, X, y)
                reached[t] = {"steps": p.step, "examples": p.seen, "cost": c,
                              "b_simple": ns.b_simple, "seconds": p.seconds}
                if b_noise:                      # the curvature-weighted noise scale too
                    hn = ins.hessian_noise_scale(net, X, y, samples=100, seed=0)
                    reached[t].update(b_noise=hn.b_noise,
                                      b_noise_standard_error=hn.b_noise_standard_error)
        if len(reached) == len(targets) or p.step >= steps_cap:
            return False
        if all(t in bound and p.step > bound[t] for t in targets if t not in reached):
            return False                         # slower than another η of this B: stop
        return None

    diverged = False
    try:
        train(net, X, y, epochs=epochs, batch_size=B, learning_rate=eta, seed=1,
              monitor_train_cost=False, on_steps=on_steps, every=checks)
    except DivergenceError:
        diverged = True
    return {"batch_size": B, "learning_rate": eta, "diverged": diverged,
            "reached": {str(t): reached.get(t) for t in targets},
            "wall_seconds": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", default="1,4,16,64,256,1024,6000")
    parser.add_argument("--learning-rates", default="0.25,0.5,1,2,4,8,16")
    parser.add_argument("--targets", default="0.5,0.3,0.2")
    parser.add_argument("--max-epochs", type=float, default=50,
                        help="examples per run at most, in epochs of 60,000 (default 50)")
    parser.add_argument("--b-noise-runs", default="64:4,256:8", metavar="B:ETA,...",
                        help="runs in which B_noise = tr(H Sigma)/(G^T H G) is measured too "
                             "(100 sampled examples, about 10 s per target)")
    parser.add_argument("--data-dir")
    parser.add_argument("--quick", action="store_true", help="write nothing, print only")
    parser.add_argument("--replot", action="store_true",
                        help="only redraw the figure from benchmarks/critical-batch.json")
    args = parser.parse_args()
    if args.replot:
        replot(json.loads((ROOT / "benchmarks" / "critical-batch.json").read_text()))
        return
    Bs = [int(b) for b in args.batch_sizes.split(",")]
    noise_runs = {(int(b), float(e)) for b, e in (r.split(":") for r in
                                                  args.b_noise_runs.split(",") if r)}
    etas = [float(e) for e in args.learning_rates.split(",")]
    targets = sorted((float(t) for t in args.targets.split(",")), reverse=True)
    data = load_dataset("mnist", args.data_dir)
    X, y = data.X_train, data.y_train
    net0 = Network([784, 16, 16, 10], seed=0)
    mon = np.random.default_rng(0).choice(len(X), 10_000, replace=False)
    A_mon, y_mon = X[mon] / np.float32(255), y[mon]
    max_examples = int(args.max_epochs * len(X))
    started = time.perf_counter()
    runs = []
    # the middle of the grid first: its runs bound the others (see run())
    middle = sorted(etas, key=lambda e: abs(math.log(e / 2)))
    for B in Bs:
        bound: dict[float, int] = {}
        for eta in middle:
            r = run(net0, X, y, A_mon, y_mon, B, eta, targets, max_examples, bound,
                    b_noise=(B, eta) in noise_runs)
            for t in targets:
                v = r["reached"][str(t)]
                if v and v["steps"] < bound.get(t, math.inf):
                    bound[t] = v["steps"]
            runs.append(r)
            got = {t: (v["steps"] if v else None) for t, v in r["reached"].items()}
            print(f"B={B:5d} eta={eta:5g}: steps to {got}  ({r['wall_seconds']:.1f} s"
                  f"{', diverged' if r['diverged'] else ''})", flush=True)
    best_rows = []
    for t in targets:
        key = str(t)
        best = {}
        for r in runs:
            v = r["reached"][key]
            if v and (r["batch_size"] not in best or v["steps"] < best[r["batch_size"]][1]
                      ["steps"]):
                best[r["batch_size"]] = (r["learning_rate"], v)
        Bt = sorted(best)
        row = {"target": t, "best": [{"batch_size": B, "learning_rate": best[B][0],
                                      **best[B][1]} for B in Bt]}
        if len(Bt) >= 3:
            row["fit"] = ins.fit_critical_batch(Bt, [best[B][1]["steps"] for B in Bt]).to_dict()
        best_rows.append(row)
    total = time.perf_counter() - started
    for row in best_rows:
        fit = row.get("fit")
        if not fit:
            print(f"target {row['target']}: fewer than 3 batch sizes reached it")
            continue
        bs = [b["b_simple"] for b in row["best"]]
        print(f"target {row['target']}: B_crit = {fit['b_crit']:,.0f} (S_min {fit['s_min']:,.0f}, "
              f"E_min {fit['e_min']:,.0f}, rms log error {fit['rms_log_error']:.2f}); B_simple "
              f"at that cost: median {np.median(bs):,.0f}, range {min(bs):,.0f} to "
              f"{max(bs):,.0f}")
    print(f"total {total:.0f} s")
    if args.quick:
        return
    for t in targets:                          # B_noise where it was measured
        for r in runs:
            v = r["reached"][str(t)]
            if v and "b_noise" in v:
                print(f"target {t}: B={r['batch_size']} eta={r['learning_rate']:g}: B_noise = "
                      f"{v['b_noise']:,.1f} +- {v['b_noise_standard_error']:,.1f}, B_simple = "
                      f"{v['b_simple']:,.1f}")
    out = {"batch_sizes": Bs, "learning_rates": etas, "targets": targets,
           "max_examples": max_examples, "monitor": 10_000, "check_ratio": 1.04,
           "total_seconds": total, "runs": runs, "results": best_rows}
    (ROOT / "benchmarks" / "critical-batch.json").write_text(json.dumps(out, indent=1) + "\n")
    replot(out)


def replot(out: dict) -> None:
    """docs/figures/critical-batch.png from the measurements (the JSON this script writes)."""
    rows = [row for row in out["results"] if "fit" in row]
    fits = [ins.CriticalBatch(**row["fit"]) for row in rows]
    noise = [[v["b_noise"] for r in out["runs"] if (v := r["reached"][str(row["target"])])
              and "b_noise" in v] for row in rows]
    plot_critical_batch(fits, [row["target"] for row in rows],
                        [[b["b_simple"] for b in row["best"]] for row in rows],
                        ROOT / "docs" / "figures" / "critical-batch.png",
                        b_noise=noise if all(noise) else None,
                        title="784-16-16-10 on MNIST, SGD from one start, each B with its best η "
                        "of " + ",".join(f"{e:g}" for e in out["learning_rates"]))


if __name__ == "__main__":
    main()
