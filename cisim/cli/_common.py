"""What every ``cisim`` subcommand shares: exit codes, :class:`UsageError`, ``--set`` parsing.

Also the options that choose where the uncertain assumptions come from.

This module sits below every command module of :mod:`cisim.cli` and imports none of them, so the
command modules import it without a loop.
"""

from __future__ import annotations

import argparse
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cisim.schema import loads_toml

__all__ = [
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_INVALID",
    "EXIT_OK",
    "EXIT_USAGE",
    "UsageError",
    "add_parameter_options",
    "jobs_count",
    "non_negative_int",
    "parameters_from_args",
    "parse_set",
    "parse_sets",
    "positive_int",
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


class UsageError(Exception):
    """Bad command-line input; the message is shown to the user as is."""


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
