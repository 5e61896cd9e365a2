"""The landscape: 1-D and 2-D slices of the cost around the current parameters
(``nudge landscape``, the fifth of the five views of docs/insight).

Two kinds of directions (``directions=``):

* ``"gradient"``: d = −∇C/|∇C| (downhill) and a random unit direction r made orthogonal
  to d.  Distances are plain lengths in parameter space.  Because r ⟂ ∇C, the cost's slope
  along r at the model is 0 *by construction*: the random line is flat at 0 because it
  was chosen so, and any bending is curvature, rᵀHr.
* ``"filter"``: two random Gaussian directions, each *filter-normalised* (Li et al. 2018,
  "Visualizing the Loss Landscape of Neural Nets"): the part of a direction that belongs to
  each neuron's incoming weights (a "filter") is rescaled to the length of those weights,
  and the biases' part is set to 0 (their ``ignore='biasbn'``).  A step of t then changes
  every neuron's weights by the fraction t of their own size, so networks whose weights
  have different scales can be compared.  These directions are not orthogonal to the
  gradient: the slope along them is ∇C·d, reported next to the measured one.

The cost is the average cost C over the examples, *without* weight decay unless
``weight_decay`` λ is given, which adds (λ/2) Σ w² over the weights (not the biases), as
the trainer does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..bounds import (
    DIRECTIONS,
    MAX_GRID,
    MAX_LANDSCAPE_POINTS,
    MAX_SPAN,
    check_choice,
    check_count,
    fixed_seed,
    positive_float,
)
from ..checks import check_data
from ..errors import NudgeError
from ..inputs import as_inputs
from ..network import Network
from ..optimizers import check_weight_decay
from .common import _Plain
from .gradients import _work_net, full_gradient, total_cost
from .parameters import flatten, get_parameters, set_parameters, unflatten


@dataclass
class Landscape(_Plain):
    """The cost around θ along two directions d₁, d₂ (``labels``; see the module docstring):
    ``cost_along[k][i]`` at θ + ``offsets[i]`` dₖ, and on the plane θ + u d₁ + v d₂
    (``plane_costs[i, j]`` at u = ``grid[j]``, v = ``grid[i]``).  ``slopes`` are the measured
    slopes at 0 along each (central differences), ``predicted_slopes`` ∇C·dₖ (with the
    weight decay term when there is one).  ``norms`` are |dₖ| (1 for the gradient kind)."""

    directions: str
    labels: list[str]
    n_examples: int
    cost: float
    gradient_norm: float
    weight_decay: float
    offsets: np.ndarray
    cost_along: list[np.ndarray]
    norms: list[float]
    grid: np.ndarray
    plane_costs: np.ndarray
    slopes: list[float]
    predicted_slopes: list[float]
    best_offset: float            # where along d₁ the cost is lowest
    best_cost: float

    # short names for the gradient kind's two lines (d₁ downhill, d₂ random), read by the
    # tutorial notebook and users' code
    @property
    def cost_downhill(self) -> np.ndarray:
        """``cost_along[0]``: the cost along d₁ (−∇C for the gradient kind)."""
        return self.cost_along[0]

    @property
    def cost_random(self) -> np.ndarray:
        """``cost_along[1]``: the cost along d₂ (a random direction, ⟂ ∇C for the gradient
        kind)."""
        return self.cost_along[1]

    @property
    def slope_downhill(self) -> float:
        """``slopes[0]``: the measured slope of the cost at 0 along d₁ (about −‖∇C‖ for the
        gradient kind, whose d₁ is the unit vector −∇C/‖∇C‖)."""
        return self.slopes[0]


#: the default span of each kind of directions (a distance; a fraction of the weights)
DEFAULT_SPAN = {"gradient": 3.0, "filter": 1.0}


def filter_normalized_direction(net: Network, rng: np.random.Generator) -> np.ndarray:
    """A random Gaussian direction laid out like θ with each neuron's incoming weights scaled
    to the norm of that neuron's weights in ``net`` and the biases' part 0 (Li et al. 2018)."""
    weights, biases = [], []
    for W, b in zip(net.weights, net.biases):
        D = rng.standard_normal(W.shape)
        rows = np.linalg.norm(D, axis=1, keepdims=True)
        D *= np.linalg.norm(W.astype(np.float64), axis=1, keepdims=True) / np.where(
            rows > 0, rows, 1.0)
        weights.append(D)
        biases.append(np.zeros(b.shape))
    return flatten(weights, biases)


def _decay_term(net: Network, theta: np.ndarray, weight_decay: float) -> float:
    if not weight_decay:
        return 0.0
    weights, _ = unflatten(net, theta)
    return 0.5 * weight_decay * float(sum(np.sum(W.astype(np.float64) ** 2) for W in weights))


def landscape(net: Network, X: Any, y: Any, span: float | None = None, points: int = 41,
              grid: int = 21, seed: int = 0, dtype: Any = np.float32,
              directions: str = "gradient", weight_decay: float = 0.0) -> Landscape:
    """Slices of the cost through the current parameters, 1-D and 2-D, along ``directions``
    ``"gradient"`` (default ``span`` 3, a distance) or ``"filter"`` (default ``span`` 1, a
    fraction of each neuron's weights)."""
    X, y = check_data(net, X, y)
    check_choice("directions", directions, DIRECTIONS)
    if span is None:
        span = DEFAULT_SPAN[directions]
    span = positive_float("span", span)
    if span > MAX_SPAN:
        raise NudgeError(f"span must be a number above 0 and at most {MAX_SPAN:,g}, got "
                         f"{span:g}")
    seed = fixed_seed(seed)
    points = check_count("points", points, 3, MAX_LANDSCAPE_POINTS)
    grid = check_count("grid", grid, 3, MAX_GRID)
    weight_decay = check_weight_decay(weight_decay)
    work = _work_net(net, dtype).copy()
    y = np.asarray(y)
    A = as_inputs(X, work.dtype.type)
    g = full_gradient(net, X, y)
    theta = get_parameters(work)
    flat = g.flat()
    if weight_decay:                      # ∇ of (λ/2) Σ w² is λ w on the weights
        wd = flatten([weight_decay * W.astype(np.float64) for W in net.weights],
                     [np.zeros(b.shape) for b in net.biases])
        flat = flat + wd
    norm = float(np.linalg.norm(flat))
    rng = np.random.default_rng(seed)
    if directions == "gradient":
        if norm == 0:
            raise NudgeError("the gradient is exactly 0 here: there is no downhill direction")
        d1 = -flat / norm
        d2 = rng.standard_normal(flat.size)
        d2 -= (d2 @ d1) * d1
        d2 /= np.linalg.norm(d2)
        what = "grad (C + decay)" if weight_decay else "grad C"      # the cost it descends
        labels = [f"along -{what} (downhill)", f"along a random direction orthogonal to {what}"]
    else:
        d1 = filter_normalized_direction(net, rng)
        d2 = filter_normalized_direction(net, rng)
        labels = ["along filter-normalised random direction 1",
                  "along filter-normalised random direction 2"]

    def cost_at(offset: np.ndarray) -> float:
        set_parameters(work, theta + offset)
        return total_cost(work, A, y) + _decay_term(work, theta + offset, weight_decay)

    offsets = np.linspace(-span, span, points)
    along = [np.array([cost_at(t * d) for t in offsets]) for d in (d1, d2)]
    gvals = np.linspace(-span, span, grid)
    plane = np.array([[cost_at(u * d1 + v * d2) for u in gvals] for v in gvals])
    # the slopes' central differences take a step of the directions' own scale, whatever
    # the span drawn: 1e-3 of the span made them rounding at a small span, a chord at a wide one
    h = 1e-3 * DEFAULT_SPAN[directions]
    slopes = [(cost_at(h * d) - cost_at(-h * d)) / (2 * h) for d in (d1, d2)]
    set_parameters(work, theta)
    best = int(np.argmin(along[0]))
    return Landscape(directions, labels, g.n_examples,
                     g.cost + _decay_term(net, theta, weight_decay), norm, float(weight_decay),
                     offsets, along, [float(np.linalg.norm(d)) for d in (d1, d2)], gvals, plane,
                     [float(s) for s in slopes], [float(flat @ d) for d in (d1, d2)],
                     float(offsets[best]), float(along[0][best]))
