"""See the gradient: sensitivities, each example's nudges, averages, descent paths, landscapes.

Everything here returns plain data (NumPy arrays and dataclasses with a
``to_dict()`` that gives JSON-friendly lists and numbers); the figures are in
:mod:`nudge.insight_plots` and the commands in :mod:`nudge.cli.insight`.  It
uses only the core: :class:`nudge.network.Network` (forward pass, cost,
δᴸ) and the data it is given.

Words, as in 3Blue1Brown's videos:

* a **nudge** to a parameter θ is the change one step of gradient descent
  wants for it: −∂C/∂θ (times the learning rate η);
* the **sensitivity** of the cost to θ is |∂C/∂θ|: a nudge of size ε to θ
  changes the cost by about ε |∂C/∂θ|;
* each training example x **wishes** for its own nudges, −∂Cₓ/∂θ; the true
  gradient step is the average of all the examples' wishes;
* a **mini-batch** estimate averages the wishes of a few random examples only;
  one **epoch** is one pass over the training set in mini-batches.

Parameters, numbering and naming
--------------------------------
All parameters in one flat vector θ: layer 1's weights (row by row, i.e.
``weights[0].ravel()``), layer 1's biases, then layer 2's, and so on
(:func:`get_parameters`, :func:`set_parameters`, :func:`unflatten`).

*Layers are numbered from 1* as in the videos: "layer l" is ``weights[l-1]``
and ``biases[l-1]``, the weights leading *into* layer l (layer 0 is the input).
*Neurons, pixels, rows and columns are numbered from 0*, like array indices and
like the digits the outputs stand for (output 2 is the neuron for digit 2).
So ``"layer 1 weight from input pixel (row 12, col 7) to hidden neuron 3"`` is
``weights[0][3, 12*28 + 7]`` in a 28x28 model (``12*8 + 7`` in an 8x8 model),
and ``"layer 3 bias of output 2"`` is ``biases[2][2]``.  The short forms
``w1[3,343]`` and ``b3[2]`` (layer from 1, indices from 0) and ``#N`` (the
position in θ) are accepted too: see :func:`parse_parameter`, :func:`locate`.

Precision and speed
-------------------
Gradients over a data set (:func:`full_gradient`) run over the uint8 images in
chunks of 16,384 examples, vectorised (the per-example δ's of a chunk are one
array), with products in the network's own dtype (float32 for trained models,
float64 for ``net.astype(np.float64)``; pass ``dtype`` to choose) and the chunk
sums accumulated in float64.  The weight gradient of a chunk is
computed as ``(Aᵀ δ)ᵀ`` rather than ``δᵀ A``: the same numbers, but NumPy's
BLAS does the first about ten times faster for tall arrays.

API (all return dataclasses with ``to_dict()``)
-----------------------------------------------
* :func:`full_gradient` → :class:`Gradient`  (∂C/∂W, ∂C/∂b over a data set)
* :func:`example_deltas`  per-example δˡ = ∂Cₓ/∂zˡ for a batch (vectorised)
* :func:`example_nudges` → :class:`ExampleNudges`  (−∇Cₓ for each example)
* :func:`sensitivity` → :class:`Sensitivity`; :func:`compare` → :class:`Comparison`;
  :func:`linear_check` → list of :class:`LinearCheckRow`
* :func:`example_wishes` → :class:`ExampleWishes`  (the video's chain for one example)
* :func:`average_of_nudges`, :func:`average_check` → :class:`AverageCheck`,
  :func:`minibatch_estimates` → :class:`AverageReport` (with :class:`BatchEstimate` rows)
* :func:`descent` → :class:`DescentReport`  (full-batch GD vs SGD from one start; default
  η from :func:`default_learning_rate`: 10 for full-batch, 3 for mini-batches)
* naming: :func:`locate`, :func:`parameter_name`, :func:`parse_parameter` → :class:`Parameter`;
  θ as one vector: :func:`get_parameters`, :func:`set_parameters`, :func:`unflatten`
* :func:`landscape` → :class:`Landscape`  (1-D and 2-D slices of the cost)
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import NudgeError
from .jsonable import jsonable
from .network import Network, activation_prime, as_inputs, desired_outputs

CHUNK = 16384


def single_threaded_blas() -> Any:
    """A context in which BLAS uses one thread.  Small matrix products (a mini-batch step)
    gain nothing from threads, and when the cores are busy, threads that wait for each
    other make them up to 50x slower (measured for B=100 on a shared 2-core machine)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:                       # pragma: no cover - comes with scikit-learn
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


class _Plain:
    """``to_dict()`` for dataclasses: every field, arrays as (nested) lists."""

    _skip: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {k: jsonable(v) for k, v in vars(self).items()
                if not k.startswith("_") and k not in self._skip}


# =========================================================================== parameters
def get_parameters(net: Network) -> np.ndarray:
    """θ: all weights and biases in one flat float64 vector (W1, b1, W2, b2, ...)."""
    return np.concatenate([p.ravel() for W, b in zip(net.weights, net.biases)
                           for p in (W, b)]).astype(np.float64)


