"""The gradient as sensitivity: which weights and biases the cost is most sensitive to
(``nudge sensitivity``, the first of the five views of docs/insight)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..bounds import SPLITS, check_choice, check_count
from ..errors import NudgeError
from ..network import Network, check_network
from .common import _Plain
from .gradients import Gradient, full_gradient, total_cost
from .parameters import get_parameters, locate, parse_parameter, set_parameters


@dataclass
class RankedParameter(_Plain):
    """A parameter with its gradient component.  ``direction`` is the way gradient descent
    nudges it ("increase" when ∂C/∂θ < 0); ``rank`` 1 is the most sensitive."""

    rank: int
    index: int
    name: str
    layer: int
    kind: str
    gradient: float
    sensitivity: float
    direction: str


@dataclass
class LayerSensitivity(_Plain):
    """The gradient of one layer's weights or biases in summary."""

    layer: int
    kind: str
    count: int
    norm: float
    mean_abs: float
    max_abs: float
    share_of_squared: float       # this block's share of ‖∇C‖² (NaN when ‖∇C‖ = 0: 0/0)


@dataclass
class Sensitivity(_Plain):
    """The gradient read as sensitivities (see :func:`sensitivity`).  ``gradient`` (flat,
    like θ) and ``order`` (parameter indices, most sensitive first) are left out of
    ``to_dict()``; ``top`` and ``bottom`` hold the k most and least sensitive."""

    n_examples: int
    split: str
    cost: float
    gradient_norm: float
    seconds: float
    dtype: str
    n_parameters: int
    top: list[RankedParameter]
    bottom: list[RankedParameter]
    top_percent_share: float      # share of ‖∇C‖² held by the top 1% of parameters (NaN
    #                               when ‖∇C‖ = 0: 0/0, undefined)
    zero_count: int               # parameters whose gradient is exactly 0
    layers: list[LayerSensitivity]
    gradient: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    order: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, dtype=np.int64))
    _skip = ("gradient", "order")


def sensitivity_order(gradient_flat: np.ndarray) -> np.ndarray:
    """Parameter indices sorted by |∂C/∂θ|, largest first (ties: lower index first)."""
    return np.argsort(-np.abs(gradient_flat), kind="stable")


def ranked(net: Network, gradient_flat: np.ndarray, index: int, rank: int,
           image_shape: tuple[int, int] | None = None) -> RankedParameter:
    """Parameter ``index`` (its place in θ) as a row of a ranking: its name, ∂C/∂θ from
    ``gradient_flat``, |∂C/∂θ|, the way a step of gradient descent moves it, and ``rank``."""
    p = locate(net, index, image_shape)
    g = float(gradient_flat[index])
    return RankedParameter(rank, p.index, p.name, p.layer, p.kind, g, abs(g),
                           "increase" if g < 0 else "decrease" if g > 0 else "stay")


def sensitivity(net: Network, X: Any, y: Any, k: int = 10, split: str = "train",
                image_shape: tuple[int, int] | None = None, dtype: Any = None,
                gradient: Gradient | None = None) -> Sensitivity:
    """Rank every weight and bias by how sensitive the cost over ``X`` is to it, |∂C/∂θ|.
    ``gradient``: that cost's :func:`full_gradient`, when already computed (then it is
    used as it is, and ``X``, ``y`` and ``dtype`` are not read).  ``split``: where ``X``
    comes from, ``"train"`` or ``"test"``."""
    split = check_choice("split", split, SPLITS)
    g = gradient if gradient is not None else full_gradient(net, X, y, dtype=dtype)
    flat = g.flat()
    order = sensitivity_order(flat)
    P = flat.size
    k = min(check_count("k", k, 0), P)
    sq = flat ** 2
    total_sq = float(sq.sum())
    n_top = max(1, math.ceil(P / 100))
    layers = []
    for l, (gW, gb) in enumerate(zip(g.weights, g.biases), start=1):
        for kind, arr in (("weights", gW), ("biases", gb)):
            layers.append(LayerSensitivity(
                l, kind, int(arr.size), float(np.linalg.norm(arr)), float(np.abs(arr).mean()),
                float(np.abs(arr).max()),
                float((arr ** 2).sum() / total_sq) if total_sq > 0 else math.nan))
    return Sensitivity(
        n_examples=g.n_examples, split=split, cost=g.cost, gradient_norm=math.sqrt(total_sq),
        seconds=g.seconds, dtype=g.dtype, n_parameters=P,
        top=[ranked(net, flat, int(i), r + 1, image_shape) for r, i in enumerate(order[:k])],
        bottom=[ranked(net, flat, int(order[P - k + r]), P - k + r + 1, image_shape)
                for r in range(k)],
        top_percent_share=(float(sq[order[:n_top]].sum() / total_sq) if total_sq > 0
                           else math.nan),
        zero_count=int(np.count_nonzero(flat == 0)), layers=layers, gradient=flat, order=order)


