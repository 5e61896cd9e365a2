"""How results are shown: plain text tables for the terminal (:func:`table`), prose wrapped
to :data:`WIDTH` columns (:func:`wrapped`, printed by :func:`say`), numbers never shown as
a negative zero (:func:`number`), a network's kinds of neuron (:func:`kinds`), counts
with their noun and durations with their digits (:func:`counted`, :func:`duration`), a
training run's History in one line (:func:`history_text`, its ``repr``), and HTML
summaries for Jupyter: a network's layers (``Network._repr_html_``), a History's epochs
(:func:`history_html`) and any insight result's fields (``_repr_html_`` of
:mod:`nudge.insight`'s results).  Every string that comes from data (metadata, names) is
escaped: for the terminal by :func:`nudge.errors.printable`, for HTML by ``html.escape``."""

from __future__ import annotations

import re
from html import escape
from typing import Any

import numpy as np

from .errors import printable

#: the columns the CLI's prose is wrapped to (a terminal's usual width; a wider one shows the
#: same lines).  Tables and --json are never wrapped.
WIDTH = 80


#: a word that is an operator of a formula ("=", "+-", "/", "*", the dot of "grad C . d1")
_OPERATOR = re.compile(r"[-+*/=<>.|^~]+")
#: a word that begins with a number: it stays with the word before ("neuron 5", "eta 0.1")
_NUMBER = re.compile(r"[-+]?\d")


def _glued(before: str, word: str) -> bool:
    """No line break between ``before`` and ``word``: around an operator ("a_k = 0.72",
    "4.571 +- 0.35"), and before a number unless a comma, colon or semicolon ends the word
    before it ("neuron 5 +3.8e-01", but "examples, 13,002")."""
    return bool(_OPERATOR.fullmatch(before) or _OPERATOR.fullmatch(word)
                or (_NUMBER.match(word) and before[-1] not in ",;:"))


def wrapped(text: str, hang: int | None = None) -> str:
    """``text`` with each of its lines broken at spaces into lines of at most :data:`WIDTH`
    columns (a character a column): the first keeps its own indent, the rest are indented
    by ``hang`` columns (default: two more than the first, so that where a statement
    starts stands out; 0 for a paragraph; the value's column for an aligned "label  value"
    line).  A line that fits is kept as it is; a longer one loses its trailing spaces.
    Words are never split, nor a formula's terms from their operators, nor a number from
    the word before it (:func:`_glued`), nor a line's first word from its second ("saved
    PATH"): a piece so glued that does not fit beside its indent stands alone on its line,
    the only kind of line longer than :data:`WIDTH`.  Each line takes all the pieces that
    fit, so wrapping the result again changes nothing."""
    out = []
    for line in text.split("\n"):
        if len(line) > WIDTH:
            line = line.rstrip(" ")        # a line of spaces only is empty, not 100 columns
        if len(line) <= WIDTH:
            out.append(line)
            continue
        body = line.lstrip(" ")
        indent = len(line) - len(body)
        words = re.split(r"( +)", body)                  # word, spaces, word, ...
        pieces, gaps = [words[0]], []
        for gap, word in zip(words[1::2], words[2::2]):
            if pieces == words[:1] or _glued(pieces[-1].rsplit(" ", 1)[-1], word):
                pieces[-1] += gap + word
            else:
                gaps.append(gap)
                pieces.append(word)
        current = " " * indent + pieces[0]
        for gap, piece in zip(gaps, pieces[1:]):
            if len(current) + len(gap) + len(piece) <= WIDTH:
                current += gap + piece
            else:
                out.append(current)
                current = " " * (indent + 2 if hang is None else hang) + piece
        out.append(current)
    return "\n".join(out)


def say(text: str, hang: int | None = None, file: Any = None) -> None:
    """Print ``text`` :func:`wrapped` to :data:`WIDTH` columns (to ``file``, default
    stdout): how the CLI prints its prose."""
    print(wrapped(text, hang), file=file)


def number(value: float, spec: str = "+.3e") -> str:
    """``value`` formatted by ``spec``, never as a negative zero: a nudge of exactly 0
    (``-delta * a`` with ``a = 0`` is -0.0 in floating point) is "+0.000e+00", and a small
    negative number rounded to nothing is "0.00", not "-0.00" (it moves nothing either way)."""
    value = float(value) + 0.0                     # -0.0 + 0.0 is 0.0
    text = format(value, spec)
    if value < 0 and text == format(-0.0, spec):   # rounded to zero (whatever the fill)
        text = format(0.0, spec)
    return text


