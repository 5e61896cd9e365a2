"""The sweep's figure: the final score (test accuracy, or validation accuracy when the runs
held images out) over two swept settings (a heat map), and the score after each epoch
as bands (mean ± sd over the seeds) for each setting.

With one swept setting the left panel is accuracy against it (mean ± sd); with none,
only the bands are drawn.  When more than two settings are swept, each heat-map cell
shows the best mean over the settings that are not on its axes (the title says so).
The colours span the best cell's accuracy and :data:`CONTRAST` points below it, so that
the differences among the good settings show; every cell has its number written in it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..display import counted
from ..plots import new_figure, save_figure, text_label
from .summary import ALL_DIVERGED, SCORE_WORDS, describe, label, show

#: the most settings drawn as bands (the best ones by mean final accuracy)
MAX_BANDS = 10
#: the heat map's colours span the best accuracy and this many points below it (lower
#: cells take the lowest colour; their numbers are written in them)
CONTRAST = 10.0
#: settings the heat map prefers as axes, in this order, among those with most values
_PREFERRED = ("learning_rate", "batch_size", "sizes", "epochs", "weight_decay")


def _values(rows: list[dict[str, Any]], name: str) -> list[Any]:
    """A setting's distinct values: numbers sorted (full batch last), others as they come."""
    seen: dict[str, Any] = {}
    for row in rows:
        seen.setdefault(json.dumps(row["swept"][name]), row["swept"][name])
    values = list(seen.values())
    if all(isinstance(v, (int, float)) or v is None for v in values):
        values.sort(key=lambda v: (v is None, v if v is not None else 0))
    elif name == "sizes":
        values.sort(key=lambda v: (len(v), v))
    return values


def choose_axes(summary: dict[str, Any]) -> tuple[str, ...]:
    """The two swept settings with the most values (the preferred ones on ties)."""
    swept = summary["swept"]

    def rank(name: str) -> tuple[int, int]:
        pref = _PREFERRED.index(name) if name in _PREFERRED else len(_PREFERRED)
        return (-len(_values(summary["rows"], name)), pref)

    return tuple(sorted(swept, key=rank)[:2])


def _score(summary: dict[str, Any]) -> tuple[str, str]:
    """The score the settings are ranked by (see :mod:`.summary`), and its name in words."""
    score = summary.get("score", "test_accuracy")
    return score, SCORE_WORDS[score]


def _mean(row: dict[str, Any], score: str) -> float:
    m = row[score]["mean"]
    return math.nan if m is None else 100 * m


def _heat_map(ax: Any, fig: Any, summary: dict[str, Any], axes: tuple[str, ...]) -> None:
    rows = summary["rows"]
    score, words = _score(summary)
    x_name, y_name = axes
    xs, ys = _values(rows, x_name), _values(rows, y_name)
    grid = np.full((len(ys), len(xs)), np.nan)
    empty = np.full((len(ys), len(xs)), "diverged", dtype=object)   # a cell without a value
    for row in rows:
        i = ys.index(row["swept"][y_name])
        j = xs.index(row["swept"][x_name])
        if row["diverged"] < row["runs"]:
            empty[i, j] = "-"                    # not diverged: its runs have no such score
        value = _mean(row, score)
        if not math.isnan(value) and (math.isnan(grid[i, j]) or value > grid[i, j]):
            grid[i, j] = value
    import matplotlib

    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="0.8")
    top = np.nanmax(grid) if np.isfinite(grid).any() else 100.0
    low = np.nanmin(grid) if np.isfinite(grid).any() else 0.0
    vmin = max(low, top - CONTRAST)         # the colours for the cells near the best
    image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, aspect="auto", origin="lower",
                      vmin=vmin, vmax=max(top, vmin + 1e-9))
    if np.isfinite(grid).any():             # no scale for cells that all say "diverged"
        fig.colorbar(image, ax=ax, label=f"{words} (%)", extend="min" if low < vmin else
                     "neither")
    # the values may be names read from a results file: text_label keeps a $ a dollar sign
    ax.set_xticks(range(len(xs)), [text_label(show(x_name, v)) for v in xs],
                  rotation=45 if x_name == "sizes" else 0)
    ax.set_yticks(range(len(ys)), [text_label(show(y_name, v)) for v in ys])
    ax.set_xlabel(label(x_name))
    ax.set_ylabel(label(y_name))
    if len(xs) * len(ys) <= 150:
        for i in range(len(ys)):
            for j in range(len(xs)):
                v = grid[i, j]
                light = math.isnan(v) or v > vmin + 0.6 * (top - vmin)
                ax.text(j, i, empty[i, j] if math.isnan(v) else f"{v:.1f}", ha="center",
                        va="center", fontsize=8, color="black" if light else "white")
    others = [label(s) for s in summary["swept"] if s not in axes]
    ax.set_title(f"mean {words} over seeds"
                 + (f"\n(best over {', '.join(others)})" if others else ""))


