"""The reference engine: SGD steps with the readable NumPy code of :mod:`nudge.network`.

Each mini-batch's gradient comes from ``Network.backprop`` (the four equations of
backpropagation, the batch as matrix products) and the step from the optimiser of
:mod:`nudge.optimizers`.  It trains every set-up nudge has (any dtype, every optimiser)
and is what the compiled engine is tested against.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..network import Network
from ..optimizers import DEFAULT_MOMENTUM, make_optimizer


class ReferenceEngine:
    """Runs mini-batch steps on ``net`` with NumPy: ``run(net, order, first, last, η)``."""

    name = "reference"

    def __init__(self, net: Network, X: np.ndarray, labels: Any, batch_size: int, *,
                 optimizer: str = "sgd", momentum: float = DEFAULT_MOMENTUM,
                 weight_decay: float = 0.0) -> None:
        self.X = X
        self.Y = net.desired_outputs(labels)
        self.batch_size = batch_size
        self.optimizer = make_optimizer(optimizer, 1.0, momentum, weight_decay)

    @property
    def settings(self) -> dict[str, Any]:
        """What ran, for ``History.settings``."""
        return {"engine": "reference", "kernel": None, "threads": 1}

    def output_sums(self, net: Network) -> None:
        """None: the training set is measured by :func:`nudge.train.evaluate` itself."""
        return None

    def run(self, net: Network, order: np.ndarray, first: int, last: int,
            learning_rate: float) -> int:
        """The steps on the mini-batches ``order[first:first+B]``, ... up to ``last``
        (``first`` is a multiple of the batch size B); returns how many were taken."""
        self.optimizer.learning_rate = learning_rate
        steps = 0
        for start in range(first, last, self.batch_size):
            batch = order[start:min(start + self.batch_size, last)]
            grad_w, grad_b = net.backprop(self.X[batch], self.Y[batch])
            self.optimizer.step(net.weights, net.biases, grad_w, grad_b)
            steps += 1
        return steps
