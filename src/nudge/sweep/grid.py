"""The grid of a sweep: option lists as the user writes them, and their product.

Every training option takes a comma-separated list (``--learning-rate 0.3,1,3``);
layer sizes take architectures separated by ``/`` (``--sizes 784,16,10/784,30,10``,
``--hidden 16/16,16/none``); ``--seeds`` takes lists and ranges (``1-5,10``).  The grid
is the product of the lists; each point becomes a full training set-up through
:func:`nudge.settings.resolve` (the one place where a preset and options are merged),
so two ways of writing the same set-up are one point.  A point's :func:`point_key` is
a hash of its settings and seed: the results file is keyed by it.  The settings name the
dataset, its limits and the images held out, not the images: :func:`data_sha256` of each
dataset (as limited) is the grid's ``data``, which every result line records (unless the
sweep is given other arrays to train on: then theirs) and a resume checks.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..bounds import MAX_SEED, check_list
from ..checks import MAX_EPOCHS, check_batch_fits, check_patience
from ..data import DATASETS
from ..display import counted
from ..errors import NudgeError
from ..network import ACTIVATIONS, COSTS, INITS, OUTPUTS
from ..optimizers import OPTIMIZERS, check_momentum, check_weight_decay
from ..presets import DEFAULT_PRESET, PRESETS
from ..schedules import SCHEDULES
from ..settings import resolve

#: the most grid points one sweep may have (a typo such as --seeds 1-1e9 is an error)
MAX_POINTS = 100_000
#: the most values one option's list may have
MAX_VALUES = 10_000
#: the options that take lists, in the order the table shows them
OPTIONS = ("dataset", "preset", "sizes", "hidden", "activation", "output", "cost", "init",
           "optimizer", "momentum", "epochs", "batch_size", "learning_rate", "schedule",
           "min_learning_rate", "weight_decay")
#: the settings a result line records: these and the seed identify a grid point
SETTINGS = ("dataset", "train_limit", "test_limit", "preset", "sizes", "activation", "output",
            "cost", "init", "optimizer", "momentum", "epochs", "batch_size", "learning_rate",
            "schedule", "min_learning_rate", "weight_decay", "validation", "patience")
#: settings added after results files existed: part of a point's key only when set, so
#: that the points of older files keep their keys (a resumed sweep does not run them again)
LATER_SETTINGS = ("validation", "patience")


def flag(option: str) -> str:
    """The command-line spelling of an option: ``batch_size`` -> ``--batch-size``."""
    return "--" + option.replace("_", "-")


# --------------------------------------------------------------------------- one value
def _parse(option: str, text: str, kind: type) -> Any:
    """``text`` as a number of ``kind`` (a float: a finite one, never -0.0)."""
    try:
        value = kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise NudgeError(f"{flag(option)}: {text!r} is not {what}") from None
    if kind is float and not math.isfinite(value):
        raise NudgeError(f"{flag(option)}: {text!r} must be a finite number")
    return value + 0 if kind is float else value    # -0 is 0: one value, one grid point


def _number(option: str, text: str, kind: type, low: float, high: float | None = None,
            low_open: bool = False, high_open: bool = False) -> Any:
    value = _parse(option, text, kind)
    too_low = value <= low if low_open else value < low
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        lo = f"above {low:g}" if low_open else f"at least {low:g}"
        hi = "" if high is None else (f" and below {high:g}" if high_open
                                      else f" and at most {high:,}")
        raise NudgeError(f"{flag(option)}: {text!r} must be {lo}{hi}")
    return value


def _checked(check: Callable[[float, str], float]) -> Callable[[str, str], float]:
    """A float option checked by nudge's one rule for it (``check(value, name)``, e.g.
    :func:`nudge.optimizers.check_momentum`), its message naming the sweep's flag."""
    return lambda option, text: check(_parse(option, text, float), flag(option))


def _choice(choices: tuple[str, ...]) -> Callable[[str, str], str]:
    def parse(option: str, text: str) -> str:
        if text not in choices:
            raise NudgeError(f"{flag(option)}: unknown value {text!r}; choose from "
                             f"{', '.join(choices)}")
        return text
    return parse


