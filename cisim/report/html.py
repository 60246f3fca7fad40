"""The strategist's report: one self-contained HTML file about an ensemble of a design.

The report answers a funder's questions about a partnership design (a funder's view): what
population change to expect, when, how sure, at what return and cost, for whom, and for which
partner. It is one HTML file with its CSS inline and every figure embedded as a base64 PNG, so it
opens without a network connection and can be forwarded as is; it references no external URL.

Every number in the text is computed from the ensemble's frames by :func:`report_numbers` and
rendered from that structured object (each number also carries its key and exact value in
``data-key``/``data-value`` attributes, and the whole object is embedded as JSON), so the text
cannot drift from the results. Results-Based Accountability (NCIOM task force
slides) frames the forecast: the baseline curve without the
initiative, the initiative's curve and, where the scenario sets a ``[target]``, the probability of
meeting it (see :mod:`cisim.report.rba`).

An assumptions-and-limitations box comes before any number: what the model includes and leaves
out (after ``docs/model.md``), the validation status read from ``docs/validation_results.json``
(never invented: a missing or malformed file is reported as unavailable), the valuation in use
and the strategist's own inputs. The SROI is given in the two framings of Nicholls, Lawlor,
Neitzert & Goodspeed, *A Guide to Social Return on Investment* (2012) with its sensitivity table
(:mod:`cisim.sroi`); a risk section counts stalls, falls back to the first phase, the worst
future and high ratios that come from spending that stopped. A statistic only some futures have
says from how many, and fewer than :data:`MIN_FOR_INTERVAL` values are listed, not turned into
an interval. ``@media print`` rules give a clean printout, and :func:`write_report` writes the
report's tables as CSV next to the HTML.
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from cisim.io import write_text_atomic
from cisim.provenance import changes_of, strip_changes
from cisim.report.figures import (
    COMPONENTS,
    break_even_by_replication,
    change_since_start_figure,
    components_figure,
    cost_per_outcome_figure,
    equity_gap_figure,
    milestones_figure,
    partner_value_figure,
    partner_value_table,
    phase_order,
    phase_timeline_figure,
    population_change_figure,
    rba_figure,
    sroi_framings_figure,
    summaries_of,
    trajectories_of,
)
from cisim.report.rba import (
    forecast_table,
    target_beyond_horizon,
    target_of,
    target_probability,
)
from cisim.report.uncertainty import uncertainty_figure
from cisim.sroi import FRAMINGS, SENSITIVITY_RANGES, adjustments_of, sensitivity_table
from cisim.uncertainty import uncertainty_summary
from cisim.version import version

__all__ = [
    "CSS",
    "MIN_FOR_INTERVAL",
    "VALIDATION_RESULTS",
    "ValidationStatus",
    "figure_data_uri",
    "fmt",
    "html_table",
    "number_span",
    "page",
    "read_validation_results",
    "report_html",
    "report_numbers",
    "report_tables",
    "subset_cells",
    "subset_stat",
    "summary_paragraph",
    "tables_dir",
    "write_report",
]

_DPI = 96
_SIGNIFICANT_PP = 1.0

#: Fewer futures than this (or values with no spread) are listed, never shown as an interval.
MIN_FOR_INTERVAL = 5

#: The machine-readable validation results the report's limitations box reads (see
#: ``docs/validation.md``; package data, linked from ``docs/validation_results.json``); a missing
#: or malformed file makes the status "unavailable".
VALIDATION_RESULTS = Path(__file__).resolve().parents[1] / "data" / "validation_results.json"

#: A future whose spending in its last two years is below this share of its yearly mean is
#: flagged when its SROI is in the top tenth: its ratio comes from spending that stopped.
STOPPED_SPENDING_SHARE = 0.2
STOPPED_SPENDING_YEARS = 2.0

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
section.limitations { background: #fbf8ef; border: 1px solid #e6d9a8; border-left: 4px solid
                      #c69a17; padding: 4px 18px 12px; margin: 1em 0; }
section.limitations h2 { margin-top: 0.6em; border-bottom-color: #e6d9a8; }
section.limitations ul { margin: 0.3em 0; padding-left: 1.3em; }
.warning { background: #fdecea; border-left: 4px solid #b42318; padding: 8px 12px; }
@page { size: A4; margin: 15mm 14mm; }
@media print {
  body { background: #fff; font-size: 10pt; }
  main { max-width: none; margin: 0; padding: 0; }
  details, script, .no-print { display: none !important; }
  h2 { break-before: page; page-break-before: always; }
  section.limitations h2, section.limitations + h2 { break-before: auto;
                                                     page-break-before: auto; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
  figure, table, tr, .warning, p.lead { break-inside: avoid; page-break-inside: avoid; }
  figure img { max-width: 100% !important; max-height: 23cm; width: auto; height: auto; }
  table { font-size: 8.5pt; }
  section.limitations { break-inside: auto; }
}
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


def subset_cells(values: Any, total: int, key: str, kind: str, currency: str = ""
                 ) -> tuple[str, str, str]:
    """Median, 90% interval and count of a statistic over some of the futures, as HTML cells.

    A statistic computed from fewer than :data:`MIN_FOR_INTERVAL` futures, or from values
    with no spread, is never shown as an interval ("x to x" would read as certainty): the
    values themselves are listed instead.

    Args:
        values: The values (non-finite ones are left out: futures without the statistic).
        total: The number of futures.
        key: The number's key (``<key>_p50`` etc. in ``data-key``).
        kind: The number format (see :func:`fmt`).
        currency: The currency code for ``money``.

    Returns:
        (median or listed values, interval or the reason there is none, "k of N futures").
    """
    arr = np.asarray(values, dtype=float).ravel()
    arr = np.sort(arr[np.isfinite(arr)])
    k = int(arr.size)
    count = f"{number_span(f'{key}_count', k, 'count')} of {total} futures"
    if k == 0:
        return "n/a", "none of the futures", count
    if k < MIN_FOR_INTERVAL:
        listed = ", ".join(number_span(f"{key}.values.{i}", v, kind, currency)
                           for i, v in enumerate(arr))
        return listed, f"no interval from {k} future{'s' if k > 1 else ''}", count
    if float(arr[-1] - arr[0]) == 0.0:
        return (number_span(f"{key}_p50", arr[0], kind, currency),
                f"no spread: the same in all {k}", count)
    lo, mid, hi = np.percentile(arr, [5, 50, 95])
    return (number_span(f"{key}_p50", mid, kind, currency),
            f"{number_span(f'{key}_p5', lo, kind, currency)} to "
            f"{number_span(f'{key}_p95', hi, kind, currency)}", count)


def subset_stat(values: Any, total: int, key: str, kind: str, currency: str = "") -> str:
    """One phrase for a statistic over some of the futures (see :func:`subset_cells`).

    Examples: "median 3.1 (90%: 2.0 to 4.4)", "median 3.1 (90%: 2.0 to 4.4; computed from 7 of
    20 futures)", "4.2, 6.0 (computed from 2 of 20 futures)", "none of the 20 futures".
    """
    arr = np.asarray(values, dtype=float).ravel()
    k = int(np.isfinite(arr).sum())
    if k == 0:
        return f"none of the {total} futures"
    first, second, _ = subset_cells(values, total, key, kind, currency)
    subset = f"computed from {k} of {total} futures" if k < total else ""
    if k < MIN_FOR_INTERVAL:
        return f"{first} ({subset or f'all {total} futures'})"
    if second.startswith("no spread"):
        return f"{first} in all {k} ({subset})" if subset else f"{first} in all {k} futures"
    return f"median {first} (90%: {second}{'; ' + subset if subset else ''})"


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


# --------------------------------------------------------------------------------------------
# Validation status
# --------------------------------------------------------------------------------------------


@dataclass
class ValidationStatus:
    """What the validation results file says, or why it says nothing.

    Attributes:
        path: The file read.
        available: Whether the file was read and valid.
        reason: Why it is unavailable (missing, unreadable, which field is wrong).
        generated: When the results were generated (as written in the file).
        seeds: The seeds of the study.
        designs_per_seed: Sampled initiatives per seed (None if the file does not say).
        patterns: One dict per pattern: id, name, holds, held_out, criterion and per_seed (a
            list of dicts with seed, value, interval [lo, hi] and holds; the seed and value
            are None for a file that gives one interval per pattern).
    """

    path: Path
    available: bool
    reason: str = ""
    generated: str = ""
    seeds: list[Any] = field(default_factory=list)
    designs_per_seed: int | None = None
    patterns: list[dict[str, Any]] = field(default_factory=list)


def _is_number(x: Any) -> bool:
    return x is None or (isinstance(x, int | float) and not isinstance(x, bool))


def _is_interval(x: Any) -> bool:
    return isinstance(x, list) and len(x) == 2 and all(_is_number(v) for v in x)


def _pattern(pat: Any, where: str, problems: list[str]) -> dict[str, Any] | None:
    """One pattern of a results file, normalised; problems are appended, naming the field."""
    if not isinstance(pat, dict):
        problems.append(f"{where}: not an object")
        return None
    n = len(problems)
    for key, types in (("id", (str, int)), ("name", (str,)), ("criterion", (str,))):
        if not isinstance(pat.get(key), types) or isinstance(pat.get(key), bool):
            problems.append(f"{where}.{key}: missing or of the wrong type")
    if not isinstance(pat.get("holds"), bool):
        problems.append(f"{where}.holds: missing or not true/false")
    if "role" in pat:  # the study's format (experiments/validation/results.py)
        if pat["role"] not in ("calibration", "held_out"):
            problems.append(f"{where}.role: not 'calibration' or 'held_out'")
        held_out = pat.get("role") == "held_out"
    else:
        held_out = pat.get("held_out")
        if not isinstance(held_out, bool):
            problems.append(f"{where}.held_out: missing or not true/false (or give 'role')")
    rows: list[dict[str, Any]] = []
    if "per_seed" in pat:
        if not isinstance(pat["per_seed"], list):
            problems.append(f"{where}.per_seed: not a list")
        else:
            for j, r in enumerate(pat["per_seed"]):
                ok = (isinstance(r, dict) and _is_number(r.get("value"))
                      and _is_interval(r.get("interval")) and isinstance(r.get("holds"), bool))
                if not ok:
                    problems.append(f"{where}.per_seed[{j}]: needs seed, value, interval "
                                    "[low, high] and holds")
                    continue
                rows.append({"seed": r.get("seed"), "value": r["value"],
                             "interval": list(r["interval"]), "holds": r["holds"]})
    elif _is_interval(pat.get("interval")):
        rows.append({"seed": None, "value": None, "interval": list(pat["interval"]),
                     "holds": pat.get("holds")})
    else:
        problems.append(f"{where}.interval: missing or not [low, high] (or give 'per_seed')")
    if len(problems) > n:
        return None
    return {"id": str(pat["id"]), "name": pat["name"], "holds": pat["holds"],
            "held_out": bool(held_out), "criterion": pat["criterion"], "per_seed": rows}


def read_validation_results(path: str | Path | None = None) -> ValidationStatus:
    """Read the machine-readable validation results (``docs/validation_results.json``).

    Reads the validation study's format (``experiments/validation/results.py``: ``generated``,
    ``seeds``, ``designs_per_seed`` and per pattern ``id``, ``name``, ``role`` (calibration or
    held_out), ``holds`` (in every seed), ``per_seed`` values and intervals, ``criterion``) and
    a simpler one with ``held_out`` (true/false) and one ``interval`` per pattern. Nothing is
    invented: a missing file, a file that is not JSON or a field of the wrong type makes the
    status unavailable, with the file and field named.

    Args:
        path: The file (default :data:`VALIDATION_RESULTS`).

    Returns:
        The status.
    """
    path = Path(VALIDATION_RESULTS if path is None else path)
    if not path.exists():
        return ValidationStatus(path, False, f"no validation results file ({path.name})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        return ValidationStatus(path, False, f"{path.name} cannot be read: {err}")
    if not isinstance(data, dict):
        return ValidationStatus(path, False, f"{path.name}: not a JSON object")
    problems: list[str] = []
    if not isinstance(data.get("generated"), str):
        problems.append("generated: missing or not a string")
    if not isinstance(data.get("seeds"), list):
        problems.append("seeds: missing or not a list")
    designs = data.get("designs_per_seed")
    if designs is not None and (not isinstance(designs, int) or isinstance(designs, bool)):
        problems.append("designs_per_seed: not an integer")
    raw = data.get("patterns")
    if not isinstance(raw, list) or not raw:
        problems.append("patterns: missing, empty or not a list")
        raw = []
    patterns = [p for i, pat in enumerate(raw)
                if (p := _pattern(pat, f"patterns[{i}]", problems)) is not None]
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        return ValidationStatus(path, False, f"{path.name}: " + "; ".join(problems[:3]) + more)
    return ValidationStatus(path, True, "", data["generated"], list(data["seeds"]), designs,
                            patterns)


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
    out[f"{prefix}_count"] = int(arr.size)
    if arr.size < MIN_FOR_INTERVAL or float(np.ptp(arr)) == 0.0:
        out[f"{prefix}_values"] = sorted(float(v) for v in arr)


def _spread(num: dict[str, Any], prefix: str, kind: str, currency: str = "",
            lo: str = "p5", hi: str = "p95", label: str = "90%: ") -> str:
    """The interval of ``prefix`` as "<label>a to b", or its values if an interval misleads.

    An interval from too few futures, or with no spread, would read as certainty.
    """
    values = num.get(f"{prefix}_values")
    k, n = num.get(f"{prefix}_count"), num.get("n")
    subset = f"; computed from {k} of {n} futures" if k is not None and n and k < n else ""
    if values is None:
        return (f"{label}"
                f"{number_span(f'{prefix}_{lo}', num.get(f'{prefix}_{lo}'), kind, currency)} to "
                f"{number_span(f'{prefix}_{hi}', num.get(f'{prefix}_{hi}'), kind, currency)}"
                + subset)
    if not values:
        return "n/a"
    if len(values) >= MIN_FOR_INTERVAL:
        return (f"{fmt(values[0], kind, currency)} in all {len(values)} futures (no spread)"
                + subset)
    listed = ", ".join(fmt(v, kind, currency) for v in values)
    return f"only {len(values)} value{'s' if len(values) > 1 else ''}: {listed}" + subset


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
    summaries = summaries_of(result)
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

    # ---- SROI in the guide's two framings (cisim.sroi) --------------------------------------
    for framing in FRAMINGS:
        k = framing.key
        _quantiles(_values(summaries, f"sroi_{k}"), f"sroi_{k}", out)
        col = f"sroi_{k}"
        be = (break_even_by_replication(traj, col).to_numpy(dtype=float)
              if col in traj.columns else np.array([]))
        be = be[np.isfinite(be)]
        out[f"break_even_{k}_count"] = int(be.size)
        out[f"break_even_{k}_share"] = be.size / n if n else None
        _quantiles(be, f"break_even_{k}", out, qs=(5, 50, 95))
    out["collaboration_cost_p50"] = _median_or_none(_values(summaries, "collaboration_cost"))
    out["sensitivity"] = _sensitivity(summaries, scenario, out["horizon_years"])

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
    names = phase_order([str(c).split(":", 1)[1] for c in reached_cols])
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
    out["risk"] = _risk_numbers(traj, summaries, n)
    out["uncertainty"] = uncertainty_summary(result)
    return out


def _median_or_none(arr: np.ndarray) -> float | None:
    return float(np.median(arr)) if arr.size else None


def _sensitivity(summaries: pd.DataFrame, scenario: Any, horizon: float
                 ) -> dict[str, list[dict[str, Any]]]:
    """The SROI guide's sensitivity table of each framing's median ratio (see cisim.sroi)."""
    valuation = getattr(scenario, "valuation", None)
    out: dict[str, list[dict[str, Any]]] = {}
    if valuation is None or not hasattr(valuation, "deadweight"):
        return out
    for framing in FRAMINGS:
        k = framing.key
        cols = [f"{k}_gain_years_pv", f"{k}_final_gain", f"{k}_input_pv"]
        if not all(c in summaries.columns for c in cols):
            continue
        parts = [pd.to_numeric(summaries[c], errors="coerce").to_numpy(dtype=float) for c in cols]
        rows = sensitivity_table(*parts, adjustments_of(valuation, k), horizon)
        out[k] = [dict(r.__dict__) for r in rows]
    return out


def _money_spent(traj: pd.DataFrame) -> pd.DataFrame:
    """Each framing's money per step, without partners' time (which goes on after a cliff).

    ``money_initiative`` is the initiative's income; ``money_collaboration`` the backbone and
    shared-measurement spending (the cost of collaborating less the coordination time, which
    is the investment less the income).
    """
    out = traj[["replication", "step", "year"]].copy()
    if "income" in traj.columns:
        out["money_initiative"] = traj["income"].to_numpy(dtype=float)
        out.loc[out["step"] <= 0, "money_initiative"] = 0.0
        if {"collaboration_cost", "investment"} <= set(traj.columns):
            time = traj["investment"].to_numpy(dtype=float) - out["money_initiative"].to_numpy()
            out["money_collaboration"] = np.maximum(
                traj["collaboration_cost"].to_numpy(dtype=float) - time, 0.0)
    return out


def _risk_numbers(traj: pd.DataFrame, summaries: pd.DataFrame, n: int) -> dict[str, Any]:
    """Stalls, falls back to the first phase, the worst case and SROI from stopped spending."""
    risk: dict[str, Any] = {"n": n}
    sig = (pd.to_numeric(summaries["first_significant_change_year"], errors="coerce")
           if "first_significant_change_year" in summaries.columns else None)
    if sig is not None:
        stalled = int(sig.isna().sum())
        risk["stall_count"] = stalled
        risk["stall_share"] = stalled / n if n else None
    # phases: fell back to the first phase and stayed there until the horizon
    fell, never, fell_years = [], [], []
    if "phase" in traj.columns:
        for rep, g in traj.sort_values("step").groupby("replication"):
            phase = g["phase"].astype(str).to_numpy()
            first = phase[0]
            away = np.flatnonzero(phase != first)
            if not away.size:
                never.append(int(rep))
            elif phase[-1] == first:
                fell.append(int(rep))
                fell_years.append(float(g["year"].to_numpy()[away[-1] + 1]))
        risk["first_phase"] = str(traj.sort_values("step")["phase"].iloc[0])
        risk["fell_back_count"] = len(fell)
        risk["fell_back_share"] = len(fell) / n if n else None
        risk["fell_back_replications"] = fell
        risk["fell_back_years"] = fell_years
        risk["never_left_count"] = len(never)
        risk["never_left_share"] = len(never) / n if n else None
    # the worst case
    if "population_change_vs_cf_final" in summaries.columns:
        effect = pd.to_numeric(summaries["population_change_vs_cf_final"], errors="coerce")
        if effect.notna().any():
            i = int(effect.idxmin())
            risk["worst_effect"] = float(effect.loc[i])
            risk["worst_replication"] = int(summaries["replication"].loc[i]) if (
                "replication" in summaries.columns) else i
            risk["worst_seed"] = (int(summaries["seed"].loc[i]) if "seed" in summaries.columns
                                  else None)
            if "population_change_final" in summaries.columns:
                risk["worst_change_since_start"] = float(summaries["population_change_final"]
                                                         .loc[i])
    # a high SROI from spending that stopped
    horizon = float(traj["year"].max()) if len(traj) else 0.0
    risk["stopped_checked"] = horizon > STOPPED_SPENDING_YEARS
    flags: list[dict[str, Any]] = []
    money = _money_spent(traj)
    if risk["stopped_checked"]:
        for framing in ("initiative", "collaboration"):
            col = f"sroi_{framing}"
            spend = f"money_{framing}"
            if col not in summaries.columns or spend not in money.columns:
                continue
            ratio = pd.to_numeric(summaries[col], errors="coerce")
            finite = ratio[np.isfinite(ratio)]
            if finite.empty:
                continue
            top = float(np.percentile(finite, 90))
            reps = (summaries["replication"] if "replication" in summaries.columns
                    else pd.Series(range(len(summaries))))
            stopped = 0
            for i in finite.index:
                rep = int(reps.loc[i])
                g = money[(money["replication"] == rep) & (money["step"] > 0)]
                total_years = float(g["year"].max())
                yearly = float(g[spend].sum()) / total_years if total_years > 0 else 0.0
                late = g[g["year"] > total_years - STOPPED_SPENDING_YEARS]
                late_yearly = float(late[spend].sum()) / STOPPED_SPENDING_YEARS
                if not (yearly > 0 and late_yearly < STOPPED_SPENDING_SHARE * yearly):
                    continue
                stopped += 1
                if finite.loc[i] >= top:
                    flags.append({"framing": framing, "replication": rep,
                                  "sroi": float(ratio.loc[i]), "late_share": late_yearly / yearly})
            risk[f"stopped_{framing}_count"] = stopped
    risk["stopped_spending"] = flags
    return risk


# --------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------


def _subset_phrase(num: dict[str, Any], prefix: str, kind: str) -> str:
    """The median of a statistic some futures lack, saying from how many it is computed."""
    cur = num["currency"]
    k = int(num.get(f"{prefix}_count") or 0)
    n = num["n"]
    if k == 0:
        return "n/a"
    subset = f"computed from {k} of {n} futures" if k < n else ""
    values = num.get(f"{prefix}_values")
    if values is not None:
        if len(values) >= MIN_FOR_INTERVAL:
            shown = f"{fmt(values[0], kind, cur)} in all {k} futures"
        else:
            shown = ", ".join(fmt(v, kind, cur) for v in values)
        return f"{shown} ({subset or f'all {n} futures'})"
    median = number_span(f"{prefix}_p50", num.get(f"{prefix}_p50"), kind, cur)
    return f"a median of {median}" + (f" ({subset})" if subset else "")


def _sroi_sentence(num: dict[str, Any], money: str) -> str:
    """The summary's sentence on both SROI framings and their break-even."""
    cur = num["currency"]

    def s(key: str, kind: str) -> str:
        return number_span(key, num.get(key), kind, cur)

    text = (
        f"Against the status quo before it, each {money} of the initiative's money and time "
        f"returns a median {s('sroi_initiative_p50', 'ratio')} {html.escape(cur)} in social "
        f"value by the horizon (<em>initiative SROI</em>; "
        f"{_spread(num, 'sroi_initiative', 'ratio')}); against the same money spent in "
        f"isolation, each {money} spent on collaborating (backbone, shared measurement and "
        f"coordination time) returns a median {s('sroi_collaboration_p50', 'ratio')} "
        f"(<em>collaboration SROI</em>; {_spread(num, 'sroi_collaboration', 'ratio')})."
    )
    be_i, be_c = num.get("break_even_initiative_count"), num.get("break_even_collaboration_count")
    if be_i or be_c:
        text += (
            f" {s('break_even_initiative_share', 'pct')} of futures break even on the "
            f"initiative SROI and {s('break_even_collaboration_share', 'pct')} on the "
            "collaboration SROI within the horizon."
        )
    else:
        text += " No future breaks even within the horizon on either framing."
    return text


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
        + (f"(in 90% of futures between {s('effect_p5', 'pp')} and {s('effect_p95', 'pp')}; "
           f"in the worst tenth, {s('effect_p10', 'pp')} or less)."
           if num.get("effect_values") is None
           else f"({_spread(num, 'effect', 'pp', label='')})."),
    ]
    sig_count = num.get("significant_count") or 0
    if sig_count:
        parts.append(
            f"A significant change (at least {_SIGNIFICANT_PP:g} point held for a year) appears "
            f"in {s('significant_share', 'pct')} of futures; the year it first holds is "
            f"{_subset_phrase(num, 'significant', 'year')}."
        )
    else:
        parts.append(
            f"No future shows a significant change (at least {_SIGNIFICANT_PP:g} point held "
            "for a year) within the horizon."
        )
    money = html.escape(cur) if cur else "unit of money"
    if not (num.get("sroi_initiative_count") or num.get("sroi_collaboration_count")):
        parts.append("The SROI in the guide's two framings is not available for these results "
                     "(no future has it: results saved by an older cisim, or no money or "
                     "collaboration to set it against).")
    else:
        parts.append(_sroi_sentence(num, money))
    if num.get("cost_count"):
        parts.append(
            f"Each outcome-year gained over the counterfactual costs "
            f"{_subset_phrase(num, 'cost', 'money')}."
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


def _stat_cells(num: dict[str, Any], prefix: str, kind: str) -> list[str]:
    """Median, 90% interval and count cells of a statistic; never a degenerate interval."""
    cur = num["currency"]
    n = num["n"]
    k = int(num.get(f"{prefix}_count") or 0)
    counted = f"{k} of {n}"
    values = num.get(f"{prefix}_values")
    if k == 0:
        return ["n/a", "none of the futures", counted]
    if values is not None and len(values) < MIN_FOR_INTERVAL:
        listed = ", ".join(fmt(v, kind, cur) for v in values)
        return [listed, f"no interval from {k} future{'s' if k > 1 else ''}", counted]
    median = number_span(f"{prefix}_p50", num.get(f"{prefix}_p50"), kind, cur)
    if values is not None:
        return [median, f"no spread: the same in all {k}", counted]
    return [median, f"{number_span(f'{prefix}_p5', num.get(f'{prefix}_p5'), kind, cur)} to "
            f"{number_span(f'{prefix}_p95', num.get(f'{prefix}_p95'), kind, cur)}", counted]


#: The key numbers table: (label, key prefix, format).
KEY_NUMBERS: tuple[tuple[str, str, str], ...] = (
    ("Population change vs counterfactual at the horizon (pp)", "effect", "pp"),
    ("Population change vs counterfactual in year 5 (pp)", "effect_year5", "pp"),
    ("Population change since the start, with the partnership (pp)", "change", "pp"),
    ("Population change since the start, in isolation (pp)", "change_cf", "pp"),
    ("Initiative SROI: against the status quo, over all money and time", "sroi_initiative",
     "ratio"),
    ("Collaboration SROI: against isolation, over the cost of collaborating",
     "sroi_collaboration", "ratio"),
    ("Break-even year, initiative SROI (futures that break even)", "break_even_initiative",
     "year"),
    ("Break-even year, collaboration SROI (futures that break even)",
     "break_even_collaboration", "year"),
    ("Year of significant population change (futures with one)", "significant", "year"),
    ("Cost per outcome-year gained (futures with a gain)", "cost", "money"),
    ("Equity gap at the horizon (pp)", "equity_final", "level"),
)


def _key_numbers_table(num: dict[str, Any]) -> str:
    rows = [[html.escape(label), *_stat_cells(num, key, kind)]
            for label, key, kind in KEY_NUMBERS if f"{key}_p50" in num]
    return html_table(["Outcome", "Median", "90% of futures (5th to 95th percentile)",
                       "Futures counted"], rows, cls="key-numbers")


def _forecast_section(result: Any, num: dict[str, Any]) -> str:
    traj = trajectories_of(result)
    few = num["n"] < MIN_FOR_INTERVAL
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
            lo, hi = r[f"{who}_p5"] * scale, r[f"{who}_p95"] * scale
            cells.append(f"{r[f'{who}_p50'] * scale:.1f}" if few or f"{lo:.1f}" == f"{hi:.1f}"
                         else f"{r[f'{who}_p50'] * scale:.1f} ({lo:.1f} to {hi:.1f})")
        cells.append(f"{(r['initiative_p50'] - r['baseline_p50']) * scale:+.1f}")
        rows.append(cells)
    parts = [
        "<h2>Results-Based Accountability: turning the curve</h2>",
        "<p>The <em>baseline forecast</em> is the curve without the initiative: the same "
        "organisations and money working in isolation. The <em>initiative's forecast</em> is "
        "the curve with the partnership. Both are annual averages of the share of the "
        f"population {html.escape(num['outcome'])}, medians with 90% intervals across "
        "futures" + (f" (no intervals: only {num['n']} future{'s' if num['n'] > 1 else ''})"
                     if few else "") + ".</p>",
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
    parts = ['<section id="how-sure">', "<h2>How sure: chance and the assumptions</h2>"]
    if u.get("seed_only", True):
        parts.append(
            '<p class="lead" id="uncertainty-source"><strong>These futures differ only by '
            "chance.</strong> Every assumption (the rate constants, thresholds and behaviours the "
            "evidence does not pin down) was fixed at the scenario's values, so the bands show the "
            "luck of the draw alone and <strong>understate the uncertainty</strong>. Run the "
            "report without <code>--seed-only</code> to draw the assumptions as well.</p>")
        return "\n".join([*parts, "</section>"])
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
        "only) shows chance alone and understates the uncertainty. A future is re-run by its "
        "replication number under the same master seed (its seed alone no longer fixes it); "
        "<code>cisim run</code> writes the values each future used to "
        "<code>parameters.csv</code>. The SROI valuation judgments are not drawn: they are "
        "stated above and the SROI sensitivity table shows how far each must move.</p>")
    parts.append(_figure(result, uncertainty_figure, "Chance and assumptions",
                         "Top: shaded, 90% of futures (chance and the assumptions); hatched, the "
                         "90% band chance alone gives around one set of assumptions (a symmetric "
                         "approximation, cut at the shaded band); the rest of the shaded band is "
                         "what the assumptions add. Bottom: the share of the variance across "
                         "futures from each source, year by year."))
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
        sroi = (u.get("rho") or {}).get("sroi", {})
        trows = []
        for i, t in enumerate(top):
            trows.append([
                f"<code>{esc(t['path'])}</code>",
                f"{number_span(f'uncertainty.top.{i}.rho', t['rho'], 'level')} "
                f"(higher values {t['direction'].removesuffix('s')} the change)",
                fmt(sroi.get(t["path"]), "level"),
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
    return "\n".join([*parts, "</section>"])


def _phases_section(result: Any, num: dict[str, Any]) -> str:
    rows = []
    for i, p in enumerate(num["phases"]):
        stat = {f"phases.{i}.year_{k.removeprefix('year_')}": v for k, v in p.items()
                if k.startswith("year_")}
        median, interval, _ = _stat_cells({**stat, "currency": "", "n": num["n"]},
                                          f"phases.{i}.year", "year")
        rows.append([
            html.escape(p["phase"]),
            f"{number_span(f'phases.{i}.count', p['count'], 'count')} of {num['n']} "
            f"({number_span(f'phases.{i}.share', p['share'], 'pct')})",
            median,
            interval,
        ])
    final = ", ".join(f"{html.escape(k)}: {v}" for k, v in num["final_phase_counts"].items())
    return "\n".join([
        "<h2>Phases</h2>",
        _figure(result, phase_timeline_figure, "Phase timeline",
                "One bar per future, coloured by the phase the partnership is in.", tight=True),
        html_table(["Phase", "Futures that reached it", "Median year first reached",
                "90% of those (5th to 95th percentile)"], rows),
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
        "<p>Partners join for different kinds of value (Save the Children Sweden 2021): social "
        "impact, knowledge, reputation, engagement with the population. Each keeps taking part "
        "only if it gets enough of what it seeks.</p>",
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


# ---- assumptions and limitations ---------------------------------------------------------------

#: What the model represents, written from ``docs/model.md`` (sections 2, 7 and 8).
MODEL_INCLUDES = (
    "partner organisations with staff, budgets, expertise, agenda positions, trust in each "
    "other and commitment that rises and falls with the value each gets;",
    "a backbone (its staffing, budget, skill and neutrality), leaders' meetings, a common "
    "agenda, a shared measurement system with reporting lag and noise, beneficiary "
    "engagement, coordinated services and systems change (services, practices, policy);",
    "funding lines that are reviewed and renewed (or not) on measured results, and a funding "
    "cliff;",
    "phases the partnership moves through (and can fall back from) when their conditions hold;",
    "a beneficiary population with subgroups, barriers in several strategy areas, turnover and "
    "an outcome state, updated weekly;",
    "a counterfactual: the same partners, population and money working in isolation, "
    "simulated with the same random numbers.",
)

MODEL_OMITS = (
    "geography: there is no space, only an abstract agenda space and strategy areas;",
    "trends outside the model: the status quo before the initiative is flat by calibration, so "
    "economic cycles, policy shifts elsewhere or other programmes enter only through the "
    "deadweight and attribution you set;",
    "partners' own service budgets as an investment (they are spent with or without the "
    "initiative), and the value partners gain themselves (knowledge, reputation) in the SROI;",
    "drop-off within the horizon (outcomes there are simulated); beyond it, only the final "
    "year's change projected for valuation.projection_years;",
    "known gaps: several patterns observed in real initiatives are not reproduced (the "
    "validation status below; docs/validation.md and docs/model.md, section 8, say which).",
)

_VALUATION_ROWS = (
    ("value_per_outcome_year", "Financial proxy: value of one outcome-year", "money"),
    ("deadweight", "Deadweight (initiative SROI; the collaboration SROI's is the simulated "
     "counterfactual)", "pct"),
    ("attribution", "Attribution (share due to others)", "pct"),
    ("displacement", "Displacement", "pct"),
    ("drop_off", "Drop-off per year after the horizon", "pct"),
    ("projection_years", "Years projected after the horizon", "year"),
    ("discount_rate", "Discount rate per year", "pct"),
    ("coordination_hour_cost", "Value of an hour of partners' coordination time", "money"),
)


def _field_source(section: Any, name: str) -> str:
    info = type(section).model_fields.get(name) if hasattr(type(section), "model_fields") else None
    extra = getattr(info, "json_schema_extra", None) or {}
    return str(extra.get("source", "")) if isinstance(extra, dict) else ""


def _design_inputs(sc: Any) -> list[str]:
    """The strategist's own inputs, in words."""
    cur = html.escape(str(sc.valuation.currency))
    items = []
    listed = list(sc.partners)
    generated = sum(sc.partner_generation.counts.values()) if sc.partner_generation else 0
    grants = sum(p.grant_per_year for p in listed)
    items.append(
        f"<strong>Partners</strong>: {len(listed)} listed"
        + (f" and {generated} generated" if generated else "")
        + (f" ({html.escape(', '.join(p.name for p in listed[:8]))}"
           + (", ..." if len(listed) > 8 else "") + ")" if listed else "")
        + (f"; listed partners' grants to the pooled fund {fmt(grants, 'money', cur)} a year"
           if grants else "") + ".")
    streams = sc.funding.streams
    money = ", ".join(f"{html.escape(st.name)} {fmt(st.amount_per_year, 'money', cur)} a year "
                      f"for {fmt(st.years, 'year')} years"
                      + (" (renewable at review)" if st.renewable else "") for st in streams)
    cliff = sc.funding.max_years
    items.append(f"<strong>Money</strong>: {money or 'no external funding streams'}"
                 + ("" if cliff is None else f"; all money stops after {cliff:g} years") + ".")
    b = sc.backbone
    if b.present and not sc.isolated:
        staff = b.staff
        items.append(
            f"<strong>Backbone</strong>: {html.escape(str(b.type)).replace('_', ' ')}, "
            f"{fmt(b.budget_per_year, 'money', cur)} a year; staff: project manager "
            f"{staff.project_manager:g}, data manager {staff.data_manager:g}, facilitator "
            f"{staff.facilitator:g} FTE.")
    else:
        items.append("<strong>Backbone</strong>: none.")
    m = sc.meetings
    items.append(f"<strong>Meetings</strong>: {html.escape(str(m.cadence))}, "
                 f"{m.hours_per_meeting:g} hours each, attendance {fmt(m.attendance, 'pct')}.")
    ms = sc.measurement
    items.append("<strong>Measurement plan</strong>: "
                 + (f"shared system, {fmt(ms.investment_per_year, 'money', cur)} a year, "
                    f"reports {ms.report_lag_weeks:g} weeks late." if ms.shared
                    else "no shared measurement system."))
    pop = sc.population
    items.append(f"<strong>Population</strong>: {pop.size:,} people "
                 f"{html.escape(pop.outcome) if pop.outcome else ''}, "
                 f"{len(pop.subgroups)} subgroup(s).")
    spec = target_of(sc)
    if spec is not None:
        target = html.escape(spec.label)
    elif target_beyond_horizon(sc):
        target = f"set for year {sc.target.year:g}, beyond the horizon"
    else:
        target = "none set"
    items.append(f"<strong>Target</strong>: {target}.")
    return items


def _sig3(value: Any) -> str:
    """A pattern statistic to three significant figures, as docs/validation.md writes it."""
    v = _finite_or_none(value)
    return "n/a" if v is None else f"{v:.3g}"


def _intervals_text(rows: list[dict[str, Any]]) -> str:
    parts = []
    for r in rows:
        lo, hi = r["interval"]
        interval = f"{_sig3(lo)} to {_sig3(hi)}"
        if r["seed"] is None:
            parts.append(interval)
        else:
            mark = "holds" if r["holds"] else "fails"
            parts.append(f"seed {r['seed']}: {_sig3(r['value'])} ({interval}), {mark}")
    return html.escape("; ".join(parts))


def _validation_block(status: ValidationStatus) -> str:
    if not status.available:
        return ("<p><strong>Validation status unavailable</strong>: "
                f"{html.escape(status.reason)}. The model's patterns are checked in "
                "docs/validation.md; this report does not restate them.</p>")
    pats = status.patterns
    holds = sum(1 for p in pats if p["holds"])
    held_out = [p for p in pats if p["held_out"]]
    held_out_holds = sum(1 for p in held_out if p["holds"])
    rows = []
    for p in pats:
        rows.append([html.escape(p["id"]), html.escape(p["name"]),
                     '<span class="good">holds</span>' if p["holds"]
                     else '<span class="bad">does not hold</span>',
                     "yes" if p["held_out"] else "no (calibration target)",
                     _intervals_text(p["per_seed"]),
                     html.escape(p["criterion"])])
    seeds = ", ".join(html.escape(str(x)) for x in status.seeds) or "n/a"
    designs = (f", {status.designs_per_seed} sampled designs per seed"
               if status.designs_per_seed else "")
    every = " in every seed" if len(status.seeds) > 1 else ""
    return (
        f'<p id="validation-status"><strong>Validation</strong> (generated '
        f"{html.escape(status.generated)}, seeds {seeds}{designs}): "
        f"{number_span('validation.holds', holds, 'count')} of "
        f"{number_span('validation.patterns', len(pats), 'count')} patterns from the literature "
        f"hold{every}; of the {len(held_out)} held out from calibration, {held_out_holds} "
        "hold.</p>"
        + html_table(["#", "Pattern", "Result", "Held out", "Value and interval",
                      "Criterion"], rows, cls="validation")
    )


def limitations_section(scenario: Any, status: ValidationStatus) -> str:
    parts = [
        '<section class="limitations" id="limitations">',
        "<h2>Assumptions and limitations: read this first</h2>",
        "<p>The numbers below come from a simulation model, not from data about this "
        "partnership. They show what the model implies for this design under its assumptions, "
        "across many simulated futures.</p>",
        "<h3>What the model includes</h3><ul>"
        + "".join(f"<li>{html.escape(x)}</li>" for x in MODEL_INCLUDES) + "</ul>",
        "<h3>What it leaves out</h3><ul>"
        + "".join(f"<li>{html.escape(x)}</li>" for x in MODEL_OMITS) + "</ul>",
        "<h3>Validation status</h3>",
        _validation_block(status),
    ]
    v = getattr(scenario, "valuation", None)
    if v is not None:
        cur = str(v.currency)
        rows = []
        for name, label, kind in _VALUATION_ROWS:
            if not hasattr(v, name):
                continue
            value = getattr(v, name)
            shown = (fmt(value, kind, cur) if kind != "pct"
                     else f"{100 * value:g}%")
            rows.append([html.escape(label), f"<code>valuation.{name}</code>",
                         number_span(f"valuation.{name}", value, kind, cur)
                         if kind != "pct" else html.escape(shown),
                         html.escape(_field_source(v, name))])
        parts += ["<h3>Valuation in use (the analyst's judgments)</h3>",
                  html_table(["Adjustment", "Field", "Value", "Source"], rows, cls="valuation")]
    if scenario is not None and hasattr(scenario, "partners"):
        parts += ["<h3>Your own inputs (the design)</h3><ul>"
                  + "".join(f"<li>{x}</li>" for x in _design_inputs(scenario)) + "</ul>"]
    parts.append("</section>")
    return "\n".join(parts)


# ---- SROI: the two framings and the sensitivity table ------------------------------------------

_SENS_KIND = {"value_per_outcome_year": "money"}


def _sensitivity_html(num: dict[str, Any], key: str) -> str:
    rows = []
    cur = num["currency"]
    for r in num["sensitivity"].get(key, []):
        kind = _SENS_KIND.get(r["parameter"], "share")

        def show(x: Any, kind: str = kind) -> str:
            if x is None:
                return "n/a"
            return fmt(x, "money", cur) if kind == "money" else f"{x:.2f}"

        if r["break_even"] is None:
            be = html.escape(r["note"] or "n/a")
            change = "n/a"
        else:
            be = number_span(f"sensitivity.{key}.{r['parameter']}.break_even", r["break_even"],
                             "money" if kind == "money" else "level", cur)
            change = (f"{100 * r['change']:+.0f}%" if kind == "money"
                      else f"{r['change']:+.2f}")
        rows.append([
            html.escape(r["label"]),
            f"{show(r['base'])} (ratio {fmt(r['ratio_base'], 'ratio')})",
            f"{show(r['low'])}: {fmt(r['ratio_low'], 'ratio')}",
            f"{show(r['high'])}: {fmt(r['ratio_high'], 'ratio')}",
            be, change,
        ])
    if not rows:
        return '<p class="note">Sensitivity table not available for these results.</p>'
    return html_table(["Input", "In use (median ratio)", "Low value: median ratio",
                       "High value: median ratio", "Value at which the median ratio is 1",
                       "Change needed"], rows, cls=f"sensitivity sensitivity-{key}")


def _sroi_section(result: Any, num: dict[str, Any]) -> str:
    cur = num["currency"]
    n = num["n"]
    traj = trajectories_of(result)
    ranges = ", ".join(f"{k.replace('_', '-')} {lo:g} to {hi:g}"
                       for k, (lo, hi) in SENSITIVITY_RANGES.items())
    parts = ['<section id="sroi">', "<h2>Social return on investment, in two framings</h2>",
             "<p>Following the SROI guide (Nicholls, Lawlor, Neitzert &amp; Goodspeed, <em>A "
             "Guide to Social Return on Investment</em>, Cabinet Office 2009, revised 2012), a "
             "ratio is only meaningful with its question: return on <em>what</em>, against "
             "<em>what would have happened anyway</em>. This report gives two.</p>"]
    for framing in FRAMINGS:
        k = framing.key
        col = f"sroi_{k}"
        be = (break_even_by_replication(traj, col).to_numpy(dtype=float)
              if col in traj.columns else np.array([]))
        parts.append(
            f'<h3 id="sroi-{k}">{html.escape(framing.label)}</h3>'
            f"<p><em>Value</em>: {html.escape(framing.value_text)}. <em>Input</em>: "
            f"{html.escape(framing.input_text)}. Median ratio "
            f"{number_span(f'sroi_{k}_p50', num.get(f'sroi_{k}_p50'), 'ratio')} "
            f"({_spread(num, f'sroi_{k}', 'ratio', label='90% of futures: ')}). "
            "Break-even (the running ratio first reaches 1) in "
            f"{number_span(f'break_even_{k}_count', num.get(f'break_even_{k}_count'), 'count')} "
            f"of {n} futures; year: {subset_stat(be, n, f'break_even_{k}_year', 'year')}.</p>"
        )
    parts += [
        f"<p>The cost of collaborating totals a median "
        f"{number_span('collaboration_cost_p50', num.get('collaboration_cost_p50'), 'money', cur)}"
        " over the horizon (undiscounted); the ratios discount value and input at the "
        "valuation's discount rate. A high collaboration SROI with a modest initiative SROI "
        "means collaborating is worth its cost but the money as a whole moves the population "
        "little; the reverse means the money works but collaborating adds little to it.</p>",
        _figure(result, sroi_framings_figure, "SROI in two framings over time",
                "Running ratio of each framing (median, 50% and 90% bands) with the break-even "
                "line at 1."),
        _figure(result, milestones_figure, "Milestones by year",
                "Share of futures that have broken even (each framing), shown a significant "
                "change or met the target by each year: the spread of their timing."),
        '<h3 id="sensitivity">Sensitivity: how far must a judgment move to reach a ratio of 1?'
        "</h3>",
        "<p>The guide asks which estimates the result depends on. Each row recomputes the "
        "median ratio across futures with one input changed (the population outcomes do not "
        "change: these are the analyst's valuation judgments) and solves for the value of that "
        "input at which the median ratio equals 1. Low and high values are illustrative test "
        f"values (shares {ranges}; "
        "the proxy at half and one and a half times its value), not estimates. For the "
        "collaboration SROI the deadweight row adds a share on top of the simulated "
        "counterfactual (0 in use).</p>",
    ]
    for framing in FRAMINGS:
        parts += [f"<h3>{html.escape(framing.label)}</h3>", _sensitivity_html(num, framing.key)]
    parts.append("</section>")
    return "\n".join(parts)


# ---- risk ------------------------------------------------------------------------------------


def _risk_section(num: dict[str, Any]) -> str:
    risk = num.get("risk") or {}
    n = num["n"]
    cur = num["currency"]
    items = []
    if "stall_count" in risk:
        items.append(
            f"<li><strong>Stall</strong>: "
            f"{number_span('risk.stall_count', risk['stall_count'], 'count')} of {n} futures "
            f"({number_span('risk.stall_share', risk['stall_share'], 'pct')}) show no "
            f"sustained significant change (at least {_SIGNIFICANT_PP:g} point against the "
            "counterfactual, held for a year) within the horizon.</li>")
    if "fell_back_count" in risk:
        first = html.escape(risk["first_phase"])
        fell = risk["fell_back_count"]
        years = risk.get("fell_back_years") or []
        when = ""
        if fell:
            when = (" They fell back in year "
                    + subset_stat(years, n, "risk.fell_back_year", "year") + ".")
        items.append(
            f"<li><strong>Fall back</strong>: "
            f"{number_span('risk.fell_back_count', fell, 'count')} of {n} futures "
            f"({number_span('risk.fell_back_share', risk['fell_back_share'], 'pct')}) left "
            f"{first} but fell back to it and stayed there until the horizon.{when} "
            f"{number_span('risk.never_left_count', risk['never_left_count'], 'count')} of {n} "
            f"never left {first}.</li>")
    if "worst_effect" in risk:
        seed = risk.get("worst_seed")
        items.append(
            f"<li><strong>Worst case</strong>: the lowest population change against the "
            f"counterfactual at the horizon is "
            f"{number_span('risk.worst_effect', risk['worst_effect'], 'pp')} points, in "
            f"replication {number_span('risk.worst_replication', risk['worst_replication'], 'count')}"  # noqa: E501
            + (f" (seed {seed})" if seed is not None else "")
            + (f"; its change since the start is "
               f"{fmt(risk.get('worst_change_since_start'), 'pp')} points"
               if "worst_change_since_start" in risk else "") + ".</li>")
    warning = ""
    if not risk.get("stopped_checked", False):
        items.append(f"<li>Spending that stopped: not checked (the horizon is "
                     f"{STOPPED_SPENDING_YEARS:g} years or shorter).</li>")
    else:
        flags = risk.get("stopped_spending") or []
        if flags:
            lines = "".join(
                f"<li>replication {f['replication']}: {html.escape(f['framing'])} SROI "
                f"{fmt(f['sroi'], 'ratio')}, its money in the last {STOPPED_SPENDING_YEARS:g} "
                f"years {fmt(f['late_share'], 'pct')} of its yearly mean</li>" for f in flags)
            warning = (
                '<div class="warning" id="stopped-spending"><strong>Warning: a high SROI from '
                "spending that stopped.</strong> In these futures the SROI is among the top "
                f"tenth while the money spent in the last {STOPPED_SPENDING_YEARS:g} years "
                "(the initiative's income; for the collaboration SROI its backbone and "
                "measurement spending; partners' time not counted) fell below "
                f"{fmt(STOPPED_SPENDING_SHARE, 'pct')} of its yearly mean. The ratio is "
                "high because the money (or the collaboration) stopped while the change it "
                "bought lingers; it does not mean the design returns more for each unit spent, "
                "and the change may not last.<ul>" + lines + "</ul>"
                + "".join(f"<p>In all, {risk.get(f'stopped_{k}_count', 0)} of {n} futures' "
                          f"{k} money fell that low.</p>"
                          for k in ("initiative", "collaboration")
                          if any(f["framing"] == k for f in flags))
                + "</div>")
        else:
            items.append(
                f"<li>Spending that stopped: no future in the top tenth of either SROI spent "
                f"less than {fmt(STOPPED_SPENDING_SHARE, 'pct')} of its yearly mean money in "
                f"its last {STOPPED_SPENDING_YEARS:g} years"
                + "".join(f"; {risk[f'stopped_{k}_count']} of {n} futures' {k} money did"
                          for k in ("initiative", "collaboration")
                          if risk.get(f"stopped_{k}_count")) + ".</li>")
    money = (f" Median money and time invested: "
             f"{number_span('investment_p50', num.get('investment_p50'), 'money', cur)}.")
    return "\n".join([
        '<section id="risk">', "<h2>Risk</h2>",
        "<p>What can go wrong, counted across the simulated futures." + money + "</p>",
        "<ul>" + "".join(items) + "</ul>", warning, "</section>",
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
        "displacement and discounting) over the present value of the input, in two framings: "
        "the <em>initiative SROI</em> sets all change since the start against all initiative "
        "money and time; the <em>collaboration SROI</em> sets the change against working in "
        "isolation against the cost of collaborating. Break-even is the first year the "
        "running ratio reaches 1.</li>"
        f"<li>A statistic that only some futures have (a break-even year, a cost per outcome) "
        f"says from how many it is computed; with fewer than {MIN_FOR_INTERVAL} futures, or "
        "no spread, the values are listed instead of an interval.</li>"
        "<li>Cost per outcome is cumulative investment over the outcome-years gained against the "
        "counterfactual; futures with no gain have none.</li>"
        "<li>A target is met in a year when the indicator's annual average (the 52 weeks ending "
        "then) is at or above it; its standard error is binomial over futures.</li>"
        "</ul>"
    )


def report_html(result: Any, *, seed: int | None = None, source: str | None = None,
                validation: str | Path | None = None) -> str:
    """Render the strategist's report of an ensemble as one self-contained HTML document.

    Args:
        result: An ensemble result (a single run counts as one replication).
        seed: The ensemble's master seed, shown in the header.
        source: Where the scenario came from (a file name), shown in the header.
        validation: The validation results file (default :data:`VALIDATION_RESULTS`).

    Returns:
        The HTML document.

    """
    num = report_numbers(result)
    scenario = getattr(result, "scenario", None)
    summaries = summaries_of(result)
    cur = num["currency"]
    desc = strip_changes(str(getattr(scenario, "description", "") or ""))
    changes = "<br>".join(html.escape(c) for c in changes_of(scenario))
    meta = [f"{num['n']} replication(s)", f"horizon {fmt(num['horizon_years'], 'year')} years"]
    if seed is not None:
        meta.append(f"master seed {seed}")
    if source:
        meta.append(f"scenario {html.escape(source)}")
    meta.append(f"cisim {html.escape(version())}")
    body = [
        f"<h1>{html.escape(num['name'])}: what to expect from this partnership design</h1>",
        f'<p class="meta" id="provenance">{changes}</p>' if changes else "",
        f"<p>{html.escape(desc)}</p>" if desc else "",
        f'<p class="meta">{" · ".join(meta)}</p>',
        limitations_section(scenario, read_validation_results(validation)),
        f'<p class="lead" id="summary">{summary_paragraph(num)}</p>',
        '<section id="key-numbers"><h2>Key numbers</h2>',
        _key_numbers_table(num),
        "</section>",
        _uncertainty_section(result, num),
        _risk_section(num),
        _forecast_section(result, num),
        "<h2>Population change</h2>",
        _figure(result, population_change_figure, "Population change against the "
                "counterfactual", "Left: change since the start in both worlds (median, 50% "
                "band). Right: the difference, the partnership's effect (median, 50% and 90% "
                "bands)."),
        _figure(result, change_since_start_figure, "Population change since the start",
                "Change in the outcome rate since the start, with the partnership and in "
                "isolation (median, 50% and 90% bands)."),
        _sroi_section(result, num),
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
        f"<p>Cost per outcome-year gained: "
        f"{subset_stat(_values(summaries, 'cost_per_outcome_year'), num['n'], 'cost', 'money', cur)}"  # noqa: E501
        f"; {number_span('cost_none_count', num['cost_none_count'], 'count')} of {num['n']} "
        "futures gained no outcome-years. Median outcome-years gained: "
        f"{number_span('outcome_years_p50', num.get('outcome_years_p50'), 'ratio')}.</p>",
        _method_notes(num),
    ]
    if scenario is not None and hasattr(scenario, "to_toml"):
        body.append("<details><summary>The scenario simulated (TOML)</summary><pre>"
                    f"{html.escape(scenario.to_toml())}</pre></details>")
    return page(f"cisim report: {num['name']}", "\n".join(b for b in body if b), num)


def report_tables(result: Any, num: dict[str, Any] | None = None) -> dict[str, pd.DataFrame]:
    """The report's tables as data frames, to write as CSV next to the HTML.

    Args:
        result: An ensemble result (a single run counts as one replication).
        num: Its :func:`report_numbers` (computed when not given).

    Returns:
        Name (file stem) to table: ``key_numbers``, ``sroi_framings``, ``sroi_sensitivity``,
        ``risk``, ``stopped_spending``, ``forecast``, ``phases``, ``partners`` (when the
        result has partner values) and ``futures`` (one row per future).
    """
    num = report_numbers(result) if num is None else num
    traj = trajectories_of(result)
    summaries = summaries_of(result)
    n = num["n"]
    tables: dict[str, pd.DataFrame] = {}

    def stat(prefix: str) -> dict[str, Any]:
        values = num.get(f"{prefix}_values")
        return {"median": num.get(f"{prefix}_p50"),
                "p5": None if values is not None else num.get(f"{prefix}_p5"),
                "p95": None if values is not None else num.get(f"{prefix}_p95"),
                "values_when_no_interval": (";".join(f"{v:g}" for v in values)
                                            if values is not None else ""),
                "futures_counted": num.get(f"{prefix}_count"), "futures": n}

    tables["key_numbers"] = pd.DataFrame(
        [{"outcome": label, "key": key, **stat(key)} for label, key, _ in KEY_NUMBERS
         if f"{key}_p50" in num])
    tables["sroi_framings"] = pd.DataFrame([
        {"framing": f.key, "label": f.label, "value": f.value_text, "input": f.input_text,
         **stat(f"sroi_{f.key}"),
         "break_even_futures": num.get(f"break_even_{f.key}_count"),
         "break_even_year_median": num.get(f"break_even_{f.key}_p50")}
        for f in FRAMINGS])
    tables["sroi_sensitivity"] = pd.DataFrame(
        [{"framing": k, **row} for k, rows in num.get("sensitivity", {}).items() for row in rows])
    risk = num.get("risk", {})
    tables["risk"] = pd.DataFrame([
        {"measure": k, "value": v} for k, v in risk.items()
        if not isinstance(v, list | dict)])
    tables["stopped_spending"] = pd.DataFrame(
        risk.get("stopped_spending") or [],
        columns=["framing", "replication", "sroi", "late_share"])
    spec = target_of(getattr(result, "scenario", None))
    tables["forecast"] = (forecast_table(traj, "population_change", "population_change_cf")
                          if spec is not None and spec.unit == "pp" else forecast_table(traj))
    tables["phases"] = pd.DataFrame(
        [{k: v for k, v in p.items() if k != "year_values"} for p in num["phases"]])
    with contextlib.suppress(KeyError):  # no partner values in the result
        tables["partners"] = partner_value_table(result)
    tables["futures"] = summaries
    return tables


def tables_dir(path: str | Path) -> Path:
    """The directory the report's CSV tables go to: ``<stem>_tables`` next to the HTML."""
    path = Path(path)
    return path.with_name(f"{path.stem}_tables")


def write_report(result: Any, path: str | Path, *, seed: int | None = None,
                 source: str | None = None, tables: bool = True) -> Path:
    """Render the report of an ensemble and write it atomically to ``path``.

    With ``tables``, also write the report's tables as CSV files into :func:`tables_dir`
    (``report.html`` -> ``report_tables/key_numbers.csv``, ...).

    Returns:
        The path written.

    """
    path = Path(path)
    write_text_atomic(path, report_html(result, seed=seed, source=source))
    if tables:
        out = tables_dir(path)
        out.mkdir(parents=True, exist_ok=True)
        for name, table in report_tables(result).items():
            write_text_atomic(out / f"{name}.csv", table.to_csv(index=False))
    return path
