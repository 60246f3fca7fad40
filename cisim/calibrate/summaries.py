"""From one parameter set to the targets' statistics: the runs behind a particle.

A particle (one parameter set) is turned into one number per target by running the model
several times: the spec's scenario with ``replications`` seeds for ``over = "scenario"`` targets,
and each design of the spec's fixed design sample with its seeds for ``over = "designs"``
targets. Each run gives its outcomes the way a sweep does
(:func:`cisim.sweep.model_function.extract`: summary keys, ``column@year``, aliases, a
``first_significant_change_year`` censored at horizon + 1 year when never reached), plus the
derived equity outcomes in :data:`DERIVED`; each target's statistic
(:func:`cisim.calibrate.targets.statistic`) is then taken over its runs.

Run seeds are a pure function of the particle's seed (``numpy.random.SeedSequence``), so a
particle's statistics are a pure function of (parameters, seed). A run that raises is logged as a
warning and gives NaN outcomes; a statistic with no value left is NaN, which puts the particle at
infinite distance (rejected) and shows in the predictive checks' ``failed`` column.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from cisim.calibrate.targets import Target, statistic
from cisim.outcomes import log_odds_gap
from cisim.priors import ParameterDistribution, ParameterEvidence, _as_schema_type
from cisim.scenario import STEPS_PER_YEAR, Scenario
from cisim.sweep.model_function import ModelFunction, extract, flatten_outputs

__all__ = [
    "DERIVED",
    "ParticleModel",
    "first_year_at_least",
    "run_seeds",
    "trust_interaction_effects",
]

logger = logging.getLogger(__name__)


def _gap(result: Any, world: str, step: int) -> float:
    groups = result.scenario.population.subgroups
    return log_odds_gap(result.subgroups, {s.name: s.share for s in groups},
                        {s.name for s in groups if s.disadvantaged}, world, step)


def equity_log_odds_gap_change(result: Any) -> float:
    """Change of the majority/disadvantaged log odds ratio from the start to the horizon."""
    last = len(result.trajectory) - 1
    return _gap(result, "factual", last) - _gap(result, "factual", 0)


def equity_log_odds_gap_vs_cf(result: Any) -> float:
    """Log odds gap at the horizon minus the counterfactual's (negative: the gap narrowed)."""
    last = len(result.trajectory) - 1
    return _gap(result, "factual", last) - _gap(result, "counterfactual", last)


def significant_change_reached(result: Any) -> float:
    """1 if sustained population change (cisim.simulate.SIGNIFICANT_CHANGE_PP) was reached."""
    return float(np.isfinite(result.summary["first_significant_change_year"]))


def population_change_gain_1_to_3(result: Any) -> float:
    """Population change against the counterfactual at year 3 minus at year 1 (pp)."""
    t = result.trajectory
    if result.scenario.horizon_years < 3:
        return float("nan")
    col = t["population_change_vs_cf"]
    return float(col.iloc[3 * STEPS_PER_YEAR] - col.iloc[STEPS_PER_YEAR])


def first_year_at_least(trajectory: pd.DataFrame, column: str, level: float) -> float:
    """Year of the first step at which ``column`` reaches ``level`` (NaN if it never does)."""
    hit = np.flatnonzero(trajectory[column].to_numpy() >= level)
    return float(trajectory["year"].iloc[hit[0]]) if len(hit) else float("nan")


def years_to_trust(result: Any) -> float:
    """Years until mean trust first reaches ``phases.run_min_trust`` (censored at horizon + 1).

    The trust the phase model asks before running (Kania & Kramer 2011: partners need several
    years of regular meetings to build it). Never reached is censored at the horizon plus a
    year, like ``first_significant_change_year``, so that a median still says "later".
    """
    year = first_year_at_least(result.trajectory, "trust", result.scenario.phases.run_min_trust)
    return year if np.isfinite(year) else float(result.scenario.horizon_years + 1)


