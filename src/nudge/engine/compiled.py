"""The compiled engine: SGD steps as one C loop (``_ckernel.c``, loaded with ctypes).

It trains float32 networks of every kind nudge has (hidden sigmoid, relu or tanh; output
sigmoid or softmax; quadratic or cross-entropy cost) with plain SGD or momentum, either
with weight decay (Adam stays with the reference engine).  The mathematics is that of
:mod:`nudge.network` and :mod:`nudge.optimizers`; only the bookkeeping differs:

* a mini-batch at a time: forward and backward for each example with the weights from
  before the step (aˡ, δˡ in small buffers), then the step, in place.  The first layer's
  step goes straight into the W¹ᵀ rows of each example's lit pixels (−η x_p δ¹); with
  momentum ∂C/∂W¹ is summed that way, then every weight moves with its velocity (which
  the engine keeps from call to call);
* the examples are read in the shuffled order from the sparse rows (:class:`Inputs`),
  uint8 pixels turned into intensity/255 (float32) where used.  A pixel that is 0 adds
  exactly 0, so the first layer visits only the lit pixels (~19% of an MNIST image);
* the first layer's weights are kept transposed, (n_in, n_out), so the work per pixel
  is one contiguous row, in explicit vector instructions; the parameters 64-byte aligned.

It is compiled when the package is built (``setup.py``): on x86-64 for AVX-512, for
AVX2 + FMA and for any CPU; :mod:`.clib` loads the best build the CPU runs.  From
:data:`~nudge.engine.threads.TWO_THREADS_MIN_HIDDEN` neurons in the first hidden layer two
threads can share the steps (:mod:`nudge.engine.threads` holds the rules, the kernel does
as told), with the same result bit for bit.  Without a build (no C compiler at install
time) :func:`.clib.unavailable_reason` says why and :mod:`nudge.engine` uses the reference.
The same kernel's forward pass alone (:meth:`CompiledEngine.output_sums`) measures the
training set after each epoch.
"""

from __future__ import annotations

import ctypes
import time
from typing import Any

import numpy as np

from ..bounds import MAX_LAYERS  # the tables hold 64 layers
from ..errors import NudgeError
from ..inputs import as_pixels, check_labels, desired_outputs
from ..optimizers import DEFAULT_MOMENTUM
from . import clib
from .threads import ThreadTimer, given_threads, kernel_threads, two_ranges

# codes for the kernel
HIDDEN = {"sigmoid": 0, "relu": 1, "tanh": 2}
OUTPUT = {"sigmoid": 0, "softmax": 1}
COST = {"quadratic": 0, "cross-entropy": 1}
#: the set-ups the C kernel trains
C_HIDDEN, C_OUTPUT, C_COST = tuple(HIDDEN), tuple(OUTPUT), tuple(COST)
C_OPTIMIZERS = ("sgd", "momentum")


def unsupported_reason(net: Any, optimizer: str) -> str | None:
    """Why the compiled engine cannot train this set-up, or None if it can."""
    if optimizer not in C_OPTIMIZERS:
        return f"optimizer {optimizer!r} (it does sgd and momentum)"
    if np.dtype(net.dtype) != np.float32:
        return f"{np.dtype(net.dtype)} networks (it trains float32 networks only)"
    if (net.activation not in C_HIDDEN or net.output not in C_OUTPUT
            or net.cost_function not in C_COST):
        return f"{net.activation}/{net.output}/{net.cost_function} networks"
    if len(net.sizes) - 1 > MAX_LAYERS:
        return f"more than {MAX_LAYERS} layers"
    if net.sizes[0] >= 2**16:
        return "inputs of 65,536 values or more"
    return clib.unavailable_reason()


def _aligned_zeros(size: int) -> np.ndarray:
    """float32 zeros starting on a 64-byte boundary (a cache line)."""
    buf = np.zeros(size + 16, dtype=np.float32)
    at = (-buf.ctypes.data % 64) // 4
    return buf[at:at + size]


class _Packed:
    """The network's parameters in the kernel's flat layout (see _ckernel.c): made once
    per engine, filled from the network before each call (:meth:`pack`) and copied back
    after it (:meth:`unpack`), so the network is always the truth between calls."""

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
        self.params = _aligned_zeros(pos)
        # Wᵀ of each layer (row i holds the weights *from* input i, contiguous) and b
        self.WT = [self.params[wo[l]:wo[l] + sizes[l] * sizes[l + 1]].reshape(
            sizes[l], sizes[l + 1]) for l in range(L)]
        self.b = [self.params[bo[l]:bo[l] + sizes[l + 1]] for l in range(L)]
        self.pack(net)

    def pack(self, net: Any) -> None:
        for WT, b, W, b_net in zip(self.WT, self.b, net.weights, net.biases):
            np.copyto(WT, W.T)
            np.copyto(b, b_net)

    def unpack(self, net: Any) -> None:
        for WT, b, W, b_net in zip(self.WT, self.b, net.weights, net.biases):
            np.copyto(W, WT.T)
            np.copyto(b_net, b)


