"""The sweep specification: what to vary, how to sample it, how often to repeat, what to keep.

A sweep spec is a TOML file validated with pydantic like a scenario (``cisim/scenario.py``): the
base scenario (or an importable model function), the parameters to vary named by their dotted
path in the scenario with their bounds or distribution (or ``prior = true`` for the documented
prior of :mod:`cisim.priors`), the sampler and its size, the
replications per design point, and the outcomes to keep. Every problem is reported at once as a
:class:`SweepSpecError` naming the file and the field; a misspelt parameter path names the nearest
valid one (``difflib``), checked against :func:`cisim.scenario.parameter_table`. See
``docs/sweeps.md`` for the format; sampling follows SALib (Herman & Usher 2017).

A spec that names a model function (``function = "module:function"``) runs that code, like a
Python script: specs are trusted input. Validation checks only the reference's syntax; the
module is imported when the sweep executes (:func:`resolve_function`), never from the current
directory unless the spec lists a ``function_path``. The spec's ``name`` is a plain file name
(the default store is ``out/sweeps/<name>``), and :func:`check_size` refuses a sweep above
:data:`MAX_RUNS` runs before anything is sampled unless it is confirmed.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import math
import os
import re
import sys
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import tomli_w
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from cisim.distributions import BOUNDED, DIST_PARAMS, DistName
from cisim.scenario import SECTORS, Scenario, ScenarioError, parameter_table
from cisim.schema import drop_none, loads_toml, pydantic_problems
from cisim.sweep.model_function import OUTCOME_ALIASES

__all__ = [
    "MAX_RUNS",
    "OUTCOME_ALIASES",
    "Discovery",
    "Execution",
    "Outcomes",
    "Parameter",
    "Sampler",
    "SweepSize",
    "SweepSpec",
    "SweepSpecError",
    "check_function_ref",
    "check_size",
    "load_spec",
    "resolve_function",
    "sweep_size",
]

SamplerName = Literal["sobol", "morris", "fast", "rbd_fast", "latin", "factorial"]

class SweepSpecError(ScenarioError):
    """A sweep spec failed validation; lists every problem with its field.

    A subclass of :class:`cisim.scenario.ScenarioError`, so the CLI reports it the same way.
    """


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Parameter(_Section):
    """One varied parameter."""

    path: str = Field(..., min_length=1, description="Dotted scenario path (or a name).")
    name: str | None = Field(None, description="Short label; the path when omitted.")
    bounds: list[float] | None = Field(
        None, description="[low, high] for uniform; distribution parameters otherwise."
    )
    distribution: DistName = Field("uniform", description="Distribution of the parameter.")
    prior: bool = Field(
        False, description="Take the distribution and bounds from the documented prior "
        "(cisim/data/priors.toml) instead of giving them."
    )
    values: list[Any] | None = Field(
        None, description="Discrete values (categories, booleans), sampled with equal weight."
    )
    integer: bool | None = Field(
        None, description="Round to integers (inferred from the scenario field when omitted)."
    )

    @model_validator(mode="after")
    def _shape(self) -> Parameter:
        if self.prior:
            self._take_prior()
        if (self.bounds is None) == (self.values is None):
            raise ValueError("give exactly one of 'bounds', 'values' or 'prior = true'")
        if self.values is not None:
            if len(self.values) < 1:
                raise ValueError("values must not be empty")
            if self.distribution != "uniform":
                raise ValueError("'values' are sampled uniformly; drop 'distribution'")
            return self
        b = self.bounds or []
        if not all(math.isfinite(v) for v in b):
            raise ValueError(f"bounds must be finite numbers, got {b}")
        n = DIST_PARAMS[self.distribution]
        if len(b) != n:
            raise ValueError(f"bounds of a {self.distribution} distribution need {n} numbers, "
                             f"got {len(b)}")
        if self.distribution in BOUNDED and not b[0] < b[1]:
            raise ValueError(f"bounds: the lower bound {b[0]} must be below the upper {b[1]}")
        if self.distribution == "loguniform" and b[0] <= 0:
            raise ValueError(f"bounds: a loguniform distribution needs a positive lower bound, "
                             f"got {b[0]}")
        if self.distribution == "triangular" and not b[0] <= b[2] <= b[1]:
            raise ValueError(f"bounds: the mode {b[2]} must lie between {b[0]} and {b[1]}")
        if self.distribution in ("normal", "lognormal") and b[1] <= 0:
            raise ValueError(f"bounds: the standard deviation must be positive, got {b[1]}")
        if self.distribution == "truncnormal" and b[3] <= 0:
            raise ValueError(f"bounds: the standard deviation must be positive, got {b[3]}")
        return self

    def _take_prior(self) -> None:
        """Fill in the distribution and bounds of ``prior = true`` from the priors table.

        A spec written back by the sweep store carries the prior's distribution and bounds
        beside ``prior = true``; they are accepted when they are the documented ones.
        """
        from cisim.priors import PRIORS_FILE, registry

        if self.values is not None:
            raise ValueError("'prior = true' takes the documented distribution; drop 'values'")
        entry = registry().get(_table_path(self.path, {p: None for p in registry()}) or "")
        if entry is None or not entry.uncertain or entry.bounds is None:
            kind = f" (evidence: {entry.evidence})" if entry is not None else ""
            raise ValueError(
                f"'{self.path}' has no prior in {PRIORS_FILE.name}{kind}; give 'bounds' "
                "(and 'distribution') or 'values' instead of 'prior = true'"
            )
        documented = (entry.distribution, list(entry.bounds))
        given_dist = "distribution" in self.model_fields_set
        if (self.bounds is not None or given_dist) and (
                (self.distribution, self.bounds) != documented):
            given = f"{self.distribution}({', '.join(f'{v:g}' for v in self.bounds or [])})"
            raise ValueError(
                f"'prior = true' takes {entry.describe()} from {PRIORS_FILE.name} but the spec "
                f"also gives {given} (a stored spec from before the priors changed?); drop "
                "'bounds' and 'distribution', or drop 'prior' to give your own"
            )
        self.distribution = entry.distribution  # type: ignore[assignment]
        self.bounds = list(entry.bounds)

    @property
    def label(self) -> str:
        """The column name of the parameter in the sample and result tables."""
        return self.name or self.path


class Sampler(_Section):
    """The SALib sampler and its size."""

    method: SamplerName = Field(..., description="sobol, morris, fast, rbd_fast, latin, factorial")
    n: int = Field(64, ge=1, le=10_000_000, description="Base sample size N.")
    calc_second_order: bool = Field(False, description="Sobol: also second-order indices.")
    num_levels: int = Field(4, ge=2, le=100, description="Morris: grid levels.")
    m: int = Field(4, ge=1, le=50, description="FAST: interference factor M.")
    levels: int = Field(3, ge=2, le=1000, description="Factorial: levels per numeric parameter.")
    scramble: bool = Field(True, description="Sobol: scramble the sequence.")

    @model_validator(mode="after")
    def _sizes(self) -> Sampler:
        n = self.n
        if self.method == "sobol" and (n & (n - 1)) != 0:
            lo = 1 << (n.bit_length() - 1)
            raise ValueError(
                f"n = {n}: Sobol (Saltelli) sampling needs N to be a power of two "
                f"(e.g. {lo} or {lo * 2})"
            )
        if self.method == "fast" and n <= 4 * self.m**2:
            raise ValueError(f"n = {n}: FAST needs N > 4 M^2 = {4 * self.m**2}")
        return self


class Outcomes(_Section):
    """The outcomes kept from each run."""

    scalars: list[str] = Field(
        default_factory=lambda: [
            "population_change_year5",
            "population_change_year10",
            "sroi_year10",
            "first_significant_change_year",
        ],
        description="Scalar outcomes: summary keys, 'column@year' or an alias.",
    )
    trajectories: list[str] = Field(
        default_factory=list, description="Trajectory columns kept at every whole year."
    )


class Execution(_Section):
    """How runs are bundled into tasks."""

    task_seconds: float = Field(1.0, gt=0, le=3600, description="Target length of one task.")
    runs_per_task: int | None = Field(
        None, ge=1, le=1_000_000, description="Fixed runs per task (overrides task_seconds)."
    )


class Discovery(_Section):
    """The threshold of interest for scenario discovery."""

    outcome: str = Field(..., description="Outcome column, e.g. population_change_year10.")
    above: float | None = Field(None, description="A run succeeds when outcome > above.")
    below: float | None = Field(None, description="A run succeeds when outcome < below.")
    probability: float = Field(0.8, gt=0, le=1, description="Share of replications needed.")

    @model_validator(mode="after")
    def _one(self) -> Discovery:
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of 'above' or 'below'")
        return self


class SweepSpec(_Section):
    """A validated sweep specification."""

    name: str = Field("sweep", min_length=1, description="A plain file name: the default "
                      "store is out/sweeps/<name>.")
    description: str = ""
    base: str | None = Field(None, description="Base scenario file (relative to the spec).")
    function: str | None = Field(None, description="'module:function' of any model instead "
                                 "(runs that code: trusted input).")
    function_path: list[str] = Field(
        default_factory=list, description="Directories searched first for the function's "
        "module (relative to the spec); the current directory is never searched otherwise."
    )
    set: dict[str, Any] = Field(
        default_factory=dict, description="Fixed overrides of the base scenario (dotted paths)."
    )
    seed: int = Field(0, ge=0, le=2**63 - 1, description="Master seed of sample and runs.")
    replications: int = Field(1, ge=1, le=100_000)
    parameters: list[Parameter] = Field(..., min_length=1)
    sampler: Sampler
    outcomes: Outcomes = Field(default_factory=Outcomes)
    execution: Execution = Field(default_factory=Execution)
    discovery: Discovery | None = None

    @field_validator("name")
    @classmethod
    def _plain_name(cls, name: str) -> str:
        problem = check_name(name)
        if problem:
            raise ValueError(problem)
        return name

    @model_validator(mode="after")
    def _model(self) -> SweepSpec:
        if (self.base is None) == (self.function is None):
            raise ValueError("give exactly one of 'base' (a scenario file) or 'function'")
        if self.function_path and self.function is None:
            raise ValueError("'function_path' is where a model function's module is found; "
                             "drop it or give 'function'")
        labels = [p.label for p in self.parameters]
        dup = sorted({x for x in labels if labels.count(x) > 1})
        if dup:
            raise ValueError(f"parameter names must be unique; repeated: {', '.join(dup)}")
        return self

    # ---- derived --------------------------------------------------------------------------

    @property
    def labels(self) -> list[str]:
        """Parameter column names, in spec order."""
        return [p.label for p in self.parameters]

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain data (no nulls, TOML-ready)."""
        return drop_none(self.model_dump(mode="json"))

    def to_toml(self) -> str:
        """The spec as a TOML document."""
        return tomli_w.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<dict>") -> SweepSpec:
        """Validate plain data (structure only; see :func:`check_spec` for paths and bounds)."""
        try:
            return cls.model_validate(dict(data))
        except ValidationError as err:
            raise SweepSpecError(source, _problems(err)) from None


