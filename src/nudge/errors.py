"""User-facing errors.

Every mistake a user can make (a missing file, a corrupt model, a nonsense
option) is raised as a :class:`NudgeError` whose message is one line naming
the thing and the fix.  The CLI prints that line and exits non-zero; it never
shows a traceback for these.
"""

import unicodedata
from typing import Any


class NudgeError(Exception):
    """A problem caused by input the user gave; the message says how to fix it.

    Its text is always one line, safe to print: control characters that came with the
    input (a file named ``"a\\nb"``) are shown escaped, as ``\\n`` (:func:`printable`).
    """

    def __str__(self) -> str:
        return printable(super().__str__())


class DataError(NudgeError):
    """A dataset file is missing, corrupt, truncated or of the wrong kind."""


class DataNotFoundError(DataError):
    """A dataset's files are in none of the places nudge looks, and were not downloaded."""


class ModelFileError(NudgeError):
    """A model file is missing, corrupt, or not a nudge model."""


class DivergenceError(NudgeError):
    """Training produced a NaN or infinite cost: in ``epoch``, with ``learning_rate`` (the
    η that blew up); ``history`` holds the epochs before (a :class:`nudge.history.History`)."""

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


#: not printable to Python, but part of ordinary text: the zero-width non-joiner and joiner
#: (Persian, the Indic scripts, emoji sequences); spaces (category Zs: no-break, ideographic)
#: are kept too
_TEXT_JOINERS = frozenset("\u200c\u200d")


def _shown(c: str) -> bool:
    return c.isprintable() or c in _TEXT_JOINERS or unicodedata.category(c) == "Zs"


def printable(text: Any) -> str:
    """``text`` safe to print on a terminal, on one line: the characters that could drive
    it or hide what it shows (C0 controls and DEL, so escape sequences, carriage returns and
    line breaks; C1 controls; bidi overrides and marks; zero-width and other format
    characters; line and paragraph separators; lone surrogates from undecodable file names;
    private-use and unassigned code points) are shown as escapes (``\\x1b``, ``\\r``,
    ``\\u202e``, ``\\udcff``).  Letters of any script, accents, spaces and emoji are kept.
    The one place for everything nudge prints that came from a file or an argument:
    metadata, class names, file names, results, error messages (:class:`NudgeError`).
    Backslashes are kept as they are, so the output is for reading, not for parsing."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(c if _shown(c) else c.encode("unicode_escape").decode("ascii")
                   for c in text)


def is_printable(text: str) -> bool:
    """Whether :func:`printable` leaves ``text`` as it is (a name fit to show unescaped)."""
    return text.isprintable() or all(_shown(c) for c in text)
