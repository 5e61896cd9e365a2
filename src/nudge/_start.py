"""A Ctrl-C while the ``nudge`` command is still starting (importing NumPy and the
package) ends it with one line and exit status 130, not a traceback.

Only for the command: :mod:`nudge` calls :func:`quiet_ctrl_c_while_starting` when it is
imported by the ``nudge`` script or ``python -m nudge``, never as a library (a notebook's
Ctrl-C keeps its own meaning).  :func:`nudge.cli.main` puts Python's handler back once
everything is loaded (:func:`started`), and, as the command ends (its result or its one-line
error being written), ignores Ctrl-C again (:func:`finishing`), so that a Ctrl-C in those
last moments adds no traceback.
"""

# _signal, not signal: ``import signal`` loads enum, several milliseconds in which a
# Ctrl-C would still be Python's traceback; _signal is built in, and os and sys are
# loaded before any package is
import _signal  # type: ignore[import-not-found]  # built in, but typeshed has no stub
import os
import sys


def started_as_the_command() -> bool:
    """Whether this process is the ``nudge`` command (script or ``python -m nudge``)."""
    first = sys.argv[0] if sys.argv else ""
    # while ``python -m`` looks for the module it runs, argv[0] is "-m"; then the path of
    # nudge/__main__.py
    if os.path.basename(first) == "__main__.py":
        return os.path.basename(os.path.dirname(first)) == "nudge"
    return os.path.basename(first) in ("nudge", "nudge.exe") or first == "-m"


def _interrupted(signum: int, frame: object) -> None:
    os.write(2, b"nudge: interrupted while starting\n")
    os._exit(130)


def _set(handler: object) -> None:
    """Ctrl-C's handler, where this thread may set it (the main thread's only)."""
    try:
        _signal.signal(_signal.SIGINT, handler)
    except ValueError:                     # not the main thread: Ctrl-C is not ours there
        pass


def quiet_ctrl_c_while_starting() -> None:
    _set(_interrupted)


def started() -> None:
    """Everything is loaded: Ctrl-C raises KeyboardInterrupt again (handled by the CLI)."""
    if _signal.getsignal(_signal.SIGINT) is _interrupted:
        _set(_signal.default_int_handler)


def finishing() -> None:
    """The command is ending: from now on Ctrl-C is ignored (the command only, never when
    :func:`nudge.cli.main` is called from Python)."""
    if started_as_the_command():
        _set(_signal.SIG_IGN)


def interrupt_handled() -> None:
    """Every KeyboardInterrupt was handled (a command's Ctrl-C: its line written, exit
    status 130 chosen).

    CPython notes a KeyboardInterrupt that ends code run by ``exec()`` or ``eval()`` of a
    string as unhandled, for the whole process, even when a caller catches it (the note is
    meant for the main script: bpo-1054041); ``python -m nudge`` then ends by killing itself
    with SIGINT after nudge chose its status.  Such strings run while SciPy is imported
    (NumPy's f2py builds helpers with ``eval``), in dataclasses and namedtuples: a Ctrl-C
    there ended ``nudge stability`` "killed by SIGINT", its line written.  A string run to
    its end clears the note."""
    exec("")