def load_spec(path: str | Path) -> tuple[SweepSpec, Scenario | None]:
    """Read, validate and check a sweep spec file against its base scenario.

    Args:
        path: The spec TOML file.

    Returns:
        The spec (with ``base`` made absolute) and the base scenario with the fixed ``set``
        overrides applied (None for a function model).

    Raises:
        SweepSpecError: Every problem at once, each naming the file and the field.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SweepSpecError(str(path), [("(file)", "no such file")]) from None
    except (OSError, UnicodeDecodeError) as err:
        raise SweepSpecError(str(path), [("(file)", f"cannot be read: {err}")]) from None
    try:
        data = loads_toml(text)
    except tomllib.TOMLDecodeError as err:
        raise SweepSpecError(str(path), [("(file)", f"not valid TOML: {err}")]) from None
    spec = SweepSpec.from_dict(data, source=str(path))
    if spec.base is not None:
        spec = spec.model_copy(update={"base": str(_relative_to(path, spec.base))})
    if spec.function_path:
        spec = spec.model_copy(update={
            "function_path": [str(_relative_to(path, d)) for d in spec.function_path]})
    base = check_spec(spec, source=str(path))
    return spec, base


def _relative_to(spec_file: Path, name: str) -> Path:
    """A path named in a spec, relative to the spec's directory unless absolute."""
    p = Path(name).expanduser()
    return p if p.is_absolute() else (spec_file.parent / p).resolve()


