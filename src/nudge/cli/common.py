"""Pieces shared by the CLI commands: option types, data and model loading, output."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from ..data import DATASETS, Dataset, load_dataset
from ..errors import DataError, NudgeError
from ..jsonable import jsonable
from ..network import Network


# --------------------------------------------------------------------------- option types
def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number above 0")
    return value


def nonnegative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number of 0 or more")
    return value


def layer_sizes(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.replace(" ", "").split(",") if s]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of layer sizes; write them like 784,16,16,10") from None
    if len(sizes) < 2 or any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(
            f"{text!r}: give at least an input and an output layer, each of 1 or more "
            "neurons, like 784,16,16,10")
    return sizes


def add_data_options(parser: argparse.ArgumentParser, default: str | None = "auto") -> None:
    choices = ["auto", *DATASETS] if default == "auto" else list(DATASETS)
    parser.add_argument("--dataset", choices=choices, default=default,
                        help="which images to use (default: %(default)s"
                        + ("; auto = MNIST, or the embedded 8x8 digits when MNIST cannot be "
                           "found or downloaded)" if default == "auto" else ")"))
    parser.add_argument("--data-dir", metavar="DIR",
                        help="folder holding the IDX files (else $NUDGE_DATA, then the cache, "
                             "then a download)")


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="a model file saved by nudge train")


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object instead of text")


# --------------------------------------------------------------------------- data and models
def note(message: str) -> None:
    print(f"nudge: {message}", file=sys.stderr)


def load_data(name: str | None, data_dir: str | None) -> Dataset:
    """Load a dataset; ``auto`` falls back to the embedded digits with a one-line note."""
    if name in (None, "auto"):
        try:
            return load_dataset("mnist", data_dir)
        except DataError as e:
            reason = str(e)
            if len(reason) > 160:
                reason = reason[:157] + "..."
            note(f"MNIST is not available ({reason}); using the embedded 8x8 digits instead "
                 "(--dataset mnist to insist)")
            return load_dataset("digits")
    return load_dataset(name, data_dir)


def load_model(path: str) -> Network:
    from ..modelfile import load

    return load(path)


def data_for_model(net: Network, name: str | None, data_dir: str | None) -> Dataset:
    """The dataset a model was trained on (or the one asked for), checked against it."""
    if name in (None, "auto"):
        name = net.metadata.get("dataset") or "mnist"
    data = load_dataset(name, data_dir)
    if data.n_inputs != net.sizes[0]:
        raise NudgeError(f"the model reads {net.sizes[0]} inputs but {data.name} images have "
                         f"{data.n_inputs} pixels; choose the dataset it was trained on")
    return data


# --------------------------------------------------------------------------- output
def print_json(obj: Any) -> None:
    print(json.dumps(jsonable(obj), indent=2))


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A plain text table with right-aligned columns."""
    cells = [headers] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
