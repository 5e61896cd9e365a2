"""The options and data of :func:`nudge.train.train` checked before any step is taken:
one-line errors that name the option and the fix, and the checked values as numbers."""

from __future__ import annotations

from typing import Any

import numpy as np

from .bounds import check_count, check_input_shape, positive_float
from .display import counted
from .errors import NudgeError, short_repr
from .inputs import as_array, as_pixels, check_numbers
from .network import Network, check_network
from .optimizers import (
    DEFAULT_MOMENTUM,
    check_momentum,
    check_optimizer,
    check_weight_decay,
    default_learning_rate,
)
from .schedules import check_min_learning_rate, learning_rate_at

#: the most epochs one run may ask for (a typo such as 1e20 is an error, not hours)
MAX_EPOCHS = 100_000


def check_options(net: Network, X: np.ndarray, epochs: Any, batch_size: Any, learning_rate: Any,
                  schedule: str, min_learning_rate: float, optimizer: str, momentum: Any,
                  weight_decay: float) -> tuple[int, int, float, float, float]:
    """The options of :func:`~nudge.train.train` checked (one-line errors): ``(epochs, B,
    η, μ, λ)`` as numbers.  ``X``: the training inputs as :func:`check_data` returns them
    (here only counted and looked at for NaN)."""
    check_optimizer(optimizer)
    epochs = check_count("epochs", epochs, most=MAX_EPOCHS)
    if momentum is not None and optimizer != "momentum":
        raise NudgeError(f"momentum {short_repr(momentum)} is for optimizer='momentum' "
                         f"({optimizer} has none): pass optimizer='momentum', or leave "
                         "momentum out")
    momentum = check_momentum(DEFAULT_MOMENTUM if momentum is None else momentum)
    if learning_rate is None:
        learning_rate = default_learning_rate(optimizer, momentum=momentum)
    learning_rate = positive_float("learning rate", learning_rate)
    learning_rate_at(1, epochs, learning_rate, schedule)          # validates the schedule
    check_min_learning_rate(min_learning_rate, learning_rate)
    weight_decay = check_weight_decay(weight_decay)
    n = len(X)
    if n == 0:
        raise NudgeError("there are no training examples")
    batch_size = n if batch_size is None else check_count("batch size", batch_size, most=None)
    check_batch_fits(batch_size, n)
    check_finite("training inputs", X)
    net.check_parameters(writable=True)        # trained in place
    return epochs, batch_size, learning_rate, momentum, weight_decay


def check_batch_fits(batch_size: int | None, n: int, name: str = "batch size",
                     example: str = "training example",
                     fix: str = "use at most {n} (that is full-batch gradient descent)",
                     where: str = "") -> None:
    """A mini-batch of ``batch_size`` examples (None: all of them) is drawn from ``n``:
    else a one-line error in the front end's words (``name``: its option, ``example``: what
    one of the ``n`` is, made plural unless n is 1, ``where``: words after it, ``fix``:
    what to do, where ``{n}`` is the count)."""
    if batch_size is not None and batch_size > n:
        raise NudgeError(f"{name} {batch_size} is larger than the {counted(n, example)}"
                         f"{where}: " + fix.format(n=f"{n:,}"))


def check_batch_size(batch_size: Any, n: int, examples: str = "examples",
                     full: bool = False) -> None:
    """A mini-batch of ``batch_size`` examples can be drawn from ``n`` (1 to ``n``; with
    ``full``, None too: all of them), for the insight functions, which take a list of
    batch sizes (:func:`check_batch_fits` says it in the words of one option)."""
    if batch_size is None and full:
        return
    if isinstance(batch_size, (bool, np.bool_)) or not isinstance(batch_size, (int, np.integer)):
        raise NudgeError(f"batch size {short_repr(batch_size)} is not a whole number: use 1 to "
                         f"{n:,}" + (", or None for all of them" if full else ""))
    if not 1 <= batch_size <= n:
        raise NudgeError(f"batch size {batch_size} is not possible with {n:,} {examples}: use "
                         f"1 to {n:,}" + (", or 'full'" if full else ""))


