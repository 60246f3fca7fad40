"""Figures of simulation results: population change, SROI, components and phase timelines.

Every function takes an ensemble result (anything with a ``trajectories`` frame holding a
``replication`` column, a ``scenario`` and optionally ``summaries``) or a single run (anything
with a ``trajectory`` frame), and returns a :class:`matplotlib.figure.Figure` drawn on an Agg
canvas. Figures are built without :mod:`matplotlib.pyplot`, so they never touch the global figure
registry or the interactive backend and need no closing; they are freed when no longer referenced.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from cisim.io import write_atomic
from cisim.simulate import bands

__all__ = [
    "COMPONENTS",
    "FIGURES",
    "PHASE_COLOURS",
    "VALUE_KINDS",
    "bands",
    "break_even_by_replication",
    "change_since_start_figure",
    "components_figure",
    "cost_per_outcome_figure",
    "equity_gap_figure",
    "milestones_figure",
    "partner_value_figure",
    "partner_value_table",
    "phase_colour",
    "phase_order",
    "phase_timeline_figure",
    "population_change_figure",
    "rba_figure",
    "save_figures",
    "sroi_figure",
    "sroi_framings_figure",
    "summaries_of",
    "trajectories_of",
]

#: The seven components of the refined collective impact model (Save the Children Sweden 2021) and
#: the trajectory column that measures each, as (label, column).
COMPONENTS: tuple[tuple[str, str], ...] = (
    ("Communication (trust)", "trust"),
    ("Common agenda (agreement)", "agreement"),
    ("Mutually reinforcing activities (alignment)", "alignment"),
    ("Shared measurement (maturity)", "measurement"),
    ("Beneficiary engagement", "engagement"),
    ("Investment (funding runway)", "funding_runway"),
    ("Backbone support (capacity)", "backbone_capacity"),
)

#: Fixed colours of the phases of both phase models, in the order the phases are passed through.
PHASE_COLOURS: dict[str, str] = {
    # Refined Collective Impact Model (Save the Children Sweden 2021)
    "Initiation": "#9ecae1",
    "Run": "#3182bd",
    "Re-design": "#fd8d3c",
    "Exponential Value": "#31a354",
    # NCIOM task force slides
    "Initiate Action": "#c6dbef",
    "Organize for Impact": "#6baed6",
    "Sustain Action & Impact": "#238b45",
}

_FALLBACK_COLOURS = (
    "#e377c2",
    "#8c564b",
    "#bcbd22",
    "#17becf",
    "#9467bd",
    "#d62728",
    "#7f7f7f",
    "#ff9896",
    "#c5b0d5",
    "#dbdb8d",
)

_FACTUAL = "#1f6fb4"
_COUNTERFACTUAL = "#7f7f7f"
_DPI = 120


# --------------------------------------------------------------------------------------------
# Data helpers
# --------------------------------------------------------------------------------------------


def trajectories_of(result: Any) -> pd.DataFrame:
    """Return the weekly trajectories of an ensemble or a single run, with a ``replication`` column.

    Args:
        result: An ensemble result (``trajectories``) or a single run (``trajectory``).

    Returns:
        The trajectories; a single run becomes replication 0.

    Raises:
        TypeError: The object has neither attribute.

    """
    if hasattr(result, "trajectories"):
        df = result.trajectories
    elif hasattr(result, "trajectory"):
        df = result.trajectory
    else:
        raise TypeError(
            f"expected a simulation or ensemble result, got {type(result).__name__}"
        )
    if "replication" not in df.columns:
        df = df.assign(replication=0)
    return df


def summaries_of(result: Any, trajectories: pd.DataFrame | None = None) -> pd.DataFrame:
    """Return the summaries of an ensemble or a single run as a frame (one row a run).

    Args:
        result: An ensemble result (``summaries``) or a single run (``summary``).
        trajectories: The result's trajectories (:func:`trajectories_of`); given, a frame
            without a ``replication`` column gets the trajectories' replications.

    Returns:
        The summaries; an empty frame when the result has none.
    """
    summaries = getattr(result, "summaries", None)
    if summaries is None:
        summary = getattr(result, "summary", None)
        summaries = pd.DataFrame([summary]) if isinstance(summary, dict) else pd.DataFrame()
    if (trajectories is not None and "replication" not in summaries.columns
            and len(summaries) == trajectories["replication"].nunique()):
        reps = sorted(trajectories["replication"].unique())
        summaries = summaries.assign(replication=reps)
    return summaries


def phase_colour(name: str) -> str:
    """Return the colour of a phase: fixed for known phases, hash-based for any other name."""
    if name in PHASE_COLOURS:
        return PHASE_COLOURS[name]
    return _FALLBACK_COLOURS[zlib.crc32(name.encode("utf-8")) % len(_FALLBACK_COLOURS)]


def phase_order(names: Sequence[str]) -> list[str]:
    """Known phases in their model order, then any others in order of first appearance."""
    known = [p for p in PHASE_COLOURS if p in names]
    others = [p for p in dict.fromkeys(names) if p not in PHASE_COLOURS]
    return known + others


def _scenario_name(result: Any) -> str:
    scenario = getattr(result, "scenario", None)
    return str(getattr(scenario, "name", "")) or "scenario"


def _n_replications(traj: pd.DataFrame) -> int:
    return int(traj["replication"].nunique())


def _new_figure(width: float, height: float, ncols: int = 1) -> tuple[Figure, list[Axes]]:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def _band(ax: Axes, b: pd.DataFrame, lo: str, hi: str, colour: str, alpha: float,
          label: str | None) -> None:
    ax.fill_between(b["year"], b[lo], b[hi], color=colour, alpha=alpha, linewidth=0, label=label)


def _year_axis(ax: Axes, traj: pd.DataFrame) -> None:
    ax.set_xlabel("Years since start")
    years = traj["year"]
    if len(years):
        ax.set_xlim(float(years.min()), float(years.max()))
    ax.grid(True, alpha=0.3)


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


def population_change_figure(result: Any) -> Figure:
    """Draw population change with and without the partnership, and their difference.

    The left panel shows the change of the outcome rate since the start in the factual world and
    in the counterfactual world (organisations working in isolation), each as a median with its
    50% band. The right panel shows the difference (the partnership's effect): median with 50% and
    90% bands across replications.

    Args:
        result: An ensemble result, or a single run.

    Returns:
        The figure.

    """
    traj = trajectories_of(result)
    n = _n_replications(traj)
    fig, (ax_worlds, ax_diff) = _new_figure(12, 4.5, ncols=2)

    fact = bands(traj, "population_change")
    cf = bands(traj, "population_change_cf")
    _band(ax_worlds, cf, "p25", "p75", _COUNTERFACTUAL, 0.25, None)
    ax_worlds.plot(cf["year"], cf["p50"], color=_COUNTERFACTUAL, linestyle="--", linewidth=2,
                   label="Counterfactual: organisations in isolation")
    _band(ax_worlds, fact, "p25", "p75", _FACTUAL, 0.25, None)
    ax_worlds.plot(fact["year"], fact["p50"], color=_FACTUAL, linewidth=2,
                   label="With the partnership")
    ax_worlds.axhline(0, color="black", linewidth=0.8)
    ax_worlds.set_ylabel("Change in outcome rate since start (pp)")
    ax_worlds.set_title("Both worlds (median, 50% band shaded)")
    _year_axis(ax_worlds, traj)
    ax_worlds.legend(loc="best", fontsize="small")

    diff = bands(traj, "population_change_vs_cf")
    _band(ax_diff, diff, "p5", "p95", _FACTUAL, 0.15, "90% of replications")
    _band(ax_diff, diff, "p25", "p75", _FACTUAL, 0.3, "50% of replications")
    ax_diff.plot(diff["year"], diff["p50"], color=_FACTUAL, linewidth=2, label="Median")
    ax_diff.axhline(0, color="black", linewidth=0.8)
    ax_diff.set_ylabel("Difference from counterfactual (pp)")
    ax_diff.set_title("Partnership effect: factual minus counterfactual")
    _year_axis(ax_diff, traj)
    ax_diff.legend(loc="best", fontsize="small")

    scenario = getattr(result, "scenario", None)
    outcome = getattr(getattr(scenario, "population", None), "outcome", None)
    what = f" (share {outcome})" if outcome else ""
    fig.suptitle(f"{_scenario_name(result)}: population change{what}, {n} replication(s)")
    return fig


def sroi_figure(result: Any) -> Figure:
    """Social return on investment over time with its break-even line.

    Shows the median SROI (present value of social value over cumulative investment) with 50% and
    90% bands, a line at SROI = 1 (break-even) and, when some replications break even, the median
    break-even year among them.

    Args:
        result: An ensemble result, or a single run.

    Returns:
        The figure.

    """
    traj = trajectories_of(result)
    n = _n_replications(traj)
    fig, (ax,) = _new_figure(8, 4.5)
    b = bands(traj, "sroi")
    _band(ax, b, "p5", "p95", "#2ca02c", 0.15, "90% of replications")
    _band(ax, b, "p25", "p75", "#2ca02c", 0.3, "50% of replications")
    ax.plot(b["year"], b["p50"], color="#1b7a1b", linewidth=2, label="Median SROI")
    ax.axhline(1.0, color="#d62728", linestyle="--", linewidth=1.2, label="Break-even (SROI = 1)")

    be = _break_even_years(result)
    if be.size:
        ax.axvline(float(np.median(be)), color="#555555", linestyle=":", linewidth=1.2,
                   label=f"Median break-even year ({be.size}/{n} replications break even)")

    # Early SROI rests on tiny investments and can be extreme; scale to the settled part.
    settled = b[b["year"] >= min(1.0, float(b["year"].max()) / 2)]
    top = np.nanmax(settled[["p95", "p50"]].to_numpy()) if len(settled) else np.nan
    bottom = np.nanmin(settled[["p5", "p50"]].to_numpy()) if len(settled) else np.nan
    if np.isfinite(top) and np.isfinite(bottom):
        ax.set_ylim(min(0.0, bottom * 1.05), max(1.2, top * 1.1))
    ax.set_ylabel("SROI (social value per unit invested)")
    _year_axis(ax, traj)
    ax.set_title(f"{_scenario_name(result)}: social return on investment, {n} replication(s)")
    ax.legend(loc="best", fontsize="small")
    return fig


#: The SROI guide's two framings (cisim.sroi) as (trajectory column, panel title, input).
SROI_FRAMINGS: tuple[tuple[str, str, str], ...] = (
    ("sroi_initiative", "Initiative SROI: change against the status quo",
     "all initiative money and time"),
    ("sroi_collaboration", "Collaboration SROI: change against isolation",
     "the cost of collaborating"),
)


def sroi_framings_figure(result: Any) -> Figure:
    """The running SROI of both framings of the SROI guide, side by side, with break-even lines.

    Left: the initiative against the start-of-run status quo over all its money and time.
    Right: collaborating against the same money in isolation over the cost of collaborating.
    Each panel shows the median with 50% and 90% bands across replications.

    Args:
        result: An ensemble result, or a single run.

    Returns:
        The figure.

    Raises:
        KeyError: The trajectories lack the framings' columns (results saved by an older cisim).

    """
    traj = trajectories_of(result)
    n = _n_replications(traj)
    missing = [col for col, _, _ in SROI_FRAMINGS if col not in traj.columns]
    if missing:
        raise KeyError(f"trajectory columns {missing} (results saved by an older cisim?)")
    fig, axes = _new_figure(11, 4.2, ncols=2)
    for ax, (col, title, denominator) in zip(axes, SROI_FRAMINGS, strict=True):
        b = bands(traj, col)
        _band(ax, b, "p5", "p95", "#2ca02c", 0.15, "90% of replications")
        _band(ax, b, "p25", "p75", "#2ca02c", 0.3, "50% of replications")
        ax.plot(b["year"], b["p50"], color="#1b7a1b", linewidth=2, label="Median")
        ax.axhline(1.0, color="#d62728", linestyle="--", linewidth=1.2, label="Break-even (1)")
        settled = b[b["year"] >= min(1.0, float(b["year"].max()) / 2)]
        vals = settled[["p5", "p50", "p95"]].to_numpy(dtype=float)
        if np.isfinite(vals).any():
            top, bottom = np.nanmax(vals), np.nanmin(vals)
            ax.set_ylim(min(0.0, bottom * 1.05), max(1.2, top * 1.1))
        ax.set_ylabel(f"Social value per unit of {denominator}")
        ax.set_title(title, fontsize="medium")
        _year_axis(ax, traj)
        ax.legend(loc="best", fontsize="small")
    fig.suptitle(f"{_scenario_name(result)}: SROI in two framings, {n} replication(s)")
    return fig


def break_even_by_replication(traj: pd.DataFrame, column: str) -> pd.Series:
    """First year each replication's running ratio in ``column`` reaches 1 (NaN if never)."""
    reps = pd.Index(sorted(traj["replication"].unique()), name="replication")
    reached = traj.loc[traj[column].to_numpy(dtype=float) >= 1.0]
    return reached.groupby("replication")["year"].min().reindex(reps)


def _break_even_years(result: Any) -> np.ndarray:
    summaries = summaries_of(result)
    if "break_even_year" not in summaries.columns:
        return np.array([])
    values = pd.to_numeric(summaries["break_even_year"], errors="coerce").to_numpy(dtype=float)
    return values[np.isfinite(values)]


def components_figure(result: Any) -> Figure:
    """Draw the seven collective impact components over time (medians, 0-1).

    Args:
        result: An ensemble result, or a single run.

    Returns:
        The figure.

    Raises:
        KeyError: None of the component columns is in the trajectories.

    """
    traj = trajectories_of(result)
    n = _n_replications(traj)
    present = [(label, col) for label, col in COMPONENTS if col in traj.columns]
    if not present:
        raise KeyError("trajectories have none of the component columns: "
                       + ", ".join(col for _, col in COMPONENTS))
    fig, (ax,) = _new_figure(10, 4.8)
    colours = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")
    styles = ("-", "-", "-", "--", "--", "-.", "-.")
    for i, (label, col) in enumerate(present):
        b = bands(traj, col, percentiles=(50,))
        ax.plot(b["year"], b["p50"], color=colours[i % len(colours)],
                linestyle=styles[i % len(styles)], linewidth=2, label=label)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("Indicator level (0 = absent, 1 = full)")
    _year_axis(ax, traj)
    ax.set_title(f"{_scenario_name(result)}: collective impact components "
                 f"(median of {n} replication(s))")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small")
    return fig


def _phase_segments(traj: pd.DataFrame) -> dict[Any, list[tuple[str, float, float]]]:
    """Per replication, the runs of consecutive steps in one phase as (phase, start, width)."""
    out: dict[Any, list[tuple[str, float, float]]] = {}
    for rep, df in traj.sort_values(["replication", "step"]).groupby("replication", sort=True):
        years = df["year"].to_numpy(dtype=float)
        phases = df["phase"].astype(str).to_numpy()
        if not len(years):
            continue
        dt = float(np.median(np.diff(years))) if len(years) > 1 else 1 / 52
        starts = np.flatnonzero(np.r_[True, phases[1:] != phases[:-1]])
        ends = np.r_[starts[1:], len(years)]
        segs = []
        for s, e in zip(starts, ends, strict=True):
            end_year = years[e] if e < len(years) else years[-1] + dt
            segs.append((phases[s], float(years[s]), float(end_year - years[s])))
        out[rep] = segs
    return out


def phase_timeline_figure(result: Any) -> Figure:
    """One horizontal bar per replication, coloured by the phase the partnership is in.

    Args:
        result: An ensemble result, or a single run (one bar).

    Returns:
        The figure.

    """
    traj = trajectories_of(result)
    segments = _phase_segments(traj)
    n = len(segments)
    height = max(2.4, min(12.0, 1.6 + 0.28 * n))
    fig, (ax,) = _new_figure(10, height)
    names = phase_order([seg[0] for segs in segments.values() for seg in segs])
    for row, (_rep, segs) in enumerate(segments.items()):
        for phase in names:
            spans = [(start, width) for p, start, width in segs if p == phase]
            if spans:
                ax.broken_barh(spans, (row - 0.4, 0.8), facecolors=phase_colour(phase),
                               edgecolor="none")
    reps = list(segments)
    step = max(1, int(np.ceil(n / 25)))
    ax.set_yticks(range(0, n, step), [str(r) for r in reps[::step]])
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_ylabel("Replication")
    _year_axis(ax, traj)
    ax.grid(True, axis="x", alpha=0.3)
    ax.grid(False, axis="y")
    handles = [Patch(facecolor=phase_colour(p), label=p) for p in names]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.18 if n > 3 else -0.3),
              ncol=min(4, max(1, len(handles))), fontsize="small", frameon=False)
    ax.set_title(f"{_scenario_name(result)}: phase of the partnership, {n} replication(s)")
    return fig


