"""Routes about the model in use: its state, predictions, its insides, nudges, sensitivity."""

from __future__ import annotations

import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ...network import ACTIVATIONS, Network
from ...optimizers import OPTIMIZERS
from ...presets import PRESETS
from ...schedules import FIXED_SCHEDULES
from .. import explain
from ..state import WebState
from ..validation import LIMITS, allowed, bad, get_float, get_int, query_int, read_json
from .common import WEIGHT_PICTURES, input_from, limits, reply, web

PRESET_FIELDS = ("sizes", "activation", "output", "cost", "epochs", "batch_size",
                 "learning_rate", "schedule", "min_learning_rate", "weight_decay",
                 "description")


async def get_state(request: Request) -> Response:
    state = web(request)
    data_info = await run_in_threadpool(state.data_info)
    presets = {k: {key: v.get(key) for key in PRESET_FIELDS} for k, v in PRESETS.items()}
    saved = await limits(request).run("files", state.saved_listing)
    return reply({                  # the models as they are now, after the waits above
        "server": request.app.state.server_id,
        "model": state.model_info(), "models": state.models(),
        "training": state.job.summary() if state.job else None,
        "dataset": data_info, "presets": presets, "limits": LIMITS,
        "activations": list(ACTIVATIONS), "optimizers": list(OPTIMIZERS),
        "schedules": list(FIXED_SCHEDULES), **saved,
    })


def _predict(state: WebState, net: Network, data: dict[str, Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    x, _ = input_from(state, net, data)
    payload = explain.forward_payload(net, x)
    payload["ms"] = (time.perf_counter() - t0) * 1000
    return payload


async def predict(request: Request) -> Response:
    """The answer for a drawing (decoded, prepared and read in a worker thread)."""
    state = web(request)
    data = await read_json(request)
    allowed(data, {"image"})
    net = state.require_net()
    return reply(await limits(request).run("light", _predict, state, net, data))


async def example(request: Request) -> Response:
    state = web(request)
    net = state.require_net()
    split = request.query_params.get("split", "test")
    if split not in ("train", "test"):
        raise bad("split must be train or test")
    index = query_int(request, "index", 0, 10**7)
    x, label = await limits(request).run("light", state.example, net, split, index)
    payload = explain.forward_payload(net, x)
    payload.update(label=label, split=split, index=index)
    return reply(payload)


async def neuron(request: Request) -> Response:
    net = web(request).require_net()
    layer = query_int(request, "layer", 1, len(net.weights))
    index = query_int(request, "index", 0, net.sizes[layer] - 1)
    return reply(explain.neuron_payload(net, layer, index))


async def weights(request: Request) -> Response:
    net = web(request).require_net()
    layer = query_int(request, "layer", 1, len(net.weights))
    W, b = net.weights[layer - 1], net.biases[layer - 1]
    return reply({"layer": layer, "weights": explain.pack(W),
                  "biases": [float(v) for v in b]})


async def nudges(request: Request) -> Response:
    state = web(request)
    data = await read_json(request)
    allowed(data, {"image", "example", "target"})
    net = state.require_net()
    x, label = await limits(request).run("light", input_from, state, net, data)
    target = get_int(data, "target", 0, net.sizes[-1] - 1, label if label is not None else ...)
    payload = await limits(request).run("light", explain.nudges_payload, net, x, target)
    payload.update(input=explain.pack(x), label=label)
    return reply(payload)


async def nudge_step(request: Request) -> Response:
    """One gradient step on one example, by hand; the model is then re-measured on the
    first 1,000 test images and marked as modified (see /api/nudges/undo)."""
    state = web(request)
    data = await read_json(request)
    allowed(data, {"image", "example", "target", "learning_rate"})
    net = state.require_net()
    state.require_idle("change the model by hand")
    x, label = await limits(request).run("light", input_from, state, net, data)
    target = get_int(data, "target", 0, net.sizes[-1] - 1, label if label is not None else ...)
    lr = get_float(data, "learning_rate", *LIMITS["step_learning_rate"], 3.0)
    result = await limits(request).run("light", state.hand_step, net, x, target, lr)
    result.update(explain.nudges_payload(net, x, target))
    result.update(input=explain.pack(x), label=label, learning_rate=lr,
                  model=state.model_info())
    return reply(result)


async def nudge_undo(request: Request) -> Response:
    """Undo the last hand step (``{"all": true}``: all of them)."""
    state = web(request)
    data = await read_json(request)
    allowed(data, {"all"})
    everything = data.get("all", False)
    if not isinstance(everything, bool):
        raise bad("all must be true or false")
    state.require_idle("undo a hand step")
    await run_in_threadpool(state.undo, everything)
    return reply({"ok": True, "model": state.model_info()})


async def mistakes(request: Request) -> Response:
    """The confusion matrix over the test set and its misclassified images."""
    state = web(request)
    net = state.require_net()
    k = net.sizes[-1]
    label = query_int(request, "label", 0, k - 1, None)
    predicted = query_int(request, "predicted", 0, k - 1, None)
    limit = query_int(request, "limit", *LIMITS["mistakes"], 48)
    data = await run_in_threadpool(state.data_for, net)
    t0 = time.perf_counter()
    payload = await limits(request).run("heavy", explain.mistakes, net, data.X_test,
                                        data.y_test, label, predicted, limit)
    payload.update(ms=(time.perf_counter() - t0) * 1000, label=label, predicted=predicted)
    return reply(payload)


async def sensitivity(request: Request) -> Response:
    state = web(request)
    net = state.require_net()
    n = query_int(request, "examples", *LIMITS["sensitivity_examples"], 10000)
    top = query_int(request, "top", *LIMITS["top"], 20)
    data = await run_in_threadpool(state.data_for, net)
    n = min(n, len(data.X_train))
    t0 = time.perf_counter()
    payload = await limits(request).run("heavy", explain.sensitivity_payload, net,
                                        data.X_train[:n], data.y_train[:n], top,
                                        WEIGHT_PICTURES)
    payload["ms"] = (time.perf_counter() - t0) * 1000
    return reply(payload)