def check_inputs(name: str, X: np.ndarray, net: Network) -> None:
    """Inputs are rows of ``net.sizes[0]`` numbers (whether they are finite is
    :func:`check_finite`'s question, asked only where it matters)."""
    check_input_shape(name, X.shape, net.sizes[0])
    check_numbers(X, name)


def check_finite(name: str, X: np.ndarray) -> None:
    """Inputs (numbers, as :func:`check_inputs` leaves them) are all finite: looked at
    before training, where a NaN pixel would pass for a diverged run (elsewhere the forward
    pass refuses them)."""
    if (X.dtype.kind == "f" and X.size
            and not (np.isfinite(X).all() and np.abs(X).max() <= np.finfo(np.float32).max)):
        raise NudgeError(f"{name} hold NaN, infinite values or values too large for float32: "
                         "give finite pixel values (uint8 0-255, or floats in [0, 1])")


def check_data(net: Network, X: Any, y: Any,
               name: str = "inputs") -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` as arrays, checked for what every function over a data set needs before it
    counts, slices or indexes them: a network whose parameters fit it and are finite
    (:func:`nudge.network.check_network`: NaN weights would be measured as a NaN cost, or
    a diverged run, or a "convex" Hessian), rows of ``net.sizes[0]`` numbers, and a label or a
    desired-output row for each (None, a string or a ragged list is a one-line error, not
    numpy's).  Cheap: no pass over the data (labels are checked as they are turned into
    desired outputs, pixels by the forward pass), but for whole-number pixels of another
    type than uint8, which become uint8 (:func:`nudge.inputs.as_pixels`)."""
    check_network(net, finite=True)
    X, y = as_pixels(as_array(X, name)), as_array(y, "labels")   # int64 pixels: uint8
    check_inputs(name, X, net)
    if y.ndim not in (1, 2):
        raise NudgeError(f"labels of shape {y.shape}: give one label (or desired-output row) "
                         f"for each of the {len(X):,} {name}")
    if len(y) != len(X):
        raise NudgeError(f"{len(X):,} {name} but {len(y):,} labels: give one label (or "
                         "desired-output row) for each example")
    return X, y


def check_patience(patience: Any, held_out: bool, most: int,
                   schedule: str = "constant") -> int | None:
    """``patience`` (None: no early stopping) checked: a whole number from 1 to ``most``,
    and only with held-out examples, whose accuracy decides when to stop; the ``plateau``
    schedule needs both."""
    if patience is None:
        if schedule == "plateau":
            raise NudgeError("the plateau schedule halves the learning rate when the "
                             "validation accuracy has not risen for N epochs: give the N "
                             "(--patience N, or patience=) and held-out examples "
                             "(--validation N, or validation_data=)")
        return None
    if not held_out:
        raise NudgeError("patience (early stopping) needs held-out examples (--validation N, "
                         "or validation_data=): their accuracy decides when to stop")
    return check_count("patience", patience, most=most)


def check_callables(**functions: Any) -> None:
    """Each of ``functions`` (by its parameter name) is None or a function: ``callback=1``
    is refused before the first step, not after an epoch has changed the network."""
    for name, f in functions.items():
        if f is not None and not callable(f):
            raise NudgeError(f"{name} must be a function (or None), got {short_repr(f)}")


def check_held_out(name: str, data: Any,
                   net: Network) -> tuple[np.ndarray, np.ndarray] | None:
    """Test or validation data (None: none): a pair (inputs, labels) that fits the network,
    returned as :func:`check_data` returns it."""
    if data is None:
        return None
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise NudgeError(f"{name}_data must be a pair (inputs, labels), got a "
                         f"{type(data).__name__}")
    X, y = check_data(net, data[0], data[1], f"{name} inputs")
    check_finite(f"{name} inputs", X)
    net.desired_outputs(y)
    return X, y