def trust_interaction_effects(trajectory: pd.DataFrame) -> tuple[float, float]:
    """Weekly change of mean trust regressed on good and bad interactions per pair of partners.

    Least squares of the change of mean trust from week ``w`` to ``w + 1`` on that week's good
    and bad interactions per pair of active partners, with lagged trust and a constant: the
    record an evaluator of a real partnership could fit (the ratio of the two effects is the
    asymmetry of trust; Slovic 1993).

    Returns:
        The effect of one good and of one bad interaction per pair on mean trust (NaN, NaN
        when fewer than ten weeks had good or bad interactions).
    """
    t = trajectory
    n = t["active_partners"].to_numpy()[:-1]
    pairs = np.maximum(1.0, n * (n - 1) / 2)
    good = t["good_interactions"].to_numpy()[1:] / pairs
    bad = (t["interactions"].to_numpy()[1:] - t["good_interactions"].to_numpy()[1:]) / pairs
    trust = t["trust"].to_numpy()
    if (good > 0).sum() < 10 or (bad > 0).sum() < 10:
        return float("nan"), float("nan")
    X = np.column_stack([good, bad, trust[:-1], np.ones_like(good)])
    coef, *_ = np.linalg.lstsq(X, np.diff(trust), rcond=None)
    return float(coef[0]), float(coef[1])


def trust_asymmetry_ratio(result: Any) -> float:
    """How many good interactions one bad one undoes: ``-effect(bad) / effect(good)``.

    From :func:`trust_interaction_effects`; NaN when the effects cannot be estimated or a good
    interaction's effect is not positive.
    """
    good, bad = trust_interaction_effects(result.trajectory)
    return -bad / good if np.isfinite(good) and good > 0 else float("nan")


#: Outcomes computed from a whole run (beyond the trajectory and summary keys).
DERIVED: dict[str, Callable[[Any], float]] = {
    "equity_log_odds_gap_change": equity_log_odds_gap_change,
    "equity_log_odds_gap_vs_cf": equity_log_odds_gap_vs_cf,
    "significant_change_reached": significant_change_reached,
    "population_change_vs_cf_gain_1_to_3": population_change_gain_1_to_3,
    "years_to_trust": years_to_trust,
    "trust_asymmetry_ratio": trust_asymmetry_ratio,
}


def run_seeds(seed: int, group: int, n_designs: int, replications: int) -> np.ndarray:
    """Seeds of a particle's runs: ``[design, replication]``, a pure function of the inputs."""
    ss = np.random.SeedSequence([int(seed), int(group)])
    return ss.generate_state(n_designs * replications, dtype=np.uint32).reshape(
        n_designs, replications).astype(np.int64)


#: The groups of a particle's runs, in the order they run: the spec's scenario, then its designs.
STAGES = ("scenario", "designs")


