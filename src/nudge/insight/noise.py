"""How good is a mini-batch: the gradient noise scale B_simple (McCandlish et al. 2018).

Each example x wishes for its own gradient gₓ = ∇Cₓ; the true gradient is their average
G = ∇C.  A mini-batch of B random examples estimates G with an error whose covariance is
Σ/B (sampling with replacement), where Σ = (1/n) Σₓ (gₓ − G)(gₓ − G)ᵀ.  The *simple noise
scale*

    B_simple = tr Σ / |G|²

is the batch size at which that error is as big as the gradient itself (E|g_B − G|² =
|G|², g_B the mini-batch's gradient): mini-batches much smaller than B_simple mostly
average noise (they need many more steps), much bigger ones barely improve the estimate
(they waste examples).  McCandlish et al.
found the best trade-off, the critical batch size, close to B_noise = tr(HΣ)/(GᵀHG), the
same ratio weighted by the curvature H (:func:`hessian_noise_scale`), which equals B_simple
when H is a multiple of the identity.

Exact and fast: tr Σ = (1/n) Σₓ |gₓ|² − |G|², and for a layer's weights |gₓ|² = |δₓ aₓᵀ|² =
|δₓ|² |aₓ|² (an outer product), so no per-example gradient is ever formed
(:func:`nudge.insight.full_gradient` computes both sums in one pass).  The cost is the
average cost C without weight decay.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..bounds import MAX_COUNT, check_count, fixed_seed
from ..checks import check_batch_size, check_data
from ..errors import NudgeError
from ..inputs import as_array, as_pixels
from ..network import Network
from .common import CHUNK, _Plain, single_threaded_blas
from .gradients import _work_net, example_nudges, full_gradient
from .hessian import HessianOperator


def spread(mean_example_norm_squared: float, gradient_norm_squared: float
           ) -> tuple[float, float]:
    """``(tr Σ, B_simple)``: tr Σ = (1/n) Σₓ |gₓ|² − |G|² (the examples' gradients' spread
    around their average G) and B_simple = tr Σ / |G|² (infinite when G = 0)."""
    trace = max(0.0, mean_example_norm_squared - gradient_norm_squared)
    return trace, (trace / gradient_norm_squared if gradient_norm_squared > 0 else math.inf)


def batch_error(n: int, batch_size: int, b_simple: float) -> float:
    """The root-mean-square relative error |g_B − G| / |G| of a mini-batch of B examples drawn
    without replacement from n: √((n − B)/(B (n − 1)) · B_simple); 0 for all n."""
    check_batch_size(batch_size, n)
    B = int(batch_size)
    if B == n:
        return 0.0
    return math.sqrt((n - B) / (B * (n - 1)) * b_simple)


@dataclass
class NoiseScale(_Plain):
    """The gradient noise over ``n`` examples (see the module docstring).
    ``trace_covariance`` is tr Σ, ``gradient_norm_squared`` |G|², ``mean_example_norm_squared``
    (1/n) Σₓ |gₓ|²; ``b_simple`` = tr Σ / |G|² (infinite when G = 0)."""

    n: int
    cost: float
    gradient_norm_squared: float
    mean_example_norm_squared: float
    trace_covariance: float
    b_simple: float
    seconds: float
    dtype: str

    def relative_error(self, batch_size: int) -> float:
        """The root-mean-square relative error |g_B − G| / |G| of a mini-batch of this size
        drawn without replacement (:func:`batch_error`).  NaN (0/0, undefined) when G = 0
        and every mini-batch's gradient g_B is 0 too: all B when every example's own
        gradient is 0 (no noise at all), B = n otherwise (then smaller batches: inf)."""
        check_batch_size(batch_size, self.n)
        if self.gradient_norm_squared == 0 and (
                self.mean_example_norm_squared == 0 or batch_size == self.n):
            return math.nan
        return batch_error(self.n, batch_size, self.b_simple)

    def explanation(self) -> str:
        """What B_simple says, in words."""
        b = self.b_simple
        if not math.isfinite(b) and self.mean_example_norm_squared == 0:
            return ("the gradient over these examples is exactly 0, and so is every example's "
                    "own gradient: every mini-batch's gradient is exactly 0 as well, with no "
                    "noise at all, and there is no noise scale (tr Sigma / |G|^2 is 0/0)")
        if not math.isfinite(b):
            return ("the gradient over these examples is exactly 0: every mini-batch is pure "
                    "noise, and there is no noise scale")
        if b < 1:
            return (f"B_simple = {b:.3g} is below 1: the examples' own gradients mostly agree "
                    "with the average, so even a single example points nearly the right way; "
                    "bigger batches hardly make a step better, only more expensive")
        one = self.n * b / (self.n - 1 + b)        # batch_error(n, B, b) = 1 there
        return (f"B_simple = {b:,.0f}: a mini-batch of B random examples has a gradient error "
                f"about sqrt(B_simple/B) times the gradient itself while B is much smaller "
                f"than the {self.n:,} examples; drawn without replacement its root mean square is "
                f"sqrt((n - B)/(B(n - 1)) * B_simple), the size of the gradient itself at "
                f"B = {one:,.0f}. "
                f"Mini-batches much smaller than {b:,.0f} mostly follow noise: each step is "
                "cheap but many more are needed (they waste steps). Much larger ones estimate "
                "the gradient better than a step needs: the steps barely improve (they waste "
                "examples). McCandlish et al. (2018) found the best batch size near B_noise, "
                "B_simple weighted by the curvature (nudge.insight.hessian_noise_scale), "
                "which can be several times smaller")


def noise_scale(net: Network, X: Any, y: Any, chunk: int = CHUNK,
                dtype: Any = None) -> NoiseScale:
    """B_simple, tr Σ and |G|² over all rows of ``X`` (uint8 or floats), exactly, in one
    pass of vectorised backpropagation (products in ``dtype``, default the network's;
    sums in float64).  The cost is the average cost without weight decay."""
    X, y = check_data(net, X, y)
    n = len(X)
    if n < 2:
        raise NudgeError(f"the noise scale needs at least 2 examples, got {n}")
    with single_threaded_blas():              # steadier than two threads on a busy machine
        g = full_gradient(net, X, y, chunk=chunk, dtype=dtype)
    flat = g.flat()
    G2 = float(flat @ flat)
    trace, b = spread(g.mean_example_norm_sq, G2)
    return NoiseScale(n, g.cost, G2, g.mean_example_norm_sq, trace, b, g.seconds, g.dtype)


# --------------------------------------------------------------------------- curvature-weighted
@dataclass
class HessianNoiseScale(_Plain):
    """McCandlish et al.'s B_noise = tr(HΣ) / (Gᵀ H G): the noise scale weighted by the
    curvature H (the Hessian of C), which is B_simple when H is a multiple of the identity.
    tr(HΣ) = mean over x of (gₓ − G)ᵀ H (gₓ − G) is averaged over ``samples`` random examples
    (all ``n`` when ``samples == n``: then exact), with ``trace_standard_error`` its sampling
    error; every H product is exact (the R-operator) over all n examples."""

    n: int
    samples: int
    trace_h_sigma: float
    trace_standard_error: float
    gradient_h_gradient: float
    b_noise: float
    b_noise_standard_error: float
    b_simple: float
    seconds: float


def hessian_noise_scale(net: Network, X: Any, y: Any, samples: int | None = 100,
                        seed: int = 0, dtype: Any = None) -> HessianNoiseScale:
    """B_noise = tr(HΣ)/(GᵀHG) over the rows of ``X``, with tr(HΣ) from ``samples`` examples
    drawn without replacement (None: all of them, exactly); one Hessian-vector product per
    sample (about 0.09 s each over 60,000 MNIST images: ``benchmarks/curvature_speed.py``)."""
    X, y = check_data(net, X, y)
    n = len(X)
    if n < 2:
        raise NudgeError(f"the noise scale needs at least 2 examples, got {n}")
    m = n if samples is None else check_count("samples", samples, most=n)
    seed = fixed_seed(seed)
    started = time.perf_counter()
    y = np.asarray(y)
    with single_threaded_blas():
        g = full_gradient(net, X, y, dtype=dtype)
        G = g.flat()
        H = HessianOperator(net, X, y, dtype=net.dtype if dtype is None else dtype)
        work = _work_net(net, dtype)
        gHg = float(G @ H.matvec(G))
        idx = np.sort(np.random.default_rng(seed).choice(n, m, replace=False))
        q = []
        for s in range(0, m, 64):
            part = idx[s:s + 64]
            nudges = example_nudges(work, X[part], y[part])    # −gₓ, in G's dtype
            for i in range(len(part)):
                d = -nudges.example(i) - G
                q.append(float(d @ H.matvec(d)))
    q_arr = np.array(q)
    trace = float(q_arr.mean())
    # sampling without replacement: the finite-population correction
    se = (float(q_arr.std(ddof=1) / np.sqrt(m) * np.sqrt(1 - m / n)) if m > 1 else math.inf)
    b = trace / gHg if gHg > 0 else math.inf
    b_se = se / gHg if gHg > 0 else math.inf
    return HessianNoiseScale(n, m, trace, se, gHg, b, b_se,
                             spread(g.mean_example_norm_sq, float(G @ G))[1],
                             time.perf_counter() - started)


# --------------------------------------------------------------------------- during training
@dataclass
class TrackedNoise(_Plain):
    """The noise scale after one epoch of training (epoch 0: before the first step)."""

    epoch: int
    cost: float
    b_simple: float
    trace_covariance: float
    gradient_norm_squared: float
    seconds: float


class NoiseTracker:
    """An epoch callback for :func:`nudge.train.train` that records the noise scale over
    the given examples after every epoch: ``train(..., callback=tracker)``; call
    :meth:`start` before training for epoch 0.  ``records`` holds :class:`TrackedNoise`."""

    def __init__(self, X: Any, y: Any) -> None:
        X, y = as_pixels(as_array(X)), as_array(y, "labels")    # as check_data, once
        if X.ndim != 2 or len(y) != len(X):
            raise NudgeError(f"inputs of shape {X.shape} and labels of shape {y.shape}: give "
                             "a row of numbers and a label for each example")
        if len(X) < 2:
            raise NudgeError(f"the noise scale needs at least 2 examples, got {len(X)}")
        self.X, self.y = X, y
        self.records: list[TrackedNoise] = []

    def _record(self, epoch: int, net: Network) -> TrackedNoise:
        ns = noise_scale(net, self.X, self.y)
        rec = TrackedNoise(epoch, ns.cost, ns.b_simple, ns.trace_covariance,
                           ns.gradient_norm_squared, ns.seconds)
        self.records.append(rec)
        return rec

    def start(self, net: Network) -> TrackedNoise:
        """Record epoch 0 (the network before training)."""
        return self._record(0, net)

    def __call__(self, record: Any, net: Network) -> None:
        self._record(int(record.epoch), net)

    def to_dict(self) -> list[dict[str, Any]]:
        """The records as JSON-friendly dicts, one per epoch."""
        return [r.to_dict() for r in self.records]


# --------------------------------------------------------------------------- critical batch
@dataclass
class CriticalBatch(_Plain):
    """The fit of McCandlish et al.'s trade-off (S/S_min − 1)(E/E_min − 1) = 1 to the steps S
    and examples E = B S that batch sizes B needed to reach one cost: S = S_min (1 + B_crit/B),
    E = E_min (1 + B/B_crit), with B_crit = E_min / S_min.  ``rms_log_error`` is the root mean
    square of ln S − ln S_fit."""

    b_crit: float
    s_min: float
    e_min: float
    rms_log_error: float
    batch_sizes: list[int]
    steps: list[float]


def fit_critical_batch(batch_sizes: Sequence[int], steps: Sequence[float]) -> CriticalBatch:
    """Least squares on ln S = ln S_min + ln(1 + B_crit/B) over the measured (B, S) pairs:
    for each B_crit the best ln S_min is the mean residual, so only B_crit is searched
    (on a fine logarithmic grid, then refined)."""
    try:
        B = np.asarray(batch_sizes, dtype=float)
        S = np.asarray(steps, dtype=float)
    except (TypeError, ValueError):
        raise NudgeError("batch sizes and steps must be numbers") from None
    if B.shape != S.shape or B.ndim != 1 or len(B) < 3:
        raise NudgeError("fitting the critical batch size needs at least 3 batch sizes, each "
                         "with its number of steps")
    if not (np.all(np.isfinite(B)) and np.all(np.isfinite(S))) or np.any(B <= 0) or np.any(
            S <= 0):
        raise NudgeError("batch sizes and steps must be positive and finite")
    if B.max() > MAX_COUNT:
        raise NudgeError(f"batch sizes must be at most {MAX_COUNT:,}, got {B.max():g}")
    logS = np.log(S)

    def misfit(log_bc: float) -> tuple[float, float]:
        r = logS - np.log1p(np.exp(log_bc) / B)
        log_smin = float(r.mean())
        return float(np.mean((r - log_smin) ** 2)), log_smin

    grid = np.linspace(math.log(B.min()) - 5, math.log(B.max()) + 5, 801)
    best = grid[int(np.argmin([misfit(g)[0] for g in grid]))]
    step = grid[1] - grid[0]
    lo, hi = best - step, best + step
    for _ in range(60):                      # golden-section refinement
        m1, m2 = lo + 0.382 * (hi - lo), lo + 0.618 * (hi - lo)
        if misfit(m1)[0] < misfit(m2)[0]:
            hi = m2
        else:
            lo = m1
    log_bc = (lo + hi) / 2
    err, log_smin = misfit(log_bc)
    b_crit, s_min = math.exp(log_bc), math.exp(log_smin)
    return CriticalBatch(b_crit, s_min, s_min * b_crit, math.sqrt(err),
                         [int(b) for b in B], [float(s) for s in S])
