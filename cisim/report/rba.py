"""Results-Based Accountability views of an ensemble: the curve, the forecast and the target.

The NCIOM task force slides frame collective impact
with Results-Based Accountability: name the result, pick the indicator, read the story behind the
baseline and "turn the curve". Here the *baseline forecast* is the counterfactual world (the same
organisations and money working in isolation, ``outcome_rate_cf``), the *initiative's forecast* is
the factual world (``outcome_rate``), and a scenario's optional ``[target]`` section names the level
the indicator should reach by a year.

Indicators are read as annual averages, the way such data are reported: the value "in year Y" is
the mean of the 52 weekly values ending at week ``52 * Y``. A target counts as met in year Y when
that annual average is at or above the target level; the probability of meeting it is the share of
replications in which it is met, with its binomial standard error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "TargetSpec",
    "annual_means",
    "forecast_table",
    "target_of",
    "target_probability",
    "target_share_by_step",
]

STEPS_PER_YEAR = 52


@dataclass(frozen=True)
class TargetSpec:
    """A scenario's target resolved into trajectory columns.

    Attributes:
        column: The initiative's indicator column (``outcome_rate`` or ``population_change``).
        baseline_column: The same indicator without the initiative (the counterfactual).
        level: The level to reach, in the column's unit.
        year: The year by which it is to be reached.
        label: A plain-language description of the target.
        unit: ``"rate"`` (a fraction, shown in percent) or ``"pp"`` (percentage points).
    """

    column: str
    baseline_column: str
    level: float
    year: float
    label: str
    unit: str


def target_of(scenario: Any) -> TargetSpec | None:
    """Return the scenario's target as trajectory columns.

    None when the scenario sets no target, or when the target's year lies beyond the horizon
    (a shortened what-if run cannot tell whether it is met; see :func:`target_beyond_horizon`).
    """
    target = getattr(scenario, "target", None)
    if target is None or target_beyond_horizon(scenario):
        return None
    outcome = getattr(getattr(scenario, "population", None), "outcome", "in the outcome state")
    year = float(target.year)
    if target.outcome_rate is not None:
        level = float(target.outcome_rate)
        return TargetSpec(
            "outcome_rate", "outcome_rate_cf", level, year,
            f"{100 * level:.1f}% of the population {outcome} by year {year:g}", "rate",
        )
    level = float(target.population_change_pp)
    return TargetSpec(
        "population_change", "population_change_cf", level, year,
        f"a rise of {level:+.2f} percentage points since the start in the share {outcome} "
        f"by year {year:g}", "pp",
    )


def target_beyond_horizon(scenario: Any) -> bool:
    """Whether the scenario's target year lies beyond its simulated horizon."""
    target = getattr(scenario, "target", None)
    horizon = getattr(scenario, "horizon_years", None)
    return target is not None and horizon is not None and target.year > horizon + 1e-9


def annual_means(trajectories: pd.DataFrame, column: str) -> pd.DataFrame:
    """Trailing 52-week means of a column, one column per replication, indexed by step.

    In the first year the mean runs over the weeks since the start.

    Args:
        trajectories: Trajectories with ``step``, ``replication`` and ``column``.
        column: The column to average.

    Returns:
        A wide frame (steps by replications).

    """
    wide = trajectories.pivot(index="step", columns="replication", values=column).astype(float)
    return wide.rolling(STEPS_PER_YEAR, min_periods=1).mean()


def _met(values: pd.DataFrame | pd.Series, level: float) -> Any:
    return values >= level - 1e-9


def target_share_by_step(trajectories: pd.DataFrame, spec: TargetSpec) -> pd.DataFrame:
    """Share of replications whose annual average meets the target, at every step.

    Returns:
        A frame indexed by step with ``year``, ``initiative`` and ``baseline`` (shares in 0-1).

    """
    fact = annual_means(trajectories, spec.column)
    base = annual_means(trajectories, spec.baseline_column)
    return pd.DataFrame(
        {
            "year": fact.index / STEPS_PER_YEAR,
            "initiative": _met(fact, spec.level).mean(axis=1),
            "baseline": _met(base, spec.level).mean(axis=1),
        },
        index=fact.index,
    )


def target_probability(trajectories: pd.DataFrame, spec: TargetSpec) -> dict[str, float]:
    """Probability of meeting the target in its year, with and without the initiative.

    Returns:
        ``p_initiative``, ``se_initiative``, ``p_baseline``, ``se_baseline`` (binomial standard
        errors), ``n`` (replications), ``year`` and ``level``; also the medians of the annual
        averages in the target year, ``median_initiative`` and ``median_baseline``.

    """
    step = round(spec.year * STEPS_PER_YEAR)
    fact = annual_means(trajectories, spec.column)
    base = annual_means(trajectories, spec.baseline_column)
    step = min(step, int(fact.index.max()))
    f = fact.loc[step].to_numpy(dtype=float)
    b = base.loc[step].to_numpy(dtype=float)
    n = len(f)

    def se(p: float) -> float:
        return math.sqrt(p * (1 - p) / n) if n else float("nan")

    p_f = float(_met(f, spec.level).mean()) if n else float("nan")
    p_b = float(_met(b, spec.level).mean()) if n else float("nan")
    return {
        "p_initiative": p_f,
        "se_initiative": se(p_f),
        "p_baseline": p_b,
        "se_baseline": se(p_b),
        "n": float(n),
        "year": spec.year,
        "level": spec.level,
        "median_initiative": float(np.median(f)) if n else float("nan"),
        "median_baseline": float(np.median(b)) if n else float("nan"),
    }


def forecast_table(trajectories: pd.DataFrame, column: str = "outcome_rate",
                   baseline_column: str = "outcome_rate_cf") -> pd.DataFrame:
    """Baseline and initiative forecasts of an indicator, year by year.

    Year 0 is the value at the start; later years are annual averages of the year ending then.

    Returns:
        One row per whole year with ``year`` and, for ``baseline`` and ``initiative``, the median
        and the 5th and 95th percentiles across replications (``baseline_p50`` ...).

    """
    fact = annual_means(trajectories, column)
    base = annual_means(trajectories, baseline_column)
    first = trajectories.pivot(index="step", columns="replication", values=[column,
                                                                            baseline_column])
    last_step = int(fact.index.max())
    rows = []
    for year in range(0, last_step // STEPS_PER_YEAR + 1):
        step = year * STEPS_PER_YEAR
        if year == 0:
            f = first[column].loc[fact.index.min()].to_numpy(dtype=float)
            b = first[baseline_column].loc[fact.index.min()].to_numpy(dtype=float)
        else:
            f = fact.loc[step].to_numpy(dtype=float)
            b = base.loc[step].to_numpy(dtype=float)
        row: dict[str, float] = {"year": float(year)}
        for name, values in (("baseline", b), ("initiative", f)):
            p5, p50, p95 = np.percentile(values, [5, 50, 95])
            row[f"{name}_p5"], row[f"{name}_p50"], row[f"{name}_p95"] = p5, p50, p95
        rows.append(row)
    return pd.DataFrame(rows)
