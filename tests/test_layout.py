"""The layout a newcomer can hold in their head: imports point one way.

web/cli → insight/sweep → train (and its control, settings) → engine → network and the
other core modules → errors.  A module may import from its own layer or from below, never
from above; this test reads every import (also the ones inside functions).
"""

from __future__ import annotations

import ast
from pathlib import Path

import nudge

SRC = Path(nudge.__file__).parent

LAYERS = [
    {"errors", "bounds", "jsonable", "fsutil", "display", "_start"},
    {"network", "inputs", "optimizers", "schedules", "presets", "data", "idx", "images",
     "modelfile", "plots", "history"},
    {"engine"},
    {"control", "checks", "train", "settings"},
    {"insight", "sweep"},
    {"cli", "web", "__main__", "__init__"},
]
#: Network.fit is the scikit-learn-style door to the trainer: network.py imports train inside
#: fit() only, so that ``net.fit(X, y)`` works, and control for fit's annotations only (under
#: TYPE_CHECKING: Control and Progress are train's option types); nothing else may point upwards
ALLOWED_UPWARDS = {("network", "train"), ("network", "control")}


def layer_of(top: str) -> int:
    for i, names in enumerate(LAYERS):
        if top in names:
            return i
    raise AssertionError(f"nudge.{top} is in no layer of tests/test_layout.py: add it")


def module_top(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    return rel.parts[0]


def _is_module(name: str) -> bool:
    return (SRC / f"{name}.py").exists() or (SRC / name).is_dir()


def imported_tops(path: Path) -> set[str]:
    """The top-level nudge modules that ``path`` imports (relative or absolute)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    rel = path.relative_to(SRC)
    package = list(rel.parts[:-1])
    tops: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)] if node.level > 1 else package
                parts = base + (node.module.split(".") if node.module else [])
                if parts:
                    tops.add(parts[0])
                else:                              # "from . import x" at the top package
                    tops.update(a.name for a in node.names if _is_module(a.name))
            elif node.module and node.module.split(".")[0] == "nudge":
                parts = node.module.split(".")[1:]
                tops.update(parts[:1] or [a.name for a in node.names if _is_module(a.name)])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "nudge" and len(parts) > 1:
                    tops.add(parts[1])
    return tops


def test_imports_point_one_way():
    wrong = []
    for path in sorted(SRC.rglob("*.py")):
        top = module_top(path)
        here = layer_of(top)
        for other in imported_tops(path) - {top}:
            if layer_of(other) > here and (top, other) not in ALLOWED_UPWARDS:
                wrong.append(f"{path.relative_to(SRC)} imports nudge.{other}")
    assert not wrong, "imports pointing upwards:\n" + "\n".join(wrong)


def test_no_module_needs_a_map():
    """No module over ~400 lines (the limit is a little above, for docstrings)."""
    long = [f"{p.relative_to(SRC)}: {n}" for p in sorted(SRC.rglob("*.py"))
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 420]
    assert not long, "modules too long to read without a map:\n" + "\n".join(long)


def test_the_code_runs_on_the_oldest_python_it_claims():
    """pyproject says requires-python >= 3.10: vermin reads every module of the package
    and its tests and finds nothing newer (a use of a newer API that is guarded by a
    check says so with a `novermin` comment)."""
    import re
    import subprocess
    import sys

    pyproject = (SRC.parent.parent / "pyproject.toml").read_text(encoding="utf-8")
    oldest = re.search(r'requires-python = ">=(3\.\d+)"', pyproject).group(1)
    tests = Path(__file__).parent
    proc = subprocess.run(
        [sys.executable, "-c", "import sys, vermin; sys.exit(vermin.main())",
         f"--target={oldest}-", "--no-tips", "--violations", "--eval-annotations",
         str(SRC), str(tests)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
