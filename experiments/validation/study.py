"""Running the validation study: the sampled population of initiatives and its paired variants.

The population is a Latin hypercube over the design space of :mod:`.designs`, run with
:func:`cisim.sweep.sweep_function` (joblib execution, one seed per design from
``SeedSequence(seed, spawn_key=(point, 0))``, a resumable Parquet store), so the study reuses the
sweep machinery rather than a copy of it. Each run returns the per-initiative measurements the
patterns need (:func:`run_design`). A second, smaller sweep runs each of its designs twice with
common random numbers, once as designed and once with systems change switched off
(:func:`run_design_without_systems_change`), for the systems-change pattern (ORS Impact & Spark
Policy Institute 2018). One study seed drives both sweeps: the Latin hypercube of designs and
every run's seed (:func:`sweep_seeds`), so another seed is a fresh sample of initiatives.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cisim.calibrate.summaries import first_year_at_least, trust_interaction_effects
from cisim.outcomes import log_odds_gap
from cisim.scenario import CADENCE_WEEKS, STEPS_PER_YEAR, Scenario
from cisim.simulate import SimulationResult, simulate
from cisim.sweep import ResultStore, sweep_function

from .designs import DIMENSIONS, NAMES, POPULATION_SIZE, base_scenario, design_scenario

__all__ = [
    "NO_SYSTEMS_CHANGE",
    "DesignRun",
    "StudyConfig",
    "StudyData",
    "measure",
    "run_design",
    "run_design_without_systems_change",
    "run_study",
    "sweep_seeds",
]

#: Overrides that switch systems change off (services, practices and policy never change).
NO_SYSTEMS_CHANGE = {
    "dynamics.systems_change_rate_per_year": 0.0,
    "dynamics.policy_change_rate_per_year": 0.0,
}

def _at(t: pd.DataFrame, col: str, year: float) -> float:
    return float(t[col].iloc[min(len(t) - 1, round(year * STEPS_PER_YEAR))])


def _odds_gap(result: SimulationResult, world: str, step: int) -> float:
    """Log odds ratio of the outcome state, majority over disadvantaged subgroups, at a step."""
    groups = result.scenario.population.subgroups
    return log_odds_gap(result.subgroups, {s.name: s.share for s in groups},
                        {s.name for s in groups if s.disadvantaged}, world, step)


def measure(result: SimulationResult) -> dict[str, Any]:
    """The per-initiative measurements the patterns are checked on (one simulated run)."""
    t = result.trajectory
    s = result.summary
    sc = result.scenario
    H = sc.horizon_years
    last = len(t) - 1
    cadence = sc.meetings.cadence
    streams = sc.funding.streams
    anchor_years = max([st.years for st in streams if st.anchor], default=0.0)
    share = _at(t, "served_share", H)
    cf_served = _at(t, "outcome_rate_cf_served", H)
    cf_unserved = ((_at(t, "outcome_rate_cf", H) - share * cf_served) / (1 - share)
                   if share < 1 else float("nan"))
    good, bad = trust_interaction_effects(t)
    first = s["first_significant_change_year"]
    out: dict[str, Any] = {
        # the design as realised
        "n_partners": float(t["active_partners"].iloc[0]),
        "backbone": float(sc.backbone.present),
        "backbone_fte": float(sc.backbone.staff.project_manager) if sc.backbone.present else 0.0,
        "anchor": float(any(st.anchor for st in streams)),
        "anchor_committed_years": float(anchor_years),
        "meetings_per_year": (0.0 if cadence == "none" else STEPS_PER_YEAR
                              / CADENCE_WEEKS[cadence]),
        "equity_focus_level": float(sc.engagement.equity_focus),
        "measurement_shared": float(sc.measurement.shared),
        # population change against the counterfactual
        "pc": np.array([_at(t, "population_change_vs_cf", y) for y in range(int(H) + 1)]),
        "first_change_year": float(first),
        "change_reached": float(math.isfinite(first)),
        # the five conditions and the other components, yearly (stored as column@year)
        **{c: np.array([_at(t, c, y) for y in range(int(H) + 1)]) for c in (
            "trust", "agreement", "alignment", "measurement", "backbone_capacity",
            "engagement", "runway_years")},
        "years_to_trust": first_year_at_least(t, "trust", sc.phases.run_min_trust),
        "trust_good_effect": good,
        "trust_bad_effect": bad,
        # equity
        "equity_gap_start": float(t["equity_gap"].iloc[0]),
        "equity_gap_final": _at(t, "equity_gap", H),
        "equity_gap_cf_final": _at(t, "equity_gap_cf", H),
        "log_odds_gap_final": _odds_gap(result, "factual", last),
        "log_odds_gap_cf_final": _odds_gap(result, "counterfactual", last),
        # systems change and who benefits
        "systems_change_final": _at(t, "systems_change", H),
        "policy_change_final": _at(t, "policy_change", H),
        "served_share_final": share,
        "served_rate_final": _at(t, "served_outcome_rate", H),
        "served_rate_cf_final": cf_served,
        "unserved_rate_final": _at(t, "unserved_outcome_rate", H),
        "unserved_rate_cf_final": cf_unserved,
        # small wins and commitment
        "measured_change@3": 100 * (_at(t, "measured_rate", 3) - _at(t, "measured_rate", 0)),
        "active_partners_final": float(t["active_partners"].iloc[-1]),
        "sroi_final": float(s["sroi_final"]),
    }
    return out


def _design(params: Mapping[str, Any], extra: dict[str, Any] | None = None,
            horizon_years: float = 10.0, population_size: int = POPULATION_SIZE,
            assumptions: tuple[tuple[str, float], ...] = ()) -> Scenario:
    u = {k: float(params[k]) for k in NAMES}
    base = base_scenario(population_size=population_size, horizon_years=horizon_years)
    if assumptions:
        base = base.with_overrides(dict(assumptions), source="validation assumptions")
    return design_scenario(u, base, extra)


#: The measurements the paired sweep keeps from each of its two runs.
PAIRED_KEYS = ("pc", "change_reached", "unserved_rate_final", "unserved_rate_cf_final",
               "served_rate_final", "served_rate_cf_final", "served_share_final",
               "systems_change_final", "policy_change_final")


@dataclass(frozen=True)
class DesignRun:
    """The model function of a sweep: one sampled design, one seed (picklable for workers).

    Attributes:
        horizon_years: Simulated years.
        population_size: Beneficiaries per initiative.
        paired: Run the design as designed and without systems change (common random numbers).
        assumptions: Assumed constants in place of the schema defaults (path, value).
    """

    horizon_years: float = 10.0
    population_size: int = POPULATION_SIZE
    paired: bool = False
    assumptions: tuple[tuple[str, float], ...] = ()

    def __call__(self, params: dict[str, Any], seed: int) -> dict[str, Any]:
        """Measure one design at one seed."""
        sc = _design(params, horizon_years=self.horizon_years,
                     population_size=self.population_size, assumptions=self.assumptions)
        on = measure(simulate(sc, seed))
        if not self.paired:
            return on
        off = measure(simulate(sc.with_overrides(NO_SYSTEMS_CHANGE, source="no systems change"),
                               seed))
        out = {f"on_{k}": on[k] for k in PAIRED_KEYS}
        out.update({f"off_{k}": off[k] for k in PAIRED_KEYS})
        return out


def run_design(params: dict[str, Any], seed: int) -> dict[str, Any]:
    """Model function of the population sweep at the study's sizes: one design, one seed."""
    return DesignRun()(params, seed)


