"""What the page shows about a network, as plain JSON-able data.

Arrays that can be large travel as ``{"shape": [...], "b64": ...}``: the raw
little-endian float32 bytes in base64, which the page reads straight into a
``Float32Array`` (exact, and 3-4x smaller than a JSON list of numbers).
"""

from __future__ import annotations

import base64
import math
from typing import Any

import numpy as np

from ..network import Network


def pack(arr: Any) -> dict[str, Any]:
    """A float array as ``{"shape", "b64"}`` (float32, little-endian, C order)."""
    a = np.ascontiguousarray(np.asarray(arr, dtype="<f4"))
    return {"shape": list(a.shape), "b64": base64.b64encode(a.tobytes()).decode("ascii")}


def pack_weights_u8(W: np.ndarray) -> dict[str, Any]:
    """Rows of weights as bytes for pictures: 128 is 0, each row scaled by its largest |w|.

    ``scale[i]`` recovers row i: w = (byte - 128) / 127 * scale[i].
    """
    W = np.asarray(W, dtype=np.float32)
    scale = np.abs(W).max(axis=1)
    safe = np.where(scale > 0, scale, 1)
    q = np.clip(np.rint(W / safe[:, None] * 127) + 128, 1, 255).astype(np.uint8)
    return {"shape": list(W.shape), "scale": [float(s) for s in scale],
            "b64": base64.b64encode(q.tobytes()).decode("ascii")}


def finite(x: float | None) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def image_side(n_inputs: int) -> int | None:
    """The side of the square input image (28 for 784 inputs), or None if not square."""
    side = int(round(math.sqrt(n_inputs)))
    return side if side * side == n_inputs else None


def forward_payload(net: Network, x: np.ndarray) -> dict[str, Any]:
    """Every layer's weighted sums and activations for one input, and the prediction."""
    activations, zs = net.forward(np.asarray(x, dtype=np.float32).reshape(1, -1))
    out = activations[-1][0]
    return {
        "input": pack(activations[0][0]),
        "activations": [[float(v) for v in a[0]] for a in activations[1:]],
        "sums": [[float(v) for v in z[0]] for z in zs],
        "outputs": [float(v) for v in out],
        "digit": int(np.argmax(out)),
    }


def model_payload(net: Network) -> dict[str, Any]:
    md = net.metadata or {}
    return {
        "sizes": list(net.sizes), "activation": net.activation, "output": net.output,
        "cost": net.cost_function, "n_parameters": net.n_parameters,
        "image_side": image_side(net.sizes[0]),
        "dataset": md.get("dataset"), "test_accuracy": finite(md.get("test_accuracy")),
        "epochs_trained": md.get("epochs_trained"),
    }


def neuron_payload(net: Network, layer: int, index: int) -> dict[str, Any]:
    """Neuron ``index`` of layer ``layer`` (1 = first hidden layer): bias, incoming weights."""
    W, b = net.weights[layer - 1], net.biases[layer - 1]
    w = W[index]
    side = image_side(len(w)) if layer == 1 else None
    return {"layer": layer, "index": index, "bias": float(b[index]),
            "weights": pack(w.reshape(side, side) if side else w),
            "min_weight": float(w.min()), "max_weight": float(w.max())}


def parameter_name(net: Network, layer: int, kind: str, flat: int) -> str:
    """A readable name, e.g. 'layer 1 weight from pixel (row 12, col 7) to hidden neuron 3'."""
    last = len(net.weights)
    target = "output" if layer == last else "hidden neuron"
    if kind == "bias":
        return f"layer {layer} bias of {target} {flat}"
    n_in = net.sizes[layer - 1]
    j, k = divmod(flat, n_in)
    if layer == 1:
        side = image_side(n_in)
        source = (f"input pixel (row {k // side}, col {k % side})" if side
                  else f"input {k}")
    else:
        source = f"hidden neuron {k} of layer {layer - 1}"
    return f"layer {layer} weight from {source} to {target} {j}"