def unflatten(net: Network, theta: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Split a flat vector laid out like θ into arrays shaped like the weights and biases."""
    theta = np.asarray(theta)
    if theta.shape != (net.n_parameters,):
        raise NudgeError(f"a parameter vector needs {net.n_parameters} values, got {theta.shape}")
    weights, biases, at = [], [], 0
    for W, b in zip(net.weights, net.biases):
        weights.append(theta[at:at + W.size].reshape(W.shape))
        at += W.size
        biases.append(theta[at:at + b.size])
        at += b.size
    return weights, biases


def set_parameters(net: Network, theta: np.ndarray) -> Network:
    """Copy the flat vector θ into ``net`` (in place, in the network's dtype); returns net."""
    weights, biases = unflatten(net, theta)
    for l, (W, b) in enumerate(zip(weights, biases)):
        net.weights[l][...] = W
        net.biases[l][...] = b
    return net


def flatten(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray]) -> np.ndarray:
    """Arrays shaped like the weights and biases → one flat float64 vector laid out like θ."""
    return np.concatenate([p.ravel() for W, b in zip(weights, biases)
                           for p in (W, b)]).astype(np.float64)


def input_image_shape(n_inputs: int) -> tuple[int, int] | None:
    """The image a model's inputs come from: 784 → 28x28, 64 → 8x8; None if not square."""
    side = math.isqrt(n_inputs)
    return (side, side) if side * side == n_inputs and side > 1 else None


@dataclass(frozen=True)
class Parameter(_Plain):
    """One weight or bias.  ``layer`` counts from 1; ``neuron`` (the neuron it feeds)
    and ``source`` (the neuron it comes from; None for a bias) count from 0;
    ``index`` is its position in θ."""

    kind: str             # "weight" or "bias"
    layer: int
    neuron: int
    source: int | None
    index: int
    name: str

    @property
    def array_index(self) -> tuple[str, int, tuple[int, ...]]:
        """("weights" or "biases", position in that list, index in that array)."""
        if self.kind == "weight":
            return "weights", self.layer - 1, (self.neuron, int(self.source or 0))
        return "biases", self.layer - 1, (self.neuron,)

    def value(self, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray]) -> float:
        """This parameter's entry in arrays shaped like the network's (e.g. a gradient)."""
        which, l, idx = self.array_index
        return float((weights if which == "weights" else biases)[l][idx])


def _neuron_label(net: Network, layer: int, j: int,
                  image_shape: tuple[int, int] | None) -> str:
    if layer == 0:
        if image_shape is not None:
            r, c = divmod(j, image_shape[1])
            return f"input pixel (row {r}, col {c})"
        return f"input {j}"
    if layer == len(net.sizes) - 1:
        return f"output {j}"
    return f"hidden neuron {j}"


def _offsets(net: Network) -> list[tuple[int, int]]:
    """(start of layer l's weights, start of its biases) in θ, for l = 1, 2, ..."""
    out, at = [], 0
    for W, b in zip(net.weights, net.biases):
        out.append((at, at + W.size))
        at += W.size + b.size
    return out


def _image_shape(net: Network, image_shape: tuple[int, int] | None) -> tuple[int, int] | None:
    if image_shape is not None:
        shape = (int(image_shape[0]), int(image_shape[1]))
        if shape[0] * shape[1] != net.sizes[0]:
            raise NudgeError(f"image shape {shape} does not match the {net.sizes[0]} inputs")
        return shape
    return input_image_shape(net.sizes[0])


def make_parameter(net: Network, kind: str, layer: int, neuron: int, source: int | None = None,
                   image_shape: tuple[int, int] | None = None) -> Parameter:
    """The parameter of the given kind, layer (from 1), neuron and source (from 0), checked."""
    shape = _image_shape(net, image_shape)
    L = len(net.weights)
    if not 1 <= layer <= L:
        raise NudgeError(f"layer {layer} does not exist: this {'-'.join(map(str, net.sizes))} "
                         f"network has layers 1 to {L} (layer l = weights[l-1])")
    n_out, n_in = net.weights[layer - 1].shape
    if not 0 <= neuron < n_out:
        raise NudgeError(f"layer {layer} has {n_out} neurons, numbered 0 to {n_out - 1}; "
                         f"there is no neuron {neuron}")
    w_at, b_at = _offsets(net)[layer - 1]
    to = _neuron_label(net, layer, neuron, shape)
    if kind == "bias":
        return Parameter("bias", layer, neuron, None, b_at + neuron, f"layer {layer} bias of {to}")
    if kind != "weight":
        raise ValueError(kind)
    if source is None or not 0 <= source < n_in:
        raise NudgeError(f"layer {layer}'s weights come from {n_in} neurons of layer "
                         f"{layer - 1}, numbered 0 to {n_in - 1}; there is no {source}")
    frm = _neuron_label(net, layer - 1, source, shape)
    return Parameter("weight", layer, neuron, source, w_at + neuron * n_in + source,
                     f"layer {layer} weight from {frm} to {to}")


