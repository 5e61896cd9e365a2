"""The ``nudge`` command line.  Each command lives in a module with a ``register``
function that adds its sub-parser; :func:`main` turns user errors into one line, and for a
command asked for ``--json`` into one JSON object on stdout as well (:func:`.common.failed`)."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from ..errors import NudgeError, printable

#: the command modules, in the order of ``nudge --help`` (imported by build_parser, inside
#: main's guard, so that a Ctrl-C while they load is a one-line message too)
COMMAND_MODULES = ["core", "model", "insight", "minima", "curvature", "serve", "sweep"]

#: what argparse reads as a negative number rather than an option name (its own pattern
#: leaves out exponents, so ``--from -1e30`` was "expected one argument")
NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


#: what a command that ran out of memory says
OUT_OF_MEMORY = "out of memory; give smaller sizes or counts"


class _Parser(argparse.ArgumentParser):
    """argparse, but errors end with 'see --help' and exit 2 without a traceback (and, for
    a command given --json, print its one JSON object too), and a negative number in any
    notation (``--from -1e30``, not only ``-1`` and ``-.5``) is an option's value, not an
    option."""

    #: the words this parser was last given (a command's: those after its name)
    _words: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = NEGATIVE_NUMBER

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        self._words = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def _json_asked(self) -> bool:
        """Whether --json (or a prefix argparse takes for it) is among the options given to
        a command that has it; for ``nudge`` itself, to the command chosen."""
        words = self._words[:self._words.index("--")] if "--" in self._words else self._words
        commands = next((a.choices for a in self._actions
                         if isinstance(a, argparse._SubParsersAction)), None)
        if commands is not None:
            chosen = next((commands[w] for w in words if w in commands), None)
            return isinstance(chosen, _Parser) and chosen._json_asked()
        return (any("--json" in a.option_strings for a in self._actions)
                and any(len(w) > 2 and "--json".startswith(w) for w in words))

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        """argparse's check of a choice, which names the closest one for a misspelt value
        (``nudge trian``, ``--activation sigmod``: "did you mean 'train'?")."""
        choices = action.choices
        if (choices is not None and isinstance(value, str) and value not in choices
                and all(isinstance(c, str) for c in choices)):
            import difflib

            close = difflib.get_close_matches(value, list(choices), n=1)
            if close:
                raise argparse.ArgumentError(action, f"invalid choice: {value!r}: did you mean "
                                             f"{close[0]!r}? (choose from "
                                             f"{', '.join(map(repr, choices))})")
        super()._check_value(action, value)

    def error(self, message: str) -> NoReturn:
        message = f"{printable(message)} (see {self.prog} --help)"
        if self._json_asked():
            from .common import print_json

            print_json({"error": message})
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="nudge",
        description="A neural network that learns to read handwritten digits by gradient "
                    "descent, and shows how it learns.",
    )
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"nudge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(f".{name}", __name__).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
    except KeyboardInterrupt:                      # Ctrl-C while nudge was starting
        from .._start import interrupt_handled

        print("nudge: interrupted while starting", file=sys.stderr)
        interrupt_handled()
        return 130
    from .._start import finishing, interrupt_handled, started
    from .common import check_distinct_files, failed  # loaded already, by the commands

    command, args = "nudge", None
    try:
        started()                                  # from here on, Ctrl-C is handled below
        args = parser.parse_args(argv)
        command = f"nudge {args.command}" if getattr(args, "command", None) else "nudge"
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        check_distinct_files(args)
        return int(args.func(args) or 0)
    except NudgeError as e:
        finishing()            # first: a Ctrl-C while the line is written changes nothing
        failed(args, f"{command}: error: {printable(e)}", str(e), getattr(e, "so_far", None))
        return 1
    except MemoryError:
        finishing()
        failed(args, f"{command}: error: {OUT_OF_MEMORY}", OUT_OF_MEMORY)
        return 1
    except KeyboardInterrupt:
        finishing()
        failed(args, f"{command}: interrupted", "interrupted")
        return 130
    except BrokenPipeError:
        return 0
    finally:
        finishing()            # the command is ending: a Ctrl-C now would only add a traceback
        interrupt_handled()    # every Ctrl-C was handled: its status stands (python -m too)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
