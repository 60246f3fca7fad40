"""Calibration targets: observed patterns written down before any run, and how runs are summarised.

A targets file (TOML, ``[[target]]`` tables) lists what real collective impact initiatives and
comparable community-level programmes showed, each with its source (author, title, year), the
observed value or interval, the summary statistic that turns a set of simulated runs into one
number comparable with it, a scale (how far off counts as one unit of distance) and a role:
``calibration`` targets inform the posterior; ``validation`` targets are kept out of it and only
checked afterwards (posterior predictive checks), so a target is never both tuned to and reported
as validation. Pattern-oriented calibration follows Hartig et al. (2011, Ecology Letters 14(8)).

A statistic is computed over the runs of one particle (parameter set): the spec's scenario with
``replications`` seeds, or (``over = "designs"``) the spec's fixed sample of designs, each with
its replications, for targets about a population of initiatives (``where`` keeps the designs a
pattern was observed among, e.g. those that meet at least monthly).
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cisim.scenario import ScenarioError
from cisim.schema import pydantic_problems

__all__ = [
    "STATISTICS",
    "IntervalDistance",
    "Source",
    "Target",
    "TargetsError",
    "TargetsFile",
    "load_targets",
    "statistic",
]

Statistic = Literal["median", "mean", "quantile", "share_below", "share_above", "sd"]
#: Statistics a target may use and what they need.
STATISTICS = ("median", "mean", "quantile", "share_below", "share_above", "sd")


class TargetsError(ScenarioError):
    """A targets file failed validation; lists every problem with its field."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Source(_Section):
    """Where an observed value comes from."""

    author: str = Field(..., min_length=1)
    title: str = Field(..., min_length=1)
    year: int = Field(..., ge=1900, le=2100)
    detail: str = Field("", description="Page, table or the sentence the value rests on.")


