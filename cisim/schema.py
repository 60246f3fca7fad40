"""Helpers shared by every TOML file format of cisim: safe parsing and pydantic error messages.

Scenarios, sweep and calibration specs, targets and criteria files all read TOML through
:func:`loads_toml` and turn a pydantic ``ValidationError`` into ``(field path, message)`` pairs
with a suggestion for a misspelt key (:func:`pydantic_problems`).

The messages follow pydantic's own wording (https://docs.pydantic.dev/latest/errors/errors/),
with the location written as a dotted path (``backbone.staff.facilitator``, ``partners[2].name``).
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ValidationError

__all__ = ["drop_none", "inner_model", "loads_toml", "loc_to_path", "model_at",
           "pydantic_problems"]


def loads_toml(text: str) -> dict[str, Any]:
    """Parse a TOML document; a document nested too deeply for the parser is a decode error.

    Raises:
        tomllib.TOMLDecodeError: The text is not valid TOML, or it nests arrays or inline tables
            so deeply that the parser would exhaust Python's recursion limit.
    """
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise tomllib.TOMLDecodeError("arrays or tables nested too deeply") from None


def drop_none(obj: Any) -> Any:
    """Plain data without ``None`` values (TOML has no null)."""
    if isinstance(obj, dict):
        return {k: drop_none(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [drop_none(v) for v in obj]
    return obj


def loc_to_path(loc: Iterable[Any]) -> str:
    """A pydantic location as a dotted path: ``('partners', 2, 'name')`` -> ``partners[2].name``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def inner_model(annotation: Any) -> Any:
    """The BaseModel inside ``X``, ``X | None``, ``list[X]`` or ``dict[K, X]`` (None if none)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = inner_model(arg)
        if found is not None:
            return found
    return None


def model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """Walk a pydantic model class along a location (for suggestions of field names)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        current = inner_model(field.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def pydantic_problems(err: ValidationError, root: type[BaseModel]) -> list[tuple[str, str]]:
    """A pydantic error as ``(field path, message)`` pairs, suggesting the nearest unknown key.

    Args:
        err: The validation error.
        root: The model validated (to suggest the nearest key for an unknown one).
    """
    problems = []
    for e in err.errors(include_url=False):
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        path = loc_to_path(loc)
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            parent = model_at(root, loc[:-1])
            key = str(loc[-1])
            msg = "unknown key"
            if parent is not None:
                near = difflib.get_close_matches(key, list(parent.model_fields), n=1, cutoff=0.6)
                if near:
                    msg += f"; did you mean '{near[0]}'?"
                else:
                    msg += "; valid keys: " + ", ".join(parent.model_fields)
        elif e["type"] == "missing":
            msg = "required but missing"
        elif e["type"] == "literal_error" or ("input" in e
                                              and not isinstance(e["input"], dict | list)):
            msg += f" (got {e.get('input')!r})"
        problems.append((path, msg))
    return problems
