"""The ``voxlane`` console script.

Kept light on purpose: only :mod:`argparse` is imported up front; each subcommand imports what
it needs when it runs. A subcommand is a module exposing ``add_parser(subparsers)`` and
``run(args) -> int``; add new ones to :data:`SUBCOMMANDS`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Protocol, cast

SUBCOMMANDS: tuple[str, ...] = ("voxlane.agents.cli.plugins_cmd",)
"""Modules implementing ``voxlane`` subcommands."""


class _Subcommand(Protocol):
    def add_parser(self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        """Add this subcommand's parser (with ``run`` as its ``handler`` default)."""


def _version() -> str:
    from ..version import __version__

    return __version__


def build_parser() -> argparse.ArgumentParser:
    """The ``voxlane`` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="voxlane", description="Voxlane: realtime voice AI agents."
    )
    parser.add_argument("--version", action="version", version=f"voxlane-agents {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in SUBCOMMANDS:
        module = cast(_Subcommand, importlib.import_module(module_name))
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``voxlane``; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(handler(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
