"""Command line: ``python -m course_lib <command> ...`` (also installed as ``course-lib``).

Each command lives in its own module, which exposes ``add_subcommand(subparsers)``: it adds its
parser and sets ``handler`` (a function of the parsed arguments returning the exit status).
To add a command (e.g. ``train-lab-models``), write that function in your module and list the module
in :data:`COMMAND_MODULES`.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES = ("course_lib.runner",)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m course_lib", description="The Reasoning Distillation Workbook."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="command")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_subcommand(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
