"""The C library of the compiled engine: finding, checking and loading ``_ckernel.c``'s builds.

The kernel's arguments come in one struct per function whose fields are listed once in C
(``NUDGE_STEPS_ARGS``, ``NUDGE_ROWS_ARGS``, ``NUDGE_FORWARD_ARGS``) and once here
(:data:`STEPS_ARGS`, :data:`ROWS_ARGS`, :data:`FORWARD_ARGS`); the lists are compared
(``nudge_signature``) before a build is used, so a build from another version of nudge is
refused, not called with the wrong arguments.  On x86-64 the best build the CPU runs is
loaded (AVX-512, AVX2 + FMA, or the plain one: :data:`c_kernel_isa`).
"""

from __future__ import annotations

import ctypes
import importlib.util
from typing import Any

#: the C kernel's functions (ctypes): nudge_sgd_steps (False once it was looked for and
#: not found), nudge_sparse_rows_u8 and nudge_forward; why it is not there
_c_kernel: Any = None
_c_sparse_rows: Any = None
_c_forward: Any = None
_c_error: str | None = None


def unavailable_reason() -> str | None:
    """Why the C kernel cannot be used in this installation, or None if it can."""
    if _load_c_kernel() is not None:
        return None
    return f"this installation: the C kernel is not available ({_c_error})"


def available() -> bool:
    """Whether the C kernel was built with the package and loads."""
    return _load_c_kernel() is not None


_P = ctypes.c_void_p
_I64 = ctypes.c_int64
_F32 = ctypes.c_float
_INT = ctypes.c_int
#: a struct field: its name and ctypes type
_Field = tuple[str, type[ctypes._SimpleCData]]
#: the fields of nudge_sgd_steps' argument (struct nudge_steps_args, _ckernel.c's
#: NUDGE_STEPS_ARGS, where each is described), in order
STEPS_ARGS: list[_Field] = [
    ("indptr", _P), ("idx", _P), ("val", _P), ("val_float", _INT), ("scale", _F32),
    ("classes", _P), ("rows", _P), ("order", _P), ("n", _I64), ("first", _I64),
    ("last", _I64), ("batch_size", _I64), ("eta", _F32), ("shrink", _F32), ("params", _P),
    ("sizes", _P), ("L", _I64), ("wo", _P), ("bo", _P), ("hidden", _INT), ("output", _INT),
    ("cost", _INT), ("split", _I64), ("threads", _INT), ("velocity", _P),
    ("momentum", _F32), ("weight_decay", _F32),
]
#: ... and of nudge_sparse_rows_u8's (NUDGE_ROWS_ARGS)
ROWS_ARGS: list[_Field] = [
    ("pixels", _P), ("n", _I64), ("d", _I64), ("stride", _I64), ("indptr", _P),
    ("idx", _P), ("val", _P), ("counts_only", _INT),
]
#: ... and of nudge_forward's (NUDGE_FORWARD_ARGS)
FORWARD_ARGS: list[_Field] = [
    ("indptr", _P), ("idx", _P), ("val", _P), ("val_float", _INT), ("scale", _F32),
    ("first", _I64), ("last", _I64), ("params", _P), ("sizes", _P), ("L", _I64),
    ("wo", _P), ("bo", _P), ("hidden", _INT), ("out", _P),
]


class _StepsArgs(ctypes.Structure):
    _fields_ = STEPS_ARGS


class _RowsArgs(ctypes.Structure):
    _fields_ = ROWS_ARGS


class _ForwardArgs(ctypes.Structure):
    _fields_ = FORWARD_ARGS


def signature() -> str:
    """The C library's ``nudge_signature()`` as these lists say it must be."""
    code = {_P: "p", _I64: "q", _F32: "f", _INT: "i"}

    def fields(args: list[tuple[str, Any]]) -> str:
        return "".join(f" {name}:{code[t]}" for name, t in args)

    return (f"nudge_sgd_steps({fields(STEPS_ARGS)} ) "
            f"nudge_sparse_rows_u8({fields(ROWS_ARGS)} ) nudge_forward({fields(FORWARD_ARGS)} )")


#: the C kernel's builds, best first, with the nudge_cpu_level() each needs (setup.py)
_C_BUILDS = (("_ckernel_avx512", 2), ("_ckernel_avx2", 1), ("_ckernel", 0))
#: the instruction set of the loaded C kernel build: "avx512", "avx2" or "base"
c_kernel_isa: str | None = None


def _c_library_path(name: str = "_ckernel") -> str | None:
    """Where the C library ``nudge.engine.<name>`` is: found by the import system (so also in
    editable installs), though it is loaded with ctypes, not imported."""
    try:
        spec = importlib.util.find_spec(f"{__package__}.{name}")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or spec.origin.endswith(".c"):
        return None
    return spec.origin


def _open_c_library(name: str) -> Any:
    """The C library ``nudge.engine.<name>`` (ctypes); OSError if it is missing or not this
    version's."""
    path = _c_library_path(name)
    if path is None:
        raise OSError("not built (no C compiler when nudge was installed?)")
    lib = ctypes.CDLL(path)
    try:
        lib.nudge_signature.restype = ctypes.c_char_p
        theirs = lib.nudge_signature().decode()
    except AttributeError:
        theirs = None
    if theirs != signature():
        raise OSError(f"{path} is from another version of nudge (its arguments differ)")
    return lib


def c_kernel_builds() -> list[str]:
    """The builds of the C kernel installed here that this CPU runs, best first."""
    try:
        level = _open_c_library("_ckernel").nudge_cpu_level()
    except (OSError, AttributeError):
        return []
    return [name for name, needed in _C_BUILDS
            if level >= needed and _c_library_path(name) is not None]


def _load_c_kernel(build: str | None = None) -> Any:
    """The C kernel's ``nudge_sgd_steps`` (ctypes), or None where it was not built.

    The best build the CPU runs (AVX-512, AVX2 + FMA, or the plain one; the plain
    one says which, ``nudge_cpu_level``), or the one named by ``build`` (for tests)."""
    global _c_kernel, _c_error, _c_sparse_rows, _c_forward, c_kernel_isa
    if _c_kernel is not None and build is None:
        return _c_kernel or None
    try:
        lib = _open_c_library("_ckernel")
        level = lib.nudge_cpu_level()
        for name, needed in _C_BUILDS[:-1]:
            if level >= needed and build in (None, name):
                try:
                    lib = _open_c_library(name)
                    break
                except OSError:
                    continue                     # not built here: the next best
        fn = lib.nudge_sgd_steps
        lib.nudge_isa.restype = ctypes.c_char_p
        isa = lib.nudge_isa().decode()
    except (OSError, AttributeError) as e:
        _c_error = f"{type(e).__name__}: {e}".splitlines()[0][:200]
        _c_kernel = False
        return None
    fn.argtypes = [ctypes.POINTER(_StepsArgs)]
    fn.restype = _INT
    _c_sparse_rows = lib.nudge_sparse_rows_u8
    _c_sparse_rows.argtypes = [ctypes.POINTER(_RowsArgs)]
    _c_sparse_rows.restype = _INT
    _c_forward = lib.nudge_forward
    _c_forward.argtypes = [ctypes.POINTER(_ForwardArgs)]
    _c_forward.restype = _INT
    _c_kernel, c_kernel_isa = fn, isa
    return fn
