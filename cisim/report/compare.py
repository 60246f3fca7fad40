"""Comparing partnership designs: which design beats which, how likely, and how sure.

Every design is run as an ensemble with the same master seed, so replication ``i`` of every design
uses the same seed: common random numbers (CRN). The engine draws its random numbers from a
counter-based generator keyed by (seed, step, index, stream), so paired replications share their
luck (the same partners drawn, the same youth leaving work in the same week) and differ only
through the design. Comparing designs replication by replication then removes most of the noise
that independent ensembles would leave (Law & Kelton, *Simulation Modeling and Analysis*, on CRN).

For two designs A and B and an outcome measured per replication, the probability that A beats B
is the mean over the n paired replications of a score: 1 when A is better in that replication,
0 when it is worse and **one half when they tie** (equal values, including both "never"), so a
design compared with itself scores exactly 0.5 and P(A beats B) + P(B beats A) = 1. Its standard
error is the standard deviation of the scores over sqrt(n). Missing values count as the worst
possible outcome: no significant change by the horizon is slower than any year, no outcome-years
gained is dearer than any cost.

Risk is a property of the whole ensemble, the 10th percentile of population change against the
counterfactual (how bad the worst tenth of futures is). Its probability of being higher for A than
for B is estimated by a paired bootstrap: replications are resampled with the same indices for
both designs (keeping the CRN pairing), ties again count one half; its standard error is the
Monte Carlo error of that share, and the per-design table gives each 10th percentile with its
bootstrap standard error.

A statistic that only some futures have (the year of a significant change exists only where one
came; the cost per outcome-year only where outcome-years were gained) always says on how many
futures it rests, and with fewer than five values, or values that do not differ, it lists them
instead of drawing an interval (:func:`describe_subset`); the share of futures reaching a
significant change stands next to its timing. Costs come from each ensemble's cost ledger
(:mod:`cisim.costs`): total investment and its sources side by side with the cost per
outcome-year, drawn on a log axis so that one dear future cannot flatten the others.
"""

from __future__ import annotations

import html
import math
import textwrap
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from cisim.costs import cost_totals
from cisim.io import write_text_atomic
from cisim.provenance import changes_of
from cisim.report.figures import bands
from cisim.report.html import (
    figure_data_uri,
    fmt,
    html_table,
    limitations_section,
    number_span,
    page,
    read_validation_results,
)
from cisim.simulate import SIGNIFICANT_CHANGE_PP

__all__ = [
    "METRICS",
    "Comparison",
    "Design",
    "Metric",
    "beat_probability",
    "compare_results",
    "comparison_html",
    "cost_table",
    "costs_figure",
    "describe_subset",
    "design_lines",
    "distributions_figure",
    "paired_scores",
    "probability_figure",
    "quantile_beat_probability",
    "run_comparison",
    "trajectories_figure",
    "write_comparison",
]

RISK_PERCENTILE = 10.0
N_BOOTSTRAP = 2000
#: Fewest futures with a value for which a 90% interval is shown; with fewer, the values are
#: listed (an interval from one to four values is mostly the values themselves).
MIN_FOR_INTERVAL = 5


@dataclass(frozen=True)
class Metric:
    """An outcome on which designs are compared.

    Attributes:
        key: Short identifier.
        label: Plain-language label.
        column: The summary column (one value per replication).
        higher_is_better: Direction of "better".
        kind: Number format of its values (see :func:`cisim.report.html.fmt`).
        statistic: ``"paired"`` (compare replication by replication) or ``"p10"`` (compare the
            10th percentiles across replications, by paired bootstrap).
    """

    key: str
    label: str
    column: str
    higher_is_better: bool
    kind: str
    statistic: str = "paired"


#: The comparison outcomes, in report order. Population change against each design's own
#: counterfactual is the partnership's premium over the same money spent in isolation; population
#: change since the start compares the designs' outcomes directly (with common random numbers the
#: designs start from the same population), which is what differs when designs differ in money.
METRICS: tuple[Metric, ...] = (
    Metric("population_change", "Population change vs counterfactual at the horizon (pp)",
           "population_change_vs_cf_final", True, "pp"),
    Metric("population_outcome", "Population change since the start at the horizon (pp)",
           "population_change_final", True, "pp"),
    Metric("sroi", "SROI at the horizon", "sroi_final", True, "ratio"),
    Metric("time_to_change", "Years to a significant population change",
           "first_significant_change_year", False, "year"),
    Metric("cost_per_outcome", "Cost per outcome-year gained", "cost_per_outcome_year", False,
           "money"),
    Metric("risk", "Risk: 10th percentile of population change vs counterfactual (pp)",
           "population_change_vs_cf_final", True, "pp", "p10"),
)


# --------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------


def _worst_filled(values: Any, higher_is_better: bool) -> np.ndarray:
    arr = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
    return np.where(np.isnan(arr), -np.inf if higher_is_better else np.inf, arr)


def paired_scores(a: Any, b: Any, higher_is_better: bool = True) -> np.ndarray:
    """Per paired replication: 1 if A is better than B, 0.5 on a tie, 0 if worse.

    Missing values (NaN) count as the worst possible outcome; two missing values tie.

    Args:
        a: A's values, one per replication.
        b: B's values, paired with A's by position.
        higher_is_better: Direction of "better".

    Returns:
        The scores.

    Raises:
        ValueError: A and B have different lengths.

    """
    x = _worst_filled(a, higher_is_better)
    y = _worst_filled(b, higher_is_better)
    if x.shape != y.shape:
        raise ValueError(f"paired values need equal lengths, got {x.size} and {y.size}")
    better = x > y if higher_is_better else x < y
    return np.where(x == y, 0.5, better.astype(float))


