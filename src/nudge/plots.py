"""Figures with matplotlib (headless: the Agg backend), saved atomically as PNG."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path
from typing import Any

from .errors import NudgeError, printable
from .fsutil import as_path, atomic_write_bytes


def new_figure(*args: Any, **kwargs: Any):
    """A figure and its axes, as ``plt.subplots`` makes them, but outside pyplot: it
    needs no display and leaves the user's backend alone (a notebook's ``plt.show()``
    still works after a nudge figure)."""
    from matplotlib.figure import Figure

    figure_options = {k: kwargs.pop(k) for k in ("figsize", "dpi", "layout",
                                                 "constrained_layout", "tight_layout")
                      if k in kwargs}
    fig = Figure(**figure_options)
    return fig, fig.subplots(*args, **kwargs)


def text_label(text: Any, width: int | None = None) -> str:
    """Text from a file or a file name, fit for a figure: :func:`~nudge.errors.printable`,
    each ``$`` kept a dollar sign (matplotlib reads ``$...$`` as mathematics, and a name
    such as ``a$x_{$b`` stopped the figure) and, with ``width``, wrapped in lines of at
    most that many characters (a long path would squeeze the axes)."""
    import textwrap

    lines = textwrap.wrap(str(text), width) if width else [str(text)]
    return "\n".join(printable(line).replace("$", r"\$") for line in lines)


#: the first bytes of every PNG image
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def check_figure_target(path: str | Path, flag: str = "") -> None:
    """A figure replaces a PNG image (or an empty file), never another file: ``--plot
    notes.png`` holding notes, or a link named ``.png`` to a model, is refused (``flag``:
    the option that named it, for the message).  A file with other hard links keeps its
    contents under them (:func:`~nudge.fsutil.atomic_write_bytes`), so this name may go."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode) or not st.st_size or st.st_nlink > 1:
            return
        with open(path, "rb") as f:
            head = f.read(len(PNG_SIGNATURE))
    except OSError:                            # unreadable: the write says why, if it fails
        return
    if head != PNG_SIGNATURE:
        raise NudgeError(f"{flag + ' ' if flag else ''}{path} is a file but not a PNG image; "
                         "a figure replaces only a PNG: choose another name, or remove that "
                         "file first")


def save_figure(fig: Any, path: str | Path, dpi: int = 120) -> Path:
    """Render ``fig`` to PNG at ``dpi`` and write it atomically; a pyplot figure is closed."""
    path = as_path(path, "the figure")
    if path.suffix.lower() != ".png":
        raise NudgeError(f"{path}: figures are saved as PNG; give a file name ending in .png")
    check_figure_target(path)
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    finally:
        import sys

        if "matplotlib.pyplot" in sys.modules:     # figures made with pyplot are kept there
            sys.modules["matplotlib.pyplot"].close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path


def plot_history(history: Any, path: str | Path, title: str = "") -> Path:
    """Cost (training, test and held-out) and accuracy (test and held-out) per epoch."""
    fig, (ax_cost, ax_acc) = new_figure(1, 2, figsize=(10, 4))
    epochs = history.column("epoch")
    for column, style, color, label in (("train_cost", "o-", "tab:blue", "training set"),
                                        ("test_cost", "s-", "tab:orange", "test set"),
                                        ("validation_cost", "^-", "tab:green",
                                         "validation set")):
        costs = history.column(column)
        if any(c is not None for c in costs):
            ax_cost.plot(epochs, costs, style, color=color, label=label, ms=3)
    ax_cost.set_xlabel("epoch")
    ax_cost.set_ylabel("cost C (average over the set)")
    ax_cost.set_title("cost")
    ax_cost.legend()
    ax_cost.grid(alpha=0.3)
    shown = 0
    for column, style, color, label in (("test_accuracy", "s-", "tab:orange", "test set"),
                                        ("validation_accuracy", "^-", "tab:green",
                                         "validation set")):
        acc = history.column(column)
        if any(a is not None for a in acc):
            ax_acc.plot(epochs, [100 * a for a in acc], style, color=color, ms=3, label=label)
            shown += 1
    if shown > 1:
        ax_acc.legend()
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy (%)")
    ax_acc.set_title("accuracy")
    from matplotlib.ticker import MaxNLocator

    for ax in (ax_cost, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))     # whole epochs
    ax_acc.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)