# --------------------------------------------------------------------------------------------
# Saving
# --------------------------------------------------------------------------------------------

#: The figures :func:`save_figures` writes, as (file stem, function).
FIGURES: tuple[tuple[str, Callable[[Any], Figure]], ...] = (
    ("population_change", population_change_figure),
    ("sroi", sroi_figure),
    ("components", components_figure),
    ("phase_timeline", phase_timeline_figure),
)


def _save_png(fig: Figure, path: Path, dpi: int) -> None:
    write_atomic(path, lambda p: fig.savefig(p, format="png", dpi=dpi, bbox_inches="tight"))


def save_figures(result: Any, outdir: str | Path, dpi: int = _DPI) -> list[Path]:
    """Draw every figure and write each as a PNG into a directory (atomically).

    Args:
        result: An ensemble result, or a single run.
        outdir: The directory; created if missing.
        dpi: Resolution of the PNGs.

    Returns:
        The paths written, in the order of :data:`FIGURES`.

    """
    outdir = Path(outdir)
    paths = []
    for stem, make in FIGURES:
        fig = make(result)
        path = outdir / f"{stem}.png"
        try:
            _save_png(fig, path, dpi)
        finally:
            fig.clear()
        paths.append(path)
    return paths


# --------------------------------------------------------------------------------------------
# Figures of the strategist's report (cisim.report.html)
# --------------------------------------------------------------------------------------------