def beat_probability(a: Any, b: Any, higher_is_better: bool = True) -> tuple[float, float]:
    """Probability that A beats B over paired replications, with its standard error.

    Returns:
        (the mean paired score, its standard error sd / sqrt(n)); the error is NaN for n < 2.

    """
    scores = paired_scores(a, b, higher_is_better)
    n = scores.size
    if n == 0:
        return float("nan"), float("nan")
    se = float(scores.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    return float(scores.mean()), se


def _bootstrap_indices(n: int, n_boot: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def quantile_beat_probability(
    a: Any, b: Any, q: float = RISK_PERCENTILE, higher_is_better: bool = True,
    n_boot: int = N_BOOTSTRAP, seed: int = 0,
) -> tuple[float, float]:
    """Probability that A's q-th percentile beats B's, by paired bootstrap.

    Replications are resampled with the same indices for A and B; ties count one half.

    Returns:
        (the bootstrap share, its Monte Carlo standard error: the standard deviation of the
        bootstrap scores over the square root of the number of resamples).

    """
    x = pd.to_numeric(pd.Series(a), errors="coerce").to_numpy(dtype=float)
    y = pd.to_numeric(pd.Series(b), errors="coerce").to_numpy(dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"paired values need equal lengths, got {x.size} and {y.size}")
    if x.size == 0:
        return float("nan"), float("nan")
    idx = _bootstrap_indices(x.size, n_boot, seed)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN resamples give NaN: worst
        qa = np.nanpercentile(x[idx], q, axis=1)
        qb = np.nanpercentile(y[idx], q, axis=1)
    scores = paired_scores(qa, qb, higher_is_better)
    return float(scores.mean()), float(scores.std(ddof=1) / math.sqrt(n_boot))


def _bootstrap_se_of_quantile(values: Any, q: float, n_boot: int, seed: int) -> float:
    x = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
    if x.size < 2:
        return float("nan")
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        boot = np.nanpercentile(x[_bootstrap_indices(x.size, n_boot, seed)], q, axis=1)
    return float(np.nanstd(boot, ddof=1))


# --------------------------------------------------------------------------------------------
# Honest statistics of a subset of futures
# --------------------------------------------------------------------------------------------


def _plain(value: float, kind: str, currency: str) -> str:
    if kind == "money" and math.isfinite(value):
        for div, suffix in ((1e9, " bn"), (1e6, " M"), (1e3, " k")):
            if abs(value) >= div:
                return f"{value / div:.3g}{suffix} {currency}".rstrip()
    return fmt(value, kind, currency)


def describe_subset(values: Any, n: int | None = None, kind: str = "level", currency: str = "",
                    what: str = "futures", count: bool = True) -> str:
    """Describe values that only some futures have, without overstating what they show.

    With at least :data:`MIN_FOR_INTERVAL` values that differ: the median and the 90% interval
    (5th to 95th percentile). With fewer values, or all equal: the values themselves, never an
    interval such as "2.2 to 2.2". Whenever some futures have no value, the text says how many
    have one ("1 of 20 futures").

    Args:
        values: One value per future; NaN (or None) where the future has none.
        n: The number of futures (default: the number of values).
        kind: Number format (see :func:`cisim.report.html.fmt`; ``money`` is shortened to
            k/M/bn).
        currency: The currency of ``money`` values.
        what: The plural noun of the futures ("futures", "replications").
        count: Say how many futures have a value (leave it to the caller when False).

    Returns:
        Plain text, e.g. ``median 2.8 (90% interval 2.1 to 4.0), 18 of 20 futures`` or
        ``2.2 (1 of 20 futures; too few for an interval)``.

    """
    arr = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=float)
    total = int(arr.size if n is None else n)
    finite = np.sort(arr[np.isfinite(arr)])
    k = int(finite.size)
    if k == 0:
        return f"none of {total} {what}" if count else "no value"
    notes = [f"{k} of {total} {what}"] if count and k < total else []

    def note(*extra: str) -> str:
        parts = notes + list(extra)
        return f" ({'; '.join(parts)})" if parts else ""

    if k == 1:
        return f"{_plain(finite[0], kind, currency)}{note('too few for an interval')}"
    if float(np.ptp(finite)) == 0.0:
        return f"{_plain(finite[0], kind, currency)} in each{note('no spread')}"
    if k < MIN_FOR_INTERVAL:
        listed = ", ".join(_plain(v, kind, currency) for v in finite)
        return f"values {listed}{note('too few for an interval')}"
    lo, med, hi = (_plain(v, kind, currency) for v in np.percentile(finite, [5, 50, 95]))
    if lo == hi:  # the spread is below the precision shown
        return f"{med} in each{note('differences below the precision shown')}"
    return f"median {med} (90% interval {lo} to {hi}){note()}"


def _reach_text(values: Any, n: int) -> str:
    """'18 of 20 futures (90%), year ...' for the time to an event that may never come."""
    arr = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=float)
    k = int(np.isfinite(arr).sum())
    if k == 0:
        return f"in none of {n} futures by the horizon"
    when = describe_subset(arr, kind="year", count=False)
    for start, phrase in (("median ", "median year "), ("values ", "in years ")):
        if when.startswith(start):
            when = phrase + when[len(start):]
            break
    else:
        when = "in year " + when
    return f"in {k} of {n} futures ({100 * k / n:.0f}%), {when}"


