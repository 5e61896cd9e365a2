"""How steep is the valley: the Hessian's largest and smallest eigenvalues, its trace, and the
largest learning rate full-batch gradient descent can take.

The Hessian H (second derivatives of the average cost C, without weight decay) is never
formed: :class:`~nudge.insight.hessian.HessianOperator` multiplies by it exactly (the
R-operator), and Lanczos iteration (SciPy's ``eigsh`` on a ``LinearOperator``, as in
PyHessian and hessian-eigenthings) finds its extreme eigenvalues from a few dozen products.

* λ_max, the sharpness: along its eigenvector the cost is a parabola C ≈ C₀ + ½ λ t² (near
  the point).  Gradient descent with step η multiplies that component of the distance to the
  bottom by (1 − η λ) each step, so it is stable only for η < 2/λ_max
  (``max_stable_learning_rate``); beyond it the steps overshoot further each time.
* The smallest eigenvalues: negative ones are directions in which the cost bends *down*: at a
  point where the gradient is also 0 that is a saddle, not a minimum.  They are found as the
  largest eigenvalues of λ_max·I − H, so that the stopping tolerance is relative to λ_max
  (the smallest eigenvalues are tiny, and a tolerance relative to them would need thousands
  of products).  Each is checked by its Rayleigh quotient uᵀHu (a negative one proves that H
  has a negative eigenvalue at least that negative).
* tr H = Σ λᵢ by Hutchinson's estimator: E[vᵀHv] = tr H for random ±1 vectors v.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..bounds import MAX_EIGENVALUES, MAX_HUTCHINSON, check_choice, check_count, fixed_seed
from ..checks import check_data
from ..errors import NudgeError
from ..network import Network
from .common import _Plain, single_threaded_blas
from .hessian import MAX_DENSE_PARAMETERS, HessianOperator

#: chunk of examples for the Hessian products (4,096: the R-passes' arrays stay in cache)
HESSIAN_CHUNK = 4096
#: how :func:`curvature` finds the eigenvalues
METHODS = ("auto", "lanczos", "dense")


@dataclass
class Curvature(_Plain):
    """The curvature of the cost over ``n_examples`` examples at the network's parameters
    (see the module docstring).  ``largest`` is largest first; ``smallest`` smallest first;
    ``smallest_rayleigh`` the quotient uᵀHu of each smallest one's vector (its check);
    ``trace_estimate`` ± ``trace_standard_error`` from ``hutchinson_samples`` random ±1
    vectors.  ``top_vectors`` (left out of ``to_dict()``) are the unit eigenvectors of
    ``largest``, as rows laid out like θ."""

    n_examples: int
    n_parameters: int
    largest: list[float]
    smallest: list[float]
    smallest_rayleigh: list[float]
    trace_estimate: float | None
    trace_standard_error: float | None
    hutchinson_samples: int
    max_stable_learning_rate: float | None
    negative_curvature: bool
    products: int
    seconds: float
    method: str
    dtype: str
    summary: str
    top_vectors: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((0, 0)))
    _skip = ("top_vectors",)

    @property
    def sharpness(self) -> float:
        """λ_max."""
        return self.largest[0]


def _check_counts(n_parameters: int, k: int, smallest: int, hutchinson: int) -> None:
    check_count("k", k, most=None)
    check_count("smallest", smallest, 0, most=None)
    check_count("hutchinson", hutchinson, 0, MAX_HUTCHINSON)
    most = min(MAX_EIGENVALUES, n_parameters - 1)
    for name, value in (("k", k), ("smallest", smallest)):
        if value > most:
            raise NudgeError(f"{name} = {value} eigenvalues is too many: at most {most} for "
                             f"this network of {n_parameters:,} parameters")


def check_tolerance(name: str, value: Any) -> float:
    """A relative tolerance of Lanczos: a number above 0 and below 1."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)) or (
            not 0 < value < 1):
        raise NudgeError(f"{name} must be between 0 and 1, got {value!r}")
    return float(value)


