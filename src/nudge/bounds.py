"""The bounds of a network, a seed, counts and lists, and the checks of single values (a
count, a positive number, a choice, a list, the inputs' shape): one place for each rule.

Every size and count nudge accepts has an upper bound, so that a typo (``784,160000,10``)
is a one-line error, not minutes of swapping and an out-of-memory kill.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .errors import NudgeError, short_repr

#: the bounds of a network: layers of weights (the compiled engine's tables hold 64),
#: neurons in a layer, and weights and biases in all (25 million: 100 MB a copy in float32)
MAX_LAYERS = 64
MAX_NEURONS = 4096
MAX_PARAMETERS = 25_000_000
#: seeds are 0 .. 2**32 - 1
MAX_SEED = 2**32 - 1


def check_sizes(sizes: Sequence[Any]) -> list[int]:
    """Layer sizes checked: an input and an output layer at least, each of 1 or more neurons,
    within :data:`MAX_LAYERS`, :data:`MAX_NEURONS` and :data:`MAX_PARAMETERS`."""
    if isinstance(sizes, (str, bytes, set, frozenset, dict)) or not hasattr(sizes, "__len__"):
        raise NudgeError(f"layer sizes {short_repr(sizes)}: give a list of whole numbers, like "
                         "[784, 16, 16, 10]")
    if len(sizes) > MAX_LAYERS + 1:
        raise NudgeError(f"{len(sizes)} layer sizes: a network has at most {MAX_LAYERS} "
                         f"layers after the input ({MAX_LAYERS + 1} sizes)")
    given = list(sizes)
    whole = [int(s) for s in given if not isinstance(s, bool) and (
        isinstance(s, (int, np.integer))
        or isinstance(s, (float, np.floating)) and math.isfinite(s) and s == int(s))]
    if len(whole) != len(given):
        raise NudgeError(f"layer sizes {short_repr(sizes)} are not whole numbers: give them like "
                         "[784, 16, 16, 10]")
    sizes = whole
    shown = ",".join(map(str, sizes)) if len(sizes) <= 8 else f"{sizes[0]},...,{sizes[-1]}"
    if len(sizes) < 2 or any(s < 1 for s in sizes):
        raise NudgeError(f"layer sizes {shown}: give at least an input and an output layer, "
                         "each of 1 or more neurons, like 784,16,16,10")
    if max(sizes) > MAX_NEURONS:
        big = f"{max(sizes):,}" if max(sizes) < 10**12 else "over a trillion"
        raise NudgeError(f"a layer of {big} neurons: each layer has at most {MAX_NEURONS:,}")
    n = parameter_count(sizes)
    if n > MAX_PARAMETERS:
        raise NudgeError(f"layer sizes {shown} make {n:,} weights and biases; nudge trains at "
                         f"most {MAX_PARAMETERS:,}: use fewer or smaller layers")
    return sizes


def parameter_count(sizes: Sequence[int]) -> int:
    """The weights and biases of a network of these layer sizes: Σ (n_in + 1) n_out."""
    return sum(n_in * n_out + n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))


def check_parameter_arrays(sizes: list[int], dtype: np.dtype, weights: Sequence[Any],
                           biases: Sequence[Any], finite: bool = False,
                           writable: bool = False) -> None:
    """A network's parameters fit it, or a one-line error: ``weights[l]`` an array of shape
    (sizes[l+1], sizes[l]) and ``biases[l]`` of (sizes[l+1],), each of ``dtype`` (with
    ``finite``, no NaN or inf; with ``writable``, none read-only, as training changes them
    in place); for :meth:`nudge.network.Network.check_parameters`."""
    if len(weights) != len(sizes) - 1 or len(biases) != len(sizes) - 1:
        raise NudgeError(f"a {'-'.join(map(str, sizes))} network has {len(sizes) - 1} layers "
                         f"of weights and biases, not {len(weights)} and {len(biases)}")
    for l, (W, b) in enumerate(zip(weights, biases)):
        for what, p, shape in (("weights", W, (sizes[l + 1], sizes[l])),
                               ("biases", b, (sizes[l + 1],))):
            if not isinstance(p, np.ndarray) or p.shape != shape or p.dtype.kind != "f":
                got = (f"shape {p.shape} ({p.dtype})" if isinstance(p, np.ndarray)
                       else type(p).__name__)
                raise NudgeError(f"layer {l + 1}'s {what} are {got}; this network needs "
                                 f"float arrays of shape {shape}")
            if p.dtype != dtype:
                raise NudgeError(f"layer {l + 1}'s {what} are {p.dtype} in this {dtype} "
                                 f"network: set {dtype} arrays (or use net.astype)")
            if writable and not p.flags.writeable:
                raise NudgeError(f"layer {l + 1}'s {what} are a read-only array, which "
                                 "training cannot change: set a writable copy (np.array)")
            if finite and not np.isfinite(p).all():
                raise NudgeError(f"layer {l + 1}'s {what} hold NaN or infinite values: set "
                                 "finite ones")


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices`` (a network's activation, output, cost, init),
    else a one-line error that lists them."""
    if not isinstance(value, str) or value not in choices:
        raise NudgeError(f"unknown {name} {short_repr(value)}: choose one of "
                         f"{', '.join(choices)}")
    return value


