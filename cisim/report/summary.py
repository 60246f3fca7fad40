"""Plain-language summary of an ensemble: the text ``cisim run`` prints after a run.

:func:`format_summary` reads only the ensemble's frames (``trajectories``, ``summaries`` and, when
present, ``costs``) and its scenario, so reports and notebooks can reuse it. It names the
command-line changes recorded in the scenario (:mod:`cisim.provenance`), the total investment and
its parts (:mod:`cisim.costs`), the phases reached, where the futures ended and how many fell back
to their first phase and stayed there. Numbers are medians across replications with
90% intervals (5th to 95th percentile); population change is in percentage points (pp).
"""

from __future__ import annotations

import math
import re
import textwrap
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cisim.costs import cost_totals
from cisim.provenance import changes_of
from cisim.report.figures import phase_order, summaries_of, trajectories_of

__all__ = ["format_summary"]

_STEPS_PER_YEAR = 52


def _assumptions_line(result: Any) -> str:
    """One line: where the assumptions came from and how much of the spread they explain."""
    from cisim.uncertainty import KEY_OUTCOMES, outcome_values, variance_shares

    dist = getattr(result, "distribution", None) or {}
    params = getattr(result, "parameters", None)
    if dist.get("kind", "none") == "none" or params is None or not len(params):
        return ("Seed only: every assumption fixed at the scenario's values, so the intervals "
                "show chance alone and understate the uncertainty.")
    names = [p for p in dist.get("names", []) if p not in set(dist.get("pinned", []))]
    where = "the documented priors" if dist.get("kind") == "prior" else dist.get("source", "")
    line = f"Each future drew {len(names)} uncertain assumption(s) from {where}"
    groups = params.sort_values("replication")["parameter_set"].to_numpy()
    shares = variance_shares(outcome_values(result, KEY_OUTCOMES[0]), groups, n_boot=200)
    if shares is None:
        return line + "."
    return (line + f"; they explain about {shares['share_parameters']:.0%} (90% interval "
            f"{shares['low']:.0%} to {shares['high']:.0%}) of the spread in population change, "
            "chance the rest.")


def format_summary(
    result: Any,
    outdir: str | Path | None = None,
    files: Sequence[str | Path] | None = None,
) -> str:
    """Describe an ensemble's results in a few plain-language lines.

    Covers population change against the counterfactual (at the horizon and at year 5), SROI
    (realised and projected) and break-even, the phases reached and when, what held back
    replications that never left their first phase, the equity gap and where the files are.

    Args:
        result: An ensemble result (a single run is treated as one replication).
        outdir: Directory the results were written to, if any.
        files: Names of the files written there, if any.

    Returns:
        The summary, several lines without a trailing newline.

    """
    traj = trajectories_of(result)
    summaries = summaries_of(result, traj)
    scenario = getattr(result, "scenario", None)
    n = int(traj["replication"].nunique())
    horizon = float(traj["year"].max()) if len(traj) else float("nan")
    lines: list[str] = []

    name = str(getattr(scenario, "name", "scenario"))
    lines.append(f"Scenario: {name}")
    lines.extend(changes_of(scenario))
    phase_model = getattr(getattr(scenario, "phases", None), "model", None)
    model_text = f", {phase_model} phase model" if phase_model else ""
    lines.append(f"{n} replication(s), horizon {_years(horizon)} years{model_text}.")
    lines.append(_assumptions_line(result))
    lines.extend(_calibration(result, n))

    # ---- population change ------------------------------------------------------------------
    outcome = getattr(getattr(scenario, "population", None), "outcome", None)
    what = f" (share {outcome})" if outcome else ""
    lines.append("")
    lines.append(f"Population change against the counterfactual{what}:")
    vs_cf = _final(summaries, traj, "population_change_vs_cf_final", "population_change_vs_cf")
    lines.append(f"  at the horizon (year {_years(horizon)}): {_median_interval(vs_cf, 'pp')}")
    if horizon >= 5:
        at5 = _at_year(traj, "population_change_vs_cf", 5.0)
        lines.append(f"  at year 5: {_median_interval(at5, 'pp')}")
    fact = _final(summaries, traj, "population_change_final", "population_change")
    cf = _final(summaries, traj, "population_change_cf_final", "population_change_cf")
    lines.append(
        f"  change since the start (medians): {_signed(_median(fact))} pp with the partnership,"
    )
    lines.append(f"    {_signed(_median(cf))} pp with organisations working in isolation")

    # ---- SROI -------------------------------------------------------------------------------
    lines.append("")
    lines.append("Social return on investment (social value per unit invested):")
    sroi = _final(summaries, traj, "sroi_final", "sroi")
    lines.append(f"  realised by the horizon: {_median_interval(sroi, '')}")
    if "sroi_projected" in summaries.columns:
        years = getattr(getattr(scenario, "valuation", None), "projection_years", None)
        extra = (
            f" (outcome projected {_years(years)} years past the horizon)"
            if years
            else " (no projection past the horizon: valuation.projection_years = 0)"
        )
        lines.append(f"  projected{extra}: median {_num(_median(summaries['sroi_projected']))}")
    currency = str(getattr(getattr(scenario, "valuation", None), "currency", "") or "")
    if {"cumulative_investment", "social_value"} <= set(traj.columns):
        inv = _median(_last(traj, "cumulative_investment"))
        val = _median(_last(traj, "social_value"))
        lines.append(
            f"  invested {_money(inv, currency)} (undiscounted), social value "
            f"{_money(val, currency)} (present value); medians"
        )
    lines.append("  " + _break_even(summaries, n))

    # ---- costs ------------------------------------------------------------------------------
    costs = getattr(result, "costs", None)
    if isinstance(costs, pd.DataFrame) and not costs.empty:
        lines.append("")
        lines.extend(_costs(costs, currency))

    # ---- phases -----------------------------------------------------------------------------
    if "phase" in traj.columns:
        lines.append("")
        lines.extend(_phases(traj, summaries, n))

    # ---- equity -----------------------------------------------------------------------------
    if "equity_gap" in traj.columns:
        lines.append("")
        lines.extend(_equity(traj, summaries))

    # ---- files ------------------------------------------------------------------------------
    if outdir is not None:
        lines.append("")
        lines.append(f"Results written to {outdir}{'/' if not str(outdir).endswith('/') else ''}")
        if files:
            names = ", ".join(Path(f).name for f in files)
            lines.extend(textwrap.wrap(names, width=96, initial_indent="  ",
                                       subsequent_indent="  "))
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------