def run_design_without_systems_change(params: dict[str, Any], seed: int) -> dict[str, Any]:
    """The same design and seed run as designed and without systems change (paired)."""
    return DesignRun(paired=True)(params, seed)


@dataclass(frozen=True)
class StudyConfig:
    """Sizes of a study run.

    Attributes:
        designs: Initiatives in the sampled population (Latin hypercube points).
        paired_designs: Designs run with and without systems change.
        seed: Study seed: drives the sample of designs and every run's seed (both sweeps).
        jobs: joblib workers.
        horizon_years: Simulated years (10: the patterns' horizon; shorter only for tests).
        population_size: Beneficiaries per initiative (smaller only for tests).
        assumptions: Assumed constants every design uses instead of the schema defaults
            (path, value), e.g. the calibrated posterior's medians.
    """

    designs: int = 5120
    paired_designs: int = 768
    seed: int = 2005  # Grimm et al. 2005; the sample the earlier recalibration looked at
    jobs: int = 2
    horizon_years: float = 10.0
    population_size: int = POPULATION_SIZE
    assumptions: tuple[tuple[str, float], ...] = ()


QUICK = StudyConfig(designs=40, paired_designs=10)


def sweep_seeds(seed: int) -> tuple[int, int]:
    """Master seeds of the population and the paired sweep of one study seed.

    The population sweep uses the study seed itself; the paired sweep a 32-bit seed spawned
    from it (``SeedSequence(seed, spawn_key=(1,))``), so no two study seeds share a stream.
    """
    child = np.random.SeedSequence(int(seed), spawn_key=(1,))
    return int(seed), int(child.generate_state(1, dtype=np.uint32)[0])


