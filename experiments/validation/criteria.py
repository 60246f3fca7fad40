"""The validation criteria, fixed in ``criteria.toml`` before a run, and how they are judged.

Pattern-oriented modelling (Grimm et al. 2005, Science 310) is only a test if the criteria are
written down before the model is run; :file:`criteria.toml` holds, for every pattern, the
observed fact and its source, the statistic, the numbers of the criterion (thresholds, years,
observed counts), the reasoning, and whether the pattern may serve as a calibration target
(``role = "calibration"``) or is held out. This module parses and validates that file (every
problem names the file and the field), hashes it (a run records which criteria judged it) and
evaluates a pattern's checks on the statistics the pattern computed (:func:`judge`).
"""

from __future__ import annotations

import hashlib
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from cisim.scenario import ScenarioError
from cisim.schema import pydantic_problems as _problems

__all__ = [
    "CRITERIA_FILE",
    "Check",
    "Criteria",
    "CriteriaError",
    "PatternCriterion",
    "describe",
    "judge",
    "load_criteria",
    "parse_criteria",
]

#: The criteria file of the study.
CRITERIA_FILE = Path(__file__).with_name("criteria.toml")

#: Statistics every pattern provides: its value and the two ends of its interval.
BUILTIN_STATS = ("value", "low", "high")

Bound = float | str


class CriteriaError(ScenarioError):
    """A criteria file failed validation; lists every problem with its field.

    Reported as a scenario problem is reported: the file, then every field with its message.
    """


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Check(_Strict):
    """One comparison: ``stat op bound`` (``between``: ``bound[0] <= stat <= bound[1]``).

    A bound is a number or the name of another statistic of the same pattern.
    """

    stat: str = Field(min_length=1)
    op: Literal[">", ">=", "<", "<=", "between"]
    bound: Bound | list[Bound]

    @field_validator("bound")
    @classmethod
    def _finite(cls, v: Any) -> Any:
        for b in v if isinstance(v, list) else [v]:
            if isinstance(b, float) and not math.isfinite(b):
                raise ValueError("must be finite")
        return v

    @model_validator(mode="after")
    def _shape(self) -> Check:
        if (self.op == "between") != isinstance(self.bound, list):
            raise ValueError("bound: 'between' takes a list [low, high]; other ops one bound")
        if isinstance(self.bound, list) and len(self.bound) != 2:
            raise ValueError("bound: 'between' takes exactly two bounds [low, high]")
        return self


class PatternCriterion(_Strict):
    """One pattern's entry in the criteria file."""

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    observed: str = Field(min_length=1)
    sources: list[str] = Field(min_length=1)
    role: Literal["calibration", "held_out"]
    statistic: str = Field(min_length=1)
    criterion: str = Field(min_length=1)
    reasoning: str = Field(min_length=1)
    params: dict[str, float] = Field(default_factory=dict)
    checks: list[Check] = Field(min_length=1)


class Method(_Strict):
    """Settings of the intervals, shared by every pattern."""

    confidence: float = Field(gt=0, lt=1)
    bootstrap_resamples: int = Field(ge=100)


class Definitions(_Strict):
    """Definitions shared by several patterns (the five conditions, regular meetings)."""

    conditions_year: int = Field(ge=1)
    min_measurement: float = Field(ge=0, le=1)
    min_alignment_gain: float = Field(ge=0)
    min_meetings_per_year: float = Field(gt=0)
    calibration_share_max: float = Field(gt=0, le=1)


class _File(_Strict):
    method: Method
    definitions: Definitions
    patterns: list[PatternCriterion] = Field(min_length=1)


@dataclass(frozen=True)
class Criteria:
    """A validated criteria file.

    Attributes:
        source: Where it was read from.
        sha256: Hash of the file's bytes (recorded in every result).
        method: Interval settings.
        definitions: Shared definitions.
        patterns: The patterns' entries, in file order, by id.
    """

    source: str
    sha256: str
    method: Method
    definitions: Definitions
    patterns: dict[str, PatternCriterion]

    def __getitem__(self, pattern_id: str) -> PatternCriterion:
        return self.patterns[pattern_id]

    def param(self, pattern_id: str, name: str) -> Any:
        """A parameter of one pattern's criterion."""
        return self.patterns[pattern_id].params[name]


@dataclass(frozen=True)
class PatternSpec:
    """What the code of a pattern needs from its entry: parameter names and statistics."""

    params: tuple[str, ...]
    stats: tuple[str, ...] = ()


