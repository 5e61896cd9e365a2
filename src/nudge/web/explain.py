"""What the page shows about a network, as plain JSON-able data.

Arrays that can be large travel as ``{"shape": [...], "b64": ...}``: the raw
little-endian float32 bytes in base64, which the page reads straight into a
``Float32Array`` (exact; the first layer's weights of 784-16-16-10 4.0x smaller than as a
JSON list of numbers, the answer to a drawing 1.5x: ``benchmarks/web_requests.py``).
"""

from __future__ import annotations

import base64
import math
from typing import Any

import numpy as np

from ..errors import DivergenceError, NudgeError
from ..images import LAYOUTS
from ..inputs import confusion_matrix
from ..network import Network
from ..train import train


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


def finite(x: Any) -> float | None:
    """A finite number, or None for anything else (metadata is shown, never trusted)."""
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
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
        # the box a drawing's ink is fitted into (20 in 28x28), for models that read drawings
        "image_box": LAYOUTS.get(net.sizes[0], (None, None))[1],
        "dataset": md.get("dataset") if isinstance(md.get("dataset"), str) else None,
        "test_accuracy": finite(md.get("test_accuracy")),
        "epochs_trained": count(md.get("epochs_trained")),
        "n_test": count(md.get("n_test")),      # the test images test_accuracy is over
    }


def count(x: Any) -> int | None:
    """A whole number from 0 up, or None for anything else (as :func:`finite`)."""
    return int(x) if isinstance(x, (int, np.integer)) and not isinstance(x, bool) and x >= 0 \
        else None


def neuron_payload(net: Network, layer: int, index: int) -> dict[str, Any]:
    """Neuron ``index`` of layer ``layer`` (1 = first hidden layer): bias, incoming weights."""
    W, b = net.weights[layer - 1], net.biases[layer - 1]
    w = W[index]
    side = image_side(len(w)) if layer == 1 else None
    return {"layer": layer, "index": index, "bias": float(b[index]),
            "weights": pack(w.reshape(side, side) if side else w),
            "min_weight": float(w.min()), "max_weight": float(w.max())}


# --------------------------------------------------------------------------- the nudges
def nudges_payload(net: Network, x: np.ndarray, target: int) -> dict[str, Any]:
    """One example's wished-for nudges, layer by layer (from :func:`nudge.insight.example_wishes`,
    exactly the example's negative gradient), from the output layer back."""
    from ..insight import example_wishes

    w = example_wishes(net, np.asarray(x, dtype=net.dtype).reshape(-1), int(target))
    layers = []
    for lw in reversed(w.layers):                          # from the output layer back
        n_out, n_in = lw.weight_nudges.shape
        side = image_side(n_in) if lw.layer == 1 else None
        layers.append({
            "layer": lw.layer,
            "wished_activations": [float(v) for v in lw.activation_wish],
            "wished_sums": [float(v) for v in lw.sum_wish],        # −∂C/∂zˡ
            "bias_nudges": [float(v) for v in lw.bias_nudges],     # −∂C/∂bˡ
            "weight_nudges": pack(lw.weight_nudges.reshape(n_out, side, side) if side
                                  else lw.weight_nudges),         # −∂C/∂Wˡ
            "previous_nudges": pack(lw.previous_activation_wish.reshape(side, side) if side
                                    else lw.previous_activation_wish),   # −∂C/∂aˡ⁻¹
            "previous_is_input": lw.layer == 1,
        })
    return {
        "target": int(w.label), "cost": float(w.cost), "digit": int(w.predicted),
        "outputs": [float(v) for v in w.outputs], "targets": [float(v) for v in w.targets],
        "wished_outputs": [float(v) for v in w.output_wish],      # −∂C/∂aᴸ
        "layers": layers,
    }


