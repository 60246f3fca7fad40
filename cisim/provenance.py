"""Provenance: what was changed on the command line, carried by the scenario itself.

A design changed with ``--set`` or ``--what-if`` is renamed after its changes (``default
(funding.max_years=5)``) and its description gains one line per derivation, ``Changed from
scenarios/default.toml: --set funding.max_years=5``. Both are ordinary scenario fields, so the
record travels with the scenario into every output without a second file: the printed summary,
the figure titles, the saved ``scenario.toml`` (which also opens with a comment block saying the
same) and the reports, including a report written later from the saved results. A scenario file
without such lines has no recorded changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import tomli_w

from cisim.scenario import Scenario

__all__ = ["PREFIX", "changes_of", "derive", "format_change", "strip_changes", "toml_header"]

#: Start of a provenance line in a scenario's description.
PREFIX = "Changed from "


def format_change(path: str, value: Any) -> str:
    """``path=value`` with the value written as TOML (a plain word stays bare).

    Example: ``format_change("backbone.present", False)`` gives ``backbone.present=false``.
    """
    if isinstance(value, str) and value and all(c.isalnum() or c in "._-" for c in value):
        return f"{path}={value}"
    return f"{path}={_toml_value(value)}"


def _toml_value(value: Any) -> str:
    """A value as inline TOML on one line (tomli_w spreads arrays over several lines)."""
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    return tomli_w.dumps({"v": value}).partition("=")[2].strip()


def derive(
    scenario: Scenario,
    changes: Sequence[tuple[str, Mapping[str, Any]]],
    origin: str,
    source: str | None = None,
) -> Scenario:
    """Apply command-line overrides and record them in the scenario's name and description.

    Args:
        scenario: The scenario as read from ``origin``.
        changes: ``(flag, {path: value})`` groups in the order applied, e.g.
            ``[("--set", {"funding.max_years": 5})]``; a later value of a path wins.
        origin: Where the scenario came from (its file), for the record.
        source: Where the overrides came from, for error messages (default: the flags).

    Returns:
        The changed scenario (the scenario itself when there is no change).

    Raises:
        ScenarioError: An unknown path or an invalid value, naming ``source``.

    """
    groups = [(flag, dict(values)) for flag, values in changes if values]
    if not groups:
        return scenario
    merged: dict[str, Any] = {}
    for _, values in groups:
        merged.update(values)
    flags = " ".join(f"{flag} {format_change(k, v)}" for flag, values in groups
                     for k, v in values.items())
    changed = scenario.with_overrides(merged, source=source or flags)
    label = ", ".join(format_change(k, v) for k, v in merged.items() if k != "name")
    name = changed.name if "name" in merged else scenario.name
    if label:
        name = f"{name} ({label})"
    record = f"{PREFIX}{origin}: {flags}"
    description = f"{changed.description}\n{record}" if changed.description else record
    return changed.model_copy(update={"name": name, "description": description})


def changes_of(scenario: Any) -> list[str]:
    """The provenance lines of a scenario's description (empty when nothing was changed)."""
    description = str(getattr(scenario, "description", "") or "")
    return [line.strip() for line in description.splitlines() if line.startswith(PREFIX)]


def strip_changes(description: str) -> str:
    """A description without its provenance lines (they are shown separately)."""
    return "\n".join(line for line in description.splitlines()
                     if not line.startswith(PREFIX)).strip()


def toml_header(scenario: Any, command: str) -> str:
    """A TOML comment block saying which command wrote the file and what it changed.

    Args:
        scenario: The scenario being saved.
        command: The command that wrote it, e.g. ``cisim run``.

    Returns:
        Comment lines ending with a blank line; loaders ignore them.

    """
    lines = [f"# Written by {command}: the scenario exactly as simulated."]
    changes = changes_of(scenario)
    if changes:
        lines.append("# Command-line changes to the original file (also in name and description):")
        lines.extend(f"#   {line}" for line in changes)
    else:
        lines.append("# No command-line changes.")
    return "\n".join(lines) + "\n\n"