def check_spec(spec: SweepSpec, source: str = "<spec>") -> Scenario | None:
    """Check a structurally valid spec against its model: paths, bounds, outcomes.

    Returns:
        The base scenario with the fixed overrides applied, or None for a function model.

    Raises:
        SweepSpecError: With every problem found.
    """
    problems: list[tuple[str, str]] = []
    if spec.function is not None:
        # syntax only: the module is imported when the sweep runs, never while validating
        msg = check_function_ref(spec.function)
        if msg:
            problems.append(("function", msg))
        for i, d in enumerate(spec.function_path):
            if not Path(d).is_dir():
                problems.append((f"function_path[{i}]", f"no such directory: {d}"))
        if problems:
            raise SweepSpecError(source, problems)
        return None

    base_path = Path(str(spec.base))
    if not base_path.is_file():
        raise SweepSpecError(source, [("base", f"no such scenario file: {base_path}")])
    try:
        base = Scenario.load(base_path)
        if spec.set:
            base = base.with_overrides(spec.set, source=f"{source} [set]")
    except ScenarioError as err:
        raise SweepSpecError(
            source, [("base" if "[set]" not in err.source else "set", f"{f}: {m}")
                     for f, m in err.problems]
        ) from None

    table = {row["path"]: row for row in parameter_table()}
    swept = {p.path for p in spec.parameters}
    for i, p in enumerate(spec.parameters):
        where = f"parameters[{i}].path"
        known = _table_path(p.path, table)
        if known is None:
            near = difflib.get_close_matches(
                _normalise(p.path), list(table), n=1, cutoff=0.5
            )
            hint = f"; did you mean '{near[0]}'?" if near else ""
            problems.append((where, f"unknown parameter path '{p.path}'{hint}"))
            continue
        problems += _check_against_scenario(p, base, f"parameters[{i}]", source)

    horizon_swept = "horizon_years" in swept
    for j, name in enumerate(spec.outcomes.scalars):
        msg = _check_outcome(name, base, horizon_swept)
        if msg:
            problems.append((f"outcomes.scalars[{j}]", msg))
    traj_cols = _trajectory_columns()
    for j, name in enumerate(spec.outcomes.trajectories):
        if traj_cols and name not in traj_cols:
            near = difflib.get_close_matches(name, sorted(traj_cols), n=1, cutoff=0.5)
            hint = f"; did you mean '{near[0]}'?" if near else ""
            problems.append((f"outcomes.trajectories[{j}]", f"unknown trajectory column "
                             f"'{name}'{hint}"))
    if problems:
        raise SweepSpecError(source, problems)
    return base


