"""The fast training engine: one SGD epoch as a compiled loop (C, or Numba).

The mathematics is exactly that of :mod:`nudge.network` (``Network.backprop``
and ``Network.update_mini_batch``); only the bookkeeping differs:

* a mini-batch at a time: forward and backward for each of its examples with
  the weights from before the step (aˡ and δˡ kept per example in small
  buffers allocated once per chunk), then the step, in place.  The first
  layer's step goes straight into the W¹ᵀ rows of each example's lit pixels
  (−η x_p δ¹), so it needs no gradient buffer;
* the examples are read in the shuffled order straight from the sparse rows,
  the next ones' pixels prefetched into the cache while the current one is
  trained on;
* the pixels stay uint8; each one is turned into intensity/255 (in float32,
  as :func:`nudge.network.as_inputs` does) where it is used, so no float
  copy of the whole data set is ever made;
* a pixel that is 0 adds exactly 0 to zˡ and to ∂C/∂W¹, so the first layer
  only visits the non-zero pixels (about 19% of an MNIST image).  The result
  is the same as the dense sum; only the (float32) rounding order differs;
* the first layer's weights are kept transposed, (n_in, n_out), during the
  epoch, so the work per pixel is one contiguous row, done with explicit
  vector instructions (the scalar loops' float32 operations in the
  same order, but with fused multiply-adds in the first layer and a vector
  sigmoid; the scalar loops are the fallback where they cannot compile);
* the parameters are allocated 64-byte aligned, so that a 16-float row of the
  first layer is one cache line.

Wide layers and large batches are where BLAS wins: there :func:`sgd_epoch`
uses an in-place NumPy path instead (see :func:`use_blas`).  Both paths are
tested against the reference (``tests/test_fast.py``).

The compiled loop comes in two builds of the same algorithm.  First choice is
the C kernel (``_ckernel.c``), compiled ahead of time when the package is
installed and loaded with :mod:`ctypes`: no compiler start-up at run time.  It
trains the common case (sigmoid layers, quadratic cost, uint8 or float pixels).
On x86-64 it is built for AVX-512, for AVX2 + FMA and for any CPU, each with
vectors as wide as its registers, and the best build the CPU runs is loaded
(:data:`c_kernel_isa`).  From :data:`TWO_THREADS_MIN_HIDDEN` neurons in the
first hidden layer it can share an epoch between two threads
(:func:`kernel_threads`), with the same result bit for bit.  Elsewhere, or where
it was not built (no C compiler at install time), the Numba kernel
(``_fast_kernel.py``) runs; Numba is imported only then.  Where neither can run,
``engine="auto"`` runs the reference code and ``engine="fast"`` raises a
:class:`~nudge.errors.NudgeError`.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
from typing import Any

import numpy as np

from .errors import NudgeError

ENGINES = ("auto", "reference", "fast")
# codes for the kernel
_HIDDEN = {"sigmoid": 0, "relu": 1, "tanh": 2}
_OUTPUT = {"sigmoid": 0, "softmax": 1}
_COST = {"quadratic": 0, "cross-entropy": 1}

#: steps per call of the compiled kernel: between calls Ctrl-C is honoured and
#: the progress bar moves (about 5,000 examples per call)
EXAMPLES_PER_CHUNK = 5000
#: use the BLAS (NumPy) path when a layer has at least this many weights per
#: example visited and the batch is at least BLAS_MIN_BATCH (see use_blas)
BLAS_MIN_BATCH = 100
BLAS_MIN_HIDDEN = 256

_kernel: Any = None
_numba_error: str | None = None
#: the C kernel's function (ctypes), False once it was looked for and not found
_c_kernel: Any = None
_c_sparse_rows: Any = None
_c_error: str | None = None
#: which kernel the last sgd_epoch ran: "c", "numba" or "blas" (None before any)
last_kernel: str | None = None
#: how many threads the last sgd_epoch used
last_threads: int = 1
#: the C kernel can share an epoch between two threads when the first hidden layer has
#: at least TWO_THREADS_MIN_HIDDEN neurons (as _ckernel.c's TWO_RANGES_MIN, which says
#: why) and a mini-batch TWO_THREADS_MIN_BATCH to TWO_THREADS_MAX_BATCH examples (by
#: default, where two CPUs are available)
TWO_THREADS_MIN_HIDDEN = 512
TWO_THREADS_MIN_BATCH = 4
TWO_THREADS_MAX_BATCH = 1024


def numba_available() -> bool:
    """Whether Numba can be imported (checked without importing it)."""
    if _numba_error is not None:
        return False
    return importlib.util.find_spec("numba") is not None


def unsupported_reason(net: Any, optimizer: str, weight_decay: float) -> str | None:
    """Why the fast engine cannot train this set-up, or None if it can."""
    if optimizer != "sgd":
        return f"optimizer {optimizer!r} (it does plain sgd only)"
    if np.dtype(net.dtype) != np.float32:
        return f"{np.dtype(net.dtype)} networks (it trains float32 networks only)"
    if (net.activation not in _HIDDEN or net.output not in _OUTPUT
            or net.cost_function not in _COST):
        return f"{net.activation}/{net.output}/{net.cost_function} networks"
    if c_supports(net):
        return None
    if not numba_available():
        why = f" ({_numba_error})" if _numba_error else ""
        return f"this installation: numba cannot be imported{why}; pip install numba"
    return None


def c_supports(net: Any) -> bool:
    """Whether the C kernel is built and trains this network (float32, sigmoid
    layers, quadratic cost; the optimizer is checked by the caller)."""
    return (np.dtype(net.dtype) == np.float32 and net.activation == "sigmoid"
            and net.output == "sigmoid" and net.cost_function == "quadratic"
            and c_kernel_available())


def c_kernel_available() -> bool:
    """Whether the C kernel was built with the package and loads."""
    return _load_c_kernel() is not None


def supports(net: Any, optimizer: str, weight_decay: float, engine: str) -> bool:
    """Whether :func:`nudge.train.train` should use :func:`sgd_epoch`.

    ``engine="auto"``: where it applies; ``"reference"``: never; ``"fast"``:
    always, and a set-up it cannot train is an error (one line saying why).
    """
    if engine not in ENGINES:
        raise NudgeError(f"unknown engine {engine!r}: choose auto, reference or fast")
    if engine == "reference":
        return False
    reason = unsupported_reason(net, optimizer, weight_decay)
    if reason is None and c_supports(net):
        return True
    if reason is None:
        try:
            _load_kernel()           # numba imports and the kernel loads, or the reason why not
            return True
        except NudgeError:
            reason = unsupported_reason(net, optimizer, weight_decay)
    if engine == "fast":
        raise NudgeError(f"the fast engine cannot train with {reason}: "
                         "use --engine reference (or auto)")
    return False


def available_cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def check_threads(threads: Any) -> int | None:
    """``threads`` (None: decide; else 1 or 2) validated, or a NudgeError saying why not."""
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise NudgeError(f"threads must be 1 or 2 (or None to decide), not {threads!r}")
    return min(int(threads), 2)


def kernel_threads(sizes: list[int], batch_size: int, threads: int | None = None) -> int:
    """How many threads (1 or 2) the C kernel trains with.

    ``threads`` if given, else ``$NUDGE_THREADS``, else 2 where two CPUs are
    available; either way 1 unless the network and the mini-batch are big
    enough to share (see :data:`TWO_THREADS_MIN_HIDDEN`).  The weights do not
    depend on it (each parameter gets the same operations in the same order);
    only the time does.
    """
    threads = check_threads(threads)
    if threads is None:
        env = os.environ.get("NUDGE_THREADS", "").strip()
        if env and (not env.isdigit() or int(env) < 1):
            raise NudgeError(f"NUDGE_THREADS={env!r} is not a number of threads: "
                             "set it to 1 or 2, or unset it")
        threads = min(int(env), 2) if env else min(available_cpus(), 2)
    if (not _two_ranges(sizes)
            or not TWO_THREADS_MIN_BATCH <= batch_size <= TWO_THREADS_MAX_BATCH):
        return 1
    return threads


def _two_ranges(sizes: Any) -> bool:
    """Whether the C kernel sums the first layer in two pixel ranges (_ckernel.c)."""
    return len(sizes) > 2 and int(sizes[1]) >= TWO_THREADS_MIN_HIDDEN


def use_blas(sizes: list[int], batch_size: int, c_kernel: bool = False) -> bool:
    """Whether an epoch runs on the NumPy/BLAS path rather than a compiled kernel.

    The compiled kernels work one example at a time and skip zero pixels; they
    win while the matrices are small.  With a large batch *and* a wide hidden
    layer, matrix-matrix products (BLAS, all cores) beat the Numba kernel.  The C
    kernel (``c_kernel=True``: it will train this network) was measured faster than
    the BLAS path up to 1,024 hidden neurons at B = 100, so it keeps those too.
    """
    if c_kernel and max(sizes[1:-1], default=0) <= 1024:
        return False
    return batch_size >= BLAS_MIN_BATCH and max(sizes[1:-1], default=0) >= BLAS_MIN_HIDDEN


# --------------------------------------------------------------------------- the kernels
_P = ctypes.c_void_p
_I64 = ctypes.c_int64
_F32 = ctypes.c_float
_INT = ctypes.c_int
_C_ARGS = [_P, _P, _P, _INT, _F32, _P, _P, _P, _I64, _I64, _I64, _I64, _F32, _F32, _P, _P,
           _I64, _P, _P, _INT, _INT, _INT, _I64, _INT]
_C_ABI = 3


#: the C kernel's builds, best first, with the nudge_cpu_level() each needs (setup.py)
_C_BUILDS = (("_ckernel_avx512", 2), ("_ckernel_avx2", 1), ("_ckernel", 0))
#: the instruction set of the loaded C kernel build: "avx512", "avx2" or "base"
c_kernel_isa: str | None = None


def _c_library_path(name: str = "_ckernel") -> str | None:
    """Where the C library ``nudge.<name>`` is: found by the import system (so also in
    editable installs), though it is loaded with ctypes, not imported."""
    try:
        spec = importlib.util.find_spec(f"{__package__}.{name}")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or spec.origin.endswith(".c"):
        return None
    return spec.origin


def _open_c_library(name: str) -> Any:
    """The C library ``nudge.<name>`` (ctypes); OSError if it is missing or not this
    version's."""
    path = _c_library_path(name)
    if path is None:
        raise OSError("not built (no C compiler when nudge was installed?)")
    lib = ctypes.CDLL(path)
    if lib.nudge_abi_version() != _C_ABI:
        raise OSError(f"{path} is from another version of nudge")
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
    global _c_kernel, _c_error, _c_sparse_rows, c_kernel_isa
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
    fn.argtypes = _C_ARGS
    fn.restype = _INT
    _c_sparse_rows = lib.nudge_sparse_rows_u8
    _c_sparse_rows.argtypes = [_P, _I64, _I64, _I64, _P, _P, _P, _INT]
    _c_sparse_rows.restype = _INT
    _c_kernel, c_kernel_isa = fn, isa
    return fn


