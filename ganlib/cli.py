"""The command line: `python -m ganlib --help`.

Each subcommand lives in its own function ``cmd_<name>(args)`` registered in
``build_parser``; user errors (bad options, missing data) print one line and exit 2.
"""
from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ganlib",
        description="ganlib: train, sample and measure GANs from the command line.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    info = sub.add_parser("info", help="print versions, the device and the active preset")
    info.set_defaults(func=cmd_info)
    return parser


def cmd_info(args) -> int:
    import ganlib

    ganlib.setup(verbose=True)
    return 0


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ValueError as error:  # user errors: one clear line, no traceback
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
