"""User-facing errors.

Every mistake a user can make (a missing file, a corrupt model, a nonsense
option) is raised as a :class:`NudgeError` whose message is one line naming
the thing and the fix.  The CLI prints that line and exits non-zero; it never
shows a traceback for these.
"""

from typing import Any


class NudgeError(Exception):
    """A problem caused by input the user gave; the message says how to fix it.

    Its text is always one line: control characters that came with the input (a file
    named ``"a\\nb"``) are shown escaped, as ``\\n``.
    """

    def __str__(self) -> str:
        text = super().__str__()
        if text.isprintable():
            return text
        return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class DataError(NudgeError):
    """A dataset file is missing, corrupt, truncated or of the wrong kind."""


class DataNotFoundError(DataError):
    """A dataset's files are in none of the places nudge looks, and were not downloaded."""


class ModelFileError(NudgeError):
    """A model file is missing, corrupt, or not a nudge model."""


class DivergenceError(NudgeError):
    """Training produced a NaN or infinite cost: in ``epoch``, with ``learning_rate`` (the
    η that blew up); ``history`` holds the epochs before (a :class:`nudge.train.History`)."""

    def __init__(self, message: str, epoch: int | None = None,
                 learning_rate: float | None = None, history: Any = None) -> None:
        super().__init__(message)
        self.epoch, self.learning_rate, self.history = epoch, learning_rate, history


def short_repr(value: Any) -> str:
    """``repr(value)`` cut to 60 characters, for an error message about a bad value."""
    try:
        text = repr(value)
    except ValueError:                         # an int of more than 4,300 digits
        return "a number too long to show"
    return text if len(text) <= 60 else text[:57] + "..."


def printable(text: Any) -> str:
    """``text`` safe to print on a terminal, on one line: characters that are not printable
    (escape sequences, carriage returns, line breaks, bidi overrides, zero-width ones) are
    shown as escapes (``\\x1b``, ``\\u202e``).  For everything nudge prints that came from a
    file or an argument: metadata, class names, file names, error messages."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)
