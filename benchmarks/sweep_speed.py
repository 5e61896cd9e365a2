"""How fast ``nudge sweep`` runs, side by side with bare ``nudge.train`` calls.

(a) runs per minute of the local pool (2 workers) against one process calling
    ``nudge.train`` in a loop (target: >= 1.8x on 2 cores);
(b) the overhead per run of the sweep machinery (grid point -> worker -> trainer ->
    result line appended and fsynced by the client) against a bare ``nudge.train``
    call: the sweep with 1 worker, per run in its steady state (from its first result
    to its last), and the one-time start-up of the pool (target: <= 5% per run); and
    the same in CPU seconds (client + worker), which a busy machine does not change.

The runs: the 3b1b preset on full MNIST for a few epochs, learning rates x seeds, with
the compiled engine and one thread (as the sweep's workers run them).  The bare loop is
measured twice: with NumPy's BLAS limited to one thread (as in the workers) and as it
comes (all cores for the test-set evaluation); the ratio is given against the faster.
Rounds alternate the four measurements so that a busy spell on a shared machine hits
all of them; medians are reported, with the load average before and after.

    python benchmarks/sweep_speed.py                      # MNIST via $NUDGE_DATA
    python benchmarks/sweep_speed.py --runs 30 --epochs 2 --rounds 3 --json out.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

from nudge.data import load_dataset
from nudge.settings import TrainingSetup
from nudge.sweep import expand, run_sweep, runner
from nudge.train import train


def bare(data, points, blas_threads: int | None) -> dict:
    """Each point as one call of nudge.train in this process, one after another."""
    times = []
    started, cpu = time.perf_counter(), time.process_time()
    with threadpool_limits(blas_threads) if blas_threads else _nothing():
        for p in points:
            setup = TrainingSetup(**{k: v for k, v in p.settings.items()
                                     if k in TrainingSetup.__dataclass_fields__})
            net = setup.network(p.seed)
            t = time.perf_counter()
            train(net, data.X_train, data.y_train, **setup.train_options(),
                  test_data=data.test_data, seed=p.seed, threads=1, monitor_train_cost=False)
            times.append(time.perf_counter() - t)
    return {"wall": time.perf_counter() - started, "per_run": statistics.mean(times),
            "cpu_per_run": (time.process_time() - cpu) / len(points)}


def _cpu_now() -> float:
    """CPU seconds of this process and of its children that have ended."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def sweep_cpu(grid, folder: Path) -> dict:
    """CPU seconds per run through the sweep with 1 worker, start-up excluded: a sweep of
    all points minus a sweep of one point, over the difference in points.  The worker is
    spawned (a child of this process, so that its CPU time is counted here; the default
    forkserver's workers are children of the fork server)."""
    ctx = runner._context
    runner._context = lambda: multiprocessing.get_context("spawn")
    try:
        cpu = []
        for points in (grid.points[:1], grid.points):
            one = type(grid)(grid.lists, grid.seeds, points)
            before = _cpu_now()
            run_sweep(one, folder / f"cpu-{len(points)}-{time.monotonic_ns()}.jsonl",
                      workers=1)
            cpu.append(_cpu_now() - before)
    finally:
        runner._context = ctx
    return {"cpu_per_run": (cpu[1] - cpu[0]) / (len(grid.points) - 1), "cpu_start_up":
            cpu[0]}


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def sweep(grid, workers: int, folder: Path) -> dict:
    """The grid through run_sweep (a fresh pool, a fresh results file)."""
    out = folder / f"sweep-{workers}-{time.monotonic_ns()}.jsonl"
    stamps: list[float] = []
    started = time.perf_counter()
    run = run_sweep(grid, out, workers=workers, on_result=lambda r: stamps.append(
        time.perf_counter()))
    wall = time.perf_counter() - started
    assert run.ran == len(grid.points) == len(stamps)
    inside = statistics.mean(r["seconds"] for r in run.records)
    steady = (stamps[-1] - stamps[0]) / (len(stamps) - 1) * workers
    return {"wall": wall, "first_result": stamps[0] - started, "steady_per_run": steady,
            "train_call_in_worker": inside}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--runs", type=int, default=30, help="grid points (multiple of 3)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", metavar="FILE", help="also write the numbers here")
    args = parser.parse_args()
    data = load_dataset(args.dataset)
    grid = expand({"learning_rate": "0.5,1,2", "epochs": str(args.epochs)},
                  seeds=f"1-{max(1, args.runs // 3)}", datasets=lambda name: data)
    n = len(grid.points)
    load_before = os.getloadavg()
    rounds: dict[str, list[dict]] = {"bare_blas1": [], "bare_default": [], "pool1": [],
                                     "pool2": [], "pool1_cpu": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            rounds["bare_blas1"].append(bare(data, grid.points, 1))
            rounds["bare_default"].append(bare(data, grid.points, None))
            rounds["pool1"].append(sweep(grid, 1, Path(tmp)))
            rounds["pool2"].append(sweep(grid, 2, Path(tmp)))
            rounds["pool1_cpu"].append(sweep_cpu(grid, Path(tmp)))
            print(f"round {r + 1}: " + ", ".join(
                f"{k} {v[-1]['wall']:.2f}s" for k, v in rounds.items() if "wall" in v[-1]),
                flush=True)
    load_after = os.getloadavg()

    def med(name: str, field: str) -> float:
        return statistics.median(x[field] for x in rounds[name])

    per_minute = {k: 60 * n / med(k, "wall") for k in rounds if k != "pool1_cpu"}
    one_process = max(per_minute["bare_blas1"], per_minute["bare_default"])
    bare_run = med("bare_blas1", "per_run")
    result = {
        "dataset": args.dataset, "runs": n, "epochs": args.epochs, "rounds": args.rounds,
        "cpus": os.cpu_count(), "load_average_before": load_before,
        "load_average_after": load_after,
        "runs_per_minute": per_minute,
        "speedup_pool2_vs_one_process": per_minute["pool2"] / one_process,
        "bare_train_call_s": bare_run,
        "pool1_steady_per_run_s": med("pool1", "steady_per_run"),
        "overhead_per_run": med("pool1", "steady_per_run") / bare_run - 1,
        "pool1_start_up_s": med("pool1", "first_result") - bare_run,
        "overhead_with_start_up": med("pool1", "wall") / (n * bare_run) - 1,
        "train_call_in_worker_s": med("pool1", "train_call_in_worker"),
        "bare_cpu_per_run_s": med("bare_blas1", "cpu_per_run"),
        "pool1_cpu_per_run_s": med("pool1_cpu", "cpu_per_run"),
        "cpu_overhead_per_run": med("pool1_cpu", "cpu_per_run") / med("bare_blas1",
                                                                      "cpu_per_run") - 1,
        "pool1_cpu_start_up_s": med("pool1_cpu", "cpu_start_up"),
        "spread": {k: [round(x["wall"], 3) for x in v] for k, v in rounds.items()
                   if k != "pool1_cpu"},
    }
    print(f"\n{n} runs of the 3b1b network, {args.epochs} epochs on {args.dataset}, "
          f"median of {args.rounds} rounds; load average {load_before[0]:.1f} before, "
          f"{load_after[0]:.1f} after, on {os.cpu_count()} CPUs")
    print(f"{'':34}{'runs/min':>10}{'wall s (each round)':>30}")
    for k, label in (("bare_blas1", "one process, BLAS 1 thread"),
                     ("bare_default", "one process, BLAS as it comes"),
                     ("pool1", "nudge sweep, 1 worker"), ("pool2", "nudge sweep, 2 workers")):
        print(f"{label:34}{per_minute[k]:10.1f}{str(result['spread'][k]):>30}")
    speedup = result["speedup_pool2_vs_one_process"]
    print(f"\n(a) 2 workers / one process (the faster): {speedup:.2f}x   (target >= 1.8x)")
    print(f"(b) per run: bare train() {1000 * bare_run:.1f} ms, through the sweep "
          f"{1000 * result['pool1_steady_per_run_s']:.1f} ms: overhead "
          f"{100 * result['overhead_per_run']:+.1f}% (target <= 5%); the pool's start-up "
          f"{result['pool1_start_up_s']:.2f} s once ({100 * result['overhead_with_start_up']:+.1f}%"
          f" over these {n} runs)")
    print(f"    in CPU time (what a busy machine does not change): bare "
          f"{1000 * result['bare_cpu_per_run_s']:.1f} ms, through the sweep "
          f"{1000 * result['pool1_cpu_per_run_s']:.1f} ms per run: overhead "
          f"{100 * result['cpu_overhead_per_run']:+.1f}%; a spawned worker's start-up with "
          f"one run {result['pool1_cpu_start_up_s']:.2f} s of CPU")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
