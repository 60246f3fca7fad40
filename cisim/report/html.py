"""The strategist's report: one self-contained HTML file about an ensemble of a design.

The report answers a funder's questions about a partnership design (DESIGN.md §5, issue 5): what
population change to expect, when, how sure, at what return and cost, for whom, and for which
partner. It is one HTML file with its CSS inline and every figure embedded as a base64 PNG, so it
opens without a network connection and can be forwarded as is; it references no external URL.

Every number in the text is computed from the ensemble's frames by :func:`report_numbers` and
rendered from that structured object (each number also carries its key and exact value in
``data-key``/``data-value`` attributes, and the whole object is embedded as JSON), so the text
cannot drift from the results. Results-Based Accountability (seed 003,
``shared/seeds/003_ece90f17b78b657e.txt``) frames the forecast: the baseline curve without the
initiative, the initiative's curve and, where the scenario sets a ``[target]``, the probability of
meeting it (see :mod:`cisim.report.rba`).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from cisim.io import write_text_atomic
from cisim.report.figures import (
    COMPONENTS,
    PHASE_COLOURS,
    change_since_start_figure,
    components_figure,
    cost_per_outcome_figure,
    equity_gap_figure,
    milestones_figure,
    partner_value_figure,
    partner_value_table,
    phase_timeline_figure,
    population_change_figure,
    rba_figure,
    sroi_figure,
    trajectories_of,
)
from cisim.report.rba import (
    forecast_table,
    target_beyond_horizon,
    target_of,
    target_probability,
)
from cisim.report.uncertainty import uncertainty_figure
from cisim.uncertainty import uncertainty_summary

__all__ = [
    "CSS",
    "figure_data_uri",
    "fmt",
    "html_table",
    "number_span",
    "page",
    "report_html",
    "report_numbers",
    "summary_paragraph",
    "write_report",
]

_DPI = 96
_SIGNIFICANT_PP = 1.0

CSS = """
:root { --ink: #1d2733; --muted: #5b6776; --line: #d8dee6; --accent: #1f6fb4; }
* { box-sizing: border-box; }
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--ink); margin: 0; background: #f6f8fa; line-height: 1.5; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 32px 48px; background: #fff; }
h1 { font-size: 1.7em; margin: 0.2em 0; }
h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 2px solid var(--line);
     padding-bottom: 4px; }
h3 { font-size: 1.05em; margin-top: 1.4em; }
p.lead { font-size: 1.08em; background: #eef5fb; border-left: 4px solid var(--accent);
         padding: 12px 16px; }
.meta { color: var(--muted); font-size: 0.9em; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; display: block; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: 0.9em; margin-top: 4px; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left;
         vertical-align: top; }
