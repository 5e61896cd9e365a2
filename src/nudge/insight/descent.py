"""Descent: full-batch gradient descent and SGD from one start, as paths down the cost
(``nudge descent``, the fourth of the five views of docs/insight)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..bounds import MAX_DESCENT_EPOCHS, MAX_GRID, check_count, check_list, fixed_seed
from ..checks import check_batch_size, check_data
from ..display import duration, times
from ..errors import DivergenceError, NudgeError
from ..inputs import as_inputs
from ..network import Network
from ..train import evaluate, train
from .common import _Plain, single_threaded_blas
from .parameters import get_parameters, set_parameters


def default_learning_rate(batch_size: int | None) -> float:
    """η for :func:`descent` when none is given: 3.0 for mini-batches (``train``'s
    default for plain SGD; on this cost without ½ that is twice the step of Nielsen's
    chapter-1 η = 3.0, whose steps are η = 1.5 here), 4.0 for full-batch gradient descent:
    of η from 2 to 20, the one whose 100 steps (the command's default set-up, seeds 0-4)
    end lowest, tied with 5 (``docs/scripts/descent_rates.py``).  An exact gradient does
    not make larger steps safe: how large a step may be is set by the cost's curvature
    (2/λ_max, about 2.2-3 at these starts), and η = 10 ends higher than η = 3."""
    return 4.0 if batch_size is None else 3.0


MAX_RECORDS = 10_000


@dataclass
class DescentRun(_Plain):
    """One training run: cost (on the monitor examples) at the recorded moments, against
    steps, examples processed and seconds of training (evaluation time not counted).
    ``path`` (left out of ``to_dict()``) holds θ at each recorded moment."""

    label: str
    batch_size: int | None
    learning_rate: float
    steps: list[int]
    examples: list[int]
    seconds: list[float]
    costs: list[float]
    final_train_cost: float
    final_accuracy: float
    path: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((0, 0)))
    projected: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((0, 2)))
    _skip = ("path",)


@dataclass
class Reached(_Plain):
    """When a run first got its monitored cost down to the target (None if never)."""

    label: str
    examples: int | None
    seconds: float | None
    fewer_examples: float | None     # full-batch's examples / this run's
    less_time: float | None          # full-batch's seconds / this run's


@dataclass
class DescentReport(_Plain):
    """Full-batch GD and SGD from one initial network (see :func:`descent`).  ``plane_*``:
    the cost on the plane through the mean visited point spanned by the two main PCA
    directions of all visited points; ``explained`` is their share of the variance."""

    sizes: list[int]
    seed: int
    epochs: int
    n_train: int
    n_monitor: int
    runs: list[DescentRun]
    target_cost: float
    reached: list[Reached]
    explained: list[float]
    plane_u: np.ndarray
    plane_v: np.ndarray
    plane_costs: np.ndarray
    summary: str           # summary_in(): η written "eta", as the command line prints it

    def summary_in(self, eta: str = "eta") -> str:
        """How soon each run reached the target cost, in one sentence; η written as ``eta``
        ("eta" on the command line, "η =" on the page) where a batch size comes again."""
        base = _base(self.runs)
        names = [_name(r, self.runs, eta) for r in self.runs]
        parts = []
        for i, rc in enumerate(self.reached):
            if i == base:
                continue
            if rc.examples is None or rc.seconds is None:         # None together: never
                parts.append(f"{names[i]} never got there")
            elif rc.fewer_examples is not None and rc.less_time is not None:
                parts.append(f"{names[i]} after {rc.examples:,} examples "
                             f"({times(rc.fewer_examples)}) and {duration(rc.seconds)} "
                             f"({times(rc.less_time, 'sooner', 'later', 'about as soon')})")
            else:
                parts.append(f"{names[i]} after {rc.examples:,} examples and "
                             f"{duration(rc.seconds)}")
        first, ex, s = names[base], self.reached[base].examples, self.reached[base].seconds
        assert ex is not None and s is not None          # the target is base's own last cost
        return (f"{first} reached cost {self.target_cost:.4f} after {ex:,} examples and "
                f"{duration(s)} of training; " + "; ".join(parts)) if parts else (
            f"{first} reached cost {self.target_cost:.4f} after {ex:,} examples")


def check_runs(batch_sizes: Sequence[int | None], learning_rates: Sequence[float],
               n: int) -> None:
    """No run is asked for twice (the same batch size at the same η gives the same numbers
    again; on ``n`` training examples, a batch of ``n`` is full-batch GD); a batch size may
    come again with another η."""
    pairs = [(n if B is None else B, float(eta)) for B, eta in zip(batch_sizes, learning_rates)]
    for i, (B, eta) in enumerate(pairs):
        if (B, eta) in pairs[:i]:
            first, again = batch_sizes[pairs.index((B, eta))], batch_sizes[i]
            twice = (f"batch size {'full' if again is None else again} with learning rate "
                     f"{eta:g} is given twice" if first == again else
                     f"batch sizes full and {B} with learning rate {eta:g} are the same run "
                     f"({B} is every training example)")
            raise NudgeError(f"{twice}: give each run once (a batch size may come again "
                             "with another learning rate)")


def _run_descent(net0: Network, X: np.ndarray, y: np.ndarray, batch_size: int | None,
                 eta: float, epochs: int, seed: int, A_mon: np.ndarray, Y_mon: np.ndarray,
                 records: int) -> DescentRun:
    """One run of the trainer (:func:`nudge.train.train`), its cost recorded on the monitor
    examples at about ``records`` moments spaced evenly on a log scale of steps."""
    net = net0.copy()
    n = len(X)
    B = n if batch_size is None else batch_size
    total = -(-n // B) * epochs
    record_at = np.unique(np.round(np.geomspace(1, total, records))).astype(int)
    steps, examples, seconds, costs, path = [], [], [], [], []
    label = "full-batch GD" if batch_size is None else f"SGD, B={batch_size}"
    diverged = (f"{label} diverged (the cost became NaN or infinite) with learning rate "
                f"{eta:g}: give a smaller one")

    def record(step: int, seen: int, clock: float, net: Network) -> None:
        c = evaluate(net, A_mon, Y_mon)[0]
        if not math.isfinite(c):
            raise NudgeError(diverged)
        steps.append(step)
        examples.append(seen)
        seconds.append(clock)
        costs.append(c)
        path.append(get_parameters(net))

    record(0, 0, 0.0, net)
    try:
        train(net, X, y, epochs=epochs, batch_size=B, learning_rate=eta, seed=seed,
              monitor_train_cost=False,
              on_steps=lambda p, net: record(p.step, p.seen, p.seconds, net), every=record_at)
    except DivergenceError:
        raise NudgeError(diverged) from None
    final_cost, acc = evaluate(net, X, y)
    return DescentRun(label, batch_size, eta, steps, examples, seconds, costs, final_cost, acc,
                      np.array(path))


def descent(net0: Network, X: Any, y: Any, batch_sizes: Sequence[int | None] = (None, 100, 10),
            epochs: int = 100, learning_rates: Sequence[float] | None = None, seed: int = 0,
            monitor: int = 2000, records: int = 60, grid: int = 21) -> DescentReport:
    """Train copies of ``net0`` with full-batch GD (batch size None) and SGD, recording the
    cost on ``monitor`` random training examples at up to ``records`` moments per run
    (spaced evenly on a log scale of steps, and before the first step); then
    project the paths on their two main directions and map the cost on that plane."""
    X, y = check_data(net0, X, y)
    seed = fixed_seed(seed)
    n = len(X)
    if n == 0:
        raise NudgeError("there are no training examples")
    epochs = check_count("epochs", epochs, most=MAX_DESCENT_EPOCHS)
    batch_sizes = check_list("batch sizes", batch_sizes)
    monitor = check_count("monitor", monitor)
    records = check_count("records", records, 2, MAX_RECORDS)
    grid = check_count("grid", grid, 3, MAX_GRID)
    for B in batch_sizes:
        check_batch_size(B, n, "training examples", full=True)
    if learning_rates is None:
        learning_rates = [default_learning_rate(B) for B in batch_sizes]
    if len(learning_rates) != len(batch_sizes):
        raise NudgeError(f"{len(learning_rates)} learning rates for {len(batch_sizes)} batch "
                         "sizes: give one, or one per batch size")
    check_runs(batch_sizes, learning_rates, n)
    rng = np.random.default_rng(seed)
    mon = np.sort(rng.choice(n, size=min(monitor, n), replace=False))
    A_mon, Y_mon = as_inputs(X[mon], net0.dtype.type), net0.desired_outputs(y[mon])
    with single_threaded_blas():
        runs = [_run_descent(net0, X, y, B, float(eta), epochs, seed + 1, A_mon, Y_mon, records)
                for B, eta in zip(batch_sizes, learning_rates)]
        dirs, explained, centre = _main_directions(np.concatenate([r.path for r in runs]))
        for r in runs:
            r.projected = (r.path - centre) @ dirs.T
        proj = np.concatenate([r.projected for r in runs])
        lo, hi = proj.min(axis=0), proj.max(axis=0)
        pad = 0.15 * np.maximum(hi - lo, 1e-6)
        u = np.linspace(lo[0] - pad[0], hi[0] + pad[0], grid)
        v = np.linspace(lo[1] - pad[1], hi[1] + pad[1], grid)
        work = net0.copy()
        plane = np.empty((grid, grid))
        for i, vv in enumerate(v):
            for j, uu in enumerate(u):
                set_parameters(work, centre + uu * dirs[0] + vv * dirs[1])
                plane[i, j] = evaluate(work, A_mon, Y_mon)[0]

    # how much sooner: the cost the full-batch run (or else the worst run) ended at
    base = runs[_base(runs)]
    target = max(r.costs[-1] for r in runs) if base.batch_size is not None else base.costs[-1]
    base_ex, base_s = _first_reach(base, target)
    assert base_ex is not None and base_s is not None    # target is base's own last cost
    reached = []
    for r in runs:
        ex, s = _first_reach(r, target)
        reached.append(Reached(_name(r, runs), ex, s,
                               base_ex / ex if ex and base_ex else None,
                               base_s / s if s and base_s else None))
    report = DescentReport(list(net0.sizes), seed, epochs, n, len(mon), runs, target, reached,
                           explained, u, v, plane, "")
    report.summary = report.summary_in()
    return report


def _base(runs: list[DescentRun]) -> int:
    """The run the others are measured against: full-batch GD, else the worst one."""
    return next((i for i, r in enumerate(runs) if r.batch_size is None),
                max(range(len(runs)), key=lambda i: runs[i].costs[-1]))


def _name(run: DescentRun, runs: list[DescentRun], eta: str = "eta") -> str:
    """A run's name; a batch size that comes again is named with its η (``eta``: how η is
    written, "eta" on the command line, "η =" on the page)."""
    again = [r.batch_size for r in runs].count(run.batch_size) > 1
    return f"{run.label} at {eta} {run.learning_rate:g}" if again else run.label


def _main_directions(points: np.ndarray) -> tuple[np.ndarray, list[float], np.ndarray]:
    """PCA of the visited points: the two unit directions along which they spread most,
    their shares of the variance, and the mean point.  Computed from the small
    points x points Gram matrix (its eigenvectors give the same directions as an SVD)."""
    centre = points.mean(axis=0)
    P = points - centre
    eigvals, eigvecs = np.linalg.eigh(P @ P.T)           # ascending
    order = np.argsort(eigvals)[::-1]
    eigvals, eigvecs = np.clip(eigvals[order], 0, None), eigvecs[:, order]
    dirs = np.zeros((2, P.shape[1]))
    for k in range(min(2, len(eigvals))):
        if eigvals[k] > 1e-12 * max(eigvals[0], 1e-300):
            d = eigvecs[:, k] @ P
            dirs[k] = d / np.linalg.norm(d)
    total = float(eigvals.sum())
    explained = [float(eigvals[k] / total) if total > 0 and k < len(eigvals) else 0.0
                 for k in range(2)]
    return dirs, explained, centre


def _first_reach(run: DescentRun, target: float) -> tuple[int | None, float | None]:
    for ex, s, c in zip(run.examples, run.seconds, run.costs):
        if c <= target:
            return ex, s
    return None, None
