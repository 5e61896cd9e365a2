"""5. The landscape: 1-D and 2-D slices of the cost around the current parameters."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import NudgeError
from ..network import Network, as_inputs
from .common import _Plain
from .gradients import _work_net, full_gradient, total_cost
from .parameters import get_parameters, set_parameters


@dataclass
class Landscape(_Plain):
    """The cost around θ: along the downhill direction d = −∇C/‖∇C‖ and a random unit
    direction r ⟂ d (``offsets`` are distances in parameter space), and on the plane
    θ + u d + v r (``plane_costs[i, j]`` at u = ``grid[j]``, v = ``grid[i]``)."""

    n_examples: int
    cost: float
    gradient_norm: float
    offsets: np.ndarray
    cost_downhill: np.ndarray
    cost_random: np.ndarray
    grid: np.ndarray
    plane_costs: np.ndarray
    best_offset: float            # where along the downhill line the cost is lowest
    best_cost: float
    slope_downhill: float         # measured slope at 0 along d (theory: −‖∇C‖)


def landscape(net: Network, X: Any, y: Any, span: float = 3.0, points: int = 41,
              grid: int = 21, seed: int = 0, dtype: Any = np.float32) -> Landscape:
    """Slices of the cost through the current parameters, 1-D and 2-D."""
    if not span > 0 or not math.isfinite(span):
        raise NudgeError(f"span must be a number above 0, got {span}")
    if points < 3 or grid < 3:
        raise NudgeError("use at least 3 points per line and a grid of at least 3")
    work = _work_net(net, dtype).copy()
    y = np.asarray(y)
    A = as_inputs(X, work.dtype.type)
    g = full_gradient(net, X, y)
    flat = g.flat()
    norm = float(np.linalg.norm(flat))
    if norm == 0:
        raise NudgeError("the gradient is exactly 0 here: there is no downhill direction")
    d = -flat / norm
    r = np.random.default_rng(seed).standard_normal(flat.size)
    r -= (r @ d) * d
    r /= np.linalg.norm(r)
    theta = get_parameters(work)

    def cost_at(offset: np.ndarray) -> float:
        set_parameters(work, theta + offset)
        return total_cost(work, A, y)

    offsets = np.linspace(-span, span, points)
    down = np.array([cost_at(t * d) for t in offsets])
    rand = np.array([cost_at(t * r) for t in offsets])
    gvals = np.linspace(-span, span, grid)
    plane = np.array([[cost_at(u * d + v * r) for u in gvals] for v in gvals])
    h = 1e-3 * span
    slope = (cost_at(h * d) - cost_at(-h * d)) / (2 * h)
    set_parameters(work, theta)
    best = int(np.argmin(down))
    return Landscape(g.n_examples, g.cost, norm, offsets, down, rand, gvals, plane,
                     float(offsets[best]), float(down[best]), float(slope))
