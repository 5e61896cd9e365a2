"""The web page's server: a small Starlette app over nudge's library.

``create_app(model_path=None, save_dir=None, dataset="auto", data_dir=None)``
returns the ASGI app; ``nudge serve`` runs it with uvicorn on 127.0.0.1.

Every request is checked before anything is computed: JSON bodies only (so
another web site cannot post to it with a plain form), at most
``MAX_BODY`` bytes, every field of the right type, range and size, no NaN.
The client never names a file: models are saved under names checked against
a strict pattern into the one folder given on the command line, and only
files listed from that folder can be loaded back.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import io
import json
import math
import re
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import NudgeError
from ..network import ACTIVATIONS, Network
from ..optimizers import OPTIMIZERS
from ..presets import PRESETS
from ..settings import resolve
from ..train import SCHEDULES
from . import explain
from .training import TrainingJob, TrainingSettings

STATIC_DIR = Path(__file__).parent / "static"
MAX_BODY = 1_000_000              # bytes in a request body
MAX_IMAGE_BYTES = 600_000         # bytes of PNG in a drawing
MAX_IMAGE_SIDE = 1024             # pixels
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "::1", "[::1]"]
STREAM_INTERVAL = 0.05            # seconds between two stream updates (20 per second)
WEIGHT_PICTURES = 16              # first-layer neurons shown while training
SAVE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
LIMITS = {
    "epochs": (1, 100), "batch_size": (1, 10000), "learning_rate": (1e-6, 100.0),
    "hidden_layers": (0, 4), "hidden_size": (1, 512), "train_examples": (10, 60000),
    "test_examples": (0, 10000), "sensitivity_examples": (1, 60000), "top": (1, 200),
    "seed": (0, 2**31 - 1), "step_learning_rate": (1e-6, 100.0),
    "min_learning_rate": (0.0, 100.0), "weight_decay": (0.0, 1.0),
    "examples_per_second": (1.0, 1e9),
}
SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
     b"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
     b"form-action 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


# =========================================================================== errors
class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def bad(message: str) -> ApiError:
    return ApiError(400, message)


def conflict(message: str) -> ApiError:
    return ApiError(409, message)


# =========================================================================== validation
def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


async def read_json(request: Request) -> dict[str, Any]:
    """The request body as a JSON object: type, size and content checked."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise ApiError(415, "send the request body as JSON (Content-Type: application/json)")
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise bad("invalid Content-Length")
        if int(declared) > MAX_BODY:
            raise ApiError(413, f"request body too large (at most {MAX_BODY:,} bytes)")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise ApiError(413, f"request body too large (at most {MAX_BODY:,} bytes)")
    try:
        data = json.loads(body or b"{}", parse_constant=_reject_constant)
    except (ValueError, RecursionError) as e:
        raise bad(f"the body is not valid JSON ({str(e)[:80]})") from None
    if not isinstance(data, dict):
        raise bad("the body must be a JSON object")
    return data


def _allowed(data: dict[str, Any], keys: set[str]) -> None:
    extra = set(data) - keys
    if extra:
        raise bad(f"unknown field{'s' if len(extra) > 1 else ''}: "
                  f"{', '.join(sorted(map(str, extra)))[:200]}")


def get_int(data: dict[str, Any], key: str, lo: int, hi: int, default: Any = ...) -> Any:
    """``data[key]`` as a whole number from lo to hi; ``default`` when the key is absent
    (``...``: required)."""
    if key not in data:
        if default is ...:
            raise bad(f"{key} is required")
        return default
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise bad(f"{key} must be a whole number")
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
    value = float(value)
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


def query_int(request: Request, key: str, lo: int, hi: int, default: int | None = None) -> int:
    text = request.query_params.get(key)
    if text is None:
        if default is None:
            raise bad(f"{key} is required")
        return default
    if not re.fullmatch(r"-?\d{1,9}", text):
        raise bad(f"{key} must be a whole number")
    value = int(text)
    if not lo <= value <= hi:
        raise bad(f"{key} must be from {lo} to {hi}")
    return value


