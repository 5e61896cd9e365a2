"""Builds nudge's optional C kernel (src/nudge/_ckernel.c); the metadata is in pyproject.toml.

It is a plain shared library loaded with ctypes (see nudge.fast), built as an extension
module so that setuptools compiles it with the platform's C compiler and puts it next to
the package (also for editable installs).  ``optional=True``: where it cannot be compiled
the install still succeeds and nudge uses its Numba kernel or the NumPy reference code.
"""

import sys

from setuptools import Extension, setup

if sys.platform == "win32":
    flags, link = ["/O2"], []                  # one thread there (no pthreads)
else:
    flags, link = ["-O3", "-std=gnu99", "-pthread"], ["-pthread"]

setup(ext_modules=[Extension("nudge._ckernel", ["src/nudge/_ckernel.c"],
                             extra_compile_args=flags, extra_link_args=link, optional=True)])
