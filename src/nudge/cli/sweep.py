"""``nudge sweep``: the product of option lists, one training run per point, results in a
JSON-lines file that a rerun resumes from; ``--report`` summarises such a file."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ..display import counted
from ..engine.threads import available_cpus
from ..errors import NudgeError
from ..presets import DEFAULT_PRESET, PRESETS
from ..settings import flags
from ..sweep import expand, read, run_sweep, summarise, text
from ..sweep.grid import MAX_POINTS, OPTIONS, flag
from ..sweep.runner import MAX_WORKERS
from ..sweep.summary import check_axes, title
from .common import (
    add_json_option,
    add_limits,
    at_most,
    bounded_int,
    check_plot,
    epochs_type,
    load_data,
    note,
    positive_float,
    positive_int,
    print_json,
    print_plot,
)

_HELP = {
    "dataset": "datasets (auto, mnist, fashion-mnist, digits; default auto)",
    "preset": f"presets to start from ({', '.join(PRESETS)}; default {DEFAULT_PRESET})",
    "sizes": "architectures, input first, commas between layers and / between "
             "architectures: 784,16,10/784,16,16,10",
    "hidden": "the hidden layers of each architecture, commas between layers and / between "
              "architectures: 4/16/16,16 (none: no hidden layer)",
    "activation": "hidden-layer activations: sigmoid,relu,tanh",
    "output": "output functions: sigmoid,softmax",
    "cost": "cost functions: quadratic,cross-entropy",
    "init": "weight initialisations: scaled,normal",
    "optimizer": "optimizers: sgd,momentum,adam",
    "momentum": "momentum coefficients in [0, 1)",
    "epochs": "numbers of epochs",
    "batch_size": "mini-batch sizes (full: full-batch gradient descent)",
    "learning_rate": "learning rates eta",
    "schedule": "learning-rate schedules: constant,cosine,plateau (plateau needs "
                "--validation and --patience)",
    "min_learning_rate": "the rate the cosine schedule decays towards; plateau halves eta "
                         "while eta/2 >= it",
    "weight_decay": "L2 weight decays lambda",
}


#: the longest --timeout (seconds): an hour
MAX_TIMEOUT = 3600
#: --out and --timeout when not given (None until then: --report refuses them given)
DEFAULT_OUT, DEFAULT_TIMEOUT = "sweep.jsonl", 30.0


_timeout = at_most(positive_float, MAX_TIMEOUT, " seconds (an hour)")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "sweep", help="many training runs: the product of option lists, resumable",
        description="Train one network for every combination of the comma-separated option "
                    "lists and seeds, on a local process pool (one worker per core) or a Dask "
                    "cluster (--scheduler). Each finished run is appended at once to --out as "
                    "a JSON line; running the same command again skips the runs already there. "
                    "Prints mean +- sd over the seeds for each setting. Options left out take "
                    "the preset's value.",
        epilog="example: nudge sweep --learning-rate 0.3,1,3 --batch-size 10,100 --seeds 1-5 "
               f"--epochs 10 --out sweep.jsonl --plot sweep.png  (at most {MAX_POINTS:,} "
               "points)")
    for option in OPTIONS:
        p.add_argument(*flags(option), dest=option, metavar="LIST", help=_HELP[option])
    p.add_argument("--seeds", metavar="LIST", help="seeds, as numbers and ranges: 1-5,10 "
                   "(default 1)")
    p.add_argument("--data-dir", metavar="DIR",
                   help="folder holding the IDX files (else $NUDGE_DATA, then the cache)")
    add_limits(p)
    p.add_argument("--validation", type=positive_int, metavar="N",
                   help="every run holds out the last N training images; the settings are "
                        "then ranked by accuracy on them, and the test set stays unseen")
    p.add_argument("--patience", type=epochs_type, metavar="N",
                   help="with --validation: every run stops when its validation accuracy has "
                        "not risen for N epochs and keeps its best epoch (early stopping)")
    p.add_argument("--train-cost", action="store_true",
                   help="also record the training-set cost after each epoch (slower)")
    p.add_argument("--out", metavar="FILE",
                   help=f"results file, one JSON line per run (default: {DEFAULT_OUT})")
    p.add_argument("--workers", type=bounded_int(1, MAX_WORKERS), metavar="N",
                   help="local worker processes (default: one per core this process may "
                        f"use; at most {MAX_WORKERS})")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on the Dask cluster of this scheduler, e.g. tcp://HOST:8786 or "
                        'tls://HOST:8786 (needs Dask: pip install "dask[distributed]")')
    p.add_argument("--timeout", type=_timeout, metavar="SECONDS",
                   help="how long to wait for the scheduler and its first worker "
                        f"(default: {DEFAULT_TIMEOUT:g}, at most {MAX_TIMEOUT:,})")
    p.add_argument("--tls-ca-file", metavar="FILE", help="CA certificate for a tls:// scheduler")
    p.add_argument("--tls-cert", metavar="FILE", help="this client's TLS certificate")
    p.add_argument("--tls-key", metavar="FILE", help="this client's TLS private key")
    p.add_argument("--report", metavar="FILE",
                   help="summarise an existing results file instead of running a sweep")
    p.add_argument("--plot", metavar="FILE.png",
                   help="heat map of accuracy over two swept options, and accuracy per epoch "
                        "(mean +- sd over seeds)")
    p.add_argument("--axes", metavar="A,B", help="the heat map's two options, e.g. "
                   "learning-rate,batch-size (eta too, as --eta; default: the two swept "
                   "with most values)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_json_option(p)
    p.set_defaults(func=cmd_sweep)


def cmd_sweep(args: argparse.Namespace) -> int:
    check_plot(args.plot)
    if args.axes is not None and not args.plot:
        raise NudgeError("--axes chooses the heat map's two options: add --plot FILE.png, or "
                         "leave --axes out")
    cluster = [flag(o) for o in ("timeout", "tls_ca_file", "tls_cert", "tls_key")
               if getattr(args, o) is not None]
    if cluster and not args.scheduler and not args.report:
        raise NudgeError(f"{', '.join(cluster)} {'is' if len(cluster) == 1 else 'are'} for a "
                         "Dask cluster: add --scheduler ADDRESS, or leave "
                         f"{'it' if len(cluster) == 1 else 'them'} out")
    if args.report:
        return _report(args)
    args.out = DEFAULT_OUT if args.out is None else args.out
    args.timeout = DEFAULT_TIMEOUT if args.timeout is None else args.timeout
    return _sweep(args)


def _report(args: argparse.Namespace) -> int:
    given = [flag(o) for o in (*OPTIONS, "seeds", "scheduler", "workers", "train_limit",
                               "test_limit", "validation", "patience", "data_dir", "train_cost",
                               "out", "timeout", "tls_ca_file", "tls_cert", "tls_key")
             if getattr(args, o) not in (None, False)]
    if given:
        raise NudgeError(f"--report summarises a file; leave out {', '.join(given)} (or leave "
                         "out --report to run a sweep)")
    records, notes = read(args.report)
    for n in notes:
        note(n)
    summary = summarise(records)
    _finish(args, summary, {"file": args.report, "notes": notes})
    return 0


def _sweep(args: argparse.Namespace) -> int:
    if not args.scheduler:
        return _sweep_grid(args)
    from ..sweep.runner import quiet_dask

    with quiet_dask():                  # what goes wrong is one line of ours, not Dask's logs
        return _sweep_grid(args)


def _sweep_grid(args: argparse.Namespace) -> int:
    if args.scheduler is not None and not args.scheduler.strip():
        raise NudgeError("--scheduler needs an address, e.g. tcp://HOST:8786 (leave it out to "
                         "run on this machine)")
    if args.scheduler and args.workers is not None:
        raise NudgeError("--workers sets the local worker processes; on a Dask cluster the "
                         "workers are the ones started with `dask worker`: leave out --workers")
    loaded: dict[str, Any] = {}

    def dataset(name: str) -> Any:
        if name not in loaded:
            data = load_data(name, args.data_dir)
            if args.train_limit or args.test_limit:
                data = data.subset(args.train_limit, args.test_limit)
            loaded[name] = data
            loaded.setdefault(data.name, data)
        return loaded[name]

    seeds = "1" if args.seeds is None else args.seeds      # --seeds '' is an error, not 1
    grid = expand({o: getattr(args, o) for o in OPTIONS}, seeds=seeds,
                  datasets=dataset, train_limit=args.train_limit, test_limit=args.test_limit,
                  validation=args.validation, patience=args.patience)
    check_axes(args.axes, _swept_settings(grid))
    client = _client(args) if args.scheduler else None
    bar: Any = None
    done = [0]

    def before(todo: int, skipped: int) -> None:
        nonlocal bar
        where = (f"the Dask cluster at {args.scheduler}" if client is not None
                 else counted(min(args.workers or available_cpus(), max(1, todo)), "local worker"))
        if not args.json:
            note(f"sweep: {counted(len(grid.points), 'run')} ({skipped} already in {args.out}); "
                 f"running {todo} on {where}")
        if todo and not args.quiet and not args.json and sys.stderr.isatty():
            from tqdm.auto import tqdm

            bar = tqdm(total=todo, unit="run", desc="sweep", dynamic_ncols=True)

    def on_result(record: dict[str, Any]) -> None:
        done[0] += 1
        if bar is not None:
            bar.update(1)

    started = time.perf_counter()
    try:
        # local workers find the same files by name (checked against their SHA-256 like
        # these) and share the decoded cache's pages; a copy each would be 55 MB of MNIST
        run = run_sweep(grid, args.out, workers=args.workers, data_dir=args.data_dir,
                        client=client, datasets=loaded if client is not None else None,
                        train_cost=args.train_cost,
                        before=before, on_result=on_result)
    except KeyboardInterrupt:
        note(f"{args.out} holds the {counted(done[0], 'run')} finished so far; run the same "
             "command again to do the rest")
        raise
    finally:
        if bar is not None:
            bar.close()
        if client is not None:
            client.close()
    for n in run.notes:
        note(n)
    summary = summarise(run.records)
    _finish(args, summary, {
        "out": args.out, "points": run.points, "skipped": run.skipped, "ran": run.ran,
        "engine": "dask" if client is not None else "local",
        "workers": None if client is not None else min(args.workers or available_cpus(),
                                                       max(1, run.ran)),
        "wall_seconds": round(time.perf_counter() - started, 3), "notes": run.notes})
    return 0


def _swept_settings(grid: Any) -> list[str]:
    from ..sweep.summary import varying

    return varying([{"settings": p.settings} for p in grid.points])


def _client(args: argparse.Namespace) -> Any:
    from ..sweep.runner import NEEDS_DASK, connect

    security = None
    tls = (args.tls_ca_file, args.tls_cert, args.tls_key)
    if any(tls):
        if not all(tls):
            raise NudgeError("TLS needs all three of --tls-ca-file, --tls-cert and --tls-key")
        try:
            from distributed.security import Security
        except ImportError:
            raise NudgeError(NEEDS_DASK) from None
        security = Security(tls_ca_file=args.tls_ca_file, tls_client_cert=args.tls_cert,
                            tls_client_key=args.tls_key, require_encryption=True)
    return connect(args.scheduler, security, timeout=args.timeout)


def _finish(args: argparse.Namespace, summary: dict[str, Any], extra: dict[str, Any]) -> None:
    for n in summary["notes"]:
        note(n)
    plot = None
    if args.plot:
        if not summary["rows"]:
            raise NudgeError(f"--plot {args.plot}: there are no results to plot yet")
        from ..sweep.plots import plot_sweep

        axes = check_axes(args.axes, summary["swept"])
        plot = str(plot_sweep(summary, args.plot, axes=axes, title=title(summary)))
    if args.json:
        # the file's notes (a line cut off, results repeated) and the summary's, both
        print_json({**extra, **summary, "notes": [*extra["notes"], *summary["notes"]],
                    "plot": plot})
        return
    if summary["rows"]:
        print(text(summary))
    else:
        print("no results yet")
    print_plot(plot)
