"""Full-batch gradient descent at learning rates around 2/λ_max, and the sharpness λ_max along
the way (the edge of stability, Cohen et al. 2021).

Near a point, along the Hessian's top eigenvector the cost is a parabola with second
derivative λ_max, and a gradient step multiplies the distance to its bottom along it by
(1 − η λ_max): the steps shrink it for η < 2/λ_max and overshoot ever further beyond.  But λ_max
changes as the network learns: Cohen et al. found that full-batch gradient descent keeps
raising it ("progressive sharpening") until it reaches 2/η, and then hovers there, the cost
still falling on average though no longer step by step.  :func:`stability` runs the one
trainer (:func:`nudge.train.train`, full batch) from one start at several η and measures the
cost every step and λ_max every few steps (Lanczos, warm-started from the last eigenvector).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..bounds import MAX_STABILITY_STEPS, check_count, check_list
from ..checks import check_data
from ..errors import DivergenceError, NudgeError, short_repr
from ..inputs import as_inputs
from ..network import Network
from ..train import train
from .common import _Plain, single_threaded_blas
from .curvature import HESSIAN_CHUNK, check_tolerance, top_eigenvalues
from .gradients import total_cost
from .hessian import HessianOperator

#: the largest factor of 2/λ_max (at 100 every step overshoots a hundredfold) and η
MAX_FACTOR = 100.0
MAX_LEARNING_RATE = 1e6


@dataclass
class StabilityRun(_Plain):
    """One full-batch run: the cost after each step (``costs[i]`` after ``steps[i]`` steps,
    step 0 = the start) and λ_max at ``sharpness_steps``; ``diverged_at``: the step at which
    the parameters stopped being finite (None if they never did)."""

    label: str
    learning_rate: float
    factor: float               # η / (2/λ_max at the start)
    steps: list[int]
    costs: list[float]
    sharpness_steps: list[int]
    sharpness: list[float]
    diverged_at: int | None

    @property
    def threshold(self) -> float:
        """2/η: the sharpness at which this run's steps stop being stable."""
        return 2 / self.learning_rate

    def what_happened(self) -> str:
        """This run in words, from its own numbers (a run over the limit need not overshoot
        visibly: the network can reach a flatter place first)."""
        start, top, end = self.costs[0], max(self.costs), self.costs[-1]
        threshold, last = self.threshold, self.sharpness[-1]
        said = f"eta {self.learning_rate:.4g} ({self.factor:.2f} x 2/lambda_max): "
        if self.diverged_at is not None:
            return said + (f"the steps overshot and grew until the parameters overflowed at "
                           f"step {self.diverged_at}")
        rose = top > start * (1 + 1e-6)
        said += (f"the cost rose to {top:.4f} (from {start:.4f}) and ended at {end:.4f}"
                 if rose else f"the cost never rose above its start ({start:.4f} -> {end:.4f})")
        if abs(last - threshold) <= 0.1 * threshold:
            return said + (f"; lambda_max ended at {last:.4g}, within 10% of 2/eta = "
                           f"{threshold:.4g}: at the edge of stability")
        where = "below" if last < threshold else "above"
        said += f"; lambda_max ended at {last:.4g}, {where} 2/eta = {threshold:.4g}"
        if self.factor > 1 and last < threshold:
            said += (": the steps overshot until the network reached somewhere flatter, "
                     "where eta is stable" if rose else
                     ": the steps moved the network somewhere flatter, where eta is stable, "
                     "before any overshoot showed")
        return said


@dataclass
class StabilityReport(_Plain):
    """Runs from one start; ``initial_sharpness`` is λ_max there, over the ``n_examples``."""

    sizes: list[int]
    n_examples: int
    initial_cost: float
    initial_sharpness: float
    max_stable_learning_rate: float
    runs: list[StabilityRun]
    seconds: float
    summary: str


def _sharpness(net: Network, X: Any, y: Any, v0: np.ndarray | None, tol: float
               ) -> tuple[float, np.ndarray]:
    H = HessianOperator(net, X, y, chunk=HESSIAN_CHUNK, dtype=net.dtype)
    vals, vecs = top_eigenvalues(H, 1, tol, v0=v0)
    return float(vals[0]), vecs[0]


