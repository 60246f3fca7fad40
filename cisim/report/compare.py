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

from cisim.io import write_text_atomic
from cisim.report.figures import bands
from cisim.report.html import figure_data_uri, fmt, html_table, number_span, page

__all__ = [
    "METRICS",
    "Comparison",
    "Design",
    "Metric",
    "beat_probability",
    "compare_results",
    "comparison_html",
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
    """

    designs: list[Design]
    probabilities: pd.DataFrame
    summary: pd.DataFrame
    crn: bool
    seed: int | None = None
    metrics: tuple[Metric, ...] = field(default=METRICS)

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
    return Comparison(designs, probabilities, pd.DataFrame(summary_rows), crn, seed,
                      tuple(metrics))


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
                 "over paired replications")
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
        if shown:
            parts = ax.boxplot([data[j] for j in shown], positions=positions[shown],
                               widths=0.5, patch_artist=True, showfliers=True)
            for j, box in zip(shown, parts["boxes"], strict=True):
                box.set_facecolor(_COLOURS[j % len(_COLOURS)])
                box.set_alpha(0.5)
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
        ax.set_xticks(positions, [f"{s}\n({m} missing)" if m else s
                                  for s, m in zip(short, missing, strict=True)],
                      fontsize="small")
        ax.set_title(metric.label, fontsize="medium")
        ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle("Outcomes of each design across replications")
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
    ax.set_title("Population change against the counterfactual (median, 50% band shaded)")
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
    return " ".join(sentences)


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
    body = [
        "<h1>Comparison of partnership designs</h1>",
        f'<p class="meta">{len(labels)} designs · master seed '
        f'{esc(str(comparison.seed)) if comparison.seed is not None else "n/a"} · '
        f'{"common random numbers" if comparison.crn else "independent seeds"}</p>',
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
            if metric.statistic == "p10":
                value = (f"{number_span(f's.{metric.key}.{d.label}.p10', r['p10'], metric.kind)}"
                         f" (bootstrap SE {fmt(r['p10_se'], 'level')})")
                spread = ""
            else:
                value = number_span(f"s.{metric.key}.{d.label}.median", r["median"],
                                    metric.kind, cur)
                spread = (f"{fmt(r['p5'], metric.kind, cur)} to "
                          f"{fmt(r['p95'], metric.kind, cur)}")
            rows.append([esc(metric.label), esc(d.label), value, spread,
                         f"{int(r['missing'])} of {int(r['n'])}"])
    body.append(html_table(["Outcome", "Design", "Median (risk: 10th percentile)", "90% interval",
                        "Replications without a value"], rows))
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
         "Each design's outcomes across replications (box: middle half; whiskers: 1.5 IQR)."),
        (trajectories_figure, "Population change over time",
         "Median and 50% band of population change against the counterfactual."),
    ):
        body.append(f'<figure><img src="{figure_data_uri(make(comparison))}" alt="{alt}">'
                    f"<figcaption>{caption}</figcaption></figure>")
    body.append(
        "<h2>How to read this comparison</h2><ul>"
        "<li>Every design is simulated with the same replication seeds (common random numbers): "
        "replication i of each design faces the same luck, so differences come from the "
        "design.</li>"
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
