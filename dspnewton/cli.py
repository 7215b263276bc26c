"""The ``dspnewton`` command-line interface: a thin shell over the Python API.

Every command returns exit code 0 on success; on bad input it prints one
paragraph saying what is wrong and what to do, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from . import __version__


class UserError(Exception):
    """An error caused by the user's input; printed without a traceback."""


def _cmd_version(args: argparse.Namespace) -> int:
    from . import native_version

    print(f"dspnewton {__version__} (C++ core {native_version()})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dspnewton", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"dspnewton {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("version", help="print the Python and C++ core versions")
    p.set_defaults(func=_cmd_version)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"dspnewton {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("dspnewton: interrupted", file=sys.stderr)
        return 130
