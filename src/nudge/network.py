"""The network, its cost, and backpropagation: the mathematics of nudge in one file.

Notation, as in 3Blue1Brown's videos and Nielsen's book::

    a⁰ = x                     the input: 784 pixel intensities in [0, 1]
    zˡ = Wˡ aˡ⁻¹ + bˡ          weighted sums of layer l  (Wˡ has shape (n_out, n_in))
    aˡ = σ(zˡ)                 activations of layer l
    Cₓ = Σⱼ (aᴸⱼ − yⱼ)²        cost of one example x with desired output y
    C  = (1/n) Σₓ Cₓ           total cost: the average over the n examples

The quadratic cost is exactly the one in the videos: *no* factor ½.  Its
gradient is therefore ∂Cₓ/∂aᴸ = 2 (aᴸ − y), twice the one in Nielsen's book,
so a learning rate η here takes the same step as 2η in his ``network.py``.

A batch is an array whose *rows* are examples, so the code computes
Z = A Wᵀ + b: the formula above applied to every row at once.

Backpropagation, the four equations for one example x, with δˡₓ = ∂Cₓ/∂zˡ (⊙ is the
element-wise product; zˡₓ and aˡₓ are those of example x)::

    δᴸₓ = ∂Cₓ/∂aᴸ ⊙ σ'(zᴸₓ)                −δᴸₓ: how x wants the output sums to move
    δˡₓ = (Wˡ⁺¹ᵀ δˡ⁺¹ₓ) ⊙ σ'(zˡₓ)           ... propagated back one layer
    ∂Cₓ/∂bˡ = δˡₓ                          −δˡₓ: x's nudge to the biases
    ∂Cₓ/∂Wˡ = δˡₓ (aˡ⁻¹ₓ)ᵀ                  −δˡₓ (aˡ⁻¹ₓ)ᵀ: x's nudge to the weights

The cost C is the average of the Cₓ, so its gradient is the average of theirs::

    ∂C/∂bˡ = (1/n) Σₓ δˡₓ                  −∂C/∂bˡ: the average nudge to the biases
    ∂C/∂Wˡ = (1/n) Σₓ δˡₓ (aˡ⁻¹ₓ)ᵀ          −∂C/∂Wˡ: the average nudge to the weights

A weight's nudge is proportional to the activation it multiplies: weights from brighter
neurons get bigger nudges.  ``Network.deltas`` runs the first two equations for every
example at once (row x is example x); ``Network.backprop`` asks it for δᴸₓ / n (the
equations are linear in δ, so the 1/n carries through every layer) and takes the sums
over x as matrix products.  Gradient descent then moves every weight and bias by η times
its average nudge: θ ← θ − η ∂C/∂θ.  (The optimisers are in ``nudge.optimizers``, the
training loop in ``nudge.train``.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .bounds import (
    check_choice,
    check_dtype,
    check_input_shape,
    check_parameter_arrays,
    check_seed,
    check_sizes,
    fixed_seed,
)
from .errors import NudgeError
from .inputs import as_array, as_inputs, check_numbers, classes_of, desired_outputs
from .optimizers import SGD

if TYPE_CHECKING:                  # fit()'s annotations (train is imported on call)
    from .control import Control, Progress
    from .history import EpochRecord, History

ACTIVATIONS = ("sigmoid", "relu", "tanh")
OUTPUTS = ("sigmoid", "softmax")
COSTS = ("quadratic", "cross-entropy")
INITS = ("scaled", "normal")

#: a copy of a network's weights and biases (:meth:`Network.snapshot`)
Snapshot = tuple[list[np.ndarray], list[np.ndarray]]


# --------------------------------------------------------------------------- activations
def sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) = 1 / (1 + e⁻ᶻ)."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def softmax(z: np.ndarray) -> np.ndarray:
    """softmax(z)ⱼ = e^zⱼ / Σₖ e^zₖ, row by row (shifted by the row maximum for stability)."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def activate(kind: str, z: np.ndarray) -> np.ndarray:
    """aˡ = σ(zˡ) for the named activation function."""
    if kind == "sigmoid":
        return sigmoid(z)
    if kind == "relu":
        return np.maximum(z, 0)
    if kind == "tanh":
        return np.tanh(z)
    if kind == "softmax":
        return softmax(z)
    raise ValueError(kind)


