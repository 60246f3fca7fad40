"""The ``cisim`` command: parser and entry point.

Each subcommand lives in a module of this package (:mod:`cisim.cli.run`: validate, run, compile;
:mod:`cisim.cli.report`: report, compare; :mod:`cisim.cli.sweep`: sweep, analyze;
:mod:`cisim.cli.calibrate`; :mod:`cisim.cli.app`), each with an ``add_parser(subparsers)``. What
they share (exit codes, :func:`~cisim.cli._common.run_command`, the one mapping of exceptions to
them, :class:`UsageError`, ``--set`` parsing) is in :mod:`cisim.cli._common`, which imports none
of them. Bad input gives a message on stderr and a non-zero exit status, never a traceback.
Worker processes exit when the command's process dies (:mod:`cisim.workers`).
"""

from __future__ import annotations

import argparse
import signal
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType

from cisim.cli._common import (
    DEBUG_ENV,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    parse_set,
    parse_sets,
    run_command,
)
from cisim.version import version

__all__ = [
    "DEBUG_ENV",
    "EXIT_ERROR",
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
    parser.add_argument("--debug", action="store_true",
                        help=f"show the traceback of an unexpected error (or set {DEBUG_ENV}=1)")
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
        The exit status: 0 success; 1 invalid scenario (validate), unwritable results or every
        run of a sweep failed; 2 bad input (usage, an invalid or missing file, a malformed
        ``--set``); 3 an unexpected error inside cisim (a bug; ``--debug`` shows the
        traceback); 130 interrupted (Ctrl-C or SIGTERM).

    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else (EXIT_OK if exc.code is None else 2)

    def command() -> int:
        with _sigterm_interrupts(), _watched_workers():
            return int(args.func(args))

    return run_command(args, command)


@contextmanager
def _watched_workers() -> Iterator[None]:
    """Run a command with joblib's loky workers exiting when this process dies.

    The ensembles of ``run``, ``report`` and ``compare`` use joblib's default (loky) pool;
    under this configuration its workers watch this process (:mod:`cisim.workers`), so a
    killed command leaves none computing on.
    """
    from joblib import parallel_config

    from cisim.workers import watched_workers

    with parallel_config(backend="loky", **watched_workers()):
        yield


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C while a command runs, so its clean-up code runs too."""
    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
