"""The summary of a sweep's results: one row per setting, mean ± sd over its seeds.

A *setting* is a point's settings without its seed.  The settings that differ between
the results are the table's columns (and the heat map's candidate axes); a diverged run
counts in ``diverged`` and is left out of the means (its accuracy is not a number).
The sd is the sample standard deviation (n − 1); it needs two runs.  The *score* that
ranks the settings is the accuracy on the held-out images when every run held some out
(``--validation N``: settings chosen that way leave the test set unseen), else the test
accuracy.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from ..display import counted, duration, table, wrapped
from ..errors import NudgeError, printable
from ..settings import ALIASES, applicable, option_named
from .grid import SETTINGS

#: short column names for the settings
LABELS = {"learning_rate": "eta", "batch_size": "B", "min_learning_rate": "eta_min",
          "weight_decay": "decay", "train_limit": "train", "test_limit": "test",
          "validation": "held out", "patience": "patience"}
#: means of the score this close (relatively) are a tie: the same accuracies summed in
#: another order can differ in their last bit
TIE = 1e-12
#: the score's name in words
SCORE_WORDS = {"validation_accuracy": "validation accuracy", "test_accuracy": "test accuracy"}
#: the summary's note (and the figure's) when no run finished
ALL_DIVERGED = ("every run diverged (its cost became NaN or infinite): no accuracy to rank "
                "or plot; try a smaller --learning-rate")


def label(name: str) -> str:
    return LABELS.get(name, name)


def show(name: str, value: Any) -> str:
    """A setting's value as the table writes it (a name read from a results file
    :func:`printable`)."""
    if name == "sizes":
        return "-".join(str(s) for s in value)
    if name == "batch_size" and value is None:
        return "full"
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return printable(value)


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def varying(records: list[dict[str, Any]]) -> list[str]:
    """The settings that take more than one value in ``records``."""
    return [k for k in SETTINGS
            if len({_canon(r["settings"].get(k)) for r in records}) > 1]


def stats(values: list[float]) -> dict[str, Any]:
    """n, mean, sd (None below two values), min and max."""
    if not values:
        return {"n": 0, "mean": None, "sd": None, "min": None, "max": None}
    a = np.asarray(values, dtype=np.float64)
    return {"n": len(a), "mean": float(a.mean()),
            "sd": float(a.std(ddof=1)) if len(a) > 1 else None,
            "min": float(a.min()), "max": float(a.max())}


def score_of(records: list[dict[str, Any]]) -> tuple[str, list[str]]:
    """``validation_accuracy`` if any run held images out, else ``test_accuracy``; and a
    note when some finished runs have no validation accuracy (they are then not ranked)."""
    held = [r.get("settings", {}).get("validation") or r.get("validation_accuracy") is not None
            for r in records]
    if not any(held):
        return "test_accuracy", []
    finished = [r for r in records if not r["diverged"]]
    without = [r for r in finished if r.get("validation_accuracy") is None]
    notes = [f"{len(without)} of {len(finished)} finished runs held no images out (run without "
             "--validation), so they are not ranked: the settings are ranked by the "
             "validation accuracy of the others"] if without else []
    return "validation_accuracy", notes


def _per_epoch(runs: list[dict[str, Any]], score: str) -> dict[str, list[Any]]:
    """Mean and sd over the seeds of the score after each epoch."""
    finished = [r for r in runs if not r["diverged"] and r.get("epochs")]
    if not finished:
        return {"epoch": [], "accuracy_mean": [], "accuracy_sd": []}
    n = min(len(r["epochs"]) for r in finished)
    acc = np.array([[e.get(score) if e.get(score) is not None else np.nan
                     for e in r["epochs"][:n]] for r in finished], dtype=np.float64)
    sd = acc.std(axis=0, ddof=1) if len(finished) > 1 else np.full(n, np.nan)
    return {"epoch": [e["epoch"] for e in finished[0]["epochs"][:n]],
            "accuracy_mean": [float(v) for v in acc.mean(axis=0)],
            "accuracy_sd": [None if math.isnan(v) else float(v) for v in sd]}


def _order(value: Any) -> tuple:
    """Where a setting's value goes in the table: numbers up, full batch (None) last."""
    if value is None:
        return (1,)
    if isinstance(value, list):
        return (0, len(value), tuple(value))
    if isinstance(value, (int, float)):
        return (0, value)
    return (0, str(value))


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    """One summary object: the varying settings, one row per setting (ordered by their
    values), and the best setting by its mean score (see the module's docstring); when
    other settings have the same mean score, ``best`` is the first of them in the table
    and ``tied`` names the others (their swept values), else it is empty."""
    swept = varying(records)
    score, notes = score_of(records)
    if records and all(r["diverged"] for r in records):
        notes = [*notes, ALL_DIVERGED]
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault(_canon({k: r["settings"].get(k) for k in SETTINGS}), []).append(r)
    # each setting's runs by seed, the settings by their settings: the sums (so the means
    # and sds, to the last bit) and the rows do not depend on the order the runs finished in
    groups = {k: sorted(groups[k], key=lambda r: r["seed"]) for k in sorted(groups)}
    rows: list[dict[str, Any]] = []             # a row as describe() and text() read it
    for runs in groups.values():
        ok = [r for r in runs if not r["diverged"] and r.get("test_accuracy") is not None]
        shown = applicable(runs[0]["settings"])       # no momentum for sgd, as nudge train
        rows.append({
            "settings": shown,
            "swept": {k: shown.get(k) for k in swept},
            "seeds": sorted(r["seed"] for r in runs),
            "runs": len(runs),
            "diverged": sum(1 for r in runs if r["diverged"]),
            "test_accuracy": stats([r["test_accuracy"] for r in ok]),
            "test_cost": stats([r["test_cost"] for r in ok if r.get("test_cost") is not None]),
            "validation_accuracy": stats([r["validation_accuracy"] for r in ok
                                          if r.get("validation_accuracy") is not None]),
            "seconds_per_run": float(np.mean([r["seconds"] for r in runs])),
            "per_epoch": _per_epoch(runs, score),
        })
    rows.sort(key=lambda row: [_order(row["swept"][k]) for k in swept])
    scored = [row for row in rows if row[score]["mean"] is not None]
    top = max((row[score]["mean"] for row in scored), default=None)
    # the first in the table of those tied (a mean one bit above another is the same)
    best = next((row for row in scored if math.isclose(row[score]["mean"], top, rel_tol=TIE)),
                None) if top is not None else None
    tied = [row for row in scored if best is not None and row is not best
            and math.isclose(row[score]["mean"], best[score]["mean"], rel_tol=TIE)]
    return {"runs": len(records), "diverged": sum(1 for r in records if r["diverged"]),
            "score": score, "notes": notes,
            "settings_count": len(rows), "swept": swept, "rows": rows, "best": best,
            "tied": [row["swept"] for row in tied],
            "seconds": math.fsum(r["seconds"] for r in records)}


