"""How long the page's answer to a drawing takes, and how big its arrays travel.

    NUDGE_DATA=/path/to/mnist python benchmarks/web_requests.py [--requests 200]

Starts the real server (uvicorn on 127.0.0.1, as ``nudge serve``) with a 784-16-16-10
model trained for one epoch (the 3b1b preset, seed 1), then posts a drawing to
``/api/predict`` as the drawing view does (MNIST test image 0 enlarged to the canvas's
280x280, as a PNG data URL) ``--requests`` times with httpx, one after another.  Prints
the round trip (median and 90th percentile, milliseconds) and the server's own time for
it, and the size of two replies as sent (arrays as base64 float32, ``web/explain.py``)
against the same replies with those arrays as JSON lists (``json.dumps`` of the numbers).
This is a script, not a test.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

import nudge
from nudge.data import load_dataset
from nudge.settings import resolve
from nudge.train import train
from nudge.web import create_app


def as_lists(reply: dict) -> dict:
    """``reply`` with each ``{"shape", "b64"}`` array as a (nested) JSON list instead."""
    out = {}
    for k, v in reply.items():
        if isinstance(v, dict) and set(v) == {"shape", "b64"}:
            a = np.frombuffer(base64.b64decode(v["b64"]), dtype="<f4").reshape(v["shape"])
            out[k] = a.tolist()
        else:
            out[k] = v
    return out


def main() -> None:
    import httpx
    import uvicorn
    from PIL import Image

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=200)
    args = ap.parse_args()
    data = load_dataset("mnist")
    setup = resolve("3b1b", n_inputs=784, n_classes=10, epochs=1)
    net = setup.network(1)
    train(net, data.X_train, data.y_train, **setup.train_options(), seed=1,
          monitor_train_cost=False)
    png = io.BytesIO()
    Image.fromarray(data.X_test[0].reshape(28, 28)).resize((280, 280)).save(png, "PNG")
    drawing = "data:image/png;base64," + base64.b64encode(png.getvalue()).decode("ascii")
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "m.safetensors"
        nudge.save(net, model, dataset="mnist")
        app = create_app(model, dataset="mnist")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                               log_level="warning"))
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}/"
        trips, server_ms = [], []
        with httpx.Client(base_url=base) as client:
            for i in range(args.requests + 10):             # the first 10: warm-up
                t0 = time.perf_counter()
                r = client.post("api/predict", json={"image": drawing})
                ms = (time.perf_counter() - t0) * 1000
                r.raise_for_status()
                if i >= 10:
                    trips.append(ms)
                    server_ms.append(r.json()["ms"])
            replies = {"/api/predict (the drawing)": r.text,
                       "/api/weights?layer=1": client.get("api/weights?layer=1").text}
        server.should_exit = True
    trips.sort()
    print(f"load average {os.getloadavg()[0]:.2f}; {args.requests} predictions of a 280x280 "
          f"drawing: round trip median {statistics.median(trips):.1f} ms, 90th percentile "
          f"{trips[int(0.9 * len(trips))]:.1f} ms; the server's part median "
          f"{statistics.median(server_ms):.1f} ms")
    for name, text in replies.items():
        lists = len(json.dumps(as_lists(json.loads(text))))
        print(f"{name}: {len(text):,} bytes as sent, {lists:,} with its arrays as JSON "
              f"lists (x{lists / len(text):.1f})")


if __name__ == "__main__":
    main()
