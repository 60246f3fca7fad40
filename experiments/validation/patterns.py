"""The observed patterns and their checks on the simulated population of initiatives.

Each pattern is a function of the study's runs (:class:`.study.StudyData`) and the criteria
fixed before the run (:mod:`.criteria`, ``criteria.toml``), returning a :class:`PatternResult`:
the measured value, its interval (Clopper-Pearson for shares over the sampled initiatives,
percentile bootstrap otherwise), the pattern's own statistics, and whether every check of its
criterion holds. The numbers of the criteria (thresholds, years, observed counts) live in
``criteria.toml`` only. Pattern-oriented modelling: Grimm et al. 2005 (Science 310).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from cisim.scenario import Scenario

from .criteria import CRITERIA_FILE, Criteria, PatternSpec, describe, judge, load_criteria
from .study import StudyData

__all__ = [
    "PATTERNS",
    "SPECS",
    "PatternResult",
    "check_all",
    "default_criteria",
    "five_conditions_in_place",
]

_PH = Scenario.model_fields["phases"].default_factory()  # documented phase thresholds
RUN_MIN_AGREEMENT = _PH.run_min_agreement
RUN_MIN_TRUST = _PH.run_min_trust
RUN_MIN_BACKBONE = _PH.run_min_backbone


@dataclass
class PatternResult:
    """The check of one pattern.

    Attributes:
        key: The pattern's id in the criteria file (used for figures and tests).
        title: The pattern in words.
        source: Where it was observed (author, title, year).
        measure: How it is measured on simulated trajectories.
        value: The measured value.
        interval: Its interval (low, high) at the criteria's confidence.
        criterion: The criterion in words, with its checks.
        holds: Whether every check of the criterion holds.
        n: Initiatives (or pairs) the value rests on.
        role: ``"calibration"`` or ``"held_out"``.
        stats: The statistics the checks are evaluated on (value, low, high and the pattern's).
        details: Other numbers shown in the report and the figure.
    """

    key: str
    title: str
    source: str
    measure: str
    value: float
    interval: tuple[float, float]
    criterion: str
    holds: bool
    n: int
    role: str = "held_out"
    stats: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        """One row of the results table."""
        return {"pattern": self.key, "role": self.role, "value": self.value,
                "low": self.interval[0], "high": self.interval[1], "n": self.n,
                "holds": self.holds, "criterion": self.criterion}


def _result(c: Criteria, key: str, value: float, interval: tuple[float, float], n: int,
            extra: Mapping[str, float] | None = None,
            details: dict[str, Any] | None = None) -> PatternResult:
    """A pattern's result, judged on the checks of its entry in the criteria."""
    entry = c[key]
    values = {"value": float(value), "low": float(interval[0]), "high": float(interval[1]),
              **{k: float(v) for k, v in (extra or {}).items()}}
    return PatternResult(
        key, entry.name, "; ".join(entry.sources), entry.statistic, float(value),
        (float(interval[0]), float(interval[1])),
        f"{' '.join(entry.criterion.split())} [checks: {describe(entry.checks, values)}]",
        judge(entry.checks, values), int(n), entry.role, values, dict(details or {}))


# --------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------


def share_ci(k: int, n: int, confidence: float) -> tuple[float, float]:
    """Clopper-Pearson interval of a share k/n."""
    if n == 0:
        return (float("nan"), float("nan"))
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence, method="exact")
    return (float(ci.low), float(ci.high))


