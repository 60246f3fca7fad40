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

from cisim._outcomes import record_week
from cisim.costs import CostLedger
from cisim.numeric import (
    discount,
    discount_at,
    pairwise_rows,
    ratio_where,
    sroi_ratio,
    sroi_ratios,
    weighted_mean,
)
from cisim.scenario import STEPS_PER_YEAR
from cisim.world import FIGURES

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


#: What the recorder keeps of the factual world each week (the columns of a row of
#: ``Recorder._figures``): its figures (:data:`cisim.world.FIGURES`, in their order), its
#: readiness and its number of active partners.
_KEPT = (*FIGURES, "readiness", "active_partners")
#: Trajectory columns that are world figures as they stand: (column, world figure), the
#: figures of the same name and the two the trajectory names otherwise.
_RENAMED = {"trust_mean": "trust", "measured_sroi": "sroi_measured"}
_COPIED = tuple((_RENAMED.get(f, f), f) for f in FIGURES
                if _RENAMED.get(f, f) in TRAJECTORY_COLUMNS)


def _running_sum(total: float, terms: np.ndarray) -> np.ndarray:
    """Every partial total of ``total += term`` over the terms in turn (np.cumsum adds in order)."""
    return np.cumsum(np.concatenate(([total], terms)))[1:]


class Recorder:
    """Keeps the state of the run after each week; works out the trajectory when it is read.

    The recorder only records: it reads the run (:class:`cisim.context.RunView`) at the end of
    each week and nothing of the dynamics reads it back (the measurement lag reads the
    population's own rate history, the Exponential Value phase the world's books). A week
    keeps what the trajectory is made of (the population's counts, the world's figures, the
    phase, the partners' value); the columns made from them (rates, gaps, changes, present
    values, ratios) are worked out over all the weeks recorded since the last read, when
    :attr:`data` (or a frame) is read, with the same operations in the same order as week by
    week (the same bits).
    """

    def __init__(self, model: RunView):
        sc = model.design
        self.model = model
        self.n_steps = sc.steps
        self.cols = {c: i for i, c in enumerate(TRAJECTORY_COLUMNS)}
        self._data = np.full((self.n_steps + 1, len(TRAJECTORY_COLUMNS)), np.nan)
        G = model.population.G
        self._subgroup_rates = np.full((self.n_steps + 1, 2, G), np.nan)
        # the population's counts after each week, both worlds (service-years this week, ever
        # served, ever served and in the outcome state, in the outcome state and size per
        # subgroup: the aggregates up to the unmet need)
        self._counts = np.zeros((self.n_steps + 1, 2, 4 + 2 * G))
        # the factual world after each week: its figures, readiness and active partners (_KEPT)
        self._figures = np.full((self.n_steps + 1, len(_KEPT)), np.nan)
        self._derived = 0  # rows of the trajectory worked out so far
        self.phase: list[str] = []
        n_partners = model.factual.partners.n
        # each partner's realised value so far (value-years per kind) and this week's satisfaction
        self.partner_realised = np.zeros((self.n_steps + 1, n_partners, 4), dtype=np.float32)
        self.partner_satisfaction = np.zeros((self.n_steps + 1, n_partners), dtype=np.float32)
        self.blockers: list[str] = []
        v = sc.valuation
        self.adjusted_value = v.value_per_outcome_year * (1 - v.attribution) * (1 - v.displacement)
        # the running totals at the last row worked out: the social value, the investment, and
        # the two framings of cisim.sroi: the initiative against the start-of-run status quo
        # (less deadweight) over all its money, and collaborating against isolation over the
        # cost of collaborating (backbone, measurement, coordination time)
        self._value_pv = 0.0
        self._cumulative_investment = 0.0
        self._initiative_value_pv = 0.0
        self._collaboration_cost_pv = 0.0
        self.ledger = CostLedger(model, self._figures)
        # the other and the disadvantaged subgroups (the two sides of the equity gap)
        dis = model.population.disadvantaged
        self._top: list[int] = np.flatnonzero(~dis).tolist()
        self._bottom: list[int] = np.flatnonzero(dis).tolist()

    def record(self, step: int) -> None:
        """Keep the state after ``step`` (0 = the initial state; steps come in order)."""
        if step != len(self.phase):  # rows are kept by position: a gap would mix the weeks
            raise ValueError(f"recorded step {step} after {len(self.phase)} rows; "
                             "steps are recorded in order from 0")
        if step > self.n_steps:  # (the compiled copy writes where it is told)
            raise IndexError(f"step {step} beyond the run's {self.n_steps} steps")
        m = self.model
        f = m.factual
        self.phase.append(m.phase_label(f))
        self.blockers.append("; ".join(m.phase_blockers(f)))
        ledger = self.ledger
        week = ledger.record(step)
        # the world's figures, readiness and active partners, the population's counts, the
        # realised value and the satisfaction (the value rates weighted by what each partner
        # seeks), the partners' kept as float32 rather than the week's float64 values (a
        # quarter of the memory), and the ledger's coordination hours, in one compiled call
        record_week(step, m.readiness(f), f.figures, f.active, m.population.aggregates,
                    f.realised, f.value_rate, f.partners.seeks, self._figures, self._counts,
                    self.partner_realised, self.partner_satisfaction, week, not f.isolated,
                    ledger.hours_per_meeting, f.burden_hours, f.attended, ledger.hours)

    @property
    def data(self) -> np.ndarray:
        """The trajectory so far, a row per step (NaN after the last one recorded).

        Columns :data:`TRAJECTORY_COLUMNS` (:attr:`cols` gives their positions).
        """
        self._derive()
        return self._data

    @property
    def subgroup_rates(self) -> np.ndarray:
        """Outcome rate per step, world and subgroup (NaN for an empty subgroup)."""
        self._derive()
        return self._subgroup_rates

    @property
    def running_sroi(self) -> float:
        """The latest SROI against the counterfactual (the ``sroi`` column)."""
        n = len(self.phase)
        return float(self.data[n - 1, self.cols["sroi"]]) if n else float("nan")

    def _derive(self) -> None:
        """Work out the trajectory's rows of the steps recorded since the last call."""
        start, stop = self._derived, len(self.phase)
        if start >= stop:
            return
        m = self.model
        v = m.design.valuation
        G = self._subgroup_rates.shape[2]
        counts = self._counts[start:stop]
        inside, sizes = counts[:, :, 4: 4 + G], counts[:, :, 4 + G:]
        rates = self._subgroup_rates[start:stop]
        full = (sizes > 0).all(axis=(1, 2))  # sizes are counts: at least 1
        # an empty subgroup has no rate (NaN): nobody to measure
        rates[:] = np.where(sizes > 0, inside / np.where(full[:, None, None], sizes,
                                                         np.maximum(sizes, 1.0)), np.nan)
        history = m.population.rate_history  # Population.rates after each step, as kept
        rate = [history[w, start:stop] for w in (0, 1)]
        gap_f, gap_cf, lgap_f, lgap_cf = self._gaps(rates, sizes[:, 0])
        x = dict(zip(_KEPT, self._figures[start:stop].T, strict=True))
        steps = np.arange(start, stop)
        later = steps > 0
        start_rate = (float(history[0, 0]), float(history[1, 0]))  # both worlds' at step 0
        d = np.array([discount_at(s, v.discount_rate) for s in range(start, stop)])
        n_pop = m.population.n
        gain_years = np.where(later, (rate[0] - rate[1]) * n_pop / STEPS_PER_YEAR, 0.0)
        value_pv = _running_sum(self._value_pv, gain_years * self.adjusted_value * d)
        invested = _running_sum(self._cumulative_investment, x["investment"])
        initiative = np.where(later, ((rate[0] - start_rate[0]) * n_pop / STEPS_PER_YEAR
                                      * self.adjusted_value * (1 - v.deadweight) * d), 0.0)
        initiative_pv = _running_sum(self._initiative_value_pv, initiative)
        collaboration_cost = np.where(
            later, x["backbone_spend"] + x["measurement_spend"] + x["coordination_cost"], 0.0)
        collaboration_pv = _running_sum(self._collaboration_cost_pv, collaboration_cost * d)
        self._value_pv, self._cumulative_investment = float(value_pv[-1]), float(invested[-1])
        self._initiative_value_pv = float(initiative_pv[-1])
        self._collaboration_cost_pv = float(collaboration_pv[-1])
        n = max(1, n_pop)
        service_years, served, served_in = (counts[:, 0, k] for k in (1, 2, 3))
        served_cf, served_in_cf = counts[:, 1, 2], counts[:, 1, 3]
        unserved = n - served
        unserved_in = rate[0] * n - served_in
        runway = x["runway_years"] / RUNWAY_FULL_YEARS
        columns = {
            "outcome_rate": rate[0],
            "outcome_rate_cf": rate[1],
            "population_change": 100 * (rate[0] - start_rate[0]),
            "population_change_cf": 100 * (rate[1] - start_rate[1]),
            "population_change_vs_cf": 100 * (rate[0] - rate[1]),
            "equity_gap": 100 * gap_f,
            "equity_gap_cf": 100 * gap_cf,
            "equity_gap_logodds": lgap_f,
            "equity_gap_logodds_cf": lgap_cf,
            "funding_runway": np.where(runway < 1.0, runway, 1.0),  # min(1.0, runway)
            "systems_change": (x["services_change"] + x["practices_change"]
                               + x["policy_change"]) / 3,
            "active_partners": x["active_partners"],
            "cumulative_investment": invested,
            "social_value": value_pv,
            "sroi": sroi_ratios(value_pv, x["investment_pv"]),
            "collaboration_cost": collaboration_cost,
            "sroi_initiative": sroi_ratios(initiative_pv, x["investment_pv"]),
            "sroi_collaboration": sroi_ratios(value_pv, collaboration_pv),
            "service_years": service_years,
            "served_share": served / n,
            "served_outcome_rate": ratio_where(served_in, served, served > 0),
            "unserved_outcome_rate": ratio_where(unserved_in, unserved, unserved > 0),
            "outcome_rate_cf_served": ratio_where(served_in_cf, served_cf, served_cf > 0),
            "readiness": x["readiness"],
        }
        columns.update((column, x[figure]) for column, figure in _COPIED)
        self._data[start:stop] = np.column_stack([columns[c] for c in TRAJECTORY_COLUMNS])
        self._derived = stop

    def _gaps(self, rates: np.ndarray, sizes: np.ndarray) -> list[np.ndarray]:
        """Equity gaps of rows of subgroup rates: ``[gap_f, gap_cf, log-odds gap_f, _cf]``.

        ``rates``: (steps, world, subgroup); ``sizes``: the factual subgroup sizes (steps,
        subgroup), the weights of both worlds' gaps. Where every factual subgroup has people and
        there are subgroups on both sides, each side's weighted mean as
        :func:`cisim.numeric.weighted_mean` computes it, over all those rows at once; the
        other rows one by one.
        """
        logits = _logit(rates)
        series = (rates[:, 0], rates[:, 1], logits[:, 0], logits[:, 1])
        gaps = [np.full(rates.shape[0], np.nan) for _ in series]
        present = (sizes > 0).all(axis=1)
        usual = present if self._top and self._bottom else np.zeros_like(present)
        if usual.any():
            # np.maximum(size, 1e-9) of each side's subgroups (NaN stays NaN)
            weights = np.where((sizes[usual] >= 1e-9) | (sizes[usual] != sizes[usual]),
                               sizes[usual], 1e-9)
            top, bottom = weights[:, self._top], weights[:, self._bottom]
            top_sum, bottom_sum = pairwise_rows(top), pairwise_rows(bottom)
            for gap, s in zip(gaps, series, strict=True):
                s = s[usual]
                gap[usual] = (pairwise_rows(s[:, self._top] * top) / top_sum
                              - pairwise_rows(s[:, self._bottom] * bottom) / bottom_sum)
        # the other rows: empty subgroups drop out (the gap needs people on each side), and
        # without subgroups on both sides the gap is the largest less the smallest rate
        dis = self.model.population.disadvantaged
        for i in np.flatnonzero(~usual):
            for w, gap in enumerate(gaps):
                row = (rates if w < 2 else logits)[i, w % 2]
                gap[i] = (float(row.max() - row.min()) if present[i]
                          else _gap_of_present(row, sizes[i], dis))
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
