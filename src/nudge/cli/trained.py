"""What ``nudge train`` says and saves once training has ended: the model file's metadata,
the summary table, the ``--json`` object, the figures and the note on an early stop."""

from __future__ import annotations

import argparse
import datetime as _dt
from typing import Any

from ..display import counted, duration, epochs_done, say, table
from ..errors import NudgeError, printable
from ..modelfile import start_record
from ..network import Network
from .common import note, print_plot


def note_stop(history: Any) -> None:
    """One line on stderr when the run ended early and what was saved then."""
    saved = (f"the best epoch so far ({history.best_epoch}) is saved"
             if history.best_epoch is not None else "the model so far is saved")
    if history.stopped == "interrupted":
        last = history.epochs[-1] if history.epochs else None
        when = (f"in epoch {last.epoch}, part of the way through" if last and not last.complete
                else f"after epoch {len(history.epochs)}")
        note(f"stopped by Ctrl-C {when}; {saved}")
    elif history.stopped == "diverged":
        note(f"training diverged in epoch {len(history.epochs) + 1} (the cost became NaN or "
             f"infinite); {saved}")
    elif history.stopped == "finished" and history.settings["schedule"] == "plateau":
        ran = ("the only epoch" if len(history.epochs) == 1
               else f"all {counted(len(history.epochs), 'epoch')}")
        note(f"{ran} ran before the plateau schedule "
             f"had halved eta as far as it goes (eta {history.last.learning_rate:g}, eta_min "
             f"{history.settings['min_learning_rate']:g}): give more --epochs to let it end "
             f"by itself; {saved}")


def json_result(args: argparse.Namespace, history: Any, metadata: dict, saved: Any,
            plotted: bool, data: Any, sizes: list[int], seed: int, tracker: Any,
            problem: str | None) -> dict[str, Any]:
    """The --json result of nudge train (the kept epoch's figures), but its "error"."""
    kept = history.kept
    return {
        "test_accuracy": kept.test_accuracy, "test_cost": kept.test_cost,
        "validation_accuracy": kept.validation_accuracy,
        "validation_cost": kept.validation_cost, "n_validation": metadata["n_validation"],
        "train_cost": kept.train_cost, "epochs": len(history.epochs),
        "best_epoch": history.best_epoch,
        "train_seconds": history.train_seconds, "model_path": str(saved),
        "plot_path": args.plot if plotted else None, "dataset": data.name, "sizes": sizes,
        "seed": seed, "stopped": history.stopped, "settings": history.settings,
        "history": metadata["history"], "tracked": metadata.get("tracked"),
        "track_plot_path": args.track_plot if tracker is not None and not problem else None,
        "started_from": metadata.get("started_from"),
    }


def unsaved_result(history: Any, stopped: str, data: Any, sizes: list[int], seed: int,
             tracker: Any) -> dict[str, Any]:
    """What --json says beside the error of a run that saved nothing: the result's keys
    that still apply (the epochs before it stopped, its settings)."""
    rows, tracked = epoch_rows(history, tracker)
    return {"epochs": len(history.epochs), "model_path": None, "dataset": data.name,
            "sizes": sizes, "seed": seed, "stopped": stopped, "settings": history.settings,
            "history": rows, "tracked": tracked}


def epoch_rows(history: Any, tracker: Any) -> tuple[list[dict], dict | None]:
    """Each epoch's row (with its noise scale, when tracked) and what was tracked."""
    rows = history.to_dict()["epochs"]
    if tracker is None:
        return rows, None
    noise = {r.epoch: r.to_dict() for r in tracker.records}
    return ([{**row, "noise_scale": noise.get(row["epoch"])} for row in rows],
            {"noise": tracker.to_dict()})


def save_figures(args: argparse.Namespace, history: Any, tracker: Any, title: str,
                  saved: Any, problem: str | None) -> tuple[bool, str | None]:
    """--plot and --track-plot, after the model is saved: (plotted, the first problem)."""
    plotted = False
    if args.plot:
        from ..plots import plot_history

        try:
            plot_history(history, args.plot, title=title)
            plotted = True
        except NudgeError as e:
            problem = problem or f"the model is saved ({saved}) but the plot is not: {e}"
    if tracker is not None and args.track_plot:
        from ..insight.curvature_plots import plot_noise_tracking

        try:
            plot_noise_tracking(tracker.records, args.track_plot)
        except NudgeError as e:
            problem = problem or f"the model is saved ({saved}) but the plot is not: {e}"
    return plotted, problem