def _load_kernel() -> Any:
    """Compile (or load from Numba's cache) the epoch kernel, once per process."""
    global _kernel, _numba_error
    if _kernel is not None:
        return _kernel
    try:
        _fast_kernel = importlib.import_module(f"{__package__}._fast_kernel")
    except Exception as e:  # ImportError, or numba failing to initialise
        _numba_error = f"{type(e).__name__}: {e}".splitlines()[0][:200]
        raise NudgeError(f"the fast engine is not available ({_numba_error}): "
                         "use --engine reference") from None
    _kernel = _fast_kernel
    return _kernel


class _Packed:
    """The network's parameters in the kernel's flat layout, plus its buffers."""

    def __init__(self, net: Any) -> None:
        sizes = [int(s) for s in net.sizes]
        L = len(sizes) - 1
        self.sizes = np.array(sizes, dtype=np.int64)
        wo, bo, pos = [], [], 0
        for l in range(L):
            wo.append(pos)
            pos += sizes[l] * sizes[l + 1]
            bo.append(pos)
            pos += sizes[l + 1]
        self.wo = np.array(wo, dtype=np.int64)
        self.bo = np.array(bo, dtype=np.int64)
        # aligned to 64 bytes, so that each 16-float row of the first layer is one cache line
        buf = np.empty(pos + 16, dtype=np.float32)
        at = (-buf.ctypes.data % 64) // 4
        self.params = buf[at:at + pos]
        for l, (W, b) in enumerate(zip(net.weights, net.biases)):
            n_in, n_out = sizes[l], sizes[l + 1]
            # Wᵀ: row i holds the weights *from* input i, contiguous
            self.params[wo[l]:wo[l] + n_in * n_out].reshape(n_in, n_out)[...] = W.T
            self.params[bo[l]:bo[l] + n_out] = b
        # the first layer's Wᵀ as an (n_in, n_out) view of the flat array
        self.W0 = self.params[:sizes[0] * sizes[1]].reshape(sizes[0], sizes[1])

    def unpack(self, net: Any) -> None:
        sizes = self.sizes
        for l, (W, b) in enumerate(zip(net.weights, net.biases)):
            n_in, n_out = int(sizes[l]), int(sizes[l + 1])
            w0, b0 = int(self.wo[l]), int(self.bo[l])
            W[...] = self.params[w0:w0 + n_in * n_out].reshape(n_in, n_out).T
            b[...] = self.params[b0:b0 + n_out]