def top_eigenvalues(H: HessianOperator, k: int = 1, tol: float = 1e-4,
                    v0: np.ndarray | None = None, seed: int = 0
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The k largest eigenvalues of H (largest first) and their unit eigenvectors (rows), by
    Lanczos (``eigsh``) with relative tolerance ``tol``, started from ``v0`` (default: a
    random vector from ``seed``).  At most :data:`~nudge.bounds.MAX_EIGENVALUES`, and fewer
    than H's parameters."""
    _check_counts(H.n_parameters, k, 0, 0)
    tol = check_tolerance("tol", tol)
    seed = fixed_seed(seed)
    if v0 is not None and np.shape(v0) != (H.n_parameters,):
        raise NudgeError(f"v0 has shape {np.shape(v0)}; give a vector of the "
                         f"{H.n_parameters:,} parameters, laid out like theta")
    if v0 is None or not np.isfinite(v0).all() or not np.any(v0):
        v0 = np.random.default_rng(seed).standard_normal(H.n_parameters)
    vals, vecs = _largest(H.matvec, H.n_parameters, k, tol, v0, 20, seed, H.dtype)
    order = np.argsort(vals)[::-1]
    return vals[order], vecs[:, order].T


def _largest(matvec: Any, n: int, k: int, tol: float, v0: np.ndarray, ncv: int, seed: int,
             dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    """The k largest eigenvalues of a symmetric operator and their vectors (columns), by
    Lanczos (``eigsh``) from ``v0``.  ARPACK stops with "starting vector is zero" when
    H v0 = 0: a start in H's null space, such as the weight of a dead neuron (``nudge
    stability`` starts each measurement from the last eigenvector, which can become one).
    Then Lanczos starts again from v0 plus a random vector; if H is zero on that too,
    :func:`_exhausted_krylov` gives the exact answer."""
    from scipy.sparse.linalg import ArpackError, ArpackNoConvergence, LinearOperator, eigsh

    op = LinearOperator((n, n), matvec=lambda v: matvec(np.ravel(v)), dtype=np.float64)
    start = v0
    for attempt in range(2):
        try:
            return eigsh(op, k=k, which="LA", tol=tol, v0=start,
                         ncv=min(n, max(2 * k + 1, ncv)))
        except ArpackNoConvergence:
            raise NudgeError("Lanczos iteration did not converge within its iterations: "
                             "try a larger tolerance") from None
        except ArpackError as e:
            if not str(e).startswith("ARPACK error -9:"):   # -9: the starting vector is zero
                raise NudgeError(f"Lanczos iteration failed ({e})") from None
        if attempt == 0:                      # only now: n random numbers per measurement
            start = v0 + float(np.linalg.norm(v0)) / math.sqrt(n) * (
                np.random.default_rng(seed + 3).standard_normal(n))
    return _exhausted_krylov(matvec, n, k, start, 1000 * float(np.finfo(dtype).eps))


#: the most basis vectors :func:`_exhausted_krylov` builds (and at most 100 million numbers)
MAX_KRYLOV_BASIS = 200


def _exhausted_krylov(matvec: Any, n: int, k: int, v0: np.ndarray, rounding: float
                      ) -> tuple[np.ndarray, np.ndarray]:
    """When H is zero on a random vector too, it has only a few non-zero eigenvalues (a
    network whose neurons are all dead or saturated) and maps a small subspace into itself.
    That subspace is exact: grow a block Krylov basis Q from v0 and k random vectors until
    H Q lies in span Q (up to ``rounding``, relative, for the products' precision), and take
    the eigenpairs of QᵀHQ (Rayleigh-Ritz)."""
    rng = np.random.default_rng(0)
    block = np.column_stack([v0, rng.standard_normal((n, k))])
    Q = np.zeros((n, 0))
    HQ = np.zeros((n, 0))
    most = min(n, MAX_KRYLOV_BASIS, max(k + 1, 50_000_000 // n))
    while True:
        scale = float(np.linalg.norm(block, axis=0).max())
        if not math.isfinite(scale):
            raise NudgeError("the Hessian is not finite at these parameters (the network "
                             "has diverged): its eigenvalues are undefined here")
        for _ in range(2):                       # twice: orthogonal to rounding
            block = block - Q @ (Q.T @ block)
        U, s, _ = np.linalg.svd(block, full_matrices=False)
        new = U[:, s > rounding * max(scale, 1e-300)]
        if new.shape[1] == 0:
            break                                # H maps span Q into itself: exact
        if Q.shape[1] + new.shape[1] > most:
            raise NudgeError(f"Lanczos iteration broke down and the Krylov space did not "
                             f"close within {most} vectors: the Hessian's eigenvalues cannot "
                             "be found here")
        Hnew = np.column_stack([matvec(q) for q in new.T])
        Q, HQ, block = np.hstack([Q, new]), np.hstack([HQ, Hnew]), Hnew
    T = Q.T @ HQ
    vals, vecs = np.linalg.eigh((T + T.T) / 2)
    top = np.argsort(vals)[::-1][:k]
    return vals[top], Q @ vecs[:, top]


def _smallest(H: HessianOperator, lam_max: float, k: int, tol: float, seed: int
              ) -> tuple[np.ndarray, np.ndarray]:
    shift = max(lam_max, 1e-300)
    v0 = np.random.default_rng(seed + 1).standard_normal(H.n_parameters)
    vals, vecs = _largest(lambda v: shift * v - H.matvec(v), H.n_parameters, k, tol, v0, 40,
                          seed + 1, H.dtype)
    lam = shift - vals
    order = np.argsort(lam)
    return lam[order], vecs[:, order].T


def hutchinson_trace(H: HessianOperator, samples: int, seed: int = 0) -> tuple[float, float]:
    """tr H ≈ the mean of vᵀHv over ``samples`` random ±1 vectors v (1 to
    :data:`~nudge.bounds.MAX_HUTCHINSON`), and its standard error."""
    samples = check_count("Hutchinson's samples", samples, 1, MAX_HUTCHINSON)
    seed = fixed_seed(seed)
    rng = np.random.default_rng(seed + 2)
    q = np.array([v @ H.matvec(v) for v in
                  (rng.integers(0, 2, H.n_parameters) * 2.0 - 1 for _ in range(samples))])
    se = float(q.std(ddof=1) / math.sqrt(samples)) if samples > 1 else math.nan
    return float(q.mean()), se


def curvature(net: Network, X: Any, y: Any, k: int = 5, smallest: int = 1,
              hutchinson: int = 10, seed: int = 0, tol: float = 1e-4,
              tol_smallest: float = 1e-3, dtype: Any = None, method: str = "auto",
              chunk: int = HESSIAN_CHUNK) -> Curvature:
    """The ``k`` largest and ``smallest`` smallest eigenvalues of the Hessian of the average
    cost over the rows of ``X`` (no weight decay), Hutchinson's estimate of its trace from
    ``hutchinson`` samples (0: none), and 2/λ_max.

    ``method``: ``"lanczos"`` (SciPy's ``eigsh`` on the R-operator, relative tolerance
    ``tol`` for the largest, ``tol_smallest`` times λ_max for the smallest: each of those
    is then checked by its Rayleigh quotient uᵀHu, an upper bound of λ_min),
    ``"dense"`` (the whole Hessian, then ``numpy.linalg.eigh``; small networks only) or
    ``"auto"`` (dense up to 400 parameters).  Products in ``dtype`` (default: the network's;
    float32 is 2.3-2.5x as fast as float64, ``benchmarks/curvature_speed.py``, and plenty for
    eigenvalues), sums in float64."""
    X, y = check_data(net, X, y)
    _check_counts(net.n_parameters, k, smallest, hutchinson)
    seed = fixed_seed(seed)
    check_choice("method", method, METHODS)
    tol, tol_smallest = check_tolerance("tol", tol), check_tolerance("tol_smallest",
                                                                        tol_smallest)
    if method == "auto":
        method = "dense" if net.n_parameters <= 400 else "lanczos"
    if method == "dense" and net.n_parameters > MAX_DENSE_PARAMETERS:
        raise NudgeError(f"a dense Hessian of {net.n_parameters:,} parameters is too big; "
                         "use method lanczos")
    # one BLAS thread: the products are tall and thin, and on a busy machine two threads
    # that wait for each other made a product 1.05-1.8x slower
    # (benchmarks/curvature_speed.py --busy 2)
    with single_threaded_blas():
        return _curvature(net, X, y, k, smallest, hutchinson, seed, tol, tol_smallest, dtype,
                          method, chunk)


def _curvature(net: Network, X: Any, y: Any, k: int, smallest: int, hutchinson: int, seed: int,
               tol: float, tol_smallest: float, dtype: Any, method: str, chunk: int
               ) -> Curvature:
    start = time.perf_counter()
    H = HessianOperator(net, X, y, chunk=chunk, dtype=net.dtype if dtype is None else dtype)
    if method == "dense":
        M = H @ np.eye(net.n_parameters)
        vals, vecs = np.linalg.eigh((M + M.T) / 2)
        top, top_vecs = vals[::-1][:k], vecs[:, ::-1][:, :k].T
        low, low_vecs = vals[:smallest], vecs[:, :smallest].T
    else:
        top, top_vecs = top_eigenvalues(H, k, tol, seed=seed)
        low, low_vecs = (_smallest(H, float(top[0]), smallest, tol_smallest, seed) if smallest
                         else (np.zeros(0), np.zeros((0, net.n_parameters))))
    rayleigh = [float(u @ H.matvec(u)) for u in low_vecs]
    trace, trace_se = hutchinson_trace(H, hutchinson, seed) if hutchinson else (None, None)
    flat = _flat(float(top[0]), low, rayleigh, H.dtype)
    if flat:
        # every eigenvalue lies between the smallest and the largest, so each one is below
        # the smallest normal number too, as is each u^T H u, and the trace (a sum of
        # n_parameters of them) below n_parameters times it: the residue of Lanczos' shift,
        # not a product of the dtype; they are 0
        top, low, rayleigh = np.zeros(len(top)), np.zeros(len(low)), [0.0] * len(rayleigh)
        if trace is not None and abs(trace) < net.n_parameters * np.finfo(H.dtype).tiny:
            trace, trace_se = 0.0, (None if trace_se is None or math.isnan(trace_se) else 0.0)
    lam_max = float(top[0])
    eta_max = 2 / lam_max if lam_max > 0 else None
    # negative curvature counts when it is beyond rounding: 100 units of the products'
    # precision, relative to λ_max (1.2e-5 λ_max in float32, 2.2e-14 λ_max in float64)
    rounding = 100 * float(np.finfo(H.dtype).eps) * abs(lam_max)
    negative = bool(len(low) and min(rayleigh) < -rounding)
    seconds = time.perf_counter() - start
    summary = _summary(lam_max, eta_max, low, rayleigh, negative, rounding, str(H.dtype), flat)
    return Curvature(len(X), net.n_parameters, [float(v) for v in top],
                     [float(v) for v in low], rayleigh, trace,
                     None if trace_se is None or math.isnan(trace_se) else trace_se,
                     hutchinson, eta_max, negative, H.products, seconds, method,
                     str(H.dtype), summary, np.asarray(top_vecs))


def _flat(lam_max: float, low: np.ndarray, rayleigh: list[float], dtype: Any) -> bool:
    """The largest and the smallest eigenvalue both 0, but for less than the dtype's smallest
    normal number (no product of the dtype makes one: the residue of Lanczos' shift, such
    as -1.7e-316): H = 0, the cost flat to the dtype's precision."""
    return bool(len(low)) and max(abs(lam_max), abs(float(low[0])), abs(rayleigh[0])) < (
        np.finfo(dtype).tiny)


def _summary(lam_max: float, eta_max: float | None, low: np.ndarray, rayleigh: list[float],
             negative: bool, rounding: float, dtype: str, flat: bool) -> str:
    if flat:
        return (f"every eigenvalue is 0 (the largest and the smallest both are): the cost is "
                f"flat here to {dtype} precision, so neither a bowl nor a saddle can be told "
                "from its curvature (as where every neuron is saturated or dead)")
    parts = []
    if eta_max is not None:
        parts.append(f"the sharpest direction curves the cost with second derivative "
                     f"lambda_max = {lam_max:.4g}: full-batch gradient descent is stable for "
                     f"learning rates below 2/lambda_max = {eta_max:.4g}; above it, steps along "
                     "that direction overshoot further each time (oscillate and grow)")
    else:
        parts.append(f"the largest eigenvalue is {lam_max:.4g} (not positive): the cost curves "
                     "down or not at all in every direction")
    if len(low):
        ratio = f"{low[0] / lam_max:.2g} of lambda_max" if lam_max else ""
        if negative:
            parts.append(f"the smallest eigenvalue is {low[0]:.3g} ({ratio}; checked: u^T H u "
                         f"= {rayleigh[0]:.3g} for its vector u): along that direction the cost "
                         "curves down, so this is not the bottom of a bowl; where the gradient "
                         "is also 0 that makes it a saddle, not a minimum")
        elif low[0] < 0:
            parts.append(f"the smallest eigenvalue is {low[0]:.3g} ({ratio}), within the "
                         f"rounding of {dtype} products (+-{rounding:.1g}): some directions "
                         "are flat to this precision, none measurably curves down"
                         + (" (--float64 to look closer)" if dtype == "float32" else ""))
        else:
            parts.append(f"the smallest eigenvalue is {low[0]:.3g}: no direction curves down, "
                         "so locally this is a bowl (convex)")
    return "; ".join(parts)