# --------------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------------


@dataclass
class Design:
    """One design in a comparison.

    Attributes:
        label: Unique display name.
        result: Its ensemble (``summaries``, ``trajectories``, ``seeds``, ``scenario``).
        source: Where it came from (file name and overrides), for the report.
    """

    label: str
    result: Any
    source: str = ""


@dataclass
class Comparison:
    """Pairwise comparison of designs over paired replications.

    Attributes:
        designs: The designs, in the order given.
        probabilities: Long table: ``metric``, ``design``, ``other``, ``p_beats`` (probability
            that ``design`` beats ``other``), ``se``, ``n``, ``method``.
        summary: Per design and metric: ``median``, ``p5``, ``p95``, ``p10``, ``p10_se``,
            ``missing`` (replications without a value).
        crn: Whether every design used the same replication seeds (common random numbers).
        seed: The master seed, when known.
        metrics: The outcomes compared.
        costs: Per design and replication: ``total`` investment (money into the pooled fund
            plus coordination time), its parts by source, the uses of the pooled fund,
            ``cost_per_outcome_year`` and ``outcome_years_gained`` (see :func:`cost_table`).
    """

    designs: list[Design]
    probabilities: pd.DataFrame
    summary: pd.DataFrame
    crn: bool
    seed: int | None = None
    metrics: tuple[Metric, ...] = field(default=METRICS)
    costs: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def labels(self) -> list[str]:
        """The designs' labels."""
        return [d.label for d in self.designs]

    def matrix(self, metric: str, column: str = "p_beats") -> pd.DataFrame:
        """P(row beats column) for one metric as a square frame (NaN on the diagonal)."""
        rows = self.probabilities[self.probabilities["metric"] == metric]
        wide = rows.pivot(index="design", columns="other", values=column)
        return wide.reindex(index=self.labels, columns=self.labels)


def compare_results(
    results: Sequence[Any],
    labels: Sequence[str],
    sources: Sequence[str] | None = None,
    *,
    seed: int | None = None,
    metrics: Sequence[Metric] = METRICS,
    n_boot: int = N_BOOTSTRAP,
) -> Comparison:
    """Compare ensembles of designs pairwise on every metric.

    Args:
        results: One ensemble per design, with the same number of replications; replication
            ``i`` of each is paired with replication ``i`` of the others.
        labels: Unique display names, one per design.
        sources: Where each design came from, for the report.
        seed: The master seed, for the report.
        metrics: The outcomes to compare on.
        n_boot: Bootstrap resamples for the risk metric.

    Returns:
        The comparison.

    Raises:
        ValueError: Fewer than two designs, duplicate labels or unequal replication counts.

    """
    if len(results) < 2:
        raise ValueError("a comparison needs at least two designs")
    if len(labels) != len(results) or len(set(labels)) != len(labels):
        raise ValueError("every design needs a unique label")
    counts = {len(r.summaries) for r in results}
    if len(counts) != 1:
        raise ValueError(f"designs have different numbers of replications: {sorted(counts)}")
    sources = list(sources) if sources is not None else [""] * len(results)
    designs = [Design(lab, res, src) for lab, res, src in zip(labels, results, sources,
                                                               strict=True)]
    seeds = [list(getattr(r, "seeds", [])) for r in results]
    crn = all(s == seeds[0] for s in seeds) and bool(seeds[0])

    def column(design: Design, metric: Metric) -> pd.Series:
        summaries = design.result.summaries
        if metric.column not in summaries.columns:
            return pd.Series(np.nan, index=summaries.index)
        return summaries.sort_values("replication")[metric.column] \
            if "replication" in summaries.columns else summaries[metric.column]

    rows = []
    for metric in metrics:
        for a in designs:
            for b in designs:
                if a is b:
                    continue
                x, y = column(a, metric), column(b, metric)
                if metric.statistic == "p10":
                    p, se = quantile_beat_probability(x, y, RISK_PERCENTILE,
                                                      metric.higher_is_better, n_boot)
                    method = "paired bootstrap of the 10th percentile"
                else:
                    p, se = beat_probability(x, y, metric.higher_is_better)
                    method = "paired replications"
                rows.append({"metric": metric.key, "design": a.label, "other": b.label,
                             "p_beats": p, "se": se, "n": len(x), "method": method})
    probabilities = pd.DataFrame(rows)

    summary_rows = []
    for metric in metrics:
        for d in designs:
            values = pd.to_numeric(column(d, metric), errors="coerce").to_numpy(dtype=float)
            finite = values[np.isfinite(values)]

            def pct(q: float, arr: np.ndarray = finite) -> float:
                return float(np.percentile(arr, q)) if arr.size else float("nan")

            summary_rows.append({
                "metric": metric.key, "design": d.label,
                "median": pct(50), "p5": pct(5), "p95": pct(95), "p10": pct(RISK_PERCENTILE),
                "p10_se": _bootstrap_se_of_quantile(finite, RISK_PERCENTILE, n_boot, 1),
                "missing": int(values.size - finite.size), "n": int(values.size),
            })
    costs = pd.concat([_design_costs(d) for d in designs], ignore_index=True)
    return Comparison(designs, probabilities, pd.DataFrame(summary_rows), crn, seed,
                      tuple(metrics), costs)