def ratio(value: float, spec: str) -> str:
    """A ratio (a relative error, a cosine) formatted by ``spec``, or "undefined" for NaN:
    0/0, where the denominator is 0 (the results say so with NaN, and null in --json)."""
    return "undefined" if np.isnan(value) else format(value, spec)


def percent(share: float, spec: str = ".1f") -> str:
    """A share as a percentage ("37.5%"), or "undefined" for NaN (a share of 0: 0/0)."""
    return ratio(100 * share, spec) + ("" if np.isnan(share) else "%")


def counted(n: Any, noun: str) -> str:
    """``n`` and ``noun``, plural unless ``n`` is 1: "1 epoch", "60,000 images"."""
    figure = f"{n:,}" if isinstance(n, (int, np.integer)) else str(n)
    return f"{figure} {noun}{'' if n == 1 else 's'}"


def epochs_done(n: int, partial: bool = False, more: bool = False) -> str:
    """``n`` epochs of training, ``partial`` when one of them was cut short by a stop:
    "3 epochs", "part of an epoch", "less than 3 epochs" (``more``: "3 more epochs",
    "part of one more epoch")."""
    noun = "more epoch" if more else "epoch"
    if not partial:
        return counted(n, noun)
    if n == 1:
        return f"part of {'one' if more else 'an'} {noun}"
    return f"less than {counted(n, noun)}"


def duration(value: float) -> str:
    """A duration with its significant digits: "0.0023 s", "0.24 s", "12 s" (a run of a
    few milliseconds is not "0.00 s", nor "0.0s" next to a figure that says it took time)."""
    # '#': trailing zeros kept (0.10 s beside 0.069 s, not 0.1 s)
    return f"{value:.0f} s" if value >= 10 else f"{value:#.2g}".rstrip(".") + " s"


def times(ratio: float, fewer: str = "fewer", more: str = "more",
          same: str = "about as many") -> str:
    """How many times fewer (a ratio above 1) or more (below 1) in words, with the digits
    that tell them apart: "37x fewer", "1.2x fewer", "2.5x more", "about as many" (a
    rounded "1x fewer" read as no gain at all for 1.4, and "0x fewer" for 0.4)."""
    r = ratio if ratio >= 1 else 1 / ratio
    if r < 1.05:
        return same
    return f"{factor(r)} {fewer if ratio >= 1 else more}"


def factor(ratio: float) -> str:
    """A ratio with two significant digits under 10: "37x", "1.6x", "0.62x" (not "2x")."""
    return f"{ratio:.0f}x" if ratio >= 10 else f"{ratio:.2g}x"


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A plain text table with right-aligned columns (each cell :func:`printable`)."""
    cells = [[printable(c) for c in row] for row in [headers, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def kinds(net: Any) -> str:
    """A network's neurons and cost in words: "sigmoid hidden, softmax output, cross-entropy
    cost" (a network without hidden layers: "no hidden layer, ...")."""
    hidden = f"{net.activation} hidden" if len(net.sizes) > 2 else "no hidden layer"
    return f"{hidden}, {net.output} output, {net.cost_function} cost"


def network_html(net: Any) -> str:
    """The layers, their functions, the cost, the parameter count and, for a loaded model,
    what its metadata says it scored."""
    last = len(net.weights)
    rows = [f"<tr><td>0</td><td>input</td><td>{net.sizes[0]:,}</td><td></td><td></td></tr>"]
    for l, (W, b) in enumerate(zip(net.weights, net.biases), start=1):
        kind, fn = ("output", net.output) if l == last else ("hidden", net.activation)
        rows.append(f"<tr><td>{l}</td><td>{kind}</td><td>{W.shape[0]:,}</td><td>{fn}</td>"
                    f"<td>{W.shape[0]}&times;{W.shape[1]} + {b.size} = "
                    f"{W.size + b.size:,}</td></tr>")
    facts = [f"cost <b>{escape(net.cost_function)}</b>", f"init {escape(net.init)}",
             f"{net.dtype}", f"<b>{net.n_parameters:,} parameters</b>"]
    meta = net.metadata
    if isinstance(meta.get("test_accuracy"), (int, float)):
        facts.append(f"test accuracy <b>{meta['test_accuracy']:.2%}</b>"
                     + (f" on {escape(str(meta['dataset']))}" if meta.get("dataset") else "")
                     + (f" after {counted(meta['epochs_trained'], 'epoch')}"
                        if meta.get("epochs_trained") else ""))
    head = ("<tr><th>layer</th><th></th><th>neurons</th><th>function</th>"
            "<th>weights + biases</th></tr>")
    return (f"<div><b>Network {'-'.join(map(str, net.sizes))}</b>"
            f"<table>{head}{''.join(rows)}</table>"
            f"<p>{' &middot; '.join(facts)}</p></div>")