def _check_speed(speed: float | None, batch_size: int) -> None:
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


# =========================================================================== state
class WebState:
    """The models, the dataset and the training run the page works with."""

    def __init__(self, model_path: str | Path | None = None, save_dir: str | Path | None = None,
                 dataset: str = "auto", data_dir: str | Path | None = None) -> None:
        from ..modelfile import load

        self.dataset_name = dataset
        self.data_dir = data_dir
        self._data: Any = None
        self._data_error: str | None = None
        self._data_lock = threading.Lock()
        self.lock = threading.RLock()
        self.save_dir = Path(save_dir).resolve() if save_dir else None
        if self.save_dir is not None and not self.save_dir.is_dir():
            raise NudgeError(f"--save-dir {save_dir}: no such folder; create it first")
        self.file_net: Network | None = None
        self.file_label: str | None = None
        if model_path is not None:
            self.file_net = load(model_path)
            self.file_label = Path(model_path).name
        self.page_net: Network | None = None
        self.net: Network | None = None
        self.source: str | None = None
        self.version = 0
        self.job: TrainingJob | None = None
        if self.file_net is not None:
            self.use("file")

    # ------------------------------------------------------------------ models
    def use(self, source: str) -> None:
        if source == "file":
            if self.file_net is None:
                raise conflict("no model was given on the command line (nudge serve --model "
                               "FILE) or loaded from the save folder")
            self.net = self.file_net.copy()       # gradient steps never touch the file's copy
            self.net.metadata = dict(self.file_net.metadata)
        else:
            if self.page_net is None:
                raise conflict("no model has been trained on this page yet")
            self.net = self.page_net
        self.source = source
        self.version += 1

    def require_net(self) -> Network:
        if self.net is None:
            raise conflict("there is no model yet: train one on the Learn tab, or start the "
                           "server with nudge serve --model FILE")
        return self.net

    def require_idle(self, doing: str) -> None:
        if self.job is not None and self.job.active:
            raise conflict(f"a training run is under way ({self.job.state}): stop or reset it "
                           f"before you {doing}")

    def model_info(self) -> dict[str, Any] | None:
        if self.net is None:
            return None
        info = explain.model_payload(self.net)
        training = self.job is not None and self.job.active and self.net is self.job.net
        info.update(source=self.source, training=training, version=self.version,
                    label=self.file_label if self.source == "file" else "trained on this page")
        return info

    # ------------------------------------------------------------------ data
    def data(self) -> Any:
        """The dataset (loaded once, on first use): MNIST, else the embedded 8x8 digits."""
        from ..data import load_dataset
        from ..errors import DataError

        with self._data_lock:
            if self._data is None:
                try:
                    if self.dataset_name == "auto":
                        try:
                            self._data = load_dataset("mnist", self.data_dir)
                        except DataError as e:
                            self._data_error = f"MNIST not available ({str(e)[:160]})"
                            self._data = load_dataset("digits")
                    else:
                        self._data = load_dataset(self.dataset_name, self.data_dir)
                except NudgeError as e:
                    raise ApiError(503, f"no dataset available: {e}") from None
            return self._data

    def data_for(self, net: Network) -> Any:
        data = self.data()
        if data.n_inputs != net.sizes[0]:
            raise conflict(f"the model reads {net.sizes[0]} inputs but the {data.name} images "
                           f"have {data.n_inputs} pixels")
        return data

    def example(self, net: Network, split: str, index: int) -> tuple[np.ndarray, int]:
        data = self.data_for(net)
        X, y = (data.X_train, data.y_train) if split == "train" else (data.X_test, data.y_test)
        if not 0 <= index < len(X):
            raise bad(f"index must be from 0 to {len(X) - 1} for the {split} set")
        return X[index].astype(np.float32) / 255, int(y[index])

    def data_info(self) -> dict[str, Any] | None:
        try:
            data = self.data()
        except ApiError as e:
            return {"error": e.message}
        return {"name": data.name, "n_train": len(data.X_train), "n_test": len(data.X_test),
                "side": data.image_shape[0], "n_inputs": data.n_inputs,
                "note": self._data_error}

    # ------------------------------------------------------------------ saved models
    def saved_models(self) -> list[str]:
        if self.save_dir is None:
            return []
        return sorted(p.stem for p in self.save_dir.glob("*.safetensors")
                      if p.is_file() and SAVE_NAME.match(p.stem))

    def saved_path(self, name: Any) -> Path:
        if self.save_dir is None:
            raise conflict("saving is off: start the server with nudge serve --save-dir FOLDER")
        if not isinstance(name, str) or not SAVE_NAME.match(name):
            raise bad("name must be 1 to 64 letters, digits, '-' or '_', starting with a "
                      "letter or digit (it is a name, not a path)")
        path = (self.save_dir / f"{name}.safetensors").resolve()
        if path.parent != self.save_dir:
            raise bad("name must not lead out of the save folder")
        return path


