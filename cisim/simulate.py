"""Running the model: one run, an ensemble of independent seeds, and their tidy results.

``simulate(scenario, seed)`` runs one model (the scenario and its counterfactual side by side)
and returns a :class:`SimulationResult` of pandas DataFrames. ``ensemble(scenario, n)`` runs
replications in parallel with joblib and returns an :class:`EnsembleResult` with percentile
bands. Each replication has its own random seed (from ``numpy.random.SeedSequence``) and, by
default, its own draw of the uncertain parameters from the model's parameter distribution
(:meth:`cisim.priors.ParameterDistribution.default`), so the bands cover both chance and the
assumptions. Consecutive replications share a parameter set (``seeds_per_draw`` of them, two by
default), a nested design that lets :mod:`cisim.uncertainty` split the spread into its two
sources (Saltelli et al., *Global Sensitivity Analysis: The Primer*, 2008, on separating
parametric from stochastic variance). Results do not depend on the number of workers.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from cisim.mechanisms.communication import own_trust
from cisim.model import CollectiveImpactModel
from cisim.outcomes import projected_value
from cisim.population import world_rows
from cisim.scenario import (
    MEMORY_LIMIT_BYTES,
    STEPS_PER_YEAR,
    Scenario,
    ScenarioError,
    estimate_memory,
    memory_message,
)
from cisim.sroi import FRAMINGS, adjustments_of, framing_components, framing_ratio
from cisim.world import VALUE_KINDS

if TYPE_CHECKING:
    from cisim.priors import ParameterDistribution

__all__ = [
    "DEFAULT_REPLICATIONS",
    "SEEDS_PER_DRAW",
    "EnsembleResult",
    "SimulationResult",
    "compile_kernels",
    "ensemble",
    "forecast_distribution",
    "parameter_plan",
    "replication_seeds",
    "resolve_parameters",
    "simulate",
]

#: Population change (percentage points against the counterfactual) that counts as significant
#: once it has held for a year.
SIGNIFICANT_CHANGE_PP = 1.0

#: Replications (futures) of an ensemble unless told otherwise: the count at which the 5th, 50th
#: and 95th percentiles of population change at year 10 agree across independent master seeds
#: (see docs/uncertainty.md, "How many futures").
DEFAULT_REPLICATIONS = 60

#: Replications that share one parameter set (with different seeds): two is the cheapest nested
#: design in which chance and the assumptions can be told apart.
SEEDS_PER_DRAW = 2

#: The description of a seed-only ensemble: every assumption fixed at the scenario's values.
SEED_ONLY: dict[str, Any] = {"kind": "none", "source": "fixed at the scenario's values (seed only)",
                             "names": [], "pinned": [], "seeds_per_draw": 1}


@dataclass
class SimulationResult:
    """The result of one run.

    Attributes:
        scenario: The scenario simulated.
        seed: Its seed.
        trajectory: One row per weekly step (see :data:`cisim.outcomes.TRAJECTORY_COLUMNS`).
        subgroups: Outcome rate per step, subgroup and world (long format).
        partners: One row per partner at the end of the run.
        partner_values: Each partner's realised value per step (long format).
        events: The event log: step, year, world, kind, message.
        phases: Phase transitions: step, year, from_phase, to_phase, cause.
        summary: Scalar outcomes (see :func:`summarise`).
        costs: Who paid what, on what, per year (see :mod:`cisim.costs`).
    """

    scenario: Scenario
    seed: int
    trajectory: pd.DataFrame
    subgroups: pd.DataFrame
    partners: pd.DataFrame
    events: pd.DataFrame
    phases: pd.DataFrame
    partner_values: pd.DataFrame = field(default_factory=pd.DataFrame)
    summary: dict[str, Any] = field(default_factory=dict)
    costs: pd.DataFrame = field(default_factory=pd.DataFrame)


def simulate(scenario: Scenario, seed: int = 0, *, collect_agents: bool = False,
             details: bool = True) -> SimulationResult:
    """Run one simulation of a scenario (and its counterfactual) to the horizon.

    Args:
        scenario: The partnership design.
        seed: Non-negative integer; the result is a pure function of (scenario, seed).
        collect_agents: Also fill the Mesa DataCollector's per-agent tables.
        details: Also package the per-subgroup, per-partner and cost frames (see
            :func:`result_of`); a sweep reads only the trajectory and the summary.

    Returns:
        The run's trajectories, events, phase transitions and summary.
    """
    model = CollectiveImpactModel(scenario, rng=int(seed), collect_agents=collect_agents)
    while model.running:
        model.step()
    return result_of(model, details=details)


def compile_kernels() -> float:
    """Compile every numba kernel a run uses into numba's cache (or load it); return seconds.

    A tiny run of the default design (300 people, 13 weeks, fast turnover) calls each kernel
    once, and a week of its population through the kernel's own entry (the path of large
    populations on several threads, :meth:`cisim.population.Population.step`). In a fresh
    environment this is numba's one-off compile (10-20 seconds on the benchmarks' machines;
    see benchmarks/README.md); afterwards every process loads the kernels from the cache in a
    fraction of a second. ``./dev`` does it right after installing, and ``cisim compile`` does
    it on demand (before starting many cluster workers, say).
    """
    from cisim.model import DEFAULT_SCENARIO
    from cisim.scenario import load_scenario

    tiny = load_scenario(DEFAULT_SCENARIO).with_overrides(
        {"population.size": 300, "horizon_years": 0.25,
         "population.years_in_population": 0.5},
        source="compile_kernels",
    )
    start = time.perf_counter()
    simulate(tiny, 0)
    model = CollectiveImpactModel(tiny, rng=0)
    first, second = model.worlds
    model.population.step(model.kseed, 1, world_rows(tiny, model.worlds, model.population, 1),
                          (first.coverage, second.coverage))
    return time.perf_counter() - start


def result_of(model: CollectiveImpactModel, *, details: bool = True) -> SimulationResult:
    """Package a (finished or partly run) model's records as a :class:`SimulationResult`.

    Args:
        model: The model.
        details: Also build the per-subgroup, per-partner and cost frames. Without them
            (empty frames) the result holds what :func:`summarise` reads: the trajectory, the
            events, the phase transitions and the summary, the same values; packaging is then
            about half as dear (a sweep runs tens of thousands of runs and keeps a few numbers
            of each).
    """
    traj = model.recorder.trajectory()
    events = pd.DataFrame(model.events, columns=["step", "world", "kind", "message"])
    events.insert(1, "year", events["step"] / STEPS_PER_YEAR)
    phases = pd.DataFrame(model.transitions, columns=["step", "from_phase", "to_phase", "cause"])
    phases.insert(1, "year", phases["step"] / STEPS_PER_YEAR)
    result = SimulationResult(
        scenario=model.design,
        seed=model.seed,
        trajectory=traj,
        subgroups=model.recorder.subgroups() if details else pd.DataFrame(),
        partners=_partner_frame(model) if details else pd.DataFrame(),
        events=events,
        phases=phases,
        partner_values=model.recorder.partner_values() if details else pd.DataFrame(),
        costs=model.recorder.costs() if details else pd.DataFrame(),
    )
    result.summary = summarise(result, model)
    return result


def _partner_frame(model: CollectiveImpactModel) -> pd.DataFrame:
    from cisim.scenario import SECTORS

    w = model.factual
    p = w.partners
    data: dict[str, Any] = {
        "partner": p.names,
        "sector": [SECTORS[int(s)] for s in p.sector],
        "active": w.active.copy(),
        "commitment": w.commitment.copy(),
        "influence": p.influence.copy(),
        "mean_trust": own_trust(w),
        "capacity": w.capacity.copy(),
    }
    years = max(model.steps, 1) / STEPS_PER_YEAR
    for k, kind in enumerate(VALUE_KINDS):
        data[f"realised_{kind}"] = w.realised[:, k] / years  # mean yearly rate, 0-1
        data[f"sought_{kind}"] = p.seeks[:, k]
    frame = pd.DataFrame(data)
    realised = frame[[f"realised_{k}" for k in VALUE_KINDS]].to_numpy()
    frame["satisfaction"] = (realised * p.seeks).sum(axis=1)
    return frame


def _first_sustained(years: np.ndarray, ok: np.ndarray, hold: int) -> float:
    """First year from which ``ok`` holds for ``hold`` consecutive steps (NaN if never)."""
    run = 0
    for i, flag in enumerate(ok):
        run = run + 1 if flag else 0
        if run >= hold:
            return float(years[i - hold + 1])
    return float("nan")


def summarise(result: SimulationResult, model: CollectiveImpactModel | None = None
              ) -> dict[str, Any]:
    """Scalar outcomes of a run: changes, SROI, timing, phases, equity, costs.

    ``sroi_final``/``sroi_projected`` are the running ``sroi`` (value of collaborating over all
    initiative money, kept for sweeps); ``sroi_initiative`` and ``sroi_collaboration`` are the
    SROI guide's two framings with the projection beyond the horizon, and
    ``<framing>_gain_years_pv``, ``_final_gain`` and ``_input_pv`` their parts (see
    :mod:`cisim.sroi`).
    """
    t = result.trajectory
    sc = result.scenario
    v = sc.valuation
    last = t.iloc[-1]
    years = t["year"].to_numpy()
    pc = t["population_change_vs_cf"].to_numpy()

    def at_year(col: str, year: float) -> float:
        if year > sc.horizon_years + 1e-9:
            return float("nan")
        return float(t[col].iloc[min(len(t) - 1, round(year * STEPS_PER_YEAR))])

    sroi = t["sroi"].to_numpy()
    gain_years = float(((t["outcome_rate"] - t["outcome_rate_cf"]) * sc.population.size).iloc[
        1:].sum() / STEPS_PER_YEAR)
    adjusted = v.value_per_outcome_year * (1 - v.attribution) * (1 - v.displacement)
    tail = projected_value(
        (last["outcome_rate"] - last["outcome_rate_cf"]), sc.population.size, adjusted,
        v.projection_years, v.drop_off, v.discount_rate, sc.horizon_years,
    )
    invest_pv = last["social_value"] / last["sroi"] if last["sroi"] not in (0,) and math.isfinite(
        last["sroi"]) else float("nan")
    sroi_projected = (last["social_value"] + tail) / invest_pv if invest_pv and math.isfinite(
        invest_pv) and invest_pv > 0 else float("nan")
    summary: dict[str, Any] = {
        "seed": result.seed,
        "population_change_vs_cf_final": float(last["population_change_vs_cf"]),
        "population_change_final": float(last["population_change"]),
        "population_change_cf_final": float(last["population_change_cf"]),
        "population_change_vs_cf_year5": at_year("population_change_vs_cf", 5.0),
        "outcome_rate_final": float(last["outcome_rate"]),
        "outcome_rate_cf_final": float(last["outcome_rate_cf"]),
        "sroi_final": float(last["sroi"]),
        "sroi_projected": float(sroi_projected),
        "break_even_year": _first_sustained(years, sroi >= 1.0, 1),
        "first_significant_change_year": _first_sustained(
            years, pc >= SIGNIFICANT_CHANGE_PP, STEPS_PER_YEAR),
        "equity_gap_start": float(t["equity_gap"].iloc[0]),
        "equity_gap_final": float(last["equity_gap"]),
        "equity_gap_cf_final": float(last["equity_gap_cf"]),
        "equity_gap_logodds_start": float(t["equity_gap_logodds"].iloc[0]),
        "equity_gap_logodds_final": float(last["equity_gap_logodds"]),
        "equity_gap_logodds_cf_final": float(last["equity_gap_logodds_cf"]),
        # the initiative's effect on the gap: below zero when it narrowed the gap more than
        # the counterfactual did
        "equity_gap_vs_cf_final": float(last["equity_gap"] - last["equity_gap_cf"]),
        "equity_gap_logodds_vs_cf_final": float(last["equity_gap_logodds"]
                                                - last["equity_gap_logodds_cf"]),
        "cumulative_investment": float(last["cumulative_investment"]),
        "outcome_years_gained": gain_years,
        "cost_per_outcome_year": (float(last["cumulative_investment"]) / gain_years
                                  if gain_years > 0 else float("nan")),
        "social_value_pv": float(last["social_value"]),
        "final_phase": str(last["phase"]),
        "phase_blockers": str(last["phase_blockers"]),
        "active_partners_final": int(last["active_partners"]),
        "trust_final": float(last["trust"]),
        "agreement_final": float(last["agreement"]),
        "alignment_final": float(last["alignment"]),
        "policy_changes": int((result.events["kind"] == "policy").sum())
        if len(result.events) else 0,
    }
    # the SROI guide's two framings (cisim.sroi), with the projection beyond the horizon
    parts = framing_components(t, sc.population.size, v.discount_rate)
    for framing in FRAMINGS:
        k = framing.key
        summary[f"sroi_{k}"] = float(framing_ratio(
            parts[f"{k}_gain_years_pv"], parts[f"{k}_final_gain"], parts[f"{k}_input_pv"],
            adjustments_of(v, k), sc.horizon_years))
    summary.update(parts)
    summary["collaboration_cost"] = float(t["collaboration_cost"].iloc[1:].sum())
    first = t["phase"].iloc[0]
    summary["first_phase"] = str(first)
    for label in pd.unique(t["phase"]):
        reached = t.index[t["phase"] == label]
        summary[f"year_reached:{label}"] = float(t["year"].iloc[reached[0]])
    return summary


# ---- ensembles --------------------------------------------------------------------------------


@dataclass
class EnsembleResult:
    """Replications of one scenario: different seeds and, by default, different parameter sets.

    Attributes:
        scenario: The scenario (as given, before any parameter draw).
        seeds: The seed of each replication.
        trajectories: All trajectories with ``replication`` and ``seed`` columns.
        subgroups: All subgroup frames with ``replication``.
        partners: All partner frames with ``replication``.
        partner_values: All per-step partner value frames with ``replication``.
        events: All event logs with ``replication``.
        phases: All phase transitions with ``replication``.
        summaries: One row per replication.
        costs: All cost frames with ``replication`` (see :mod:`cisim.costs`).
        parameters: One row per replication: ``replication``, ``parameter_set`` (replications
            with the same number shared the parameter values) and one column per drawn path
            holding the value the run used (a path the scenario pins keeps the scenario's
            value). Only ``replication`` and ``parameter_set`` when the parameters were fixed.
        distribution: What the parameters were drawn from: ``kind`` (``prior``, ``posterior``
            or ``none`` for seed-only runs), ``source``, ``names``, ``pinned`` and
            ``seeds_per_draw``.
    """

    scenario: Scenario
    seeds: list[int]
    trajectories: pd.DataFrame
    subgroups: pd.DataFrame
    partners: pd.DataFrame
    events: pd.DataFrame
    phases: pd.DataFrame
    summaries: pd.DataFrame
    partner_values: pd.DataFrame = field(default_factory=pd.DataFrame)
    costs: pd.DataFrame = field(default_factory=pd.DataFrame)
    parameters: pd.DataFrame = field(default_factory=pd.DataFrame)
    distribution: dict[str, Any] = field(default_factory=lambda: dict(SEED_ONLY))

    def bands(self, column: str, percentiles: Sequence[float] = (5, 25, 50, 75, 95)
              ) -> pd.DataFrame:
        """Percentiles of a trajectory column over replications, per step (see :func:`bands`)."""
        return bands(self.trajectories, column, percentiles)


def bands(
    trajectories: pd.DataFrame,
    column: str,
    percentiles: Sequence[float] = (5, 25, 50, 75, 95),
) -> pd.DataFrame:
    """Percentiles of one trajectory column across replications, per weekly step.

    Infinite values (an SROI before any investment, for example) count as missing.

    Args:
        trajectories: Trajectories with ``step``, ``year`` and ``column``.
        column: The column to summarise.
        percentiles: Percentiles in 0-100.

    Returns:
        A frame indexed by step with a ``year`` column and one ``p<percentile>`` column each.

    Raises:
        KeyError: The column is not in the trajectories.

    """
    if column not in trajectories.columns:
        raise KeyError(f"trajectories have no column '{column}'")
    values = pd.to_numeric(trajectories[column], errors="coerce").astype(float)
    values = values.replace([np.inf, -np.inf], np.nan)
    frame = pd.DataFrame({"step": trajectories["step"], "value": values})
    grouped = frame.groupby("step")["value"]
    out = pd.DataFrame({"year": trajectories.groupby("step")["year"].first()})
    for p in percentiles:
        out[f"p{p:g}"] = grouped.quantile(p / 100)
    return out


def replication_seeds(seed: int, replications: int) -> list[int]:
    """Independent 62-bit seeds for replications (``numpy.random.SeedSequence`` spawning)."""
    children = np.random.SeedSequence(seed).spawn(replications)
    return [int(c.generate_state(1, np.uint64)[0] >> np.uint64(2)) for c in children]


def resolve_parameters(parameters: str | Path | ParameterDistribution
                       ) -> ParameterDistribution | None:
    """The parameter distribution an ensemble draws from (None: seed only).

    Args:
        parameters: ``"default"`` (the shipped calibrated posterior, else the documented
            priors), ``"priors"`` (the documented priors), ``"seed_only"`` (every parameter
            fixed at the scenario's values: chance only), a :class:`ParameterDistribution`,
            or the path of a posterior sample file (CSV or Parquet).

    Raises:
        ValueError: An unknown keyword.
        cisim.priors.PriorsError: A posterior file that cannot be read or names unknown paths.
    """
    from cisim.priors import ParameterDistribution

    if isinstance(parameters, ParameterDistribution):
        return parameters
    if isinstance(parameters, Path):
        return forecast_distribution(ParameterDistribution.from_posterior(parameters))
    if parameters == "seed_only":
        return None
    if parameters == "default":
        return forecast_distribution(ParameterDistribution.default())
    if parameters == "priors":
        return forecast_distribution(ParameterDistribution.from_priors())
    if isinstance(parameters, str) and Path(parameters).suffix in (".csv", ".parquet"):
        return forecast_distribution(ParameterDistribution.from_posterior(parameters))
    raise ValueError(f"parameters must be 'default', 'priors', 'seed_only', a "
                     f"ParameterDistribution or a posterior file, got {parameters!r}")


#: Scenario sections a forecast does not draw: the SROI valuation judgments (deadweight,
#: attribution, displacement, drop-off, the hourly cost of coordination) are the strategist's to
#: set, and the report's SROI sensitivity table shows how far each must move for the ratio to
#: fall to 1 (Nicholls et al., *A Guide to Social Return on Investment*, 2012). Drawing them too
#: would blur that table and the headline ratio it explains.
NOT_DRAWN_IN_FORECASTS: tuple[str, ...] = ("valuation.",)


def forecast_distribution(distribution: ParameterDistribution) -> ParameterDistribution:
    """The distribution without the paths a forecast leaves to the strategist.

    Returns:
        A distribution of the same kind and source over the other paths
        (:data:`NOT_DRAWN_IN_FORECASTS` lists the prefixes left out); a posterior keeps its
        joint rows.
    """
    keep = [p for p in distribution.names if not p.startswith(NOT_DRAWN_IN_FORECASTS)]
    if len(keep) == len(distribution.names):
        return distribution
    return distribution.restricted(keep)


def _draw_seed(seed: int, parameter_set: int) -> int:
    """The seed of parameter set ``parameter_set`` under master seed ``seed``.

    Its own SeedSequence entropy (tagged so it never coincides with a replication's seed), so
    parameter set j is the same whatever the number of replications, workers or designs.
    """
    state = np.random.SeedSequence([int(seed), 0x7A4A_D8A7, int(parameter_set)])
    return int(state.generate_state(1, np.uint64)[0] >> np.uint64(2))


def parameter_plan(scenario: Scenario, distribution: ParameterDistribution | None,
                   replications: int, seed: int = 0, seeds_per_draw: int = SEEDS_PER_DRAW,
                   ) -> tuple[list[Scenario], pd.DataFrame]:
    """The scenario each replication runs and the tidy table of the parameter values it uses.

    Replication ``k`` uses parameter set ``k // seeds_per_draw``; set ``j`` is drawn from
    ``distribution`` with a seed that depends only on (``seed``, ``j``), so the plan is a pure
    function of (scenario, seed, replication) and two designs compared under the same master seed
    get the same draws (common random numbers). Paths the scenario pins
    (:meth:`ParameterDistribution.pinned`) keep the scenario's value.

    Args:
        scenario: The design.
        distribution: What to draw from; None fixes every parameter (seed only).
        replications: Number of replications.
        seed: The master seed.
        seeds_per_draw: Replications per parameter set (at least 1).

    Returns:
        (one scenario per replication, the ``parameters`` frame of :class:`EnsembleResult`).
    """
    from cisim.priors import _as_schema_type, value_at

    if seeds_per_draw < 1:
        raise ValueError(f"seeds_per_draw must be at least 1, got {seeds_per_draw}")
    reps = np.arange(replications)
    if distribution is None:
        frame = pd.DataFrame({"replication": reps, "parameter_set": reps})
        return [scenario] * replications, frame
    sets = -(-replications // seeds_per_draw)
    pinned = set(distribution.pinned(scenario))
    mine = scenario.to_dict()
    scenarios_per_set: list[Scenario] = []
    rows: list[dict[str, float]] = []
    for j in range(sets):
        draw = distribution.draw(1, _draw_seed(seed, j)).iloc[0]
        overrides = {p: _as_schema_type(p, draw[p]) for p in distribution.names
                     if p not in pinned}
        scenarios_per_set.append(scenario.with_overrides(overrides, source="parameter draw")
                                 if overrides else scenario)
        rows.append({p: overrides[p] if p in overrides else _float_or_nan(value_at(mine, p))
                     for p in distribution.names})
    set_of = reps // seeds_per_draw
    frame = pd.DataFrame({"replication": reps, "parameter_set": set_of})
    values = pd.DataFrame(rows).iloc[set_of].reset_index(drop=True)
    frame = pd.concat([frame, values], axis=1)
    return [scenarios_per_set[j] for j in set_of], frame


def _describe(distribution: ParameterDistribution | None, scenario: Scenario,
              seeds_per_draw: int) -> dict[str, Any]:
    if distribution is None:
        return dict(SEED_ONLY)
    return {"kind": distribution.kind, "source": distribution.source,
            "names": list(distribution.names), "pinned": distribution.pinned(scenario),
            "seeds_per_draw": int(seeds_per_draw)}


def ensemble(
    scenario: Scenario,
    replications: int = DEFAULT_REPLICATIONS,
    seed: int = 0,
    *,
    parameters: str | Path | ParameterDistribution = "default",
    seeds_per_draw: int = SEEDS_PER_DRAW,
    n_jobs: int = -1,
    progress: Callable[[int, int], None] | None = None,
) -> EnsembleResult:
    """Run replications of a scenario in parallel: chance and, by default, the assumptions.

    Args:
        scenario: The partnership design.
        replications: Number of replications (futures).
        seed: Master seed; replication seeds and parameter draws are derived from it.
        parameters: Where the uncertain parameters come from (see :func:`resolve_parameters`):
            ``"default"`` draws them from the calibrated posterior once shipped, else from the
            documented priors; ``"seed_only"`` fixes them at the scenario's values, so the
            bands show chance alone (and understate the uncertainty).
        seeds_per_draw: Consecutive replications that share a parameter set (different seeds),
            so chance and the assumptions can be told apart (:mod:`cisim.uncertainty`).
        n_jobs: joblib workers (-1: all cores; 1: in this process).
        progress: Called as ``progress(done, total)`` after each finished replication.

    Returns:
        The replications' frames, the parameter values each used and percentile bands;
        identical for any ``n_jobs``. With ``parameters="seed_only"`` identical to an ensemble
        of the same seeds with every assumption fixed.
    """
    if replications < 1:
        raise ValueError(f"replications must be at least 1, got {replications}")
    check_memory(scenario, replications, n_jobs)
    distribution = resolve_parameters(parameters)
    seeds = replication_seeds(seed, replications)
    plan, table = parameter_plan(scenario, distribution, replications, seed, seeds_per_draw)
    results: list[SimulationResult | None] = [None] * replications
    if n_jobs == 1 or replications == 1:
        for i, s in enumerate(seeds):
            results[i] = simulate(plan[i], s)
            if progress:
                progress(i + 1, replications)
    else:
        runner = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
        jobs = (delayed(_indexed)(i, plan[i], s) for i, s in enumerate(seeds))
        for done, (i, res) in enumerate(runner(jobs), start=1):
            results[i] = res
            if progress:
                progress(done, replications)
    return combine(scenario, [r for r in results if r is not None], parameters=table,
                   distribution=_describe(distribution, scenario, seeds_per_draw))


def check_memory(scenario: Scenario, replications: int, n_jobs: int = 1) -> None:
    """Refuse an ensemble estimated to need more than ``MEMORY_LIMIT_BYTES`` at once.

    Each of ``n_jobs`` workers (-1: all cores) holds a run and every finished run's frames are
    kept (:func:`cisim.scenario.estimate_memory`).

    Raises:
        ScenarioError: The estimate, its largest part, the limit and this machine's memory.
    """
    workers = (os.cpu_count() or 1) if n_jobs < 0 else max(1, n_jobs)
    need = estimate_memory(scenario, replications=replications, workers=workers)
    if need > MEMORY_LIMIT_BYTES:
        what = f"{replications} replications on {min(workers, replications)} workers"
        raise ScenarioError("ensemble", [("replications", memory_message(
            scenario, need, MEMORY_LIMIT_BYTES, what))])


def _indexed(i: int, scenario: Scenario, seed: int) -> tuple[int, SimulationResult]:
    return i, simulate(scenario, seed)


def combine(scenario: Scenario, results: Sequence[SimulationResult], *,
            parameters: pd.DataFrame | None = None,
            distribution: dict[str, Any] | None = None) -> EnsembleResult:
    """Stack single runs (in replication order) into an :class:`EnsembleResult`.

    Args:
        scenario: The scenario as given.
        results: The runs, in replication order.
        parameters: The parameter values each run used (default: fixed, one set per run).
        distribution: What they were drawn from (default: seed only).
    """

    def stack(attr: str) -> pd.DataFrame:
        frames = []
        for i, r in enumerate(results):
            df = getattr(r, attr).copy()
            df.insert(0, "replication", i)
            frames.append(df)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    traj = stack("trajectory")
    traj.insert(1, "seed", traj["replication"].map({i: r.seed for i, r in enumerate(results)}))
    summaries = pd.DataFrame([r.summary for r in results])
    summaries.insert(0, "replication", range(len(results)))
    return EnsembleResult(
        scenario=scenario,
        seeds=[r.seed for r in results],
        trajectories=traj,
        subgroups=stack("subgroups"),
        partners=stack("partners"),
        events=stack("events"),
        phases=stack("phases"),
        summaries=summaries,
        partner_values=stack("partner_values"),
        costs=stack("costs"),
        parameters=parameters if parameters is not None else pd.DataFrame(
            {"replication": range(len(results)), "parameter_set": range(len(results))}),
        distribution=dict(distribution) if distribution is not None else dict(SEED_ONLY),
    )


def _float_or_nan(value: Any) -> float:
    """A scenario value as a float; NaN where the scenario has no such section (None)."""
    return float("nan") if value is None else float(value)