def _run(net0: Network, X: np.ndarray, y: np.ndarray, A: np.ndarray, eta: float,
         factor: float, steps: int, every: int, tol: float, v_start: np.ndarray) -> StabilityRun:
    net = net0.copy()
    run = StabilityRun(f"eta = {eta:.4g} ({factor:.3g} x 2/lambda_max)", eta, factor, [0],
                       [total_cost(net, A, y)], [], [], None)
    state = {"v": v_start}

    def measure(step: int, net: Network) -> None:
        lam, state["v"] = _sharpness(net, A, y, state["v"], tol)
        run.sharpness_steps.append(step)
        run.sharpness.append(lam)

    def on_steps(p: Any, net: Network) -> bool | None:
        c = total_cost(net, A, y)
        run.steps.append(p.step)
        run.costs.append(c)
        if not math.isfinite(c):
            run.diverged_at = p.step
            return False
        if p.step % every == 0:
            measure(p.step, net)
        return None

    measure(0, net)
    try:                            # full batch: each epoch is one step, so epochs=steps
        train(net, X, y, epochs=steps, batch_size=None, learning_rate=eta, seed=0,
              monitor_train_cost=False, on_steps=on_steps, every=1)
    except DivergenceError:
        run.diverged_at = run.steps[-1] + 1
    return run


def stability(net0: Network, X: Any, y: Any, factors: Sequence[float] = (0.9, 1.1),
              learning_rates: Sequence[float] | None = None, steps: int = 300,
              every: int = 10, tol: float = 1e-3) -> StabilityReport:
    """Full-batch gradient descent from ``net0`` over all rows of ``X`` for ``steps`` steps at
    each learning rate η = factor · 2/λ_max (λ_max at the start), or at the given
    ``learning_rates``; the cost after every step, λ_max every ``every`` steps."""
    X, y = check_data(net0, X, y)
    start = time.perf_counter()
    if len(X) == 0:
        raise NudgeError("there are no training examples")
    steps = check_count("steps", steps, most=MAX_STABILITY_STEPS)
    tol = check_tolerance("tol", tol)
    every = check_count("every", every, most=None)
    given = learning_rates is not None
    values = check_list("learning rates" if given else "factors",
                        learning_rates if given else factors, distinct=True)
    if any(isinstance(v, bool) or not isinstance(v, (int, float, np.floating))
           or not 0 < v <= (MAX_LEARNING_RATE if given else MAX_FACTOR) for v in values):
        raise NudgeError(f"learning rates must be above 0 and at most {MAX_LEARNING_RATE:g}, "
                         f"factors above 0 and at most {MAX_FACTOR:g}, got "
                         f"{short_repr(values)}")
    A = as_inputs(X, net0.dtype.type)
    with single_threaded_blas():
        lam0, v0 = _sharpness(net0, A, y, None, tol)
        if lam0 <= 0:
            raise NudgeError(f"the largest eigenvalue of the Hessian is {lam0:.3g} here: "
                             "there is no curvature limit on the learning rate")
        eta_max = 2 / lam0
        etas = [float(v) for v in values] if given else [f * eta_max for f in values]
        runs = [_run(net0, X, y, A, eta, eta / eta_max, steps, every, tol, v0) for eta in etas]
    parts = []
    for r in runs:
        top = max(r.sharpness)
        fate = (f"its parameters overflowed at step {r.diverged_at}" if r.diverged_at is not None
                else f"cost {r.costs[0]:.4f} -> {r.costs[-1]:.4f}")
        parts.append(f"eta {r.learning_rate:.4g} ({r.factor:.2f} x 2/lambda_max): {fate}; "
                     f"lambda_max from {r.sharpness[0]:.4g} to {r.sharpness[-1]:.4g} "
                     f"(highest {top:.4g}; 2/eta = {r.threshold:.4g})")
    return StabilityReport(list(net0.sizes), len(X), runs[0].costs[0], lam0, eta_max, runs,
                           time.perf_counter() - start, "; ".join(parts))