# --------------------------------------------------------------------------------------------
# Size
# --------------------------------------------------------------------------------------------

#: Sweeps of more runs than this are refused unless confirmed (``--allow-large``).
MAX_RUNS = 100_000
#: Seconds a cisim run takes on one core: a fixed cost per simulated week (partner-level
#: mechanics, phases, recording; both worlds) plus a cost per beneficiary and week (the
#: population kernel). Measured on the shared 2-core development host with one kernel thread
#: (``default.toml`` at 1,000 beneficiaries over 6 and 10 years: 2.7 ms a week; at 10,000: 3.0
#: ms). A rough guide for the size check, not a promise: hosts and designs differ by a factor
#: of two or more.
SECONDS_PER_WEEK = 2.7e-3
SECONDS_PER_PERSON_WEEK = 3.0e-8
#: Seconds to prepare one run's row of the sample (its seed from a SeedSequence, the table).
SAMPLE_SECONDS_PER_RUN = 2.5e-5
#: Bytes on disk of one Parquet part file per column beyond its values (schema, column
#: metadata and footer: a one-row part of 9 columns takes 5.5 kB; measured with pyarrow).
PART_OVERHEAD_BYTES = 600
#: Bytes the driver holds per sample cell while the sample is built and written (SALib's
#: array, the data frame, the run table merged with it: about four float64 copies).
SAMPLE_BYTES_PER_CELL = 32