def _line(ax: Any, summary: dict[str, Any], name: str) -> None:
    rows = summary["rows"]
    score, words = _score(summary)
    xs = _values(rows, name)
    by_value = {json.dumps(r["swept"][name]): r for r in rows}
    means, sds = [], []
    for v in xs:
        r = by_value[json.dumps(v)]
        means.append(_mean(r, score))
        sd = r[score]["sd"]
        sds.append(0.0 if sd is None else 100 * sd)
    positions = range(len(xs))
    ax.errorbar(positions, means, yerr=sds, fmt="o-", capsize=3)
    if any(math.isnan(m) for m in means):   # room for the words at either end
        ax.set_xlim(-0.5, len(xs) - 0.5)
    if all(math.isnan(m) for m in means):
        ax.set_ylim(0, 100)
    for x, m in zip(positions, means):      # as the heat map's cells: a value, or "diverged"
        if math.isnan(m):
            ax.text(x, 0.5, "diverged", transform=ax.get_xaxis_transform(), ha="center",
                    va="center", fontsize=8)
    ax.set_xticks(positions, [text_label(show(name, v)) for v in xs],
                  rotation=45 if name == "sizes" else 0)
    ax.set_xlabel(label(name))
    ax.set_ylabel(f"final {words} (%)")
    ax.set_title("mean ± sd over seeds")
    ax.grid(alpha=0.3)


def _bands(ax: Any, summary: dict[str, Any]) -> None:
    rows = [r for r in summary["rows"] if r["per_epoch"]["epoch"]]
    score, words = _score(summary)
    rows = sorted(rows, key=lambda r: (-_mean(r, score) if not math.isnan(_mean(r, score))
                                       else math.inf))
    drawn = rows[:MAX_BANDS]
    import matplotlib
    from matplotlib.ticker import MaxNLocator

    cmap = matplotlib.colormaps["viridis"]
    colors = [cmap(i / max(1, len(drawn) - 1)) for i in range(len(drawn))]
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for row, color in zip(drawn, colors):
        pe = row["per_epoch"]
        mean = 100 * np.asarray(pe["accuracy_mean"], dtype=np.float64)
        sd = 100 * np.asarray([0.0 if s is None else s for s in pe["accuracy_sd"]])
        ax.plot(pe["epoch"], mean, color=color, label=text_label(describe(row)), lw=1.5)
        ax.fill_between(pe["epoch"], mean - sd, mean + sd, color=color, alpha=0.2, lw=0)
    finals = [_mean(r, score) for r in drawn if not math.isnan(_mean(r, score))]
    if finals:                              # the end, where the settings differ, in view
        ax.set_ylim(bottom=max(0.0, min(finals) - 5), top=min(100.0, max(finals) + 1))
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{words} (%)")
    gone = len(summary["rows"]) - len(rows)     # settings whose every run diverged
    said = [f"{len(drawn)} best of {counted(len(rows), 'setting')}" if len(rows) > len(drawn)
            else "", f"{counted(gone, 'setting')} diverged, not drawn" if gone else ""]
    ax.set_title(f"{words} per epoch, mean ± sd over seeds"
                 + (f"\n({'; '.join(w for w in said if w)})" if drawn and any(said) else ""))
    ax.grid(alpha=0.3)
    if drawn:
        ax.legend(fontsize=7, loc="lower right")
    elif summary["runs"] and summary["diverged"] == summary["runs"]:   # the summary's note
        ax.set(ylim=(0, 100), xticks=[])
        ax.text(0.5, 0.5, text_label(ALL_DIVERGED, 40), transform=ax.transAxes, ha="center",
                va="center", fontsize=11)


def plot_sweep(summary: dict[str, Any], path: str | Path,
               axes: tuple[str, ...] | None = None, title: str = "") -> Path:
    """The sweep's figure, written atomically as PNG."""
    swept = summary["swept"]
    axes = axes or choose_axes(summary)
    if swept:
        fig, (left, right) = new_figure(1, 2, figsize=(13, 5))
        if len(axes) == 2:
            _heat_map(left, fig, summary, axes)
        else:
            _line(left, summary, axes[0])
    else:
        fig, right = new_figure(1, 1, figsize=(7, 5))
    _bands(right, summary)
    if title:
        fig.suptitle(text_label(title), y=1.04)
    return save_figure(fig, path)
