"""nudge's trainer against the tools people would otherwise use, on one MNIST epoch.

    NUDGE_DATA=/path/to/mnist python benchmarks/bench.py --out benchmarks/results.json

One epoch = 60,000 training images, sigmoid hidden and output layers, quadratic
cost Σ (a − y)² (no ½), plain SGD with η = 3, float32, the same initial weights
and the same shuffle for everyone.  Contenders: nudge's trainer
(``nudge.train``, engine auto), PyTorch eager on the CPU, JAX with the whole
epoch jit-compiled as one ``lax.scan`` (compile time reported separately),
plain vectorised NumPy, and a per-example loop in the style of the classic
textbook ``network.py`` (timed on a slice and scaled to 60,000).  Each timing
is the median of ``--repeats`` runs after a warm-up, the contenders taking turns
(one run each per round).  Rivals that are not
installed are skipped with a note.  Also measured: training time to 95% test
accuracy for the presets, peak RSS of ``nudge train``, start-up time from the
command to the first SGD step, and how the epoch time scales with the hidden
width and the batch size.  This is a script, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ETA = 3.0
CONFIGS = [([784, 16, 16, 10], 10), ([784, 16, 16, 10], 100), ([784, 30, 10], 10),
           ([784, 100, 10], 10)]
RIVALS = ["nudge", "jax", "torch", "numpy", "textbook"]


# --------------------------------------------------------------------------- contenders
#: nudge's threads (None: its default; --nudge-threads)
THREADS_FOR_NUDGE: int | None = None


def nudge_epoch(X, y, sizes, B, order_seed, net0):
    from nudge import train

    net = net0.copy()
    h = train(net, X, y, epochs=1, batch_size=B, learning_rate=ETA, seed=order_seed,
              monitor_train_cost=False, threads=THREADS_FOR_NUDGE)
    return h.last.seconds, (h.settings["engine"], h.settings.get("threads", 1))


def numpy_epoch(X, y, order, B, net0) -> float:
    """The obvious vectorised NumPy: gather a batch, forward, backward, update."""
    Ws = [w.copy() for w in net0.weights]
    bs = [b.copy() for b in net0.biases]
    t0 = time.perf_counter()
    with np.errstate(over="ignore"):            # exp(-z) for very negative z: sigmoid 0
        _numpy_steps(X, y, order, B, Ws, bs)
    return time.perf_counter() - t0


def _numpy_steps(X, y, order, B, Ws, bs) -> None:
    eye = np.eye(10, dtype=np.float32)
    for s in range(0, len(order), B):
        idx = order[s:s + B]
        a = X[idx].astype(np.float32) / np.float32(255)
        Y = eye[y[idx]]
        acts = [a]
        for W, b in zip(Ws, bs):
            a = 1 / (1 + np.exp(-(a @ W.T + b)))
            acts.append(a)
        d = 2 * (a - Y) * a * (1 - a) / len(idx)
        for l in range(len(Ws) - 1, -1, -1):
            gW, gb = d.T @ acts[l], d.sum(0)
            if l:
                d = (d @ Ws[l]) * acts[l] * (1 - acts[l])
            Ws[l] -= ETA * gW
            bs[l] -= ETA * gb


def textbook_epoch(X, y, order, B, net0, n_examples: int) -> float:
    """Per-example backprop with column vectors, as in the classic network.py (float32),
    on the first n_examples of the shuffle; returns the time scaled to the whole epoch."""
    Ws = [w.copy() for w in net0.weights]
    bs = [b.copy()[:, None] for b in net0.biases]
    f32 = np.float32
    n = n_examples - n_examples % B
    t0 = time.perf_counter()
    with np.errstate(over="ignore"):
        for s in range(0, n, B):
            nabla_w = [np.zeros(w.shape, f32) for w in Ws]
            nabla_b = [np.zeros(b.shape, f32) for b in bs]
            for k in order[s:s + B]:
                x = (X[k].astype(f32) / f32(255))[:, None]
                yv = np.zeros((10, 1), f32)
                yv[y[k]] = 1
                acts, a = [x], x
                for W, b in zip(Ws, bs):
                    a = 1 / (1 + np.exp(-(W @ a + b)))
                    acts.append(a)
                d = 2 * (a - yv) * a * (1 - a)
                for l in range(len(Ws) - 1, -1, -1):
                    nabla_b[l] += d
                    nabla_w[l] += d @ acts[l].T
                    if l:
                        d = (Ws[l].T @ d) * acts[l] * (1 - acts[l])
            for l in range(len(Ws)):
                Ws[l] -= (ETA / B) * nabla_w[l]
                bs[l] -= (ETA / B) * nabla_b[l]
    return (time.perf_counter() - t0) * len(order) / n


def torch_epoch_factory(X, y, order, B, net0, threads: int):
    import torch

    torch.set_num_threads(threads)
    Xt, yt = torch.from_numpy(np.ascontiguousarray(X)), torch.from_numpy(y.astype(np.int64))
    ot = torch.from_numpy(order.astype(np.int64))

    def run() -> float:
        layers: list[Any] = []
        for W, b in zip(net0.weights, net0.biases):
            lin = torch.nn.Linear(W.shape[1], W.shape[0])
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(W))
                lin.bias.copy_(torch.from_numpy(b))
            layers += [lin, torch.nn.Sigmoid()]
        model = torch.nn.Sequential(*layers)
        opt = torch.optim.SGD(model.parameters(), lr=ETA)
        t0 = time.perf_counter()
        for s in range(0, len(ot), B):
            idx = ot[s:s + B]
            xb = Xt[idx].float() / 255
            yb = torch.nn.functional.one_hot(yt[idx], 10).float()
            loss = ((model(xb) - yb) ** 2).sum(1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return time.perf_counter() - t0

    return run


def jax_epoch_factory(X, y, order, B, net0):
    import jax
    import jax.numpy as jnp

    steps = len(order) // B
    idx = order[:steps * B]
    Xs = jnp.asarray(X[idx].reshape(steps, B, -1))          # uint8, pre-shuffled
    ys = jnp.asarray(y[idx].reshape(steps, B).astype(np.int32))
    params0 = [(jnp.asarray(W), jnp.asarray(b)) for W, b in zip(net0.weights, net0.biases)]

    def cost(params, xb, yb):
        a = xb.astype(jnp.float32) * jnp.float32(1 / 255)
        for W, b in params:
            a = jax.nn.sigmoid(a @ W.T + b)
        return jnp.mean(jnp.sum((a - jax.nn.one_hot(yb, 10, dtype=jnp.float32)) ** 2, 1))

    def step(params, batch):
        g = jax.grad(cost)(params, *batch)
        return jax.tree_util.tree_map(lambda p, q: p - ETA * q, params, g), None

    @jax.jit
    def epoch(params, Xs, ys):
        return jax.lax.scan(step, params, (Xs, ys))[0]

    t0 = time.perf_counter()
    compiled = epoch.lower(params0, Xs, ys).compile()
    compile_s = time.perf_counter() - t0

    def run() -> float:
        t0 = time.perf_counter()
        out = compiled(params0, Xs, ys)
        jax.block_until_ready(out)
        return time.perf_counter() - t0

    return run, compile_s


# --------------------------------------------------------------------------- whole-program
STARTUP_CODE = r"""
import os, sys, time
from nudge.engine import CompiledEngine, ReferenceEngine