def _design_costs(design: Design) -> pd.DataFrame:
    """Per replication of a design: investment totals and the cost per outcome-year."""
    res = design.result
    summaries = res.summaries
    if "replication" in summaries.columns:
        summaries = summaries.sort_values("replication").set_index("replication")
    costs = getattr(res, "costs", None)
    if isinstance(costs, pd.DataFrame) and not costs.empty:
        frame = cost_totals(costs).set_index("replication").reindex(summaries.index)
    else:  # results saved before the cost ledger: the total only
        total = summaries.get("cumulative_investment", pd.Series(np.nan, summaries.index))
        frame = pd.DataFrame({"total": total}, index=summaries.index)
    for col in ("cost_per_outcome_year", "outcome_years_gained"):
        frame[col] = pd.to_numeric(summaries.get(col, pd.Series(np.nan, summaries.index)),
                                   errors="coerce")
    frame.index.name = "replication"
    frame = frame.reset_index()
    frame.insert(0, "design", design.label)
    return frame


#: Parts of the investment shown per design, as (column of the cost frame, label).
COST_PARTS: tuple[tuple[str, str], ...] = (
    ("funding stream", "Funding streams"),
    ("partner grant", "Partners' grants"),
    ("coordination time", "Coordination time"),
)


def cost_table(comparison: Comparison) -> pd.DataFrame:
    """Totals and cost per outcome side by side, one row per design.

    Returns:
        Columns ``design``, ``n``, ``total_median``, ``total_p5``, ``total_p95``, the median of
        each part in :data:`COST_PARTS` (0 when the design has none), ``cost_per_outcome_median``
        and ``cost_per_outcome_count`` (futures that gained outcome-years, where the cost per
        outcome exists), ``outcome_years_median``.

    """
    rows = []
    for label in comparison.labels:
        c = comparison.costs[comparison.costs["design"] == label]
        total = _finite(c["total"]) if "total" in c.columns else np.array([])
        cpo = _finite(c["cost_per_outcome_year"]) if len(c) else np.array([])
        row: dict[str, Any] = {
            "design": label, "n": len(c),
            "total_median": _pct_or_nan(total, 50), "total_p5": _pct_or_nan(total, 5),
            "total_p95": _pct_or_nan(total, 95),
        }
        for col, _ in COST_PARTS:
            row[col] = _pct_or_nan(_finite(c[col]), 50) if col in c.columns else float("nan")
        row["cost_per_outcome_median"] = _pct_or_nan(cpo, 50)
        row["cost_per_outcome_count"] = int(cpo.size)
        row["outcome_years_median"] = _pct_or_nan(_finite(c.get("outcome_years_gained", [])), 50)
        rows.append(row)
    return pd.DataFrame(rows)


def _finite(values: Any) -> np.ndarray:
    arr = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=float)
    return arr[np.isfinite(arr)]


def _pct_or_nan(arr: np.ndarray, q: float) -> float:
    return float(np.percentile(arr, q)) if arr.size else float("nan")


def run_comparison(
    scenarios: Sequence[Any],
    labels: Sequence[str],
    sources: Sequence[str] | None = None,
    *,
    replications: int = 20,
    seed: int = 0,
    n_jobs: int = -1,
    progress: Callable[[int, int], None] | None = None,
    parameters: Any = "default",
) -> Comparison:
    """Run every design with the same seeds (common random numbers) and compare them.

    The uncertain assumptions are drawn once per replication from one distribution shared by
    every design, so replication ``k`` of every design uses the same seed and the same parameter
    draw (a path a design pins keeps that design's value).

    Args:
        scenarios: The designs.
        labels: Unique display names.
        sources: Where each design came from.
        replications: Replications per design.
        seed: The master seed shared by every design.
        n_jobs: joblib workers per ensemble.
        progress: Called as ``progress(done, total)`` over all designs' replications.
        parameters: Where the assumptions come from (see :func:`cisim.simulate.ensemble`).

    Returns:
        The comparison.

    """
    from cisim.simulate import ensemble, resolve_parameters

    distribution = resolve_parameters(parameters)
    shared = "seed_only" if distribution is None else distribution

    total = replications * len(scenarios)
    results = []
    for k, scenario in enumerate(scenarios):
        def step(done: int, _total: int, offset: int = k * replications) -> None:
            if progress is not None:
                progress(offset + done, total)

        results.append(ensemble(scenario, replications, seed=seed, n_jobs=n_jobs, progress=step,
                                parameters=shared))
    return compare_results(results, labels, sources, seed=seed)


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------

_COLOURS = ("#1f6fb4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#17becf")


def _new(width: float, height: float, nrows: int, ncols: int) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, squeeze=False)