@dataclass(frozen=True)
class SweepSize:
    """How big a sweep is, before anything is sampled (see :func:`sweep_size`).

    Attributes:
        points: Design points of the sampler.
        runs: Points times replications.
        seconds_per_run: Estimated CPU seconds of one run (None for a model function).
        disk_bytes: Estimated size of the store (the sample and the result parts).
        memory_bytes: Estimated memory of the driver while it builds the sample.
        sample_seconds: Estimated time to build the sample before the first run.
        run_memory_bytes: Estimated peak memory of one cisim run (each worker holds one;
            None for a model function, or without :func:`cisim.scenario.estimate_memory`).
    """

    points: int
    runs: int
    seconds_per_run: float | None
    disk_bytes: int
    memory_bytes: int
    sample_seconds: float
    run_memory_bytes: int | None = None

    @property
    def cpu_seconds(self) -> float | None:
        """Estimated CPU time of all runs (None for a model function)."""
        return None if self.seconds_per_run is None else self.runs * self.seconds_per_run

    def describe(self) -> str:
        """One sentence: runs, estimated time, disk and memory."""
        cpu = self.cpu_seconds
        time_text = (f"about {_duration(cpu)} of CPU time at ~{self.seconds_per_run:.2g} s a "
                     "run" if cpu is not None else "the time your function takes, times "
                     f"{self.runs:,}")
        per_run = ("" if self.run_memory_bytes is None else
                   f", and {_bytes(self.run_memory_bytes)} for each run a worker holds")
        return (f"{self.points:,} design points, {self.runs:,} runs: {time_text}, about "
                f"{_bytes(self.disk_bytes)} on disk and {_bytes(self.memory_bytes)} of memory "
                f"while the sample is built ({_duration(self.sample_seconds)} before the "
                f"first run){per_run}")


def design_points(spec: SweepSpec) -> int:
    """Design points of the spec's sampler, from its settings alone (nothing is sampled)."""
    s = spec.sampler
    d = len(spec.parameters)
    if s.method == "sobol":
        return s.n * (2 * d + 2 if s.calc_second_order else d + 2)
    if s.method == "morris":
        return s.n * (d + 1)
    if s.method == "fast":
        return s.n * d
    if s.method in ("latin", "rbd_fast"):
        return s.n
    return math.prod(len(p.values) if p.values is not None else s.levels
                     for p in spec.parameters)


def sweep_size(spec: SweepSpec, base: Scenario | None = None) -> SweepSize:
    """Estimate a sweep's runs, CPU time, disk and memory from its spec alone (no sampling).

    The time of a cisim run is :data:`SECONDS_PER_WEEK` plus :data:`SECONDS_PER_PERSON_WEEK`
    per beneficiary, per simulated week of the base scenario (swept sizes and horizons are not
    looked at). Disk: the sample (point, replication, seed, each parameter's value and unit
    coordinate) and the outcome columns as 8-byte numbers, plus :data:`PART_OVERHEAD_BYTES` per
    column of each part file of ``execution.runs_per_task`` runs (or of ``task_seconds`` of
    runs). A model
    function's outcomes are unknown until it runs: one column is assumed. The memory of one
    run is :func:`cisim.scenario.estimate_memory` of the base scenario, when the engine has it.

    Args:
        spec: The sweep spec.
        base: Its base scenario (None for a function model).
    """
    points = design_points(spec)
    runs = points * spec.replications
    d = len(spec.parameters)
    per_run = None
    run_memory = None
    outcome_cols = 1
    if base is not None:
        import cisim.scenario

        # the scenario's own memory estimate, where the engine has one
        estimate_memory = getattr(cisim.scenario, "estimate_memory", None)
        run_memory = int(estimate_memory(base)) if estimate_memory is not None else None
        from cisim.scenario import STEPS_PER_YEAR
        from cisim.sweep.model_function import CisimModel

        weeks = base.horizon_years * STEPS_PER_YEAR
        per_run = weeks * (SECONDS_PER_WEEK + SECONDS_PER_PERSON_WEEK * base.population.size)
        outcome_cols = len(CisimModel(base, {}, spec.outcomes.scalars,
                                      spec.outcomes.trajectories).columns())
    k = spec.execution.runs_per_task or (
        max(1, math.floor(spec.execution.task_seconds / per_run)) if per_run else 1)
    sample_cells = 3 + 2 * d
    columns = 4 + outcome_cols
    disk = runs * 8 * (sample_cells + columns) + math.ceil(runs / k) * columns * \
        PART_OVERHEAD_BYTES
    return SweepSize(points=points, runs=runs, seconds_per_run=per_run, disk_bytes=disk,
                     memory_bytes=runs * sample_cells * SAMPLE_BYTES_PER_CELL,
                     sample_seconds=runs * SAMPLE_SECONDS_PER_RUN,
                     run_memory_bytes=run_memory)