th { background: #f0f3f7; }
.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
.note { color: var(--muted); font-size: 0.9em; }
details pre { background: #f6f8fa; padding: 8px; overflow-x: auto; font-size: 0.85em; }
.good { color: #1a7f37; } .bad { color: #b42318; }
"""


# --------------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------------


def _finite_or_none(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def fmt(value: Any, kind: str, currency: str = "") -> str:
    """Format a number for the report text.

    Args:
        value: The number (None, NaN and infinities give "n/a").
        kind: ``pp`` (signed, 2 decimals), ``level`` (2 decimals), ``ratio`` (2 decimals below
            10, else 1), ``year`` (1 decimal), ``pct`` (a 0-1 share as a whole percent),
            ``count`` (an integer), ``money`` (thousands separators and currency).
        currency: The currency code for ``money``.

    Returns:
        The text.

    """
    v = _finite_or_none(value)
    if v is None:
        return "n/a"
    if kind == "pp":
        return f"{v:+.2f}"
    if kind == "level":
        return f"{v:.2f}"
    if kind == "ratio":
        return f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}"
    if kind == "year":
        return f"{v:.1f}"
    if kind == "pct":
        return f"{100 * v:.0f}%"
    if kind == "count":
        return f"{round(v):d}"
    if kind == "money":
        return f"{v:,.0f} {currency}".rstrip()
    raise ValueError(f"unknown number format {kind!r}")


def number_span(key: str, value: Any, kind: str, currency: str = "") -> str:
    """Render a computed number as ``<span class="num" data-key=... data-value=...>``."""
    v = _finite_or_none(value)
    raw = "nan" if v is None else repr(v)
    return (f'<span class="num" data-key="{html.escape(key)}" data-value="{raw}">'
            f"{html.escape(fmt(value, kind, currency))}</span>")


def figure_data_uri(fig: Figure, dpi: int = _DPI, tight: bool = False) -> str:
    """Render a figure as a ``data:image/png;base64,...`` URI (and clear the figure).

    ``tight`` crops to the drawn content (slower: the figure is drawn twice); figures with
    constrained layout rarely need it.
    """
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight" if tight else None)
    finally:
        fig.clear()
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def html_table(header: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "") -> str:
    """An HTML table; cells are HTML already (escape text before passing it)."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    klass = f' class="{cls}"' if cls else ""
    return f"<table{klass}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def page(title: str, body: str, numbers: dict[str, Any] | None = None) -> str:
    """Wrap a body in a complete, self-contained HTML document (inline CSS, no external URL).

    Args:
        title: The document title (plain text).
        body: The HTML inside ``<main>``.
        numbers: Structured numbers to embed as JSON (``<script id="cisim-numbers">``).

    Returns:
        The document.

    """
    data = ""
    if numbers is not None:
        payload = json.dumps(_jsonable(numbers), sort_keys=True).replace("</", "<\\/")
        data = f'<script type="application/json" id="cisim-numbers">{payload}</script>\n'
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"<main>\n{body}\n</main>\n{data}</body>\n</html>\n"
    )


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, bool | str) or obj is None:
        return obj
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        return _finite_or_none(obj)
    return str(obj)


def _version() -> str:
    try:
        return metadata.version("cisim")
    except metadata.PackageNotFoundError:
        return "unknown"


# --------------------------------------------------------------------------------------------
# The numbers
# --------------------------------------------------------------------------------------------


def _values(summaries: pd.DataFrame, column: str) -> np.ndarray:
    if column not in summaries.columns:
        return np.array([])
    arr = pd.to_numeric(summaries[column], errors="coerce").to_numpy(dtype=float)
    return arr[np.isfinite(arr)]


def _quantiles(arr: np.ndarray, prefix: str, out: dict[str, Any],
               qs: Sequence[int] = (5, 10, 50, 95)) -> None:
    for q in qs:
        out[f"{prefix}_p{q}"] = float(np.percentile(arr, q)) if arr.size else None


def _summaries_of(result: Any, traj: pd.DataFrame) -> pd.DataFrame:
    summaries = getattr(result, "summaries", None)
    if summaries is None:
        summary = getattr(result, "summary", None)
        summaries = pd.DataFrame([summary]) if isinstance(summary, dict) else pd.DataFrame()
    return summaries


def _phase_order(names: Sequence[str]) -> list[str]:
    known = [p for p in PHASE_COLOURS if p in names]
    return known + [p for p in names if p not in PHASE_COLOURS]


def report_numbers(result: Any) -> dict[str, Any]:
    """Every number the report's text states, computed from the ensemble's frames.

    Shares are in 0-1, population change and equity gaps in percentage points, years since the
    start, money in the scenario's currency. Percentiles are across replications (``_p5``,
    ``_p10``, ``_p50``, ``_p95``); a value that cannot be computed is None.

    Args:
        result: An ensemble result (a single run counts as one replication).

    Returns:
        A flat dict of numbers, plus ``phases`` (a list of dicts), ``components`` (label to
        median final level), ``target`` (or None) and labels (``name``, ``outcome``,
        ``currency``).

    """
    traj = trajectories_of(result)
    summaries = _summaries_of(result, traj)
    scenario = getattr(result, "scenario", None)
    n = int(traj["replication"].nunique())
    out: dict[str, Any] = {
        "name": str(getattr(scenario, "name", "scenario")),
        "outcome": str(getattr(getattr(scenario, "population", None), "outcome", "")
                       or "in the outcome state"),
        "currency": str(getattr(getattr(scenario, "valuation", None), "currency", "") or ""),
        "n": n,
        "horizon_years": float(traj["year"].max()),
    }

    effect = _values(summaries, "population_change_vs_cf_final")
    _quantiles(effect, "effect", out)
    out["effect_positive_share"] = float((effect > 0).mean()) if effect.size else None
    if out["horizon_years"] >= 5:
        _quantiles(_values(summaries, "population_change_vs_cf_year5"), "effect_year5", out,
                   qs=(5, 50, 95))
    _quantiles(_values(summaries, "population_change_final"), "change", out, qs=(5, 50, 95))
    _quantiles(_values(summaries, "population_change_cf_final"), "change_cf", out,
               qs=(5, 50, 95))

    _quantiles(_values(summaries, "sroi_final"), "sroi", out)
    _quantiles(_values(summaries, "sroi_projected"), "sroi_projected", out, qs=(50,))
    be = _values(summaries, "break_even_year")
    out["break_even_count"] = int(be.size)
    out["break_even_share"] = be.size / n if n else None
    _quantiles(be, "break_even", out, qs=(5, 50, 95))

    sig = _values(summaries, "first_significant_change_year")
    out["significant_count"] = int(sig.size)
    out["significant_share"] = sig.size / n if n else None
    _quantiles(sig, "significant", out, qs=(5, 50, 95))

    cost = _values(summaries, "cost_per_outcome_year")
    out["cost_count"] = int(cost.size)
    out["cost_none_count"] = n - int(cost.size)
    _quantiles(cost, "cost", out, qs=(5, 50, 95))
    _quantiles(_values(summaries, "cumulative_investment"), "investment", out, qs=(50,))
    _quantiles(_values(summaries, "social_value_pv"), "social_value", out, qs=(50,))
    _quantiles(_values(summaries, "outcome_years_gained"), "outcome_years", out, qs=(50,))

    _quantiles(_values(summaries, "equity_gap_start"), "equity_start", out, qs=(50,))
    _quantiles(_values(summaries, "equity_gap_final"), "equity_final", out, qs=(5, 50, 95))
    _quantiles(_values(summaries, "equity_gap_cf_final"), "equity_cf_final", out, qs=(50,))

    # ---- phases: when each was first reached --------------------------------------------
    reached_cols = [c for c in summaries.columns if str(c).startswith("year_reached:")]
    names = _phase_order([str(c).split(":", 1)[1] for c in reached_cols])
    phases = []
    for name in names:
        years = _values(summaries, f"year_reached:{name}")
        row: dict[str, Any] = {"phase": name, "count": int(years.size),
                               "share": years.size / n if n else None}
        _quantiles(years, "year", row, qs=(5, 50, 95))
        phases.append(row)
    out["phases"] = phases
    final = summaries["final_phase"].astype(str) if "final_phase" in summaries.columns else None
    out["final_phase_counts"] = (
        {str(k): int(v) for k, v in final.value_counts().items()} if final is not None else {}
    )

    # ---- components at the horizon (medians) --------------------------------------------
    last = traj.sort_values("step").groupby("replication").tail(1)
    out["components"] = {
        label: float(np.median(last[col].to_numpy(dtype=float)))
        for label, col in COMPONENTS if col in last.columns
    }

    # ---- Results-Based Accountability -----------------------------------------------------
    spec = target_of(scenario)
    if spec is not None:
        out["target"] = {"label": spec.label, "unit": spec.unit,
                         **target_probability(traj, spec)}
    else:
        out["target"] = None
    out["uncertainty"] = uncertainty_summary(result)
    return out


# --------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------


def summary_paragraph(num: dict[str, Any]) -> str:
    """The one-paragraph plain-language summary (HTML), built from :func:`report_numbers`.

    Args:
        num: The report's numbers.

    Returns:
        One HTML paragraph's content (no ``<p>`` tag).

    """
    cur = num["currency"]

    def s(key: str, kind: str, source: dict[str, Any] | None = None, prefix: str = "") -> str:
        src = num if source is None else source
        return number_span(prefix + key, src.get(key), kind, cur)

    effect = _finite_or_none(num.get("effect_p50"))
    if effect is None:
        verb = "changes"
    elif effect > 0:
        verb = "raises"
    elif effect < 0:
        verb = "lowers"
    else:
        verb = "does not change"
    parts = [
        f"Across {s('n', 'count')} simulated futures of the design "
        f"<strong>{html.escape(num['name'])}</strong>, each {fmt(num['horizon_years'], 'year')} "
        f"years long, the partnership {verb} the share of the population "
        f"{html.escape(num['outcome'])} by a median of {s('effect_p50', 'pp')} percentage points "
        f"by the horizon compared with the same organisations and money working in isolation "
        f"(in 90% of futures between {s('effect_p5', 'pp')} and {s('effect_p95', 'pp')}; in the "
        f"worst tenth, {s('effect_p10', 'pp')} or less)."
    ]
    sig_count = num.get("significant_count") or 0
    if sig_count:
        parts.append(
            f"A significant change (at least {_SIGNIFICANT_PP:g} point held for a year) appears "
            f"in {s('significant_share', 'pct')} of futures, typically in year "
            f"{s('significant_p50', 'year')}."
        )
    else:
        parts.append(
            f"No future shows a significant change (at least {_SIGNIFICANT_PP:g} point held "
            "for a year) within the horizon."
        )
    money = html.escape(cur) if cur else "unit of money"
    parts.append(
        f"Each {money} invested returns a median {s('sroi_p50', 'ratio')} {html.escape(cur)} in "
        f"social value by the horizon (90%: {s('sroi_p5', 'ratio')} to "
        f"{s('sroi_p95', 'ratio')})"
    )
    if num.get("break_even_count"):
        parts[-1] += (
            f"; {s('break_even_share', 'pct')} of futures break even, typically in year "
            f"{s('break_even_p50', 'year')} (90%: {s('break_even_p5', 'year')} to "
            f"{s('break_even_p95', 'year')})."
        )
    else:
        parts[-1] += "; no future breaks even within the horizon."
    if num.get("cost_count"):
        parts.append(
            f"Each outcome-year gained over the counterfactual costs a median of "
            f"{s('cost_p50', 'money')}."
        )
    eq_start, eq_end = _finite_or_none(num.get("equity_start_p50")), _finite_or_none(
        num.get("equity_final_p50"))
    if eq_start is not None and eq_end is not None:
        trend = "narrows" if eq_end < eq_start else "widens" if eq_end > eq_start else "holds"
        parts.append(
            f"The equity gap between subgroups {trend} from {s('equity_start_p50', 'level')} to "
            f"{s('equity_final_p50', 'level')} points ({s('equity_cf_final_p50', 'level')} "
            "without the partnership)."
        )
    target = num.get("target")
    if target:
        parts.append(
            f"The target, {html.escape(target['label'])}, is met in "
            f"{s('p_initiative', 'pct', target, 'target.')} of futures with the initiative and "
            f"{s('p_baseline', 'pct', target, 'target.')} without it."
        )
    return " ".join(parts)


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------

FigureMaker = Callable[[Any], Figure]


def _figure(result: Any, make: FigureMaker, alt: str, caption: str, tight: bool = False) -> str:
    try:
        fig = make(result)
    except KeyError as err:  # the result lacks the frame or columns this figure needs
        return f'<p class="note">Figure not available: {html.escape(str(err))}</p>'
    return (f'<figure><img src="{figure_data_uri(fig, tight=tight)}" alt="{html.escape(alt)}">'
            f"<figcaption>{caption}</figcaption></figure>")


def _key_numbers_table(num: dict[str, Any]) -> str:
    cur = num["currency"]
    rows = []
    for label, key, kind in (
        ("Population change vs counterfactual at the horizon (pp)", "effect", "pp"),
        ("Population change vs counterfactual in year 5 (pp)", "effect_year5", "pp"),
        ("Population change since the start, with the partnership (pp)", "change", "pp"),
        ("Population change since the start, in isolation (pp)", "change_cf", "pp"),
        ("SROI at the horizon (social value per unit invested)", "sroi", "ratio"),
        ("Break-even year (futures that break even)", "break_even", "year"),
        ("Year of significant population change (futures with one)", "significant", "year"),
        ("Cost per outcome-year gained", "cost", "money"),
        ("Equity gap at the horizon (pp)", "equity_final", "level"),
    ):
        if f"{key}_p50" not in num:
            continue
        rows.append([
            html.escape(label),
            number_span(f"{key}_p50", num.get(f"{key}_p50"), kind, cur),
            number_span(f"{key}_p5", num.get(f"{key}_p5"), kind, cur),
            number_span(f"{key}_p95", num.get(f"{key}_p95"), kind, cur),
        ])
    return html_table(["Outcome", "Median", "5th percentile", "95th percentile"], rows)


def _forecast_section(result: Any, num: dict[str, Any]) -> str:
    traj = trajectories_of(result)
    spec = target_of(getattr(result, "scenario", None))
    if spec is not None and spec.unit == "pp":
        table = forecast_table(traj, "population_change", "population_change_cf")
        scale, unit = 1.0, "pp since start"
    else:
        table = forecast_table(traj)
        scale, unit = 100.0, "%"
    rows = []
    for _, r in table.iterrows():
        cells = [fmt(r["year"], "count")]
        for who in ("baseline", "initiative"):
            cells.append(f"{r[f'{who}_p50'] * scale:.1f} "
                         f"({r[f'{who}_p5'] * scale:.1f} to {r[f'{who}_p95'] * scale:.1f})")
        cells.append(f"{(r['initiative_p50'] - r['baseline_p50']) * scale:+.1f}")
        rows.append(cells)
    parts = [
        "<h2>Results-Based Accountability: turning the curve</h2>",
        "<p>The <em>baseline forecast</em> is the curve without the initiative: the same "
        "organisations and money working in isolation. The <em>initiative's forecast</em> is "
        "the curve with the partnership. Both are annual averages of the share of the "
        f"population {html.escape(num['outcome'])}, medians with 90% intervals across "
        "futures.</p>",
        _figure(result, rba_figure, "Baseline and initiative forecasts",
                "Fan charts: median line, darker band 50% and lighter band 90% of futures."),
        html_table(["Year", f"Baseline forecast ({unit})", f"Initiative's forecast ({unit})",
                "Difference of medians"], rows),
    ]
    target = num.get("target")
    if target:
        parts.append(
            f"<p>Target: {html.escape(target['label'])}. Met (annual average at or above the "
            "target in that year) in "
            f"{number_span('target.p_initiative', target['p_initiative'], 'pct')} of futures "
            f"with the initiative (standard error "
            f"{number_span('target.se_initiative', target['se_initiative'], 'pct')}) and in "
            f"{number_span('target.p_baseline', target['p_baseline'], 'pct')} without it "
            f"(standard error {number_span('target.se_baseline', target['se_baseline'], 'pct')})"
            ".</p>"
        )
    elif target_beyond_horizon(getattr(result, "scenario", None)):
        sc = result.scenario
        parts.append(
            f'<p class="note">The target year ({sc.target.year:g}) lies beyond the simulated '
            f"horizon ({sc.horizon_years:g} years), so whether it is met is not assessed.</p>"
        )
    else:
        parts.append(
            '<p class="note">The scenario sets no target. Add one to the scenario file to see '
            "the probability of reaching it, e.g. <code>[target]</code> with "
            "<code>outcome_rate = 0.9</code> and <code>year = 5</code>, or "
            "<code>population_change_pp = 2.0</code> and <code>year = 5</code>.</p>"
        )
    return "\n".join(parts)


def _uncertainty_section(result: Any, num: dict[str, Any]) -> str:
    """How sure: which distribution the assumptions came from, chance vs assumptions, top drivers.

    Reads ``num["uncertainty"]`` (:func:`cisim.uncertainty.uncertainty_summary`).
    """
    u = num.get("uncertainty") or {}
    esc = html.escape
    parts = ["<h2 id=\"how-sure\">How sure: chance and the assumptions</h2>"]
    if u.get("seed_only", True):
        parts.append(
            '<p class="lead" id="uncertainty-source"><strong>These futures differ only by '
            "chance.</strong> Every assumption (the rate constants and valuation choices the "
            "evidence does not pin down) was fixed at the scenario's values, so the bands show the "
            "luck of the draw alone and <strong>understate the uncertainty</strong>. Run the "
            "report without <code>--seed-only</code> to draw the assumptions as well.</p>")
        return "\n".join(parts)
    drawn = u.get("drawn", [])
    if u.get("kind") == "posterior":
        what = (f"a calibrated posterior ({esc(u.get('source', ''))}): parameter sets "
                "consistent with the observed patterns")
    else:
        what = ("the documented priors (<code>cisim/data/priors.toml</code>): the ranges the "
                "literature and reasoning allow, <strong>not yet calibrated against data</strong>")
    pinned = u.get("pinned", [])
    pinned_text = (f" The design fixes {len(pinned)} of them itself "
                   f"({esc(', '.join(pinned))}); those keep the design's values."
                   if pinned else "")
    parts.append(
        f'<p id="uncertainty-source">Each future has its own random seed (chance) and draws '
        f"{len(drawn)} uncertain assumption(s) from {what}. {u.get('seeds_per_draw', 1)} futures "
        f"share each draw ({u.get('sets', 0)} draws in all), so the spread can be split into "
        f"chance and the assumptions.{pinned_text} A forecast with every assumption fixed (seed "
        "only) shows chance alone and understates the uncertainty.</p>")
    parts.append(_figure(result, uncertainty_figure, "Chance and assumptions",
                         "Shaded: 90% of futures (chance and the assumptions). Hatched: the 90% "
                         "band chance alone gives around one set of assumptions; the rest of the "
                         "shaded band is what the assumptions add."))
    rows = []
    for key, sh in (u.get("shares") or {}).items():
        if sh is None:
            continue
        if not sh["var_total"] > 0:
            rows.append([esc(sh["label"]), "no spread: every future gave the same value", ""])
            continue
        rows.append([
            esc(sh["label"]),
            f"{number_span(f'uncertainty.shares.{key}.share_parameters', sh['share_parameters'], 'pct')}"  # noqa: E501
            f" ({fmt(sh['low'], 'pct')} to {fmt(sh['high'], 'pct')})",
            number_span(f"uncertainty.shares.{key}.share_chance", sh["share_chance"], "pct"),
        ])
    if rows:
        parts.append(html_table(["Outcome", "Share of the variance from the assumptions (90% "
                                 "interval)", "Share from chance"], rows, cls="variance-shares"))
        parts.append(
            '<p class="note">The shares follow the law of total variance: chance is the variance '
            "between futures that share a draw, the assumptions are the variance of the draws' "
            f"means less the chance left in them. With {u.get('sets', 0)} draws of "
            f"{u.get('seeds_per_draw', 1)} futures each the split is itself uncertain: the "
            "interval resamples the draws (bootstrap). Treat a share as a rough guide, not a "
            "measurement; more futures narrow it.</p>")
    else:
        parts.append('<p class="note">Too few draws to split the spread into chance and the '
                     "assumptions (at least three draws of two futures each are needed).</p>")
    top = (u.get("top") or {}).get("population_change", [])
    if top:
        sroi = {t["path"]: t for t in (u.get("top") or {}).get("sroi", [])}
        trows = []
        for i, t in enumerate(top):
            other = sroi.get(t["path"])
            trows.append([
                f"<code>{esc(t['path'])}</code>",
                f"{number_span(f'uncertainty.top.{i}.rho', t['rho'], 'level')} "
                f"(higher values {t['direction'].removesuffix('s')} the change)",
                fmt(other["rho"], "level") if other else "n/a",
            ])
        parts.append("<h3>The assumptions that move the result most</h3>")
        parts.append(html_table(["Assumption (scenario path)", "Rank correlation with "
                                 "population change", "with SROI"], trows,
                                cls="top-assumptions"))
        parts.append(
            '<p class="note">Spearman rank correlation between each drawn value and the outcome '
            f"averaged over the futures of its draw, across {u.get('sets', 0)} draws; values "
            f"within about ±{fmt(2 / math.sqrt(max(u.get('sets', 0), 1)), 'level')} cannot be "
            "told from noise. docs/model.md gives each assumption's prior and reasoning.</p>")
    return "\n".join(parts)


def _phases_section(result: Any, num: dict[str, Any]) -> str:
    rows = []
    for i, p in enumerate(num["phases"]):
        rows.append([
            html.escape(p["phase"]),
            f"{number_span(f'phases.{i}.count', p['count'], 'count')} of {num['n']} "
            f"({number_span(f'phases.{i}.share', p['share'], 'pct')})",
            number_span(f"phases.{i}.year_p50", p["year_p50"], "year"),
            f"{fmt(p['year_p5'], 'year')} to {fmt(p['year_p95'], 'year')}",
        ])
    final = ", ".join(f"{html.escape(k)}: {v}" for k, v in num["final_phase_counts"].items())
    return "\n".join([
        "<h2>Phases</h2>",
        _figure(result, phase_timeline_figure, "Phase timeline",
                "One bar per future, coloured by the phase the partnership is in.", tight=True),
        html_table(["Phase", "Futures that reached it", "Median year first reached",
                "90% of those"], rows),
        f'<p class="note">Phase at the horizon: {final or "n/a"}.</p>',
    ])


def _partners_section(result: Any) -> str:
    try:
        table = partner_value_table(result)
    except KeyError as err:
        return f'<h2>Partners</h2><p class="note">Not available: {html.escape(str(err))}</p>'
    kinds = [c.removeprefix("sought_") for c in table.columns if c.startswith("sought_")]
    rows = []
    for _, r in table.iterrows():
        sought = max(kinds, key=lambda k: r[f"sought_{k}"]) if kinds else ""
        gap = (r[f"realised_{sought}_p50"] if sought else float("nan"))
        rows.append([
            html.escape(str(r["partner"])), html.escape(str(r["sector"])),
            html.escape(sought.replace("_", " ")),
            f"{r[f'sought_{sought}']:.2f}" if sought else "n/a",
            fmt(gap, "level"),
            fmt(r.get("satisfaction_p50"), "level"),
        ])
    return "\n".join([
        "<h2>What each partner gets</h2>",
        "<p>Partners join for different kinds of value (seed 000): social impact, knowledge, "
        "reputation, engagement with the population. Each keeps taking part only if it gets "
        "enough of what it seeks.</p>",
        _figure(result, partner_value_figure, "Partner value",
                "Bars: value realised (mean yearly level, median across futures, whiskers 90%); "
                "diamonds: the weight the partner puts on that kind of value."),
        html_table(["Partner", "Sector", "Seeks most", "Weight", "Realised (median)",
                "Satisfaction (median)"], rows),
    ])


def _components_section(result: Any, num: dict[str, Any]) -> str:
    rows = [[html.escape(label), number_span(f"components.{label}", v, "level")]
            for label, v in num["components"].items()]
    return "\n".join([
        "<h2>The seven components</h2>",
        _figure(result, components_figure, "Components over time",
                "Median level of each component's indicator (0 absent, 1 full)."),
        html_table(["Component", "Median level at the horizon"], rows),
    ])


def _method_notes(num: dict[str, Any]) -> str:
    return (
        "<h2>How to read this report</h2><ul>"
        "<li>Each <em>future</em> is one replication: the same design simulated with a different "
        "random seed and, unless the report says the run was seed-only, a different draw of the "
        "uncertain assumptions (see <em>How sure</em>). Medians and percentiles are across "
        "futures; a 90% interval runs from the 5th to the 95th percentile.</li>"
        "<li>The <em>counterfactual</em> is the same population, organisations and money "
        "working in isolation (no backbone, no shared measurement, no alignment), simulated with "
        "the same random numbers, so the difference is the partnership's effect.</li>"
        f"<li>A <em>significant change</em> is at least {_SIGNIFICANT_PP:g} percentage point "
        "against the counterfactual, held for a year.</li>"
        "<li>SROI is the present value of social value (with deadweight, attribution, "
        "displacement and discounting) over the present value of investment. Break-even is the "
        "first year SROI reaches 1.</li>"
        "<li>Cost per outcome is cumulative investment over the outcome-years gained against the "
        "counterfactual; futures with no gain have none.</li>"
        "<li>A target is met in a year when the indicator's annual average (the 52 weeks ending "
        "then) is at or above it; its standard error is binomial over futures.</li>"
        "</ul>"
    )


def report_html(result: Any, *, seed: int | None = None, source: str | None = None) -> str:
    """Render the strategist's report of an ensemble as one self-contained HTML document.

    Args:
        result: An ensemble result (a single run counts as one replication).
        seed: The ensemble's master seed, shown in the header.
        source: Where the scenario came from (a file name), shown in the header.

    Returns:
        The HTML document.

    """
    num = report_numbers(result)
    scenario = getattr(result, "scenario", None)
    cur = num["currency"]
    desc = str(getattr(scenario, "description", "") or "")
    meta = [f"{num['n']} replication(s)", f"horizon {fmt(num['horizon_years'], 'year')} years"]
    if seed is not None:
        meta.append(f"master seed {seed}")
    if source:
        meta.append(f"scenario {html.escape(source)}")
    meta.append(f"cisim {html.escape(_version())}")
    body = [
        f"<h1>{html.escape(num['name'])}: what to expect from this partnership design</h1>",
        f"<p>{html.escape(desc)}</p>" if desc else "",
        f'<p class="meta">{" · ".join(meta)}</p>',
        f'<p class="lead" id="summary">{summary_paragraph(num)}</p>',
        "<h2>Key numbers</h2>",
        _key_numbers_table(num),
        _uncertainty_section(result, num),
        _forecast_section(result, num),
        "<h2>Population change</h2>",
        _figure(result, population_change_figure, "Population change against the "
                "counterfactual", "Left: change since the start in both worlds (median, 50% "
                "band). Right: the difference, the partnership's effect (median, 50% and 90% "
                "bands)."),
        _figure(result, change_since_start_figure, "Population change since the start",
                "Change in the outcome rate since the start, with the partnership and in "
                "isolation (median, 50% and 90% bands)."),
        "<h2>Social return on investment</h2>",
        _figure(result, sroi_figure, "SROI over time",
                "SROI over time (median, 50% and 90% bands) with the break-even line."),
        _figure(result, milestones_figure, "Milestones by year",
                "Share of futures that have broken even, shown a significant change or met the "
                "target by each year: the spread of their timing."),
        f"<p>Break-even: {number_span('break_even_count', num['break_even_count'], 'count')} "
        f"of {num['n']} futures; median year {number_span('break_even_p50', num.get('break_even_p50'), 'year')} "  # noqa: E501
        f"(90% of those: {fmt(num.get('break_even_p5'), 'year')} to "
        f"{fmt(num.get('break_even_p95'), 'year')}). Invested (median) "
        f"{number_span('investment_p50', num.get('investment_p50'), 'money', cur)}; social value "
        f"{number_span('social_value_p50', num.get('social_value_p50'), 'money', cur)} "
        "(present values).</p>",
        _phases_section(result, num),
        _components_section(result, num),
        "<h2>Equity</h2>",
        _figure(result, equity_gap_figure, "Equity gap",
                "Gap in outcome rate between subgroups (median, 50% and 90% bands); lower is "
                "more equal."),
        _partners_section(result),
        "<h2>Cost per outcome achieved</h2>",
        _figure(result, cost_per_outcome_figure, "Cost per outcome",
                "Investment per outcome-year gained over the counterfactual, across futures."),
        f"<p>Median {number_span('cost_p50', num.get('cost_p50'), 'money', cur)} per "
        f"outcome-year gained (90%: {fmt(num.get('cost_p5'), 'money', cur)} to "
        f"{fmt(num.get('cost_p95'), 'money', cur)}); "
        f"{number_span('cost_none_count', num['cost_none_count'], 'count')} of {num['n']} "
        "futures gained no outcome-years. Median outcome-years gained: "
        f"{number_span('outcome_years_p50', num.get('outcome_years_p50'), 'ratio')}.</p>",
        _method_notes(num),
    ]
    if scenario is not None and hasattr(scenario, "to_toml"):
        body.append("<details><summary>The scenario simulated (TOML)</summary><pre>"
                    f"{html.escape(scenario.to_toml())}</pre></details>")
    return page(f"cisim report: {num['name']}", "\n".join(b for b in body if b), num)


def write_report(result: Any, path: str | Path, *, seed: int | None = None,
                 source: str | None = None) -> Path:
    """Render the report of an ensemble and write it atomically to ``path``.

    Returns:
        The path written.

    """
    path = Path(path)
    write_text_atomic(path, report_html(result, seed=seed, source=source))
    return path