def bootstrap(frame: pd.DataFrame, stat: Callable[[dict[str, np.ndarray]], float], *,
              resamples: int, confidence: float, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of a statistic over initiatives (rows).

    ``stat`` receives the resampled columns as a dict of NumPy arrays. NaN when fewer than
    half the resamples give a finite statistic.
    """
    rng = np.random.default_rng(seed)
    cols = {c: frame[c].to_numpy() for c in frame.columns}
    n = len(frame)
    if n == 0:
        return (float("nan"), float("nan"))
    values = []
    for _ in range(resamples):
        idx = rng.integers(0, n, n)
        v = stat({c: a[idx] for c, a in cols.items()})
        if np.isfinite(v):
            values.append(v)
    if len(values) < resamples // 2:
        return (float("nan"), float("nan"))
    tail = 100 * (1 - confidence) / 2
    return (float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail)))


def _ci(c: Criteria, k: int, n: int) -> tuple[float, float]:
    return share_ci(k, n, c.method.confidence)


def _boot(c: Criteria, frame: pd.DataFrame, stat: Callable[[dict[str, np.ndarray]], float]
          ) -> tuple[float, float]:
    return bootstrap(frame, stat, resamples=c.method.bootstrap_resamples,
                     confidence=c.method.confidence)


def group_means(f: Any, flag: str, value: str) -> tuple[float, float] | None:
    """Mean of column ``value`` where column ``flag`` holds, and where it does not.

    ``f`` is a frame or :func:`bootstrap`'s dict of resampled arrays; None when either group
    is empty.
    """
    cond = f[flag].astype(bool)
    if cond.all() or not cond.any():
        return None
    return float(f[value][cond].mean()), float(f[value][~cond].mean())


def pc(frame: pd.DataFrame, year: int, prefix: str = "") -> pd.Series:
    """Population change against the counterfactual (pp) at a whole year."""
    return frame[f"{prefix}pc@{year}"]


def horizon(frame: pd.DataFrame, prefix: str = "") -> int:
    """The last whole year with a population-change column."""
    return max(int(c.split("@")[1]) for c in frame.columns if c.startswith(f"{prefix}pc@"))


def _year(frame: pd.DataFrame, year: int) -> int:
    """A year of the criteria, capped at the study's horizon (short test studies)."""
    return min(int(year), horizon(frame))


def _rank(order: list[str], name: str) -> float:
    return float(order.index(name) + 1) if name in order else float("nan")


# --------------------------------------------------------------------------------------------
# Definitions on the sampled designs and trajectories
# --------------------------------------------------------------------------------------------


def condition_flags(pop: pd.DataFrame, c: Criteria) -> pd.DataFrame:
    """Which of the five conditions are in place at the conditions year (a column each)."""
    d = c.definitions
    y = _year(pop, d.conditions_year)
    return pd.DataFrame({
        "backbone support": pop[f"backbone_capacity@{y}"] >= RUN_MIN_BACKBONE,
        "common agenda": pop[f"agreement@{y}"] >= RUN_MIN_AGREEMENT,
        "shared measurement": pop[f"measurement@{y}"] >= d.min_measurement,
        "mutually reinforcing activities":
            pop[f"alignment@{y}"] - pop["alignment@0"] >= d.min_alignment_gain,
        "continuous communication": pop["meetings_per_year"] >= d.min_meetings_per_year,
    })


def five_conditions_in_place(pop: pd.DataFrame, c: Criteria) -> pd.Series:
    """True where all five conditions are in place at the conditions year."""
    return condition_flags(pop, c).all(axis=1)


def changed(pop: pd.DataFrame) -> pd.Series:
    """Population change: at least 1 pp above the counterfactual, sustained for a year."""
    return pop["change_reached"] > 0.5


def equity_outcome(frame: pd.DataFrame, c: Criteria) -> pd.Series:
    """An equity outcome: the subgroups' log-odds gap narrower than without the initiative."""
    return equity_narrowing(frame) >= c.param("equity", "narrowing_logodds")


def equity_narrowing(frame: pd.DataFrame) -> pd.Series:
    """How much narrower the log-odds gap between the subgroups ends than without the initiative."""
    return frame["log_odds_gap_cf_final"] - frame["log_odds_gap_final"]


def funding_condition(pop: pd.DataFrame, c: Criteria) -> pd.Series:
    """An anchor funder committed for at least the criteria's years."""
    years = c.param("funding", "anchor_min_years")
    return (pop["anchor"] > 0.5) & (pop["anchor_committed_years"] >= years)


def regular_meetings(pop: pd.DataFrame, c: Criteria) -> pd.Series:
    """Initiatives meeting at least as often as the criteria's regular meetings."""
    return pop["meetings_per_year"] >= c.definitions.min_meetings_per_year


# --------------------------------------------------------------------------------------------
# Patterns
# --------------------------------------------------------------------------------------------


def p_five_conditions(data: StudyData, c: Criteria) -> PatternResult:
    """Most initiatives with the five conditions in place show population change."""
    key = "five_conditions"
    pop = data.population
    five = five_conditions_in_place(pop, c)
    ok = changed(pop)
    k, n = int((ok & five).sum()), int(five.sum())
    value = k / n if n else float("nan")
    obs = _ci(c, int(c.param(key, "observed_changed")), int(c.param(key, "observed_sites")))
    others = ok[~five]
    share_without = float(others.mean()) if len(others) else float("nan")
    return _result(
        c, key, value, _ci(c, k, n), n,
        {"share_without": share_without, "observed_low": obs[0], "observed_high": obs[1]},
        {"share_without": share_without, "n_without": int((~five).sum()),
         "share_all": float(ok.mean()), "observed_interval": obs,
         "conditions_in_place": condition_flags(pop, c).mean().to_dict()})


def _first_years(pop: pd.DataFrame) -> pd.Series:
    return pop.loc[changed(pop), "first_change_year"]


def p_not_before_three_years(data: StudyData, c: Criteria) -> PatternResult:
    """No population change in fewer than about three years."""
    key = "not_before_three_years"
    first = _first_years(data.population)
    k, n = int((first < c.param(key, "before_year")).sum()), len(first)
    limit = 1 - c.param(key, "alpha") ** (1 / c.param(key, "observed_successes"))
    value = k / n if n else float("nan")
    return _result(c, key, value, _ci(c, k, n), n, {"compatible_limit": limit},
                   {"first_years": first.to_numpy(),
                    "median_first_year": float(first.median()) if n else float("nan")})


def p_many_take_longer(data: StudyData, c: Criteria) -> PatternResult:
    """Many initiatives take much longer than three years."""
    key = "many_take_longer"
    pop = data.population
    first = _first_years(pop)
    k, n = int((first >= c.param(key, "from_year")).sum()), len(first)
    value = k / n if n else float("nan")
    return _result(c, key, value, _ci(c, k, n), n, None,
                   {"never_share": float(1 - changed(pop).mean())})


def _first_order(x: np.ndarray, y: np.ndarray, bins: int) -> float:
    """Correlation ratio eta^2 of y on quantile bins of x (a given-data first-order index)."""
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(y) == 0:
        return float("nan")
    if len(np.unique(x)) <= bins:
        codes = np.unique(x, return_inverse=True)[1]
    else:
        edges = np.quantile(x, np.linspace(0, 1, bins + 1)[1:-1])
        codes = np.searchsorted(edges, x, side="right")
    total = ((y - y.mean()) ** 2).sum()
    if total <= 0:
        return float("nan")
    between = sum(((y[codes == g].mean() - y.mean()) ** 2) * (codes == g).sum()
                  for g in np.unique(codes))
    return float(between / total)


def design_sensitivity(data: StudyData, c: Criteria) -> pd.DataFrame:
    """RBD-FAST first-order indices of the design dimensions for population change at the horizon.

    SALib's RBD-FAST (Tarantola et al. 2006; Herman & Usher 2017) on the population store's
    Latin hypercube, in the unit coordinates :mod:`cisim.sweep` sampled, as ``cisim analyze``
    does for a ``latin`` sweep, for the one outcome the pattern needs. NaN below the
    criteria's minimum number of designs.
    """
    from SALib.analyze import rbd_fast

    from cisim.sweep.samplers import UNIT_PREFIX, salib_problem

    pop = data.population
    H = horizon(pop)
    problem = salib_problem(data.population_store.spec())
    X = pop[[UNIT_PREFIX + n for n in problem["names"]]].to_numpy(dtype=float)
    y = pc(pop, H).to_numpy(dtype=float)
    if len(y) < c.param("backbone_driver", "min_designs"):
        nan = np.full(len(problem["names"]), np.nan)
        res = {"S1": nan, "S1_conf": nan}
    else:
        res = rbd_fast.analyze(problem, X, y, M=4, num_resamples=200,
                               conf_level=c.method.confidence, seed=0)
    table = pd.DataFrame({"parameter": problem["names"], "value": res["S1"],
                          "conf": res["S1_conf"]})
    table["lower"] = table["value"] - table["conf"]
    table["upper"] = table["value"] + table["conf"]
    return table.sort_values("value", ascending=False).reset_index(drop=True)


def p_backbone_driver(data: StudyData, c: Criteria) -> PatternResult:
    """Backbone support is among the strongest design drivers of population change."""
    table = design_sensitivity(data, c)
    rank = (_rank(list(table["parameter"]), "backbone_present")
            if table["value"].notna().all() else float("nan"))
    row = table[table["parameter"] == "backbone_present"].iloc[0]
    return _result(c, "backbone_driver", float(row["value"]),
                   (float(row["lower"]), float(row["upper"])), len(data.population),
                   {"rank": rank},
                   {"rank": rank, "table": table[["parameter", "value", "lower", "upper"]]})


#: The components' indicators (column prefixes, read at the conditions year).
CONDITION_INDICATORS = {
    "backbone support": "backbone_capacity",
    "common agenda": "agreement",
    "shared measurement": "measurement",
    "mutually reinforcing activities": "alignment",
    "continuous communication (trust)": "trust",
    "beneficiary engagement": "engagement",
    "funding runway": "runway_years",
}


def condition_importance(pop: pd.DataFrame, c: Criteria) -> pd.DataFrame:
    """First-order share (eta^2) of population change explained by each condition's indicator."""
    H = horizon(pop)
    y_col = f"pc@{H}"
    yr = _year(pop, c.definitions.conditions_year)
    bins = int(c.param("foundational_conditions", "bins"))
    y = pc(pop, H).to_numpy(dtype=float)
    rows = []
    for label, prefix in CONDITION_INDICATORS.items():
        col = f"{prefix}@{yr}"
        x = pop[col].to_numpy(dtype=float)
        lo, hi = _boot(c, pop[[col, y_col]], lambda f, col=col: _first_order(
            f[col].astype(float), f[y_col].astype(float), bins))
        rows.append({"condition": label, "eta2": _first_order(x, y, bins), "low": lo,
                     "high": hi})
    return pd.DataFrame(rows).sort_values("eta2", ascending=False).reset_index(drop=True)


def p_conditions_drivers(data: StudyData, c: Criteria) -> PatternResult:
    """Backbone support and common agenda are the most foundational conditions."""
    table = condition_importance(data.population, c)
    order = list(table["condition"]) if table["eta2"].notna().all() else []
    row = table[table["condition"] == "common agenda"].iloc[0]
    ranks = {"backbone_rank": _rank(order, "backbone support"),
             "agenda_rank": _rank(order, "common agenda")}
    return _result(c, "foundational_conditions", float(row["eta2"]),
                   (float(row["low"]), float(row["high"])), len(data.population), ranks,
                   {**ranks, "table": table})


def p_failure_causes(data: StudyData, c: Criteria) -> PatternResult:
    """The absence of backbone support or a common agenda is the most common cause of failure."""
    pop = data.population
    flags = condition_flags(pop[~changed(pop)], c)
    absent = (~flags).mean().sort_values(ascending=False, kind="stable")
    either = (~flags[["backbone support", "common agenda"]]).any(axis=1)
    k, n = int(either.sum()), len(flags)
    order = list(absent.index) if n else []
    best = min(_rank(order, "backbone support"), _rank(order, "common agenda"))
    return _result(c, "failure_causes", k / n if n else float("nan"), _ci(c, k, n), n,
                   {"best_rank": best}, {"best_rank": best, "absent_share": absent.to_dict()})


def p_systems_change(data: StudyData, c: Criteria) -> PatternResult:
    """Population change comes through systems change, not only direct service."""
    pair = data.paired
    H = horizon(pair, "on_")
    on, off = pc(pair, H, "on_"), pc(pair, H, "off_")

    def lost(f: Any) -> float:
        m = f[f"on_pc@{H}"].mean()
        return float(1 - f[f"off_pc@{H}"].mean() / m) if m > 0 else float("nan")

    unserved_on = (pair["on_unserved_rate_final"] - pair["on_unserved_rate_cf_final"]) * 100
    unserved_off = (pair["off_unserved_rate_final"] - pair["off_unserved_rate_cf_final"]) * 100
    return _result(
        c, "systems_change", lost(pair), _boot(c, pair[[f"on_pc@{H}", f"off_pc@{H}"]], lost),
        len(pair), None,
        {"mean_on": float(on.mean()), "mean_off": float(off.mean()),
         "changed_on": float(pair["on_change_reached"].mean()),
         "changed_off": float(pair["off_change_reached"].mean()),
         "unserved_gain_on": float(unserved_on.mean()),
         "unserved_gain_off": float(unserved_off.mean())})


def p_unserved(data: StudyData, c: Criteria) -> PatternResult:
    """Systems change reaches people who were never served."""
    pair = data.paired
    gain = (pair["on_unserved_rate_final"] - pair["on_unserved_rate_cf_final"]) * 100
    gain_off = (pair["off_unserved_rate_final"] - pair["off_unserved_rate_cf_final"]) * 100
    diff = gain - gain_off
    ci = _boot(c, pd.DataFrame({"d": diff}), lambda f: float(f["d"].mean()))
    return _result(c, "reaches_unserved", float(diff.mean()), ci, len(pair), None,
                   {"gain_on": float(gain.mean()), "gain_off": float(gain_off.mean())})


def p_equity(data: StudyData, c: Criteria) -> PatternResult:
    """Equity outcomes appear with an equity focus and rarely without one."""
    key = "equity"
    pop = data.population
    eq = equity_outcome(pop, c)
    strong = pop["equity_focus_level"] >= c.param(key, "strong_focus_min")
    weak = pop["equity_focus_level"] <= c.param(key, "weak_focus_max")
    k_s, n_s = int(eq[strong].sum()), int(strong.sum())
    k_w, n_w = int(eq[weak].sum()), int(weak.sum())
    s_s = k_s / n_s if n_s else float("nan")
    s_w = k_w / n_w if n_w else float("nan")
    narrowing = equity_narrowing(pop)
    return _result(c, key, s_w, _ci(c, k_w, n_w), n_w, {"share_strong": s_s},
                   {"share_strong": s_s, "ci_strong": _ci(c, k_s, n_s), "n_strong": n_s,
                    "mean_narrowing_weak": float(narrowing[weak].mean()),
                    "mean_narrowing_strong": float(narrowing[strong].mean())})


def p_trust_years(data: StudyData, c: Criteria) -> PatternResult:
    """Trust takes years of regular meetings to build."""
    pop = data.population
    regular = regular_meetings(pop, c)
    years = pop["years_to_trust"].fillna(np.inf)

    def median(f: Any) -> float:
        return float(np.median(np.where(np.isnan(f["years_to_trust"]), np.inf,
                                        f["years_to_trust"])))

    value = float(np.median(years[regular])) if regular.any() else float("nan")
    reached_reg = float(np.isfinite(years[regular]).mean()) if regular.any() else float("nan")
    reached_rare = (float(np.isfinite(years[~regular]).mean()) if (~regular).any()
                    else float("nan"))
    ci = _boot(c, pop.loc[regular, ["years_to_trust"]], median)
    return _result(c, "trust_years", value, ci, int(regular.sum()),
                   {"reached_regular": reached_reg, "reached_rare": reached_rare},
                   {"reached_regular": reached_reg, "reached_rare": reached_rare,
                    "n_rare": int((~regular).sum())})


def p_funding(data: StudyData, c: Criteria) -> PatternResult:
    """Funding of at least two to three years with an anchor funder is a condition for success."""
    pop = data.population
    cond = funding_condition(pop, c)
    ok = changed(pop).astype(float)
    frame = pd.DataFrame({"c": cond, "ok": ok})

    def ratio(f: Any) -> float:
        means = group_means(f, "c", "ok")
        if means is None:
            return float("nan")
        a, b = means
        return a / b if b > 0 else float("inf")

    return _result(c, "funding", ratio(frame), _boot(c, frame, ratio), len(pop), None,
                   {"share_with": float(ok[cond].mean()), "share_without": float(ok[~cond].mean()),
                    "n_with": int(cond.sum()), "n_without": int((~cond).sum())})


def p_trust_asymmetry(data: StudyData, c: Criteria) -> PatternResult:
    """Trust is destroyed faster than it is built (Slovic 1993)."""
    pop = data.population.dropna(subset=["trust_good_effect", "trust_bad_effect"])
    pop = pop[pop["trust_good_effect"] > 0]
    ratio = -pop["trust_bad_effect"] / pop["trust_good_effect"]
    value = float(ratio.median()) if len(ratio) else float("nan")
    ci = _boot(c, pd.DataFrame({"r": ratio}), lambda f: float(np.median(f["r"])))
    return _result(c, "trust_asymmetry", value, ci, len(pop))


def p_small_wins(data: StudyData, c: Criteria) -> PatternResult:
    """Small wins feed commitment (Ansell & Gash 2008)."""
    key = "small_wins"
    pop = data.population
    H = horizon(pop)
    y = _year(pop, int(c.param(key, "win_year")))
    win = pop[f"measured_change@{y}"] >= c.param(key, "win_pp")
    keep = pop[f"trust@{H}"] - pop[f"trust@{y}"]
    frame = pd.DataFrame({"w": win, "k": keep})

    def diff(f: Any) -> float:
        means = group_means(f, "w", "k")
        return float("nan") if means is None else means[0] - means[1]

    return _result(c, key, diff(frame), _boot(c, frame, diff), len(pop), None,
                   {"n_win": int(win.sum()), "trust_rise_win": float(keep[win].mean()),
                    "trust_rise_no_win": float(keep[~win].mean())})


def p_inclusiveness(data: StudyData, c: Criteria) -> PatternResult:
    """Larger, more inclusive partnerships build trust more slowly (Smaldino & Lubell 2011)."""
    pop = data.population[data.population["meetings_per_year"] > 0]
    col = f"trust@{_year(pop, int(c.param('inclusiveness', 'trust_year')))}"
    frame = pop[["n_partners", col]]

    def rho(f: Any) -> float:
        if len(np.unique(f["n_partners"])) < 2 or len(np.unique(f[col])) < 2:
            return float("nan")
        return float(stats.spearmanr(f["n_partners"], f[col]).statistic)

    return _result(c, "inclusiveness", rho(frame), _boot(c, frame, rho), len(pop))


#: The cadences that meet, with meetings per year (designs that never meet are left out).
CADENCE_ORDER = [("weekly", 52.0), ("biweekly", 26.0), ("monthly", 13.0), ("quarterly", 4.0)]


def quadratic_in_log_cadence(f: Mapping[str, np.ndarray]) -> tuple[float, float]:
    """Least squares of ``y`` on z = log2(``m`` meetings a year) and z^2.

    Returns:
        The coefficient of z^2 and the cadence (meetings a year) of the fitted extremum
        (NaN without at least three distinct cadences or without curvature).
    """
    m, y = np.asarray(f["m"], dtype=float), np.asarray(f["y"], dtype=float)
    if len(np.unique(m)) < 3:
        return float("nan"), float("nan")
    z = np.log2(m)
    z0 = z.mean()  # centred: a better-conditioned fit, the same curvature
    X = np.column_stack([np.ones_like(z), z - z0, (z - z0) ** 2])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    b1, b2 = float(coef[1]), float(coef[2])
    with np.errstate(over="ignore"):  # a nearly straight fit: the extremum far outside
        peak = float(np.exp2(z0 - b1 / (2 * b2))) if b2 != 0 else float("nan")
    return b2, peak


def p_meeting_intensity(data: StudyData, c: Criteria) -> PatternResult:
    """An intermediate meeting intensity works best (Tomasello, Tessone & Schweitzer 2016)."""
    pop = data.population
    pop = pop[(pop["backbone"] > 0.5) & (pop["meetings_per_year"] > 0)]
    H = horizon(pop)
    frame = pd.DataFrame({"m": pop["meetings_per_year"].to_numpy(dtype=float),
                          "y": pc(pop, H).to_numpy(dtype=float)})
    curvature, peak = quadratic_in_log_cadence(frame)
    ci = _boot(c, frame, lambda f: quadratic_in_log_cadence(f)[0])
    by = {name: float(frame["y"][frame["m"] == m].mean()) if (frame["m"] == m).any()
          else float("nan") for name, m in CADENCE_ORDER}
    return _result(c, "meeting_intensity", curvature, ci, len(pop),
                   {"peak_meetings_per_year": peak},
                   {"peak_meetings_per_year": peak, "mean_by_cadence": by,
                    "n_by_cadence": {name: int((frame["m"] == m).sum())
                                     for name, m in CADENCE_ORDER}})


PATTERNS: dict[str, Callable[[StudyData, Criteria], PatternResult]] = {
    "five_conditions": p_five_conditions,
    "not_before_three_years": p_not_before_three_years,
    "many_take_longer": p_many_take_longer,
    "backbone_driver": p_backbone_driver,
    "foundational_conditions": p_conditions_drivers,
    "failure_causes": p_failure_causes,
    "systems_change": p_systems_change,
    "reaches_unserved": p_unserved,
    "equity": p_equity,
    "trust_years": p_trust_years,
    "funding": p_funding,
    "trust_asymmetry": p_trust_asymmetry,
    "small_wins": p_small_wins,
    "inclusiveness": p_inclusiveness,
    "meeting_intensity": p_meeting_intensity,
}

#: What each pattern's entry in the criteria file must give (parameters) and may name
#: (statistics beyond value, low and high).
SPECS: dict[str, PatternSpec] = {
    "five_conditions": PatternSpec(("observed_changed", "observed_sites"),
                                   ("share_without", "observed_low", "observed_high")),
    "not_before_three_years": PatternSpec(("before_year", "observed_successes", "alpha"),
                                          ("compatible_limit",)),
    "many_take_longer": PatternSpec(("from_year",)),
    "backbone_driver": PatternSpec(("min_designs",), ("rank",)),
    "foundational_conditions": PatternSpec(("bins",), ("backbone_rank", "agenda_rank")),
    "failure_causes": PatternSpec((), ("best_rank",)),
    "systems_change": PatternSpec(()),
    "reaches_unserved": PatternSpec(()),
    "equity": PatternSpec(("narrowing_logodds", "weak_focus_max", "strong_focus_min"),
                          ("share_strong",)),
    "trust_years": PatternSpec((), ("reached_regular", "reached_rare")),
    "funding": PatternSpec(("anchor_min_years",)),
    "trust_asymmetry": PatternSpec(()),
    "small_wins": PatternSpec(("win_pp", "win_year")),
    "inclusiveness": PatternSpec(("trust_year",)),
    "meeting_intensity": PatternSpec((), ("peak_meetings_per_year",)),
}


def default_criteria(path: str | Path = CRITERIA_FILE) -> Criteria:
    """The study's criteria file, validated against the patterns implemented here."""
    return load_criteria(path, SPECS)


def check_all(data: StudyData, c: Criteria) -> list[PatternResult]:
    """Check every pattern on the study's runs, in the criteria file's order."""
    return [PATTERNS[key](data, c) for key in c.patterns]