def _layers(option: str, text: str) -> list[int]:
    if option == "hidden" and text.lower() == "none":
        return []
    try:
        sizes = [int(s) for s in text.split(",")]
    except ValueError:
        raise NudgeError(f"{flag(option)}: {text!r} is not a list of layer sizes; write each "
                         "like 784,16,10 and separate architectures with /") from None
    least = 1 if option == "hidden" else 2
    if len(sizes) < least or any(s < 1 for s in sizes):
        raise NudgeError(f"{flag(option)}: {text!r} needs at least "
                         f"{counted(least, 'layer')} of 1 or more neurons"
                         + (" (none: no hidden layer)" if least == 1 else ""))
    return sizes


def _batch_size(option: str, text: str) -> int | None:
    return None if text.lower() == "full" else _number(option, text, int, 1)


PARSERS: dict[str, Callable[[str, str], Any]] = {
    "dataset": _choice(("auto", *DATASETS)),
    "preset": _choice(tuple(PRESETS)),
    "sizes": _layers,
    "hidden": _layers,
    "activation": _choice(ACTIVATIONS),
    "output": _choice(OUTPUTS),
    "cost": _choice(COSTS),
    "init": _choice(INITS),
    "optimizer": _choice(OPTIMIZERS),
    "momentum": _checked(check_momentum),
    "epochs": lambda o, t: _number(o, t, int, 1, MAX_EPOCHS),
    "batch_size": _batch_size,
    "learning_rate": lambda o, t: _number(o, t, float, 0, low_open=True),
    "schedule": _choice(SCHEDULES),
    "min_learning_rate": lambda o, t: _number(o, t, float, 0),
    "weight_decay": _checked(check_weight_decay),
}


# --------------------------------------------------------------------------- lists
def _unique(values: list[Any]) -> list[Any]:
    """The values without repeats (1 and 1.0 are one), in the order given."""
    seen: set[str] = set()
    out = []
    for v in values:
        key = json.dumps(v)
        if key not in seen:
            seen.add(key)
            out.append(v)
    return out


def _split(option: str, text: str, separator: str) -> list[str]:
    parts = [p.strip() for p in str(text).replace(" ", "").split(separator)]
    if not parts or any(p == "" for p in parts):
        raise NudgeError(f"{flag(option)} {text!r}: an empty value; separate the values "
                         f"with single {separator!r}")
    if len(parts) > MAX_VALUES:
        raise NudgeError(f"{flag(option)}: {len(parts):,} values; give at most {MAX_VALUES:,}")
    return parts


def parse_list(option: str, text: str) -> list[Any]:
    """The values of one option's list (``/`` between architectures, else ``,``)."""
    if option not in PARSERS:
        raise NudgeError(f"{option!r} cannot be swept; sweep one of {', '.join(OPTIONS)}")
    separator = "/" if option in ("sizes", "hidden") else ","
    return _unique([PARSERS[option](option, p) for p in _split(option, text, separator)])


def parse_seeds(text: str) -> list[int]:
    """Seeds from a list of numbers and ranges: ``"1-5,10"`` -> ``[1, 2, 3, 4, 5, 10]``."""
    seeds: list[int] = []
    for part in _split("seeds", text, ","):
        if part.startswith("-"):
            raise NudgeError(f"--seeds: {part!r}: seeds are whole numbers of 0 or more")
        low, dash, high = part.partition("-")
        first = _number("seeds", low, int, 0, MAX_SEED)
        last = _number("seeds", high, int, 0, MAX_SEED) if dash else first
        if last < first:
            raise NudgeError(f"--seeds: the range {part!r} runs backwards; write it "
                             f"{last}-{first}")
        if len(seeds) + last - first + 1 > MAX_VALUES:
            raise NudgeError(f"--seeds {text!r}: more than {MAX_VALUES:,} seeds; give fewer")
        seeds.extend(range(first, last + 1))
    return _unique(seeds)


# --------------------------------------------------------------------------- the grid
@dataclass(frozen=True)
class Point:
    """One training run of the grid: its settings (see :data:`SETTINGS`) and seed."""

    settings: dict[str, Any] = field(hash=False)
    seed: int
    key: str


