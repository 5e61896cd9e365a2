"""Minima: the cost and accuracy along the straight line between two parameter vectors.

θ(t) = (1 − t) θ_A + t θ_B: t = 0 is network A, t = 1 network B, and t outside [0, 1] goes on
past them.  Between two trained networks (two seeds) it asks whether their minima sit in one
valley (the cost stays low all the way) or a ridge separates them (Goodfellow et al. 2015;
Frankle et al. 2020 call the rise the *barrier*).  From a network's initial weights to its
trained ones it shows how straight the way down was: Goodfellow et al. found the cost falls
smoothly and monotonically along that line for many networks.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..bounds import MAX_INTERPOLATION_POINTS
from ..checks import check_data
from ..errors import NudgeError
from ..inputs import as_inputs
from ..network import Network, check_network
from ..train import evaluate
from .common import CHUNK, _Plain
from .parameters import get_parameters, set_parameters

#: the farthest t from 0 (past t = 1000 the cost is that of far-scaled weights, nothing more)
MAX_T = 1000.0


@dataclass
class Interpolation(_Plain):
    """Cost C (average, no weight decay) and accuracy at θ(t) = (1 − t) θ_A + t θ_B for each t in
    ``ts``, over ``n_examples`` examples.  ``barrier`` is the largest rise of the cost above
    the straight line between its two ends, max over 0 ≤ t ≤ 1 of
    C(θ(t)) − ((1 − t) C(θ_A) + t C(θ_B)), at ``barrier_t`` (0 when it never rises above;
    Entezari et al. 2022's loss barrier).  The summary calls it a ridge only where the cost
    also rises above both ends (by more than 5% of the higher): a cost that stays below its
    higher end, falling all the way from A to B say, may still bend above the straight
    line, and then there is one valley, not two."""

    label_a: str
    label_b: str
    n_examples: int
    distance: float               # |θ_B − θ_A|
    ts: np.ndarray
    costs: np.ndarray
    accuracies: np.ndarray
    cost_a: float
    cost_b: float
    accuracy_a: float
    accuracy_b: float
    barrier: float
    barrier_t: float
    monotone_from_a: bool         # the cost never rises from t = 0 to t = 1
    seconds: float
    summary: str


def initial_network(net: Network) -> Network:
    """The network ``net`` started from: the same architecture and initialisation re-created
    from its seed (``Network(sizes, ..., seed=net.seed)``, as ``nudge train`` made it)."""
    if net.seed is None:
        raise NudgeError("this model does not record the seed it was initialised with, so its "
                         "initial weights cannot be re-created")
    return Network(net.sizes, net.activation, net.output, net.cost_function, net.init,
                   seed=net.seed, dtype=net.dtype)


def _check_same(a: Network, b: Network) -> None:
    check_network(a, "net_a", finite=True)
    check_network(b, "net_b", finite=True)
    if a.config != b.config:
        diff = {k: (a.config[k], b.config[k]) for k in a.config if a.config[k] != b.config[k]}
        raise NudgeError("the two networks differ in " + ", ".join(
            f"{k} ({va} vs {vb})" for k, (va, vb) in diff.items())
            + ": a straight line between them needs the same architecture")


def interpolate(net_a: Network, net_b: Network, X: Any, y: Any,
                ts: Sequence[float] | None = None, points: int = 31, start: float = -0.25,
                end: float = 1.25, labels: tuple[str, str] = ("A", "B"),
                chunk: int = CHUNK) -> Interpolation:
    """The cost and accuracy over the rows of ``X`` at ``points`` evenly spaced t from
    ``start`` to ``end`` (0 and 1 always included), or at the given ``ts``."""
    _check_same(net_a, net_b)
    X, y = check_data(net_a, X, y)
    n = len(X)
    if n == 0:
        raise NudgeError("there are no examples to measure the cost on")
    if ts is None:
        if not 2 <= points <= MAX_INTERPOLATION_POINTS:
            raise NudgeError(f"points must be from 2 to {MAX_INTERPOLATION_POINTS:,}, "
                             f"got {points}")
        if not (np.isfinite(start) and np.isfinite(end) and start < end):
            raise NudgeError(f"the line must go from a smaller t to a larger one, got "
                             f"{start} to {end}")
        given = np.linspace(start, end, points)
    else:
        given = np.asarray(ts, dtype=float)
    t_arr = np.unique(np.concatenate([given, [0.0, 1.0]]))
    if not np.all(np.abs(t_arr) <= MAX_T) or len(t_arr) > MAX_INTERPOLATION_POINTS:
        raise NudgeError(f"give at most {MAX_INTERPOLATION_POINTS:,} values of t, each from "
                         f"{-MAX_T:,g} to {MAX_T:,g}")
    started = time.perf_counter()
    theta_a, theta_b = get_parameters(net_a), get_parameters(net_b)
    y = np.asarray(y)
    work = net_a.copy()
    Y = work.desired_outputs(y)
    A = as_inputs(X, work.dtype.type)          # converted once for all the points
    costs, accs = [], []
    for t in t_arr:
        set_parameters(work, (1 - t) * theta_a + t * theta_b)
        cost, accuracy = evaluate(work, A, Y, chunk)
        costs.append(cost)
        accs.append(accuracy)
    costs_arr, accs_arr = np.array(costs), np.array(accs)
    i0, i1 = int(np.searchsorted(t_arr, 0.0)), int(np.searchsorted(t_arr, 1.0))
    inside = slice(i0, i1 + 1)
    ca, cb = float(costs_arr[i0]), float(costs_arr[i1])
    rise = costs_arr[inside] - ((1 - t_arr[inside]) * ca + t_arr[inside] * cb)
    j = int(np.argmax(rise))
    barrier, barrier_t = max(0.0, float(rise[j])), float(t_arr[inside][j])
    monotone = bool(np.all(np.diff(costs_arr[inside]) <= 1e-12 * max(1.0, ca)))
    peak = int(np.argmax(costs_arr[inside]))
    above_ends = float(costs_arr[inside][peak]) - max(ca, cb)   # > 0: higher than both ends
    la, lb = labels
    tolerance = 0.05 * max(ca, cb)                 # rises smaller than 5% are not a ridge
    if barrier > tolerance and above_ends > tolerance:
        summary = (f"a ridge: at t = {float(t_arr[inside][peak]):.2f} the cost reaches "
                   f"{float(costs_arr[inside][peak]):.4g}, {above_ends:.4g} above the higher "
                   f"of {la} ({ca:.4g}) and {lb} ({cb:.4g}), and {barrier:.4g} above the "
                   f"straight line between them at t = {barrier_t:.2f}: along this line the "
                   "two sit in different valleys")
    elif barrier > tolerance:
        highest = ("never rises above the higher end" if above_ends <= 0 else
                   f"rises at most {above_ends:.3g} above the higher end")
        summary = (f"no ridge, but a bend: between {la} ({ca:.4g}) and {lb} ({cb:.4g}) the "
                   f"cost {highest}, yet at t = {barrier_t:.2f} it is {barrier:.4g} above the "
                   "straight line joining them")
    elif barrier <= 1e-12 * max(ca, cb):
        summary = (f"no ridge: between {la} ({ca:.4g}) and {lb} ({cb:.4g}) the cost stays at or "
                   "below the straight line joining them")
    else:
        summary = (f"no ridge: between {la} ({ca:.4g}) and {lb} ({cb:.4g}) the cost never rises "
                   f"more than {barrier:.3g} above the straight line joining them")
    if monotone:
        summary += f"; from {la} to {lb} the cost never rises along the line"
    return Interpolation(la, lb, n, float(np.linalg.norm(theta_b - theta_a)), t_arr, costs_arr,
                         accs_arr, ca, cb, float(accs_arr[i0]), float(accs_arr[i1]), barrier,
                         barrier_t, monotone, time.perf_counter() - started, summary)