class Target(_Section):
    """One observed pattern and how simulated runs are summarised to compare with it."""

    id: str = Field(..., min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = Field(..., min_length=1)
    role: Literal["calibration", "validation"]
    source: Source
    outcome: str = Field(..., min_length=1,
                         description="Run outcome: a summary key, 'column@year' or an alias "
                         "(cisim.sweep.spec.OUTCOME_ALIASES), or a derived outcome.")
    statistic: Statistic = "median"
    threshold: float | None = Field(None, description="share_below / share_above: the level.")
    q: float | None = Field(None, gt=0, lt=1, description="quantile: which one.")
    observed: float | None = Field(None, description="An observed point value.")
    interval: list[float] | None = Field(None, description="An observed [low, high] interval.")
    scale: float = Field(..., gt=0, description="Distance unit: a miss of one scale counts 1.")
    over: Literal["scenario", "designs"] = Field(
        "scenario", description="Runs of the spec's scenario, or of its sample of designs.")
    replications: int | None = Field(None, ge=1, le=10_000,
                                     description="Seeds per scenario or design (default: spec).")
    where: dict[str, list[str | float | int | bool]] | None = Field(
        None, description="over = \"designs\" only: the designs whose override at each dotted "
        "path takes one of the listed values, e.g. {\"meetings.cadence\" = [\"weekly\", "
        "\"monthly\"]} (a pattern observed among some initiatives only).")

    @model_validator(mode="after")
    def _shape(self) -> Target:
        if (self.observed is None) == (self.interval is None):
            raise ValueError("give exactly one of 'observed' (a value) or 'interval' "
                             "([low, high])")
        if self.interval is not None:
            if len(self.interval) != 2 or not all(math.isfinite(v) for v in self.interval):
                raise ValueError("interval must be two finite numbers [low, high]")
            if not self.interval[0] <= self.interval[1]:
                raise ValueError(f"interval: low {self.interval[0]} is above high "
                                 f"{self.interval[1]}")
        if self.observed is not None and not math.isfinite(self.observed):
            raise ValueError("observed must be a finite number")
        needs_threshold = self.statistic in ("share_below", "share_above")
        if needs_threshold != (self.threshold is not None):
            raise ValueError("'threshold' is needed by share_below/share_above and only by them")
        if (self.statistic == "quantile") != (self.q is not None):
            raise ValueError("'q' is needed by the quantile statistic and only by it")
        if self.where is not None:
            if self.over != "designs":
                raise ValueError("'where' selects designs, so it needs over = \"designs\"")
            empty = sorted(k for k, v in self.where.items() if not v)
            if not self.where or empty:
                raise ValueError("'where' needs at least one path, each with at least one "
                                 f"value{'; empty: ' + ', '.join(empty) if empty else ''}")
        return self

    def selects(self, design: Mapping[str, Any]) -> bool:
        """Whether a design's override table is among the runs this target is computed over."""
        if self.where is None:
            return True
        return all(path in design and any(_same(design[path], v) for v in values)
                   for path, values in self.where.items())

    @property
    def low(self) -> float:
        """Lower end of the observation (the value itself for a point)."""
        return float(self.interval[0] if self.interval is not None else self.observed)

    @property
    def high(self) -> float:
        """Upper end of the observation."""
        return float(self.interval[1] if self.interval is not None else self.observed)

    @property
    def centre(self) -> float:
        """The observation's midpoint (the point value itself for a point)."""
        return 0.5 * (self.low + self.high)

    def excess(self, value: float) -> float:
        """How far ``value`` lies outside the observation, in units of ``scale`` (0 inside)."""
        if not math.isfinite(value):
            return math.inf
        return max(0.0, self.low - value, value - self.high) / self.scale

    def cite(self) -> str:
        """Author, title and year."""
        return f"{self.source.author}, {self.source.title} ({self.source.year})"


def _same(value: Any, listed: Any) -> bool:
    """Equal, and a truth value only ever equal to a truth value (``True == 1`` in Python)."""
    if isinstance(value, bool) or isinstance(listed, bool):
        return isinstance(value, bool) and isinstance(listed, bool) and value == listed
    return bool(value == listed)


class TargetsFile(_Section):
    """A validated targets file."""

    description: str = ""
    target: list[Target] = Field(..., min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> TargetsFile:
        ids = [t.id for t in self.target]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"target ids must be unique; repeated: {', '.join(dup)}")
        return self

    def by_role(self, role: str) -> list[Target]:
        """The targets of one role, in file order."""
        return [t for t in self.target if t.role == role]


def load_targets(path: str | Path) -> TargetsFile:
    """Read and validate a targets file.

    Raises:
        TargetsError: Naming the file and the field of every problem.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TargetsError(str(path), [("(file)", "no such file")]) from None
    except (OSError, UnicodeDecodeError) as err:
        raise TargetsError(str(path), [("(file)", f"cannot be read: {err}")]) from None
    except tomllib.TOMLDecodeError as err:
        raise TargetsError(str(path), [("(file)", f"not valid TOML: {err}")]) from None
    try:
        return TargetsFile.model_validate(data)
    except ValidationError as err:
        raise TargetsError(str(path), pydantic_problems(err, TargetsFile)) from None


def statistic(target: Target, values: Sequence[float] | np.ndarray) -> float:
    """A target's statistic over the per-run values of one particle.

    NaN values (an outcome a run could not give) are dropped; a ``first_significant_change_year``
    that is never reached arrives censored at horizon + 1 year (see
    :mod:`cisim.sweep.model_function`), so it counts as "not before the threshold".

    Returns:
        The statistic, or NaN when no run gave a value.
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return float("nan")
    s = target.statistic
    if s == "median":
        return float(np.median(x))
    if s == "mean":
        return float(np.mean(x))
    if s == "sd":
        return float(np.std(x, ddof=1)) if x.size > 1 else float("nan")
    if s == "quantile":
        return float(np.quantile(x, float(target.q)))  # type: ignore[arg-type]
    level = float(target.threshold)  # type: ignore[arg-type]
    return float(np.mean(x < level) if s == "share_below" else np.mean(x > level))


def describe_observed(target: Target) -> str:
    """The observation in words: ``0.0`` or ``[1, 6]``."""
    if target.interval is not None:
        return f"[{target.low:g}, {target.high:g}]"
    return f"{target.observed:g}"


class IntervalDistance:
    """Distance of simulated statistics from the observed targets.

    Each target contributes how far its statistic lies *outside* the observed value or interval,
    in units of the target's scale (0 inside the interval); the distance is the Euclidean norm of
    those misses. A statistic a particle could not compute (NaN) puts it at infinite distance.
    """

    def __init__(self, targets: Sequence[Target]):
        self.targets = list(targets)

    def __call__(self, x: Mapping[str, Any], x_0: Mapping[str, Any] | None = None) -> float:
        """The distance of statistics ``x`` (``x_0`` is ignored: the targets hold the data)."""
        total = 0.0
        for t in self.targets:
            e = t.excess(float(x[t.id]))
            if not math.isfinite(e):
                return math.inf
            total += e * e
        return math.sqrt(total)