def parse_criteria(text: str, source: str, specs: Mapping[str, PatternSpec]) -> Criteria:
    """Parse and validate the text of a criteria file.

    Args:
        text: The TOML text.
        source: Its name in error messages (the file path).
        specs: The patterns the code implements (id -> parameters and statistics it provides).

    Returns:
        The criteria.

    Raises:
        CriteriaError: Every problem, each naming its field.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise CriteriaError(source, [("(file)", f"not valid TOML: {err}")]) from None
    try:
        parsed = _File.model_validate(data)
    except ValidationError as err:
        raise CriteriaError(source, _problems(err, _File)) from None
    problems: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for i, p in enumerate(parsed.patterns):
        where = f"patterns[{i}]"
        if p.id in seen:
            problems.append((f"{where}.id", f"'{p.id}' repeats patterns[{seen[p.id]}]"))
            continue
        seen[p.id] = i
        spec = specs.get(p.id)
        if spec is None:
            problems.append((f"{where}.id", f"unknown pattern '{p.id}'; known: "
                             + ", ".join(specs)))
            continue
        for name in spec.params:
            if name not in p.params:
                problems.append((f"{where}.params.{name}", "required but missing"))
        for name in p.params:
            if name not in spec.params:
                problems.append((f"{where}.params.{name}", "unknown parameter; valid: "
                                 + (", ".join(spec.params) or "none")))
        known = (*BUILTIN_STATS, *spec.stats)
        for j, c in enumerate(p.checks):
            if c.stat not in known:
                problems.append((f"{where}.checks[{j}].stat",
                                 f"unknown statistic '{c.stat}'; valid: " + ", ".join(known)))
            for b in c.bound if isinstance(c.bound, list) else [c.bound]:
                if isinstance(b, str) and b not in known:
                    problems.append((f"{where}.checks[{j}].bound",
                                     f"unknown statistic '{b}'; valid: " + ", ".join(known)))
    for pid in specs:
        if pid not in seen:
            problems.append(("patterns", f"no entry for pattern '{pid}'"))
    n_cal = sum(p.role == "calibration" for p in parsed.patterns)
    limit = parsed.definitions.calibration_share_max * len(parsed.patterns)
    if n_cal > limit:
        problems.append(("patterns.role", f"{n_cal} calibration targets, more than "
                         f"definitions.calibration_share_max of {len(parsed.patterns)}"))
    if problems:
        raise CriteriaError(source, problems)
    return Criteria(source, hashlib.sha256(text.encode("utf-8")).hexdigest(), parsed.method,
                    parsed.definitions, {p.id: p for p in parsed.patterns})


def load_criteria(path: str | Path, specs: Mapping[str, PatternSpec]) -> Criteria:
    """Read and validate a criteria file (see :func:`parse_criteria`)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise CriteriaError(str(path), [("(file)", "no such file")]) from None
    except (OSError, UnicodeDecodeError) as err:
        raise CriteriaError(str(path), [("(file)", f"cannot be read: {err}")]) from None
    return parse_criteria(text, str(path), specs)


def _resolve(bound: Bound, stats: Mapping[str, float]) -> float:
    return float(stats[bound]) if isinstance(bound, str) else float(bound)


def _holds(check: Check, stats: Mapping[str, float]) -> bool:
    x = float(stats[check.stat])
    if isinstance(check.bound, list):
        lo, hi = (_resolve(b, stats) for b in check.bound)
        ok = lo <= x <= hi
    else:
        b = _resolve(check.bound, stats)
        ok = {">": x > b, ">=": x >= b, "<": x < b, "<=": x <= b}[check.op]
    return bool(ok)  # any NaN makes every comparison false: an inestimable pattern fails


def judge(checks: list[Check], stats: Mapping[str, float]) -> bool:
    """Whether every check holds on a pattern's statistics (NaN anywhere: it does not)."""
    return all(_holds(c, stats) for c in checks)


def describe(checks: list[Check], stats: Mapping[str, float] | None = None) -> str:
    """The checks in words, with the values of named bounds when ``stats`` is given."""

    def b(x: Bound) -> str:
        if isinstance(x, str):
            return f"{x} ({stats[x]:.3g})" if stats is not None and x in stats else x
        return f"{x:g}"

    parts = []
    for c in checks:
        if isinstance(c.bound, list):
            parts.append(f"{b(c.bound[0])} <= {c.stat} <= {b(c.bound[1])}")
        else:
            parts.append(f"{c.stat} {c.op} {b(c.bound)}")
    return " and ".join(parts)