def _fan(ax: Axes, traj: pd.DataFrame, column: str, colour: str, label: str,
         scale: float = 1.0, linestyle: str = "-") -> None:
    """Draw a fan: the median with 50% and 90% bands across replications."""
    b = bands(traj, column)
    for col in ("p5", "p25", "p50", "p75", "p95"):
        b[col] = b[col] * scale
    _band(ax, b, "p5", "p95", colour, 0.12, f"{label}: 90% of replications")
    _band(ax, b, "p25", "p75", colour, 0.28, f"{label}: 50% of replications")
    ax.plot(b["year"], b["p50"], color=colour, linewidth=2, linestyle=linestyle,
            label=f"{label}: median")


def change_since_start_figure(result: Any) -> Figure:
    """Fan chart of population change since the start, with and without the partnership.

    Args:
        result: An ensemble result, or a single run.

    Returns:
        The figure: medians with 50% and 90% bands for both worlds.

    """
    traj = trajectories_of(result)
    n = _n_replications(traj)
    fig, (ax,) = _new_figure(10, 4.5)
    _fan(ax, traj, "population_change_cf", _COUNTERFACTUAL, "Organisations in isolation",
         linestyle="--")
    _fan(ax, traj, "population_change", _FACTUAL, "With the partnership")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylabel("Change in outcome rate since start (pp)")
    _year_axis(ax, traj)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small")
    ax.set_title(f"{_scenario_name(result)}: population change since the start, "
                 f"{n} replication(s)")
    return fig


