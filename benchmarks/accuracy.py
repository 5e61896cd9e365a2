"""Accuracy of the presets on full MNIST over several seeds (the README's accuracy table).

    python benchmarks/accuracy.py                       # every preset, seeds 1 2 3
    python benchmarks/accuracy.py --preset 3b1b --seeds 1 2 3 4 5 -- --optimizer adam
    python benchmarks/accuracy.py --preset nielsen-ch3 --seeds 1 2 3 4 5 \
        --out benchmarks/nielsen-protocol.json -- --validation 10000   # Nielsen's split

Each run is exactly ``nudge train --preset P --seed S --json [extra options]``,
in a subprocess; the table shows every run, the mean and the spread (sample
standard deviation, min, max) of the final test accuracy (and, with ``--validation N``,
of the accuracy on the held-out training images), and the results are
written to ``benchmarks/accuracy.json`` (or ``--out``).  MNIST is found the
usual way (``--data-dir``, ``$NUDGE_DATA``, the cache).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def run(preset: str, seed: int, extra: list[str], data_dir: str | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "nudge", "train", "--preset", preset, "--seed", str(seed),
               "--dataset", "mnist", "--json", "--out", str(Path(tmp) / "m.safetensors"), *extra]
        if data_dir:
            cmd += ["--data-dir", data_dir]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.strip()}")
        result = json.loads(proc.stdout)
    history = result["history"]
    accuracies = [h["test_accuracy"] for h in history]
    reached = next((h["epoch"] for h in history if h["test_accuracy"] >= 0.95), None)
    seconds_to_95 = (sum(h["seconds"] for h in history[:reached]) if reached else None)
    return {"preset": preset, "seed": seed, "extra": extra,
            "test_accuracy": result["test_accuracy"], "best_accuracy": max(accuracies),
            "validation_accuracy": result.get("validation_accuracy"),
            "n_validation": result.get("n_validation", 0),
            "epochs": result["epochs"], "train_seconds": result["train_seconds"],
            "first_epoch_at_95": reached, "train_seconds_to_95": seconds_to_95,
            "engine": result["settings"]["engine"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", nargs="+", default=["nielsen", "3b1b", "nielsen-ch3"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--data-dir")
    parser.add_argument("--out", default=str(Path(__file__).with_name("accuracy.json")))
    parser.add_argument("extra", nargs="*", help="more `nudge train` options, after --")
    args = parser.parse_args()

    runs, summary = [], []
    for preset in args.preset:
        accs = []
        for seed in args.seeds:
            r = run(preset, seed, args.extra, args.data_dir)
            runs.append(r)
            accs.append(r["test_accuracy"])
            held_out = (f" (validation {100 * r['validation_accuracy']:.2f}%)"
                        if r["validation_accuracy"] is not None else "")
            print(f"{preset:8s} seed {seed:3d}: {100 * r['test_accuracy']:.2f}%{held_out} after "
                  f"{r['epochs']} epochs ({r['train_seconds']:.1f} s of training; 95% first "
                  f"at epoch {r['first_epoch_at_95']})", flush=True)
        s = {"preset": preset, "extra": args.extra, "seeds": args.seeds,
             "mean": statistics.mean(accs),
             "stdev": statistics.stdev(accs) if len(accs) > 1 else 0.0,
             "min": min(accs), "max": max(accs)}
        held = [r["validation_accuracy"] for r in runs[-len(args.seeds):]]
        if all(v is not None for v in held):          # with --validation N
            s.update(validation_mean=statistics.mean(held),
                     validation_stdev=statistics.stdev(held) if len(held) > 1 else 0.0)
        summary.append(s)
    print()
    print(f"{'preset':8s}  {'mean':>7s}  {'stdev':>6s}  {'min':>7s}  {'max':>7s}  seeds")
    for s in summary:
        print(f"{s['preset']:8s}  {100 * s['mean']:6.2f}%  {100 * s['stdev']:5.2f}%  "
              f"{100 * s['min']:6.2f}%  {100 * s['max']:6.2f}%  {' '.join(map(str, s['seeds']))}")
        if "validation_mean" in s:
            print(f"{'':8s}  validation {100 * s['validation_mean']:.2f}% ± "
                  f"{100 * s['validation_stdev']:.2f}%")
    Path(args.out).write_text(json.dumps({"summary": summary, "runs": runs}, indent=2) + "\n")
    print(f"\nwritten {args.out}")


if __name__ == "__main__":
    main()
