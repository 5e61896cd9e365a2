"""How fast does the web page train, and what does watching it cost?

Trains the 3b1b network (784-16-16-10, B = 10, its preset's η, schedule and weight
decay; full MNIST, the test set evaluated after every epoch) three ways, taking turns:

* ``bare``       :func:`nudge.train.train` called directly;
* ``job``        the web page's :class:`~nudge.web.training.TrainingJob` (the same
  trainer in a thread, with its callbacks: sampled costs, curve, warnings), nobody
  watching;
* ``streamed``   the same job started through the real server (uvicorn on 127.0.0.1)
  while another process reads the live event stream with httpx (every update with
  the 16 first-layer weight pictures, as the page gets it).

For each it prints examples per second over the steps alone (``train_seconds``) and
over the wall clock from the first step to the end (test evaluations, callbacks and
the engine's set-up included), best of the repeats (on a shared machine other
processes only ever slow a run down), and the stream's updates per second during the
streamed runs.  Usage::

    NUDGE_DATA=/path/to/mnist python benchmarks/web_training_speed.py [--repeats 3] [--epochs 20]
        [--out benchmarks/web-speed.json] [--busy N]

The load average before and after is printed (and saved): the numbers are only comparable
between runs on an equally quiet machine.  ``--busy N`` keeps N other processes spinning on
the CPUs meanwhile (a busy machine).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time

from busy import spinning

from nudge.data import load_dataset
from nudge.settings import resolve
from nudge.train import train
from nudge.web import create_app
from nudge.web.training import TrainingJob, TrainingSettings

TARGET_SPEED = 1_000_000       # examples per second (issue 9)
TARGET_UPDATES = 10            # stream updates per second


def setup(data, epochs: int):
    return resolve("3b1b", n_inputs=data.n_inputs, n_classes=len(data.classes), epochs=epochs)


def bare(data, epochs: int, seed: int) -> tuple[float, float, str]:
    s = setup(data, epochs)
    net = s.network(seed)
    t0 = time.perf_counter()
    h = train(net, data.X_train, data.y_train, **s.train_options(), test_data=data.test_data,
              seed=seed, monitor_train_cost=False)
    wall = time.perf_counter() - t0
    n = epochs * len(data.X_train)
    return n / h.train_seconds, n / wall, f"{h.settings['engine']}/{h.settings.get('kernel_isa')}"


def job(data, epochs: int, seed: int) -> tuple[float, float, str]:
    s = setup(data, epochs)
    settings = TrainingSettings(s, len(data.X_train), len(data.X_test), seed)
    j = TrainingJob(s.network(seed), settings, data.X_train, data.y_train, data.X_test,
                    data.y_test, dataset="mnist")
    t0 = time.perf_counter()
    j.start()
    j.join()
    wall = time.perf_counter() - t0
    assert j.state == "finished", j.message
    return j.seen / j.train_seconds, j.seen / wall, f"{j.engine['engine']}/{j.engine['kernel_isa']}"


def streamed(base: str, app, data, epochs: int, seed: int) -> tuple[float, float, float]:
    import httpx

    client = subprocess.Popen([sys.executable, __file__, "--client", base],
                              stdout=subprocess.PIPE, text=True)
    time.sleep(1.0)                      # the client is connected and has its first update
    t0 = time.time()
    r = httpx.post(base + "api/train/start", json={
        "preset": "3b1b", "epochs": epochs, "seed": seed,
        "train_examples": len(data.X_train), "test_examples": len(data.X_test)})
    r.raise_for_status()
    j = app.state.web.job
    j.join()
    t1 = time.time()
    client.terminate()
    times = json.loads(client.communicate()[0] or "[]")
    updates = sum(t0 <= t <= t1 for t in times)
    assert j.state == "finished", j.message
    return j.seen / j.train_seconds, j.seen / (t1 - t0), updates / (t1 - t0)


def client(base: str) -> None:
    """Read the event stream until terminated; print the arrival times of the updates."""
    import signal

    import httpx

    times: list[float] = []

    def done(*_: object) -> None:
        print(json.dumps(times), flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, done)
    with httpx.stream("GET", base + "api/train/stream", timeout=None) as r:
        for line in r.iter_lines():
            if line.startswith("data:"):
                json.loads(line[5:])             # a client reads what it receives
                times.append(time.time())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--out", help="write the results as JSON to this file")
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--busy", type=int, default=0, help="processes spinning beside it")
    args = parser.parse_args()
    if args.client:
        client(args.client)
        return
    with spinning(args.busy):
        measure(args)


def measure(args: argparse.Namespace) -> None:
    import uvicorn

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
    rows: dict[str, list[tuple[float, float]]] = {"bare": [], "job": [], "streamed": []}
    rates: list[float] = []
    engine = ""
    load_before = os.getloadavg()
    print(f"load average {load_before[0]:.2f} on {os.cpu_count()} CPUs, {args.busy} busy "
          "process(es) beside it")
    print(f"3b1b network 784-16-16-10, B=10, {args.epochs} epochs of the {len(data.X_train):,} "
          f"MNIST training images, test set after each epoch", flush=True)
    for i in range(args.repeats):
        *b, engine = bare(data, args.epochs, i + 1)
        rows["bare"].append(tuple(b))
        *j, _ = job(data, args.epochs, i + 1)
        rows["job"].append(tuple(j))
        steps, wall, rate = streamed(base, app, data, args.epochs, i + 1)
        rows["streamed"].append((steps, wall))
        rates.append(rate)
        print(f"run {i + 1}: " + ", ".join(f"{k} {v[-1][0]:,.0f}/s (wall {v[-1][1]:,.0f}/s)"
                                           for k, v in rows.items())
              + f", {rate:.1f} updates/s", flush=True)
    server.should_exit = True
    print(f"\nengine: {engine}; best of {args.repeats} runs, examples per second:")
    print(f"  {'':<10} {'steps':>11} {'wall clock':>11}")
    for k, v in rows.items():
        print(f"  {k:<10} {max(s for s, _ in v):>11,.0f} {max(w for _, w in v):>11,.0f}")
    best = max(w for _, w in rows["streamed"])
    median_rate = statistics.median(rates)
    print(f"stream updates received while training: {median_rate:.1f} per second (median)")
    print(f"streamed vs bare, wall clock: "
          f"{100 * (best / max(w for _, w in rows['bare']) - 1):+.1f}%")
    best_steps = max(s for s, _ in rows["streamed"])
    ok = best_steps >= TARGET_SPEED and median_rate >= TARGET_UPDATES
    print(f"target (>= {TARGET_SPEED:,} examples/s over the steps while streaming >= "
          f"{TARGET_UPDATES} updates/s): {'met' if ok else 'NOT met'}; load average "
          f"{os.getloadavg()[0]:.2f} at the end")
    if args.out:
        result = {
            "network": "784-16-16-10", "batch_size": 10, "epochs": args.epochs,
            "repeats": args.repeats, "busy": args.busy, "engine": engine, "cpus": os.cpu_count(),
            "machine": platform.processor() or platform.machine(),
            "load_average": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
            "best": {k: {"steps": round(max(s for s, _ in v)), "wall": round(max(w for _, w in v))}
                     for k, v in rows.items()},
            "runs": {k: [[round(s), round(w)] for s, w in v] for k, v in rows.items()},
            "updates_per_second": [round(r, 1) for r in rates], "target_met": ok,
        }
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
