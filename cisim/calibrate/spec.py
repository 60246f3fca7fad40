"""The calibration specification: what to calibrate, against which targets, and how to run it.

A calibration spec is a TOML file validated with pydantic like a sweep spec
(:mod:`cisim.sweep.spec`): the scenario (a file relative to the spec) or a Python model function
(``model = "module:function"``, trusted input: it names code to run), the parameters to
calibrate (by default every sampled uncertain parameter of :mod:`cisim.priors`, each with its
documented prior unless the spec overrides it), the targets file, the runs behind each particle
(replications, and an optional fixed sample of designs for targets about a population of
initiatives), the ABC settings (particles, generations, tolerances, wall time, seed) and the
execution backend. Every problem is reported at once as a :class:`CalibrationSpecError` naming
the file and the field. See ``docs/calibration.md``.
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cisim.calibrate.targets import Target, TargetsFile, load_targets
from cisim.priors import (
    DISTRIBUTIONS,
    ParameterEvidence,
    PriorsError,
    _as_schema_type,
    _check_prior,
    registry,
    uncertain_parameters,
)
from cisim.scenario import Scenario, ScenarioError
from cisim.schema import loads_toml, pydantic_problems
from cisim.sweep.spec import (
    _check_outcome,
    _table_path,
    check_function_ref,
    parameter_table,
    resolve_function,
)

__all__ = [
    "CalibrationSpec",
    "CalibrationSpecError",
    "LoadedSpec",
    "load_calibration",
]


#: Spec fields that say how long, where and how to run, not what is calibrated: a resumed run may
#: change them (e.g. raise max_generations), and they are left out of the stored fingerprint.
RUN_CONTROL = ("max_generations", "min_epsilon", "max_walltime_minutes", "backend", "scheduler",
               "n_jobs", "output", "ppc", "description", "function_path")


def sha256(text: str) -> str:
    """Hex sha256 of a text (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class CalibrationSpecError(ScenarioError):
    """A calibration spec (or its targets file) failed validation; every problem with its field."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CalParameter(_Section):
    """One calibrated parameter; its prior comes from ``cisim/data/priors.toml`` unless given."""

    path: str = Field(..., min_length=1, description="Dotted scenario path (or the name a "
                      "model function reads).")
    distribution: str | None = Field(None, description="Override of the prior's distribution.")
    bounds: list[float] | None = Field(None, description="Its parameters (priors.toml "
                                       "conventions).")

    @model_validator(mode="after")
    def _both(self) -> CalParameter:
        if (self.distribution is None) != (self.bounds is None):
            raise ValueError("give both 'distribution' and 'bounds' to override a prior, or "
                             "neither")
        if self.distribution is not None:
            problems = _check_prior("prior", self.distribution, self.bounds)
            if problems:
                raise ValueError(problems[0][1])
        return self


class Designs(_Section):
    """A small fixed sample of designs for targets about a population of initiatives."""

    sets: list[dict[str, Any]] | None = Field(
        None, description="Scenario override tables (dotted paths), one per design.")
    sampler: str | None = Field(
        None, description="'module:function' with f(n, seed) -> list of override tables "
        "(trusted input), e.g. experiments.validation.designs:sample_designs.")
    n: int = Field(8, ge=1, le=1000, description="Designs drawn by the sampler.")
    seed: int = Field(0, ge=0, le=2**63 - 1, description="Seed of the sampler.")

    @model_validator(mode="after")
    def _one(self) -> Designs:
        if (self.sets is None) == (self.sampler is None):
            raise ValueError("give exactly one of 'sets' (override tables) or 'sampler'")
        if self.sets is not None and not self.sets:
            raise ValueError("sets must not be empty")
        return self


class PPC(_Section):
    """Posterior predictive checks."""

    draws: int = Field(40, ge=2, le=100_000, description="Parameter sets re-simulated (K).")
    level: float = Field(0.9, gt=0, lt=1, description="Central predictive interval.")


class CalibrationSpec(_Section):
    """A validated calibration specification."""

    name: str = Field("calibration", min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    scenario: str | None = Field(None, description="Scenario file (relative to the spec).")
    model: str | None = Field(None, description="'module:function' model instead of a scenario "
                              "(trusted input: names code to run).")
    function_path: list[str] = Field(
        default_factory=list, description="Directories searched first for the modules of "
        "'model' and '[designs] sampler' (relative to the spec); the current directory is "
        "never searched otherwise.")
    set: dict[str, Any] = Field(default_factory=dict,
                                description="Fixed overrides of the scenario (dotted paths).")
    targets: str = Field(..., description="Targets file (relative to the spec).")
    parameters: list[CalParameter] | None = Field(
        None, description="Calibrated parameters; default: every sampled uncertain parameter.")
    population_size: int = Field(100, ge=2, le=1_000_000, description="Particles a generation.")
    max_generations: int = Field(10, ge=1, le=1000)
    min_epsilon: float = Field(0.0, ge=0, description="Stop once epsilon is at or below this.")
    max_walltime_minutes: float | None = Field(None, gt=0, description="Stop after this long.")
    epsilons: list[float] | None = Field(
        None, min_length=1, description="A fixed tolerance for each generation (pyabc "
        "ListEpsilon) instead of the median schedule; max_generations is then its length. One "
        "value is rejection ABC: a sample from the prior, each set kept if its distance is at "
        "most the tolerance, all with equal weight, run in stored batches (batch_size) "
        "rather than by pyabc.")
    batch_size: int = Field(
        8, ge=1, le=100_000, description="Rejection ABC (one tolerance): prior draws per "
        "stored batch, one task each. Every finished batch is on disk, so a killed run loses "
        "only the batches in flight; the batches are a pure function of the seed, so the "
        "posterior is the same on any backend.")
    transition_scaling: float = Field(
        1.0, gt=0, le=10, description="Scaling of the perturbation kernel's covariance (pyabc "
        "MultivariateNormalTransition): below 1 proposes closer to the accepted particles, so "
        "fewer proposals fall outside bounded priors when many parameters are calibrated.")
    space: Literal["natural", "logit"] = Field(
        "natural", description="Where pyabc perturbs particles. natural: the parameters "
        "themselves; logit: each parameter's prior quantile on the logit scale, "
        "z = log(F(x) / (1 - F(x))), whose prior is the standard logistic for every prior, so "
        "no proposal falls outside a bounded prior and every parameter has the same scale.")
    uncalibrated: Literal["default", "prior"] = Field(
        "default", description="The uncertain parameters (sampled priors of priors.toml) the "
        "calibration does not name. default: held at the scenario's values; prior: drawn "
        "afresh from their priors in every run, as forecasts draw them (the posterior of the "
        "calibrated parameters is then marginal over the others).")
    replications: int = Field(4, ge=1, le=10_000, description="Seeds per scenario (or design) "
                              "a particle runs; a target may set its own.")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="Master seed.")
    distance: Literal["interval", "adaptive"] = Field(
        "interval", description="interval: misses outside the observed interval in units of "
        "each target's scale; adaptive: pyabc's adaptive p-norm around the interval midpoints.")
    backend: Literal["serial", "loky", "dask"] = "serial"
    scheduler: str | None = Field(None, description="Dask scheduler address (backend = dask); "
                                  "a LocalCluster when omitted.")
    n_jobs: int = Field(-1, ge=-1, le=100_000, description="Workers (loky/LocalCluster); -1: "
                        "every core.")
    output: str | None = Field(None, description="Output directory (relative to the spec); "
                               "default out/calibration/<name> in the working directory.")
    designs: Designs | None = None
    ppc: PPC = Field(default_factory=PPC)

    @model_validator(mode="after")
    def _check(self) -> CalibrationSpec:
        if self.name.strip(".") == "":
            raise ValueError(f"name {self.name!r} would leave out/calibration; use letters, "
                             "digits, '-', '_' or '.'")
        if (self.scenario is None) == (self.model is None):
            raise ValueError("give exactly one of 'scenario' (a file) or 'model' "
                             "('module:function')")
        if self.n_jobs == 0:
            raise ValueError("n_jobs must be -1 (every core) or at least 1")
        if self.epsilons is not None:
            e = self.epsilons
            if not all(math.isfinite(x) and x >= 0 for x in e) or e != sorted(e, reverse=True):
                raise ValueError("epsilons must be finite, at least 0 and not increasing "
                                 f"(got {e})")
            if len(e) == 1 and self.distance == "adaptive":
                raise ValueError("distance = \"adaptive\" adapts its scales between "
                                 "generations; rejection ABC (one tolerance) needs distance = "
                                 "\"interval\"")
        if self.scheduler is not None and self.backend != "dask":
            raise ValueError("'scheduler' is only used with backend = \"dask\"")
        if self.parameters is not None:
            paths = [p.path for p in self.parameters]
            dup = sorted({p for p in paths if paths.count(p) > 1})
            if dup:
                raise ValueError(f"parameters listed twice: {', '.join(dup)}")
            if not paths:
                raise ValueError("parameters must not be empty (omit it to calibrate every "
                                 "uncertain parameter)")
        return self


@dataclass
class LoadedSpec:
    """A spec with everything it refers to, loaded and checked.

    Attributes:
        spec: The validated spec.
        path: The spec file.
        targets: The targets file's content.
        targets_path: The targets file.
        priors: The calibrated parameters' priors, in spec order.
        scenario: The scenario with the fixed overrides (None for a function model).
        designs: Override tables of the design sample (empty when there is none).
        output: The output directory.
        spec_text: The spec file as written.
        targets_text: The targets file as written.
    """

    spec: CalibrationSpec
    path: Path
    targets: TargetsFile
    targets_path: Path
    priors: list[ParameterEvidence]
    scenario: Scenario | None
    designs: list[dict[str, Any]] = field(default_factory=list)
    output: Path = Path("out")
    spec_text: str = ""
    targets_text: str = ""

    @property
    def names(self) -> list[str]:
        """Calibrated parameter paths, in spec order."""
        return [p.path for p in self.priors]

    @property
    def generations(self) -> int:
        """Generations to run: one per fixed tolerance, else ``max_generations``."""
        return len(self.spec.epsilons) if self.spec.epsilons else self.spec.max_generations

    @property
    def not_calibrated(self) -> list[ParameterEvidence]:
        """The uncertain parameters the spec does not name, in table order.

        None for a model function.
        """
        if self.scenario is None:
            return []
        names = set(self.names)
        return [e for e in uncertain_parameters() if e.path not in names]

    @property
    def uncalibrated(self) -> list[ParameterEvidence]:
        """The uncertain parameters drawn from their priors in every run, in table order.

        :attr:`not_calibrated` when ``uncalibrated = "prior"``, else none.
        """
        return self.not_calibrated if self.spec.uncalibrated == "prior" else []

    @property
    def calibration_targets(self) -> list[Any]:
        """Targets with role = calibration."""
        return self.targets.by_role("calibration")

    def fingerprint(self) -> dict[str, str]:
        """sha256 of each part that defines the problem.

        The parts: the spec without :data:`RUN_CONTROL` (and without ``batch_size`` unless it
        is rejection ABC, the one algorithm it changes), the targets file, the scenario (with
        its overrides), the priors and the designs.
        """
        problem = self.spec.model_dump(mode="json", exclude=set(RUN_CONTROL))
        if not (self.spec.epsilons and len(self.spec.epsilons) == 1):
            del problem["batch_size"]  # only rejection ABC draws in batches
        priors = json.dumps([[p.path, p.distribution, list(p.bounds or ())]
                             for p in [*self.priors, *self.uncalibrated]])
        return {
            "spec": sha256(json.dumps(problem, sort_keys=True)),
            "targets": sha256(self.targets_text),
            "scenario": sha256(self.scenario.to_toml() if self.scenario is not None
                               else str(self.spec.model)),
            "priors": sha256(priors),
            "designs": sha256(json.dumps(self.designs, sort_keys=True, default=str)),
        }

    def digest(self) -> str:
        """One hash of everything the run depends on (stored; ``--resume`` compares it)."""
        fp = self.fingerprint()
        return hashlib.sha256(json.dumps(fp, sort_keys=True).encode()).hexdigest()


def load_calibration(path: str | Path, output: str | Path | None = None) -> LoadedSpec:
    """Read, validate and check a calibration spec and everything it names.

    Args:
        path: The spec TOML file.
        output: Output directory (overrides the spec's).

    Returns:
        The loaded spec.

    Raises:
        CalibrationSpecError: Every problem of the spec at once (file and field named).
        TargetsError: Problems of the targets file (naming that file).
    """
    path = Path(path)
    src = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CalibrationSpecError(src, [("(file)", "no such file")]) from None
    except (OSError, UnicodeDecodeError) as err:
        raise CalibrationSpecError(src, [("(file)", f"cannot be read: {err}")]) from None
    try:
        data = loads_toml(text)
    except tomllib.TOMLDecodeError as err:
        raise CalibrationSpecError(src, [("(file)", f"not valid TOML: {err}")]) from None
    try:
        spec = CalibrationSpec.model_validate(data)
    except ValidationError as err:
        raise CalibrationSpecError(src, pydantic_problems(err, CalibrationSpec)) from None

    here = path.resolve().parent
    problems: list[tuple[str, str]] = []
    search = [str(_relative(here, d)) for d in spec.function_path]
    problems += [(f"function_path[{i}]", f"no such directory: {d}")
                 for i, d in enumerate(search) if not Path(d).is_dir()]
    spec = spec.model_copy(update={"function_path": search})

    targets_path = _relative(here, spec.targets)
    targets: TargetsFile | None = None
    targets_text = ""
    if not targets_path.is_file():
        problems.append(("targets", f"no such targets file: {targets_path}"))
    else:
        targets = load_targets(targets_path)  # raises TargetsError naming the targets file
        targets_text = targets_path.read_text(encoding="utf-8")
        if not targets.by_role("calibration"):
            problems.append(("targets", f"{targets_path} has no target with role = "
                             "\"calibration\": nothing to calibrate against"))

    scenario: Scenario | None = None
    if spec.scenario is not None:
        scen_path = _relative(here, spec.scenario)
        if not scen_path.is_file():
            problems.append(("scenario", f"no such scenario file: {scen_path}"))
        else:
            try:
                scenario = Scenario.load(scen_path)
            except ScenarioError as err:
                problems += [("scenario", f"{scen_path}: {f}: {m}") for f, m in err.problems]
            if scenario is not None and spec.set:
                try:
                    scenario = scenario.with_overrides(spec.set, source=f"{src} [set]")
                except ScenarioError as err:
                    problems += [(f"set.{f}" if not f.startswith("set") else f, m)
                                 for f, m in err.problems]
                    scenario = None
    else:
        # syntax only: the model's module is imported when the calibration runs
        msg = check_function_ref(str(spec.model))
        if msg:
            problems.append(("model", msg))
        if spec.set:
            problems.append(("set", "fixed overrides need a scenario, not a model function"))

    priors = _priors(spec, problems)
    if scenario is not None:
        problems += _check_parameters(spec, priors, scenario, src)

    designs: list[dict[str, Any]] = []
    if spec.designs is not None:
        designs = _designs(spec.designs, scenario, problems, src, spec.function_path)
    if targets is not None:
        for i, t in enumerate(targets.target):
            if t.over == "designs" and spec.designs is None:
                problems.append(("designs", f"target '{t.id}' is computed over designs "
                                 f"(over = \"designs\") but the spec has no [designs]"))
            if t.where is not None:
                problems += _check_where(t, i, targets_path, scenario, designs)
            if scenario is not None:
                msg = _check_target_outcome(t.outcome, scenario)
                if msg:
                    problems.append(("targets", f"{targets_path}: target[{i}] ({t.id}).outcome: "
                                     f"{msg}"))
    if problems:
        raise CalibrationSpecError(src, problems)
    assert targets is not None
    out = Path(output) if output is not None else (
        _relative(here, spec.output) if spec.output is not None
        else Path("out") / "calibration" / spec.name)
    return LoadedSpec(spec=spec, path=path.resolve(), targets=targets, targets_path=targets_path,
                      priors=priors, scenario=scenario, designs=designs, output=out,
                      spec_text=text, targets_text=targets_text)


def _check_where(t: Target, i: int, targets_path: Path, scenario: Scenario | None,
                 designs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Problems of a target's ``where``: a value the scenario cannot take, or no design matched.

    Each listed value is applied to the scenario, so that a misspelt value (``"bi-weekly"``)
    or path is named rather than silently matching no design.
    """
    field = f"{targets_path}: target[{i}] ({t.id}).where"
    problems = []
    assert t.where is not None
    if scenario is not None:
        for path, values in t.where.items():
            for v in values:
                try:
                    scenario.with_overrides({path: v}, source="where")
                except ScenarioError as err:
                    problems += [("targets", f"{field}.{path}: {v!r}: {m}")
                                 for _, m in err.problems]
    if designs and not problems and not any(t.selects(d) for d in designs):
        problems.append(("targets", f"{field}: no design of [designs] matches {t.where}"))
    return problems


def _relative(here: Path, name: str) -> Path:
    p = Path(name)
    return p if p.is_absolute() else (here / p).resolve()


def _priors(spec: CalibrationSpec, problems: list[tuple[str, str]]) -> list[ParameterEvidence]:
    """The prior of each calibrated parameter (the table's, or the spec's override)."""
    try:
        table = registry()
    except PriorsError as err:
        problems += err.problems
        return []
    if spec.parameters is None:
        if spec.model is not None:
            problems.append(("parameters", "a model function needs its parameters listed, "
                             "each with 'distribution' and 'bounds'"))
            return []
        return [e for e in table.values() if e.sampled]
    out = []
    for i, p in enumerate(spec.parameters):
        if p.distribution is not None:
            base = table.get(p.path)
            out.append(ParameterEvidence(
                path=p.path, evidence=base.evidence if base else "assumption",
                source=base.source if base else "calibration spec",
                reasoning="prior set in the calibration spec", distribution=p.distribution,
                bounds=tuple(float(v) for v in p.bounds or ())))
            continue
        entry = table.get(p.path)
        if entry is None or not entry.uncertain:
            problems.append((f"parameters[{i}]", f"'{p.path}' has no prior in "
                             "cisim/data/priors.toml; give 'distribution' and 'bounds'"))
            continue
        out.append(entry)
    return out


def _check_parameters(spec: CalibrationSpec, priors: list[ParameterEvidence],
                      scenario: Scenario, src: str) -> list[tuple[str, str]]:
    """Every calibrated path is a scalar scenario field that accepts its prior's support."""
    problems: list[tuple[str, str]] = []
    table = {row["path"]: row for row in parameter_table()}
    where = {p.path: f"parameters[{i}]" for i, p in enumerate(spec.parameters or [])}
    for prior in priors:
        name = where.get(prior.path, f"parameters ({prior.path})")
        if _table_path(prior.path, table) is None or "[" in prior.path:
            problems.append((f"{name}.path", f"'{prior.path}' is not a plain dotted scenario "
                             "parameter"))
            continue
        if prior.distribution not in DISTRIBUTIONS:
            continue
        lo, hi = prior.support()
        for value in (lo, hi):
            if not math.isfinite(value):
                continue
            try:
                scenario.with_overrides({prior.path: _as_schema_type(prior.path, value)},
                                        source=src)
            except ScenarioError as err:
                detail = "; ".join(m for _, m in err.problems)
                problems.append((name, f"the prior of '{prior.path}' reaches {value:g}, which "
                                 f"the scenario does not accept: {detail}"))
    return problems


def _designs(d: Designs, scenario: Scenario | None, problems: list[tuple[str, str]],
             src: str, search_path: list[str]) -> list[dict[str, Any]]:
    if d.sets is not None:
        sets = [dict(s) for s in d.sets]
    else:
        try:  # runs the sampler (trusted input): the designs are checked against the scenario
            f = resolve_function(str(d.sampler), search_path)
            sets = [dict(s) for s in f(d.n, d.seed)]
        except ValueError as err:
            problems.append(("designs.sampler", str(err)))
            return []
        except Exception as err:  # the sampler is user code
            problems.append(("designs.sampler", f"raised {type(err).__name__}: {err}"))
            return []
    if scenario is not None:
        for i, overrides in enumerate(sets):
            try:
                scenario.with_overrides(overrides, source=src)
            except ScenarioError as err:
                problems += [(f"designs.sets[{i}].{f}", m) for f, m in err.problems]
    return sets


def _check_target_outcome(name: str, scenario: Scenario) -> str | None:
    from cisim.calibrate.summaries import DERIVED

    if name in DERIVED:
        return None
    return _check_outcome(name, scenario, horizon_swept=False)