def locate(net: Network, index: int, image_shape: tuple[int, int] | None = None) -> Parameter:
    """The parameter at position ``index`` of θ, with its readable name."""
    index = int(index)
    if not 0 <= index < net.n_parameters:
        raise NudgeError(f"parameter #{index} does not exist: there are {net.n_parameters} "
                         f"(#0 to #{net.n_parameters - 1})")
    for layer, (w_at, b_at) in enumerate(_offsets(net), start=1):
        n_out, n_in = net.weights[layer - 1].shape
        if index < b_at:
            neuron, source = divmod(index - w_at, n_in)
            return make_parameter(net, "weight", layer, neuron, source, image_shape)
        if index < b_at + n_out:
            return make_parameter(net, "bias", layer, index - b_at, None, image_shape)
    raise AssertionError("unreachable")  # pragma: no cover


def parameter_name(net: Network, index: int, image_shape: tuple[int, int] | None = None) -> str:
    """E.g. ``"layer 1 weight from input pixel (row 12, col 7) to hidden neuron 3"``."""
    return locate(net, index, image_shape).name


_NEURON = (r"(?:input\s+pixel\s*\(\s*row\s+(?P<{p}r>\d+)\s*,\s*col\s+(?P<{p}c>\d+)\s*\)"
           r"|input(?:\s+pixel)?\s+(?P<{p}i>\d+)"
           r"|(?P<{p}kind>hidden\s+neuron|output(?:\s+neuron)?|neuron)\s+(?P<{p}n>\d+))")
_WEIGHT_RE = re.compile(r"^layer\s+(?P<layer>\d+)\s+weight\s+from\s+" + _NEURON.format(p="a")
                        + r"\s+to\s+" + _NEURON.format(p="b") + r"$", re.I)
_BIAS_RE = re.compile(r"^layer\s+(?P<layer>\d+)\s+bias\s+of\s+" + _NEURON.format(p="b") + "$",
                      re.I)
_SHORT_W = re.compile(r"^w\s*(\d+)\s*\[\s*(\d+)\s*,\s*(\d+)\s*\]$", re.I)
_SHORT_B = re.compile(r"^b\s*(\d+)\s*\[\s*(\d+)\s*\]$", re.I)
_FLAT = re.compile(r"^#\s*(\d+)$")


def _neuron_index(net: Network, m: re.Match, p: str, layer: int,
                  shape: tuple[int, int] | None, text: str) -> int:
    """The neuron number that group ``p`` of a name match refers to, in ``layer`` (0 = input)."""
    last = len(net.sizes) - 1
    want = ("an input pixel" if layer == 0 else "an output" if layer == last
            else "a hidden neuron")
    if m.group(p + "r") is not None:
        if layer != 0:
            raise NudgeError(f"{text!r}: layer {layer} neurons are not input pixels; "
                             f"name {want} there")
        if shape is None:
            raise NudgeError(f"{text!r}: this model's inputs are not a square image; "
                             "write 'input K' instead")
        r, c = int(m.group(p + "r")), int(m.group(p + "c"))
        if not (0 <= r < shape[0] and 0 <= c < shape[1]):
            raise NudgeError(f"{text!r}: pixel (row {r}, col {c}) is outside the "
                             f"{shape[0]}x{shape[1]} image (rows and columns count from 0)")
        return r * shape[1] + c
    if m.group(p + "i") is not None:
        if layer != 0:
            raise NudgeError(f"{text!r}: layer {layer} neurons are not inputs; name {want} there")
        return int(m.group(p + "i"))
    kind = re.sub(r"\s+", " ", m.group(p + "kind").lower())
    if kind == "hidden neuron" and layer in (0, last):
        raise NudgeError(f"{text!r}: layer {layer} is not a hidden layer; name {want} there")
    if kind.startswith("output") and layer != last:
        raise NudgeError(f"{text!r}: layer {layer} is not the output layer; name {want} there")
    if kind == "neuron" and layer == 0:
        raise NudgeError(f"{text!r}: layer 0 is the input; name an input pixel there")
    return int(m.group(p + "n"))


def parse_parameter(net: Network, text: str,
                    image_shape: tuple[int, int] | None = None) -> Parameter:
    """A parameter from its readable name (as :func:`parameter_name` writes it) or the short
    forms ``w1[3,343]`` (layer from 1, then neuron and source from 0), ``b3[2]`` and ``#N``.

    Raises :class:`NudgeError` with a one-line reason for names that are not parameters.
    """
    shape = _image_shape(net, image_shape)
    t = re.sub(r"\s+", " ", str(text).strip())
    examples = ("e.g. 'layer 1 weight from input pixel (row 12, col 7) to hidden neuron 3', "
                "'layer 3 bias of output 2', 'w1[3,343]', 'b3[2]' or '#1234'")
    if (m := _FLAT.match(t)):
        return locate(net, int(m.group(1)), shape)
    if (m := _SHORT_W.match(t)):
        return make_parameter(net, "weight", int(m.group(1)), int(m.group(2)), int(m.group(3)),
                              shape)
    if (m := _SHORT_B.match(t)):
        return make_parameter(net, "bias", int(m.group(1)), int(m.group(2)), None, shape)
    for kind, pattern in (("weight", _WEIGHT_RE), ("bias", _BIAS_RE)):
        if (m := pattern.match(t)):
            layer = int(m.group("layer"))
            make_parameter(net, "bias", layer, 0, None, shape)    # checks the layer exists
            neuron = _neuron_index(net, m, "b", layer, shape, t)
            source = _neuron_index(net, m, "a", layer - 1, shape, t) if kind == "weight" else None
            return make_parameter(net, kind, layer, neuron, source, shape)
    raise NudgeError(f"{text!r} is not the name of a weight or bias: {examples}")


