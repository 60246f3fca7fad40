"""What every ``cisim`` subcommand shares: exit codes, ``--set`` parsing, the exceptions.

:func:`run_command` maps what a command raises (:class:`UsageError`, :class:`ResultsError`, ...)
to a message and an exit code. Also the options that choose where the uncertain assumptions
come from.

This module sits below every command module of :mod:`cisim.cli` and imports none of them, so the
command modules import it without a loop.
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cisim.scenario import ScenarioError
from cisim.schema import loads_toml

__all__ = [
    "DEBUG_ENV",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_INVALID",
    "EXIT_OK",
    "EXIT_USAGE",
    "ResultsError",
    "UsageError",
    "add_parameter_options",
    "check_output_dir",
    "jobs_count",
    "non_negative_int",
    "parameters_from_args",
    "parse_set",
    "parse_sets",
    "positive_int",
    "run_command",
    "share",
]

#: Success.
EXIT_OK = 0
#: Invalid scenario (``validate``), unwritable results, or every run of a sweep failed.
EXIT_INVALID = 1
#: Bad input: usage, an invalid or missing file, a malformed ``--set``.
EXIT_USAGE = 2
#: An unexpected error inside cisim (a bug): a one-line message; ``--debug`` shows the traceback.
EXIT_ERROR = 3
#: Interrupted (Ctrl-C, SIGTERM).
EXIT_INTERRUPTED = 130


#: Set this environment variable to 1 to see the traceback of an unexpected error.
DEBUG_ENV = "CISIM_DEBUG"


class UsageError(Exception):
    """Bad command-line input; the message is shown to the user as is."""


class ResultsError(Exception):
    """A command's results cannot be written (or read back); the message names the place."""


# --------------------------------------------------------------------------------------------
# Exceptions -> exit codes
# --------------------------------------------------------------------------------------------