def _break_even(summaries: pd.DataFrame, n: int) -> str:
    if "break_even_year" not in summaries.columns:
        return "break-even: not reported"
    years = _finite(summaries["break_even_year"])
    if not years.size:
        return f"break-even (SROI reaches 1): none of {n} replications by the horizon"
    return (
        f"break-even (SROI reaches 1): {years.size} of {n} replications ({_pct(years.size, n)}), "
        f"median year {_year(float(np.median(years)))} among them"
    )


def _phases(traj: pd.DataFrame, summaries: pd.DataFrame, n: int) -> list[str]:
    first_year = (
        traj.assign(phase=traj["phase"].astype(str))
        .groupby(["phase", "replication"])["year"]
        .min()
    )
    start = traj.sort_values("step").groupby("replication")["phase"].first().astype(str)
    order = phase_order(list(start) + list(traj.sort_values("step")["phase"].astype(str)))
    lines = ["Phases reached (share of replications, median year first reached):"]
    width = max(len(p) for p in order) if order else 0
    for phase in order:
        years = first_year.loc[phase].to_numpy(dtype=float)
        lines.append(
            f"  {phase + ':':<{width + 1}} {len(years)}/{n} ({_pct(len(years), n)}), "
            f"year {_year(float(np.median(years)))}"
        )

    lines.extend(_phases_at_horizon(traj, start, order, n))

    phases_per_rep = traj.groupby("replication")["phase"].nunique()
    stuck = [rep for rep, k in phases_per_rep.items() if k == 1]
    if stuck:
        first = Counter(start.loc[stuck]).most_common(1)[0][0]
        text = f"  {len(stuck)} of {n} replication(s) never left {first}"
        blockers = _blockers_of(traj, summaries, stuck)
        if not blockers:
            lines.append(text + "; no blockers reported.")
            return lines
        lines.append(text + "; most common unmet conditions at the horizon:")
        counts = Counter(key for key, _ in blockers)
        for key, k in counts.most_common(3):
            values = [v for b, v in blockers if b == key and v is not None]
            typical = f", median value {_num(float(np.median(values)))}" if values else ""
            lines.append(f"    {key} (in {k} of {len(stuck)}{typical})")
    return lines