def started_from(path: str | None, start: Network | None, data: Any) -> dict[str, Any] | None:
    """What a model file and ``--json`` record of the ``--start-from`` model a run trained
    further (:func:`nudge.modelfile.start_record`; None for a new network), its accuracy
    measured on this run's test images."""
    if start is None:
        return None
    return start_record(str(path), start, start.score(data.X_test, data.y_test)
                        if len(data.X_test) else None)


def describe_start(started: dict[str, Any]) -> str:
    """The line of nudge train's opening lines that says which model it trains further."""
    epochs = ("epochs unknown" if started["epochs"] is None
              else f"{epochs_done(started['epochs'], started.get('partial') is True)} "
              "of training")
    accuracy = ("" if started["test_accuracy"] is None
                else f", {100 * started['test_accuracy']:.2f}% on the test images now")
    return f"  from {printable(started['model'])} ({epochs}{accuracy})\n"


def model_metadata(args: argparse.Namespace, data: Any, validation: Any, history: Any,
                   tracker: Any, started: dict[str, Any] | None = None) -> dict:
    """What the model file records about its training."""
    kept, (rows, tracked) = history.kept, epoch_rows(history, tracker)
    metadata = {
        "dataset": data.name, "input_shape": list(data.image_shape), "classes": data.classes,
        "preset": args.preset, "training": history.settings,
        "epochs_trained": len(history.epochs), "stopped": history.stopped,
        "best_epoch": history.best_epoch,
        "test_accuracy": kept.test_accuracy, "test_cost": kept.test_cost,
        "train_cost": kept.train_cost, "train_seconds": round(history.train_seconds, 4),
        "n_train": len(data.X_train), "n_test": len(data.X_test),
        "n_validation": len(validation[0]) if validation is not None else 0,
        "validation_accuracy": kept.validation_accuracy,
        "validation_cost": kept.validation_cost,
        "history": rows,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if tracked is not None:
        metadata["tracked"] = tracked
    if started is not None:
        metadata["started_from"] = started
    return metadata


def print_summary(history: Any, data: Any, saved: Any, args: argparse.Namespace,
                   plotted: bool, tracker: Any, problem: str | None) -> None:
    """The epochs (at most about a dozen rows) and where things were saved."""
    kept = history.kept
    rows = []
    n = len(history.epochs)
    show = set(range(n)) if n <= 12 else set(range(0, n, max(1, n // 10))) | {n - 1}
    if history.best_epoch is not None:
        show.add(history.best_epoch - 1)
    elapsed = 0.0
    held_out = kept.validation_accuracy is not None
    varied = len(set(history.column("learning_rate"))) > 1      # a schedule: show each eta
    for i, r in enumerate(history.epochs):
        elapsed += r.seconds
        if i in show:
            rows.append([r.epoch if r.complete else f"{r.epoch} (part)",   # cut short
                         *([f"{r.learning_rate:.4g}"] if varied else []),
                         *([f"{100 * r.validation_accuracy:.2f}%"] if held_out else []),
                         f"{100 * r.test_accuracy:.2f}%", f"{r.test_cost:.4f}",
                         f"{r.train_cost:.4f}" if r.train_cost is not None else "-",
                         duration(elapsed)])
    print(table(["epoch", *(["eta"] if varied else []),
                 *(["validation accuracy"] if held_out else []), "test accuracy",
                 "test cost", "train cost", "time"], rows))
    say(f"\nsaved {printable(saved)}  ({100 * kept.test_accuracy:.2f}% on "
        f"{len(data.X_test):,} test images, {duration(history.train_seconds)} of "
        "training)", hang=6)
    if history.best_epoch is not None:
        why = (f"no rise in {counted(args.patience, 'epoch')}"
               if history.stopped == "no improvement" else history.stopped)
        if history.stopped == "no improvement" and history.settings["schedule"] == "plateau":
            why += (f" at eta {history.last.learning_rate:g}; half of it would pass "
                    f"eta_min {history.settings['min_learning_rate']:g}")
        say(f"kept  epoch {history.best_epoch} of {len(history.epochs)}, the best "
            f"on the held-out images ({100 * kept.validation_accuracy:.2f}%; {why})", hang=6)
    print_plot(args.plot if plotted else None)
    if tracker is not None:
        first, end = tracker.records[0], tracker.records[-1]
        say(f"noise scale B_simple: {first.b_simple:,.1f} before training, "
            f"{end.b_simple:,.1f} after epoch {end.epoch} (cost {end.cost:.4f}); "
            "every epoch's value is saved with the model (nudge info --json: "
            "metadata.tracked)")
        print_plot(None if problem else args.track_plot)