def probability_figure(comparison: Comparison) -> Figure:
    """Heat maps of P(row design beats column design), one panel per metric.

    Returns:
        The figure; each cell shows the probability and its standard error.

    """
    metrics = comparison.metrics
    k = len(comparison.labels)
    ncols = min(3, len(metrics))
    nrows = math.ceil(len(metrics) / ncols)
    size = 1.2 + 0.9 * k
    fig, axes = _new(ncols * size + 1.5, nrows * size + 0.8, nrows, ncols)
    short = [lab if len(lab) <= 18 else lab[:17] + "…" for lab in comparison.labels]
    image = None
    for i, ax in enumerate(axes.flat):
        if i >= len(metrics):
            ax.set_visible(False)
            continue
        metric = metrics[i]
        p = comparison.matrix(metric.key).to_numpy(dtype=float)
        se = comparison.matrix(metric.key, "se").to_numpy(dtype=float)
        image = ax.imshow(np.where(np.isnan(p), 0.5, p), cmap="RdBu", vmin=0, vmax=1)
        for r in range(k):
            for c in range(k):
                text = "—" if r == c else f"{p[r, c]:.2f}\n±{se[r, c]:.2f}"
                ax.text(c, r, text, ha="center", va="center", fontsize="small",
                        color="black" if r == c or 0.25 < p[r, c] < 0.75 else "white")
        ax.set_xticks(range(k), short, rotation=30, ha="right", fontsize="small")
        ax.set_yticks(range(k), short, fontsize="small")
        ax.set_title(textwrap.fill(metric.label, 36), fontsize="small")
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8,
                     label="P(row design beats column design)")
    fig.suptitle("Probability that each design (row) beats each other (column), "
                 "over paired replications" + _changes_note(comparison))
    return fig


def distributions_figure(comparison: Comparison) -> Figure:
    """Box plots of each design's outcomes across replications, one panel per metric.

    Returns:
        The figure (the risk metric is marked on the population change panel as the 10th
        percentile).

    """
    metrics = [m for m in comparison.metrics if m.statistic == "paired"]
    ncols = 2
    nrows = math.ceil(len(metrics) / ncols)
    k = len(comparison.labels)
    fig, axes = _new(11, 3.0 * nrows + 0.6, nrows, ncols)
    short = [lab if len(lab) <= 18 else lab[:17] + "…" for lab in comparison.labels]
    for i, ax in enumerate(axes.flat):
        if i >= len(metrics):
            ax.set_visible(False)
            continue
        metric = metrics[i]
        data, missing = [], []
        for d in comparison.designs:
            col = d.result.summaries.get(metric.column, pd.Series(dtype=float))
            values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
            data.append(values[np.isfinite(values)])
            missing.append(int((~np.isfinite(values)).sum()))
        positions = np.arange(1, k + 1)
        shown = [j for j in range(k) if data[j].size]
        boxed = [j for j in shown if data[j].size >= MIN_FOR_INTERVAL]
        if boxed:
            parts = ax.boxplot([data[j] for j in boxed], positions=positions[boxed],
                               widths=0.5, patch_artist=True, showfliers=True)
            for j, box in zip(boxed, parts["boxes"], strict=True):
                box.set_facecolor(_COLOURS[j % len(_COLOURS)])
                box.set_alpha(0.5)
        for j in (j for j in shown if j not in boxed):  # too few for a box: the values
            ax.scatter(np.full(data[j].size, positions[j]), data[j], marker="D", s=24,
                       color=_COLOURS[j % len(_COLOURS)], zorder=3)
        if not shown:
            ax.text(0.5, 0.5, "No replication has a value", ha="center", va="center",
                    transform=ax.transAxes)
        ax.set_xlim(0.5, k + 0.5)
        if metric.key == "population_change":
            for j in shown:
                ax.plot(positions[j], np.percentile(data[j], RISK_PERCENTILE), marker="v",
                        color="#d62728", linestyle="none",
                        label="10th percentile (risk)" if j == shown[0] else None)
            if shown:
                ax.legend(loc="best", fontsize="small")
        n_all = [data[j].size + missing[j] for j in range(k)]
        ax.set_xticks(positions, [f"{s}\n(only {data[j].size} of {n_all[j]})" if m else s
                                  for j, (s, m) in enumerate(zip(short, missing, strict=True))],
                      fontsize="small")
        title = metric.label
        if metric.kind == "money" and shown and all((data[j] > 0).all() for j in shown):
            ax.set_yscale("log")  # one dear future must not flatten the others
            title += " (log scale)"
        ax.set_title(title, fontsize="medium")
        ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle("Outcomes of each design across replications" + _changes_note(comparison))
    return fig


def _changes_note(comparison: Comparison) -> str:
    """A second title line naming the command-line changes of the designs (empty if none)."""
    seen: list[str] = []
    for d in comparison.designs:
        for line in changes_of(d.result.scenario):
            flags = line.partition(": ")[2]
            if flags and flags not in seen:
                seen.append(flags)
    if not seen:
        return ""
    return "\n" + textwrap.shorten("Changed on the command line: " + "; ".join(seen), 160)


