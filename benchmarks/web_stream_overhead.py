"""How much does watching a training run on the web page slow it down?

Trains the same network (784-16-16-10, batch size 10, η = 3, one epoch of the
MNIST training set, same seed) three ways, alternating, several times:

* ``bare``      the plain SGD loop (``Network.backprop`` + the optimiser), no bookkeeping;
* ``unwatched`` the web page's training job, nobody watching;
* ``streamed``  the same job run by the real server (uvicorn) while a separate
  process (curl) reads the live event stream, 20 updates per second with the
  16 first-layer weight pictures in each.

and prints the best speed of each (best of the repeats: on a shared machine the
other processes only ever slow a run down, so the fastest run is the one least
disturbed) and the slow-down of ``streamed`` against ``unwatched`` and ``bare``.
Usage::

    NUDGE_DATA=/path/to/mnist python benchmarks/web_stream_overhead.py [--repeats 9]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import threading
import time

import httpx
import numpy as np

from nudge.data import load_dataset
from nudge.network import Network, desired_outputs
from nudge.train import make_optimizer
from nudge.web import create_app
from nudge.web.training import TrainingJob, TrainingSettings

SIZES = [784, 16, 16, 10]


def bare(data, seed: int) -> float:
    net = Network(SIZES, seed=seed)
    X, Y = data.X_train, desired_outputs(data.y_train, 10)
    opt = make_optimizer("sgd", 3.0)
    order = np.random.default_rng(seed).permutation(len(X))
    t0 = time.perf_counter()
    for s in range(0, len(X), 10):
        b = order[s:s + 10]
        gw, gb = net.backprop(X[b], Y[b])
        opt.step(net, gw, gb)
    return len(X) / (time.perf_counter() - t0)


def unwatched(data, seed: int) -> float:
    settings = TrainingSettings(sizes=SIZES, epochs=1, batch_size=10, learning_rate=3.0,
                                train_examples=len(data.X_train), test_examples=0, seed=seed)
    job = TrainingJob(Network(SIZES, seed=seed), settings, data.X_train, data.y_train)
    job.start()
    job.join()
    return job.seen / job.train_seconds


def streamed(base: str, app, seed: int, n: int) -> tuple[float, float]:
    curl = subprocess.Popen(["curl", "-sN", base + "api/train/stream"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    counted = [0]

    def count():
        for line in curl.stdout:
            if line.startswith(b"data:"):
                counted[0] += 1

    reader = threading.Thread(target=count, daemon=True)
    reader.start()
    time.sleep(0.3)
    r = httpx.post(base + "api/train/start", json={
        "hidden": SIZES[1:-1], "epochs": 1, "batch_size": 10, "learning_rate": 3.0,
        "train_examples": n, "test_examples": 0, "seed": seed})
    r.raise_for_status()
    before = counted[0]
    job = app.state.web.job
    job.join()
    events = counted[0] - before
    curl.terminate()
    curl.wait()
    return job.seen / job.train_seconds, events / job.train_seconds


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    data = load_dataset("mnist")
    app = create_app(dataset="mnist")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}/"
    results: dict[str, list[float]] = {"bare": [], "unwatched": [], "streamed": []}
    rates = []
    for i in range(args.repeats):
        results["bare"].append(bare(data, i))
        results["unwatched"].append(unwatched(data, i))
        speed, rate = streamed(base, app, i, len(data.X_train))
        results["streamed"].append(speed)
        rates.append(rate)
        print(f"run {i + 1}: " + ", ".join(f"{k} {v[-1]:,.0f}/s" for k, v in results.items())
              + f", {rate:.1f} updates/s", flush=True)
    med = {k: max(v) for k, v in results.items()}
    print("\nbest examples per second over", args.repeats, "runs of one MNIST epoch:")
    for k, v in med.items():
        print(f"  {k:<10} {v:>9,.0f}")
    print(f"  stream updates received: {statistics.median(rates):.1f} per second")
    print(f"slow-down from streaming (streamed vs unwatched): "
          f"{100 * (1 - med['streamed'] / med['unwatched']):.1f}%")
    print(f"slow-down from the job's bookkeeping and streaming together (streamed vs bare): "
          f"{100 * (1 - med['streamed'] / med['bare']):.1f}%")
    server.should_exit = True


if __name__ == "__main__":
    main()
