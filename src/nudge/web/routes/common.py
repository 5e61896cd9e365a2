"""What the route handlers share: the server's state, JSON responses, the input a request names."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import JSONResponse

from ...errors import NudgeError
from ...network import Network
from ..limits import Limits
from ..state import WebState
from ..validation import ApiError, allowed, bad, decode_drawing, get_choice, get_int

WEIGHT_PICTURES = 16              # first-layer neurons shown while training and in maps


def web(request: Request) -> WebState:
    """The server's :class:`WebState` (one per app)."""
    return request.app.state.web


def limits(request: Request) -> Limits:
    """The app's bounds on concurrent work (:mod:`nudge.web.limits`)."""
    return request.app.state.limits


def reply(data: Any, status: int = 200) -> JSONResponse:
    try:
        return JSONResponse(data, status_code=status)
    except (ValueError, TypeError):           # NaN, infinity or a NumPy scalar somewhere
        return JSONResponse(json_safe(data), status_code=status)


def dumps(value: Any) -> str:
    """``value`` as JSON text (see :func:`json_safe`); the common case is not walked."""
    try:
        return json.dumps(value, allow_nan=False)
    except (ValueError, TypeError):
        return json.dumps(json_safe(value), allow_nan=False)


def json_safe(value: Any) -> Any:
    """``value`` for JSON: NumPy scalars as Python numbers, and NaN or infinite numbers (a
    diverged network's cost, say) as null, which JSON has instead."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return json_safe(value.item())
    return value


def input_from(state: WebState, net: Network, data: dict[str, Any]) -> tuple[np.ndarray, Any]:
    """The network input named by a request: a drawing, or an example of the dataset
    (with its label; None for a drawing)."""
    from ...images import layout_for, prepare

    if "image" in data:
        if "example" in data:
            raise bad("give either image or example, not both")
        side, box = layout_for(net.sizes[0])
        try:
            x = prepare(decode_drawing(data["image"]), side, box).reshape(-1)
        except NudgeError as e:
            raise ApiError(422, str(e)) from None
        return x, None
    example = data.get("example")
    if not isinstance(example, dict):
        raise bad("give image (a PNG data URL of the drawing) or example "
                  "({\"split\": \"train\"|\"test\", \"index\": N})")
    allowed(example, {"split", "index"})
    split = get_choice(example, "split", ("train", "test"))
    index = get_int(example, "index", 0, 10**7)
    return state.example(net, split, index)