class ParticleModel:
    """A picklable ``f(params, seed) -> {target id: statistic}`` for a list of targets.

    Args:
        targets: The targets whose statistics are returned.
        replications: Default seeds per scenario or design (a target may ask for more or fewer).
        scenario: The scenario (fixed overrides applied); None for a function model.
        designs: Override tables of the design sample (``over = "designs"`` targets).
        function: A model function ``f(params, seed) -> outcomes`` instead of a scenario.
        numba_threads: Kernel threads per run (1 when particles run in parallel).
        uncalibrated: Parameters drawn from their priors in every run, with the run's seed
            (:meth:`cisim.priors.ParameterDistribution.draw`, applied as forecasts apply
            draws), before the design and the particle's values.
    """

    def __init__(self, targets: Sequence[Target], replications: int,
                 scenario: Scenario | None = None, designs: Sequence[Mapping[str, Any]] = (),
                 function: ModelFunction | None = None, numba_threads: int | None = None,
                 uncalibrated: Sequence[ParameterEvidence] = ()):
        if (scenario is None) == (function is None):
            raise ValueError("give exactly one of a scenario or a model function")
        if uncalibrated and scenario is None:
            raise ValueError("uncalibrated parameters need a scenario, not a model function")
        self.uncalibrated = (ParameterDistribution([e.path for e in uncalibrated], "prior",
                                                   "priors of the uncalibrated parameters",
                                                   priors=uncalibrated)
                             if uncalibrated else None)
        self.targets = list(targets)
        self.replications = int(replications)
        self.scenario = scenario
        self.designs = [dict(d) for d in designs]
        self.function = function
        self.numba_threads = numba_threads
        if function is not None and any(t.over == "designs" for t in self.targets):
            raise ValueError("targets over designs need a scenario, not a model function")

    def _reps(self, over: str) -> int:
        reps = [t.replications or self.replications for t in self.targets if t.over == over]
        return max(reps, default=0)

    def stage_runs(self) -> tuple[int, ...]:
        """Model runs of a particle in each of :data:`STAGES`."""
        return (self._reps(STAGES[0]), self._reps(STAGES[1]) * len(self.designs))

    def runs(self, params: Mapping[str, Any], seed: int) -> pd.DataFrame:
        """Every run of one particle: ``over``, ``design``, ``replication``, ``seed``, outcomes."""
        return pd.DataFrame(self._rows(params, seed))

    def _rows(self, params: Mapping[str, Any], seed: int,
              stages: Sequence[str] = STAGES) -> list[dict[str, Any]]:
        if self.numba_threads is not None and self.function is None:
            import numba

            numba.set_num_threads(max(1, min(self.numba_threads, numba.config.NUMBA_NUM_THREADS)))
        rows: list[dict[str, Any]] = []
        for g, over in enumerate(STAGES):
            reps = self._reps(over)
            if reps == 0 or over not in stages:
                continue
            names = sorted({t.outcome for t in self.targets if t.over == over})
            overrides = [{}] if over == "scenario" else self.designs
            seeds = run_seeds(seed, g, len(overrides), reps)
            for d, design in enumerate(overrides):
                for r in range(reps):
                    s = int(seeds[d, r])
                    row: dict[str, Any] = {"over": over, "design": d, "replication": r,
                                           "seed": s}
                    try:
                        row.update(self._one(params, design, s, names))
                    except Exception as err:  # kept as NaN: the particle is rejected, not lost
                        logger.warning("calibration run failed (params %s, design %d, seed %d): "
                                       "%s: %s", dict(params), d, s, type(err).__name__, err)
                        row.update({n: float("nan") for n in names})
                    rows.append(row)
        return rows

    def _one(self, params: Mapping[str, Any], design: Mapping[str, Any], seed: int,
             names: Sequence[str]) -> dict[str, float]:
        if self.function is not None:
            flat = flatten_outputs(self.function(dict(params), seed))
            return {n: float(flat.get(n, float("nan"))) for n in names}
        from cisim.simulate import simulate

        assert self.scenario is not None
        scenario = self.scenario
        if self.uncalibrated is not None:
            row = self.uncalibrated.draw(1, seed).iloc[0].to_dict()
            scenario = self.uncalibrated.apply(scenario, row)
        if design:
            scenario = scenario.with_overrides(dict(design), source="calibration design")
        scenario = scenario.with_overrides({k: _as_schema_type(k, v) for k, v in params.items()},
                                           source="calibration particle")
        result = simulate(scenario, seed)
        plain = [n for n in names if n not in DERIVED]
        out = extract(result.trajectory, result.summary, scenario.horizon_years, plain, [])
        values = {n: float(out[n]) for n in plain}
        for n in names:
            if n in DERIVED:
                values[n] = float(DERIVED[n](result))
        return values

    def statistics(self, runs: pd.DataFrame | Sequence[Mapping[str, Any]]) -> dict[str, float]:
        """Each target's statistic over its runs (a frame or the rows of :meth:`runs`)."""
        rows = runs.to_dict("records") if isinstance(runs, pd.DataFrame) else runs
        out = {}
        for t in self.targets:
            reps = t.replications or self.replications
            values = [r[t.outcome] for r in rows
                      if r["over"] == t.over and r["replication"] < reps
                      and (t.where is None or t.selects(self.designs[r["design"]]))]
            out[t.id] = statistic(t, values) if values else float("nan")
        return out

    def __call__(self, params: Mapping[str, Any], seed: int) -> dict[str, float]:
        """The targets' statistics of one particle."""
        return self.statistics(self._rows(params, seed))

    def staged(self, params: Mapping[str, Any], seed: int,
               go_on: Callable[[dict[str, float]], bool]) -> dict[str, float]:
        """The statistics of one particle, the designs' runs only if ``go_on`` says so.

        The scenario's runs come first; ``go_on`` sees the statistics they give (the targets
        over the designs are NaN there) and decides whether the designs' runs are worth making.
        When they are, the result is :meth:`__call__`'s, to the bit: every run has the seed it
        has there.
        """
        rows = self._rows(params, seed, stages=STAGES[:1])
        if rows and not go_on(self.statistics(rows)):
            return self.statistics(rows)
        return self.statistics(rows + self._rows(params, seed, stages=STAGES[1:]))