def check_size(spec: SweepSpec, base: Scenario | None = None, allow_large: bool = False,
               source: str = "<spec>") -> SweepSize:
    """Refuse a sweep of more than :data:`MAX_RUNS` runs unless ``allow_large``.

    Computed from the spec alone, so a huge sampler size is refused at once, before SALib
    samples anything.

    Returns:
        The size estimate.

    Raises:
        SweepSpecError: Too many runs without ``allow_large`` (field ``sampler.n``).
    """
    size = sweep_size(spec, base)
    if size.runs > MAX_RUNS and not allow_large:
        raise SweepSpecError(source, [("sampler.n", (
            f"this sweep is large: {size.describe()}. Sweeps of more than {MAX_RUNS:,} runs "
            "run only when confirmed: pass --allow-large (allow_large=True in Python), or "
            "lower 'sampler.n' or 'replications'"))])
    return size


def _duration(seconds: float) -> str:
    for unit, length in (("years", 365.25 * 86400), ("days", 86400), ("hours", 3600),
                         ("minutes", 60)):
        if seconds >= 2 * length:
            return f"{seconds / length:,.1f} {unit}"
    return f"{seconds:.1f} s" if seconds >= 0.1 else "under 0.1 s"


def _bytes(n: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n:.0f} B"


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


#: ``package.module:function`` (dotted module, one function name).
_FUNCTION_REF = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")


def check_name(name: str) -> str | None:
    """Why a spec's ``name`` cannot name a directory inside the output directory, or None.

    A name becomes the default store ``out/sweeps/<name>``, so it must be a plain file name:
    no path separators, no drive, not ``.`` or ``..``, no control characters.
    """
    if any(sep in name for sep in ("/", "\\", ":")) or Path(name).is_absolute():
        return (f"{name!r} is a path; a name is a plain file name (no '/', '\\' or ':'), "
                "the default store being out/sweeps/<name>; choose the store with --out")
    if name.strip(".") == "":
        return f"{name!r} is not a name; use letters, digits, '-', '_' or '.'"
    if any(ord(c) < 32 or c == "\x7f" for c in name):
        return f"{name!r} holds control characters"
    return None


def check_function_ref(ref: str) -> str | None:
    """Why ``ref`` is not a ``'package.module:function'`` reference, or None (syntax only)."""
    if not _FUNCTION_REF.match(ref):
        return (f"expected 'package.module:function' (dotted Python names, one colon), "
                f"got {ref!r}")
    top = ref.partition(":")[0].split(".")[0]
    if top in sys.stdlib_module_names or top in sys.builtin_module_names:
        return (f"'{top}' is a module of Python's standard library, not a model; name a "
                "function of your own module")
    return None


