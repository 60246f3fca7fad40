"""SROI in two framings, and the sensitivity table of the SROI guide.

Follows Nicholls, Lawlor, Neitzert & Goodspeed, *A Guide to Social Return on Investment*
(Cabinet Office 2009, revised 2012). The guide asks for the impact of an activity against what
would have happened without it (deadweight), less what others contributed (attribution) and what
it displaced, valued with a financial proxy, projected with a drop-off, discounted, over the
inputs of that activity, and for a sensitivity analysis: how far each estimate must change for
the ratio to fall to 1 (its "stage 5").

The model offers two honest framings (``docs/model.md``, section 7.12):

*Initiative SROI* (the initiative against the status quo before it). The population is
calibrated so that the partners working alone on their own budgets, before the initiative's
money, keep the outcome rate at its baseline (``cisim.population``): the status quo is the flat
start-of-run rate. Value: outcome-years above the start-of-run rate, less
``valuation.deadweight`` (change the model leaves out that would have happened anyway: outside
trends); input: all initiative money (external streams and partners' grants) plus partners'
coordination time.

*Collaboration SROI* (collaborating against the same money in isolation). Value: outcome-years
above the counterfactual world (the same partners, population and money working alone, so the
simulated counterfactual is the deadweight); input: the cost of collaborating, i.e. the backbone
budget, the shared-measurement investment and the coordination and meeting hours valued at
``valuation.coordination_hour_cost`` (in the counterfactual that money funds programmes).

Both ratios are ``proxy (1 - deadweight)(1 - attribution)(1 - displacement) (G + F T) / I``,
with ``G`` the discounted outcome-years gained within the horizon, ``F`` the final-year gain in
people, ``T`` the discounted projection factor with drop-off and ``I`` the discounted input.
This module holds that arithmetic; nothing here runs the model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from cisim.outcomes import discount, projected_value
from cisim.scenario import MIN_MONEY, STEPS_PER_YEAR

__all__ = [
    "FRAMINGS",
    "SENSITIVITY_RANGES",
    "Adjustments",
    "Framing",
    "SensitivityRow",
    "adjustments_of",
    "framing_components",
    "framing_ratio",
    "present_value",
    "projection_factor",
    "sensitivity_table",
]


@dataclass(frozen=True)
class Framing:
    """One way of asking "return on what?"; its summary columns are ``<key>_*``."""

    key: str
    label: str
    value_text: str
    input_text: str


FRAMINGS = (
    Framing(
        "initiative", "Initiative SROI",
        "outcome-years above the start-of-run rate (the status quo before the initiative, which "
        "the model holds flat by calibration), less deadweight for change the model leaves out",
        "all initiative money (funding streams and partners' grants) plus partners' "
        "coordination and meeting time",
    ),
    Framing(
        "collaboration", "Collaboration SROI",
        "outcome-years above the counterfactual: the same partners, population and money "
        "working in isolation (the simulated deadweight)",
        "the cost of collaborating: backbone budget, shared-measurement investment and "
        "coordination and meeting time",
    ),
)


@dataclass(frozen=True)
class Adjustments:
    """The valuation inputs one ratio depends on (all yearly rates and shares in 0-1)."""

    value_per_outcome_year: float
    deadweight: float
    attribution: float
    displacement: float
    drop_off: float
    projection_years: float
    discount_rate: float

    @property
    def value_factor(self) -> float:
        """Value of one outcome-year after deadweight, attribution and displacement."""
        return (self.value_per_outcome_year * (1 - self.deadweight) * (1 - self.attribution)
                * (1 - self.displacement))


def adjustments_of(valuation: object, framing: str) -> Adjustments:
    """The adjustments of a scenario's ``[valuation]`` for a framing.

    The initiative framing deducts ``valuation.deadweight``; the collaboration framing's
    deadweight is the simulated counterfactual, so no further share is deducted (0).
    """
    v = valuation
    return Adjustments(
        value_per_outcome_year=float(v.value_per_outcome_year),  # type: ignore[attr-defined]
        deadweight=float(v.deadweight) if framing == "initiative" else 0.0,  # type: ignore
        attribution=float(v.attribution),  # type: ignore[attr-defined]
        displacement=float(v.displacement),  # type: ignore[attr-defined]
        drop_off=float(v.drop_off),  # type: ignore[attr-defined]
        projection_years=float(v.projection_years),  # type: ignore[attr-defined]
        discount_rate=float(v.discount_rate),  # type: ignore[attr-defined]
    )


def framing_components(trajectory: pd.DataFrame, population: int, discount_rate: float
                       ) -> dict[str, float]:
    """Per-framing gain, final gain and input of one run, from its trajectory.

    Args:
        trajectory: One run's trajectory (``step``, ``outcome_rate``, ``outcome_rate_cf``,
            ``investment``, ``collaboration_cost``).
        population: Number of beneficiaries.
        discount_rate: Yearly discount rate.

    Returns:
        ``<framing>_gain_years_pv``, ``<framing>_final_gain`` and ``<framing>_input_pv`` for
        ``initiative`` and ``collaboration``: discounted outcome-years gained in steps 1 and
        later, people above the reference in the final step, and discounted input.
    """
    t = trajectory
    later = t["step"].to_numpy() > 0
    steps = t["step"].to_numpy(dtype=float)[later]
    rate = t["outcome_rate"].to_numpy(dtype=float)
    rate_cf = t["outcome_rate_cf"].to_numpy(dtype=float)
    start = rate[0]
    weekly = population / STEPS_PER_YEAR
    out = {
        "initiative_gain_years_pv": present_value((rate[later] - start) * weekly, steps,
                                                  discount_rate),
        "initiative_final_gain": float((rate[-1] - start) * population),
        "initiative_input_pv": present_value(t["investment"].to_numpy(float)[later], steps,
                                             discount_rate),
        "collaboration_gain_years_pv": present_value((rate[later] - rate_cf[later]) * weekly,
                                                     steps, discount_rate),
        "collaboration_final_gain": float((rate[-1] - rate_cf[-1]) * population),
        "collaboration_input_pv": present_value(
            t["collaboration_cost"].to_numpy(float)[later], steps, discount_rate),
    }
    return out


def present_value(flows: np.ndarray, steps: np.ndarray, rate: float) -> float:
    """Present value of weekly flows at ``steps`` for a yearly discount ``rate``."""
    return float(np.sum(np.asarray(flows, dtype=float) * discount(steps, rate)))


def projection_factor(adj: Adjustments, horizon_years: float) -> float:
    """Discounted outcome-years per person of final-year gain projected after the horizon."""
    return projected_value(1.0, 1, 1.0, adj.projection_years, adj.drop_off, adj.discount_rate,
                           horizon_years)


def framing_ratio(gain_years_pv: float | np.ndarray, final_gain: float | np.ndarray,
                  input_pv: float | np.ndarray, adj: Adjustments, horizon_years: float
                  ) -> float | np.ndarray:
    """The SROI ratio of one framing (elementwise over futures).

    Args:
        gain_years_pv: Discounted outcome-years gained within the horizon.
        final_gain: People above the reference in the final year (rate difference times the
            population), projected with drop-off for ``adj.projection_years``.
        input_pv: Discounted input (money and time); a ratio over less than
            ``MIN_MONEY`` (one cent: no money) is NaN.
        adj: The valuation.
        horizon_years: When the projection starts.

    Returns:
        ``value_factor (G + F T) / I``; NaN where the input is below one cent.
    """
    g = np.asarray(gain_years_pv, dtype=float)
    f = np.asarray(final_gain, dtype=float)
    i = np.asarray(input_pv, dtype=float)
    value = adj.value_factor * (g + f * projection_factor(adj, horizon_years))
    with np.errstate(divide="ignore", invalid="ignore"):
        some = i >= MIN_MONEY
        out = np.where(some, value / np.where(some, i, 1.0), np.nan)
    return float(out) if out.ndim == 0 else out


# ---- sensitivity (the guide's stage 5) ----------------------------------------------------------


@dataclass(frozen=True)
class SensitivityRow:
    """How the ratio moves with one input, and what value of it brings the ratio to 1.

    Attributes:
        parameter: The valuation field (``deadweight``, ``attribution``, ...).
        label: Its plain name.
        base: The value in use.
        low, high: The test values.
        ratio_base, ratio_low, ratio_high: The (median) ratio at each.
        break_even: The value of the input at which the ratio is 1 (None if not reachable).
        change: ``break_even - base`` (for the proxy: the relative change, -0.4 = 40% lower).
        note: Why there is no break-even value, or what the row means.
    """

    parameter: str
    label: str
    base: float
    low: float
    high: float
    ratio_base: float
    ratio_low: float
    ratio_high: float
    break_even: float | None
    change: float | None
    note: str = ""


#: Test values (low, high) of the shares; illustrative bounds for the analyst's judgments, not
#: priors. The financial proxy is tested at half and one and a half times its value.
SENSITIVITY_RANGES: dict[str, tuple[float, float]] = {
    "deadweight": (0.0, 0.5),
    "attribution": (0.0, 0.5),
    "displacement": (0.0, 0.3),
    "drop_off": (0.0, 0.5),
}
PROXY_RANGE = (0.5, 1.5)

_LABELS = {
    "deadweight": "Deadweight",
    "attribution": "Attribution",
    "displacement": "Displacement",
    "drop_off": "Drop-off (per year after the horizon)",
    "value_per_outcome_year": "Financial proxy (value per outcome-year)",
}


@dataclass
class _Futures:
    gain: np.ndarray
    final: np.ndarray
    input: np.ndarray
    horizon_years: float
    stat: Callable[[np.ndarray], float] = field(default=lambda r: float(np.median(r)))

    def ratio(self, adj: Adjustments) -> float:
        r = np.atleast_1d(framing_ratio(self.gain, self.final, self.input, adj,
                                        self.horizon_years))
        r = r[np.isfinite(r)]
        return self.stat(r) if r.size else float("nan")


def sensitivity_table(gain_years_pv: Sequence[float] | np.ndarray,
                      final_gain: Sequence[float] | np.ndarray,
                      input_pv: Sequence[float] | np.ndarray, adj: Adjustments,
                      horizon_years: float,
                      ranges: dict[str, tuple[float, float]] | None = None,
                      proxy_range: tuple[float, float] = PROXY_RANGE) -> list[SensitivityRow]:
    """The guide's sensitivity table for the median ratio across futures.

    For each of deadweight, attribution, displacement, drop-off and the financial proxy: the
    median ratio at the value in use and at a low and a high test value, and the value of that
    input at which the median ratio equals 1. The shares are searched within [0, 1] by root
    finding (each future's ratio is monotone in each input, so the median is too); the proxy
    is solved exactly (the ratio is proportional to it).

    Args:
        gain_years_pv: Per future, discounted outcome-years gained within the horizon.
        final_gain: Per future, people above the reference in the final year.
        input_pv: Per future, discounted input.
        adj: The valuation in use (``deadweight`` is the framing's own).
        horizon_years: The horizon.
        ranges: Test values of the shares (default :data:`SENSITIVITY_RANGES`).
        proxy_range: Test multiples of the proxy.

    Returns:
        One row per input, in the order above.
    """
    futures = _Futures(np.asarray(gain_years_pv, float), np.asarray(final_gain, float),
                       np.asarray(input_pv, float), horizon_years)
    ranges = SENSITIVITY_RANGES if ranges is None else ranges
    base_ratio = futures.ratio(adj)
    rows = []
    for name, (lo, hi) in ranges.items():
        x0 = float(getattr(adj, name))

        def at(x: float, name: str = name) -> float:
            return futures.ratio(replace(adj, **{name: x}))

        r_lo, r_hi = at(lo), at(hi)
        note = ""
        if name == "drop_off" and projection_factor(replace(adj, drop_off=0.0),
                                                    horizon_years) == 0:
            rows.append(SensitivityRow(name, _LABELS[name], x0, lo, hi, base_ratio, r_lo, r_hi,
                                       None, None, "no effect: no projection beyond the horizon "
                                       "(valuation.projection_years = 0)"))
            continue
        x_star, note = _solve_share(at, x0, base_ratio)
        rows.append(SensitivityRow(name, _LABELS[name], x0, lo, hi, base_ratio, r_lo, r_hi,
                                   x_star, None if x_star is None else x_star - x0, note))
    p0 = adj.value_per_outcome_year
    lo_p, hi_p = p0 * proxy_range[0], p0 * proxy_range[1]
    r_lo = futures.ratio(replace(adj, value_per_outcome_year=lo_p))
    r_hi = futures.ratio(replace(adj, value_per_outcome_year=hi_p))
    if not np.isfinite(base_ratio):
        p_star, change, note = None, None, "no ratio: no input"
    elif base_ratio <= 0 or p0 <= 0:
        p_star, change, note = None, None, "not reachable: the value is not positive"
    else:
        p_star = p0 / base_ratio
        change, note = p_star / p0 - 1, ""
    rows.append(SensitivityRow("value_per_outcome_year", _LABELS["value_per_outcome_year"], p0,
                               lo_p, hi_p, base_ratio, r_lo, r_hi, p_star, change, note))
    return rows


def _solve_share(at: Callable[[float], float], x0: float, base_ratio: float
                 ) -> tuple[float | None, str]:
    """The share in [0, 1] at which ``at`` is 1, or None with the reason."""
    if not np.isfinite(base_ratio):
        return None, "no ratio: no input"
    f0, f1 = at(0.0) - 1.0, at(1.0) - 1.0
    if not (np.isfinite(f0) and np.isfinite(f1)):
        return None, "no ratio"
    if abs(base_ratio - 1.0) < 1e-12:
        return x0, ""
    if f0 == 0:
        return 0.0, ""
    if f1 == 0:
        return 1.0, ""
    if np.sign(f0) == np.sign(f1):
        return None, "not reachable within [0, 1]"
    return float(brentq(lambda x: at(x) - 1.0, 0.0, 1.0, xtol=1e-10)), ""