def check_dtype(dtype: Any) -> np.dtype:
    """A network's float type (its parameters', or the precision an insight function works
    in): float32 or float64, else a one-line error (not numpy's TypeError)."""
    try:
        checked = np.dtype(dtype)
    except (TypeError, ValueError):
        raise NudgeError(f"dtype {short_repr(dtype)}: give float32 or float64") from None
    if checked not in (np.float32, np.float64):
        raise NudgeError(f"dtype must be float32 or float64, not {checked}")
    return checked


def random_seed() -> int:
    """A fresh seed from the operating system's entropy, 0 .. :data:`MAX_SEED` (recorded, so
    that a run without ``--seed`` can be repeated)."""
    entropy = np.random.SeedSequence().entropy
    assert isinstance(entropy, int)             # drawn from the OS when none is given
    return int(entropy % (MAX_SEED + 1))


def fixed_seed(seed: Any) -> int:
    """A seed checked (:func:`check_seed`), and for None a fresh one (:func:`random_seed`)
    that can be recorded: for code that derives several seeds from one."""
    seed = check_seed(seed)
    return random_seed() if seed is None else seed


def check_seed(seed: Any) -> int | None:
    """A seed checked: None (a fresh one each time) or a whole number 0 .. 2¹²⁸ − 1.  Seeds
    typed in (``--seed``, the sweep, the web page) are bounded by :data:`MAX_SEED`; the API
    takes numpy's 128-bit entropy too, as model files saved with 39-digit seeds hold it."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not (
            0 <= seed < 2**128):
        raise NudgeError(f"seed {short_repr(seed)}: give a whole number from 0 to 2**128 - 1")
    return int(seed)


#: counts of examples and the like (a chunk, a batch size, top-k, draws): beyond any
#: dataset nudge reads
MAX_COUNT = 1_000_000
#: entries in one list of settings (batch sizes, learning rates, factors)
MAX_LIST = 100

# the bounds of the insight functions' counts (:mod:`nudge.insight`), kept here so that the
# command line states them in its options without loading the insight modules
#: random mini-batches drawn for each batch size (``minibatch_estimates``)
MAX_DRAWS = 10_000
#: epochs of each run of ``descent``, and moments recorded along it
MAX_DESCENT_EPOCHS = 10_000
#: points on each side of a plane of costs (``landscape``, ``descent``)
MAX_GRID = 201
#: the most points on one line of ``interpolate``
MAX_INTERPOLATION_POINTS = 1001
#: the parts of a dataset a set of examples comes from (``sensitivity``, ``--split``)
SPLITS = ("train", "test")
#: the directions of a ``landscape`` slice; the farthest it goes each way (a trained
#: 784-16-16-10 network has |θ| ≈ 40); points on each line
DIRECTIONS = ("gradient", "filter")
MAX_SPAN = 1000.0
MAX_LANDSCAPE_POINTS = 1001
#: the most eigenvalues ``curvature`` is asked for at either end; the most Hutchinson samples
MAX_EIGENVALUES = 100
MAX_HUTCHINSON = 10_000
#: the most steps one run of ``stability`` may take
MAX_STABILITY_STEPS = 100_000


def positive_float(name: str, value: Any) -> float:
    """``value`` as a finite float above 0 (a learning rate, a speed), or a one-line error
    naming ``name``: a string or a bool is not taken for a number here (the command line
    parses its own)."""
    if isinstance(value, (str, bytes, bool, np.bool_)):
        raise NudgeError(f"{name} must be a number, got {short_repr(value)}")
    try:
        v = float(value)
    except OverflowError:                       # an int too large for a float
        v = math.inf
    except (TypeError, ValueError):
        raise NudgeError(f"{name} must be a number, got {short_repr(value)}") from None
    if not math.isfinite(v) or v <= 0:
        raise NudgeError(f"{name} must be a finite number above 0, got {short_repr(value)}")
    return v


def check_count(name: str, value: Any, least: int = 1, most: int | None = MAX_COUNT) -> int:
    """``value`` as a whole number from ``least`` to ``most`` (None: no upper bound, for
    counts bounded by their data, such as a batch size), or a one-line error naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise NudgeError(f"{name} must be a whole number of at least {least}, got "
                         f"{short_repr(value)}")
    if most is not None and value > most:
        raise NudgeError(f"{name} must be at most {most:,}, got {short_repr(value)}")
    return int(value)


