"""θ as one flat vector, and the names of its entries ("layer 1 weight from ... to ...")."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..bounds import check_choice, check_count
from ..errors import NudgeError, short_repr
from ..network import Network
from .common import _Plain


def get_parameters(net: Network) -> np.ndarray:
    """θ: all weights and biases in one flat float64 vector (W1, b1, W2, b2, ...)."""
    return flatten(net.weights, net.biases)


def unflatten(net: Network, theta: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Split a flat vector laid out like θ into arrays shaped like the weights and biases."""
    theta = np.asarray(theta)
    if theta.dtype.kind not in "biuf":
        raise NudgeError(f"a parameter vector must hold numbers, got an array of {theta.dtype}")
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
    check_choice("kind", kind, ("weight", "bias"))
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
    if source is None or not 0 <= source < n_in:
        raise NudgeError(f"layer {layer}'s weights come from {n_in} neurons of layer "
                         f"{layer - 1}, numbered 0 to {n_in - 1}; there is no {source}")
    frm = _neuron_label(net, layer - 1, source, shape)
    return Parameter("weight", layer, neuron, source, w_at + neuron * n_in + source,
                     f"layer {layer} weight from {frm} to {to}")


def locate(net: Network, index: int, image_shape: tuple[int, int] | None = None) -> Parameter:
    """The parameter at position ``index`` of θ (an int from 0), with its readable name."""
    index = check_count("parameter index", index, 0, most=None)
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
#: characters in a parameter's name (the longest nudge writes is about 90)
MAX_NAME = 200


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
    if len(str(text)) > MAX_NAME:
        raise NudgeError(f"{short_repr(text)}: a parameter's name is at most {MAX_NAME} "
                         "characters")
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
