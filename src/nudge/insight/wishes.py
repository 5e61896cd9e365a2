"""One example's wishes: the chain of nudges it wants, layer by layer, as in the video
(``nudge nudges``, the second of the five views of docs/insight)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..bounds import SPLITS, check_choice, check_count
from ..errors import NudgeError
from ..network import Network, check_network
from .common import _Plain
from .parameters import _image_shape, flatten


def output_cost_gradient(net: Network, a: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """∂Cₓ/∂aᴸ for each row (:meth:`Network.output_cost_gradient`)."""
    return net.output_cost_gradient(a, Y)


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
    """The chain of the video for one example: outputs vs desired outputs, then each layer's wishes.
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
    """Follow one example's wishes from the outputs back to the first layer (``split``:
    where the example comes from, ``"train"`` or ``"test"``)."""
    check_network(net, finite=True)          # NaN weights: NaN wishes, not an answer
    split = check_choice("split", split, SPLITS)
    index = None if index is None else check_count("index", index, least=0, most=None)
    x = np.asarray(x)
    if x.ndim != 1 or x.size != net.sizes[0]:
        fix = f": give x.reshape({net.sizes[0]})" if x.size == net.sizes[0] else ""
        raise NudgeError(f"one example is a row of {net.sizes[0]} values, got shape "
                         f"{x.shape}{fix}")
    y = np.asarray([label]) if np.ndim(label) == 0 else np.asarray(label)[None, :]
    activations, zs, deltas = net.deltas(x[None, :], y)
    Y = net.desired_outputs(y)
    a_out = activations[-1][0]
    wish = -net.output_cost_gradient(activations[-1], Y)[0]
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