def resolve_function(ref: str, search_path: Sequence[str | Path] = (),
                     arguments: int = 2) -> Callable[..., Any]:
    """Import ``'package.module:function'`` (a model function named in a spec).

    This runs the module's code: call it only to execute a trusted spec, never to validate
    one. The current directory is not searched (a module there could shadow an installed
    one) unless it is on ``PYTHONPATH`` or in ``search_path``; the directories of
    ``search_path`` are searched first. The object found must be a plain Python function
    accepting ``arguments`` positional arguments (``params, seed`` for a model), which refuses
    builtins, classes and other callables. Functions of modules found on ``search_path`` are
    sent to worker processes by value (cloudpickle), since the workers cannot import them.

    Args:
        ref: ``'package.module:function'``.
        search_path: Directories searched first for the module.
        arguments: Positional arguments the function must accept.

    Returns:
        The function.

    Raises:
        ValueError: A malformed reference, a module that cannot be imported, or an object that
            is not a function of the expected arguments.
    """
    problem = check_function_ref(ref)
    if problem:
        raise ValueError(problem)
    module_name, _, attr = ref.partition(":")
    with _import_path(search_path):
        try:
            module = importlib.import_module(module_name)
        except ImportError as err:
            where = ("" if search_path else "; the current directory is not searched: add the "
                     "module's directory to 'function_path' in the spec or install it")
            raise ValueError(f"cannot import module '{module_name}': {err}{where}") from None
        except Exception as err:  # the module is user code
            raise ValueError(f"importing module '{module_name}' raised "
                             f"{type(err).__name__}: {err}") from None
    func = getattr(module, attr, None)
    if func is None:
        raise ValueError(f"module '{module_name}' has no function '{attr}'")
    if not inspect.isfunction(func):
        raise ValueError(f"'{ref}' is a {type(func).__name__}, not a Python function defined "
                         "with 'def' in a module")
    try:
        inspect.signature(func).bind(*([None] * arguments))
    except TypeError:
        raise ValueError(f"'{ref}' must accept {arguments} positional arguments (params, seed); "
                         f"its signature is {attr}{inspect.signature(func)}") from None
    if search_path and _found_on(module, search_path):
        _pickle_by_value(module)
    return func


@contextmanager
def _import_path(search_path: Sequence[str | Path]) -> Iterator[None]:
    """``sys.path`` for importing a spec's module: ``search_path`` first, no current directory.

    The current directory stays when it is on ``PYTHONPATH`` (the user asked for it).
    """
    cwd = os.path.realpath(os.getcwd())
    asked = {os.path.realpath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
             if p}

    def local(entry: str) -> bool:
        if entry == "":
            return cwd not in asked
        real = os.path.realpath(entry)
        return real == cwd and real not in asked

    saved = list(sys.path)
    sys.path[:] = [str(Path(d)) for d in search_path] + [p for p in saved if not local(p)]
    importlib.invalidate_caches()
    try:
        yield
    finally:
        sys.path[:] = saved


def _found_on(module: Any, search_path: Sequence[str | Path]) -> bool:
    file = getattr(module, "__file__", None)
    if not file:
        return False
    real = Path(os.path.realpath(file))
    return any(real.is_relative_to(os.path.realpath(d)) for d in search_path)


def _pickle_by_value(module: Any) -> None:
    """Send a module's functions to workers by value (they cannot import it by name)."""
    import cloudpickle

    cloudpickle.register_pickle_by_value(module)
    try:
        from joblib.externals import cloudpickle as joblib_cloudpickle

        joblib_cloudpickle.register_pickle_by_value(module)
    except ImportError:  # pragma: no cover - joblib always vendors it
        pass


def _normalise(path: str) -> str:
    """``partners[3].staff_fte`` -> ``partners[].staff_fte``."""
    return re.sub(r"\[\d+\]", "[]", path)


def _table_path(path: str, table: Mapping[str, Any]) -> str | None:
    """The parameter-table row a concrete path refers to, or None when unknown."""
    norm = _normalise(path)
    if norm in table:
        return norm
    parts = norm.split(".")
    generic = ".".join("<sector>" if part in SECTORS else part for part in parts)
    if generic in table:
        return generic
    # a key of a dict-valued leaf, e.g. partner_generation.counts.nonprofit
    head, _, key = norm.rpartition(".")
    if head in table and key in SECTORS:
        return head
    return None


