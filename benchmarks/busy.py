"""``--busy N`` of the speed scripts: N other processes spinning on the CPUs meanwhile, so
that a measurement on a busy machine can be repeated (a shared host is busy by chance)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def spinning(n: int) -> Iterator[None]:
    """``n`` processes each spinning on one CPU while the block runs (0: none)."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