@dataclass
class Comparison(_Plain):
    """How much more sensitive the cost is to ``a`` than to ``b``: ratio = |∂C/∂a| / |∂C/∂b|."""

    a: RankedParameter
    b: RankedParameter
    ratio: float
    text: str


def compare(net: Network, sens: Sensitivity, a: str, b: str,
            image_shape: tuple[int, int] | None = None) -> Comparison:
    """Compare two parameters (names or short forms, see :func:`parse_parameter`): the
    ratio |∂C/∂a| / |∂C/∂b| (infinite where only b's gradient is 0, NaN where both are)."""
    if sens.gradient.size != net.n_parameters:
        raise NudgeError(f"the sensitivity is of a network of {sens.gradient.size:,} "
                         f"parameters, not of this one ({net.n_parameters:,}): compare with "
                         "the network it was computed for")
    pa, pb = parse_parameter(net, a, image_shape), parse_parameter(net, b, image_shape)
    rank_of = np.empty(sens.order.size, dtype=np.int64)
    rank_of[sens.order] = np.arange(1, sens.order.size + 1)
    ra = ranked(net, sens.gradient, pa.index, int(rank_of[pa.index]), image_shape)
    rb = ranked(net, sens.gradient, pb.index, int(rank_of[pb.index]), image_shape)
    if rb.sensitivity == 0:
        ratio = math.nan if ra.sensitivity == 0 else math.inf
    else:
        ratio = ra.sensitivity / rb.sensitivity
    if ra.sensitivity == 0 and rb.sensitivity == 0:
        text = (f"the cost does not change at all with {ra.name} nor with {rb.name} (both "
                "gradients are 0)")
    elif ra.sensitivity == 0 or rb.sensitivity == 0:
        zero, other = (ra, rb) if ra.sensitivity == 0 else (rb, ra)
        text = (f"the cost does not change at all with {zero.name} (its gradient is 0), "
                f"but does with {other.name}")
    elif ratio >= 1:
        text = f"the cost is {ratio:.1f}x more sensitive to {ra.name} than to {rb.name}"
    else:
        text = f"the cost is {1 / ratio:.1f}x less sensitive to {ra.name} than to {rb.name}"
    return Comparison(ra, rb, ratio, text)


@dataclass
class LinearCheckRow(_Plain):
    """One step Δθ = −η ∇C: the change predicted by the gradient, ∇C·Δθ = −η‖∇C‖², next
    to the actual change C(θ + Δθ) − C(θ); ``relative_error`` = |error / predicted|, NaN
    (null in JSON) when both changes are 0 (the gradient is 0: 0/0 is undefined)."""

    learning_rate: float
    step_length: float
    predicted_change: float
    actual_change: float
    error: float
    relative_error: float


#: the largest step of :func:`linear_check` (the first-order prediction is for small ones)
MAX_CHECK_STEP = 1000.0


def linear_check(net: Network, X: Any, y: Any, gradient: Gradient | None = None,
                 learning_rates: Sequence[float] = (1.0, 0.1, 0.01)) -> list[LinearCheckRow]:
    """Take small steps against the gradient and compare ∇C·Δθ with the real cost change.

    Runs in float64.  The error is second order: it shrinks like η² (10x smaller η,
    about 100x smaller error) until float64 rounding, ~1e-16 · C, is reached.  Each η is
    above 0 and at most :data:`MAX_CHECK_STEP`."""
    for eta in learning_rates:
        if not 0 < float(eta) <= MAX_CHECK_STEP:
            raise NudgeError(f"the check's learning rates must be above 0 and at most "
                             f"{MAX_CHECK_STEP:,g} (a linear prediction is for small steps), "
                             f"got {eta}")
    work = check_network(net).astype(np.float64)
    if gradient is None or gradient.dtype != "float64":
        gradient = full_gradient(work, X, y)
    g = gradient
    theta, flat = get_parameters(work), g.flat()
    c0 = total_cost(work, X, y)
    rows = []
    for eta in learning_rates:
        step = -float(eta) * flat
        predicted = float(flat @ step)
        set_parameters(work, theta + step)
        actual = total_cost(work, X, y) - c0
        err = actual - predicted
        rows.append(LinearCheckRow(float(eta), float(np.linalg.norm(step)), predicted, actual,
                                   err, abs(err / predicted) if predicted
                                   else math.inf if err else math.nan))
    set_parameters(work, theta)
    return rows
