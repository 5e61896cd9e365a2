"""Learning-rate schedules: the η of each epoch.

``constant``
    η every epoch (the default).
``cosine``
    in epoch e of E, η_e = η_min + (η − η_min) (1 + cos(π (e−1)/E)) / 2: big steps
    first and ever smaller ones as the network settles.
``plateau``
    Nielsen's chapter-3 schedule: η until the accuracy on held-out examples has not
    risen for ``patience`` epochs, then η/2, and so on while η/2 ≥ η_min; the run ends at
    the plateau where halving would pass η_min (0, the default, means η/64: the run ends
    where η would drop to 1/128 of where it started, his rule; an η_min of η/128 would
    allow one more halving).  It depends on the validation accuracy, so it needs
    held-out examples and a patience; :class:`nudge.control.EarlyStopping` halves η.  A
    learning rate set through a :class:`nudge.control.Control` replaces the schedule's
    while it is set.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from .bounds import check_choice
from .errors import NudgeError, short_repr

SCHEDULES = ("constant", "cosine", "plateau")
#: the schedules that need no held-out examples
FIXED_SCHEDULES = ("constant", "cosine")
#: the plateau schedule's default η_min, as a fraction of η: halvings to η/64, then stop
PLATEAU_FLOOR = 1 / 64


def learning_rate_at(epoch: int, epochs: int, learning_rate: float, schedule: str = "constant",
                     min_learning_rate: float = 0.0) -> float:
    """η for epoch ``epoch`` (1-based) of ``epochs`` under the schedule (``plateau``: the
    first η, before any plateau halves it)."""
    if check_choice("learning-rate schedule", schedule, SCHEDULES) != "cosine":
        return learning_rate
    progress = (epoch - 1) / epochs
    return min_learning_rate + (learning_rate - min_learning_rate) * 0.5 * (
        1 + math.cos(math.pi * progress))


def check_min_learning_rate(min_learning_rate: Any, learning_rate: float) -> float:
    """η_min checked: a number from 0 to η (a schedule decays towards it, never past η)."""
    number = isinstance(min_learning_rate, numbers.Real) and not isinstance(
        min_learning_rate, bool)                      # not "0.01", None or True
    if not (number and 0 <= min_learning_rate <= learning_rate):
        raise NudgeError(f"the minimum learning rate (--min-learning-rate) must be a number "
                         f"from 0 to the learning rate {learning_rate:g}, got "
                         f"{short_repr(min_learning_rate)}")
    return min_learning_rate


def plateau_floor(learning_rate: float, min_learning_rate: float = 0.0) -> float:
    """The plateau schedule's η_min (it halves η while η/2 ≥ η_min): ``min_learning_rate``,
    or by default (0) η/64."""
    return min_learning_rate if min_learning_rate > 0 else learning_rate * PLATEAU_FLOOR