class Inputs:
    """Training inputs as the kernel reads them: the non-zero values of each row.

    Row r's non-zero entries are ``val[indptr[r]:indptr[r+1]]`` at columns
    ``idx[...]`` (compressed sparse rows).  uint8 pixels stay uint8 (about 3
    bytes per non-zero pixel, ~28 MB for MNIST's 60,000 training images).
    Made once per training run by :class:`CompiledEngine`.
    """

    #: rows per NumPy pass while making them (temporaries of a few MB)
    CHUNK = 4096

    def __init__(self, X: np.ndarray) -> None:
        X = as_pixels(X)                 # whole numbers of any type are uint8 pixels
        n, d = X.shape
        self.n, self.d = n, d
        self._split: int | None = None
        self.scale = np.float32(1 / 255) if X.dtype == np.uint8 else np.float32(1)
        self.indptr = np.zeros(n + 1, dtype=np.int64)
        if (X.dtype == np.uint8 and d < 2**16 and X.strides[1] == 1 and X.strides[0] >= d
                and clib._load_c_kernel() is not None):
            # the C library's loop: 2.5-2.9x NumPy's speed for MNIST's training images
            # (benchmarks/engine_configs.py --inputs), no temporaries
            args = clib._RowsArgs(X.ctypes.data, n, d, X.strides[0], self.indptr.ctypes.data,
                             None, None, 1)
            clib._c_sparse_rows(ctypes.byref(args))
            self.idx = np.empty(int(self.indptr[-1]), dtype=np.uint16)
            self.val = np.empty(int(self.indptr[-1]), dtype=np.uint8)
            args.idx, args.val, args.counts_only = self.idx.ctypes.data, self.val.ctypes.data, 0
            clib._c_sparse_rows(ctypes.byref(args))
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
        return self.n

    @property
    def split(self) -> int:
        """The pixel that splits the non-zero pixels into two halves of about equal
        counts (for first layers of TWO_THREADS_MIN_HIDDEN neurons or more the
        C kernel sums, and with two threads steps, the two halves apart); at least 1
        (0 would tell the kernel to sum one range).  Counted once, a chunk at a time (no
        copy of the whole index array)."""
        if self._split is None:
            d = self.d
            counts = np.zeros(d, dtype=np.int64)
            step = 1 << 20
            for a in range(0, len(self.idx), step):
                counts += np.bincount(self.idx[a:a + step], minlength=d)[:d]
            cum = np.cumsum(counts)
            total = int(cum[-1]) if d else 0
            split = int(np.searchsorted(cum, total / 2)) if total else d // 2
            self._split = max(1, split)
        return self._split