def costs_figure(comparison: Comparison) -> Figure:
    """Investment per design by source, and the cost per outcome-year on a log axis.

    Left: stacked medians of the investment's parts (funding streams, partners' grants,
    coordination time). Right: every future's cost per outcome-year gained on a log axis (one
    dear future cannot flatten the others), with a box of the middle half; futures beyond the
    whiskers are labelled with their value, and futures that gained no outcome-years (no cost
    per outcome) are counted under each design.

    Returns:
        The figure.

    """
    table = cost_table(comparison)
    k = len(comparison.labels)
    fig, axes = _new(11, 4.2, 1, 2)
    ax_inv, ax_cpo = axes[0]
    short = [lab if len(lab) <= 18 else lab[:17] + "…" for lab in comparison.labels]
    positions = np.arange(1, k + 1)
    cur = str(getattr(getattr(comparison.designs[0].result.scenario, "valuation", None),
                      "currency", "") or "")
    bottom = np.zeros(k)
    shades = ("#1f6fb4", "#9ecae1", "#fdae6b")
    for (col, label), colour in zip(COST_PARTS, shades, strict=True):
        heights = np.nan_to_num(table[col].to_numpy(dtype=float)) / 1e6
        if heights.any():
            ax_inv.bar(positions, heights, bottom=bottom, width=0.6, color=colour, label=label)
            bottom += heights
    totals = table["total_median"].to_numpy(dtype=float) / 1e6
    for x, t in zip(positions, totals, strict=True):
        if math.isfinite(t):
            ax_inv.text(x, t, f"{t:.2f} M", ha="center", va="bottom", fontsize="small")
    ax_inv.set_xticks(positions, short, fontsize="small")
    ax_inv.set_ylabel(f"Investment over the horizon (M {cur}, median)".replace("M )", "M)"))
    ax_inv.set_title("Total investment by source (medians)", fontsize="medium")
    if bottom.any():
        ax_inv.legend(loc="best", fontsize="small")
    ax_inv.grid(True, axis="y", alpha=0.3)

    labels = []
    any_value = False
    for j, label in enumerate(comparison.labels):
        c = comparison.costs[comparison.costs["design"] == label]
        values = pd.to_numeric(c["cost_per_outcome_year"], errors="coerce").to_numpy(float)
        finite = values[np.isfinite(values) & (values > 0)]
        labels.append(f"{short[j]}\n({finite.size} of {values.size} futures)")
        if not finite.size:
            continue
        any_value = True
        colour = _COLOURS[j % len(_COLOURS)]
        parts = ax_cpo.boxplot([finite], positions=[positions[j]], widths=0.5,
                               patch_artist=True, showfliers=False)
        parts["boxes"][0].set_facecolor(colour)
        parts["boxes"][0].set_alpha(0.35)
        jitter = (np.arange(finite.size) % 5 - 2) * 0.05
        ax_cpo.scatter(positions[j] + jitter, finite, s=14, color=colour, zorder=3)
        whiskers = [float(w.get_ydata()[1]) for w in parts["whiskers"]]
        low, high = min(whiskers), max(whiskers)
        for v in finite[(finite > high) | (finite < low)]:
            ax_cpo.annotate(_plain(float(v), "money", cur), (positions[j], v),
                            xytext=(8, 0), textcoords="offset points", fontsize="x-small",
                            va="center", gid="outlier")
    if any_value:
        ax_cpo.set_yscale("log")
    else:
        ax_cpo.text(0.5, 0.5, "No future gained outcome-years", ha="center", va="center",
                    transform=ax_cpo.transAxes)
    ax_cpo.set_xlim(0.5, k + 0.5)
    ax_cpo.set_xticks(positions, labels, fontsize="small")
    ax_cpo.set_ylabel(f"Cost per outcome-year gained ({cur}, log scale)")
    ax_cpo.set_title("Cost per outcome-year: every future, log scale; outliers labelled",
                     fontsize="medium")
    ax_cpo.grid(True, axis="y", which="both", alpha=0.3)
    fig.suptitle("What each design costs" + _changes_note(comparison))
    return fig


def trajectories_figure(comparison: Comparison) -> Figure:
    """Population change against the counterfactual over time: each design's median and 50%.

    Returns:
        The figure.

    """
    fig, axes = _new(10, 4.5, 1, 1)
    ax = axes[0, 0]
    for j, d in enumerate(comparison.designs):
        colour = _COLOURS[j % len(_COLOURS)]
        b = bands(d.result.trajectories, "population_change_vs_cf", (25, 50, 75))
        ax.fill_between(b["year"], b["p25"], b["p75"], color=colour, alpha=0.2, linewidth=0)
        ax.plot(b["year"], b["p50"], color=colour, linewidth=2, label=f"{d.label} (median)")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel("Years since start")
    ax.set_ylabel("Population change vs counterfactual (pp)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    ax.set_title("Population change against the counterfactual (median, 50% band shaded)"
                 + _changes_note(comparison))
    return fig


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------


def _lower_first(label: str) -> str:
    """'Population change' -> 'population change', but 'SROI at ...' stays (an acronym)."""
    if len(label) > 1 and label[1].islower():
        label = label[0].lower() + label[1:]
    return html.escape(label)


def _summary_text(comparison: Comparison) -> str:
    """One plain-language paragraph: for each metric, which design leads and how likely."""
    n = int(comparison.probabilities["n"].iloc[0]) if len(comparison.probabilities) else 0
    labels = comparison.labels
    sentences = [
        f"Each design was simulated in {n} futures"
        + (", the same futures for every design (common random numbers)" if comparison.crn
           else " (not paired: the designs used different seeds)")
        + "."
    ]
    for metric in comparison.metrics:
        mat = comparison.matrix(metric.key)
        se = comparison.matrix(metric.key, "se")
        # the leader: the design whose smallest probability of beating another is largest
        worst = {lab: float(np.nanmin(mat.loc[lab].to_numpy(dtype=float))) for lab in labels}
        best = max(labels, key=lambda lab: worst[lab])
        other = min((o for o in labels if o != best),
                    key=lambda o: float(mat.loc[best, o]))
        p, s = float(mat.loc[best, other]), float(se.loc[best, other])
        key = f"p.{metric.key}.{best}.{other}"
        if not (math.isfinite(s) and abs(p - 0.5) > 2 * s):
            sentences.append(
                f"On {_lower_first(metric.label)}, no design "
                f"clearly leads (closest pair: {number_span(key, p, 'level')} ± "
                f"{fmt(s, 'level')})."
            )
        else:
            vs = "every other design" if len(labels) > 2 else f"<strong>{html.escape(other)}"\
                 "</strong>"
            sentences.append(
                f"On {_lower_first(metric.label)}, "
                f"<strong>{html.escape(best)}</strong> beats {vs} with probability at least "
                f"{number_span(key, p, 'level')} (± {fmt(s, 'level')})."
            )
        if metric.key == "time_to_change":
            reach = "; by ".join(
                f"<strong>{html.escape(d.label)}</strong> "
                f'<span class="reach">{html.escape(_reach_text(_metric_values(d, metric), n))}'
                "</span>" for d in comparison.designs)
            sentences.append("A significant population change (at least "
                             f"{SIGNIFICANT_CHANGE_PP:g} pp against the counterfactual, held for "
                             f"a year) was reached by {reach}.")
    return " ".join(sentences)