# =========================================================================== gradients
def _targets(net: Network, y: Any) -> np.ndarray:
    return desired_outputs(y, net.sizes[-1], net.dtype.type)


def example_deltas(net: Network, X: Any, y: Any
                   ) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Per-example backpropagation, vectorised: ``(activations, zs, deltas)`` where
    ``deltas[l-1][x]`` is δˡ = ∂Cₓ/∂zˡ of example x (row x) — of its own cost Cₓ, not
    divided by the number of examples.  Row x of ``δˡ`` times ``aˡ⁻¹`` of that row is
    that example's ∂Cₓ/∂Wˡ; δˡ itself is its ∂Cₓ/∂bˡ."""
    activations, zs = net.forward(X)
    Y = _targets(net, y)
    if len(Y) != len(activations[0]):
        raise NudgeError(f"{len(activations[0])} inputs but {len(Y)} desired outputs")
    delta = net.output_error(activations[-1], Y)                     # δᴸ per example
    deltas = [delta]
    for l in range(len(net.weights) - 1, 0, -1):                     # δˡ⁻¹ = (Wˡᵀ δˡ) ⊙ σ'(zˡ⁻¹)
        delta = (delta @ net.weights[l]) * activation_prime(net.activation, zs[l - 1],
                                                            activations[l])
        deltas.insert(0, delta)
    return activations, zs, deltas


def _work_net(net: Network, dtype: Any) -> Network:
    if dtype is None:
        return net
    return net if net.dtype == np.dtype(dtype) else net.astype(dtype)


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
        return float(np.linalg.norm(self.flat()))


def full_gradient(net: Network, X: Any, y: Any, chunk: int = CHUNK,
                  dtype: Any = None) -> Gradient:
    """The gradient of the average cost over all rows of ``X`` (uint8 or floats).

    Vectorised over chunks of ``chunk`` examples; products in ``dtype`` (default:
    the network's), sums accumulated in float64."""
    start = time.perf_counter()
    work = _work_net(net, dtype)
    n = len(X)
    if n == 0:
        raise NudgeError("there are no examples to take the gradient over")
    y = np.asarray(y)
    sum_w = [np.zeros(W.shape) for W in net.weights]
    sum_b = [np.zeros(b.shape) for b in net.biases]
    cost_sum = norm_sq_sum = 0.0
    for s in range(0, n, chunk):
        Xc, yc = X[s:s + chunk], y[s:s + chunk]
        activations, zs, deltas = example_deltas(work, Xc, yc)
        costs = work.output_costs(activations[-1], zs[-1], _targets(work, yc))
        cost_sum += float(costs.sum(dtype=float))
        for l, delta in enumerate(deltas):
            A = activations[l]
            sum_w[l] += (A.T @ delta).T            # Σₓ δˡ aˡ⁻¹ᵀ  (∂Cₓ/∂Wˡ summed)
            sum_b[l] += delta.sum(axis=0, dtype=np.float64)
            # ‖δ aᵀ‖² = ‖δ‖² ‖a‖²: each example's own squared gradient, without forming it
            norm_sq_sum += float(np.einsum("ij,ij->i", delta, delta)
                                 @ (np.einsum("ij,ij->i", A, A) + 1.0))
    return Gradient([s_ / n for s_ in sum_w], [s_ / n for s_ in sum_b], n, cost_sum / n,
                    norm_sq_sum / n, time.perf_counter() - start, str(work.dtype))


def total_cost(net: Network, X: Any, y: Any, chunk: int = CHUNK) -> float:
    """C over all rows of ``X``, in chunks (in the network's dtype, summed in float64)."""
    y = np.asarray(y)
    total = 0.0
    for s in range(0, len(X), chunk):
        total += float(np.sum(net.example_costs(X[s:s + chunk], y[s:s + chunk]),
                              dtype=np.float64))
    return total / len(X)


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
    n = len(X)
    if n * net.n_parameters > MAX_NUDGE_VALUES:
        raise NudgeError(f"{n} examples x {net.n_parameters} parameters is too many nudges to "
                         "hold at once; pass fewer examples (or use average_of_nudges)")
    activations, zs, deltas = example_deltas(net, X, y)
    weights = [-delta[:, :, None] * activations[l][:, None, :] for l, delta in enumerate(deltas)]
    biases = [-delta for delta in deltas]
    costs = net.output_costs(activations[-1], zs[-1], _targets(net, y))
    return ExampleNudges(weights, biases, costs)