def _pm(s: dict[str, Any], scale: float, digits: int, unit: str = "") -> str:
    if s["mean"] is None:
        return "diverged"
    if s["sd"] is None:
        return f"{scale * s['mean']:.{digits}f}{unit}"
    return f"{scale * s['mean']:.{digits}f} ± {scale * s['sd']:.{digits}f}{unit}"


def title(summary: dict[str, Any]) -> str:
    """A figure's title: the number of runs and what they share (dataset, preset, epochs)."""
    rows = summary["rows"]
    if not rows:
        return ""
    shared = [k for k in ("dataset", "preset", "epochs")
              if k not in summary["swept"] and k in rows[0]["settings"]]
    words = {"dataset": "on {}", "preset": "preset {}", "epochs": "{} epochs"}
    parts = [words[k].format(show(k, rows[0]["settings"][k])) for k in shared]
    return counted(summary["runs"], "run") + (", " + ", ".join(parts) if parts else "")


def describe(row: dict[str, Any]) -> str:
    """A setting in a few words: its swept values."""
    return " ".join(f"{label(k)}={show(k, v)}" for k, v in row["swept"].items()) or "all runs"


def text(summary: dict[str, Any]) -> str:
    """The summary as a table and a line naming the best setting."""
    swept = summary["swept"]
    scored_held_out = summary.get("score") == "validation_accuracy"
    rows = []
    for row in summary["rows"]:
        seeds = str(row["runs"]) + (f" ({row['diverged']} diverged)" if row["diverged"] else "")
        held = ([_pm(row["validation_accuracy"], 100, 2, "%")
                 if row["validation_accuracy"]["n"] or row["diverged"] == row["runs"] else "-"]
                if scored_held_out else [])
        rows.append([*(show(k, row["swept"][k]) for k in swept), seeds, *held,
                     _pm(row["test_accuracy"], 100, 2, "%"), _pm(row["test_cost"], 1, 4),
                     duration(row["seconds_per_run"])])
    out = table([*(label(k) for k in swept), "seeds",
                 *(["validation accuracy"] if scored_held_out else []), "test accuracy",
                 "test cost", "time/run"], rows)
    best, score = summary["best"], summary.get("score", "test_accuracy")
    if best is not None and len(summary["rows"]) > 1:
        by = f" by {SCORE_WORDS[score]}" if scored_held_out else ""
        out += wrapped(f"\n\nbest{by}: {describe(best)}: "
                       f"{_pm(best[score], 100, 2, '%')} over {counted(best[score]['n'], 'seed')}"
                       + (f" (test accuracy {_pm(best['test_accuracy'], 100, 2, '%')})"
                          if scored_held_out else ""))
        if summary.get("tied"):
            others = ", ".join(describe({"swept": t}) for t in summary["tied"])
            out += wrapped(f"\ntied with it: {others} (the same mean {SCORE_WORDS[score]}; "
                           "the first in the table is named best)")
    return out


def check_axes(text_: str | None, swept: list[str]) -> tuple[str, ...] | None:
    """The heat map's axes from ``--axes A,B`` (option names), checked against ``swept``."""
    if text_ is None:
        return None
    names = tuple(option_named(t) for t in text_.split(","))      # eta: --learning-rate
    names = tuple("sizes" if n == "hidden" else n for n in names)
    if len(names) != 2 or names[0] == names[1]:
        raise NudgeError(f"--axes {text_!r}: name two different swept options, e.g. "
                         "learning-rate,batch-size")
    for n in names:
        if n not in swept:
            raise NudgeError(f"--axes: {n.replace('_', '-')!r} is not swept here; choose from "
                             f"{', '.join(_named(s) for s in swept) or '(none)'}")
    return names


def _named(option: str) -> str:
    """An option as --axes takes it, with its other names: ``learning-rate (or eta)``."""
    others = [*ALIASES.get(option, ()), *(["hidden"] if option == "sizes" else [])]
    return option.replace("_", "-") + (f" (or {' or '.join(others)})" if others else "")