def point_key(settings: Mapping[str, Any], seed: int) -> str:
    """A short hash naming a grid point; equal settings and seed give equal keys."""
    canon = json.dumps({"settings": {k: settings.get(k) for k in SETTINGS
                                     if k not in LATER_SETTINGS or settings.get(k)},
                        "seed": seed},
                       sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canon.encode()).hexdigest()[:20]


def data_sha256(data: Any) -> str:
    """SHA-256 of the arrays a grid's runs of one dataset are trained and tested on (the
    dataset as limited by --train-limit and --test-limit; --validation holds out a part
    that a point's key names): each array's dtype and shape, then its bytes.  Exact, and
    cheap: about 30 ms for all of MNIST (55 MB) with the CPU's SHA extensions."""
    h = hashlib.sha256()
    for array in (data.X_train, data.y_train, data.X_test, data.y_test):
        array = np.ascontiguousarray(array)
        h.update(f"{array.dtype.str}{array.shape};".encode())
        h.update(array.data)
    return h.hexdigest()


def point_data(data: Any, settings: Mapping[str, Any]) -> Any:
    """The dataset limited as a point's settings say (--train-limit, --test-limit)."""
    if settings.get("train_limit") or settings.get("test_limit"):
        return data.subset(settings.get("train_limit"), settings.get("test_limit"))
    return data


def data_hashes(points: list[Point], datasets: Mapping[str, Any]) -> dict[str, str]:
    """:func:`data_sha256` of what the ``points`` of each dataset in ``datasets`` (by
    name) train and test on: the dataset limited as they say (once per dataset)."""
    hashes: dict[str, str] = {}
    for p in points:
        name = p.settings["dataset"]
        if name in datasets and name not in hashes:
            hashes[name] = data_sha256(point_data(datasets[name], p.settings))
    return hashes


@dataclass
class Grid:
    """The option lists of a sweep and the points they make."""

    lists: dict[str, list[Any]]           # the options given, each with its values
    seeds: list[int]
    points: list[Point]
    #: :func:`data_sha256` of each dataset by name (empty: not known, nothing checked)
    data: dict[str, str] = field(default_factory=dict)

    @property
    def swept(self) -> list[str]:
        """The options with more than one value (the table's and plot's axes)."""
        return [o for o in OPTIONS if len(self.lists.get(o, [])) > 1]


def grid_size(lists: Mapping[str, list[Any]], seeds: list[int]) -> int:
    return math.prod(len(v) for v in lists.values()) * len(seeds)


def expand(texts: Mapping[str, str | None], seeds: str = "1",
           datasets: Callable[[str], Any] | None = None,
           train_limit: int | None = None, test_limit: int | None = None,
           validation: int | None = None, patience: int | None = None) -> Grid:
    """The grid of the options given as text (None: not given, the preset's value).

    ``datasets(name)`` returns the :class:`nudge.Dataset` called ``name`` (limited here
    by ``train_limit`` and ``test_limit`` if it is not already) — needed to resolve layer
    sizes, to check batch sizes and for ``Grid.data`` — and may replace ``auto`` by the
    dataset it found (the dataset's ``name``); by default nudge's lookup (``auto``:
    MNIST, else the embedded digits).  ``validation``: every
    run holds out the last that many training images and is scored on them; ``patience``
    (with ``validation``): every run stops early and keeps its best epoch.
    """
    if not isinstance(texts, Mapping):
        raise NudgeError(f"the options to sweep must be a dict of option names to texts, like "
                         f"{{'learning_rate': '0.1,1'}}, not a {type(texts).__name__}")
    lists = {o: parse_list(o, t) for o, t in texts.items() if t is not None}
    if "sizes" in lists and "hidden" in lists:
        raise NudgeError("--sizes and --hidden both give the layers; use one of them")
    if "momentum" in lists and "momentum" not in lists.get("optimizer", []):
        raise NudgeError("--momentum is for --optimizer momentum: add it to --optimizer, or "
                         "leave --momentum out")
    seed_list = parse_seeds(seeds)
    n = grid_size(lists, seed_list)
    if n > MAX_POINTS:
        raise NudgeError(f"the grid has {n:,} points; a sweep may have at most "
                         f"{MAX_POINTS:,}: give shorter lists")
    lists.setdefault("dataset", ["auto"])
    lists.setdefault("preset", [DEFAULT_PRESET])
    names = list(lists)
    load = _loader(datasets, train_limit, test_limit)
    if None in lists.get("batch_size", []):
        for name in lists["dataset"]:
            _check_full_batch(lists["batch_size"], load(name), validation)
    points: list[Point] = []
    seen: set[str] = set()
    used: dict[str, Any] = {}
    for values in itertools.product(*(lists[o] for o in names)):
        given = dict(zip(names, values))
        data = load(given.pop("dataset"))
        used.setdefault(data.name, data)
        settings = _settings(given, data, train_limit, test_limit, validation, patience)
        for seed in seed_list:
            key = point_key(settings, seed)
            if key not in seen:
                seen.add(key)
                points.append(Point(settings, seed, key))
    if "min_learning_rate" in lists and all(p.settings["schedule"] == "constant"
                                            for p in points):
        raise NudgeError("--min-learning-rate is for the cosine and plateau schedules, and "
                         "every run here has the constant one: add cosine to --schedule, or "
                         "leave --min-learning-rate out")
    return Grid(lists, seed_list, points, data_hashes(points, used))