def _metric_values(design: Design, metric: Metric) -> np.ndarray:
    summaries = design.result.summaries
    if "replication" in summaries.columns:
        summaries = summaries.sort_values("replication")
    col = summaries.get(metric.column, pd.Series(np.nan, summaries.index))
    return pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)


def _costs_section(comparison: Comparison) -> list[str]:
    """The costs table (totals and cost per outcome side by side) and the cost figure."""
    esc = html.escape
    table = cost_table(comparison)
    rows = []
    for d, (_, r) in zip(comparison.designs, table.iterrows(), strict=True):
        cur = str(getattr(getattr(d.result.scenario, "valuation", None), "currency", ""))
        c = comparison.costs[comparison.costs["design"] == d.label]
        n = int(r["n"])
        key = f"cost.{d.label}"
        total = (number_span(f"{key}.total", r["total_median"], "money", cur)
                 + "<br><small>" + esc(describe_subset(c["total"], kind="money", currency=cur))
                 + "</small>")
        parts = [number_span(f"{key}.{col}", r[col], "money", cur) for col, _ in COST_PARTS]
        cpo = esc(describe_subset(c["cost_per_outcome_year"], n, "money", cur))
        gained = int(r["cost_per_outcome_count"])
        cpo += (f'<br><small><span data-key="{esc(key)}.cost_per_outcome_count" '
                f'data-value="{gained}">{gained} of {n}</span> futures gained outcome-years'
                + ("; in the others there is no cost per outcome" if gained < n else "")
                + "</small>")
        rows.append([esc(d.label), total, *parts, cpo,
                     esc(describe_subset(c["outcome_years_gained"], kind="ratio"))])
    figure = costs_figure(comparison)
    cost_axes = figure.axes[1]
    scale = cost_axes.get_yscale()  # read back from the drawn axis, not assumed
    labelled = sum(1 for t in cost_axes.texts if t.get_gid() == "outlier")
    fig = figure_data_uri(figure)
    return [
        '<h2 id="costs">What each design costs</h2>',
        "<p>Investment is the money paid into the pooled fund (funding streams and partners' "
        "grants) plus partners' coordination time valued at the hourly cost, undiscounted, "
        "over the horizon. Partners' own service budgets are spent with or without the "
        "partnership and are not counted. Totals and parts are medians across futures.</p>",
        html_table(["Design", "Total investment", *[lab for _, lab in COST_PARTS],
                    "Cost per outcome-year gained", "Outcome-years gained"], rows, "costs"),
        f'<figure><img src="{fig}" data-cost-scale="{scale}" data-outliers-labelled='
        f'"{labelled}" alt="Investment by source and cost per outcome-year gained on a '
        f'{scale} scale, {labelled} outlier(s) labelled"><figcaption>Left: '
        "median investment by source. Right: every future's cost per outcome-year gained on a "
        "log scale (a dear future cannot flatten the others); futures beyond the whiskers are "
        "labelled with their value.</figcaption></figure>",
    ]


def design_lines(comparison: Comparison) -> list[str]:
    """Plain-text lines per design: investment, cost per outcome, significant change.

    Returns:
        Lines for the terminal, every subset statistic saying how many futures it rests on.

    """
    table = cost_table(comparison)
    time_metric = next((m for m in comparison.metrics if m.key == "time_to_change"), None)
    lines = []
    for d, (_, r) in zip(comparison.designs, table.iterrows(), strict=True):
        cur = str(getattr(getattr(d.result.scenario, "valuation", None), "currency", ""))
        c = comparison.costs[comparison.costs["design"] == d.label]
        n = int(r["n"])
        lines.append(f"{d.label}:")
        lines.append("  total investment: "
                     + describe_subset(c["total"], kind="money", currency=cur))
        lines.append("  cost per outcome-year gained: "
                     + describe_subset(c["cost_per_outcome_year"], n, "money", cur))
        if time_metric is not None:
            lines.append("  significant population change reached "
                     + _reach_text(_metric_values(d, time_metric), n))
    return lines