def rba_figure(result: Any) -> Figure:
    """The Results-Based Accountability curve: baseline and initiative forecasts and the target.

    The indicator is the population outcome rate (in percent), or its change since the start
    when the scenario's target is set in percentage points. The baseline forecast is the
    counterfactual world (organisations working in isolation); each forecast is a fan (median,
    50% and 90% bands). A set target is drawn as a marker at its level and year, with the
    probability of meeting it in that year (see :mod:`cisim.report.rba`).

    Args:
        result: An ensemble result, or a single run.

    Returns:
        The figure.

    """
    from cisim.report.rba import target_of, target_probability

    traj = trajectories_of(result)
    n = _n_replications(traj)
    spec = target_of(getattr(result, "scenario", None))
    fig, (ax,) = _new_figure(10, 4.5)
    if spec is not None and spec.unit == "pp":
        column, base, scale, ylabel = ("population_change", "population_change_cf", 1.0,
                                       "Change in outcome rate since start (pp)")
    else:
        column, base, scale, ylabel = ("outcome_rate", "outcome_rate_cf", 100.0,
                                       "Population outcome rate (%)")
    _fan(ax, traj, base, _COUNTERFACTUAL, "Baseline forecast", scale=scale, linestyle="--")
    _fan(ax, traj, column, _FACTUAL, "Initiative's forecast", scale=scale)
    if spec is not None:
        p = target_probability(traj, spec)
        ax.plot([spec.year], [spec.level * scale], marker="*", markersize=16, color="#d62728",
                linestyle="none",
                label=f"Target: met in year {spec.year:g} in {100 * p['p_initiative']:.0f}% "
                      f"(baseline {100 * p['p_baseline']:.0f}%)")
        ax.axhline(spec.level * scale, color="#d62728", linewidth=0.8, linestyle=":")
    ax.set_ylabel(ylabel)
    _year_axis(ax, traj)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small")
    ax.set_title(f"{_scenario_name(result)}: turning the curve, {n} replication(s)")
    return fig


