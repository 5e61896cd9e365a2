"""Regenerate every figure, command output and table of the documentation site.

    NUDGE_DATA=/path/to/mnist python docs/scripts/regenerate.py          # everything (~2 min)
    python docs/scripts/regenerate.py --only help        # every command's --help (no data)
    python docs/scripts/regenerate.py --only commands    # the CLI outputs and figures
    python docs/scripts/regenerate.py --only tables      # tables from benchmarks/*.json
    python docs/scripts/regenerate.py --only notebook    # run docs/tutorial.ipynb, keep outputs

``commands``: each command in :data:`COMMANDS` runs in a scratch folder, exactly as written
(``nudge`` is this Python's ``python -m nudge``); what it prints goes to
``docs/outputs/NAME.txt`` after a ``$ command`` line, and the figures it saves are copied
into ``docs/figures/``.  The pages include those files (``--8<--``), so a page always shows
the command next to the output and figure it made.  They need full MNIST (found as
``nudge`` finds it: ``--data-dir``, ``$NUDGE_DATA``, the cache).

``tables``: ``docs/scripts/tables.py`` (the speed and accuracy tables and the README's key
figures, from the JSON that ``benchmarks/bench.py`` and ``benchmarks/accuracy.py`` write).

``notebook``: executes ``docs/tutorial.ipynb`` top to bottom with nbclient and stores its
outputs in the file (the site shows the stored outputs; it does not run the notebook).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
sys.path.insert(0, str(Path(__file__).resolve().parent))

#: (name of the output file, the command as shown on the page, the figures it writes)
COMMANDS: list[tuple[str, str, list[str]]] = [
    ("train", "nudge train --seed 1 --epochs 3 --out model.safetensors", []),
    ("evaluate", "nudge evaluate model.safetensors", []),
    ("info", "nudge info model.safetensors", []),
    ("sensitivity",
     "nudge sensitivity model.safetensors --top 5 --plot insight-sensitivity.png "
     "--compare 'layer 1 weight from input pixel (row 12, col 7) to hidden neuron 3' "
     "'layer 3 bias of output 2'",
     ["insight-sensitivity.png"]),
    ("nudges", "nudge nudges model.safetensors --example 120 --show 3 --plot insight-nudges.png",
     ["insight-nudges.png"]),
    ("average", "nudge average model.safetensors --plot insight-average.png",
     ["insight-average.png"]),
    ("descent", "nudge descent --plot insight-descent-costs.png "
     "--paths-plot insight-descent-paths.png",
     ["insight-descent-costs.png", "insight-descent-paths.png"]),
    ("landscape", "nudge landscape model.safetensors --plot insight-landscape.png",
     ["insight-landscape.png"]),
]
#: every command's --help, for the command-line page (no data needed)
HELP: list[tuple[str, str, list[str]]] = [("help", "nudge --help", [])] + [
    (f"help-{c}", f"nudge {c} --help", []) for c in (
        "train", "evaluate", "predict", "info", "sensitivity", "nudges", "average", "descent",
        "landscape", "interpolate", "noise", "curvature", "stability", "sweep", "serve")]
#: the terminal width the outputs are made for (argparse wraps --help to it)
COLUMNS = "100"


def run(command: str, cwd: str | Path) -> str:
    """What ``command`` prints, as the page shows it: a ``$ command`` line, then stdout."""
    argv = shlex.split(command)
    assert argv[0] == "nudge"
    env = {**os.environ, "MPLBACKEND": "Agg", "COLUMNS": COLUMNS}
    proc = subprocess.run([sys.executable, "-m", "nudge", *argv[1:]], cwd=cwd, env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"$ {command}\n{proc.stdout}{proc.stderr}failed "
                         f"(exit status {proc.returncode})")
    return f"$ {_wrap(command)}\n{proc.stdout.rstrip()}\n"


def run_commands(commands: list[tuple[str, str, list[str]]] | None = None) -> None:
    from nudge import load_dataset
    from nudge.errors import NudgeError

    if commands is None:
        try:
            load_dataset("mnist")
        except NudgeError as e:
            raise SystemExit(f"the documentation's outputs are made on full MNIST: {e}") \
                from None
    out_dir, fig_dir = DOCS / "outputs", DOCS / "figures"
    out_dir.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nudge-docs-") as tmp:
        for name, command, figures in COMMANDS if commands is None else commands:
            started = time.perf_counter()
            (out_dir / f"{name}.txt").write_text(run(command, tmp), encoding="utf-8")
            for fig in figures:
                shutil.copyfile(Path(tmp) / fig, fig_dir / fig)
            print(f"{name}: {time.perf_counter() - started:.1f} s", flush=True)


def run_help() -> None:
    run_commands(HELP)


def _wrap(command: str, width: int = 96) -> str:
    """The command split over lines with a trailing backslash, as a shell would take it."""
    words, lines, line = shlex.split(command), [], ""
    for w in words:
        w = shlex.quote(w)
        if line and len(line) + 1 + len(w) > width:
            lines.append(line + " \\")
            line = "    " + w
        else:
            line = f"{line} {w}" if line else w
    return "\n".join(lines + [line])


def run_tables() -> None:
    import tables

    for path, text in tables.render().items():
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"{path.relative_to(ROOT)}: rewritten")


def run_notebook() -> None:
    import nbclient
    import nbformat

    path = DOCS / "tutorial.ipynb"
    nb = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="nudge-notebook-") as tmp:
        os.environ.setdefault("MPLBACKEND", "Agg")
        nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                                resources={"metadata": {"path": tmp}}).execute()
    for cell in nb.cells:                      # no timing noise in the stored file
        cell.get("metadata", {}).pop("execution", None)
    _widgets_as_text(nb)
    nbformat.write(nb, path)
    print(f"docs/tutorial.ipynb: executed in {time.perf_counter() - started:.0f} s")


def _widgets_as_text(nb) -> None:
    """The notebook progress bar (a tqdm widget) stored as the text of its last state: the
    site then shows it without loading the widgets' JavaScript from the internet, and a
    fresh run in Jupyter shows the live widget again."""
    import html

    state = nb.metadata.pop("widgets", {}).get(
        "application/vnd.jupyter.widget-state+json", {}).get("state", {})

    def text(model_id: str) -> str:
        model = state.get(model_id.removeprefix("IPY_MODEL_"), {})
        s = model.get("state", {})
        if model.get("model_name") == "HBoxModel":
            return "".join(text(c) for c in s.get("children", []))
        if model.get("model_name") == "FloatProgressModel":
            full = round(10 * s.get("value", 0) / (s.get("max") or 1))
            return "|" + "█" * full + " " * (10 - full) + "|"
        return html.unescape(str(s.get("value", ""))).replace("\u2007", " ")

    for cell in nb.cells:
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get("application/vnd.jupyter.widget-view+json")
            if view and text(view["model_id"]):
                out["data"] = {"text/plain": text(view["model_id"])}


STEPS = {"help": run_help, "commands": run_commands, "tables": run_tables,
         "notebook": run_notebook}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="+", choices=list(STEPS), default=list(STEPS))
    for step in ap.parse_args().only:
        STEPS[step]()


if __name__ == "__main__":
    main()
