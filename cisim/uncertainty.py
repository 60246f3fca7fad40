"""How sure: split an ensemble's spread into chance and the assumptions, and name the assumptions.

An ensemble (:func:`cisim.simulate.ensemble`) draws R parameter sets from the model's parameter
distribution and runs each with S different seeds (``seeds_per_draw``). For an outcome Y the law
of total variance splits its variance into

* **chance**: E[Var(Y | parameters)], estimated by the variance within each parameter set;
* **the assumptions**: Var(E[Y | parameters]), estimated by the variance of the set means minus
  the chance variance over S (the means of S seeds still carry chance).

This is the one-way random-effects analysis of variance (Searle, Casella & McCulloch, *Variance
Components*, 1992) and the separation of parametric from stochastic variance used for stochastic
simulators (Saltelli et al., *Global Sensitivity Analysis: The Primer*, 2008). With S = 2 the
between-set estimate is noisy, so the shares come with a bootstrap interval over parameter sets.

Which assumptions move the result most is measured by Spearman's rank correlation between each
drawn parameter and the outcome averaged over the seeds of its set (Helton & Davis, "Latin
hypercube sampling and the propagation of uncertainty in analyses of complex systems", 2003).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "KEY_OUTCOMES",
    "Outcome",
    "chance_band",
    "outcome_values",
    "top_assumptions",
    "uncertainty_summary",
    "variance_shares",
]

#: Two-sided 90% normal quantile: a chance-only band of +-1.645 standard deviations.
_Z90 = 1.6448536269514722


@dataclass(frozen=True)
class Outcome:
    """A per-replication outcome whose spread is decomposed.

    Attributes:
        key: Short identifier (used in the report's numbers).
        label: Plain-language label.
        column: The summary column.
        censor_at_horizon: A missing value means "not by the horizon": count it at the horizon.
    """

    key: str
    label: str
    column: str
    censor_at_horizon: bool = False


#: The outcomes the report decomposes.
KEY_OUTCOMES: tuple[Outcome, ...] = (
    Outcome("population_change", "Population change vs counterfactual at the horizon (pp)",
            "population_change_vs_cf_final"),
    Outcome("sroi", "SROI at the horizon", "sroi_final"),
    Outcome("time_to_change", "Years to a significant population change (none: the horizon)",
            "first_significant_change_year", censor_at_horizon=True),
)


def _components(y: np.ndarray) -> tuple[float, float]:
    """(parameter variance, chance variance) of a balanced (sets x seeds) array."""
    s = y.shape[1]
    chance = float(np.mean(np.var(y, axis=1, ddof=1)))
    between = float(np.var(y.mean(axis=1), ddof=1))
    return max(0.0, between - chance / s), chance


def variance_shares(values: Sequence[float] | np.ndarray, groups: Sequence[int] | np.ndarray,
                    *, n_boot: int = 1000, seed: int = 0, level: float = 0.9
                    ) -> dict[str, Any] | None:
    """Split the variance of ``values`` into parameter sets (``groups``) and chance.

    Only complete sets are used: the commonest number of finite values per set, with every value
    finite. The interval resamples parameter sets with replacement (percentile bootstrap).

    Args:
        values: One outcome per replication.
        groups: The parameter set of each replication.
        n_boot: Bootstrap resamples for the interval.
        seed: Seed of the bootstrap.
        level: Coverage of the interval.

    Returns:
        ``share_parameters`` and ``share_chance`` (summing to 1), their ``low``/``high``
        interval for the parameter share, the variances ``var_parameters``, ``var_chance``,
        ``var_total``, ``sets`` and ``seeds_per_set``; None when fewer than three complete sets
        of at least two seeds exist (nothing to separate).
    """
    g = np.asarray(groups)
    y_all = np.asarray(values, dtype=float)
    planned = pd.Series(g).value_counts()
    if planned.empty:
        return None
    s = int(planned.mode().iloc[0])
    finite = pd.Series(np.isfinite(y_all)).groupby(g).sum()
    keep = [k for k in finite.index if finite[k] == s and planned[k] == s]
    if s < 2 or len(keep) < 3:
        return None
    y = np.vstack([y_all[g == k] for k in keep])
    var_p, var_c = _components(y)
    total = var_p + var_c
    share = var_p / total if total > 0 else float("nan")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0xB007]))
    boot = []
    for _ in range(n_boot):
        yb = y[rng.integers(0, y.shape[0], y.shape[0])]
        vp, vc = _components(yb)
        if vp + vc > 0:
            boot.append(vp / (vp + vc))
    tail = (1 - level) / 2 * 100
    low, high = (np.percentile(boot, [tail, 100 - tail]) if boot
                 else (float("nan"), float("nan")))
    return {"share_parameters": share, "share_chance": 1 - share if math.isfinite(share)
            else float("nan"), "low": float(low), "high": float(high),
            "var_parameters": var_p, "var_chance": var_c, "var_total": total,
            "sets": int(y.shape[0]), "seeds_per_set": s}


def outcome_values(result: Any, outcome: Outcome) -> np.ndarray:
    """An outcome per replication, in replication order (censored at the horizon if asked)."""
    summaries = result.summaries.sort_values("replication")
    if outcome.column not in summaries.columns:
        return np.full(len(summaries), np.nan)
    y = pd.to_numeric(summaries[outcome.column], errors="coerce").to_numpy(dtype=float)
    if outcome.censor_at_horizon:
        y = np.where(np.isnan(y), float(result.scenario.horizon_years), y)
    return y


def _varied_paths(parameters: pd.DataFrame) -> list[str]:
    paths = [c for c in parameters.columns if c not in ("replication", "parameter_set")]
    return [p for p in paths if parameters[p].nunique() > 1]


def top_assumptions(result: Any, outcome: Outcome = KEY_OUTCOMES[0], k: int = 5
                    ) -> list[dict[str, Any]]:
    """The drawn parameters most associated with an outcome, by Spearman's rank correlation.

    The outcome is averaged over the seeds of each parameter set first (less chance in it).

    Args:
        result: An ensemble with a ``parameters`` frame.
        outcome: The outcome.
        k: How many to return.

    Returns:
        Up to ``k`` dicts (``path``, ``rho``, ``p_value``, ``direction``: "raises" or
        "lowers"), strongest first; empty when nothing was drawn.
    """
    from scipy.stats import spearmanr

    params = getattr(result, "parameters", pd.DataFrame())
    paths = _varied_paths(params) if len(params) else []
    if not paths:
        return []
    frame = params.sort_values("replication").reset_index(drop=True).copy()
    frame["_y"] = outcome_values(result, outcome)
    frame = frame[np.isfinite(frame["_y"])]
    per_set = frame.groupby("parameter_set")[[*paths, "_y"]].mean()
    if len(per_set) < 4:
        return []
    rows = []
    for p in paths:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a constant outcome gives NaN, reported as such
            rho, pval = spearmanr(per_set[p], per_set["_y"])
        if not math.isfinite(float(rho)):
            continue
        rows.append({"path": p, "rho": float(rho), "p_value": float(pval),
                     "direction": "raises" if rho > 0 else "lowers"})
    rows.sort(key=lambda r: -abs(r["rho"]))
    return rows[:k]


def chance_band(result: Any, column: str = "population_change_vs_cf",
                level: float = 0.9, smooth: int = 13) -> pd.DataFrame:
    """Per step: the full band across replications, the part due to chance, the variance split.

    The chance band is the median plus and minus the normal quantile times the within-set
    standard deviation (the spread seeds alone give around a fixed parameter set), cut at the
    full band (chance alone is never wider than everything); ``share_parameters`` is the law of
    total variance split of :func:`variance_shares` at each step. Both use complete sets of the
    commonest size, with their variances averaged over a centred window of ``smooth`` steps (a
    quarter) to damp the noise of few pairs.

    Returns:
        A frame with ``year``, ``low``, ``median``, ``high`` (percentiles across every
        replication), ``chance_low``, ``chance_high`` and ``share_parameters``; the last three
        are NaN when the ensemble has fewer than three repeated parameter sets.
    """
    from cisim.scenario import STEPS_PER_YEAR

    traj = result.trajectories
    wide = traj.pivot(index="step", columns="replication", values=column).sort_index(axis=1)
    values = wide.to_numpy(dtype=float)
    tail = (1 - level) / 2 * 100
    out = pd.DataFrame(index=wide.index)
    out["year"] = wide.index / STEPS_PER_YEAR
    sd = share = np.full(len(out), np.nan)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        out["low"] = np.nanpercentile(values, tail, axis=1)
        out["median"] = np.nanpercentile(values, 50, axis=1)
        out["high"] = np.nanpercentile(values, 100 - tail, axis=1)
        params = getattr(result, "parameters", pd.DataFrame())
        if len(params) and "parameter_set" in params:
            sets = params.set_index("replication")["parameter_set"].reindex(wide.columns)
            counts = sets.value_counts()
            size = int(counts.mode().iloc[0]) if len(counts) else 0
            full = counts[counts == size].index
            if size >= 2 and len(full) >= 3:
                y = np.stack([values[:, (sets == g).to_numpy()] for g in full])  # set, step, seed
                window = {"window": smooth, "center": True, "min_periods": 1}
                chance = pd.Series(np.nanmean(np.nanvar(y, axis=2, ddof=1), axis=0))
                between = pd.Series(np.nanvar(np.nanmean(y, axis=2), axis=0, ddof=1))
                chance = chance.rolling(**window).mean().to_numpy()
                between = between.rolling(**window).mean().to_numpy()
                param = np.maximum(0.0, between - chance / size)
                sd = np.sqrt(chance)
                share = np.where(param + chance > 0, param / (param + chance), np.nan)
    z = _normal_quantile(level)
    out["chance_low"] = np.maximum(out["median"] - z * sd, out["low"])
    out["chance_high"] = np.minimum(out["median"] + z * sd, out["high"])
    out["share_parameters"] = share
    return out


def _normal_quantile(level: float) -> float:
    if abs(level - 0.9) < 1e-12:
        return _Z90
    from scipy.stats import norm

    return float(norm.ppf(0.5 + level / 2))


def uncertainty_summary(result: Any, k: int = 5) -> dict[str, Any]:
    """The numbers the report states about the two sources of uncertainty.

    Args:
        result: An ensemble (``parameters`` and ``distribution`` may be absent: seed only).
        k: How many assumptions to name.

    Returns:
        ``kind`` (``prior``, ``posterior`` or ``none``), ``source``, ``seed_only``, ``drawn``
        (paths drawn), ``pinned``, ``seeds_per_draw``, ``sets``, ``shares`` (per outcome key:
        :func:`variance_shares` or None, plus ``label``), ``top`` (per outcome key: the ``k``
        strongest of :func:`top_assumptions`) and ``rho`` (per outcome key: every drawn path's
        rank correlation).
    """
    dist = dict(getattr(result, "distribution", None) or {})
    kind = str(dist.get("kind", "none"))
    params = getattr(result, "parameters", pd.DataFrame())
    seed_only = kind == "none" or not len(params)
    out: dict[str, Any] = {
        "kind": kind,
        "source": str(dist.get("source", "fixed at the scenario's values (seed only)")),
        "seed_only": seed_only,
        "drawn": [p for p in dist.get("names", []) if p not in set(dist.get("pinned", []))],
        "pinned": list(dist.get("pinned", [])),
        "seeds_per_draw": int(dist.get("seeds_per_draw", 1)),
        "sets": int(params["parameter_set"].nunique()) if "parameter_set" in params else 0,
        "shares": {},
        "top": {},
        "rho": {},
    }
    if seed_only:
        return out
    groups = params.sort_values("replication")["parameter_set"].to_numpy()
    for outcome in KEY_OUTCOMES:
        shares = variance_shares(outcome_values(result, outcome), groups)
        out["shares"][outcome.key] = None if shares is None else {"label": outcome.label,
                                                                   **shares}
        ranked = top_assumptions(result, outcome, k=len(out["drawn"]) or k)
        out["top"][outcome.key] = ranked[:k]
        out["rho"][outcome.key] = {r["path"]: r["rho"] for r in ranked}
    return out