@dataclass
class StudyData:
    """The study's runs: one row per sampled initiative, one per paired design."""

    population: pd.DataFrame
    paired: pd.DataFrame
    population_store: ResultStore
    paired_store: ResultStore


def _space() -> list[dict[str, Any]]:
    return [{"path": d.name, "bounds": [0.0, 1.0]} for d in DIMENSIONS]


def _read(store: ResultStore) -> pd.DataFrame:
    runs = store.read()
    sample = store.sample()
    keep = [c for c in sample.columns if c not in ("replication", "seed")]
    frame = runs.merge(sample[keep].drop_duplicates("point"), on="point", how="left")
    failed = frame["error"].astype(str) != ""
    if failed.any():
        raise RuntimeError(f"{int(failed.sum())} validation runs failed; first: "
                           f"{frame.loc[failed, 'error'].iloc[0]}")
    return frame


def run_study(out: str | Path, config: StudyConfig = StudyConfig(), *, resume: bool = False,
              progress: Any = None) -> StudyData:
    """Run (or resume) both sweeps of the study into ``out`` and read them back.

    Args:
        out: Directory for the two Parquet stores (``population/`` and ``paired/``).
        config: Sizes.
        resume: Continue stores left by an interrupted run.
        progress: Passed to :func:`cisim.sweep.run_sweep` (True for a tqdm bar).

    Returns:
        The runs as frames (with the design coordinates).
    """
    out = Path(out)
    pop = ResultStore(out / "population")
    pair = ResultStore(out / "paired")
    pop_seed, pair_seed = sweep_seeds(config.seed)
    sizes = f"h{config.horizon_years:g}_p{config.population_size}"
    if config.assumptions:  # stores of other assumptions are refused on resume
        digest = hashlib.sha256(repr(config.assumptions).encode()).hexdigest()[:10]
        sizes += f"_a{digest}"
    common = {"sampler": "latin", "replications": 1, "jobs": config.jobs, "progress": progress}
    # Always through the sweep: on resume it refuses a store of another spec (sizes, seed)
    # and runs only what is missing.
    sweep_function(DesignRun(config.horizon_years, config.population_size,
                             assumptions=config.assumptions), _space(),
                   pop.path, n=config.designs, resume=resume, seed=pop_seed,
                   name=f"validation_population_{sizes}", **common)
    sweep_function(DesignRun(config.horizon_years, config.population_size, paired=True,
                             assumptions=config.assumptions),
                   _space(), pair.path, n=config.paired_designs, resume=resume,
                   seed=pair_seed, name=f"validation_paired_{sizes}", **common)
    return StudyData(_read(pop), _read(pair), pop, pair)