def history_text(history: Any) -> str:
    """A training run in one line: its epochs, why it stopped, the kept epoch's training
    cost and accuracies, and the time spent taking steps (``repr`` of a History)."""
    kept = vars(history.kept) if history.epochs else {}
    shown = "".join(f", {k}={kept[k]:.4g}" for k in ("train_cost", "test_accuracy",
                                                      "validation_accuracy")
                    if kept.get(k) is not None)
    best = f", best_epoch={history.best_epoch}" if history.best_epoch is not None else ""
    return (f"History({counted(len(history.epochs), 'epoch')}, stopped={history.stopped!r}"
            f"{best}{shown}, {history.train_seconds:.3g} s)")


def history_html(history: Any) -> str:
    """A training run's epochs as a table (the columns that hold a value; the first 5 and
    the last 10 rows of a long run), why it stopped and the time spent taking steps."""
    records = [vars(r) for r in history.epochs]
    names = [k for k in (records[0] if records else ()) if any(r[k] is not None for r in records)]
    shown = records if len(records) <= 20 else [*records[:5], None, *records[-10:]]
    skipped = f"<tr><td colspan={len(names)}>… {len(records) - 15} more</td></tr>"
    body = "".join(skipped if r is None else "<tr>" + "".join(
        f"<td>{value_html(r[k], True)}</td>" for k in names) + "</tr>" for r in shown)
    head = "".join(f"<th>{escape(k.replace('_', ' '))}</th>" for k in names)
    best = f", best epoch {history.best_epoch}" if history.best_epoch is not None else ""
    return (f"<div><b>History</b>: {counted(len(records), 'epoch')}, stopped "
            f"{escape(str(history.stopped))}{best}, {history.train_seconds:.3g} s of steps"
            f"<table><tr>{head}</tr>{body}</table></div>")


def _is_result(v: Any) -> bool:
    """An insight result (it lists its fields)."""
    return callable(getattr(v, "_fields", None)) and hasattr(v, "to_dict")


def result_html(result: Any) -> str:
    """The fields of a result: arrays by their shape (small ones in full), lists of
    results as tables."""
    rows = "".join(f"<tr><th style='text-align:left'>{escape(k)}</th><td "
                   f"style='text-align:left'>{value_html(getattr(result, k))}</td></tr>"
                   for k in result._fields())
    return f"<div><b>{escape(type(result).__name__)}</b><table>{rows}</table></div>"


def value_html(v: Any, nested: bool = False) -> str:
    """One field's value as a short piece of HTML; lists of results become a table (its
    first 10 rows and a count of the rest)."""
    if _is_result(v):
        return escape(type(v).__name__) if nested else result_html(v)
    if isinstance(v, np.ndarray):
        if v.size <= 10:
            return escape(np.array2string(v, precision=4, separator=", "))
        return f"array {escape(str(v.shape))} {v.dtype}"
    if isinstance(v, (list, tuple)):
        if v and not nested and all(_is_result(x) for x in v):
            names = v[0]._fields()
            head = "".join(f"<th>{escape(k)}</th>" for k in names)
            body = "".join("<tr>" + "".join(f"<td>{value_html(getattr(r, k), True)}</td>"
                                            for k in names) + "</tr>" for r in v[:10])
            if len(v) > 10:
                body += f"<tr><td colspan={len(names)}>… {len(v) - 10} more</td></tr>"
            return f"<table><tr>{head}</tr>{body}</table>"
        if len(v) <= 6 and not any(isinstance(x, (list, tuple, np.ndarray)) for x in v):
            return ", ".join(value_html(x, True) for x in v)
        return f"{len(v)} items"
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.6g}"
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return f"{int(v):,}"
    return escape(str(v))
