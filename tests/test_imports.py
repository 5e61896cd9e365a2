"""What starting costs: ``import nudge`` and the command line load only what they use.

Each check runs a fresh Python (a subprocess: this test session has loaded everything
already) and reads which modules it loaded.  ``import nudge`` needs NumPy and nothing else
outside the standard library; the command line builds its parser (``nudge --help``,
``nudge train --help``) without the plotting, web, cluster, SciPy, scikit-learn or
download libraries, and without the insight modules, the process pool or sockets, which
only some commands use: those are imported by the functions that use them.  How long
starting takes is measured by benchmarks/startup.py, not by a timed test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import nudge

SRC = str(Path(nudge.__file__).parent.parent)

#: the libraries nudge uses for some things only (plots, the web page, cluster sweeps,
#: downloads, reading pictures, the model file, progress bars, curvature and SciPy's
#: eigenvalues, scikit-learn's references), and the test-only ones
HEAVY = {"matplotlib", "scipy", "sklearn", "safetensors", "tqdm", "starlette", "uvicorn",
         "h11", "anyio", "httpx", "dask", "distributed", "PIL", "pooch", "platformdirs",
         "torch", "pandas"}
#: nudge's own modules (and the standard library's) that only some commands need
ONLY_SOME_COMMANDS = {"nudge.insight", "nudge.web", "nudge.plots", "concurrent.futures",
                      "multiprocessing", "socket", "asyncio"}

#: runs ``python -m nudge ARGS`` in this process, then writes the modules loaded to FILE
_AS_THE_COMMAND = """
import atexit, json, runpy, sys
out, sys.argv = sys.argv[1], ["nudge", *sys.argv[2:]]
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
runpy.run_module("nudge", run_name="__main__", alter_sys=True)
"""


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return {**env, "PYTHONPATH": SRC, "MPLBACKEND": "Agg"}


def loaded_by_import(statement: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", f"{statement}; import json, sys; "
                               "print(json.dumps(sorted(sys.modules)))"],
        capture_output=True, text=True, env=_environment(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout.splitlines()[-1]))


def loaded_by_command(tmp_path: Path, *args: str) -> set[str]:
    out = tmp_path / "modules.json"
    proc = subprocess.run([sys.executable, "-c", _AS_THE_COMMAND, str(out), *args],
                          capture_output=True, text=True, env=_environment(), timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return set(json.loads(out.read_text(encoding="utf-8")))


def among(modules: set[str], names: set[str]) -> list[str]:
    """The modules (and submodules) of ``names`` that were loaded."""
    return sorted(m for m in modules
                  if m in names or m.split(".")[0] in names
                  or any(m.startswith(f"{n}.") for n in names))


def test_import_nudge_loads_numpy_and_no_optional_library():
    modules = loaded_by_import("import nudge")
    assert "numpy" in modules and "nudge.train" in modules       # the check reads sys.modules
    assert among(modules, HEAVY) == []
    assert among(modules, ONLY_SOME_COMMANDS) == []


def test_import_nudge_insight_loads_no_optional_library():
    """The insight functions import matplotlib (plots) and SciPy (eigenvalues) when asked."""
    modules = loaded_by_import("import nudge.insight")
    assert "nudge.insight.curvature" in modules
    assert among(modules, HEAVY) == []


@pytest.mark.parametrize("args", [["--help"], ["train", "--help"], ["sweep", "--help"],
                                  ["sensitivity", "--help"], ["serve", "--help"]])
def test_the_parser_loads_no_optional_library_nor_the_insight_modules(tmp_path, args):
    modules = loaded_by_command(tmp_path, *args)
    assert "nudge.cli.sweep" in modules and "nudge.cli.curvature" in modules  # every command's
    assert among(modules, HEAVY) == []
    assert among(modules, ONLY_SOME_COMMANDS) == []


def test_nudge_info_loads_safetensors_only(tmp_path, fitted_model):
    modules = loaded_by_command(tmp_path, "info", fitted_model)
    assert {m.split(".")[0] for m in among(modules, HEAVY)} == {"safetensors"}
    assert among(modules, ONLY_SOME_COMMANDS) == []
