"""The average of the nudges is the gradient; a mini-batch only estimates it
(``nudge average``, the third of the five views of docs/insight)."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..bounds import MAX_DRAWS, check_count, check_list, fixed_seed
from ..checks import check_batch_size, check_data
from ..network import Network
from .common import _Plain, single_threaded_blas
from .gradients import Gradient, _work_net, average_of_nudges, full_gradient
from .noise import batch_error, spread
from .parameters import flatten


@dataclass
class BatchEstimate(_Plain):
    """How well the gradient g_B of a random mini-batch of B = ``batch_size`` examples
    estimates the full gradient G = ∇C over all n examples, over ``draws`` random batches:
    cosine(g_B, G) and the relative error ‖g_B − G‖ / ‖G‖ (its mean and its root mean
    square).  ``predicted_relative_error`` is the theory for the root mean square when
    sampling without replacement, √((n − B)/(B (n − 1)) · tr Σ) / ‖G‖ with
    tr Σ = mean ‖∇Cₓ‖² − ‖G‖², the spread of the examples' own gradients
    (:func:`nudge.insight.noise.batch_error`)."""

    batch_size: int
    draws: int
    mean_cosine: float
    min_cosine: float
    mean_relative_error: float
    rms_relative_error: float
    predicted_relative_error: float
    seconds_per_estimate: float


@dataclass
class AverageCheck(_Plain):
    """The mean of ``n_examples`` examples' own nudges against −∇C over the same examples
    (in float64): ``max_difference`` is max |mean nudge + ∂C/∂θ| over all parameters."""

    n_examples: int
    max_difference: float
    max_gradient: float
    seconds: float


def average_check(net: Network, X: Any, y: Any) -> AverageCheck:
    """Form every example's nudges one by one (vectorised in chunks), average them, and
    compare with the full gradient computed by matrix products."""
    X, y = check_data(net, X, y)
    work = net.astype(np.float64)
    t = time.perf_counter()
    avg = average_of_nudges(work, X, y)
    seconds = time.perf_counter() - t
    flat = full_gradient(work, X, y).flat()
    L = len(net.weights)
    diff = float(np.max(np.abs(flatten(avg[:L], avg[L:]) + flat)))
    return AverageCheck(len(X), diff, float(np.max(np.abs(flat))), seconds)


@dataclass
class AverageReport(_Plain):
    """What :func:`minibatch_estimates` found: the full gradient G = ∇C over ``n_examples``
    (its ``cost`` and ‖G‖, computed in ``full_seconds``), the ``check`` that G is the average
    of the examples' own gradients, and one :class:`BatchEstimate` per batch size.  ``note``
    says why the cosines and relative errors are NaN (null in JSON) when ‖G‖ = 0."""

    n_examples: int
    cost: float
    gradient_norm: float
    full_seconds: float
    dtype: str
    check: AverageCheck | None
    estimates: list[BatchEstimate]
    note: str | None = None


def _cosine(u: np.ndarray, v: np.ndarray) -> float:
    nu, nv = np.linalg.norm(u), np.linalg.norm(v)
    return float(u @ v / (nu * nv)) if nu > 0 and nv > 0 else 0.0


def predicted_relative_error(full: Gradient, batch_size: int) -> float:
    """The expected ‖g_B − G‖/‖G‖ (root mean square) for a mini-batch of B examples drawn
    without replacement; NaN when G = 0 (undefined)."""
    if full.norm == 0:
        return math.nan
    return batch_error(full.n_examples, batch_size,
                       spread(full.mean_example_norm_sq, full.norm ** 2)[1])


#: the batch sizes :func:`minibatch_estimates` compares unless told: those up to n
BATCH_SIZES = (1, 10, 100, 1000, 10000)


def minibatch_estimates(net: Network, X: Any, y: Any,
                        batch_sizes: Sequence[int] | None = None,
                        draws: int = 30, seed: int = 0, full: Gradient | None = None,
                        check_examples: int = 2000, dtype: Any = None) -> AverageReport:
    """The full gradient, the check that it is the average of the examples' nudges (on the
    first ``check_examples`` examples; 0 to skip), and for each batch size how well random
    mini-batches estimate the full gradient.  ``batch_sizes``: default those of
    :data:`BATCH_SIZES` (1 to 10,000) that are at most the n examples."""
    X, y = check_data(net, X, y)
    n = len(X)
    batch_sizes = check_list("batch sizes", [B for B in BATCH_SIZES if B <= n]
                             if batch_sizes is None else batch_sizes, distinct=True)
    for B in batch_sizes:
        check_batch_size(B, n)
    draws = check_count("draws", draws, most=MAX_DRAWS)
    seed = fixed_seed(seed)
    check_examples = check_count("check_examples", check_examples, 0)
    work = _work_net(net, dtype)
    g = full if full is not None else full_gradient(work, X, y, dtype=dtype)
    flat = g.flat()
    check = average_check(net, X[:check_examples], y[:check_examples]) if check_examples else None
    rng = np.random.default_rng(seed)
    norm = g.norm
    zero = norm == 0                 # a cosine with G and ‖g_B − G‖/‖G‖ are then undefined
    estimates = []
    for B in batch_sizes:
        cosines, errors, seconds = [], [], 0.0
        with single_threaded_blas():
            for _ in range(draws):
                batch = np.sort(rng.choice(n, size=B, replace=False))
                t = time.perf_counter()
                est = full_gradient(work, X[batch], y[batch], dtype=dtype)
                seconds += time.perf_counter() - t
                e = est.flat()
                cosines.append(math.nan if zero else _cosine(e, flat))
                errors.append(math.nan if zero else float(np.linalg.norm(e - flat) / norm))
        estimates.append(BatchEstimate(int(B), draws, float(np.mean(cosines)),
                                       float(np.min(cosines)), float(np.mean(errors)),
                                       float(np.sqrt(np.mean(np.square(errors)))),
                                       predicted_relative_error(g, int(B)), seconds / draws))
    note = (f"the full gradient G is 0 over these examples (|G| = 0 in {g.dtype}): a "
            "mini-batch's cosine with G and its relative error |g_B - G| / |G| divide by 0, so "
            "they are undefined") if zero else None
    return AverageReport(n, g.cost, g.norm, g.seconds, g.dtype, check, estimates, note)
