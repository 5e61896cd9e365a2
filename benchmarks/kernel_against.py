"""The C kernel's sigmoid/quadratic/SGD epoch against another commit's kernel, side by side.

    NUDGE_DATA=/path/to/mnist python benchmarks/kernel_against.py [--commit C] [--rounds 7]
        [--define NAME=VALUE ...] [--threads 1|2] [--setups SIZES:B ...]

The default commit, e690af2, has the last kernel built for sigmoid hidden and output
layers, the quadratic cost and plain SGD alone (the next one added relu, tanh, softmax,
cross-entropy and momentum).  Its ``src/nudge`` is taken from this repository with
``git archive`` (``--define WIDE_MIN=0`` then rewrites the ``#define WIDE_MIN`` line of its
``_ckernel.c``: with ``--commit HEAD``, this kernel with another constant), its kernel
compiled by its ``setup.py build_ext --inplace`` (the same compiler and flags as an
install), and its engine imported as the package ``nudge_old`` in this process.  One epoch
of the 60,000 MNIST training images (called in chunks as ``nudge.train`` calls the engine)
on each kernel in turn, from the same weights in the same shuffled order, one epoch each
per round; printed: each one's median wall-clock time, the median of the per-round ratios
(this tree's time over the other's) and whether the two ended with the same weights bit
for bit.  Default set-ups: 784-16-10 B=10, 784-64-10 B=100 and 784-1024-10 B=10 (two
threads where two CPUs are free, unless ``--threads``).  This is a script, not a test.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
from engine_configs import epoch_seconds

from nudge import Network, load_dataset
from nudge.engine import CompiledEngine, clib, compiled

ROOT = Path(__file__).resolve().parents[1]


def old_engine(commit: str, folder: Path, defines: list[str]):
    """The ``compiled`` module of ``commit``'s engine, its kernel built (with ``defines``
    rewritten), as ``nudge_old``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "setup.py",
                              "pyproject.toml", "src/nudge"], check=True,
                             capture_output=True).stdout
    tar = folder / "tree.tar"
    tar.write_bytes(archive)
    with tarfile.open(tar) as t:
        t.extractall(folder, filter="data")
    source = folder / "src" / "nudge" / "engine" / "_ckernel.c"
    for define in defines:
        name, value = define.split("=")
        text, n = re.subn(rf"^#define {name} .*$", f"#define {name} {value}",
                          source.read_text(), flags=re.M)
        if n != 1:
            raise SystemExit(f"no one '#define {name}' line in {commit}'s _ckernel.c")
        source.write_text(text)
    subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=folder,
                   check=True, capture_output=True)
    shutil.move(folder / "src" / "nudge", folder / "src" / "nudge_old")
    sys.path.insert(0, str(folder / "src"))
    return importlib.import_module("nudge_old.engine.compiled")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--commit", default="e690af2")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--define", nargs="*", default=[], metavar="NAME=VALUE")
    ap.add_argument("--threads", type=int, choices=[1, 2])
    ap.add_argument("--setups", nargs="*", default=["784-16-10:10", "784-64-10:100",
                                                    "784-1024-10:10"], metavar="SIZES:B")
    args = ap.parse_args()
    if not clib.available():
        raise SystemExit(f"the C kernel is not available: {clib.unavailable_reason()}")
    data = load_dataset("mnist")
    y = data.y_train
    order = np.random.default_rng(1).permutation(len(y))
    with tempfile.TemporaryDirectory() as tmp:
        old = old_engine(args.commit, Path(tmp), args.define)
        other = " ".join([args.commit, *args.define])
        kernels = {"this tree": (CompiledEngine, compiled.Inputs(data.X_train)),
                   other: (old.CompiledEngine, old.Inputs(data.X_train))}
        print(f"one epoch of {len(y):,} images, wall seconds, median of {args.rounds} "
              f"(ratio: this tree's time / {other}'s, the median of the rounds'); "
              f"load average {os.getloadavg()[0]:.2f}")
        for setup in args.setups:
            text, batch = setup.split(":")
            sizes = [int(s) for s in text.split("-")]
            times: dict[str, list[float]] = {k: [] for k in kernels}
            same, threads = True, {}
            for r in range(args.rounds + 1):           # round 0: warm-up, not counted
                weights = {}
                for name in (list(kernels) if r % 2 else list(kernels)[::-1]):
                    make, inputs = kernels[name]
                    net = Network(sizes, seed=0)
                    engine = make(net, inputs, y, int(batch), threads=args.threads)
                    threads[name] = f"{engine.isa}, {engine.threads} thread(s)"
                    seconds = epoch_seconds(engine, net, order, 3.0, time.perf_counter)
                    weights[name] = [w.copy() for w in net.weights + net.biases]
                    if r:
                        times[name].append(seconds)
                a, b = weights.values()
                same = same and all(np.array_equal(u, v) for u, v in zip(a, b))
            new, was = times["this tree"], times[other]
            ratios = [n / o for n, o in zip(new, was)]
            print(f"  {text} B={batch} ({' / '.join(threads.values())}): this tree "
                  f"{statistics.median(new):.4f} s, {other} {statistics.median(was):.4f} s,"
                  f" ratio {statistics.median(ratios):.2f} (rounds: "
                  f"{' '.join(f'{x:.2f}' for x in ratios)}); same weights: {same}", flush=True)
        print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
