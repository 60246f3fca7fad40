"""cisim as an EMA Workbench model: exploratory modelling with EMA's samplers and evaluators.

:func:`ema_model` builds an ``ema_workbench.Model`` that runs cisim on a base scenario. Its
uncertainties and levers are scenario parameters named by their dotted path, its outcomes are
the sweep's outcome names (summary keys, ``column@year`` and the aliases of
:data:`cisim.sweep.spec.OUTCOME_ALIASES`) and trajectory columns. EMA Workbench 3 wants Python
identifiers as names, so each is named by its path with every other character turned into
``_`` (``dynamics.trust_gain`` -> ``dynamics_trust_gain``, ``trust@3`` -> ``trust_3``) and keeps
the path as its ``variable_name``: the model function receives dotted paths.

Uncertainties default to the documented priors (:mod:`cisim.priors`, every parameter that
forecasts draw), as ``scipy.stats`` distributions, so EMA's samplers draw from the priors rather
than from uniform boxes. Each experiment is run with a fixed seed per replication (the same
seeds for every experiment: common random numbers, which sharpen comparisons between policies),
so results are a pure function of (scenario, seed) like every cisim result.

EMA Workbench: Kwakkel 2017, "The Exploratory Modeling Workbench: An open source toolkit for
exploratory modeling, scenario discovery, and (multi-objective) robust decision making",
Environmental Modelling & Software 96. See ``docs/sweeps.md`` ("Using cisim from EMA
Workbench").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from cisim.scenario import Scenario, ScenarioError
from cisim.sweep.model_function import CisimModel
from cisim.sweep.samplers import run_seed
from cisim.sweep.spec import (
    OUTCOME_ALIASES,
    Outcomes,
    _check_outcome,
    _is_int_field,
    _trajectory_columns,
)

__all__ = ["CisimExperiment", "ema_model", "ema_name"]

#: Bounds ``[low, high]`` (real or integer) or a list of categories (anything else).
Space = Mapping[str, Sequence[Any]]


def ema_name(path: str) -> str:
    """The EMA Workbench name (a Python identifier) of a scenario path or outcome name."""
    name = re.sub(r"\W+", "_", path).strip("_")
    return name if name.isidentifier() else f"_{name}"


class CisimExperiment:
    """The function EMA Workbench calls: one cisim run of an experiment (picklable).

    Called with keyword arguments named by scenario path (the uncertainties, levers and
    constants) and ``seed``; returns the outcomes by their sweep names.

    Args:
        base: The base scenario.
        scalars: Scalar outcome names.
        trajectories: Trajectory columns (one value per whole year).
        numba_threads: Threads of the engine's kernels per run (1 under a multiprocessing
            evaluator; None for numba's default).
    """

    def __init__(self, base: Scenario, scalars: Sequence[str], trajectories: Sequence[str] = (),
                 numba_threads: int | None = None):
        self.model = CisimModel(base, {}, scalars, trajectories, numba_threads=numba_threads)

    def __call__(self, **kwargs: Any) -> dict[str, Any]:
        """Run the experiment."""
        seed = int(kwargs.pop("seed"))
        base = self.model.base
        params = {path: round(float(v)) if _is_int_field(path, base) else v
                  for path, v in kwargs.items()}
        return self.model(params, seed)


def ema_model(
    scenario: Scenario | str | Path,
    *,
    uncertainties: Sequence[str] | Space | None = None,
    levers: Space | None = None,
    outcomes: Sequence[str] | None = None,
    trajectories: Sequence[str] = (),
    replications: int = 1,
    seed: int = 0,
    name: str = "cisim",
    numba_threads: int | None = None,
) -> Any:
    """An ``ema_workbench`` model running cisim on ``scenario``.

    Args:
        scenario: The base scenario (or its TOML file).
        uncertainties: Scenario paths with a documented prior (drawn from it), or a mapping
            path -> ``[low, high]`` or a list of values; default: every parameter with a
            prior that forecasts draw (:func:`cisim.priors.uncertain_parameters`).
        levers: Mapping path -> ``[low, high]`` (integers for an integer field) or a list of
            values (categories); default: none.
        outcomes: Scalar outcomes (as in a sweep spec's ``[outcomes] scalars``); default: the
            sweep's default outcomes.
        trajectories: Trajectory columns kept at every whole year (``ArrayOutcome``).
        replications: Runs per experiment; above 1 the model is a ``ReplicatorModel`` and each
            outcome is the mean over the replications.
        seed: Master seed: replication ``r`` runs with seed ``run_seed(seed, 0, r)``.
        name: The model's name (a Python identifier).
        numba_threads: Kernel threads per run (set 1 with ``MultiprocessingEvaluator``).

    Returns:
        An ``ema_workbench.Model`` (or ``ReplicatorModel``).

    Raises:
        ScenarioError: A path that is not a scenario parameter, a value the scenario refuses,
            a path without a prior, or an unknown outcome (every problem at once).
    """
    from ema_workbench import (
        ArrayOutcome,
        CategoricalParameter,
        Constant,
        IntegerParameter,
        Model,
        RealParameter,
        ReplicatorModel,
        ScalarOutcome,
    )

    from cisim.priors import PRIORS_FILE, registry, uncertain_parameters

    base = scenario if isinstance(scenario, Scenario) else Scenario.load(scenario)
    source = "ema_model"
    problems: list[tuple[str, str]] = []
    scalars = list(outcomes) if outcomes is not None else Outcomes().scalars

    def parameter(path: str, space: Sequence[Any], where: str) -> Any:
        values = list(space)
        for v in values:
            try:
                base.with_overrides({path: v}, source=source)
            except ScenarioError as err:
                detail = "; ".join(m for _, m in err.problems)
                problems.append((f"{where}.{path}", f"value {v!r} is not valid: {detail}"))
        numeric = len(values) == 2 and all(isinstance(v, int | float) and not isinstance(v, bool)
                                           for v in values)
        if not numeric:
            return CategoricalParameter(ema_name(path), values, variable_name=path)
        if _is_int_field(path, base):
            return IntegerParameter(ema_name(path), round(values[0]), round(values[1]),
                                    variable_name=path)
        return RealParameter(ema_name(path), float(values[0]), float(values[1]),
                             variable_name=path)

    table = registry()
    if uncertainties is None:
        entries = uncertain_parameters()
        uncertain = [RealParameter.from_dist(ema_name(e.path), e.scipy(), variable_name=e.path)
                     for e in entries]
    elif isinstance(uncertainties, Mapping):
        uncertain = [parameter(p, s, "uncertainties") for p, s in uncertainties.items()]
    else:
        uncertain = []
        for path in uncertainties:
            entry = table.get(path)
            if entry is None or not entry.sampled:
                problems.append((f"uncertainties.{path}", f"no prior to draw from in "
                                 f"{PRIORS_FILE.name}; give its bounds in a mapping instead"))
                continue
            uncertain.append(RealParameter.from_dist(ema_name(path), entry.scipy(),
                                                     variable_name=path))
    lever_params = [parameter(p, s, "levers") for p, s in (levers or {}).items()]
    for j, out in enumerate(scalars):
        msg = _check_outcome(out, base, horizon_swept=False)
        if msg:
            problems.append((f"outcomes[{j}]", msg))
    columns = _trajectory_columns()
    problems += [(f"trajectories[{j}]", f"unknown trajectory column '{t}'")
                 for j, t in enumerate(trajectories) if t not in columns]
    names = [p.name for p in [*uncertain, *lever_params]]
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        problems.append(("uncertainties", f"paths named twice (as uncertainty and lever?): "
                         f"{', '.join(clash)}"))
    if problems:
        raise ScenarioError(source, problems)

    experiment = CisimExperiment(base, scalars, trajectories, numba_threads=numba_threads)
    seeds = [run_seed(seed, 0, r) for r in range(replications)]
    if replications == 1:
        model = Model(name, function=experiment)
        model.constants = [Constant("seed", seeds[0])]
    else:
        model = ReplicatorModel(name, function=experiment)
        model.replications = [{"seed": s} for s in seeds]
    model.uncertainties = uncertain
    model.levers = lever_params
    kept = [*scalars]
    if any(OUTCOME_ALIASES.get(s, s) == "first_significant_change_year" for s in scalars):
        kept.append("significant_change_reached")
    # replicated: the mean over replications (EMA keeps one outcome class per name)
    mean = None if replications == 1 else np.mean
    mean_path = None if replications == 1 else partial(np.mean, axis=0)
    model.outcomes = [ScalarOutcome(ema_name(s), variable_name=s, function=mean)
                      for s in kept] + [
        ArrayOutcome(ema_name(t), variable_name=t, function=mean_path) for t in trajectories]
    return model

