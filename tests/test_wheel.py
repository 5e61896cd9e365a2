"""``python -m build --wheel`` makes a wheel that carries the compiled engine (and the
py.typed marker), and the wheel installs and trains with the C kernel where no C compiler
can be found.

Slow (a build, a fresh virtual environment and nudge's dependencies from the package
index): run with ``pytest -m slow tests/test_wheel.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMPILERS = ("gcc", "cc", "clang", "c99", "x86_64-linux-gnu-gcc")

CHECK = r"""
import json, sys
import numpy as np
import nudge
from nudge import Network, train
from nudge.engine import clib

net = Network([784, 16, 10], "relu", "softmax", "cross-entropy", seed=0)
rng = np.random.default_rng(0)
X = ((rng.random((200, 784)) < 0.2) * rng.integers(1, 256, (200, 784))).astype(np.uint8)
y = rng.integers(0, 10, 200)
h = train(net, X, y, epochs=1, learning_rate=0.1, optimizer="momentum",
          monitor_train_cost=False)
print(json.dumps({"file": nudge.__file__, "available": clib.available(),
                  "error": clib._c_error, "builds": clib.c_kernel_builds(),
                  "settings": h.settings}))
"""


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, (
        f"{' '.join(map(str, cmd))} failed ({result.returncode}):\n"
        f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def _sources(to: Path) -> Path:
    """The files a build reads, copied (no build products of the working tree: a build
    in the tree itself would leave build/ there while others use it)."""
    to.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(ROOT / name, to / name)
    shutil.copytree(ROOT / "src", to / "src", ignore=shutil.ignore_patterns(
        "*.so", "*.pyd", "__pycache__", "*.egg-info"))
    return to


@pytest.mark.slow
def test_the_wheel_carries_the_compiled_engine_and_needs_no_compiler(tmp_path):
    if shutil.which("gcc") is None and shutil.which("cc") is None:
        pytest.skip("no C compiler here to build the wheel with")
    pytest.importorskip("build", reason="the 'build' package is in the test extra")
    src = _sources(tmp_path / "src-copy")
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(src)],
         timeout=900)
    wheels = list(dist.glob("nudge-*.whl"))
    assert len(wheels) == 1, wheels
    names = zipfile.ZipFile(wheels[0]).namelist()
    libraries = sorted(Path(n).name.split(".")[0] for n in names
                       if n.startswith("nudge/engine/_ckernel") and n.endswith(".so"))
    expected = ["_ckernel"]
    if sys.platform.startswith("linux") and os.uname().machine in ("x86_64", "AMD64"):
        expected = ["_ckernel", "_ckernel_avx2", "_ckernel_avx512"]
    assert libraries == expected
    assert "nudge/py.typed" in names           # PEP 561: type checkers read nudge's types

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], timeout=300)
    bin_dir = venv / "bin"
    # no compiler reachable: only the fresh environment's own scripts on PATH
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "VIRTUAL_ENV", "NUDGE_THREADS"))}
    env["PATH"] = str(bin_dir)
    assert all(shutil.which(c, path=env["PATH"]) is None for c in COMPILERS)
    env.pop("CC", None)
    _run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", str(wheels[0])],
         env=env, cwd=tmp_path, timeout=1200)
    out = _run([str(bin_dir / "python"), "-c", CHECK], env=env, cwd=tmp_path,
               timeout=300).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert Path(result["file"]).is_relative_to(venv), result["file"]
    assert result["available"] is True, result["error"]
    assert result["builds"][-1] == "_ckernel"
    assert result["settings"]["engine"] == "fast" and result["settings"]["kernel"] == "c"
    assert result["settings"]["kernel_isa"] in ("avx512", "avx2", "base")
