"""How long the ``nudge`` command and ``import nudge`` take to start, side by side for one
or more copies of the package.

    python benchmarks/startup.py [--runs 15] [--src PATH ...]

Each command (``nudge --help``, ``nudge train --help``, ``nudge info MODEL``,
``nudge predict MODEL IMG``, ``nudge evaluate MODEL --dataset digits``,
``python -c "import nudge"``, ``python -c "import nudge.insight"``, and for scale
``python -c pass`` and ``python -c "import numpy"``) runs ``--runs`` times as a fresh
process (``python -m nudge``, so that the copy chosen is the one run), the copies given with
``--src`` (folders holding the ``nudge`` package, e.g. the ``src`` of two checkouts, each
with its C engine built) taking turns within each round, so that a slow patch of a shared
machine falls on all alike.  The figures are the medians of the runs' wall-clock time and,
in brackets, of the CPU time (user + system) of the command's process, which a busy machine
changes less.  Bytecode is written and read, as in an installation (PYTHONDONTWRITEBYTECODE
is left out).  The model (64-16-10, 8x8 digits, 1 epoch) and the picture are made first,
in a temporary folder.  This is a script, not a test: which modules a command loads is
tested (tests/test_imports.py), its time is not.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent / "src"


def commands(tmp: Path) -> list[tuple[str, list[str]]]:
    model, img = str(tmp / "m.safetensors"), str(tmp / "d.png")
    nudge = [sys.executable, "-m", "nudge"]
    return [
        ("python -c pass", [sys.executable, "-c", "pass"]),
        ('python -c "import numpy"', [sys.executable, "-c", "import numpy"]),
        ("nudge --help", [*nudge, "--help"]),
        ("nudge train --help", [*nudge, "train", "--help"]),
        ("nudge info MODEL", [*nudge, "info", model]),
        ("nudge predict MODEL IMG", [*nudge, "predict", model, img]),
        ("nudge evaluate MODEL --dataset digits", [*nudge, "evaluate", model, "--dataset",
                                                  "digits"]),
        ('python -c "import nudge"', [sys.executable, "-c", "import nudge"]),
        ('python -c "import nudge.insight"', [sys.executable, "-c", "import nudge.insight"]),
    ]


def environment(src: str) -> dict[str, str]:
    """PYTHONPATH names the copy; bytecode is written and read (as in an installation: a
    PYTHONDONTWRITEBYTECODE left in the environment would compile every module each time)."""
    env = {**os.environ, "PYTHONPATH": src, "MPLBACKEND": "Agg"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """One run's wall-clock time and the CPU time (user + system) of its process."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{' '.join(argv)} ended with status {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--src", action="append",
                    help=f"a folder holding the nudge package (default: {HERE}); "
                         "give it more than once to compare copies")
    args = ap.parse_args()
    sources = [str(Path(s).resolve()) for s in args.src or [str(HERE)]]
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        subprocess.run([sys.executable, "-m", "nudge", "train", "--dataset", "digits",
                        "--sizes", "64,16,10", "--epochs", "1", "--quiet",
                        "--out", str(tmp / "m.safetensors")],
                       env=environment(sources[0]), check=True, stdout=subprocess.DEVNULL)
        subprocess.run([sys.executable, "-c", "import numpy as np; from PIL import Image; "
                        "Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8) * 4)"
                        f".save({str(tmp / 'd.png')!r})"], check=True)
        todo = commands(tmp)
        times: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for _, argv in todo:                          # once each, to warm the file caches
            for src in sources:
                run(argv, environment(src))
        for _ in range(args.runs):
            for name, argv in todo:
                for src in sources:
                    times.setdefault((name, src), []).append(run(argv, environment(src)))
    print(f"median of {args.runs} runs, taking turns: wall-clock time (CPU time of the "
          f"process) (python {sys.version.split()[0]}, {os.cpu_count()} CPUs)\n")
    print("| command | " + " | ".join(sources) + " |")
    print("|---|" + "---|" * len(sources))
    for name, _ in todo:
        cells = [f"{statistics.median(w for w, _ in times[name, s]):.3f} s "
                 f"({statistics.median(c for _, c in times[name, s]):.3f} s)" for s in sources]
        print(f"| `{name}` | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
