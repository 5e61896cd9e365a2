"""What does a class watching the page cost the training?

Starts a real ``nudge serve`` (a subprocess on 127.0.0.1), opens N live streams from
another process (httpx, each reading every byte, as a page does), and trains the 3b1b
network (784-16-16-10, B = 10, full MNIST, test set after each epoch) at full speed while
they are open; the same for each N given, in turn.  For each it prints examples per second
over the steps and over the wall clock, the updates per second each stream received
(the slowest and fastest stream), the size of an update, the bytes per second each stream
received while the run went (what a classroom's Wi-Fi carries for each page), the CPU use
of the server process and of the process reading the streams (on a small machine the two
compete: the reader stands in for the students' laptops), and the slowest answer to the teacher's
controls (η changed, pause, resume) and to a drawing read (``/api/predict``) during the
run.  Usage::

    NUDGE_DATA=/path/to/mnist python benchmarks/web_streams.py [--streams 0,1,8,16,64]
        [--epochs 100] [--repeats 1] [--out FILE.json]

The server refuses streams past its bound (``MAX_STREAMS``): those show as status 429.
The load average is printed: on a shared machine the speeds are only comparable between
runs on an equally quiet one; the updates each stream receives are the steadier figure.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import httpx


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def watch(base: str, n: int, out: str) -> None:
    """Hold ``n`` streams until SIGTERM; write what each received to ``out``."""
    times: list[list[float]] = [[] for _ in range(n)]
    chunks: list[list[list[float]]] = [[] for _ in range(n)]    # [time, bytes] as they came
    sizes, status = [0] * n, {}
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)

    async def one(i: int) -> None:
        async with httpx.AsyncClient(timeout=None) as c:
            async with c.stream("GET", base + "api/train/stream") as r:
                status[r.status_code] = status.get(r.status_code, 0) + 1
                if r.status_code == 200:
                    async for chunk in r.aiter_raw():
                        sizes[i] += len(chunk)
                        chunks[i].append([time.time(), len(chunk)])
                        times[i] += [time.time()] * chunk.count(b"data: {")

    tasks = [asyncio.create_task(one(i)) for i in range(n)]
    await stop.wait()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    with open(out, "w") as f:
        json.dump({"status": status, "times": times, "bytes": sizes, "chunks": chunks}, f)


def drawing() -> str:
    from PIL import Image, ImageDraw

    img = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(img).line([(70, 60), (210, 60), (130, 240)], fill=0, width=20)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def one_run(c: httpx.Client, base: str, pid: int, n: int, epochs: int, tmp: str) -> dict:
    watcher = None
    if n:
        watcher = subprocess.Popen([sys.executable, __file__, "--watch", base, str(n),
                                    os.path.join(tmp, "watch.json")])
        time.sleep(1 + n / 20)             # every stream open and sent its first update
    slowest = {"set": 0.0, "pause": 0.0, "resume": 0.0, "predict": 0.0}
    t0, cpu0 = time.time(), cpu_seconds(pid)
    watcher_cpu0 = cpu_seconds(watcher.pid) if watcher is not None else 0.0
    r = c.post("api/train/start", json={"preset": "3b1b", "epochs": epochs, "seed": 1})
    r.raise_for_status()
    asked = False
    while True:
        t = c.get("api/train/state").json()["training"]
        if t["state"] not in ("running", "paused", "stopping"):
            break
        if not asked and t["seen"] > 0:
            asked = True
            for key, path, body in (("set", "api/train/set", {"learning_rate": 1.0}),
                                    ("pause", "api/train/pause", {}),
                                    ("resume", "api/train/resume", {}),
                                    ("predict", "api/predict", {"image": drawing()}),
                                    ("predict", "api/predict", {"image": drawing()})):
                s = time.perf_counter()
                c.post(path, json=body).raise_for_status()
                slowest[key] = max(slowest[key], time.perf_counter() - s)
        time.sleep(0.2)
    wall = time.time() - t0
    row = {"streams": n, "steps": round(t["seen"] / t["train_seconds"]),
           "wall": round(t["seen"] / wall),
           "server_cpu": round((cpu_seconds(pid) - cpu0) / wall, 2),
           "slowest_ms": {k: round(1000 * v, 1) for k, v in slowest.items()}}
    if watcher is not None:
        row["watchers_cpu"] = round((cpu_seconds(watcher.pid) - watcher_cpu0) / wall, 2)
        watcher.send_signal(signal.SIGTERM)
        watcher.wait()
        with open(os.path.join(tmp, "watch.json")) as f:
            w = json.load(f)
        got = [sum(t0 <= t <= t0 + wall for t in times) / wall for times in w["times"]
               if times]                                   # while training, refused left out
        rates = [sum(b for t, b in chunks if t0 <= t <= t0 + wall) / wall / 1024
                 for chunks in w["chunks"] if chunks]
        updates = sum(len(times) for times in w["times"])
        row.update(status=w["status"], updates_per_s=[round(min(got), 1), round(max(got), 1)],
                   kb_per_update=round(sum(w["bytes"]) / max(1, updates) / 1024, 1),
                   kb_per_s=[round(min(rates)), round(max(rates))])
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", default="0,1,8,16,64")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", help="write the results as JSON to this file")
    parser.add_argument("--watch", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.watch:
        asyncio.run(watch(args.watch[0], int(args.watch[1]), args.watch[2]))
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}/"
    server = subprocess.Popen([sys.executable, "-m", "nudge", "serve", "--port", str(port)],
                              stdout=subprocess.PIPE, text=True)
    rows = []
    try:
        print(server.stdout.readline().strip(), flush=True)      # listening
        print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; 3b1b "
              f"784-16-16-10, B=10, {args.epochs} epochs of MNIST per run", flush=True)
        c = httpx.Client(base_url=base, timeout=60)
        c.post("api/train/start", json={"preset": "3b1b", "epochs": 1}).raise_for_status()
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(args.repeats):
                for n in [int(x) for x in args.streams.split(",")]:
                    while c.get("api/train/state").json()["training"]["state"] == "running":
                        time.sleep(0.2)
                    row = one_run(c, base, server.pid, n, args.epochs, tmp)
                    rows.append(row)
                    print(f"{n:3d} streams: {row['steps']:>9,} ex/s steps, {row['wall']:>9,} "
                          f"wall; server {row['server_cpu']:.2f} CPUs; "
                          + (f"the streams' reader {row['watchers_cpu']:.2f} CPUs; "
                             f"updates/s per stream {row['updates_per_s'][0]}-"
                             f"{row['updates_per_s'][1]}, {row['kb_per_update']} KB each, "
                             f"{row['kb_per_s'][0]}-{row['kb_per_s'][1]} KB/s per stream, "
                             f"answers {row['status']}; " if n else "")
                          + "slowest " + ", ".join(f"{k} {v:.0f} ms"
                                                   for k, v in row["slowest_ms"].items()),
                          flush=True)
    finally:
        server.terminate()
        server.wait()
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"network": "784-16-16-10", "batch_size": 10, "epochs": args.epochs,
                       "cpus": os.cpu_count(), "runs": rows}, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