class CompiledEngine:
    """Runs mini-batch steps on ``net`` with the C kernel: ``run(net, order, first, last, η)``.

    Made once per training run: the inputs' non-zero pixels (:class:`Inputs`) are
    found here, once.  Each :meth:`run` reads the network's parameters, takes the
    steps and writes them back, so the network is always current between calls.
    With ``optimizer="momentum"`` the engine keeps the velocity (in the kernel's
    layout) from call to call, as :class:`nudge.optimizers.Momentum` does.
    """

    name = "fast"

    def __init__(self, net: Any, X: np.ndarray, labels: Any, batch_size: int, *,
                 optimizer: str = "sgd", momentum: float = DEFAULT_MOMENTUM,
                 weight_decay: float = 0.0,
                 threads: int | None = None) -> None:
        reason = unsupported_reason(net, optimizer)
        if reason is not None:
            raise NudgeError(f"the fast engine cannot train with {reason}: "
                             "use --engine reference (or auto)")
        self.inputs = X if isinstance(X, Inputs) else Inputs(np.asarray(X))
        labels = np.asarray(labels)
        if labels.ndim == 2:
            self.rows = np.ascontiguousarray(
                desired_outputs(labels, net.sizes[-1], np.float32), dtype=np.float32)
            self.classes = None
        else:
            self.rows = np.zeros((0, 0), dtype=np.float32)
            check_labels(labels, net.sizes[-1])
            self.classes = np.ascontiguousarray(labels, dtype=np.int64)
        if len(labels) != len(self.inputs.indptr) - 1:
            raise NudgeError(f"{len(self.inputs.indptr) - 1} training inputs but "
                             f"{len(labels)} labels")
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.optimizer = optimizer
        self.momentum = momentum
        #: momentum: v for every parameter, in the kernel's flat layout (made at the first
        #: step, zeros, as nudge.optimizers.Momentum)
        self.velocity: np.ndarray | None = None
        self.threads = kernel_threads(net.sizes, batch_size, threads)
        #: where two threads may run and nobody said how many: one against two, timed
        self.timer = (ThreadTimer(batch_size)
                      if self.threads == 2 and given_threads(threads) is None else None)
        self.split = self.inputs.split if two_ranges(net.sizes) else 0
        self.isa = clib.c_kernel_isa
        #: the parameters in the kernel's layout, and the kernel's arguments: made once, so
        #: that a call of a few steps (a callback after every step) costs little more
        self.sizes = [int(s) for s in net.sizes]
        self.packed = p = _Packed(net)
        inputs = self.inputs
        # what both of the kernel's functions read: the inputs and the network
        shared = dict(
            indptr=inputs.indptr.ctypes.data, idx=inputs.idx.ctypes.data,
            val=inputs.val.ctypes.data, val_float=int(inputs.val.dtype != np.uint8),
            scale=inputs.scale, params=p.params.ctypes.data, sizes=p.sizes.ctypes.data,
            L=len(p.sizes) - 1, wo=p.wo.ctypes.data, bo=p.bo.ctypes.data,
            hidden=HIDDEN[net.activation])
        self.args = clib._StepsArgs(
            **shared, classes=self.classes.ctypes.data if self.classes is not None else None,
            rows=self.rows.ctypes.data, batch_size=batch_size, output=OUTPUT[net.output],
            cost=COST[net.cost_function], split=self.split, threads=self.threads,
            momentum=momentum, weight_decay=weight_decay)
        self.forward_args = clib._ForwardArgs(**shared, first=0, last=len(inputs))

    @property
    def settings(self) -> dict[str, Any]:
        """What ran, for ``History.settings``."""
        return {"engine": "fast", "kernel": "c", "kernel_isa": self.isa,
                "threads": self.threads,
                **({"threads_timed": True, "examples_by_threads": {
                    str(t): n for t, n in self.timer.examples.items()}}
                   if self.timer is not None else {})}

    def _pack(self, net: Any) -> _Packed:
        """The engine's packed parameters, filled from ``net`` (the network it was made for:
        its architecture is in the kernel's arguments)."""
        if [int(s) for s in net.sizes] != self.sizes or (
                HIDDEN[net.activation], OUTPUT[net.output], COST[net.cost_function]) != (
                self.args.hidden, self.args.output, self.args.cost):
            raise NudgeError(f"this engine was made for a {'-'.join(map(str, self.sizes))} "
                             f"network of other functions or sizes than {net!r}")
        self.packed.pack(net)
        return self.packed

    def output_sums(self, net: Any) -> np.ndarray:
        """zᴸ, the output layer's weighted sums, of every training input (float32, one row
        each): the kernel's forward pass, with which :func:`nudge.train.evaluate` measures
        the training set in a fraction of NumPy's time (it reads only the lit pixels)."""
        self._pack(net)
        out = np.empty((len(self.inputs), net.sizes[-1]), dtype=np.float32)
        self.forward_args.out = out.ctypes.data
        clib._load_c_kernel()                  # its result unused: loading sets _c_forward
        _check(clib._c_forward(ctypes.byref(self.forward_args)))
        return out

    def run(self, net: Any, order: np.ndarray, first: int, last: int,
            learning_rate: float) -> int:
        """The steps on the mini-batches ``order[first:first+B]``, ... up to ``last``
        (``first`` is a multiple of the batch size B); returns how many were taken.
        The result is that of the reference engine up to float32 rounding (with weight
        decay λ: θ ← θ − η (g + λθ) for the weights; with momentum μ: v ← μ v − η (g + λθ),
        θ ← θ + v, the biases without λ)."""
        order = np.ascontiguousarray(order, dtype=np.int64)
        if first >= last:
            return 0
        rows = order[first:last]                 # the C code reads what they point to
        if (not 0 <= first < last <= len(order) or rows.min() < 0
                or rows.max() >= len(self.inputs.indptr) - 1):
            raise NudgeError(f"steps on order[{first}:{last}] of {len(order)} entries, which "
                             f"must be rows 0 to {len(self.inputs.indptr) - 2} of the inputs")
        kernel = clib._load_c_kernel()
        p, args = self._pack(net), self.args
        if self.optimizer == "momentum" and self.velocity is None:
            self.velocity = _aligned_zeros(len(p.params))
            args.velocity = self.velocity.ctypes.data
        args.order, args.n, args.first, args.last = order.ctypes.data, len(order), first, last
        args.eta = np.float32(learning_rate)
        # w -= (eta lambda) w, not w *= 1 - eta lambda: float32(1 - eta lambda) is off by up
        # to 3e-8, a steady error of a few percent in the decay where eta lambda ~ 1e-6
        args.shrink = np.float32(learning_rate * self.weight_decay)
        try:
            if self.timer is None:
                _check(kernel(ctypes.byref(args)))
            else:
                self._timed_steps(kernel, self.timer, last)
        finally:
            p.unpack(net)
        return -(-(last - first) // self.batch_size)

    def _timed_steps(self, kernel: Any, timer: ThreadTimer, last: int) -> None:
        """The steps up to ``last`` in pieces, each on the thread count the timer says,
        timed (the kernel's arguments say where they start)."""
        args = self.args
        while args.first < last:
            args.threads, count = timer.next(last - args.first)
            args.last = args.first + count
            start = time.perf_counter()
            _check(kernel(ctypes.byref(args)))
            timer.record(args.threads, count, time.perf_counter() - start)
            args.first = args.last


def _check(code: int) -> None:
    """A one-line error for a C kernel call that did not return NUDGE_OK."""
    if code != 0:
        raise NudgeError("the fast engine's C kernel failed ("
                         + ("out of memory" if code == 2 else f"code {code}")
                         + "): use --engine reference")
