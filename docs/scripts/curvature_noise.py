"""Regenerate the outputs and figures of docs/curvature-and-noise.md.

    NUDGE_DATA=/path/to/mnist python docs/scripts/curvature_noise.py            # all (~5 min)
    python docs/scripts/curvature_noise.py --only commands     # the CLI outputs and figures
    python docs/scripts/curvature_noise.py --only stability    # the edge-of-stability figure

``commands``: each command in :data:`COMMANDS` runs in one scratch folder, in order, exactly as
written (as ``docs/scripts/regenerate.py`` runs its own): what it prints goes to
``docs/outputs/NAME.txt`` after a ``$ command`` line, the figures it saves to
``docs/figures/``.  ``stability``: full-batch gradient descent from the trained model at 0.9,
1.1 and 2 times 2/λ_max, and from a new network at η = 2 and 4 for longer (λ_max rising to
2/η), in one figure, ``docs/figures/curvature-stability.png`` (the two rows are what
``nudge stability model.safetensors --factors 0.9,1.1,2 --steps 100 --every 5`` and
``nudge stability --learning-rates 2,4 --steps 600 --every 20`` show, each on its own).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from regenerate import DOCS, run  # noqa: E402

#: (output name, command, figures): run in this order in one folder (later ones use the models)
COMMANDS: list[tuple[str, str, list[str]]] = [
    ("cn-train", "nudge train --seed 1 --track noise --track-plot noise-tracking.png "
     "--out model.safetensors", ["noise-tracking.png"]),
    ("cn-train2", "nudge train --seed 2 --out model2.safetensors", []),
    ("cn-noise", "nudge noise model.safetensors --plot noise.png", ["noise.png"]),
    ("cn-curvature", "nudge curvature model.safetensors --plot curvature.png",
     ["curvature.png"]),
    ("cn-curvature64", "nudge curvature model.safetensors --float64 --top 1 --hutchinson 0",
     []),
    ("cn-interpolate-seeds", "nudge interpolate model.safetensors model2.safetensors "
     "--plot interpolate-seeds.png", ["interpolate-seeds.png"]),
    ("cn-interpolate-init", "nudge interpolate model.safetensors --from-init "
     "--plot interpolate-init.png", ["interpolate-init.png"]),
    ("cn-landscape-filter", "nudge landscape model.safetensors --directions filter "
     "--plot landscape-filter.png", ["landscape-filter.png"]),
    ("cn-landscape-decay", "nudge landscape model.safetensors --weight-decay 5e-5", []),
]


def run_commands(folder: Path) -> None:
    for name, command, figures in COMMANDS:
        started = time.perf_counter()
        (DOCS / "outputs" / f"{name}.txt").write_text(run(command, folder), encoding="utf-8")
        for fig in figures:
            shutil.copyfile(folder / fig, DOCS / "figures" / fig)
        print(f"{name}: {time.perf_counter() - started:.1f} s", flush=True)


def run_stability(folder: Path) -> None:
    from nudge import Network, load, load_dataset
    from nudge import insight as ins
    from nudge.insight.curvature_plots import plot_stability

    model = folder / "model.safetensors"
    if not model.is_file():
        (DOCS / "outputs" / "cn-train.txt").write_text(run(COMMANDS[0][1], folder),
                                                       encoding="utf-8")
    started = time.perf_counter()
    data = load_dataset("mnist")
    X, y = data.X_train[:5000], data.y_train[:5000]
    trained = ins.stability(load(model), X, y, factors=[0.9, 1.1, 2.0], steps=100, every=5)
    fresh = ins.stability(Network([784, 16, 16, 10], seed=0), X, y, learning_rates=[2.0, 4.0],
                          steps=600, every=20)
    plot_stability([trained, fresh], DOCS / "figures" / "curvature-stability.png",
                   titles=["from the trained model: ", "from a new network (seed 0): "])
    text = "\n".join(["from the trained model: " + trained.summary,
                      "from a new network: " + fresh.summary])
    (DOCS / "outputs" / "cn-stability.txt").write_text(
        "$ python docs/scripts/curvature_noise.py --only stability\n" + text + "\n",
        encoding="utf-8")
    print(f"stability: {time.perf_counter() - started:.1f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["commands", "stability"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nudge-cn-") as tmp:
        folder = Path(tmp)
        if args.only in (None, "commands"):
            run_commands(folder)
        if args.only in (None, "stability"):
            run_stability(folder)


if __name__ == "__main__":
    main()