# --------------------------------------------------------------------------- the nudges
def output_cost_gradient(net: Network, a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """∂Cₓ/∂aᴸ: how the cost changes with each output activation."""
    if net.cost_function == "quadratic":
        return 2 * (a - y)
    eps = np.finfo(a.dtype).tiny
    if net.output == "sigmoid":                       # −Σ [y ln a + (1−y) ln(1−a)]
        return (a - y) / np.maximum(a * (1 - a), eps)
    return -y / np.maximum(a, eps)                    # −Σ y ln a


def example_nudges(net: Network, x: np.ndarray, target: int) -> dict[str, Any]:
    """One example's wished-for nudges, layer by layer: exactly its negative gradient.

    Computed with the network's own forward pass and output error, then the
    chain rule one layer back at a time (the tests check it equals
    ``Network.backprop`` for this one example).
    """
    from ..network import activation_prime, desired_outputs

    X = np.asarray(x, dtype=net.dtype).reshape(1, -1)
    activations, zs = net.forward(X)
    y = desired_outputs(np.array([target]), net.sizes[-1], net.dtype.type)
    a_out = activations[-1]
    cost = float(net.example_costs(X, np.array([target]))[0])
    delta = net.output_error(a_out, y)
    layers = []
    for l in range(len(net.weights) - 1, -1, -1):
        W = net.weights[l]
        d = delta[0]
        prev_grad = (delta @ W)[0]                         # ∂C/∂aˡ⁻¹ = Wᵀ δˡ
        weight_nudge = -np.outer(d, activations[l][0])     # −∂C/∂W = −δ (aˡ⁻¹)ᵀ
        side = image_side(W.shape[1]) if l == 0 else None
        layers.append({
            "layer": l + 1,
            "wished_sums": [float(v) for v in -d],         # −∂C/∂zˡ
            "bias_nudges": [float(v) for v in -d],         # −∂C/∂bˡ = −δˡ
            "weight_nudges": pack(weight_nudge.reshape(W.shape[0], side, side) if side
                                  else weight_nudge),
            "previous_nudges": pack(-prev_grad.reshape(side, side) if side else -prev_grad),
            "previous_is_input": l == 0,
            "activations_in": pack(activations[l][0]),
        })
        if l > 0:
            delta = (delta @ W) * activation_prime(net.activation, zs[l - 1], activations[l])
    out = a_out[0]
    return {
        "target": int(target), "cost": cost, "digit": int(np.argmax(out)),
        "outputs": [float(v) for v in out], "targets": [float(v) for v in y[0]],
        "wished_outputs": [float(v) for v in -output_cost_gradient(net, a_out, y)[0]],
        "layers": layers,                                  # from the output layer back
    }


def gradient_step(net: Network, x: np.ndarray, target: int, learning_rate: float) -> dict:
    """One step of gradient descent on a single example; the cost before and after."""
    X = np.asarray(x, dtype=net.dtype).reshape(1, -1)
    y = np.array([target])
    before = float(net.cost(X, y))
    net.update_mini_batch(X, y, learning_rate)
    after = float(net.cost(X, y))
    return {"cost_before": before, "cost_after": after}


# --------------------------------------------------------------------------- sensitivity
def sensitivity(net: Network, X: np.ndarray, y: np.ndarray, top: int = 20,
                maps: int = 16) -> dict[str, Any]:
    """The gradient of the average cost over (X, y), ranked by size.

    Returns the ``top`` parameters with the largest |∂C/∂θ| (named, with sign),
    each layer's share of the total squared gradient, and |∂C/∂w| of the first
    layer as one picture per hidden neuron (the first ``maps`` of them).
    """
    grad_w, grad_b = net.backprop(X, y)
    flat, names = [], []
    for l, (gw, gb) in enumerate(zip(grad_w, grad_b), start=1):
        flat.append(gw.ravel())
        names.append((l, "weight", gw.size))
        flat.append(gb.ravel())
        names.append((l, "bias", gb.size))
    g = np.concatenate(flat).astype(np.float64)
    sum_sq = float(np.sum(g * g))
    total_sq = sum_sq or 1.0
    order = np.argsort(-np.abs(g), kind="stable")[:top]
    offsets = np.cumsum([0] + [n for _, _, n in names])
    ranked = []
    for i in order:
        part = int(np.searchsorted(offsets, i, side="right") - 1)
        layer, kind, _ = names[part]
        local = int(i - offsets[part])
        ranked.append({"name": parameter_name(net, layer, kind, local), "layer": layer,
                       "kind": kind, "index": local, "gradient": float(g[i]),
                       "value": float((net.weights if kind == "weight" else net.biases)
                                      [layer - 1].ravel()[local])})
    top1 = max(1, g.size // 100)
    top1_share = float(np.sum(np.sort(g * g)[-top1:]) / total_sq)
    layers = [{"layer": l, "weights_share": float(np.sum(gw.astype(np.float64) ** 2) / total_sq),
               "biases_share": float(np.sum(gb.astype(np.float64) ** 2) / total_sq),
               "max_abs": float(max(np.abs(gw).max(), np.abs(gb).max()))}
              for l, (gw, gb) in enumerate(zip(grad_w, grad_b), start=1)]
    g1 = np.abs(grad_w[0][:maps])
    side = image_side(g1.shape[1])
    return {
        "examples": int(len(X)), "n_parameters": int(g.size),
        "gradient_norm": math.sqrt(sum_sq), "top": ranked, "top1_percent_share": top1_share,
        "layers": layers,
        "first_layer_maps": pack(g1.reshape(len(g1), side, side) if side else g1),
    }