class Inputs:
    """Training inputs as the kernel reads them: the non-zero values of each row.

    Row r's non-zero entries are ``val[indptr[r]:indptr[r+1]]`` at columns
    ``idx[...]`` (compressed sparse rows).  uint8 pixels stay uint8 (about 3
    bytes per non-zero pixel, ~28 MB for MNIST's 60,000 training images).
    Made once per training run by :func:`prepare`; ``X`` is kept for the
    BLAS path.
    """

    #: rows per NumPy pass while making them (temporaries of a few MB)
    CHUNK = 4096

    def __init__(self, X: np.ndarray) -> None:
        self.X = X
        self._split: int | None = None
        self.scale = np.float32(1 / 255) if X.dtype == np.uint8 else np.float32(1)
        n, d = X.shape
        self.indptr = np.zeros(n + 1, dtype=np.int64)
        if (X.dtype == np.uint8 and d < 2**16 and X.strides[1] == 1 and X.strides[0] >= d
                and _load_c_kernel() is not None):
            # the C library's loop: about 10 times NumPy's speed, no temporaries
            args = (X.ctypes.data, n, d, X.strides[0], self.indptr.ctypes.data)
            _c_sparse_rows(*args, None, None, 1)
            self.idx = np.empty(int(self.indptr[-1]), dtype=np.uint16)
            self.val = np.empty(int(self.indptr[-1]), dtype=np.uint8)
            _c_sparse_rows(*args, self.idx.ctypes.data, self.val.ctypes.data, 0)
            return
        for a in range(0, n, self.CHUNK):
            b = min(a + self.CHUNK, n)
            np.cumsum(np.count_nonzero(X[a:b], axis=1), out=self.indptr[a + 1:b + 1])
            self.indptr[a + 1:b + 1] += self.indptr[a]
        nnz = int(self.indptr[-1])
        self.idx = np.empty(nnz, dtype=np.uint16 if d < 2**16 else np.int64)
        self.val = np.empty(nnz, dtype=np.uint8 if X.dtype == np.uint8 else np.float32)
        for a in range(0, n, self.CHUNK):
            b = min(a + self.CHUNK, n)
            flat = np.ascontiguousarray(X[a:b]).reshape(-1)
            at = np.flatnonzero(flat)
            lo, hi = self.indptr[a], self.indptr[b]
            self.val[lo:hi] = flat[at]
            np.remainder(at, d, out=at)            # row-major: the column of each entry
            self.idx[lo:hi] = at

    def __len__(self) -> int:
        return len(self.X)

    @property
    def split(self) -> int:
        """The pixel that splits the non-zero pixels into two halves of about equal
        counts (for first layers of :data:`TWO_THREADS_MIN_HIDDEN` neurons or more the
        C kernel sums, and with two threads steps, the two halves apart).  Counted
        once, a chunk at a time (no copy of the whole index array)."""
        if self._split is None:
            d = self.X.shape[1]
            counts = np.zeros(d, dtype=np.int64)
            step = 1 << 20
            for a in range(0, len(self.idx), step):
                counts += np.bincount(self.idx[a:a + step], minlength=d)[:d]
            cum = np.cumsum(counts)
            total = int(cum[-1]) if d else 0
            self._split = int(np.searchsorted(cum, total / 2)) if total else d // 2
        return self._split


