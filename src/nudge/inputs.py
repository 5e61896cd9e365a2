"""Inputs and labels as the network reads them.

Inputs are rows of pixel values, one example per row: whole numbers (uint8 images, or any
integer type) are intensities 0-255 and become a⁰ = intensity/255 in [0, 1]; floats are
taken as they are (but for floats that are whole numbers 0-255, some above 1: an image read
as floats, refused).  Labels are whole numbers 0 to n_outputs − 1, and each becomes its
desired output y, a one-hot row (rows of desired outputs are taken as they are); the
confusion matrix counts labels against the classes read.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import NudgeError


def as_array(X: Any, name: str = "inputs") -> np.ndarray:
    """``X`` as a NumPy array, or a one-line error for what is not one (a ragged list)."""
    try:
        return np.asarray(X)
    except (TypeError, ValueError):
        raise NudgeError(f"{name} must be an array: a row of numbers for each example "
                         "(not ragged lists)") from None


def check_numbers(X: np.ndarray, name: str = "inputs") -> None:
    """Inputs are numbers (pixels): an array of strings or objects is a one-line error, and
    so are floats that are all whole numbers from 0 to 255, some above 1: intensities
    0-255 (an image read as floats) that would be taken as they are, 255 times too bright
    (:func:`check_float_scale`)."""
    if X.dtype.kind not in "biuf":
        raise NudgeError(f"{name} must be numbers (pixels), got an array of {X.dtype}")
    check_float_scale(X, name)


#: rows looked at in one pass by :func:`check_float_scale` (temporaries of a few MB)
SCALE_CHUNK = 4096
#: ...and the first rows it looks at alone: a fraction there settles it at once
SCALE_HEAD = 16


def check_float_scale(X: np.ndarray, name: str = "inputs") -> None:
    """Float inputs are taken as they are (intensities in [0, 1]): floats that are all whole
    numbers from 0 to 255, the largest above 1, are pixel intensities 0-255 (an image read
    as floats), refused in one line rather than read 255 times too bright.  Inputs on
    another scale (standardised, with fractions or negative values) pass.  A fraction in
    the first :data:`SCALE_HEAD` rows settles it (intensities in [0, 1], as every forward
    pass of prepared inputs has them, cost no pass over the data); else the largest value
    decides, and only whole-number maxima cost a pass."""
    if X.dtype.kind != "f" or X.size == 0:
        return
    rows = np.atleast_2d(X)
    rows = rows.reshape(len(rows), -1)
    head = rows[:SCALE_HEAD]
    with np.errstate(invalid="ignore"):
        if not np.array_equal(head, np.floor(head)):   # a fraction (or NaN: the finite
            return                                     # checks say it)
        top = float(np.max(X))
    if not (1 < top <= 255 and top == int(top)):     # NaN, inf: for the finite checks
        return
    for start in range(0, len(rows), SCALE_CHUNK):
        part = rows[start:start + SCALE_CHUNK]
        if part.min() < 0 or not np.array_equal(part, np.floor(part)):
            return
    raise NudgeError(f"{name} are whole numbers from 0 to {top:g} held as floats, but floats "
                     "are read as they are, as intensities in [0, 1]: scale them into [0, 1] "
                     "(X / 255 for 0-255 pixels), or give uint8 pixels")


def as_pixels(X: np.ndarray) -> np.ndarray:
    """Whole-number inputs as uint8: any integer type holds pixel intensities 0-255, as
    uint8 images do (a list of ints is int64), or is refused; other inputs as they are."""
    if X.dtype.kind not in "iu" or X.dtype == np.uint8:
        return X
    if X.size and (X.min() < 0 or X.max() > 255):
        raise NudgeError("whole-number pixels are intensities from 0 to 255 (as in uint8 "
                         "images): give floats for inputs on another scale")
    return X.astype(np.uint8)


def as_inputs(X: Any, dtype: Any = np.float32) -> np.ndarray:
    """Input activations a⁰ from pixels: whole numbers (uint8 images) become intensity/255
    in [0, 1]; floats are taken as they are."""
    X = as_pixels(np.asarray(X))
    dt = np.dtype(dtype)
    if X.dtype == np.uint8:
        A = X.astype(dt)
        A *= dt.type(1 / 255)
        return A
    return X.astype(dt, copy=False)


def check_labels(y: np.ndarray, n_outputs: int) -> None:
    """Labels must be a 1-D array of whole numbers from 0 to n_outputs − 1."""
    if y.ndim != 1:
        raise NudgeError(f"labels must be a 1-D array of class numbers, got shape {y.shape}")
    if y.dtype.kind == "f" and y.size and np.isin(y, np.arange(n_outputs)).all():
        raise NudgeError(f"labels must be whole numbers from 0 to {n_outputs - 1} as integers, "
                         f"not floats ({y.dtype}): give y.astype(int)")   # as np.loadtxt reads
    if y.size and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= n_outputs):
        raise NudgeError(f"labels must be whole numbers from 0 to {n_outputs - 1}")


def desired_outputs(y: Any, n_outputs: int, dtype: Any = np.float32) -> np.ndarray:
    """The desired output vectors: labels 0..9 become one-hot rows; rows pass through."""
    y = np.asarray(y)
    if y.ndim == 2:
        if y.shape[1] != n_outputs:
            raise NudgeError(f"desired outputs have {y.shape[1]} columns but the network has "
                             f"{n_outputs} outputs: give labels or rows of length {n_outputs}")
        if y.dtype.kind not in "biuf" or not np.isfinite(y).all():
            raise NudgeError("desired outputs must be finite numbers: a row holds NaN, "
                             "infinity or something that is not a number")
        return y.astype(dtype, copy=False)
    check_labels(y, n_outputs)
    Y = np.zeros((y.size, n_outputs), dtype=dtype)
    Y[np.arange(y.size), y.astype(np.intp, copy=False)] = 1     # [] is float64: no labels
    return Y


def classes_of(y: Any, n_outputs: int) -> np.ndarray:
    """The class each label stands for: labels as they are (checked), desired-output rows
    (one-hot, or soft) their largest entry's index."""
    y = np.asarray(y)
    if y.ndim == 2:
        return np.argmax(desired_outputs(y, n_outputs), axis=1)
    check_labels(y, n_outputs)
    return y


def confusion_matrix(y: Any, predicted: Any, n_outputs: int) -> np.ndarray:
    """counts[i, j]: how many examples of class i (their label) were read as class j."""
    counts = np.zeros((n_outputs, n_outputs), dtype=np.int64)
    np.add.at(counts, (np.asarray(y, dtype=np.int64), np.asarray(predicted, dtype=np.int64)), 1)
    return counts
