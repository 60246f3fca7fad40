"""Outcomes: the per-step record of a run, population change, equity and SROI.

SROI follows the SROI guide (Nicholls, Lawlor, Neitzert & Goodspeed 2012): outcome-years gained
are valued with a financial proxy; deadweight is what the counterfactual world achieved anyway
(so only the difference counts); attribution and displacement are deducted as shares; values
and investments are discounted (HM Treasury Green Book, 3.5% a year); the final-year outcome can
be projected ``projection_years`` beyond the horizon with ``drop_off`` a year. The ratio is the
present value of the adjusted social value over the present value of the investment (initiative
money plus partners' in-kind coordination time). That ``sroi`` column (and the summary's
``sroi_final``) sets the value of collaborating over all the initiative's money, neither of the
guide's framings; it is kept for sweeps. The report uses the two framings of :mod:`cisim.sroi`:
``sroi_initiative`` (change against the start-of-run status quo, less deadweight, over all
initiative money and time) and ``sroi_collaboration`` (change against the counterfactual over
the cost of collaborating).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cisim.costs import CostLedger
from cisim.numeric import (
    discount,
    discount_at,
    pairwise_sum,
    sroi_ratio,
    weighted_mean,
    weighted_mean_of,
)
from cisim.scenario import STEPS_PER_YEAR

if TYPE_CHECKING:
    from cisim.context import RunView

__all__ = [
    "TRAJECTORY_COLUMNS", "Recorder", "discount", "log_odds_gap", "projected_value", "sroi_ratio",
]

#: Numeric trajectory columns, in order (``phase`` and ``phase_blockers`` are added as text).
TRAJECTORY_COLUMNS = (
    "outcome_rate",
    "outcome_rate_cf",
    "population_change",
    "population_change_cf",
    "population_change_vs_cf",
    "equity_gap",
    "equity_gap_cf",
    "equity_gap_logodds",
    "equity_gap_logodds_cf",
    "trust",
    "agreement",
    "alignment",
    "measurement",
    "engagement",
    "funding_runway",
    "runway_years",
    "backbone_capacity",
    "facilitation",
    "coordination",
    "services_change",
    "practices_change",
    "policy_change",
    "systems_change",
    "measured_rate",
    "active_partners",
    "income",
    "investment",
    "cumulative_investment",
    "social_value",
    "sroi",
    "sroi_measured",
    "collaboration_cost",
    "sroi_initiative",
    "sroi_collaboration",
    "service_years",
    "served_share",
    "served_outcome_rate",
    "unserved_outcome_rate",
    "outcome_rate_cf_served",
    "interactions",
    "good_interactions",
    "readiness",
)

RUNWAY_FULL_YEARS = 3.0  # NCIOM task force: 2-3 years of funding; a full indicator at three years


def log_odds_gap(subgroups: pd.DataFrame, shares: dict[str, float], disadvantaged: set[str],
                 world: str, step: int) -> float:
    """Log odds ratio of the outcome state, majority over disadvantaged subgroups, at a step.

    Args:
        subgroups: A run's subgroup frame (:meth:`Recorder.subgroups`).
        shares: Population share of each subgroup (weights of the group means).
        disadvantaged: Names of the disadvantaged subgroups.
        world: ``"factual"`` or ``"counterfactual"``.
        step: The step.

    Returns:
        log(odds of the others) - log(odds of the disadvantaged), rates clipped to [1e-4, 1-1e-4].
    """
    g = subgroups[(subgroups["world"] == world) & (subgroups["step"] == step)]

    def mean_rate(names: set[str]) -> float:
        rows = g[g["subgroup"].isin(names)]
        w = np.array([shares[n] for n in rows["subgroup"]])
        return float((rows["outcome_rate"].to_numpy() * w).sum() / w.sum())

    eps = 1e-4
    a = min(max(mean_rate(set(shares) - disadvantaged), eps), 1 - eps)
    b = min(max(mean_rate(disadvantaged), eps), 1 - eps)
    return float(np.log(a / (1 - a)) - np.log(b / (1 - b)))


def projected_value(gain_rate: float, population: int, value_per_year: float, years: float,
                    drop_off: float, discount_rate: float, horizon_years: float) -> float:
    """Present value of the final-year gain projected after the horizon with drop-off.

    Args:
        gain_rate: Final outcome-rate difference against the counterfactual (fraction).
        population: Number of beneficiaries.
        value_per_year: Adjusted value of one outcome-year.
        years: Years projected.
        drop_off: Yearly fading of the outcome.
        discount_rate: Yearly discount rate.
        horizon_years: When the projection starts.
    """
    total = 0.0
    whole = int(np.floor(years))
    for k in range(1, whole + 1):
        total += (1 - drop_off) ** k * (1 + discount_rate) ** -(horizon_years + k)
    frac = years - whole
    if frac > 0:
        k = whole + 1
        total += frac * (1 - drop_off) ** k * (1 + discount_rate) ** -(horizon_years + k)
    return gain_rate * population * value_per_year * total


def _gap_of_present(rates: np.ndarray, sizes: np.ndarray, disadvantaged: np.ndarray) -> float:
    """The equity gap over the subgroups that have people; NaN when a side has nobody.

    With disadvantaged subgroups, the others' mean rate minus theirs (each weighted by size),
    NaN when every disadvantaged subgroup or every other subgroup is empty. Without them, the
    largest rate minus the smallest among two or more non-empty subgroups (0 for a population
    of one subgroup), NaN when only one of several subgroups has people.
    """
    present = sizes > 0
    dis = disadvantaged
    if dis.any() and (~dis).any():
        top, bottom = present & ~dis, present & dis
        if not (top.any() and bottom.any()):
            return float("nan")
        return float(weighted_mean(rates[top], sizes[top]) - weighted_mean(rates[bottom],
                                                                          sizes[bottom]))
    if rates.size > 1 and present.sum() < 2:
        return float("nan")
    return float(rates[present].max() - rates[present].min()) if present.any() else float("nan")


def _logit(rates: np.ndarray) -> np.ndarray:
    """Log-odds of rates, kept finite (a rate of 0 or 1 is read as 1e-4 or 1 - 1e-4)."""
    p = np.minimum(np.maximum(rates, 1e-4), 1.0 - 1e-4)  # np.clip, without its wrappers
    return np.log(p / (1.0 - p))


class Recorder:
    """Collects one row per step of the run into preallocated arrays.

    The recorder only records: it reads the run (:class:`cisim.context.RunView`) at the end of
    each week and nothing of the dynamics reads it back (the measurement lag reads the
    population's own rate history, the Exponential Value phase the world's books).
    """

    def __init__(self, model: RunView):
        sc = model.design
        self.model = model
        self.n_steps = sc.steps
        self.cols = {c: i for i, c in enumerate(TRAJECTORY_COLUMNS)}
        self.data = np.full((self.n_steps + 1, len(TRAJECTORY_COLUMNS)), np.nan)
        G = model.population.G
        self.subgroup_rates = np.full((self.n_steps + 1, 2, G), np.nan)
        self.phase: list[str] = []
        n_partners = model.factual.partners.n
        # each partner's realised value so far (value-years per kind) and this week's satisfaction
        self.partner_realised = np.zeros((self.n_steps + 1, n_partners, 4), dtype=np.float32)
        self.partner_satisfaction = np.zeros((self.n_steps + 1, n_partners), dtype=np.float32)
        self.blockers: list[str] = []
        self.value_pv = 0.0
        self.cumulative_investment = 0.0
        self.running_sroi = float("nan")
        self.start_rate = (float("nan"), float("nan"))
        self.start_gap = (float("nan"), float("nan"))
        v = sc.valuation
        self.adjusted_value = v.value_per_outcome_year * (1 - v.attribution) * (1 - v.displacement)
        # the two framings of cisim.sroi: the initiative against the start-of-run status quo
        # (less deadweight) over all its money, and collaborating against isolation over the
        # cost of collaborating (backbone, measurement, coordination time)
        self.initiative_value_pv = 0.0
        self.collaboration_cost_pv = 0.0
        self.ledger = CostLedger(model)
        # the other and the disadvantaged subgroups (the two sides of the equity gap)
        dis = model.population.disadvantaged
        self._top: list[int] = np.flatnonzero(~dis).tolist()
        self._bottom: list[int] = np.flatnonzero(dis).tolist()

    def record(self, step: int) -> None:
        """Record the state after ``step`` (0 = the initial state)."""
        m = self.model
        f = m.factual
        pop = m.population
        v = m.design.valuation
        rate_f, rate_cf = pop.rates()
        both = slice(None)  # both worlds at once, a row each
        sizes = pop.group_sizes(both)
        if all(s > 0 for row in sizes.tolist() for s in row):  # sizes are counts: at least 1
            np.divide(pop.in_outcome(both), sizes, out=self.subgroup_rates[step])
        else:  # an empty subgroup has no rate (NaN): nobody to measure
            self.subgroup_rates[step] = np.where(
                sizes > 0, pop.in_outcome(both) / np.maximum(sizes, 1.0), np.nan)
        groups = self._gap_groups()
        rates = self.subgroup_rates[step]
        logits = _logit(rates)
        if groups[1] and groups[2] is not None:  # the usual case: both sides, nobody missing
            gap_f, gap_cf, lgap_f, lgap_cf = self._side_gaps(rates, logits, groups[2])
        else:
            gap_f, gap_cf = (self._equity_gap(rates[w], groups) for w in (0, 1))
            lgap_f, lgap_cf = (self._equity_gap(logits[w], groups) for w in (0, 1))
        if step == 0:
            self.start_rate = (rate_f, rate_cf)
            self.start_gap = (gap_f, gap_cf)
        # money and value this step (the investment as the world booked it: world.book_week)
        investment = f.investment
        collaboration_cost = (
            (f.backbone_spend + f.measurement_spend + f.coordination_cost) if step > 0 else 0.0)
        gain_years = (rate_f - rate_cf) * pop.n / STEPS_PER_YEAR if step > 0 else 0.0
        d = discount_at(step, v.discount_rate)
        self.value_pv += gain_years * self.adjusted_value * d
        self.cumulative_investment += investment
        self.running_sroi = sroi_ratio(self.value_pv, f.investment_pv)
        if step > 0:
            self.initiative_value_pv += ((rate_f - self.start_rate[0]) * pop.n / STEPS_PER_YEAR
                                         * self.adjusted_value * (1 - v.deadweight) * d)
        self.collaboration_cost_pv += collaboration_cost * d
        service_years, served, served_in = pop.served(0)
        _, served_cf, served_in_cf = pop.served(1)
        n = max(1, pop.n)
        unserved = n - served
        unserved_in = rate_f * n - served_in
        row = {
            "outcome_rate": rate_f,
            "outcome_rate_cf": rate_cf,
            "population_change": 100 * (rate_f - self.start_rate[0]),
            "population_change_cf": 100 * (rate_cf - self.start_rate[1]),
            "population_change_vs_cf": 100 * (rate_f - rate_cf),
            "equity_gap": 100 * gap_f,
            "equity_gap_cf": 100 * gap_cf,
            "equity_gap_logodds": lgap_f,
            "equity_gap_logodds_cf": lgap_cf,
            "trust": f.trust_mean,
            "agreement": f.agreement,
            "alignment": f.alignment,
            "measurement": f.measurement,
            "engagement": f.engagement,
            "funding_runway": min(1.0, f.runway_years / RUNWAY_FULL_YEARS),
            "runway_years": f.runway_years,
            "backbone_capacity": f.backbone_capacity,
            "facilitation": f.facilitation,
            "coordination": f.coordination,
            "services_change": f.services_change,
            "practices_change": f.practices_change,
            "policy_change": f.policy_change,
            "systems_change": (f.services_change + f.practices_change + f.policy_change) / 3,
            "measured_rate": f.measured_rate,
            "active_partners": float(np.count_nonzero(f.active)),
            "income": f.income,
            "investment": investment,
            "cumulative_investment": self.cumulative_investment,
            "social_value": self.value_pv,
            "sroi": self.running_sroi,
            "sroi_measured": f.measured_sroi,
            "collaboration_cost": collaboration_cost,
            "sroi_initiative": sroi_ratio(self.initiative_value_pv, f.investment_pv),
            "sroi_collaboration": sroi_ratio(self.value_pv, self.collaboration_cost_pv),
            "service_years": service_years,
            "served_share": served / n,
            "served_outcome_rate": served_in / served if served > 0 else np.nan,
            "unserved_outcome_rate": unserved_in / unserved if unserved > 0 else np.nan,
            "outcome_rate_cf_served": served_in_cf / served_cf if served_cf > 0 else np.nan,
            "interactions": f.interactions,
            "good_interactions": f.good_interactions,
            "readiness": m.readiness(f),
        }
        self.data[step] = [row[c] for c in TRAJECTORY_COLUMNS]
        self.phase.append(m.phase_label(f))
        self.blockers.append("; ".join(m.phase_blockers(f)))
        self.partner_realised[step] = f.realised
        self.ledger.record(step)
        # .sum(axis=1) without ndarray.sum's wrapper (the same reduction)
        self.partner_satisfaction[step] = np.add.reduce(f.value_rate * f.partners.seeks, axis=1)

    def _gap_groups(self) -> tuple[np.ndarray, bool, tuple[list[float], list[float]] | None]:
        """This step's subgroup sizes for :meth:`_equity_gap`, worked out once per step.

        ``(sizes, every subgroup has people, the two sides' weights or None)``: the weights
        of the other and of the disadvantaged subgroups when there are both kinds.
        """
        sizes = self.model.population.group_sizes(0)
        listed = sizes.tolist()
        weights = None
        if self._top and self._bottom:  # np.maximum(size, 1e-9) of each side's subgroups
            weights = tuple([s if s >= 1e-9 or s != s else 1e-9 for s in (listed[g] for g in side)]
                            for side in (self._top, self._bottom))
        return sizes, all(s > 0 for s in listed), weights

    def _equity_gap(self, rates: np.ndarray,
                    groups: tuple[np.ndarray, bool, tuple[list[float], list[float]] | None]
                    ) -> float:
        """Gap between the other subgroups and the disadvantaged ones (max - min if none).

        Given log-odds instead of rates, the gap on the relative scale the equity criterion
        is judged on (Section 7.12 of docs/model.md). ``groups``: :meth:`_gap_groups`.
        """
        sizes, all_present, weights = groups
        dis = self.model.population.disadvantaged
        if not all_present:  # empty subgroups drop out; the gap needs people on each side
            return _gap_of_present(rates, sizes, dis)
        if weights is not None:  # in Python floats, numpy's operations in numpy's order
            listed = rates.tolist()
            return (weighted_mean_of([listed[g] for g in self._top], weights[0])
                    - weighted_mean_of([listed[g] for g in self._bottom], weights[1]))
        return float(rates.max() - rates.min())

    def _side_gaps(self, rates: np.ndarray, logits: np.ndarray,
                   weights: tuple[list[float], list[float]]) -> list[float]:
        """:meth:`_equity_gap` of both worlds' rates and log-odds when every subgroup has people.

        ``[gap_f, gap_cf, log-odds gap_f, log-odds gap_cf]``: each side's weighted mean as
        :func:`cisim.numeric.weighted_mean_of` computes it (Python floats, numpy's operations
        in numpy's order), with each side's weight sum added once for all four.
        """
        top, bottom = self._top, self._bottom
        top_sum, bottom_sum = pairwise_sum(weights[0]), pairwise_sum(weights[1])
        gaps = []
        for row in rates.tolist() + logits.tolist():
            gaps.append(pairwise_sum([row[g] * w for g, w in zip(top, weights[0], strict=True)])
                        / top_sum
                        - pairwise_sum([row[g] * w for g, w in zip(bottom, weights[1],
                                                                   strict=True)]) / bottom_sum)
        return gaps

    # ---- frames -----------------------------------------------------------------------------

    def trajectory(self) -> pd.DataFrame:
        """One row per recorded step."""
        n = len(self.phase)
        df = pd.DataFrame(self.data[:n], columns=list(TRAJECTORY_COLUMNS))
        df.insert(0, "step", np.arange(n))
        df.insert(1, "year", df["step"] / STEPS_PER_YEAR)
        df.insert(2, "phase", self.phase)
        df.insert(3, "phase_blockers", self.blockers)
        return df

    def costs(self) -> pd.DataFrame:
        """Who paid what, on what, per year (see :mod:`cisim.costs`)."""
        return self.ledger.frame()

    def partner_values(self) -> pd.DataFrame:
        """Each partner's realised value per step (long format, one row per step and partner).

        Columns: step, year, partner, realised_<kind> (value-years so far, for the four kinds
        of value partners seek) and satisfaction (this week's value weighted by what the
        partner seeks, 0-1).
        """
        from cisim.world import VALUE_KINDS

        n = len(self.phase)
        names = self.model.factual.partners.names
        k = len(names)
        steps = np.repeat(np.arange(n), k)
        data = {
            "step": steps,
            "year": steps / STEPS_PER_YEAR,
            "partner": np.tile(np.asarray(names, dtype=object), n),
        }
        for j, kind in enumerate(VALUE_KINDS):
            data[f"realised_{kind}"] = self.partner_realised[:n, :, j].reshape(-1)
        data["satisfaction"] = self.partner_satisfaction[:n].reshape(-1)
        return pd.DataFrame(data)

    def subgroups(self) -> pd.DataFrame:
        """Outcome rate per subgroup and world, long format."""
        n = len(self.phase)
        names = self.model.population.group_names
        frames = []
        for w, world in enumerate(("factual", "counterfactual")):
            for g, name in enumerate(names):
                frames.append(pd.DataFrame({
                    "step": np.arange(n),
                    "year": np.arange(n) / STEPS_PER_YEAR,
                    "subgroup": name,
                    "world": world,
                    "outcome_rate": self.subgroup_rates[:n, w, g],
                }))
        return pd.concat(frames, ignore_index=True)
