"""Full-batch gradient descent against SGD from one start (``nudge descent`` on the page):
:func:`nudge.insight.descent` on the page's dataset, from a fresh network, in a heavy slot.

The work a request may ask for is bounded, so that an answer takes a few seconds on two
cores: at most :data:`MAX_EXAMPLES` examples trained on across the runs, by a network of
hidden layers of at most 32 neurons (``LIMITS["descent_hidden_size"]``; the time per
example grows with the weights, and the cost measurements, about 1.3 million examples
through the network at the defaults, come on top)."""

from __future__ import annotations

import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ...errors import NudgeError
from ...insight import DescentReport, default_learning_rate, descent
from ...insight.descent import check_runs
from ...network import Network
from ..state import WebState
from ..validation import LIMITS, ApiError, allowed, bad, get_float, get_int, read_json
from .common import limits, reply, web

FIELDS = {"hidden", "train_examples", "epochs", "batch_sizes", "learning_rates", "seed"}
DEFAULTS: dict[str, Any] = {"hidden": [16, 16], "train_examples": 5000, "epochs": 100,
                            "batch_sizes": [None, 100, 10], "seed": 0}
MONITOR, RECORDS, GRID = 2000, 60, 21       # nudge.insight.descent's, as `nudge descent`
#: examples trained on across the runs: `nudge descent`'s defaults (full,100,10, 100 epochs
#: over 5,000 images) are 1,500,000; four runs of 100 epochs, 2,000,000
MAX_EXAMPLES = 2_000_000


def _hidden(data: dict[str, Any]) -> list[int]:
    hidden = data.get("hidden", DEFAULTS["hidden"])
    lo, hi = LIMITS["hidden_layers"]
    if not isinstance(hidden, list) or not lo <= len(hidden) <= hi:
        raise bad(f"hidden must be a list of {lo} to {hi} layer sizes, like [16, 16]")
    return [get_int({"hidden layer size": h}, "hidden layer size",
                    *LIMITS["descent_hidden_size"]) for h in hidden]


def _batch_sizes(data: dict[str, Any], n: int) -> list[int | None]:
    sizes = data.get("batch_sizes", DEFAULTS["batch_sizes"])
    lo, hi = LIMITS["descent_runs"]
    if not isinstance(sizes, list) or not lo <= len(sizes) <= hi:
        raise bad(f"batch_sizes must be a list of {lo} to {hi} batch sizes (null: full "
                  "batch), like [null, 100, 10]")
    out: list[int | None] = []
    for b in sizes:
        if b is None or (isinstance(b, str) and b.lower() == "full"):   # as the CLI's 'full'
            out.append(None)
            continue
        b = get_int({"batch size": b}, "batch size", *LIMITS["batch_size"])
        if b > n:
            raise bad(f"batch size {b} is more than the {n:,} training images: use 1 to {n:,}, "
                      "or null for the full batch")
        out.append(b)
    return out


def _learning_rates(data: dict[str, Any], batch_sizes: list[int | None]) -> list[float]:
    """One η per run: the list given (one for all, or one per batch size), else each batch
    size's default (:func:`nudge.insight.default_learning_rate`)."""
    rates = data.get("learning_rates")
    if rates is None:
        return [default_learning_rate(b) for b in batch_sizes]
    if not isinstance(rates, list) or len(rates) not in (1, len(batch_sizes)):
        raise bad(f"learning_rates must be a list of one learning rate, or one per batch "
                  f"size ({len(batch_sizes)}), or null for the defaults")
    rates = [get_float({"learning rate": r}, "learning rate", *LIMITS["learning_rate"])
             for r in rates]
    return rates * len(batch_sizes) if len(rates) == 1 else rates


def descent_settings(state: WebState, data: dict[str, Any]) -> dict[str, Any]:
    """The request's set-up, every field checked, the work bounded; the dataset's first
    ``train_examples`` images."""
    allowed(data, FIELDS)
    d = state.data()
    hidden = _hidden(data)
    n = min(get_int(data, "train_examples", *LIMITS["train_examples"],
                    DEFAULTS["train_examples"]), len(d.X_train))
    epochs = get_int(data, "epochs", *LIMITS["descent_epochs"], DEFAULTS["epochs"])
    batch_sizes = _batch_sizes(data, n)
    rates = _learning_rates(data, batch_sizes)
    try:
        check_runs(batch_sizes, rates, n)
    except NudgeError as e:
        raise bad(str(e)) from None
    seed = get_int(data, "seed", *LIMITS["seed"], DEFAULTS["seed"])
    trained = len(batch_sizes) * epochs * n
    if trained > MAX_EXAMPLES:
        raise bad(f"{len(batch_sizes)} runs x {epochs} epochs x {n:,} images = {trained:,} "
                  f"examples to train on: the page trains on at most {MAX_EXAMPLES:,}; use "
                  "fewer epochs, images or batch sizes")
    sizes = [d.n_inputs, *hidden, len(d.classes)]
    return {"dataset": d, "sizes": sizes, "n": n, "epochs": epochs, "seed": seed,
            "batch_sizes": batch_sizes, "learning_rates": rates}


def run_descent(s: dict[str, Any]) -> DescentReport:
    """:func:`nudge.insight.descent` as ``nudge descent`` runs it."""
    d, n = s["dataset"], s["n"]
    net0 = Network(s["sizes"], seed=s["seed"])
    try:
        return descent(net0, d.X_train[:n], d.y_train[:n], s["batch_sizes"], s["epochs"],
                       s["learning_rates"], s["seed"], MONITOR, RECORDS, GRID)
    except NudgeError as e:             # a run diverged: the message says which, and the fix
        raise ApiError(422, str(e)) from None


def descent_payload(report: DescentReport, dataset: str) -> dict[str, Any]:
    """What the page draws: each run's cost against examples and seconds, its path on the
    plane of the two main directions, the cost over that plane, and the summary."""
    runs = [{"label": r.label, "batch_size": r.batch_size, "learning_rate": r.learning_rate,
             "steps": r.steps, "examples": r.examples, "seconds": r.seconds, "costs": r.costs,
             "final_train_cost": r.final_train_cost, "final_accuracy": r.final_accuracy,
             "path": r.projected.tolist()} for r in report.runs]
    return {"dataset": dataset, "sizes": report.sizes, "seed": report.seed,
            "epochs": report.epochs, "n_train": report.n_train, "n_monitor": report.n_monitor,
            "runs": runs, "target_cost": report.target_cost,
            "reached": [r.to_dict() for r in report.reached], "explained": report.explained,
            "plane": {"u": report.plane_u.tolist(), "v": report.plane_v.tolist(),
                      "costs": report.plane_costs.tolist()},
            "summary": report.summary_in("η =")}     # as the page writes η


async def descent_run(request: Request) -> Response:
    """Full-batch GD and SGD from one new network, on the page's dataset."""
    state = web(request)
    data = await read_json(request)
    settings = await run_in_threadpool(descent_settings, state, data)
    t0 = time.perf_counter()
    report = await limits(request).run("heavy", run_descent, settings)
    payload = descent_payload(report, settings["dataset"].name)
    payload["ms"] = (time.perf_counter() - t0) * 1000
    return reply(payload)