def _check_against_scenario(
    p: Parameter, base: Scenario, where: str, source: str
) -> list[tuple[str, str]]:
    """Validate the extreme values of a parameter by applying them to the base scenario."""
    if p.values is not None:
        probes = list(p.values)
        field = f"{where}.values"
    elif p.distribution in BOUNDED:
        lo, hi = (p.bounds or [0, 0])[:2]
        probes = [lo, hi]
        field = f"{where}.bounds"
    else:
        return []  # unbounded distributions: values are validated run by run
    problems = []
    for value in probes:
        probe = value
        if p.values is None and _is_int_field(p.path, base):
            probe = round(value)
        try:
            base.with_overrides({p.path: probe}, source=source)
        except ScenarioError as err:
            detail = "; ".join(m for _, m in err.problems)
            problems.append((field, f"value {value!r} is not valid for '{p.path}': {detail}"))
    return problems


def _is_int_field(path: str, base: Scenario) -> bool:
    """Whether the base scenario holds an integer at ``path``."""
    node: Any = base.to_dict()
    for chunk in path.split("."):
        name, _, rest = chunk.partition("[")
        if isinstance(node, dict):
            node = node.get(name)
        idx = rest.rstrip("]")
        if idx.isdigit() and isinstance(node, list) and int(idx) < len(node):
            node = node[int(idx)]
    if node is None:
        # missing leaf (e.g. a new counts key): integers for counts
        return path.startswith("partner_generation.counts")
    return isinstance(node, int) and not isinstance(node, bool)


def is_integer_parameter(p: Parameter, base: Scenario | None) -> bool:
    """Whether sampled values of ``p`` are rounded to integers."""
    if p.integer is not None:
        return p.integer
    return base is not None and _is_int_field(p.path, base)


def _check_outcome(name: str, base: Scenario, horizon_swept: bool) -> str | None:
    target = OUTCOME_ALIASES.get(name, name)
    if "@" in target:
        col, _, year = target.partition("@")
        try:
            y = float(year)
        except ValueError:
            return f"'{name}': the year after '@' must be a number"
        cols = _trajectory_columns()
        if cols and col not in cols:
            near = difflib.get_close_matches(col, sorted(cols), n=1, cutoff=0.5)
            hint = f"; did you mean '{near[0]}'?" if near else ""
            return f"'{name}': unknown trajectory column '{col}'{hint}"
        if y < 0 or (not horizon_swept and y > base.horizon_years + 1e-9):
            return (f"'{name}': year {y:g} is outside the base scenario's horizon "
                    f"(0-{base.horizon_years:g} years)")
        return None
    if target not in _SUMMARY_KEYS:
        near = difflib.get_close_matches(
            target, sorted(_SUMMARY_KEYS | set(OUTCOME_ALIASES)), n=1, cutoff=0.5
        )
        hint = f"; did you mean '{near[0]}'?" if near else ""
        return f"unknown outcome '{name}'{hint} (or use 'column@year')"
    return None


#: Numeric summary keys of :func:`cisim.simulate.summarise`.
_SUMMARY_KEYS = {
    "population_change_vs_cf_final", "population_change_final", "population_change_cf_final",
    "population_change_vs_cf_year5", "outcome_rate_final", "outcome_rate_cf_final",
    "sroi_final", "sroi_projected", "break_even_year", "first_significant_change_year",
    "equity_gap_start", "equity_gap_final", "equity_gap_cf_final", "equity_gap_vs_cf_final",
    "equity_gap_logodds_start", "equity_gap_logodds_final", "equity_gap_logodds_cf_final",
    "equity_gap_logodds_vs_cf_final", "cumulative_investment",
    "outcome_years_gained", "cost_per_outcome_year", "social_value_pv",
    "active_partners_final", "trust_final", "agreement_final", "alignment_final",
    "policy_changes",
    # the SROI guide's two framings (cisim.sroi) and their parts
    "sroi_initiative", "sroi_collaboration", "collaboration_cost",
    "initiative_gain_years_pv", "initiative_final_gain", "initiative_input_pv",
    "collaboration_gain_years_pv", "collaboration_final_gain", "collaboration_input_pv",
}


def _trajectory_columns() -> set[str]:
    from cisim.outcomes import TRAJECTORY_COLUMNS

    return set(TRAJECTORY_COLUMNS)


def _problems(err: ValidationError) -> list[tuple[str, str]]:
    return pydantic_problems(err, SweepSpec)