def _reached_share(values: Any, years: np.ndarray, n: int) -> np.ndarray:
    arr = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
    arr = arr[np.isfinite(arr)]
    return np.array([(arr <= y + 1e-9).sum() / n for y in years]) if n else np.zeros_like(years)


def milestones_figure(result: Any) -> Figure:
    """Share of replications that have reached each milestone by every year.

    Milestones: break-even (each SROI framing reaches 1), a significant population change (at
    least one percentage point against the counterfactual, held for a year) and, when the
    scenario sets a target, the target met (annual average at or above it, with and without
    the initiative).
    The spread of each curve is the spread of the milestone's timing across replications.

    Args:
        result: An ensemble result, or a single run.

    Returns:
        The figure.

    """
    from cisim.report.rba import target_of, target_share_by_step

    traj = trajectories_of(result)
    summaries = summaries_of(result)
    n = _n_replications(traj)
    years = np.unique(traj["year"].to_numpy(dtype=float))
    fig, (ax,) = _new_figure(10, 4.2)
    curves: list[tuple[pd.Series, str, str, str]] = []
    if all(col in traj.columns for col, _, _ in SROI_FRAMINGS):
        for (col, _, _), label, style in zip(
                SROI_FRAMINGS, ("Initiative SROI reaches 1", "Collaboration SROI reaches 1"),
                ("-", "-."), strict=True):
            curves.append((break_even_by_replication(traj, col), label, "#2ca02c", style))
    elif "break_even_year" in summaries.columns:
        curves.append((summaries["break_even_year"], "Break-even (SROI reaches 1)", "#2ca02c",
                       "-"))
    if "first_significant_change_year" in summaries.columns:
        curves.append((summaries["first_significant_change_year"],
                       "Significant population change (>= 1 pp for a year)", _FACTUAL, "-"))
    for values, label, colour, style in curves:
        share = _reached_share(values, years, n)
        ax.step(years, 100 * share, where="post", color=colour, linewidth=2, linestyle=style,
                label=f"{label}: {100 * share[-1]:.0f}% by the horizon")
    spec = target_of(getattr(result, "scenario", None))
    if spec is not None:
        share = target_share_by_step(traj, spec)
        ax.plot(share["year"], 100 * share["initiative"], color="#d62728", linewidth=2,
                label="Target level met that year (annual average), with the initiative")
        ax.plot(share["year"], 100 * share["baseline"], color="#d62728", linewidth=1.5,
                linestyle="--", label="Target level met that year, baseline")
        ax.axvline(spec.year, color="#d62728", linewidth=0.8, linestyle=":")
    ax.set_ylim(-2, 102)
    ax.set_ylabel("Share of replications (%)")
    _year_axis(ax, traj)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2, fontsize="small",
              frameon=False)
    ax.set_title(f"{_scenario_name(result)}: milestones reached by each year, "
                 f"{n} replication(s)")
    return fig