def check_list(name: str, values: Any, most: int = MAX_LIST, distinct: bool = False,
               same: Callable[[Any], Any] | None = None) -> list[Any]:
    """``values`` as a list of 1 to ``most`` entries (each checked by its caller); with
    ``distinct``, none given twice (each entry is a run or a row of its own), where
    ``same(value)``, if given, is what an entry stands for: two spellings of one run
    (a batch size of all the examples and ``'full'``) are one given twice, both named."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise NudgeError(f"{name} {short_repr(values)}: give a list of values")
    if not 1 <= len(values) <= most:
        raise NudgeError(f"{name}: give from 1 to {most} values, not {len(values):,}")
    out = list(values)
    meant = out if same is None else [same(v) for v in out]
    for i, v in enumerate(meant if distinct else []):
        if v in meant[:i]:
            first = out[meant.index(v)]
            if first == out[i]:
                raise NudgeError(f"{name}: {short_repr(out[i])} is given twice; give each once")
            raise NudgeError(f"{name}: {short_repr(first)} and {short_repr(out[i])} are the "
                             "same run; give one of them")
    return out


def check_input_shape(name: str, shape: tuple[int, ...], n_inputs: int) -> None:
    """Inputs are rows of ``n_inputs`` values, one example per row: else a one-line error
    that says how to reshape the arrays people give, one example (a row, or an image of
    28x28 pixels) or images (n, 28, 28), into a batch."""
    if len(shape) == 2 and shape[1] == n_inputs:
        return
    fix = ""
    if len(shape) >= 2 and math.prod(shape[1:]) == n_inputs:
        fix = f": flatten each example into a row, X.reshape(len(X), {n_inputs})"
    elif math.prod(shape) == n_inputs:
        fix = f": for one example, give a batch of one, X.reshape(1, {n_inputs})"
    raise NudgeError(f"{name} have shape {shape} but the network expects rows of {n_inputs} "
                     f"values (one example per row){fix}")