def comparison_html(comparison: Comparison) -> str:
    """Render a comparison as one self-contained HTML document.

    Returns:
        The document: summary, designs, per-design outcomes, probability tables and figures.

    """
    labels = comparison.labels
    esc = html.escape
    designs_rows = []
    for d in comparison.designs:
        sc = d.result.scenario
        designs_rows.append([esc(d.label), esc(d.source or ""),
                             esc(str(getattr(sc, "description", "") or ""))])
    changes = [f"{esc(d.label)}: {esc(line)}" for d in comparison.designs
               for line in changes_of(d.result.scenario)]
    body = [
        "<h1>Comparison of partnership designs</h1>",
        (f'<p class="meta" id="provenance">{"<br>".join(changes)}</p>' if changes else ""),
        f'<p class="meta">{len(labels)} designs · master seed '
        f'{esc(str(comparison.seed)) if comparison.seed is not None else "n/a"} · '
        f'{"common random numbers" if comparison.crn else "independent seeds"}</p>',
        # read before the numbers: what the model is, its validation status, the valuation in
        # use (of the first design; each design's own is in its scenario file)
        limitations_section(comparison.designs[0].result.scenario, read_validation_results()),
        f'<p class="lead" id="summary">{_summary_text(comparison)}</p>',
        "<h2>Designs</h2>",
        html_table(["Design", "Source", "Description"], designs_rows),
        "<h2>Outcomes of each design</h2>",
    ]
    rows = []
    for metric in comparison.metrics:
        for d in comparison.designs:
            r = comparison.summary[(comparison.summary["metric"] == metric.key)
                                   & (comparison.summary["design"] == d.label)].iloc[0]
            cur = str(getattr(getattr(d.result.scenario, "valuation", None), "currency", ""))
            n, have = int(r["n"]), int(r["n"]) - int(r["missing"])
            key = f"s.{metric.key}.{d.label}"
            if metric.statistic == "p10":
                text = (f"10th percentile {number_span(f'{key}.p10', r['p10'], metric.kind)}"
                        f" (bootstrap SE {fmt(r['p10_se'], 'level')})")
            else:
                values = _metric_values(d, metric)
                text = esc(describe_subset(values, kind=metric.kind, currency=cur))
                if metric.key == "time_to_change":
                    text = esc("reached " + _reach_text(values, n))
            share = f"{have} of {n}"
            rows.append([esc(metric.label), esc(d.label), text,
                         f'<span data-key="{esc(key)}.count" data-value="{have}">{share}</span>'])
    body.append(html_table(["Outcome", "Design", "Across futures (median and 90% interval "
                            "when at least five futures have a value)",
                            "Futures with a value"], rows))
    body.extend(_costs_section(comparison))
    body.append("<h2>Probability that each design beats each other</h2>")
    body.append("<p>Cell: probability that the row design beats the column design ± standard "
                "error, over paired replications; ties count one half.</p>")
    for metric in comparison.metrics:
        mat = comparison.matrix(metric.key)
        se = comparison.matrix(metric.key, "se")
        rows = []
        for a in labels:
            cells = [f"<strong>{esc(a)}</strong>"]
            for b in labels:
                if a == b:
                    cells.append("—")
                else:
                    cells.append(f"{number_span(f'p.{metric.key}.{a}.{b}', mat.loc[a, b], 'level')}"
                                 f" ± {fmt(se.loc[a, b], 'level')}")
            rows.append(cells)
        body.append(f"<h3>{esc(metric.label)}</h3>")
        body.append(html_table(["Row beats column"] + [esc(b) for b in labels], rows))
    for make, alt, caption in (
        (probability_figure, "Probability heat maps",
         "P(row beats column) per metric; blue: the row design tends to win, red: to lose."),
        (distributions_figure, "Outcome distributions",
         "Each design's outcomes across replications (box: middle half; whiskers: 1.5 IQR; "
         "diamonds: the values themselves when fewer than five futures have one; cost on a "
         "log scale)."),
        (trajectories_figure, "Population change over time",
         "Median and 50% band of population change against the counterfactual."),
    ):
        body.append(f'<figure><img src="{figure_data_uri(make(comparison))}" alt="{alt}">'
                    f"<figcaption>{caption}</figcaption></figure>")
    body = [b for b in body if b]
    body.append(
        "<h2>How to read this comparison</h2><ul>"
        "<li>Every design is simulated with the same replication seeds (common random numbers): "
        "replication i of each design faces the same luck, so differences come from the "
        "design. Unless the comparison was run with <code>--seed-only</code>, replication i of "
        "each design also draws the same values of the uncertain assumptions (a value a design "
        "sets itself stays), so the designs are compared under the same assumptions too.</li>"
        "<li>P(A beats B) is the share of paired replications in which A is better, a tie "
        "counting one half; its standard error is the standard deviation of these scores over "
        "the square root of the number of replications. A design compared with itself gives "
        "exactly 0.5.</li>"
        "<li>Missing values count as the worst outcome: no significant change within the "
        "horizon is slower than any year; no outcome-years gained is dearer than any cost.</li>"
        f"<li>Risk is the {RISK_PERCENTILE:g}th percentile of population change against the "
        "counterfactual across replications; its probability comes from a paired bootstrap "
        f"({N_BOOTSTRAP} resamples) and its error is the Monte Carlo error.</li></ul>"
    )
    numbers = {
        "costs": cost_table(comparison).to_dict(orient="records"),
        "crn": comparison.crn,
        "labels": labels,
        "probabilities": comparison.probabilities.to_dict(orient="records"),
        "summary": comparison.summary.to_dict(orient="records"),
    }
    return page("cisim comparison: " + " vs ".join(labels), "\n".join(body), numbers)


def write_comparison(comparison: Comparison, path: str | Path) -> Path:
    """Render a comparison and write it atomically to ``path``; return the path."""
    path = Path(path)
    write_text_atomic(path, comparison_html(comparison))
    return path