def _phases_at_horizon(traj: pd.DataFrame, start: pd.Series, order: Sequence[str],
                       n: int) -> list[str]:
    """Where the futures ended, and how many fell back to their first phase and stayed."""
    ordered = traj.sort_values("step")
    last = ordered.groupby("replication")["phase"].last().astype(str)
    counts = Counter(last)
    width = max(len(p) for p in order) if order else 0
    lines = ["Phase at the horizon (share of replications):"]
    for phase in order:
        k = counts.get(phase, 0)
        lines.append(f"  {phase + ':':<{width + 1}} {k}/{n} ({_pct(k, n)})")
    back = []
    for rep, first in start.items():
        phases = ordered.loc[ordered["replication"] == rep, ["year", "phase"]]
        labels = phases["phase"].astype(str).to_numpy()
        if last[rep] != first or (labels == first).all():
            continue
        left = np.flatnonzero(labels != first)
        back.append(float(phases["year"].to_numpy()[left[-1] + 1]))
    if back:
        first = Counter(start).most_common(1)[0][0]
        lines.append(
            f"  {len(back)} of {n} replication(s) ({_pct(len(back), n)}) left {first}, fell "
            f"back to it and stayed there to the horizon"
        )
        lines.append(f"    (median year of the fall {_year(float(np.median(back)))})")
    else:
        lines.append("  no replication fell back to its first phase and stayed there")
    return lines


def _costs(costs: pd.DataFrame, currency: str) -> list[str]:
    """Total investment and its parts (medians across replications)."""
    totals = cost_totals(costs)
    lines = [
        "Investment (undiscounted, money into the pooled fund plus partners' coordination "
        "time):",
        f"  total over the horizon: {_money_interval(totals['total'], currency)}",
    ]
    parts = {"funding stream": "funding streams", "partner grant": "partners' grants",
             "coordination time": "coordination time"}
    text = ", ".join(f"{label} {_money(_median(totals[c]), currency)}"
                     for c, label in parts.items() if c in totals.columns)
    if text:
        lines.extend(textwrap.wrap("of which (medians): " + text, width=96,
                                   initial_indent="  ", subsequent_indent="    "))
    text = ", ".join(f"{c} {_money(_median(totals[f'use: {c}']), currency)}"
                     for c in ("backbone", "shared measurement", "programmes")
                     if f"use: {c}" in totals.columns)
    if text:
        lines.extend(textwrap.wrap("pooled fund spent on (medians): " + text, width=96,
                                   initial_indent="  ", subsequent_indent="    "))
    if "partner budget" in totals.columns:
        lines.append("  not counted: partners' own service budgets, spent with or without the "
                     f"partnership, {_money(_median(totals['partner budget']), currency)}")
    return lines


def _money_interval(values: Any, currency: str) -> str:
    arr = _finite(values)
    if not arr.size:
        return "n/a"
    med = _money(float(np.median(arr)), currency)
    if arr.size < 2 or np.ptp(arr) == 0:
        return f"{med}" + (f" in each of {arr.size} replications" if arr.size > 1 else "")
    lo, hi = np.percentile(arr, [5, 95])
    return f"median {med} (90% interval {_money(float(lo), currency)} to " \
           f"{_money(float(hi), currency)})"


def _blockers_of(
    traj: pd.DataFrame, summaries: pd.DataFrame, reps: Iterable[Any]
) -> list[tuple[str, float | None]]:
    """Return the blockers reported at the end of the given replications, one per entry."""
    reps = list(reps)
    if "phase_blockers" in summaries.columns and "replication" in summaries.columns:
        texts = summaries.loc[summaries["replication"].isin(reps), "phase_blockers"]
    elif "phase_blockers" in traj.columns:
        last = traj.sort_values("step").groupby("replication").tail(1)
        texts = last.loc[last["replication"].isin(reps), "phase_blockers"]
    else:
        return []
    out: list[tuple[str, float | None]] = []
    for text in texts:
        if isinstance(text, str) and text.strip():
            out.extend(_split_blockers(text))
    return out


_CONDITION = re.compile(r"^(?P<name>.*?)\s+(?P<value>-?\d+(?:\.\d+)?)\s*(?P<rest>(?:<|>|<=|>=).*)$")


def _split_blockers(text: str) -> list[tuple[str, float | None]]:
    """Split a blocker list ('trust 0.21 < 0.3; agreement 0.40 < 0.55') into its items.

    Returns:
        Per blocker, the condition without the run's own value ('trust < 0.3'), so that equal
        conditions group across replications, and that value (None if there is none).

    """
    out: list[tuple[str, float | None]] = []
    for part in re.split(r"\s*(?:;|\n)\s*", text.strip()):
        if not part:
            continue
        m = _CONDITION.match(part)
        if m:
            out.append((f"{m['name']} {m['rest']}", float(m["value"])))
        else:
            out.append((part, None))
    return out