# =========================================================================== the app
def _json(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status)


def _input_from(state: WebState, net: Network, data: dict[str, Any]) -> tuple[np.ndarray, Any]:
    """The network input named by a request: a drawing, or an example of the dataset."""
    from ..images import layout_for, prepare

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
    _allowed(example, {"split", "index"})
    split = get_choice(example, "split", ("train", "test"))
    index = get_int(example, "index", 0, 10**7)
    return state.example(net, split, index)


def create_app(model_path: str | Path | None = None, save_dir: str | Path | None = None,
               dataset: str = "auto", data_dir: str | Path | None = None,
               allowed_hosts: list[str] | None = None,
               stream_interval: float = STREAM_INTERVAL) -> Starlette:
    """The web app.  ``allowed_hosts`` guards against DNS rebinding (default: loopback)."""
    state = WebState(model_path, save_dir, dataset, data_dir)

    async def index(request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html", headers={"cache-control": "no-cache"})

    # ------------------------------------------------------------------ state
    async def get_state(request: Request) -> Response:
        data_info = await run_in_threadpool(state.data_info)
        presets = {k: {key: v[key] for key in ("sizes", "activation", "epochs", "batch_size",
                                               "learning_rate", "description")}
                   for k, v in PRESETS.items()}
        return _json({
            "model": state.model_info(),
            "models": {"file": state.file_label, "page": state.page_net is not None,
                       "source": state.source},
            "training": state.job.summary() if state.job else None,
            "dataset": data_info, "presets": presets, "limits": LIMITS,
            "activations": list(ACTIVATIONS), "optimizers": list(OPTIMIZERS),
            "saving": state.save_dir is not None, "saved": state.saved_models(),
        })

    # ------------------------------------------------------------------ draw / inside
    async def predict(request: Request) -> Response:
        data = await read_json(request)
        _allowed(data, {"image"})
        net = state.require_net()
        t0 = time.perf_counter()
        x, _ = _input_from(state, net, data)
        payload = explain.forward_payload(net, x)
        payload["ms"] = (time.perf_counter() - t0) * 1000
        return _json(payload)

    async def example(request: Request) -> Response:
        net = state.require_net()
        split = request.query_params.get("split", "test")
        if split not in ("train", "test"):
            raise bad("split must be train or test")
        index = query_int(request, "index", 0, 10**7)
        x, label = await run_in_threadpool(state.example, net, split, index)
        payload = explain.forward_payload(net, x)
        payload.update(label=label, split=split, index=index)
        return _json(payload)

    async def neuron(request: Request) -> Response:
        net = state.require_net()
        layer = query_int(request, "layer", 1, len(net.weights))
        index = query_int(request, "index", 0, net.sizes[layer] - 1)
        return _json(explain.neuron_payload(net, layer, index))

    async def weights(request: Request) -> Response:
        net = state.require_net()
        layer = query_int(request, "layer", 1, len(net.weights))
        W, b = net.weights[layer - 1], net.biases[layer - 1]
        return _json({"layer": layer, "weights": explain.pack(W),
                      "biases": [float(v) for v in b]})

    # ------------------------------------------------------------------ nudges
    async def nudges(request: Request) -> Response:
        data = await read_json(request)
        _allowed(data, {"image", "example", "target"})
        net = state.require_net()
        x, label = await run_in_threadpool(_input_from, state, net, data)
        target = get_int(data, "target", 0, net.sizes[-1] - 1, label if label is not None else ...)
        payload = explain.example_nudges(net, x, target)
        payload.update(input=explain.pack(x), label=label)
        return _json(payload)

    async def nudge_step(request: Request) -> Response:
        data = await read_json(request)
        _allowed(data, {"image", "example", "target", "learning_rate"})
        net = state.require_net()
        state.require_idle("change the model by hand")
        x, label = await run_in_threadpool(_input_from, state, net, data)
        target = get_int(data, "target", 0, net.sizes[-1] - 1, label if label is not None else ...)
        lr = get_float(data, "learning_rate", *LIMITS["step_learning_rate"], 3.0)
        with state.lock:
            result = explain.gradient_step(net, x, target, lr)
            state.version += 1
        result.update(explain.example_nudges(net, x, target))
        result.update(input=explain.pack(x), label=label, learning_rate=lr)
        return _json(result)

    # ------------------------------------------------------------------ sensitivity
    async def sensitivity(request: Request) -> Response:
        net = state.require_net()
        n = query_int(request, "examples", *LIMITS["sensitivity_examples"], 10000)
        top = query_int(request, "top", *LIMITS["top"], 20)
        data = await run_in_threadpool(state.data_for, net)
        n = min(n, len(data.X_train))
        t0 = time.perf_counter()
        payload = await run_in_threadpool(explain.sensitivity, net, data.X_train[:n],
                                          data.y_train[:n], top, WEIGHT_PICTURES)
        payload["ms"] = (time.perf_counter() - t0) * 1000
        return _json(payload)

    # ------------------------------------------------------------------ training
    def _settings(data: dict[str, Any]) -> TrainingSettings:
        _allowed(data, {"preset", "hidden", "activation", "epochs", "batch_size",
                        "learning_rate", "optimizer", "train_examples", "test_examples", "seed",
                        "schedule", "min_learning_rate", "weight_decay",
                        "examples_per_second"})
        preset_name = get_choice(data, "preset", list(PRESETS) + ["custom"], "3b1b")
        hidden = data.get("hidden")
        if hidden is not None:
            lo, hi = LIMITS["hidden_layers"]
            if not isinstance(hidden, list) or not lo <= len(hidden) <= hi:
                raise bad(f"hidden must be a list of {lo} to {hi} layer sizes")
            hidden = [get_int({"hidden layer size": h}, "hidden layer size",
                              *LIMITS["hidden_size"]) for h in hidden]
        d = state.data()
        n_train = get_int(data, "train_examples", *LIMITS["train_examples"],
                          min(len(d.X_train), LIMITS["train_examples"][1]))
        n_train = min(n_train, len(d.X_train))
        batch_size = get_int(data, "batch_size", *LIMITS["batch_size"], None)
        try:
            setup = resolve(
                "3b1b" if preset_name == "custom" else preset_name,
                n_inputs=d.n_inputs, n_classes=len(d.classes), hidden=hidden,
                activation=get_choice(data, "activation", ACTIVATIONS, None),
                epochs=get_int(data, "epochs", *LIMITS["epochs"], None),
                batch_size="preset" if batch_size is None else batch_size,
                learning_rate=get_float(data, "learning_rate", *LIMITS["learning_rate"], None),
                schedule=get_choice(data, "schedule", SCHEDULES, None),
                min_learning_rate=get_float(data, "min_learning_rate",
                                            *LIMITS["min_learning_rate"], None),
                weight_decay=get_float(data, "weight_decay", *LIMITS["weight_decay"], None),
                optimizer=get_choice(data, "optimizer", OPTIMIZERS, "sgd"))
        except NudgeError as e:
            raise bad(str(e).replace("--", "")) from None
        if preset_name == "custom":
            setup = dataclasses.replace(setup, preset="custom")
        if (setup.batch_size or n_train) > n_train:
            raise bad(f"batch_size {setup.batch_size} is larger than the {n_train} training "
                      "examples")
        speed = get_float(data, "examples_per_second", *LIMITS["examples_per_second"], None)
        _check_speed(speed, setup.batch_size or n_train)
        return TrainingSettings(
            setup, train_examples=n_train,
            test_examples=min(get_int(data, "test_examples", *LIMITS["test_examples"],
                                      len(d.X_test)), len(d.X_test)),
            seed=get_int(data, "seed", *LIMITS["seed"],
                         int(np.random.SeedSequence().entropy % 2**31)),
            examples_per_second=speed)

    async def train_start(request: Request) -> Response:
        data = await read_json(request)
        await run_in_threadpool(state.data)
        settings = _settings(data)
        with state.lock:
            state.require_idle("start another")
            d = state.data()
            net = settings.setup.network(settings.seed)
            job = TrainingJob(net, settings, d.X_train[:settings.train_examples],
                              d.y_train[:settings.train_examples],
                              d.X_test[:settings.test_examples],
                              d.y_test[:settings.test_examples], dataset=d.name)
            job.on_end = _finished
            state.job = job
            state.page_net = net
            state.use("page")
            job.start()
        return _json({"ok": True, "message": f"training {'-'.join(map(str, settings.setup.sizes))} "
                      f"on {settings.train_examples:,} {d.name} images",
                      "training": job.summary()})

    def _finished(job: TrainingJob) -> None:
        last = job.epochs[-1].record if job.epochs else None
        job.net.metadata = {
            "dataset": job.dataset, "preset": job.settings.setup.preset,
            "training": job.settings.to_dict(), "epochs_trained": len(job.epochs),
            "stopped": job.state, "test_accuracy": last.test_accuracy if last else None,
            "test_cost": last.test_cost if last else None,
            "train_seconds": round(job.train_seconds, 4), "n_train": len(job.X_train),
            "n_test": len(job.X_test) if job.X_test is not None else 0,
            "history": [e.to_dict() for e in job.epochs], "trained_on": "nudge serve",
        }
        state.version += 1

    def _job_or_conflict() -> TrainingJob:
        if state.job is None:
            raise conflict("no training run has been started")
        return state.job

    async def train_pause(request: Request) -> Response:
        _allowed(await read_json(request), set())
        job = _job_or_conflict()
        if not job.pause():
            raise conflict(f"training is {job.state}, not running: nothing to pause")
        return _json({"ok": True, "training": job.summary()})

    async def train_resume(request: Request) -> Response:
        _allowed(await read_json(request), set())
        job = _job_or_conflict()
        if not job.resume():
            raise conflict(f"training is {job.state}, not paused: nothing to resume")
        return _json({"ok": True, "training": job.summary()})

    async def train_step(request: Request) -> Response:
        _allowed(await read_json(request), set())
        job = _job_or_conflict()
        if not job.step_once():
            raise conflict(f"training has ended ({job.state}): nothing to step")
        return _json({"ok": True, "training": job.summary()})

    async def train_set(request: Request) -> Response:
        data = await read_json(request)
        _allowed(data, {"examples_per_second", "learning_rate"})
        job = _job_or_conflict()
        if not job.active:
            raise conflict(f"training has ended ({job.state})")
        if "examples_per_second" in data:
            speed = data["examples_per_second"]
            if speed is not None:
                speed = get_float(data, "examples_per_second", *LIMITS["examples_per_second"])
            _check_speed(speed, job.settings.batch_size)
            job.set_speed(speed)
        if "learning_rate" in data:
            lr = data["learning_rate"]
            if lr is not None:
                lr = get_float(data, "learning_rate", *LIMITS["learning_rate"])
            job.set_learning_rate(lr)
        return _json({"ok": True, "training": job.summary()})

    async def train_stop(request: Request) -> Response:
        _allowed(await read_json(request), set())
        job = _job_or_conflict()
        if not job.active:
            raise conflict(f"training has already ended ({job.state})")
        await run_in_threadpool(job.stop, 30.0)
        return _json({"ok": True, "training": job.summary()})

    async def train_reset(request: Request) -> Response:
        _allowed(await read_json(request), set())
        job = state.job
        if job is not None:
            await run_in_threadpool(job.stop, 30.0)
        with state.lock:
            state.job = None
            state.page_net = None
            if state.source == "page":
                state.net, state.source = None, None
                if state.file_net is not None:
                    state.use("file")
            state.version += 1
        return _json({"ok": True, "model": state.model_info()})

    async def train_state(request: Request) -> Response:
        return _json({"training": state.job.summary() if state.job else None,
                      "model": state.model_info()})

    async def train_stream(request: Request) -> Response:
        max_events = query_int(request, "max_events", 0, 1_000_000, 0)

        async def events():
            sent = 0
            job: Any = object()            # nothing sent yet: the first look always reports
            cursor = dropped = last_version = -1
            last_sent = 0.0
            while True:
                current = state.job
                msg: dict[str, Any] | None = None
                if current is not job:
                    job, cursor, dropped, last_version = current, 0, -1, -1
                    msg = {"training": None} if job is None else None
                if job is not None and job.version != last_version:
                    last_version = job.version
                    points = job.points
                    replace = dropped != job.points_dropped
                    if replace:
                        cursor, dropped = 0, job.points_dropped
                    new = points[cursor:]
                    cursor += len(new)
                    msg = {"training": job.summary(), "replace": replace,
                           "points": [[s, round(c, 6)] for s, c in new],
                           "weights": explain.pack_weights_u8(job.net.weights[0][:WEIGHT_PICTURES]),
                           "image_side": explain.image_side(job.net.sizes[0]),
                           "model": state.model_info()}
                now = time.monotonic()
                if msg is not None:
                    yield f"data: {json.dumps(msg, allow_nan=False, default=_nan_free)}\n\n"
                    sent += 1
                    last_sent = now
                    if max_events and sent >= max_events:
                        return
                elif now - last_sent > 15:
                    yield ": keep-alive\n\n"
                    last_sent = now
                await asyncio.sleep(stream_interval)

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"cache-control": "no-cache",
                                          "x-accel-buffering": "no"})

    # ------------------------------------------------------------------ models
    async def model_select(request: Request) -> Response:
        data = await read_json(request)
        _allowed(data, {"source"})
        source = get_choice(data, "source", ("file", "page"))
        with state.lock:
            state.require_idle("switch models")
            state.use(source)
        return _json({"ok": True, "model": state.model_info()})

    async def model_save(request: Request) -> Response:
        from ..modelfile import save

        data = await read_json(request)
        _allowed(data, {"name", "overwrite"})
        overwrite = data.get("overwrite", False)
        if not isinstance(overwrite, bool):
            raise bad("overwrite must be true or false")
        path = state.saved_path(data.get("name"))
        state.require_idle("save")
        if state.page_net is None:
            raise conflict("no model has been trained on this page yet: train one first")
        if path.exists() and not overwrite:
            raise conflict(f"a model named {path.stem} already exists: choose another name")
        net = state.page_net
        await run_in_threadpool(lambda: save(net, path, **net.metadata))
        return _json({"ok": True, "name": path.stem, "saved": state.saved_models(),
                      "message": f"saved {path.name} in the save folder"})

    async def model_load(request: Request) -> Response:
        from ..modelfile import load

        data = await read_json(request)
        _allowed(data, {"name"})
        path = state.saved_path(data.get("name"))
        if path.stem not in state.saved_models():
            raise ApiError(404, f"no saved model named {path.stem}")
        state.require_idle("load another model")
        try:
            net = await run_in_threadpool(load, path)
        except NudgeError as e:
            raise ApiError(422, str(e).replace(str(path), path.name)) from None
        with state.lock:
            state.file_net, state.file_label = net, path.name
            state.use("file")
        return _json({"ok": True, "model": state.model_info()})

    async def models_list(request: Request) -> Response:
        return _json({"saving": state.save_dir is not None, "saved": state.saved_models(),
                      "file": state.file_label, "page": state.page_net is not None,
                      "model": state.model_info()})

    # ------------------------------------------------------------------ plumbing
    def wrap(handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiError as e:
                return _json({"error": e.message}, e.status)
            except NudgeError as e:
                return _json({"error": str(e)}, 422)
        return endpoint

    routes = [
        Route("/", index),
        Route("/api/state", wrap(get_state)),
        Route("/api/predict", wrap(predict), methods=["POST"]),
        Route("/api/example", wrap(example)),
        Route("/api/neuron", wrap(neuron)),
        Route("/api/weights", wrap(weights)),
        Route("/api/nudges", wrap(nudges), methods=["POST"]),
        Route("/api/nudges/step", wrap(nudge_step), methods=["POST"]),
        Route("/api/sensitivity", wrap(sensitivity)),
        Route("/api/train/start", wrap(train_start), methods=["POST"]),
        Route("/api/train/pause", wrap(train_pause), methods=["POST"]),
        Route("/api/train/resume", wrap(train_resume), methods=["POST"]),
        Route("/api/train/stop", wrap(train_stop), methods=["POST"]),
        Route("/api/train/step", wrap(train_step), methods=["POST"]),
        Route("/api/train/set", wrap(train_set), methods=["POST"]),
        Route("/api/train/reset", wrap(train_reset), methods=["POST"]),
        Route("/api/train/state", wrap(train_state)),
        Route("/api/train/stream", wrap(train_stream)),
        Route("/api/models", wrap(models_list)),
        Route("/api/models/select", wrap(model_select), methods=["POST"]),
        Route("/api/models/save", wrap(model_save), methods=["POST"]),
        Route("/api/models/load", wrap(model_load), methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    hosts = LOOPBACK_HOSTS if allowed_hosts is None else allowed_hosts
    app = Starlette(routes=routes, middleware=[
        Middleware(TrustedHostMiddleware, allowed_hosts=hosts),
        Middleware(GuardMiddleware),
    ])
    app.state.web = state
    return app


def _nan_free(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class GuardMiddleware:
    """Security headers on every response; cross-site and oversized requests refused early."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        problem = None
        if scope["method"] not in ("GET", "HEAD", "POST"):
            problem = (405, "method not allowed")
        elif (scope["method"] == "POST" and "origin" in headers
              and _origin_host(headers["origin"]) != headers.get("host", "").lower()):
            problem = (403, "cross-origin requests are not allowed")
        elif (headers.get("content-length", "0").isdigit()
              and int(headers.get("content-length", "0")) > MAX_BODY):
            problem = (413, f"request body too large (at most {MAX_BODY:,} bytes)")
        if problem is not None:
            response = JSONResponse({"error": problem[1]}, status_code=problem[0])
            await response(scope, receive, self._with_headers(send))
            return
        await self.app(scope, receive, self._with_headers(send))

    @staticmethod
    def _with_headers(send: Any) -> Any:
        async def wrapped(message: dict) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)
        return wrapped


def _origin_host(origin: str) -> str:
    m = re.match(r"^[a-z][a-z0-9+.-]*://([^/]+)$", origin.strip().lower())
    return m.group(1) if m else ""