def activation_prime(kind: str, z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """σ'(z), written with the activation a = σ(z) where that is cheaper."""
    if kind == "sigmoid":
        return a * (1 - a)
    if kind == "relu":
        return (z > 0).astype(z.dtype)
    if kind == "tanh":
        return 1 - a * a
    raise ValueError(kind)


# --------------------------------------------------------------------------- the network
class Network:
    """A fully connected feed-forward network trained by gradient descent.

    Parameters
    ----------
    sizes : layer sizes, input first, e.g. ``[784, 16, 16, 10]``.
    activation : hidden-layer σ: ``"sigmoid"`` (default), ``"relu"`` or ``"tanh"``.
    output : output-layer function: ``"sigmoid"`` (default) or ``"softmax"``.
    cost : ``"quadratic"`` (default, Σⱼ (aⱼ − yⱼ)², no ½) or ``"cross-entropy"``
        (binary cross-entropy summed over the outputs for a sigmoid output,
        categorical cross-entropy for a softmax output).
    init : ``"scaled"`` (default): weights ~ N(0, 1/n_in), biases ~ N(0, 1);
        ``"normal"``: weights and biases ~ N(0, 1), as in Nielsen's chapter 1.
    seed : fixes the initial weights and biases (and, by default, the shuffling of
        training, :func:`nudge.train.train`); None draws a fresh one, kept in ``net.seed``
        so that the run can be repeated.
    dtype : ``np.float32`` for training (default), ``np.float64`` for checking.

    Learned state: ``weights[l]`` has shape (sizes[l+1], sizes[l]) like
    ``torch.nn.Linear.weight``; ``biases[l]`` has shape (sizes[l+1],).
    """

    def __init__(self, sizes: Sequence[int], activation: str = "sigmoid",
                 output: str = "sigmoid", cost: str = "quadratic", init: str = "scaled",
                 seed: int | None = None, dtype: Any = np.float32) -> None:
        self._define(sizes, activation, output, cost, init, dtype)
        self.seed: int | None = fixed_seed(seed)    # None: not known (from_parameters)
        rng = np.random.default_rng(self.seed)
        self.weights: list[np.ndarray] = []
        self.biases: list[np.ndarray] = []
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]):
            scale = 1.0 if self.init == "normal" else 1.0 / np.sqrt(n_in)
            self.weights.append((rng.standard_normal((n_out, n_in)) * scale).astype(self.dtype))
            self.biases.append(rng.standard_normal(n_out).astype(self.dtype))

    def _define(self, sizes: Sequence[int], activation: str, output: str, cost: str,
                init: str, dtype: Any) -> None:
        """The architecture and the float type, checked; no parameters yet."""
        self.sizes = check_sizes(sizes)
        self.activation = check_choice("activation", activation, ACTIVATIONS)
        self.output = check_choice("output", output, OUTPUTS)
        self.cost_function = check_choice("cost", cost, COSTS)
        self.init = check_choice("init", init, INITS)
        self.dtype = check_dtype(dtype)
        self.metadata: dict[str, Any] = {}     # filled in by nudge.modelfile.load

    @classmethod
    def from_parameters(cls, weights: Sequence[Any], biases: Sequence[Any],
                        activation: str = "sigmoid", output: str = "sigmoid",
                        cost: str = "quadratic", init: str = "scaled",
                        seed: int | None = None) -> Network:
        """A network that holds the given weights, (n_out, n_in) each, and biases, (n_out,)
        each: a model file's, or another framework's (``linear.weight.detach().numpy()``
        of each ``torch.nn.Linear``).  The sizes come from their shapes, the float type
        from the first weights (float32 or float64); ``seed``: the one they were
        initialised from, if known (None: not known).  The arrays are copied, finite, and
        nothing random is drawn."""
        weights = [as_array(W, "weights") for W in weights]
        biases = [as_array(b, "biases") for b in biases]
        if not weights or len(weights) != len(biases) or any(W.ndim != 2 for W in weights):
            raise NudgeError("give one weight matrix (n_out, n_in) and one bias vector "
                             "(n_out,) for each layer")
        net = cls.__new__(cls)
        net._define([weights[0].shape[1], *(W.shape[0] for W in weights)], activation,
                    output, cost, init, weights[0].dtype)
        net.seed = check_seed(seed)
        net.weights = [np.array(W, dtype=net.dtype) for W in weights]
        net.biases = [np.array(b, dtype=net.dtype) for b in biases]
        net.check_parameters(finite=True)
        return net

    # ------------------------------------------------------------------ bookkeeping
    def check_parameters(self, finite: bool = False, writable: bool = False) -> None:
        """A one-line error unless the functions are nudge's and the weights and biases fit
        (:func:`nudge.bounds.check_parameter_arrays`): for what was set by hand, before
        training, measuring or saving, and after a training callback."""
        for name, choices in (("activation", ACTIVATIONS), ("output", OUTPUTS)):
            check_choice(name, getattr(self, name), choices)
        check_choice("cost", self.cost_function, COSTS)
        check_parameter_arrays(self.sizes, self.dtype, self.weights, self.biases, finite,
                               writable)

    @property
    def n_parameters(self) -> int:
        """Number of weights and biases (13,002 for 784-16-16-10)."""
        return sum(w.size + b.size for w, b in zip(self.weights, self.biases))

    @property
    def config(self) -> dict[str, Any]:
        """The constructor arguments that define this architecture."""
        return {"sizes": list(self.sizes), "activation": self.activation,
                "output": self.output, "cost": self.cost_function, "init": self.init}

    def astype(self, dtype: Any) -> Network:
        """A copy of this network with parameters in another float type (e.g. float64)."""
        net = Network.__new__(Network)         # no random draw: the parameters are these
        net._define(self.sizes, self.activation, self.output, self.cost_function, self.init,
                    dtype)
        net.seed = self.seed
        net.weights = [w.astype(dtype) for w in self.weights]
        net.biases = [b.astype(dtype) for b in self.biases]
        return net

    def copy(self) -> Network:
        """An independent copy (same parameters, same dtype)."""
        return self.astype(self.dtype)

    def snapshot(self) -> Snapshot:
        """Copies of the weights and biases, to :meth:`restore` later."""
        return [w.copy() for w in self.weights], [b.copy() for b in self.biases]

    def restore(self, snapshot: Snapshot) -> None:
        """Put a :meth:`snapshot`'s weights and biases back, in place (the arrays
        ``weights[l]`` and ``biases[l]`` stay the same objects)."""
        mine, pair = self.weights + self.biases, isinstance(snapshot, (tuple, list))
        saved = [*snapshot[0], *snapshot[1]] if pair and len(snapshot) == 2 else []
        if [np.shape(a) for a in saved] != [a.shape for a in mine]:
            raise NudgeError(f"not a snapshot of this {'-'.join(map(str, self.sizes))} "
                             "network: restore what its own snapshot() returned")
        for p, q in zip(mine, saved):
            p[...] = q

    def __repr__(self) -> str:
        return (f"Network({'-'.join(map(str, self.sizes))}, activation={self.activation!r}, "
                f"output={self.output!r}, cost={self.cost_function!r}, "
                f"{self.n_parameters} parameters)")

    def _repr_html_(self) -> str:
        """A small HTML summary for Jupyter (:func:`nudge.display.network_html`)."""
        from .display import network_html

        return network_html(self)

    def _inputs(self, X: Any) -> np.ndarray:
        X = as_array(X)
        check_numbers(X)
        with np.errstate(over="ignore"):                 # too large for float32: inf
            A = as_inputs(X, self.dtype.type)
        check_input_shape("inputs", A.shape, self.sizes[0])
        return A

    # ------------------------------------------------------------------ forward pass
    def forward(self, X: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """All weighted sums zˡ and activations aˡ (a⁰ = the inputs) for a batch."""
        a = self._inputs(X)
        activations, zs = [a], []
        last = len(self.weights) - 1
        for l, (W, b) in enumerate(zip(self.weights, self.biases)):
            z = a @ W.T + b                                  # zˡ = Wˡ aˡ⁻¹ + bˡ
            # a NaN or infinite input makes its row of z¹ NaN or infinite, so the inputs
            # (784 a row against z¹'s 16) are only looked at when z¹ is not all finite
            if l == 0 and a.dtype.kind == "f" and not np.isfinite(z).all() and not (
                    np.isfinite(a).all()):
                raise NudgeError("inputs hold NaN or infinite values: give finite pixel "
                                 "values (uint8 0-255, or floats in [0, 1])")
            a = activate(self.output if l == last else self.activation, z)   # aˡ = σ(zˡ)
            zs.append(z)
            activations.append(a)
        return activations, zs

    def feedforward(self, X: Any) -> np.ndarray:
        """The output activations aᴸ; ``X`` is one example or a batch (rows are examples)."""
        self.check_parameters(finite=True)   # set by hand: a NaN output would read as digit 0
        X = as_array(X)                # one row of another length: refused as given
        out = self.forward(X[None, :] if X.shape == (self.sizes[0],) else X)[0][-1]
        return out[0] if X.ndim == 1 else out

    def predict(self, X: Any) -> np.ndarray | np.integer:
        """The digit each example is read as: the index of the brightest output neuron (an
        array for rows of examples, one integer for one example given as a single row)."""
        return np.argmax(self.feedforward(X), axis=-1)

    def score(self, X: Any, y: Any) -> float:
        """Accuracy: the fraction of examples whose prediction equals the label; ``y``
        holds labels or desired-output rows (a row's class: its largest entry)."""
        predicted, y = np.atleast_1d(self.predict(X)), np.atleast_1d(as_array(y, "labels"))
        if predicted.size == 0:
            raise NudgeError("cannot score on an empty data set")
        if y.shape[:1] != predicted.shape or y.ndim > 2:
            raise NudgeError(f"{len(predicted)} inputs but labels of shape {y.shape}")
        y = classes_of(y, self.sizes[-1])     # 0.5 or 11 matches no prediction
        return float(np.mean(predicted == y))

    # ------------------------------------------------------------------ the cost
    def example_costs(self, X: Any, Y: Any) -> np.ndarray:
        """Cₓ for each example (row), e.g. Σⱼ (aᴸⱼ − yⱼ)² for the quadratic cost."""
        activations, zs, y = self._forward_to(X, Y)
        return self.output_costs(activations[-1], zs[-1], y)

    def _forward_to(self, X: Any, Y: Any) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
        """:meth:`forward` of ``X``, and a desired output for each row from ``Y``."""
        (activations, zs), y = self.forward(X), self.desired_outputs(Y)
        if len(y) != len(activations[0]):
            raise NudgeError(f"{len(activations[0])} inputs but {len(y)} desired outputs")
        return activations, zs, y

    def output_costs(self, a: np.ndarray, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Cₓ of each row from its output activations aᴸ, weighted sums zᴸ and desired y."""
        if self.cost_function == "quadratic":
            return np.sum((a - y) ** 2, axis=1)
        if self.output == "sigmoid":
            # −Σ [y ln a + (1−y) ln(1−a)] written in z: ln(1 + eᶻ) − y z, exact and stable.
            return np.sum(np.logaddexp(0, z) - y * z, axis=1)
        # −Σ y ln softmax(z) = −Σ y (z − ln Σₖ e^zₖ)
        zmax = z.max(axis=1, keepdims=True)
        log_norm = zmax + np.log(np.sum(np.exp(z - zmax), axis=1, keepdims=True))
        return -np.sum(y * (z - log_norm), axis=1)

    def cost(self, X: Any, Y: Any) -> float:
        """C = (1/n) Σₓ Cₓ: the average cost over the examples (rows of X), in one pass and
        averaged in the network's float type.  The same C as :func:`nudge.train.evaluate`'s
        (and :func:`nudge.insight.total_cost`, which is evaluate's), which goes in chunks
        and sums in float64: they agree but for rounding (in the last digits of float32)."""
        costs = self.example_costs(X, Y)
        if costs.size == 0:
            raise NudgeError("cannot compute the cost of an empty data set")
        return float(np.mean(costs))

    def desired_outputs(self, Y: Any) -> np.ndarray:
        """The desired outputs y for labels or rows, in this network's float type."""
        return desired_outputs(Y, self.sizes[-1], self.dtype.type)

    def output_cost_gradient(self, a: np.ndarray, y: np.ndarray) -> np.ndarray:
        """∂Cₓ/∂aᴸ for each row: 2 (a − y) for the quadratic cost; (a − y)/(a (1 − a)) for
        cross-entropy with a sigmoid output; −y/a for cross-entropy with softmax."""
        if self.cost_function == "quadratic":
            return 2 * (a - y)
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.output == "sigmoid":
                return (a - y) / (a * (1 - a))
            return -y / a

    def output_error(self, a: np.ndarray, y: np.ndarray) -> np.ndarray:
        """δᴸₓ = ∂Cₓ/∂zᴸ for each example x (one row each); −δᴸₓ is how x wants its output
        sums to move."""
        if self.cost_function == "cross-entropy":    # σ' cancels: a − y (softmax: a Σⱼyⱼ − y)
            return a - y if self.output == "sigmoid" else a * y.sum(axis=1, keepdims=True) - y
        dC_da = self.output_cost_gradient(a, y)
        if self.output == "sigmoid":
            return dC_da * a * (1 - a)
        # softmax: ∂a/∂z = diag(a) − a aᵀ, so δ = a ⊙ (∂C/∂a − (∂C/∂a · a))
        return a * (dC_da - np.sum(dC_da * a, axis=1, keepdims=True))

    # ------------------------------------------------------------------ backpropagation
    def deltas(self, X: Any, Y: Any, average: bool = False
               ) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
        """Backpropagation for a batch: ``(activations, zs, deltas)``, where row x of
        ``deltas[l-1]`` is δˡₓ = ∂Cₓ/∂zˡ of example x's own cost, or, with ``average``,
        δˡₓ / n: its share of the gradient of the average cost C over the n rows."""
        activations, zs, y = self._forward_to(X, Y)
        if average and len(y) == 0:
            raise NudgeError("cannot average the gradient over an empty batch")
        delta = self.output_error(activations[-1], y)          # δᴸₓ
        if average:
            delta = delta / len(y)
        deltas = [delta]
        for l in range(len(self.weights) - 1, 0, -1):          # δˡ⁻¹ₓ = (Wˡᵀ δˡₓ) ⊙ σ'(zˡ⁻¹ₓ)
            delta = (delta @ self.weights[l]) * activation_prime(
                self.activation, zs[l - 1], activations[l])
            deltas.insert(0, delta)
        return activations, zs, deltas

    def backprop(self, X: Any, Y: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The gradient of the average cost C over the batch: ``(grad_weights, grad_biases)``.

        Each array has the shape of the parameter it belongs to; the batch is
        handled all at once (the sum over examples is inside the matrix products).
        """
        activations, _, deltas = self.deltas(X, Y, average=True)
        grad_w = [delta.T @ a for delta, a in zip(deltas, activations)]  # (1/n) Σₓ δˡₓ aˡ⁻¹ₓᵀ
        grad_b = [delta.sum(axis=0) for delta in deltas]                # (1/n) Σₓ δˡₓ
        return grad_w, grad_b

    # ------------------------------------------------------------------ one step downhill
    def update_mini_batch(self, X: Any, Y: Any, learning_rate: float) -> None:
        """One step of gradient descent on a mini-batch: θ ← θ − η ∂C/∂θ."""
        SGD(learning_rate).step(self.weights, self.biases, *self.backprop(X, Y))

    # the options are train()'s, spelled out for help() and editors; the same names, kinds,
    # defaults and annotations (tests/test_network.py holds them equal), all passed on
    def fit(self, X: Any, y: Any, *, epochs: int = 30, batch_size: int | None = 10,
            learning_rate: float | None = None, schedule: str = "constant",
            min_learning_rate: float = 0.0, optimizer: str = "sgd",
            momentum: float | None = None, weight_decay: float = 0.0,
            test_data: tuple[Any, Any] | None = None,
            validation_data: tuple[Any, Any] | None = None, patience: int | None = None,
            seed: int | None = None, callback: Callable[[EpochRecord, Network], Any] | None = None,
            on_steps: Callable[[Progress, Network], Any] | None = None, every: int | Any = None,
            control: Control | None = None, progress: bool = False,
            monitor_train_cost: bool = True, engine: str = "auto", threads: int | None = None,
            ) -> History:
        """Train by stochastic gradient descent: ``nudge.train.train(self, X, y, ...)``,
        whose docstring says what each option does; returns its per-epoch ``History``.
        Ending at about chance test accuracy warns (``nudge.ChanceWarning``: what to try)."""
        options = {k: v for k, v in locals().items() if k not in ("self", "X", "y")}
        from .train import train, warn_at_chance

        return warn_at_chance(self, train(self, X, y, **options))


def check_network(net: Any, name: str = "net", finite: bool = False) -> Network:
    """``net`` if it is a :class:`Network` that passes :meth:`Network.check_parameters`."""
    if not isinstance(net, Network):
        raise NudgeError(f"{name} must be a nudge.Network, got a {type(net).__name__}")
    net.check_parameters(finite=finite)
    return net