def equity_gap_figure(result: Any) -> Figure:
    """Fan chart of the equity gap between subgroups, with and without the partnership.

    Args:
        result: An ensemble result, or a single run.

    Returns:
        The figure (gap in percentage points; lower is more equal).

    """
    traj = trajectories_of(result)
    n = _n_replications(traj)
    fig, (ax,) = _new_figure(10, 4.2)
    if "equity_gap_cf" in traj.columns:
        _fan(ax, traj, "equity_gap_cf", _COUNTERFACTUAL, "Organisations in isolation",
             linestyle="--")
    _fan(ax, traj, "equity_gap", "#9467bd", "With the partnership")
    ax.set_ylabel("Equity gap between subgroups (pp)")
    _year_axis(ax, traj)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small")
    ax.set_title(f"{_scenario_name(result)}: equity gap (difference in outcome rate between "
                 f"subgroups), {n} replication(s)")
    return fig


#: The kinds of value partners seek and realise (columns realised_<kind> and sought_<kind>).
VALUE_KINDS: tuple[str, ...] = ("social_impact", "knowledge", "reputation", "engagement")


def partner_value_table(result: Any) -> pd.DataFrame:
    """Each partner's realised value against what it sought, summarised over replications.

    Args:
        result: An ensemble result (``partners`` frame with ``replication``) or a single run.

    Returns:
        One row per partner (in the order of the first replication) with ``partner``,
        ``sector``, per kind ``sought_<kind>`` (median weight) and ``realised_<kind>_p5``,
        ``_p50``, ``_p95`` (mean yearly value, 0-1), and ``satisfaction_p50`` when present.

    Raises:
        KeyError: The result has no partner frame with realised and sought columns.

    """
    partners = getattr(result, "partners", None)
    if partners is None or not len(partners):
        raise KeyError("the result has no partners frame")
    kinds = [k for k in VALUE_KINDS if f"realised_{k}" in partners.columns]
    if not kinds:
        raise KeyError("the partners frame has no realised_<kind> columns")
    order = list(dict.fromkeys(partners["partner"]))
    grouped = partners.groupby("partner", sort=False)
    out = pd.DataFrame({"partner": order})
    out["sector"] = [grouped["sector"].first()[p] if "sector" in partners.columns else ""
                     for p in order]
    for k in kinds:
        if f"sought_{k}" in partners.columns:
            out[f"sought_{k}"] = grouped[f"sought_{k}"].median().reindex(order).to_numpy()
        col = grouped[f"realised_{k}"]
        for q in (5, 50, 95):
            out[f"realised_{k}_p{q}"] = col.quantile(q / 100).reindex(order).to_numpy()
    if "satisfaction" in partners.columns:
        out["satisfaction_p50"] = grouped["satisfaction"].median().reindex(order).to_numpy()
    return out