def first_step_of(cls):                        # the engine's first call takes one step
    real = cls.run
    def first_step(self, net, order, first, last, eta):
        real(self, net, order, first, min(last, first + self.batch_size), eta)
        print("FIRST_STEP", time.time(), cls.name, flush=True)
        os._exit(0)
    cls.run = first_step

first_step_of(CompiledEngine)
first_step_of(ReferenceEngine)
from nudge.cli import main
main(["train", "--epochs", "1", "--quiet", "--seed", "1", "--out", sys.argv[1]])
"""


def startup_seconds(tmp: Path) -> float:
    """Seconds from launching ``nudge train`` (a fresh Python) to the end of its first SGD
    step, the dataset already decoded in the cache."""
    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", STARTUP_CODE, str(tmp / "s.safetensors")],
                         capture_output=True, text=True, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("FIRST_STEP"))
    return float(line.split()[1]) - t0


def peak_rss_mb(args: list[str]) -> tuple[float, float, str]:
    """(peak RSS in MB, wall seconds, how measured) of one ``nudge train`` run.

    /usr/bin/time's %M where it exists; otherwise the child's VmHWM from /proc,
    polled (a child forked from this big process would inherit its high-water mark
    in getrusage, so wait4's figure is not used)."""
    cmd = [sys.executable, "-m", "nudge", "train", *args]
    t0 = time.perf_counter()
    if Path("/usr/bin/time").exists():
        r = subprocess.run(["/usr/bin/time", "-f", "MAXRSS_KB %M", *cmd], capture_output=True,
                           text=True, check=True)
        kb = int(next(ln for ln in r.stderr.splitlines() if ln.startswith("MAXRSS_KB")
                      ).split()[1])
        return kb / 1024, time.perf_counter() - t0, "/usr/bin/time %M"
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kb = 0
    while proc.poll() is None:
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
            kb = max(kb, int(next(ln for ln in status.splitlines()
                                  if ln.startswith("VmHWM")).split()[1]))
        except (OSError, StopIteration):
            pass
        time.sleep(0.02)
    return kb / 1024, time.perf_counter() - t0, "/proc VmHWM polled every 20 ms"


def time_to_accuracy(data, preset: str, target: float = 0.95, seed: int = 0) -> dict[str, Any]:
    from nudge import PRESETS, Network, train

    p = PRESETS[preset]
    net = Network(p["sizes"], p["activation"], p["output"], p["cost"], p["init"], seed=seed)
    t0 = time.perf_counter()
    h = train(net, data.X_train, data.y_train, epochs=p["epochs"], batch_size=p["batch_size"],
              learning_rate=p["learning_rate"], schedule=p.get("schedule", "constant"),
              min_learning_rate=p.get("min_learning_rate", 0.0),
              weight_decay=p.get("weight_decay", 0.0), test_data=data.test_data, seed=seed,
              monitor_train_cost=False,
              callback=lambda rec, _net: rec.test_accuracy < target)
    wall = time.perf_counter() - t0
    reached = h.last.test_accuracy >= target
    keys = ("sizes", "batch_size", "learning_rate", "schedule", "min_learning_rate",
            "weight_decay", "epochs")
    return {"preset": preset, "seed": seed, "settings": {k: p.get(k) for k in keys},
            "reached": reached, "epochs": len(h.epochs),
            "train_seconds": round(h.train_seconds, 4) if reached else None,
            "wall_seconds_with_evaluation": round(wall, 3),
            "test_accuracy": h.last.test_accuracy,
            "best_test_accuracy": max(h.column("test_accuracy")),
            "engine": h.settings["engine"]}


def bench_config(X, y, sizes: list[int], B: int, args: argparse.Namespace, repeats: int,
                 available: dict[str, bool]) -> dict[str, Any]:
    """One row of the table: every contender on one epoch of this network and batch size.

    The contenders take turns: each round times every one of them once (in a rotated
    order), so that a slow patch of a shared machine falls on all of them alike.  The
    slow ones (PyTorch eager, the per-example loop) run in the first half of the rounds
    only.  Per contender: the median (the figure reported) and all times; per rival,
    ``ratio_to_nudge`` (median / nudge's median) and ``paired_ratio`` (the median, over
    the rounds, of its time / nudge's time in the same round).
    """
    from nudge import Network

    net0 = Network(sizes, seed=0)
    order = np.random.default_rng(1).permutation(len(X))
    row: dict[str, Any] = {"sizes": sizes, "batch_size": B, "rounds": repeats}
    engine: list[str] = []

    def run_nudge() -> float:
        seconds, used = nudge_epoch(X, y, sizes, B, 1, net0)
        engine.append(used)
        return seconds

    runners: dict[str, tuple[Callable[[], float], int]] = {"nudge": (run_nudge, repeats)}
    compile_s = None
    if "jax" in available:
        run_jax, compile_s = jax_epoch_factory(X, y, order, B, net0)
        runners["jax"] = (run_jax, repeats)
    if "torch" in available:
        runners["torch"] = (torch_epoch_factory(X, y, order, B, net0, args.torch_threads),
                            max(1, repeats // 2))
    if "numpy" not in args.skip:
        runners["numpy"] = (lambda: numpy_epoch(X, y, order, B, net0), repeats)
    n_ex = min(args.textbook_examples, len(X))
    if "textbook" not in args.skip:
        runners["textbook"] = (lambda: textbook_epoch(X, y, order, B, net0, n_ex),
                               max(1, repeats // 2))
    for k in ("nudge", "jax", "numpy"):                      # warm-up (loads the kernels)
        if k in runners:
            runners[k][0]()
    times: dict[str, list[float]] = {k: [] for k in runners}
    names = list(runners)
    for r in range(repeats):
        for k in names[r % len(names):] + names[:r % len(names)]:
            run, rounds = runners[k]
            if r < rounds:
                times[k].append(run())
    base = statistics.median(times["nudge"])
    for k, ts in times.items():
        row[k] = {"seconds": statistics.median(ts), "min_seconds": min(ts), "all": ts}
        paired = [t / n for t, n in zip(ts, times["nudge"])]
        row[k]["ratio_to_nudge"] = row[k]["seconds"] / base
        row[k]["paired_ratio"] = statistics.median(paired)
    row["nudge"]["engine"], row["nudge"]["threads"] = engine[-1]
    row["nudge"]["path"] = _path(engine[-1][0])
    if compile_s is not None:
        row["jax"]["compile_seconds"] = compile_s
    if "textbook" in row:
        row["textbook"]["timed_examples"] = n_ex
    return row


def _path(engine: str) -> str:
    """What took nudge's steps: the C kernel, or (for wide layers and large batches, the
    reference engine) NumPy's matrix products (BLAS)."""
    return "kernel" if engine == "fast" else "blas"


def scaling_point(X, y, order, sizes: list[int], B: int) -> dict[str, Any]:
    """nudge and plain NumPy on one epoch over X[order], scaled to 60,000 examples."""
    from nudge import Network, train

    net0 = Network(sizes, seed=0)
    scale = len(X) / len(order)
    Xs, ys = X[order], y[order]
    settings: dict[str, Any] = {}

    def run_nudge() -> float:
        h = train(net0.copy(), Xs, ys, epochs=1, batch_size=B, learning_rate=ETA, seed=1,
                  monitor_train_cost=False, threads=THREADS_FOR_NUDGE)
        settings.update(h.settings)
        return h.last.seconds

    run_nudge()
    tn, tp = [], []
    for _ in range(5):                          # taking turns, as in bench_config
        tn.append(run_nudge() * scale)
        tp.append(numpy_epoch(X, y, order, B, net0) * scale)
    tn, tp = statistics.median(tn), statistics.median(tp)
    return {"sizes": sizes, "batch_size": B, "nudge_seconds": tn, "numpy_seconds": tp,
            "nudge_threads": settings["threads"], "path": _path(settings["engine"])}


# --------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="benchmarks/results.json", help="JSON file to write")
    ap.add_argument("--repeats", type=int, default=9,
                    help="rounds: timed runs per entry (median; half as many for PyTorch "
                         "and the per-example loop)")
    ap.add_argument("--quick", action="store_true",
                    help="fewer repeats, the first config only, no scaling sweep")
    ap.add_argument("--skip", nargs="*", default=[], choices=RIVALS[1:],
                    help="rivals to leave out")
    ap.add_argument("--torch-threads", type=int, default=1,
                    help="torch.set_num_threads (default 1: fastest for these tiny matrices)")
    ap.add_argument("--textbook-examples", type=int, default=3000,
                    help="examples the per-example loop is timed on (scaled to 60,000)")
    ap.add_argument("--nudge-threads", type=int, choices=[1, 2],
                    help="threads nudge may use (default: its own choice: for networks with "
                         "512+ neurons in the first hidden layer where two CPUs are free, "
                         "the faster of 1 and 2, timed while it trains)")
    ap.add_argument("--no-extras", action="store_true",
                    help="skip time-to-95%%, RSS, start-up and scaling")
    args = ap.parse_args()
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")
    global THREADS_FOR_NUDGE
    THREADS_FOR_NUDGE = args.nudge_threads
    repeats = 3 if args.quick else args.repeats

    from nudge import load_dataset

    data = load_dataset("mnist")
    X, y = data.X_train, data.y_train
    configs = CONFIGS[:1] if args.quick else CONFIGS
    notes: list[str] = []
    available = {}
    for name, module in (("torch", "torch"), ("jax", "jax")):
        if name in args.skip:
            continue
        try:
            __import__(module)
            available[name] = True
        except ImportError:
            notes.append(f"{name} is not installed: skipped")
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "processor": platform.processor() or platform.machine(),
                    "python": platform.python_version(), "numpy": np.__version__,
                    "note": "shared machine: other processes may have been running"},
        "settings": {"eta": ETA, "repeats": repeats, "torch_threads": args.torch_threads,
                     "nudge_threads": args.nudge_threads or "auto",
                     "textbook_examples": args.textbook_examples},
        "epochs": [], "notes": notes,
    }
    for name in ("torch", "jax"):
        try:
            results["machine"][name] = __import__(name).__version__
        except ImportError:
            pass

    print(f"one epoch of 60,000 MNIST images, median of {repeats} "
          f"(seconds; ratio = time / nudge's time)", flush=True)
    for sizes, B in configs:
        row = bench_config(X, y, sizes, B, args, repeats, available)
        results["epochs"].append(row)
        print(f"  {'-'.join(map(str, sizes))} B={B}: " + ", ".join(
            f"{k} {row[k]['seconds']:.3f}s (x{row[k]['ratio_to_nudge']:.1f}, "
            f"paired x{row[k]['paired_ratio']:.1f})" for k in RIVALS if k in row), flush=True)

    if not args.no_extras:
        extras(results, data, args.quick)
    print_table(results)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {out}")


def builds_point(X, y, sizes: list[int], B: int, rounds: int = 5) -> list[dict[str, Any]]:
    """One epoch with each build of the C kernel this CPU runs (AVX-512, AVX2 + FMA,
    plain x86-64), taking turns: what machines without AVX-512 would get."""
    from nudge import Network
    from nudge.engine import CompiledEngine, clib

    builds = clib.c_kernel_builds()
    if not builds:
        return []
    kept = clib._c_kernel, clib._c_sparse_rows, clib._c_forward, clib.c_kernel_isa
    kernels = {}
    for name in builds:
        clib._c_kernel = None
        clib._load_c_kernel(name)
        kernels[clib.c_kernel_isa] = clib._c_kernel
    net0 = Network(sizes, seed=0)
    order = np.random.default_rng(1).permutation(len(X))
    times: dict[str, list[float]] = {isa: [] for isa in kernels}
    try:
        engine = CompiledEngine(net0, X, y, B, threads=THREADS_FOR_NUDGE)
        for _ in range(rounds + 1):
            for isa, kernel in kernels.items():
                clib._c_kernel = kernel
                net = net0.copy()
                t0 = time.perf_counter()
                engine.run(net, order, 0, len(order), ETA)
                times[isa].append(time.perf_counter() - t0)
    finally:
        clib._c_kernel, clib._c_sparse_rows, clib._c_forward, clib.c_kernel_isa = kept
    return [{"sizes": sizes, "batch_size": B, "isa": isa,
             "seconds": statistics.median(ts[1:]), "all": ts[1:]}   # the first: warm-up
            for isa, ts in times.items()]


def extras(results: dict[str, Any], data, quick: bool) -> None:
    results["builds"] = builds_point(data.X_train, data.y_train, [784, 16, 16, 10], 10)
    for r in results["builds"]:
        print(f"  C kernel build {r['isa']}: 784-16-16-10 B=10 {r['seconds']:.3f}s", flush=True)
    results["time_to_95"] = []
    for preset in ("3b1b", "nielsen"):
        for seed in (1, 2, 3):              # the seeds of benchmarks/accuracy.py
            r = time_to_accuracy(data, preset, seed=seed)
            results["time_to_95"].append(r)
            print(f"  {preset} seed {seed}: " + _reach(r), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        startup_seconds(tmp_path)                                 # warm the caches
        s = [startup_seconds(tmp_path) for _ in range(5)]
        results["startup_seconds"] = {"median": statistics.median(s), "all": s}
        rss, wall, how = peak_rss_mb(["--epochs", "1", "--quiet", "--seed", "1",
                                      "--out", str(tmp_path / "m.safetensors")])
        results["nudge_train_peak_rss_mb"] = {"3b1b_1_epoch": rss, "wall_seconds": wall,
                                              "measured_with": how}
    print(f"  start-up to first step {results['startup_seconds']['median']:.3f} s; "
          f"peak RSS of nudge train {rss:.0f} MB", flush=True)
    if quick:
        return
    # scaling: 784-H-10 and 784-16-16-10 over batch sizes, nudge vs plain NumPy, on a
    # 10,000-example slice of the shuffle (times scaled to 60,000)
    X, y = data.X_train, data.y_train
    order = np.random.default_rng(1).permutation(len(X))[:10000]
    sweep = [([784, h, 10], B) for h in (16, 64, 256, 1024) for B in (10, 100)]
    sweep += [([784, 16, 16, 10], B) for B in (1, 10, 100, 1000)]
    results["scaling"] = []
    for sizes, B in sweep:
        r = scaling_point(X, y, order, sizes, B)
        results["scaling"].append(r)
        print(f"  scaling {'-'.join(map(str, sizes))} B={B}: nudge {r['nudge_seconds']:.3f}s, "
              f"numpy {r['numpy_seconds']:.3f}s", flush=True)


def _reach(r: dict[str, Any]) -> str:
    if r["reached"]:
        return (f"95% test accuracy after {r['epochs']} epochs, {r['train_seconds']:.2f} s of "
                f"training ({r['wall_seconds_with_evaluation']:.1f} s with evaluation)")
    return (f"95% not reached in {r['epochs']} epochs (best {r['best_test_accuracy']:.2%}; "
            f"{r['wall_seconds_with_evaluation']:.1f} s with evaluation)")


def print_table(results: dict[str, Any]) -> None:
    print("\n| network | B | " + " | ".join(RIVALS) + " |")
    print("|---|---|" + "---|" * len(RIVALS))
    for row in results["epochs"]:
        cells = []
        for k in RIVALS:
            if k not in row:
                cells.append("skipped")
            elif k == "nudge":
                threads = row[k].get("threads", 1)
                cells.append(f"**{row[k]['seconds']:.3f} s**"
                             + (f" ({threads} threads)" if threads > 1 else ""))
            else:
                cells.append(f"{row[k]['seconds']:.3f} s (x{row[k]['ratio_to_nudge']:.0f})")
        print(f"| {'-'.join(map(str, row['sizes']))} | {row['batch_size']} | "
              + " | ".join(cells) + " |")
    jax_compile = [r["jax"]["compile_seconds"] for r in results["epochs"] if "jax" in r]
    if jax_compile:
        print("\nJAX compile time (excluded above): "
              + ", ".join(f"{c:.2f} s" for c in jax_compile))
    if results.get("builds"):
        print("C kernel builds, 784-16-16-10 B=10: " + ", ".join(
            f"{r['isa']} {r['seconds']:.3f} s" for r in results["builds"]))
    for r in results.get("time_to_95", []):
        print(f"{r['preset']} seed {r.get('seed')}: " + _reach(r))
    if "startup_seconds" in results:
        print(f"start-up, command to first SGD step: {results['startup_seconds']['median']:.3f} s;"
              f" peak RSS of nudge train: "
              f"{results['nudge_train_peak_rss_mb']['3b1b_1_epoch']:.0f} MB")
    if results.get("scaling"):
        print("\n| network | B | nudge | threads | numpy | path |\n|---|---|---|---|---|---|")
        for r in results["scaling"]:
            print(f"| {'-'.join(map(str, r['sizes']))} | {r['batch_size']} | "
                  f"{r['nudge_seconds']:.3f} s | {r.get('nudge_threads', 1)} | "
                  f"{r['numpy_seconds']:.3f} s | {r['path']} |")
    for n in results["notes"]:
        print("note:", n)


if __name__ == "__main__":
    main()
