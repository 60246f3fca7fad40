"""The ``cisim`` command: parser and entry point.

Each subcommand lives in a module of this package (:mod:`cisim.cli.run`: validate, run, compile;
:mod:`cisim.cli.report`: report, compare; :mod:`cisim.cli.sweep`: sweep, analyze;
:mod:`cisim.cli.calibrate`; :mod:`cisim.cli.app`), each with an ``add_parser(subparsers)``. What
they share (exit codes, :class:`UsageError`, ``--set`` parsing) is in :mod:`cisim.cli._common`,
which imports none of them. Bad input gives a message on stderr and a non-zero exit status, never
a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cisim.cli._common import (
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    parse_set,
    parse_sets,
)
from cisim.scenario import ScenarioError
from cisim.version import version

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_INVALID",
    "EXIT_OK",
    "EXIT_USAGE",
    "UsageError",
    "build_parser",
    "main",
    "parse_set",
    "parse_sets",
]


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the ``cisim`` command."""
    from cisim.cli import app, calibrate, report, run, sweep

    parser = argparse.ArgumentParser(
        prog="cisim",
        description="Agent-based simulation of collective impact partnerships.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run.add_parser(sub)
    report.add_parser(sub)
    sweep.add_parser(sub)
    calibrate.add_parser(sub)
    app.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``cisim`` command.

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` when None.

    Returns:
        The exit status: 0 success, 1 invalid scenario (validate) or unwritable results,
        2 bad input (usage, invalid or missing scenario file, malformed ``--set``),
        130 interrupted.

    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else (EXIT_OK if exc.code is None else 2)
    try:
        return int(args.func(args))
    except ScenarioError as err:
        print(str(err), file=sys.stderr)
        return EXIT_USAGE
    except UsageError as err:
        print(f"cisim: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("cisim: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
