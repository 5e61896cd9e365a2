"""How a step uses the gradient g = ∂C/∂θ: the one place where θ moves.

::

    sgd       θ ← θ − η g                                   (the default)
    momentum  v ← μ v − η g;  θ ← θ + v
    adam      m ← β₁m + (1−β₁)g;  s ← β₂s + (1−β₂)g²;  θ ← θ − η m̂ / (√ŝ + ε)

``weight_decay`` λ adds (λ/2) Σ w² to the cost (L2), i.e. λ w to each weight's
gradient; biases are not decayed.  The compiled engine (``nudge.engine``) does
the same arithmetic in C and is tested against these.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .bounds import check_choice, positive_float
from .errors import NudgeError, short_repr

OPTIMIZERS = ("sgd", "momentum", "adam")
#: η when none is given and no preset gives one (momentum's follows from SGD's:
#: :func:`default_learning_rate`)
DEFAULT_LEARNING_RATES = {"sgd": 3.0, "adam": 0.003}
#: the momentum optimiser's μ unless one is given
DEFAULT_MOMENTUM = 0.9
#: the largest weight decay λ (1e-4 is usual; at λ = 1 the decay alone pulls every weight
#: by η w each step)
MAX_WEIGHT_DECAY = 1.0


def check_weight_decay(weight_decay: Any, name: str = "weight decay") -> float:
    """λ checked: a finite number from 0 to :data:`MAX_WEIGHT_DECAY` (``name``: the option
    as the caller's users write it, e.g. ``--weight-decay``)."""
    try:
        value = float(weight_decay)
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(weight_decay, bool) or not 0 <= value <= MAX_WEIGHT_DECAY:
        raise NudgeError(f"{name} must be a number from 0 to {MAX_WEIGHT_DECAY:g} (1e-4 "
                         f"is usual), got {weight_decay!r}")
    return value


def default_learning_rate(optimizer: str, sgd_learning_rate: float = DEFAULT_LEARNING_RATES["sgd"],
                          momentum: float = DEFAULT_MOMENTUM) -> float:
    """η when none is given, for an SGD step of ``sgd_learning_rate`` (a preset's, else
    3.0).  Momentum: ``sgd_learning_rate`` × (1 − μ).  Under a steady gradient g its
    velocity grows to −η g/(1 − μ), so this takes SGD's step, not 1/(1 − μ) times it (a
    fixed 0.5 with μ = 0.9 was 5 times the 3b1b preset's step: the nielsen preset reached
    76-83% in 10 epochs against 96% for SGD).  Adam: 0.003 (its step is about η for each
    parameter, whatever the gradient's size)."""
    if optimizer == "momentum":       # 10 digits: 0.1, not 1.0 × (1 − 0.9) = 0.09999999999999998
        return float(f"{sgd_learning_rate * (1.0 - momentum):.10g}")
    return sgd_learning_rate if optimizer == "sgd" else DEFAULT_LEARNING_RATES[optimizer]


def check_momentum(momentum: Any, name: str = "momentum") -> float:
    """μ checked: a number from 0 to below 1 (``name``: the option as the caller's users
    write it, e.g. ``--momentum``)."""
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float, np.number)) or not (
            0 <= momentum < 1):
        raise NudgeError(f"{name} must be a number of at least 0 and below 1 "
                         f"({DEFAULT_MOMENTUM} is usual), got {short_repr(momentum)}")
    return float(momentum)


class SGD:
    """θ ← θ − η (g + λθ)   (λθ only for weights, only when weight_decay > 0)."""

    def __init__(self, learning_rate: float, weight_decay: float = 0.0) -> None:
        self.learning_rate = positive_float("learning rate", learning_rate)
        self.weight_decay = check_weight_decay(weight_decay)

    def step(self, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray],
             grad_w: Sequence[np.ndarray], grad_b: Sequence[np.ndarray]) -> None:
        """One step for every parameter (in place); weights get the decay term λθ."""
        if self.weight_decay:
            grad_w = [g + self.weight_decay * W for g, W in zip(grad_w, weights)]
        for i, (p, g) in enumerate(zip(list(weights) + list(biases),
                                       list(grad_w) + list(grad_b))):
            self.update(i, p, g)

    def update(self, i: int, p: np.ndarray, g: np.ndarray) -> None:
        """One parameter array's step, in place.  ``i`` numbers it (the weights, then the
        biases, as :meth:`step` lists them): plain SGD keeps no state and ignores it;
        :class:`Momentum` and :class:`Adam` keep theirs under it."""
        p -= self.learning_rate * g


class Momentum(SGD):
    """v ← μ v − η g;  θ ← θ + v."""

    def __init__(self, learning_rate: float, momentum: float = DEFAULT_MOMENTUM,
                 weight_decay: float = 0.0) -> None:
        super().__init__(learning_rate, weight_decay)
        self.momentum = momentum
        self.velocity: dict[int, np.ndarray] = {}

    def update(self, i: int, p: np.ndarray, g: np.ndarray) -> None:
        v = self.velocity.setdefault(i, np.zeros_like(p))
        v *= self.momentum
        v -= self.learning_rate * g
        p += v


class Adam(SGD):
    """Adam (Kingma & Ba, 2015) with bias-corrected first and second moments."""

    def __init__(self, learning_rate: float, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(learning_rate, weight_decay)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.m: dict[int, np.ndarray] = {}
        self.s: dict[int, np.ndarray] = {}
        self.t = 0

    def step(self, weights: Any, biases: Any, grad_w: Any, grad_b: Any) -> None:
        self.t += 1
        super().step(weights, biases, grad_w, grad_b)

    def update(self, i: int, p: np.ndarray, g: np.ndarray) -> None:
        m = self.m.setdefault(i, np.zeros_like(p))
        s = self.s.setdefault(i, np.zeros_like(p))
        m *= self.beta1
        m += (1 - self.beta1) * g
        s *= self.beta2
        s += (1 - self.beta2) * g * g
        m_hat = m / (1 - self.beta1 ** self.t)
        s_hat = s / (1 - self.beta2 ** self.t)
        p -= (self.learning_rate * m_hat / (np.sqrt(s_hat) + self.eps)).astype(p.dtype)


def check_optimizer(name: Any) -> str:
    """``name`` if it is one of :data:`OPTIMIZERS`, else a one-line error listing them."""
    return check_choice("optimizer", name, OPTIMIZERS)


def make_optimizer(name: str, learning_rate: float, momentum: float = DEFAULT_MOMENTUM,
                   weight_decay: float = 0.0) -> SGD:
    """The optimiser called ``name`` (one of :data:`OPTIMIZERS`)."""
    if check_optimizer(name) == "momentum":
        return Momentum(learning_rate, momentum, weight_decay)
    if name == "adam":
        return Adam(learning_rate, weight_decay=weight_decay)
    return SGD(learning_rate, weight_decay)