def gradient_step(net: Network, x: np.ndarray, target: int, learning_rate: float) -> dict:
    """One step of gradient descent on a single example; the cost before and after."""
    X = np.asarray(x, dtype=net.dtype).reshape(1, -1)
    y = np.array([target])
    before = float(net.cost(X, y))
    # the trainer takes the step (one epoch of one example: θ ← θ − η ∂Cₓ/∂θ), as it takes
    # every step nudge takes
    try:
        train(net, X, y, epochs=1, batch_size=1, learning_rate=learning_rate,
              monitor_train_cost=False)
    except DivergenceError:                    # the trainer put the network back as it was
        raise NudgeError(f"a step with learning rate {learning_rate:g} makes weights NaN or "
                         "infinite: try a smaller learning rate") from None
    after = float(net.cost(X, y))
    return {"cost_before": before, "cost_after": after}


# --------------------------------------------------------------------------- mistakes
def mistakes(net: Network, X: np.ndarray, y: np.ndarray, label: int | None = None,
             predicted: int | None = None, limit: int = 48, chunk: int = 2000) -> dict[str, Any]:
    """The confusion matrix over (X, y) (rows: label, columns: the network's answer) and
    the misclassified examples (only those with ``label`` / read as ``predicted`` when
    given), the most confident mistakes first, with their pictures (uint8, base64)."""
    k = net.sizes[-1]
    pred = np.empty(len(X), dtype=np.int64)
    top = np.empty(len(X), dtype=np.float32)
    for a in range(0, len(X), chunk):
        out = net.feedforward(X[a:a + chunk])
        pred[a:a + chunk] = np.argmax(out, axis=1)
        top[a:a + chunk] = np.max(out, axis=1)
    y = np.asarray(y, dtype=np.int64)
    confusion = confusion_matrix(y, pred, k)
    wrong = pred != y
    if label is not None:
        wrong &= y == label
    if predicted is not None:
        wrong &= pred == predicted
    idx = np.flatnonzero(wrong)
    idx = idx[np.argsort(-top[idx], kind="stable")][:limit]
    pixels = np.asarray(X[idx])
    if pixels.dtype != np.uint8:
        pixels = np.clip(np.rint(pixels * 255), 0, 255).astype(np.uint8)
    side = image_side(X.shape[1])
    return {
        "n": int(len(X)), "accuracy": float(np.mean(pred == y)) if len(X) else None,
        "confusion": confusion.tolist(), "wrong": int(np.sum(wrong)),
        "mistakes": [{"index": int(i), "label": int(y[i]), "predicted": int(pred[i]),
                      "output": float(top[i])} for i in idx],
        "images": {"shape": [len(idx), side or X.shape[1]] + ([side] if side else []),
                   "b64": base64.b64encode(pixels.tobytes()).decode("ascii")},
    }


# --------------------------------------------------------------------------- sensitivity
def sensitivity_payload(net: Network, X: np.ndarray, y: np.ndarray, top: int = 20,
                        maps: int = 16) -> dict[str, Any]:
    """The gradient of the average cost over (X, y) read as sensitivities
    (:func:`nudge.insight.sensitivity`): the ``top`` parameters with the largest
    |∂C/∂θ| (named, with sign), each layer's share of the squared gradient, and
    |∂C/∂w| of the first layer as one picture per hidden neuron (the first ``maps``)."""
    from .. import insight

    g = insight.full_gradient(net, X, y)
    s = insight.sensitivity(net, X, y, k=top, gradient=g)
    shares: dict[int, dict[str, Any]] = {}
    for ls in s.layers:
        entry = shares.setdefault(ls.layer, {"layer": ls.layer, "max_abs": 0.0})
        entry[f"{ls.kind}_share"] = ls.share_of_squared
        entry["max_abs"] = max(entry["max_abs"], ls.max_abs)
    g1 = np.abs(g.weights[0][:maps])
    side = image_side(g1.shape[1])
    return {
        "examples": int(s.n_examples), "n_parameters": int(s.n_parameters),
        "cost": float(s.cost), "gradient_norm": float(s.gradient_norm),
        "top": [{"name": p.name, "layer": p.layer, "kind": p.kind, "index": p.index,
                 "gradient": p.gradient, "direction": p.direction} for p in s.top],
        "top1_percent_share": float(s.top_percent_share),
        "layers": [shares[k] for k in sorted(shares)],
        "first_layer_maps": pack(g1.reshape(len(g1), side, side) if side else g1),
    }