def partner_value_figure(result: Any) -> Figure:
    """Each partner's realised value (bars, median with 90% whiskers) against what it sought.

    One panel per kind of value (social impact, knowledge, reputation, engagement). The bar is
    the value the partner realised (mean yearly level, 0-1); the diamond is the weight it put on
    that kind of value when it joined. A partner is served well where its long bars fall on the
    kinds it weighs most.

    Args:
        result: An ensemble result or a single run with a ``partners`` frame.

    Returns:
        The figure.

    """
    table = partner_value_table(result)
    kinds = [k for k in VALUE_KINDS if f"realised_{k}_p50" in table.columns]
    n_partners = len(table)
    fig = Figure(figsize=(12, max(3.0, 1.4 + 0.28 * n_partners)), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(kinds), sharey=True, squeeze=False)[0]
    y = np.arange(n_partners)
    for ax, kind in zip(axes, kinds, strict=True):
        med = table[f"realised_{kind}_p50"].to_numpy(dtype=float)
        lo = med - table[f"realised_{kind}_p5"].to_numpy(dtype=float)
        hi = table[f"realised_{kind}_p95"].to_numpy(dtype=float) - med
        ax.barh(y, med, xerr=[np.maximum(lo, 0), np.maximum(hi, 0)], color="#9ecae1",
                ecolor="#555555", capsize=2, label="Realised (median, 90% of replications)")
        if f"sought_{kind}" in table.columns:
            ax.plot(table[f"sought_{kind}"], y, marker="D", linestyle="none", color="#d62728",
                    markersize=5, label="Sought (weight)")
        ax.set_xlim(0, 1.02)
        ax.set_title(kind.replace("_", " ").capitalize())
        ax.grid(True, axis="x", alpha=0.3)
    axes[0].set_yticks(y, [f"{p} ({s})" if s else str(p)
                           for p, s in zip(table["partner"], table["sector"], strict=True)])
    axes[0].set_ylim(n_partners - 0.5, -0.5)
    axes[0].legend(loc="upper center", bbox_to_anchor=(0.5, -0.06 if n_partners > 8 else -0.2),
                   fontsize="small", frameon=False)
    fig.suptitle(f"{_scenario_name(result)}: value each partner realised against what it "
                 f"sought")
    return fig