def average_of_nudges(net: Network, X: Any, y: Any, chunk: int = 256) -> list[np.ndarray]:
    """The average over all examples of each example's own nudges (formed example by
    example, in chunks), as arrays shaped like ``weights + biases``.  Its negative is the
    full gradient: :func:`full_gradient` gets the same numbers by matrix products."""
    y = np.asarray(y)
    n = len(X)
    sums = [np.zeros(W.shape) for W in net.weights] + [np.zeros(b.shape) for b in net.biases]
    for s in range(0, n, chunk):
        nudges = example_nudges(net, X[s:s + chunk], y[s:s + chunk])
        for i, arr in enumerate(nudges.weights + nudges.biases):
            sums[i] += arr.sum(axis=0, dtype=np.float64)
    return [s_ / n for s_ in sums]


# =========================================================================== 1. sensitivity
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
    share_of_squared: float       # this block's share of ‖∇C‖²


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
    top_percent_share: float      # share of ‖∇C‖² held by the top 1% of parameters
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
    p = locate(net, index, image_shape)
    g = float(gradient_flat[index])
    return RankedParameter(rank, p.index, p.name, p.layer, p.kind, g, abs(g),
                           "increase" if g < 0 else "decrease" if g > 0 else "stay")


def sensitivity(net: Network, X: Any, y: Any, k: int = 10, split: str = "train",
                image_shape: tuple[int, int] | None = None, dtype: Any = None,
                gradient: Gradient | None = None) -> Sensitivity:
    """Rank every weight and bias by how sensitive the cost over ``X`` is to it, |∂C/∂θ|."""
    g = gradient if gradient is not None else full_gradient(net, X, y, dtype=dtype)
    flat = g.flat()
    order = sensitivity_order(flat)
    P = flat.size
    k = max(0, min(int(k), P))
    sq = flat ** 2
    total_sq = float(sq.sum())
    n_top = max(1, math.ceil(P / 100))
    layers = []
    for l, (gW, gb) in enumerate(zip(g.weights, g.biases), start=1):
        for kind, arr in (("weights", gW), ("biases", gb)):
            layers.append(LayerSensitivity(
                l, kind, int(arr.size), float(np.linalg.norm(arr)), float(np.abs(arr).mean()),
                float(np.abs(arr).max()),
                float((arr ** 2).sum() / total_sq) if total_sq > 0 else 0.0))
    return Sensitivity(
        n_examples=g.n_examples, split=split, cost=g.cost, gradient_norm=math.sqrt(total_sq),
        seconds=g.seconds, dtype=g.dtype, n_parameters=P,
        top=[ranked(net, flat, int(i), r + 1, image_shape) for r, i in enumerate(order[:k])],
        bottom=[ranked(net, flat, int(order[P - k + r]), P - k + r + 1, image_shape)
                for r in range(k)],
        top_percent_share=float(sq[order[:n_top]].sum() / total_sq) if total_sq > 0 else 0.0,
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
    """Compare two parameters (names or short forms, see :func:`parse_parameter`)."""
    pa, pb = parse_parameter(net, a, image_shape), parse_parameter(net, b, image_shape)
    rank_of = np.empty(sens.order.size, dtype=np.int64)
    rank_of[sens.order] = np.arange(1, sens.order.size + 1)
    ra = ranked(net, sens.gradient, pa.index, int(rank_of[pa.index]), image_shape)
    rb = ranked(net, sens.gradient, pb.index, int(rank_of[pb.index]), image_shape)
    ratio = ra.sensitivity / rb.sensitivity if rb.sensitivity > 0 else math.inf
    if math.isinf(ratio):
        text = (f"the cost does not change at all with {rb.name} (its gradient is 0), "
                f"but does with {ra.name}")
    elif ratio >= 1:
        text = f"the cost is {ratio:.1f}x more sensitive to {ra.name} than to {rb.name}"
    else:
        text = f"the cost is {1 / ratio:.1f}x less sensitive to {ra.name} than to {rb.name}"
    return Comparison(ra, rb, ratio, text)


@dataclass
class LinearCheckRow(_Plain):
    """One step Δθ = −η ∇C: the change predicted by the gradient, ∇C·Δθ = −η‖∇C‖², next
    to the actual change C(θ + Δθ) − C(θ)."""

    learning_rate: float
    step_length: float
    predicted_change: float
    actual_change: float
    error: float
    relative_error: float


def linear_check(net: Network, X: Any, y: Any, gradient: Gradient | None = None,
                 learning_rates: Sequence[float] = (1.0, 0.1, 0.01)) -> list[LinearCheckRow]:
    """Take small steps against the gradient and compare ∇C·Δθ with the real cost change.

    Runs in float64.  The error is second order: it shrinks like η² (10x smaller η,
    about 100x smaller error) until float64 rounding, ~1e-16 · C, is reached."""
    work = net.astype(np.float64)
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
                                   err, abs(err / predicted) if predicted else math.inf))
    set_parameters(work, theta)
    return rows