def _loader(datasets: Callable[[str], Any] | None, train_limit: int | None,
            test_limit: int | None) -> Callable[[str], Any]:
    """``datasets``, or nudge's lookup (``auto``: MNIST, else the embedded digits), once
    per name, limited as the points will be (:func:`point_data`; a part already limited
    stays as it is)."""
    loaded: dict[str, Any] = {}
    limits = {"train_limit": train_limit, "test_limit": test_limit}

    def load(name: str) -> Any:
        if name not in loaded:
            if datasets is not None:
                data = datasets(name)
            elif name == "auto":
                from ..data import load_default

                data = load_default()[0]
            else:
                from ..data import load_dataset

                data = load_dataset(name)
            loaded[name] = point_data(data, limits)
        return loaded[name]
    return load


def _n_train(data: Any, validation: int | None) -> int:
    """The training images a run of ``data`` trains on (those --validation leaves)."""
    if not validation:
        return len(data.X_train)
    try:
        return len(data.hold_out(validation)[0].X_train)            # the one rule for it
    except NudgeError as e:
        raise NudgeError(f"--validation {validation} ({data.name}): {e}") from None


def _where(data: Any, validation: int | None) -> str:
    """The words after "training images": " of digits left after --validation 100"."""
    left = f" left after --validation {validation:,}" if validation else ""
    return f" of {data.name}{left}"


def _check_full_batch(batch_sizes: list[int | None], data: Any,
                      validation: int | None) -> None:
    """'full' and a batch size of all the training images are one run under two names:
    refused, as a value given twice is (:func:`nudge.bounds.check_list`)."""
    n = _n_train(data, validation)
    check_list(f"--batch-size on the {n:,} training images{_where(data, validation)}",
               ["full" if b is None else b for b in batch_sizes], MAX_VALUES, distinct=True,
               same=lambda b: "full" if b == n else b)


def _settings(given: dict[str, Any], data: Any, train_limit: int | None,
              test_limit: int | None, validation: int | None = None,
              patience: int | None = None) -> dict[str, Any]:
    """One combination of the lists as the full settings of a run."""
    preset = given.pop("preset")
    if "batch_size" not in given:
        given["batch_size"] = "preset"
    if given.get("optimizer", "sgd") != "momentum":
        given.pop("momentum", None)        # swept for the momentum optimiser's points only
    if (given.get("schedule") or PRESETS[preset].get("schedule", "constant")) == "constant":
        given.pop("min_learning_rate", None)   # for the cosine and plateau points only
    setup = resolve(preset, n_inputs=data.n_inputs, n_classes=len(data.classes), **given)
    check_patience(patience, bool(validation), MAX_EPOCHS, setup.schedule)
    check_batch_fits(setup.batch_size, _n_train(data, validation), "--batch-size",
                     "training image", "use a smaller one, or 'full'", _where(data, validation))
    settings = {"dataset": data.name, "train_limit": train_limit, "test_limit": test_limit,
                "validation": validation, "patience": patience, **setup.to_dict()}
    settings["momentum"] = float(settings["momentum"])
    return {k: settings[k] for k in SETTINGS}
