"""Builds nudge's optional C kernel (src/nudge/engine/_ckernel.c); the metadata is in pyproject.toml.

It is a plain shared library loaded with ctypes (see nudge.engine.clib), built as an extension
module so that setuptools compiles it with the platform's C compiler and puts it next to
the package (also for editable installs).  On x86-64 it is built three times, for CPUs with
AVX-512, with AVX2 and FMA, and for any x86-64 CPU (_ckernel_avx512.c and _ckernel_avx2.c
include _ckernel.c, which picks its vector width from the instruction set it is compiled
for); nudge.engine.clib loads the best one the CPU runs.
``optional=True``: a build that cannot be compiled is left out, and with none at all the
install still succeeds and nudge trains with the NumPy reference engine (and says so).
"""

import platform
import sys

from setuptools import Extension, setup


if sys.platform == "win32":
    flags, link = ["/O2"], []                  # one thread there (no pthreads)
else:
    flags, link = ["-O3", "-std=gnu99", "-pthread"], ["-pthread"]

builds = [("_ckernel", [])]
if sys.platform != "win32" and platform.machine().lower() in ("x86_64", "amd64"):
    builds += [("_ckernel_avx2", ["-mavx2", "-mfma"]),
               ("_ckernel_avx512", ["-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl",
                                    "-mavx2", "-mfma"])]

setup(ext_modules=[Extension(f"nudge.engine.{name}", [f"src/nudge/engine/{name}.c"],
                             depends=["src/nudge/engine/_ckernel.c"], extra_compile_args=flags + isa,
                             extra_link_args=link, define_macros=[("NUDGE_MODULE", name)],
                             optional=True)
                   for name, isa in builds])