def prepare(X: Any, sizes: list[int], batch_size: int, c_kernel: bool = False) -> Any:
    """What :func:`sgd_epoch` should be given as ``X`` on every epoch of a run:
    :class:`Inputs` for the compiled kernels, or ``X`` itself for the BLAS path
    (``c_kernel``: whether the C kernel will train the network, see :func:`use_blas`)."""
    X = np.asarray(X)
    if use_blas(sizes, batch_size, c_kernel) or X.ndim != 2:
        return X
    inputs = Inputs(X)
    if c_kernel and _two_ranges(sizes):
        _ = inputs.split               # counted now, not in the first epoch's time
    return inputs


def sgd_epoch(net: Any, X: Any, labels: np.ndarray, order: np.ndarray,
              batch_size: int, learning_rate: float, stop: Any = None, bar: Any = None,
              weight_decay: float = 0.0, threads: int | None = None) -> int:
    """One epoch of plain SGD on ``net`` (in place); returns the steps taken.

    ``X``: one example per row (uint8 pixels are read as intensity/255), or
    what :func:`prepare` made of it; ``labels``: class numbers, or desired-
    output rows; ``order``: the epoch's shuffle (the batches are
    ``order[0:B]``, ``order[B:2B]``, ... exactly as in the reference trainer).
    Between chunks of steps the ``stop`` flag (``stop.requested``) is checked
    and the tqdm ``bar`` (or None) moves.  The result is that of
    ``Network.update_mini_batch`` on each batch in turn, up to float32 rounding
    (with ``weight_decay`` λ: θ ← θ − η (g + λθ) for the weights, as ``nudge.train.SGD``).
    ``threads``: for the C kernel, see :func:`kernel_threads` (the result does not
    depend on it).
    """
    global last_kernel, last_threads
    reason = unsupported_reason(net, "sgd", weight_decay)
    if reason is not None:
        raise NudgeError(f"the fast engine cannot train with {reason}: "
                         "use --engine reference (or auto)")
    inputs = X if isinstance(X, Inputs) else None
    X = inputs.X if inputs is not None else np.asarray(X)
    labels = np.asarray(labels)
    order = np.ascontiguousarray(order, dtype=np.int64)
    n = len(order)
    if n == 0:
        return 0
    if X.ndim != 2 or X.shape[1] != net.sizes[0]:
        raise NudgeError(f"inputs have shape {X.shape} but the network expects rows of "
                         f"{net.sizes[0]} values (one example per row)")
    if use_blas(net.sizes, batch_size, c_supports(net)):
        last_kernel = "blas"
        return _blas_epoch(net, X, labels, order, batch_size, learning_rate, stop, bar,
                           weight_decay)
    if inputs is None:
        inputs = Inputs(X)
    if labels.ndim == 2:
        rows = np.ascontiguousarray(labels, dtype=np.float32)
        classes = np.zeros(0, dtype=np.int64)
    else:
        rows = np.zeros((0, 0), dtype=np.float32)
        classes = np.ascontiguousarray(labels, dtype=np.int64)
    c_kernel = _load_c_kernel() if c_supports(net) else None
    if c_kernel is not None and (inputs.idx.dtype != np.uint16
                                 or (labels.ndim == 2 and rows.shape[1] != net.sizes[-1])):
        c_kernel = None
    if c_kernel is None:
        kernel = _load_kernel().run_sgd_steps        # Numba; a NudgeError if it cannot
    n_threads = kernel_threads(net.sizes, batch_size, threads) if c_kernel is not None else 1
    last_threads = n_threads
    p = _Packed(net)
    chunk = max(1, EXAMPLES_PER_CHUNK // batch_size) * batch_size
    steps = 0
    last_kernel = "c" if c_kernel is not None else "numba"
    eta, decay = np.float32(learning_rate), np.float32(1 - learning_rate * weight_decay)
    try:
        for first in range(0, n, chunk):
            last = min(first + chunk, n)
            if c_kernel is not None:
                code = c_kernel(inputs.indptr.ctypes.data, inputs.idx.ctypes.data,
                                inputs.val.ctypes.data, int(inputs.val.dtype != np.uint8),
                                inputs.scale, classes.ctypes.data if labels.ndim == 1 else None,
                                rows.ctypes.data, order.ctypes.data, n, first, last,
                                batch_size, eta, decay, p.params.ctypes.data,
                                p.sizes.ctypes.data, len(p.sizes) - 1, p.wo.ctypes.data,
                                p.bo.ctypes.data, _HIDDEN[net.activation],
                                _OUTPUT[net.output], _COST[net.cost_function],
                                inputs.split if _two_ranges(net.sizes) else 0, n_threads)
                if code != 0:
                    raise NudgeError("the fast engine's C kernel failed ("
                                     + ("out of memory" if code == 2 else f"code {code}")
                                     + "): use --engine reference")
            else:
                kernel(inputs.indptr, inputs.idx, inputs.val, inputs.scale, classes, rows,
                       order, first, last, batch_size, eta, decay, p.W0, p.params, p.sizes,
                       p.wo, p.bo, _HIDDEN[net.activation], _OUTPUT[net.output],
                       _COST[net.cost_function])
            done = -(-(last - first) // batch_size)
            steps += done
            if bar is not None:
                bar.update(done)
            if stop is not None and stop.requested:
                break
    finally:
        p.unpack(net)
    return steps


# --------------------------------------------------------------------------- BLAS path
def _blas_epoch(net: Any, X: np.ndarray, labels: np.ndarray, order: np.ndarray,
                batch_size: int, learning_rate: float, stop: Any, bar: Any,
                weight_decay: float = 0.0) -> int:
    """The reference mathematics with preallocated buffers and in-place updates.

    For wide layers with large batches, where the matrix products dominate and
    BLAS (multi-threaded) is the fastest way to do them.
    """
    sizes = net.sizes
    L = len(sizes) - 1
    B = batch_size
    dt = np.float32
    rows_u = np.empty((B, sizes[0]), dtype=X.dtype)
    A = [np.empty((B, s), dtype=dt) for s in sizes]
    D = [np.empty((B, s), dtype=dt) for s in sizes[1:]]
    T = [np.empty((B, s), dtype=dt) for s in sizes[1:]]
    gW = [np.empty_like(W) for W in net.weights]
    gb = [np.empty_like(b) for b in net.biases]
    Y = np.empty((B, sizes[-1]), dtype=dt)
    eta = dt(learning_rate)
    decay = dt(1 - learning_rate * weight_decay)
    scale = dt(1 / 255) if X.dtype == np.uint8 else None
    one_hot = labels.ndim == 1
    steps = 0
    n = len(order)
    for start in range(0, n, B):
        idx = order[start:start + B]
        m = len(idx)
        x, a0 = rows_u[:m], A[0][:m]
        np.take(X, idx, axis=0, out=x)
        if scale is not None:
            np.multiply(x, scale, out=a0, dtype=dt)
        else:
            a0[...] = x
        for l in range(L):                                   # zˡ = aˡ⁻¹ Wᵀ + b, aˡ = σ(zˡ)
            z = A[l + 1][:m]
            np.matmul(A[l][:m], net.weights[l].T, out=z)
            z += net.biases[l]
            _activate_inplace(net.output if l == L - 1 else net.activation, z)
        y = Y[:m]
        if one_hot:
            y.fill(0)
            y[np.arange(m), labels[idx]] = 1
        else:
            y[...] = labels[idx]
        a, d, t = A[L][:m], D[L - 1][:m], T[L - 1][:m]
        np.subtract(a, y, out=d)                              # δᴸ, as Network.output_error
        if net.cost_function == "quadratic":
            d *= 2
            if net.output == "sigmoid":
                d *= a
                np.subtract(1, a, out=t)
                d *= t
            else:
                np.multiply(d, a, out=t)
                s = t.sum(axis=1, keepdims=True)
                d -= s
                d *= a
        d /= m
        for l in range(L - 1, -1, -1):
            d = D[l][:m]
            d.sum(axis=0, out=gb[l])                          # ∂C/∂bˡ = δˡ
            np.matmul(d.T, A[l][:m], out=gW[l])               # ∂C/∂Wˡ = δˡ (aˡ⁻¹)ᵀ
            if l > 0:                                         # δˡ⁻¹ = (Wˡᵀ δˡ) ⊙ σ'(zˡ⁻¹)
                prev, a, t = D[l - 1][:m], A[l][:m], T[l - 1][:m]
                np.matmul(d, net.weights[l], out=prev)
                _times_derivative(net.activation, prev, a, t)
        for W, b, g, h in zip(net.weights, net.biases, gW, gb):
            if weight_decay:
                W *= decay
            g *= eta
            W -= g
            h *= eta
            b -= h
        steps += 1
        if bar is not None:
            bar.update(1)
        if stop is not None and stop.requested:
            break
    return steps


def _activate_inplace(kind: str, z: np.ndarray) -> None:
    if kind == "sigmoid":
        with np.errstate(over="ignore"):
            np.negative(z, out=z)
            np.exp(z, out=z)
        z += 1
        np.reciprocal(z, out=z)
    elif kind == "relu":
        np.maximum(z, 0, out=z)
    elif kind == "tanh":
        np.tanh(z, out=z)
    else:  # softmax
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)


def _times_derivative(kind: str, d: np.ndarray, a: np.ndarray, t: np.ndarray) -> None:
    """d ⊙= σ'(z), from the activations a (t is scratch)."""
    if kind == "sigmoid":
        np.subtract(1, a, out=t)
        t *= a
        d *= t
    elif kind == "relu":
        d *= a > 0
    else:  # tanh
        np.multiply(a, a, out=t)
        np.subtract(1, t, out=t)
        d *= t