def run_command(
    args: argparse.Namespace,
    body: Callable[[], int],
    *,
    prefix: str = "cisim",
    bad_input: tuple[type[Exception], ...] = (),
    interrupted: Callable[[], str] | None = None,
) -> int:
    """Run a command; turn what it raises into a message on stderr and an exit code.

    The one place where the exceptions of ``cisim``'s commands become exit codes:

    - :class:`~cisim.scenario.ScenarioError`: its own message (it names the file and the field),
      ``EXIT_USAGE``;
    - :class:`UsageError` or one of ``bad_input``: ``PREFIX: message``, ``EXIT_USAGE``;
    - :class:`ResultsError`: ``PREFIX: message``, ``EXIT_INVALID``;
    - ``KeyboardInterrupt`` (Ctrl-C; SIGTERM, which ``cisim.cli.main`` turns into one):
      ``PREFIX: interrupted; HINT``, ``EXIT_INTERRUPTED``;
    - any other ``Exception`` (a bug or an unforeseen case): one line naming the command,
      ``EXIT_ERROR``; with ``--debug`` or ``CISIM_DEBUG=1`` its traceback first.

    Calls nest: ``cisim.cli.main`` runs every command through it, and a command that knows more
    (a resume hint, its own errors) runs its body through it too.

    Args:
        args: The parsed command line (its ``command`` names the command in the message of an
            unexpected error; its ``debug`` or the environment variable ``CISIM_DEBUG`` asks
            for the traceback).
        body: The command; returns its exit code.
        prefix: Starts the messages, e.g. ``cisim sweep``.
        bad_input: More exception types whose message describes bad input.
        interrupted: Gives the hint shown after ``interrupted`` (how to continue), if any.

    Returns:
        The exit code.
    """
    try:
        return body()
    except ScenarioError as err:
        print(str(err), file=sys.stderr)
        return EXIT_USAGE
    except (UsageError, *bad_input) as err:
        print(f"{prefix}: {err}", file=sys.stderr)
        return EXIT_USAGE
    except ResultsError as err:
        print(f"{prefix}: {err}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        hint = interrupted() if interrupted is not None else ""
        print(f"{prefix}: interrupted" + (f"; {hint}" if hint else ""), file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:  # the last guard: a bug or a case no handler foresaw
        command = getattr(args, "command", None) or "command"
        if getattr(args, "debug", False) or os.environ.get(DEBUG_ENV, "") not in ("", "0"):
            traceback.print_exc()
        first = (str(err).strip().splitlines() or [""])[0][:300]
        print(f"cisim {command}: unexpected error: {type(err).__name__}: {first}\n"
              f"  this is a bug or an unforeseen case; please report it with the command line. "
              f"Run with 'cisim --debug {command} ...' (or {DEBUG_ENV}=1) to see the "
              "traceback.", file=sys.stderr)
        return EXIT_ERROR


def check_output_dir(outdir: Path, replaceable: Callable[[Path], bool], *, option: str,
                     writer: str) -> None:
    """Refuse, before any work, an output directory a command could not write whole.

    The command then writes it with :func:`cisim.io.write_directory`, which replaces an existing
    directory whole: so one holding files the command did not write is refused here.

    Args:
        outdir: The output directory.
        replaceable: Says whether an existing directory may be replaced.
        option: The option that named it, e.g. ``-o/--out``.
        writer: The command, e.g. ``cisim run``.

    Raises:
        UsageError: ``outdir`` is a file, holds other files, or its parent cannot be made or
            written.
    """
    if outdir.exists() and not outdir.is_dir():
        raise UsageError(f"{option} {outdir}: exists and is not a directory")
    if outdir.is_dir() and not replaceable(outdir):
        raise UsageError(f"{option} {outdir}: holds files that are not results of '{writer}'; "
                         f"choose another directory ('{writer}' replaces its output directory "
                         "whole)")
    try:
        outdir.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"cannot create output directory {outdir}: {err.strerror}") from None
    if not os.access(outdir.parent, os.W_OK):
        raise UsageError(f"cannot write to {outdir.parent} (permission denied)")


# --------------------------------------------------------------------------------------------
# Option types (argparse turns their ArgumentTypeError into "argument --x: ..." and exit 2)
# --------------------------------------------------------------------------------------------


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def non_negative_int(text: str) -> int:
    """An option value that is a whole number >= 0 (a seed)."""
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def positive_int(text: str) -> int:
    """An option value that is a whole number >= 1 (a count)."""
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def jobs_count(text: str) -> int:
    """A worker count: -1 (every core) or a whole number >= 1."""
    value = _int(text)
    if value != -1 and value < 1:
        raise argparse.ArgumentTypeError(f"must be -1 (every core) or at least 1, got {value}")
    return value


def share(text: str) -> float:
    """An option value that is a share: a number in (0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most 1, got {text}")
    return value


# --------------------------------------------------------------------------------------------
# --set PATH=VALUE
# --------------------------------------------------------------------------------------------


def parse_set(text: str) -> tuple[str, Any]:
    """Parse one ``--set PATH=VALUE`` override.

    The value is read as a TOML value, so ``2`` is a number, ``false`` a boolean, ``"a b"`` a
    string and ``[1, 2]`` a list; anything that is not valid TOML (a bare word such as ``USD``)
    is taken as a string.

    Args:
        text: ``PATH=VALUE``, e.g. ``funding.max_years=2``.

    Returns:
        The dotted path and the parsed value.

    Raises:
        UsageError: No ``=``, or an empty path.

    """
    path, sep, raw = text.partition("=")
    path = path.strip()
    if not sep:
        raise UsageError(f"--set {text!r}: expected PATH=VALUE, e.g. --set funding.max_years=2")
    if not path:
        raise UsageError(f"--set {text!r}: the path before '=' is empty")
    raw = raw.strip()
    if not raw:
        raise UsageError(f"--set {text!r}: the value after '=' is empty")
    try:
        value = loads_toml(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return path, value


def parse_sets(items: Sequence[str] | None) -> dict[str, Any]:
    """Parse several ``--set`` overrides into ``{path: value}`` (a later one wins)."""
    return dict(parse_set(item) for item in items or ())


# --------------------------------------------------------------------------------------------
# Where the uncertain assumptions come from
# --------------------------------------------------------------------------------------------


def add_parameter_options(p: argparse.ArgumentParser) -> None:
    """Add ``--seed-only`` and ``--parameters FILE``: where the uncertain assumptions come from."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--seed-only", action="store_true", dest="seed_only",
                   help="fix every assumption at the scenario's values and vary only the random "
                   "seed (chance alone: the bands understate the uncertainty)")
    g.add_argument("--parameters", metavar="FILE", default=None,
                   help="draw the uncertain assumptions from this posterior sample (CSV or "
                   "Parquet, one parameter set per row, columns named by scenario path, optional "
                   "'weight') instead of the default (the shipped calibrated posterior, else the "
                   "documented priors)")


def parameters_from_args(args: argparse.Namespace) -> Any:
    """The ``parameters`` argument of :func:`cisim.simulate.ensemble` the options ask for.

    Raises:
        UsageError: ``--parameters`` names a file that does not exist.
        cisim.priors.PriorsError: The file cannot be read or names unknown paths.
    """
    from cisim.simulate import resolve_parameters

    if getattr(args, "seed_only", False):
        return "seed_only"
    file = getattr(args, "parameters", None)
    if file is None:
        return resolve_parameters("default")
    if not Path(file).is_file():
        raise UsageError(f"--parameters {file}: no such file")
    return resolve_parameters(Path(file))
