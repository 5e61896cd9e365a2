"""Gradients over a data set, and each example's own backpropagation (its wished-for nudges)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..bounds import check_count, check_dtype
from ..checks import check_data
from ..errors import NudgeError
from ..network import Network, check_network
from ..train import evaluate
from .common import CHUNK, _Plain
from .parameters import flatten


def example_deltas(net: Network, X: Any, y: Any
                   ) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Per-example backpropagation, :meth:`Network.deltas`: ``(activations, zs, deltas)``
    where ``deltas[l-1][x]`` is δˡ = ∂Cₓ/∂zˡ of example x's own cost Cₓ.  Row x of ``δˡ``
    times ``aˡ⁻¹`` of that row is that example's ∂Cₓ/∂Wˡ; δˡ itself is its ∂Cₓ/∂bˡ."""
    return check_network(net).deltas(X, y)


def _work_net(net: Network, dtype: Any) -> Network:
    if dtype is None:
        return net
    return net if net.dtype == check_dtype(dtype) else net.astype(dtype)


@dataclass
class Gradient(_Plain):
    """∂C/∂W and ∂C/∂b of the average cost C over ``n_examples`` examples.

    ``mean_example_norm_sq`` is the average over the examples of ‖∇Cₓ‖², the size
    of one example's own gradient (used to predict how noisy mini-batches are)."""

    weights: list[np.ndarray]
    biases: list[np.ndarray]
    n_examples: int
    cost: float
    mean_example_norm_sq: float
    seconds: float
    dtype: str

    def flat(self) -> np.ndarray:
        """The gradient as one vector laid out like θ."""
        return flatten(self.weights, self.biases)

    @property
    def norm(self) -> float:
        """‖∇C‖: the length of the gradient, all parameters together."""
        return float(np.linalg.norm(self.flat()))


def full_gradient(net: Network, X: Any, y: Any, chunk: int = CHUNK,
                  dtype: Any = None) -> Gradient:
    """The gradient of the average cost over all rows of ``X`` (uint8 or floats).

    Vectorised over chunks of ``chunk`` examples; products in ``dtype`` (default:
    the network's), sums accumulated in float64."""
    X, y = check_data(net, X, y)
    start = time.perf_counter()
    work = _work_net(net, dtype)
    n = len(X)
    if n == 0:
        raise NudgeError("there are no examples to take the gradient over")
    chunk = check_count("chunk", chunk)
    y = np.asarray(y)
    sum_w = [np.zeros(W.shape) for W in net.weights]
    sum_b = [np.zeros(b.shape) for b in net.biases]
    cost_sum = norm_sq_sum = 0.0
    for s in range(0, n, chunk):
        Xc, yc = X[s:s + chunk], y[s:s + chunk]
        activations, zs, deltas = work.deltas(Xc, yc)
        costs = work.output_costs(activations[-1], zs[-1], work.desired_outputs(yc))
        cost_sum += float(costs.sum(dtype=float))
        for l, delta in enumerate(deltas):
            A = activations[l]
            sum_w[l] += (A.T @ delta).T            # Σₓ δˡ aˡ⁻¹ᵀ  (∂Cₓ/∂Wˡ summed)
            sum_b[l] += delta.sum(axis=0, dtype=np.float64)
            # ‖δ aᵀ‖² + ‖δ‖² = ‖δ‖² (‖a‖² + 1): each example's own squared gradient, its
            # weights' and biases' parts, without forming it; δ² in float64, as in float32
            # a δ below 1e-23 (saturated sigmoids) squares to 0 while G² does not
            d64 = delta.astype(np.float64)
            norm_sq_sum += float(np.einsum("ij,ij->i", d64, d64)
                                 @ (np.einsum("ij,ij->i", A, A) + 1.0))
    return Gradient([s_ / n for s_ in sum_w], [s_ / n for s_ in sum_b], n, cost_sum / n,
                    norm_sq_sum / n, time.perf_counter() - start, str(work.dtype))


def total_cost(net: Network, X: Any, y: Any, chunk: int = CHUNK) -> float:
    """C over all rows of ``X``: :func:`nudge.train.evaluate`'s cost, the same computation
    (in chunks, in the network's dtype, summed in float64; :meth:`nudge.Network.cost` is
    the same C in one pass, averaged in the network's dtype)."""
    return evaluate(net, X, y, chunk)[0]


@dataclass
class ExampleNudges(_Plain):
    """Each example's wished-for nudges −∂Cₓ/∂θ: ``weights[l][x]`` has the shape of
    ``net.weights[l]``, ``biases[l][x]`` that of ``net.biases[l]``."""

    weights: list[np.ndarray]
    biases: list[np.ndarray]
    costs: np.ndarray

    def example(self, x: int) -> np.ndarray:
        """Example x's nudges as one vector laid out like θ."""
        return flatten([W[x] for W in self.weights], [b[x] for b in self.biases])


MAX_NUDGE_VALUES = 60_000_000


def example_nudges(net: Network, X: Any, y: Any) -> ExampleNudges:
    """The nudges each example wishes for, all at once: −δˡₓ aˡ⁻¹ₓᵀ and −δˡₓ (vectorised,
    no loop over examples).  Memory is n × (number of parameters) values: for many
    examples use chunks, as :func:`average_of_nudges` does."""
    X, y = check_data(net, X, y)
    n = len(X)
    if n * net.n_parameters > MAX_NUDGE_VALUES:
        raise NudgeError(f"{n} examples x {net.n_parameters} parameters is too many nudges to "
                         "hold at once; pass fewer examples (or use average_of_nudges)")
    activations, zs, deltas = net.deltas(X, y)
    weights = [-delta[:, :, None] * activations[l][:, None, :] for l, delta in enumerate(deltas)]
    biases = [-delta for delta in deltas]
    costs = net.output_costs(activations[-1], zs[-1], net.desired_outputs(y))
    return ExampleNudges(weights, biases, costs)


def average_of_nudges(net: Network, X: Any, y: Any, chunk: int = 256) -> list[np.ndarray]:
    """The average over all examples of each example's own nudges (formed example by
    example, in chunks), as arrays shaped like ``weights + biases``.  Its negative is the
    full gradient: :func:`full_gradient` gets the same numbers by matrix products."""
    X, y = check_data(net, X, y)
    n = len(X)
    if n == 0:
        raise NudgeError("there are no examples to average the nudges of")
    chunk = check_count("chunk", chunk)
    sums = [np.zeros(W.shape) for W in net.weights] + [np.zeros(b.shape) for b in net.biases]
    for s in range(0, n, chunk):
        nudges = example_nudges(net, X[s:s + chunk], y[s:s + chunk])
        for i, arr in enumerate(nudges.weights + nudges.biases):
            sums[i] += arr.sum(axis=0, dtype=np.float64)
    return [s_ / n for s_ in sums]
