"""The ``nudge`` command line.  Each command lives in a module with a ``register``
function that adds its sub-parser; :func:`main` turns user errors into one line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..errors import NudgeError
from . import core, curvature, insight, minima, serve, sweep

COMMAND_MODULES = [core, insight, minima, curvature, serve, sweep]


class _Parser(argparse.ArgumentParser):
    """argparse, but errors end with 'see --help' and exit 2 without a traceback."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="nudge",
        description="A neural network that learns to read handwritten digits by gradient "
                    "descent, and shows how it learns.",
    )
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"nudge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except NudgeError as e:
        print(f"nudge {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"nudge {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