def cost_per_outcome_figure(result: Any) -> Figure:
    """Distribution across replications of the cost per outcome-year gained.

    The cost is cumulative investment divided by the outcome-years gained over the
    counterfactual (summary ``cost_per_outcome_year``); replications with no gain have no cost
    per outcome and are counted in the title.

    Args:
        result: An ensemble result, or a single run.

    Returns:
        The figure.

    """
    summaries = summaries_of(result)
    n = len(summaries)
    values = pd.to_numeric(summaries.get("cost_per_outcome_year", pd.Series(dtype=float)),
                           errors="coerce").to_numpy(dtype=float)
    finite = values[np.isfinite(values)]
    currency = str(getattr(getattr(getattr(result, "scenario", None), "valuation", None),
                           "currency", "") or "")
    fig, (ax,) = _new_figure(8, 3.8)
    if finite.size:
        ax.hist(finite, bins=min(30, max(5, finite.size // 3)), color="#fdae6b",
                edgecolor="white")
        ax.axvline(float(np.median(finite)), color="#a63603", linewidth=2,
                   label=f"Median {np.median(finite):,.0f} {currency}".rstrip())
        ax.legend(loc="best", fontsize="small")
    else:
        ax.text(0.5, 0.5, "No replication gained outcome-years over the counterfactual",
                ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel(f"Investment per outcome-year gained ({currency})".replace(" ()", ""))
    ax.set_ylabel("Replications")
    ax.grid(True, alpha=0.3)
    none = n - finite.size
    ax.set_title(f"{_scenario_name(result)}: cost per outcome achieved "
                 f"({none} of {n} replication(s) with no gain)")
    return fig
