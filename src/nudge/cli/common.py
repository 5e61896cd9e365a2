"""Pieces shared by the CLI commands: option types, data and model loading, output.

Every size and count a user can give has an upper bound, so that a typo (``--epochs
1e20``, ``--sizes 784,100000,10``) is a one-line error instead of hours of work or an
exhausted memory.  The bounds live with the code they protect (a network's, counts' and
lists' in :mod:`nudge.bounds`, an insight's in its module); here are the option types
that check them (:func:`bounded_int`, :func:`layer_sizes`, ``seed_type``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..bounds import MAX_COUNT, MAX_LAYERS, MAX_LIST, MAX_SEED, SPLITS, check_sizes
from ..checks import MAX_EPOCHS
from ..data import DATASETS, Dataset, load_dataset, load_default
from ..errors import NudgeError, printable, short_repr
from ..jsonable import jsonable
from ..modelfile import peek_metadata
from ..network import Network
from ..optimizers import DEFAULT_MOMENTUM, MAX_WEIGHT_DECAY


def check_list_length(text: str, values: list[Any]) -> list[Any]:
    """``values`` (parsed from ``text``), or an argparse error if the list is empty or
    longer than :data:`MAX_LIST`."""
    if not values:
        raise argparse.ArgumentTypeError(f"{text!r}: give at least one value")
    if len(values) > MAX_LIST:
        raise argparse.ArgumentTypeError(f"{len(values):,} values: give at most {MAX_LIST}")
    return values


def list_entries(text: str, like: str = "1,10,100") -> list[str]:
    """The entries of a comma-separated option (spaces ignored), or an argparse error for an
    empty one: ``784,,10`` is a typo (a layer left out), never quietly ``784,10``."""
    parts = text.replace(" ", "").split(",")
    if parts == [""]:
        raise argparse.ArgumentTypeError(f"no values: give them like {like}")
    if "" in parts:
        raise argparse.ArgumentTypeError(f"{text[:60]!r} has an empty value: separate the "
                                         f"values with single commas, like {like}")
    return parts


# --------------------------------------------------------------------------- option types
def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def bounded_int(least: int, most: int) -> Any:
    """An option type for whole numbers from ``least`` to ``most``."""
    def parse(text: str) -> int:
        value = _whole(text)
        if value < least:
            raise argparse.ArgumentTypeError(f"{text!r} must be at least {least:,}")
        if value > most:
            raise argparse.ArgumentTypeError(f"{text!r} must be at most {most:,}")
        return value
    parse.__name__ = "whole number"
    return parse


def positive_int(text: str) -> int:
    """A whole number from 1 to :data:`MAX_COUNT`."""
    return bounded_int(1, MAX_COUNT)(text)


#: ``--epochs`` of training (as :data:`nudge.checks.MAX_EPOCHS`)
epochs_type = bounded_int(1, MAX_EPOCHS)
#: ``--seed``
seed_type = bounded_int(0, MAX_SEED)


def momentum_type(text: str) -> float:
    value = nonnegative_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be below 1 ({DEFAULT_MOMENTUM} is usual)")
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
    return value + 0.0                         # -0 is 0 (recorded, shown and compared so)


def at_most(parse: Any, most: float, unit: str = "") -> Any:
    """An option type: ``parse``'s number, refused above ``most`` (``unit`` follows it in the
    message)."""
    def check(text: str) -> float:
        value = parse(text)
        if value > most:
            raise argparse.ArgumentTypeError(f"{text!r} is too large: give at most "
                                             f"{most:,g}{unit}")
        return value
    return check


weight_decay_type = at_most(nonnegative_float, MAX_WEIGHT_DECAY, " (1e-4 is usual)")


def layer_sizes(text: str) -> list[int]:
    """Layer sizes like 784,16,16,10, within the bounds of :func:`nudge.bounds.check_sizes`."""
    parts = list_entries(text, like="784,16,16,10")
    try:
        sizes = [int(s) for s in parts] if len(parts) <= MAX_LAYERS + 1 else parts
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text[:60]!r} is not a list of layer sizes; write them like 784,16,16,10") from None
    try:
        return check_sizes(sizes)                # too many parts: refused for their count
    except NudgeError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_data_options(parser: argparse.ArgumentParser, default: str | None = "auto") -> None:
    choices = ["auto", *DATASETS] if default == "auto" else list(DATASETS)
    parser.add_argument("--dataset", choices=choices, default=default,
                        help=("which images to use (default: auto; auto = MNIST, or the "
                              "embedded 8x8 digits when MNIST cannot be found or downloaded)"
                              if default == "auto" else
                              "which images to use (default: the model's own dataset)"))
    parser.add_argument("--data-dir", metavar="DIR",
                        help="folder holding the IDX files (else $NUDGE_DATA, then the cache, "
                             "then a download)")


def add_limits(parser: argparse.ArgumentParser) -> None:
    """``--train-limit`` and ``--test-limit``: the first N images of each set."""
    parser.add_argument("--train-limit", type=positive_int, metavar="N",
                        help="use only the first N training images")
    parser.add_argument("--test-limit", type=positive_int, metavar="N",
                        help="use only the first N test images")


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="a model file saved by nudge train")


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object instead of text")


# --------------------------------------------------------------------------- data and models
def print_plot(path: str | None, gap: bool = False) -> None:
    """``plot  PATH`` (escaped: a file name may hold anything), after a blank line with
    ``gap``; nothing without a path."""
    if path:
        print(f"{chr(10) if gap else ''}plot  {printable(path)}")


def note(message: str) -> None:
    """A one-line note on stderr (:func:`printable`: it may name files and their contents)."""
    print(f"nudge: {printable(message)}", file=sys.stderr)


def load_data(name: str | None, data_dir: str | None) -> Dataset:
    """Load a dataset.  ``auto`` is MNIST; only when nothing says where it is (no
    --data-dir, no $NUDGE_DATA) and it can be neither found nor downloaded, the embedded
    digits, with a note that says in full why and what to do (:func:`nudge.data.load_default`)."""
    if name in (None, "auto"):
        data, why = load_default(data_dir)
        if why:
            note(why)
        return data
    return load_dataset(name, data_dir)


def model_dataset(path: str | Path) -> str | None:
    """The dataset the model saved at ``path`` was trained on (None: no readable model)."""
    dataset = (peek_metadata(path) or {}).get("dataset")
    return dataset if isinstance(dataset, str) else None


def check_replaceable(out: Path) -> None:
    """``--out`` may replace a nudge model file, never another file (``--out notes.txt``)."""
    if out.is_file() and out.stat().st_size and peek_metadata(out) is None:
        raise NudgeError(f"--out {out} is a file but not a nudge model; nothing was trained or "
                         "replaced: choose another --out, or remove that file first")


def save_model(net: Network, out: Path, metadata: dict[str, Any]) -> tuple[Path, str | None]:
    """Save a trained model to ``out``; if that fails, to a fallback place (nudge's cache,
    then the temporary folder, then the current folder).  Returns where it was saved and,
    if not at ``out``, a one-line message saying why and where."""
    import datetime as dt
    import os
    import tempfile

    from ..data import cache_dir
    from ..modelfile import save

    try:
        save(net, out, **metadata)
        return out, None
    except NudgeError as e:
        failure = str(e)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    name = f"nudge-rescued-{stamp}-{os.getpid()}.safetensors"
    for folder in (cache_dir() / "rescued", Path(tempfile.gettempdir()), Path.cwd()):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            save(net, folder / name, **metadata)
        except (NudgeError, OSError):
            continue
        return folder / name, (f"{failure}; the trained model was saved to {folder / name} "
                               "instead: move it where you want it")
    raise NudgeError(f"{failure}; no other place could be written either (tried nudge's "
                     "cache, the temporary folder and the current folder): the model is lost")


def load_model(path: str) -> Network:
    from ..modelfile import load

    return load(path)


def trained_on(named: Any) -> str:
    """The dataset a model's metadata names (``named``; mnist where it names none), which
    nudge must have."""
    name = named or "mnist"
    if name not in DATASETS:
        raise NudgeError(f"the model's metadata names the dataset {short_repr(name)}, "
                         f"which nudge does not have: give --dataset ({', '.join(DATASETS)})")
    return name


def data_for_model(net: Network, name: str | None, data_dir: str | None) -> Dataset:
    """The dataset a model was trained on (or the one asked for), checked against it."""
    assumed = name in (None, "auto") and not net.metadata.get("dataset")
    if name in (None, "auto"):
        name = trained_on(net.metadata.get("dataset"))
    data = load_dataset(name, data_dir)
    if data.n_inputs != net.sizes[0]:
        raise NudgeError(f"the model reads {net.sizes[0]} inputs but {data.name} images have "
                         f"{data.n_inputs} pixels"
                         + (" (its metadata names no dataset: mnist was taken)" if assumed
                            else "")
                         + f"; give the --dataset it was trained on ({', '.join(DATASETS)})")
    return data


# --------------------------------------------------------------------------- output
def print_json(obj: Any) -> None:
    print(json.dumps(jsonable(obj), indent=2))


class CommandFailed(NudgeError):
    """A command's error, with what it had found before it failed (``so_far``, a dict):
    ``--json`` prints them as one object (:func:`nudge.cli.main`)."""

    def __init__(self, message: str, so_far: dict[str, Any]) -> None:
        super().__init__(message)
        self.so_far = so_far


def failed(args: Any, line: str, error: str, so_far: dict[str, Any] | None = None) -> None:
    """How a command that did not finish ends (its exit status is not 0): ``line`` on
    stderr and, if it was asked for --json, one JSON object on stdout, ``so_far`` and
    ``error``, so that a script reading stdout always gets its document."""
    if getattr(args, "json", False):
        print_json({**(so_far or {}), "error": error})
    print(line, file=sys.stderr)


# --------------------------------------------------------------------------- insight options
def int_list(text: str) -> list[int]:
    try:
        values = [int(s) for s in list_entries(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of whole numbers like "
                                         "1,10,100") from None
    if not values or any(not 1 <= v <= MAX_COUNT for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: give whole numbers from 1 to "
                                         f"{MAX_COUNT:,}, like 1,10,100")
    return check_list_length(text, values)


def batch_list(text: str) -> list[int | None]:
    out: list[int | None] = []
    for s in list_entries(text, like="full,100,10"):
        if s.lower() == "full":
            out.append(None)
            continue
        try:
            v = int(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{s!r} is not a batch size: give whole numbers "
                                             "or 'full', like full,100,10") from None
        if not 1 <= v <= MAX_COUNT:
            raise argparse.ArgumentTypeError(f"batch size {v} must be from 1 to {MAX_COUNT:,}")
        out.append(v)
    if not out:
        raise argparse.ArgumentTypeError("give at least one batch size, like full,100,10")
    return check_list_length(text, out)


def float_list(text: str) -> list[float]:
    return check_list_length(text, [positive_float(s) for s in list_entries(text, "1,0.1,0.01")])


#: the options that name files a command writes, and those that name files it reads (by
#: their argparse destination)
WRITTEN = {"out": "--out", "plot": "--plot", "track_plot": "--track-plot",
           "paths_plot": "--paths-plot"}
READ = {"model": "MODEL", "model_a": "A", "model_b": "B", "images": "IMAGE",
        "start_from": "--start-from",
        "report": "--report", "tls_ca_file": "--tls-ca-file", "tls_cert": "--tls-cert",
        "tls_key": "--tls-key"}


#: the options that name folders
FOLDERS = {"data_dir": "--data-dir", "save_dir": "--save-dir"}


def check_distinct_files(args: argparse.Namespace) -> None:
    """Before any work: no file or folder is named by an empty string (``--report ""``, an
    unset shell variable, was no --report: a sweep ran instead; ``--plot ""`` no figure),
    no file is written twice by one command, and none it reads is written over (``--plot
    m.safetensors`` next to ``MODEL m.safetensors``), also through a link.  ``sweep
    --report`` summarises a results file and writes no ``--out``."""
    from ..fsutil import as_path, same_file

    for dest, name in {**WRITTEN, **READ, **FOLDERS}.items():
        value = getattr(args, dest, None)
        for one in value if isinstance(value, list) else [value]:
            if one == "":
                as_path(one, name)              # its one-line error for an empty name
    written = [(flag, getattr(args, dest)) for dest, flag in WRITTEN.items()
               if getattr(args, dest, None) and not (dest == "out" and getattr(
                   args, "report", None))]
    read = []
    for dest, name in READ.items():
        value = getattr(args, dest, None)
        read += [(name, v) for v in (value if isinstance(value, list) else [value]) if v]
    for i, (flag, path) in enumerate(written):
        for other, other_path in written[:i]:
            if same_file(path, other_path):
                raise NudgeError(f"{other} and {flag} are both {path}: the second file would "
                                 "replace the first; give two names")
        for name, other_path in read:
            if same_file(path, other_path) and (flag, name) != ("--out", "--start-from"):
                raise NudgeError(f"{flag} {path} is the file {name} reads: writing it would "
                                 f"destroy {other_path}; give another name")


def add_plot(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--plot", metavar="FILE.png", help=f"save a figure: {what}")


def check_plot(path: str | None, flag: str = "--plot") -> None:
    """A figure's name ends in .png and can be written (checked before any work)."""
    if path:
        from ..fsutil import check_writable
        from ..plots import check_figure_target

        if not path.lower().endswith(".png"):
            raise NudgeError(f"{flag} {path}: figures are saved as PNG; give a name ending in "
                             ".png")
        check_writable(path)
        check_figure_target(path, flag)


def add_split(p: argparse.ArgumentParser, *also: str) -> None:
    """--split (and the older names ``also`` of it)."""
    p.add_argument("--split", *also, dest="split", choices=SPLITS, default="train",
                   help="which part of the dataset (default: train)")


def add_examples(p: argparse.ArgumentParser) -> None:
    """--dataset, --data-dir, --split and --examples: which examples a model is measured on."""
    add_data_options(p, default=None)
    add_split(p)
    p.add_argument("--examples", type=positive_int, metavar="N",
                   help="use only the first N examples (default: all)")


def examples_of(data: Any, split: str, limit: int | None) -> tuple[np.ndarray, np.ndarray]:
    X, y = (data.X_train, data.y_train) if split == "train" else (data.X_test, data.y_test)
    return X[:limit], y[:limit]


def model_examples(args: argparse.Namespace, split: str,
                    limit: int | None) -> tuple[Any, Any, np.ndarray, np.ndarray]:
    """``(net, data, X, y)``: the model of ``args.model``, its dataset (or ``--dataset``) and
    the first ``limit`` examples of ``split``."""
    net = load_model(args.model)
    data = data_for_model(net, args.dataset, args.data_dir)
    return (net, data, *examples_of(data, split, limit))