def _calibration(result: Any, n: int) -> list[str]:
    """What the population's calibration could not do (its ``calibration`` events), if anything."""
    events = getattr(result, "events", None)
    if not isinstance(events, pd.DataFrame) or "kind" not in events.columns:
        return []
    notes = events[events["kind"] == "calibration"]
    if notes.empty:
        return []
    runs = notes["replication"].nunique() if "replication" in notes.columns else 1
    first = str(notes["message"].iloc[0])
    return [f"Calibration: in {runs} of {n} replication(s) the status quo could not be "
            f"calibrated as asked (events.csv), e.g. {first}"]


def _equity(traj: pd.DataFrame, summaries: pd.DataFrame) -> list[str]:
    start = _median(_first(traj, "equity_gap"))
    end = _median(_final(summaries, traj, "equity_gap_final", "equity_gap"))
    lines = [
        "Equity gap between subgroups (difference in outcome rate, medians):",
        f"  {_pp(start)} pp at the start, {_pp(end)} pp at the horizon "
        f"({_signed(end - start)} pp)",
    ]
    if "equity_gap_cf" in traj.columns:
        cf = _median(_final(summaries, traj, "equity_gap_cf_final", "equity_gap_cf"))
        lines.append(f"  {_pp(cf)} pp at the horizon with organisations working in isolation")
    if not (math.isfinite(start) and math.isfinite(end)):
        lines.append("  n/a: the gap is not defined while a subgroup it compares has nobody in it")
    return lines


# --------------------------------------------------------------------------------------------
# Data helpers
# --------------------------------------------------------------------------------------------


def _last(traj: pd.DataFrame, column: str) -> pd.Series:
    return traj.sort_values("step").groupby("replication")[column].last()


def _first(traj: pd.DataFrame, column: str) -> pd.Series:
    return traj.sort_values("step").groupby("replication")[column].first()


def _final(summaries: pd.DataFrame, traj: pd.DataFrame, key: str, column: str) -> pd.Series:
    """Return a final value per replication: from the summaries, else the last step."""
    if key in summaries.columns:
        return summaries[key]
    if column in traj.columns:
        return _last(traj, column)
    return pd.Series(dtype=float)


def _at_year(traj: pd.DataFrame, column: str, year: float) -> pd.Series:
    step = round(year * _STEPS_PER_YEAR)
    rows = traj[traj["step"] == step]
    if rows.empty:
        idx = (traj["year"] - year).abs().groupby(traj["replication"]).idxmin()
        rows = traj.loc[idx]
    return rows[column]


def _finite(values: Any) -> np.ndarray:
    arr = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
    return arr[np.isfinite(arr)]


def _median(values: Any) -> float:
    arr = _finite(values)
    return float(np.median(arr)) if arr.size else float("nan")


def _median_interval(values: Any, unit: str) -> str:
    arr = _finite(values)
    if not arr.size:
        return "n/a"
    u = f" {unit}" if unit else ""
    fmt = _signed if unit == "pp" else _num
    med = fmt(float(np.median(arr)))
    if arr.size < 2:
        return f"{med}{u}"
    lo, hi = np.percentile(arr, [5, 95])
    return f"median {med}{u} (90% interval {fmt(float(lo))} to {fmt(float(hi))}{u})"


def _num(x: Any) -> str:
    if x is None or not isinstance(x, int | float) or not math.isfinite(x):
        return "n/a"
    return f"{x:.2f}" if abs(x) < 10 else f"{x:.1f}"


def _signed(x: float) -> str:
    return f"{x:+.2f}" if math.isfinite(x) else "n/a"


def _pp(x: float) -> str:
    return f"{x:.2f}" if math.isfinite(x) else "n/a"


def _year(x: Any) -> str:
    if x is None or not isinstance(x, int | float) or not math.isfinite(x):
        return "n/a"
    return f"{x:.1f}"


def _years(x: Any) -> str:
    """Format a duration in years: whole numbers without decimals."""
    if x is None or not isinstance(x, int | float) or not math.isfinite(x):
        return "n/a"
    return f"{x:g}" if float(x).is_integer() else f"{x:.1f}"


def _pct(k: int, n: int) -> str:
    return f"{100 * k / n:.0f}%" if n else "n/a"


def _money(x: float, currency: str) -> str:
    if not math.isfinite(x):
        return "n/a"
    for div, suffix in ((1e9, " bn"), (1e6, " M"), (1e3, " k")):
        if abs(x) >= div:
            return f"{x / div:.1f}{suffix} {currency}".rstrip()
    return f"{x:.0f} {currency}".rstrip()