# =========================================================================== 2. one example
def output_cost_gradient(net: Network, a: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """∂Cₓ/∂aᴸ for each row: 2(a − y) for the quadratic cost; (a − y)/(a(1 − a)) for
    cross-entropy with sigmoid outputs; −y/a for cross-entropy with softmax."""
    if net.cost_function == "quadratic":
        return 2 * (a - Y)
    with np.errstate(divide="ignore", invalid="ignore"):
        if net.output == "sigmoid":
            return (a - Y) / (a * (1 - a))
        return -Y / a


@dataclass
class LayerWishes(_Plain):
    """What one example wishes for layer ``layer`` (from 1; layer l = weights[l-1]).

    * ``activation_wish`` −∂Cₓ/∂aˡ: how it wants this layer's activations to move;
    * ``sum_wish`` −δˡ = −∂Cₓ/∂zˡ: how it wants their weighted sums to move;
    * the three ways to get there — ``bias_nudges`` (= ``sum_wish``), ``weight_nudges``
      −δˡⱼ aˡ⁻¹ₖ (bigger from brighter neurons: ``previous_activations``), and
      ``previous_activation_wish`` −Σⱼ Wˡⱼₖ δˡⱼ, the sum over this layer's neurons of
      ``contributions[j, k]`` = −δˡⱼ Wˡⱼₖ (proportional to the weights)."""

    layer: int
    activations: np.ndarray
    activation_wish: np.ndarray
    sum_wish: np.ndarray
    bias_nudges: np.ndarray
    weight_nudges: np.ndarray
    previous_activations: np.ndarray
    previous_activation_wish: np.ndarray
    contributions: np.ndarray


@dataclass
class ExampleWishes(_Plain):
    """The chain of the video for one example: outputs vs targets, then each layer's wishes.
    ``layers[-1]`` is the output layer; the nudges are exactly −∇Cₓ (see :meth:`flat`)."""

    index: int | None
    split: str
    label: int
    predicted: int
    cost: float
    image: np.ndarray            # the inputs a⁰ as in the model, shaped as the image if known
    outputs: np.ndarray
    targets: np.ndarray
    output_wish: np.ndarray      # −∂Cₓ/∂aᴸ
    layers: list[LayerWishes]

    def flat(self) -> np.ndarray:
        """All this example's nudges (−∂Cₓ/∂θ) in one vector laid out like θ."""
        return flatten([lw.weight_nudges for lw in self.layers],
                       [lw.bias_nudges for lw in self.layers])


def example_wishes(net: Network, x: Any, label: Any, index: int | None = None,
                   split: str = "train", image_shape: tuple[int, int] | None = None
                   ) -> ExampleWishes:
    """Follow one example's wishes from the outputs back to the first layer."""
    x = np.asarray(x)
    if x.ndim != 1 or x.size != net.sizes[0]:
        raise NudgeError(f"one example is a row of {net.sizes[0]} values, got shape {x.shape}")
    y = np.asarray([label]) if np.ndim(label) == 0 else np.asarray(label)[None, :]
    activations, zs, deltas = example_deltas(net, x[None, :], y)
    Y = _targets(net, y)
    a_out = activations[-1][0]
    wish = -output_cost_gradient(net, activations[-1], Y)[0]
    layers: list[LayerWishes] = []
    for l in range(len(net.weights), 0, -1):                # from the output layer back
        delta, a_prev, W = deltas[l - 1][0], activations[l - 1][0], net.weights[l - 1]
        contributions = -delta[:, None] * W                   # neuron j's wish for aˡ⁻¹ₖ
        layers.insert(0, LayerWishes(
            layer=l, activations=activations[l][0], activation_wish=wish, sum_wish=-delta,
            bias_nudges=-delta, weight_nudges=-np.outer(delta, a_prev),
            previous_activations=a_prev, previous_activation_wish=contributions.sum(axis=0),
            contributions=contributions))
        wish = contributions.sum(axis=0)                      # −∂Cₓ/∂aˡ⁻¹: next layer down
    shape = _image_shape(net, image_shape)
    image = activations[0][0].reshape(shape) if shape else activations[0][0]
    lab = int(np.argmax(Y[0])) if np.ndim(label) else int(label)
    return ExampleWishes(index, split, lab, int(np.argmax(a_out)),
                         float(net.output_costs(activations[-1], zs[-1], Y)[0]), image, a_out, Y[0],
                         layers[-1].activation_wish, layers)


# =========================================================================== 3. averages
@dataclass
class BatchEstimate(_Plain):
    """How well the gradient ĝ of a random mini-batch of ``batch_size`` estimates the full
    gradient g, over ``draws`` random batches: cosine(ĝ, g) and the relative error
    ‖ĝ − g‖ / ‖g‖ (its mean and its root mean square).  ``predicted_relative_error`` is the
    theory for the root mean square when sampling without replacement,
    √((N − B)/(B (N − 1)) · (mean ‖∇Cₓ‖² − ‖g‖²)) / ‖g‖."""

    batch_size: int
    draws: int
    mean_cosine: float
    min_cosine: float
    mean_relative_error: float
    rms_relative_error: float
    predicted_relative_error: float
    seconds_per_estimate: float


@dataclass
class AverageCheck(_Plain):
    """The mean of ``n_examples`` examples' own nudges against −∇C over the same examples
    (in float64): ``max_difference`` is max |mean nudge + ∂C/∂θ| over all parameters."""

    n_examples: int
    max_difference: float
    max_gradient: float
    seconds: float


def average_check(net: Network, X: Any, y: Any) -> AverageCheck:
    """Form every example's nudges one by one (vectorised in chunks), average them, and
    compare with the full gradient computed by matrix products."""
    work = net.astype(np.float64)
    t = time.perf_counter()
    avg = average_of_nudges(work, X, y)
    seconds = time.perf_counter() - t
    flat = full_gradient(work, X, y).flat()
    L = len(net.weights)
    diff = float(np.max(np.abs(flatten(avg[:L], avg[L:]) + flat)))
    return AverageCheck(len(X), diff, float(np.max(np.abs(flat))), seconds)


@dataclass
class AverageReport(_Plain):
    n_examples: int
    cost: float
    gradient_norm: float
    full_seconds: float
    dtype: str
    check: AverageCheck | None
    estimates: list[BatchEstimate]


def _cosine(u: np.ndarray, v: np.ndarray) -> float:
    nu, nv = np.linalg.norm(u), np.linalg.norm(v)
    return float(u @ v / (nu * nv)) if nu > 0 and nv > 0 else 0.0


def predicted_relative_error(full: Gradient, batch_size: int) -> float:
    """The expected ‖ĝ − g‖/‖g‖ (root mean square) for a mini-batch drawn without replacement."""
    N, B = full.n_examples, batch_size
    g_sq = full.norm ** 2
    spread = max(full.mean_example_norm_sq - g_sq, 0.0)
    if g_sq == 0:
        return math.inf
    factor = (N - B) / (B * (N - 1)) if N > 1 else 0.0
    return math.sqrt(factor * spread / g_sq)


def minibatch_estimates(net: Network, X: Any, y: Any,
                        batch_sizes: Sequence[int] = (1, 10, 100, 1000, 10000),
                        draws: int = 30, seed: int = 0, full: Gradient | None = None,
                        check_examples: int = 2000, dtype: Any = None) -> AverageReport:
    """The full gradient, the check that it is the average of the examples' nudges (on the
    first ``check_examples`` examples; 0 to skip), and for each batch size how well random
    mini-batches estimate the full gradient."""
    y = np.asarray(y)
    n = len(X)
    bad = [b for b in batch_sizes if not 1 <= b <= n]
    if bad:
        raise NudgeError(f"batch size {bad[0]} is not possible with {n} examples: use 1 to {n}")
    if draws < 1:
        raise NudgeError(f"the number of draws must be at least 1, got {draws}")
    work = _work_net(net, dtype)
    g = full if full is not None else full_gradient(work, X, y, dtype=dtype)
    flat = g.flat()
    check = average_check(net, X[:check_examples], y[:check_examples]) if check_examples else None
    rng = np.random.default_rng(seed)
    estimates = []
    for B in batch_sizes:
        cosines, errors, seconds = [], [], 0.0
        with single_threaded_blas():
            for _ in range(draws):
                batch = np.sort(rng.choice(n, size=B, replace=False))
                t = time.perf_counter()
                est = full_gradient(work, X[batch], y[batch], dtype=dtype)
                seconds += time.perf_counter() - t
                e = est.flat()
                cosines.append(_cosine(e, flat))
                errors.append(float(np.linalg.norm(e - flat) / np.linalg.norm(flat)))
        estimates.append(BatchEstimate(int(B), draws, float(np.mean(cosines)),
                                       float(np.min(cosines)), float(np.mean(errors)),
                                       float(np.sqrt(np.mean(np.square(errors)))),
                                       predicted_relative_error(g, int(B)), seconds / draws))
    return AverageReport(n, g.cost, g.norm, g.seconds, g.dtype, check, estimates)


# =========================================================================== 4. descent
def default_learning_rate(batch_size: int | None) -> float:
    """η for :func:`descent` when none is given: 3.0 for mini-batches (the 3b1b preset's),
    10.0 for full-batch gradient descent, whose averaged gradient is steady enough for
    bigger steps (with the quadratic cost, no ½; sigmoid networks)."""
    return 10.0 if batch_size is None else 3.0


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
    summary: str


def _run_descent(net0: Network, A: np.ndarray, Y: np.ndarray, batch_size: int | None,
                 eta: float, epochs: int, seed: int, A_mon: np.ndarray, Y_mon: np.ndarray,
                 records: int) -> DescentRun:
    net = net0.copy()
    n = len(A)
    B = n if batch_size is None else batch_size
    total = -(-n // B) * epochs
    # record at about ``records`` moments spaced evenly on a log scale of steps
    record_at = set(np.unique(np.round(np.geomspace(1, total, records))).astype(int).tolist())
    rng = np.random.default_rng(seed)
    steps, examples, seconds, costs, path = [], [], [], [], []
    done = taken = 0
    clock = 0.0

    def record() -> None:
        c = float(np.mean(net.example_costs(A_mon, Y_mon), dtype=np.float64))
        if not math.isfinite(c):
            raise NudgeError(f"{label} diverged (the cost became NaN or infinite) with "
                             f"learning rate {eta:g}: give a smaller one")
        steps.append(taken)
        examples.append(done)
        seconds.append(clock)
        costs.append(c)
        path.append(get_parameters(net))

    label = "full-batch GD" if batch_size is None else f"SGD, B={batch_size}"
    record()
    for _ in range(epochs):
        order = rng.permutation(n) if batch_size is not None else np.arange(n)
        for s in range(0, n, B):
            t = time.perf_counter()
            batch = order[s:s + B]
            Ab, Yb = (A, Y) if batch_size is None else (A[batch], Y[batch])
            activations, _, deltas = example_deltas(net, Ab, Yb)
            m = len(Ab)
            for l, delta in enumerate(deltas):              # θ ← θ − η ∂C/∂θ
                net.weights[l] -= (eta / m) * (activations[l].T @ delta).T
                net.biases[l] -= (eta / m) * delta.sum(axis=0)
            clock += time.perf_counter() - t
            taken += 1
            done += m
            if taken in record_at:
                record()
    final_cost = float(np.mean(net.example_costs(A, Y), dtype=np.float64))
    acc = float(np.mean(net.predict(A) == np.argmax(Y, axis=1)))
    return DescentRun(label, batch_size, eta, steps, examples, seconds, costs, final_cost, acc,
                      np.array(path))


def descent(net0: Network, X: Any, y: Any, batch_sizes: Sequence[int | None] = (None, 100, 10),
            epochs: int = 100, learning_rates: Sequence[float] | None = None, seed: int = 0,
            monitor: int = 2000, records: int = 60, grid: int = 21) -> DescentReport:
    """Train copies of ``net0`` with full-batch GD (batch size None) and SGD, recording the
    cost on ``monitor`` random training examples at up to ``records`` moments per run
    (spaced evenly on a log scale of steps, and before the first step); then
    project the paths on their two main directions and map the cost on that plane."""
    X = np.asarray(X)
    y = np.asarray(y)
    n = len(X)
    if epochs < 1:
        raise NudgeError(f"epochs must be at least 1, got {epochs}")
    if not batch_sizes:
        raise NudgeError("give at least one batch size")
    for B in batch_sizes:
        if B is not None and not 1 <= B <= n:
            raise NudgeError(f"batch size {B} is not possible with {n} training examples: "
                             f"use 1 to {n}, or 'full'")
    if learning_rates is None:
        learning_rates = [default_learning_rate(B) for B in batch_sizes]
    if len(learning_rates) != len(batch_sizes):
        raise NudgeError(f"{len(learning_rates)} learning rates for {len(batch_sizes)} batch "
                         "sizes: give one, or one per batch size")
    A = as_inputs(X, net0.dtype.type)
    Y = _targets(net0, y)
    rng = np.random.default_rng(seed)
    mon = np.sort(rng.choice(n, size=min(monitor, n), replace=False))
    A_mon, Y_mon = A[mon], Y[mon]
    with single_threaded_blas():
        runs = [_run_descent(net0, A, Y, B, float(eta), epochs, seed + 1, A_mon, Y_mon, records)
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
                plane[i, j] = float(np.mean(work.example_costs(A_mon, Y_mon), dtype=np.float64))

    # how much sooner: the cost the full-batch run (or else the worst run) ended at
    base = next((r for r in runs if r.batch_size is None), max(runs, key=lambda r: r.costs[-1]))
    target = max(r.costs[-1] for r in runs) if base.batch_size is not None else base.costs[-1]
    base_ex, base_s = _first_reach(base, target)
    reached = []
    for r in runs:
        ex, s = _first_reach(r, target)
        reached.append(Reached(r.label, ex, s,
                               base_ex / ex if ex and base_ex else None,
                               base_s / s if s and base_s else None))
    parts = []
    for r, rc in zip(runs, reached):
        if r is base:
            continue
        if rc.examples is None:
            parts.append(f"{r.label} never got there")
        elif rc.fewer_examples is not None and rc.less_time is not None:
            parts.append(f"{r.label} after {rc.examples:,} examples "
                         f"({rc.fewer_examples:.0f}x fewer) and {rc.seconds:.2f} s "
                         f"({rc.less_time:.0f}x sooner)")
        else:
            parts.append(f"{r.label} after {rc.examples:,} examples and {rc.seconds:.2f} s")
    summary = (f"{base.label} reached cost {target:.4f} after {base_ex:,} examples and "
               f"{base_s:.2f} s of training; " + "; ".join(parts)) if parts else (
        f"{base.label} reached cost {target:.4f} after {base_ex:,} examples")
    return DescentReport(list(net0.sizes), seed, epochs, n, len(mon), runs, target, reached,
                         explained, u, v, plane, summary)


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


# =========================================================================== 5. landscape
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
