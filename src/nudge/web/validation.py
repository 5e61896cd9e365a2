"""Checking what a request sends before anything is computed.

JSON bodies only (so another web site cannot post to the server with a plain
form), at most :data:`MAX_BODY` bytes, every field of the right type, range and
size, no NaN; drawings are PNG data URLs of bounded size.  A failed check is an
:class:`ApiError` with the HTTP status and a one-line message for the page.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import json
import math
import re
from typing import Any

import numpy as np
from starlette.requests import ClientDisconnect, Request

from ..bounds import MAX_SEED
from ..errors import printable, short_repr
from ..optimizers import MAX_WEIGHT_DECAY

MAX_BODY = 1_000_000              # bytes in a request body
BODY_SECONDS = 30.0               # the longest a request body may take to arrive
MAX_IMAGE_BYTES = 600_000         # bytes of PNG in a drawing
MAX_IMAGE_SIDE = 1024             # pixels
#: a saved model's name (matched whole): not a device name of Windows, where CON.safetensors
#: is the console, not a file
SAVE_NAME = re.compile(r"(?!(?i:con|prn|aux|nul|com[0-9]|lpt[0-9])\Z)"
                       r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
LIMITS = {
    "epochs": (1, 100), "batch_size": (1, 10000), "learning_rate": (1e-6, 100.0),
    "hidden_layers": (0, 4), "hidden_size": (1, 512), "train_examples": (10, 60000),
    "test_examples": (0, 10000), "sensitivity_examples": (1, 60000), "top": (1, 200),
    "seed": (0, MAX_SEED), "step_learning_rate": (1e-6, 100.0),
    "min_learning_rate": (0.0, 100.0), "weight_decay": (0.0, MAX_WEIGHT_DECAY),
    "examples_per_second": (1.0, 1e9), "mistakes": (1, 200),
    "descent_epochs": (1, 1000), "descent_runs": (1, 4), "descent_hidden_size": (1, 32),
}


class ApiError(Exception):
    """A request the server refuses: ``status`` (HTTP) and ``message`` (for the page).

    The message is :func:`nudge.errors.printable`: what it quotes of the request (a field's
    name) may hold a lone surrogate (``"\\ud800"`` is valid JSON), which UTF-8 cannot
    encode, or control characters."""

    def __init__(self, status: int, message: str) -> None:
        message = printable(message)
        super().__init__(message)
        self.status = status
        self.message = message


def bad(message: str) -> ApiError:
    return ApiError(400, message)


def conflict(message: str) -> ApiError:
    return ApiError(409, message)


def declared_length(text: str | None) -> int | None:
    """A Content-Length header's bytes, or None when it is absent or not a whole number
    (ASCII digits only: "²" is a digit to ``str.isdigit`` but not to ``int``).  A number
    of more than 18 digits is 10**18, more than any body taken (``int`` refuses more than
    4,300 digits with a ValueError)."""
    if text is None or not (text.isascii() and text.isdigit()):
        return None
    digits = text.lstrip("0")
    return int(digits or "0") if len(digits) <= 18 else 10**18


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


async def read_json(request: Request) -> dict[str, Any]:
    """The request body as a JSON object: type, size and content checked."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise ApiError(415, "send the request body as JSON (Content-Type: application/json)")
    declared = request.headers.get("content-length")
    if declared is not None:
        length = declared_length(declared)
        if length is None:
            raise bad("invalid Content-Length")
        if length > MAX_BODY:
            raise ApiError(413, f"request body too large (at most {MAX_BODY:,} bytes)")

    async def whole() -> bytearray:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                raise ApiError(413, f"request body too large (at most {MAX_BODY:,} bytes)")
        return body

    try:                                   # a body sent slowly, or never, is not waited for
        body = await asyncio.wait_for(whole(), BODY_SECONDS)
    except asyncio.TimeoutError:
        raise ApiError(408, f"the request body did not arrive within {BODY_SECONDS:g} s"
                       ) from None
    except ClientDisconnect:   # the client hung up, or uvicorn on a malformed chunk: no bug
        raise bad("the connection closed before the request body was whole: send all "
                  "of it") from None
    try:
        data = json.loads(body or b"{}", parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        raise bad(f"the body is not valid JSON ({e.msg} at line {e.lineno}, column "
                  f"{e.colno})") from None
    except UnicodeDecodeError:
        raise bad("the body is not valid JSON: it is not UTF-8 text") from None
    except RecursionError:
        raise bad("the body is not valid JSON that nudge reads: it is nested too deeply"
                  ) from None
    except ValueError as e:                  # NaN, Infinity (_reject_constant)
        raise bad(f"the body is not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise bad("the body must be a JSON object")
    return data


def allowed(data: dict[str, Any], keys: set[str]) -> None:
    extra = set(data) - keys
    if extra:
        raise bad(f"unknown field{'s' if len(extra) > 1 else ''}: "
                  f"{', '.join(sorted(map(str, extra)))[:200]}")


def get_int(data: dict[str, Any], key: str, lo: int | float, hi: int | float,
            default: Any = ...) -> Any:
    """``data[key]`` as a whole number from lo to hi; ``default`` when the key is absent
    (``...``: required).  The bounds are typed ``int | float`` because they come from
    :data:`LIMITS`, whose rows mix the two (the whole-number rows hold ints)."""
    if key not in data:
        if default is ...:
            raise bad(f"{key} is required")
        return default
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise bad(f"{key} must be a whole number from {lo} to {hi}, got "
                      f"{short_repr(value)}")
    if not lo <= value <= hi:
        raise bad(f"{key} must be from {lo} to {hi}")
    return value


def get_float(data: dict[str, Any], key: str, lo: float, hi: float, default: Any = ...) -> Any:
    if key not in data:
        if default is ...:
            raise bad(f"{key} is required")
        return default
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad(f"{key} must be a number")
    value = float(value) if isinstance(value, float) or abs(value) < 2**53 else math.inf
    if not math.isfinite(value) or not lo <= value <= hi:
        raise bad(f"{key} must be a number from {lo:g} to {hi:g}")
    return value


def get_choice(data: dict[str, Any], key: str, choices: Any, default: Any = ...) -> Any:
    if key not in data:
        if default is ...:
            raise bad(f"{key} is required")
        return default
    value = data[key]
    if value not in choices or isinstance(value, bool):
        raise bad(f"{key} must be one of: {', '.join(map(str, choices))}")
    return value


def query_int(request: Request, key: str, lo: int | float, hi: int | float,
              default: Any = ...) -> Any:
    """The query parameter ``key`` as a whole number from lo to hi; ``default`` when it is
    absent (``...``: required)."""
    text = request.query_params.get(key)
    if text is None:
        if default is ...:
            raise bad(f"{key} is required")
        return default
    if not re.fullmatch(r"-?[0-9]{1,9}", text):          # not \d: that takes ٣ for 3
        raise bad(f"{key} must be a whole number from {lo} to {hi}, got "
                  f"{short_repr(text)}")
    value = int(text)
    if not lo <= value <= hi:
        raise bad(f"{key} must be from {lo} to {hi}")
    return value


def check_speed(speed: float | None, batch_size: int) -> None:
    """A speed limit of at least one mini-batch a second (so a pause is honoured within
    about a second)."""
    if speed is not None and speed < batch_size:
        raise bad(f"examples_per_second must be at least the batch size ({batch_size}): "
                  "one mini-batch a second; use step for one mini-batch at a time")


PNG_PREFIX = "data:image/png;base64,"


def decode_drawing(value: Any) -> np.ndarray:
    """A PNG data URL (the canvas) as grayscale in [0, 1], as ``nudge predict`` reads files."""
    from PIL import Image, UnidentifiedImageError

    from ..images import to_gray

    if not isinstance(value, str) or not value.startswith(PNG_PREFIX):
        raise bad("image must be a PNG data URL (data:image/png;base64,...)")
    if len(value) > MAX_IMAGE_BYTES * 4 // 3 + len(PNG_PREFIX) + 4:
        raise ApiError(413, f"image too large (at most {MAX_IMAGE_BYTES:,} bytes of PNG)")
    try:
        raw = base64.b64decode(value[len(PNG_PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        raise bad("image is not valid base64") from None
    try:
        with Image.open(io.BytesIO(raw), formats=["PNG"]) as img:
            w, h = img.size
            if not (8 <= w <= MAX_IMAGE_SIDE and 8 <= h <= MAX_IMAGE_SIDE):
                raise bad(f"image must be from 8x8 to {MAX_IMAGE_SIDE}x{MAX_IMAGE_SIDE} "
                          f"pixels, got {w}x{h}")
            img.load()
            return to_gray(img)
    except ApiError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
            Image.DecompressionBombError):
        raise bad("image is not a readable PNG") from None

