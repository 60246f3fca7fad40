"""The sensitivity study's document and figures, generated from its stored tables.

Everything here reads what :mod:`.study` wrote under the output directory (the analyses' CSV
files, the population check, the timings) and turns it into ``sensitivity.md`` and a few PNG
figures. The findings are sentences computed from those numbers (e.g. which parameters' ST
intervals separate them from the rest), never typed in; a part of the study that was not run
says so. Reading the indices: Saltelli et al. 2008 (Global Sensitivity Analysis: The Primer);
PAWN: Pianosi & Wagener 2015; Morris mu*: Campolongo, Cariboni & Saltelli 2007; PRIM: Friedman &
Fisher 1999.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cisim.io import write_atomic, write_text_atomic
from cisim.priors import POSTERIOR_PROVENANCE
from cisim.simulate import SIGNIFICANT_CHANGE_PP

from .study import (
    OUTCOMES,
    Outcome,
    Paths,
    StudyConfig,
    compare_sizes,
    levers_medians,
    morris_floors,
    outcome_columns,
    planned_runs,
    sweep_population,
)

__all__ = ["Report", "build_report", "separated_leaders", "write_report"]

#: Sections of the document, in order (the tests check that each is present).
SECTIONS = (
    "Summary",
    "How the study was run",
    "Population size",
    "Cost",
    "Design levers",
    "Assumed constants",
    "Limitations",
)

#: What a part of the study that has not been run says.
NOT_RUN = ("_Not run yet in the output directory this document was written from (see \"How the "
           "study was run\")._")
#: ST below this, with an interval reaching zero, reads as "no measurable influence".
NEGLIGIBLE_ST = 0.01
#: Seed noise left in the analysed means above this share inflates ST (docs/sweeps.md).
NOISE_WARNING = 0.1


@dataclass
class Report:
    """The document's text and its figures (drawn on :func:`write_report`)."""

    text: str
    figures: dict[str, Callable[[Path], None]] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------------


def _f(v: Any, digits: int = 3) -> str:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return str(v)
    if not math.isfinite(x):
        return "n/a"
    if x == 0:
        return "0"
    return f"{x:.{digits}g}"


def _ci(value: Any, lower: Any, upper: Any) -> str:
    if not math.isfinite(float(lower)) or not math.isfinite(float(upper)):
        return _f(value)
    return f"{_f(value)} [{_f(lower)}, {_f(upper)}]"


def _table(header: list[str], rows: list[list[str]]) -> str:
    if not rows:
        return "_(no rows)_\n"
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def _list(items: list[str]) -> str:
    if not items:
        return "none"
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def _num(x: float) -> str:
    return f"{x:,.0f}" if math.isfinite(x) and abs(x) >= 1000 else _f(x)


def _qp(x: float) -> str:
    return _f(x) if math.isfinite(x) and x >= 0 else "n/a"  # EMA Workbench writes -1


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _code(names: list[str]) -> list[str]:
    return [f"`{n}`" for n in names]


# --------------------------------------------------------------------------------------------
# Findings (pure functions of index tables)
# --------------------------------------------------------------------------------------------


def separated_leaders(frame: pd.DataFrame) -> list[int]:
    """Sizes k of leading groups whose intervals do not overlap the others'.

    Args:
        frame: One index per parameter: value, lower, upper.

    Returns:
        Every k (1 <= k < number of parameters) such that, with parameters sorted by value,
        the smallest lower bound of the first k is above the largest upper bound of the rest.
    """
    f = frame.sort_values("value", ascending=False).reset_index(drop=True)
    out = []
    for k in range(1, len(f)):
        if f["lower"].iloc[:k].min() > f["upper"].iloc[k:].max():
            out.append(k)
    return out


def _index(idx: pd.DataFrame, outcome: str, kind: str) -> pd.DataFrame:
    f = idx[(idx["outcome"] == outcome) & (idx["index"] == kind)]
    return f.sort_values("value", ascending=False).reset_index(drop=True)


def _sobol_findings(idx: pd.DataFrame, outcome: Outcome, col: str, noise: pd.DataFrame,
                    verdict: pd.DataFrame | None, what: str) -> list[str]:
    st = _index(idx, col, "ST")
    s1 = _index(idx, col, "S1")
    if st.empty:
        return [f"No Sobol indices for {outcome.label}: see the run counts."]
    lines = []
    top = st.iloc[0]
    lines.append(f"The largest total effect on {outcome.label} is `{top['parameter']}` "
                 f"(ST {_ci(top['value'], top['lower'], top['upper'])}).")
    groups = separated_leaders(st)
    if groups:
        k = groups[0]
        names = _code(list(st["parameter"].iloc[:k]))
        lines.append(f"The ST interval{'s' if k > 1 else ''} of {_list(names)} "
                     f"{'do' if k > 1 else 'does'} not overlap those of the other {what}: "
                     f"{'they drive' if k > 1 else 'it drives'} {outcome.label} more than any "
                     "other, beyond the estimates' uncertainty.")
        if len(groups) > 1:
            lines.append(f"Further clear breaks in the ST ranking come after the first "
                         f"{_list([str(g) for g in groups[1:]])} {what}.")
    else:
        lines.append(f"No group of {what} is separated from the rest by non-overlapping ST "
                     "intervals: the ranking's order is uncertain.")
    small = st[(st["value"] < NEGLIGIBLE_ST) & (st["lower"] <= 0)]
    if len(small):
        lines.append(f"{_list(_code(list(small['parameter'])))} "
                     f"{'have' if len(small) > 1 else 'has'} no measurable influence on "
                     f"{outcome.label} (ST below {NEGLIGIBLE_ST:g} with an interval reaching "
                     "zero).")
    if not s1.empty:
        total = float(s1["value"].clip(lower=0).sum())
        if total <= 1:
            lines.append(f"First-order effects add up to {_f(total, 2)} of the variance of "
                         f"{outcome.label}; the rest ({_f(1 - total, 2)}) is interactions "
                         "between them (and the seed noise left in the means).")
        else:
            lines.append(f"First-order effects add up to {_f(total, 2)}, more than the whole "
                         "variance: estimation error dominates the S1 values.")
    nz = noise[noise["outcome"] == col]
    if len(nz) and math.isfinite(float(nz["noise_share_of_means"].iloc[0])):
        share = float(nz["noise_share_of_means"].iloc[0])
        if share > NOISE_WARNING:
            lines.append(f"Seed noise is {_f(share, 2)} of the variance of the analysed means "
                         f"(above {NOISE_WARNING:g}): the ST values are inflated by it and more "
                         "replications are needed.")
        else:
            lines.append(f"Seed noise left in the analysed means is {_f(share, 2)} of their "
                         "variance.")
    elif len(nz) and int(nz["replications"].iloc[0]) < 2:
        st_sum = float(st["value"].clip(lower=0).sum())
        lines.append(f"With one replication a design point, seed noise cannot be told apart "
                     f"from the levers' effects: it stays in the indices and inflates every ST "
                     f"(the STs add up to {_f(st_sum, 2)}; without noise and interactions they "
                     "would add up to 1). Read the ranking as indicative; more replications "
                     "would separate the noise.")
    if verdict is not None and len(verdict):
        v = verdict[verdict["outcome"] == col]
        ok = v["verdict"] == "converged"
        if len(v) and ok.all():
            lines.append("Every ST has converged (it moves less than its interval's half-width "
                         f"between N/2 and N; the median half-width is "
                         f"{_f(float(v['conf'].median()), 2)}).")
        elif len(v) and (v["verdict"] == "not assessable").all():
            lines.append("Convergence could not be assessed (no N/2 design).")
        elif len(v):
            moving = list(v.loc[~ok, "parameter"])
            lines.append(f"ST has not converged for {_list(_code(moving))}: a larger N is "
                         "needed before reading their rank.")
    return lines


def _pawn_findings(idx: pd.DataFrame, outcome: Outcome, col: str, floor: float,
                   what: str) -> list[str]:
    pawn = _index(idx, col, "PAWN")
    if pawn.empty:
        return [f"No PAWN indices for {outcome.label} (see the run counts)."]
    top = pawn.iloc[0]
    lines = [f"By PAWN, {outcome.label} depends most on `{top['parameter']}` "
             f"({_ci(top['value'], top['lower'], top['upper'])})."]
    if math.isfinite(floor):
        above = pawn[pawn["lower"] > floor]
        lines.append(f"{len(above)} of {len(pawn)} {what} have a PAWN interval above the index "
                     f"a parameter without effect scores here ({_f(floor)})"
                     + (f": {_list(_code(list(above['parameter'])))}." if len(above) else "."))
    return lines


# --------------------------------------------------------------------------------------------
# Reading the stored study
# --------------------------------------------------------------------------------------------


@dataclass
class Stored:
    """One analysed store's tables (empty frames when a file is missing)."""

    name: str
    present: bool
    meta: dict[str, Any] = field(default_factory=dict)
    indices: pd.DataFrame = field(default_factory=pd.DataFrame)
    over_time: pd.DataFrame = field(default_factory=pd.DataFrame)
    runs: pd.DataFrame = field(default_factory=pd.DataFrame)
    noise: pd.DataFrame = field(default_factory=pd.DataFrame)
    verdict: pd.DataFrame | None = None
    convergence: pd.DataFrame | None = None
    floors: dict[str, float] = field(default_factory=dict)
    prim_box: pd.DataFrame = field(default_factory=pd.DataFrame)
    points: pd.DataFrame = field(default_factory=pd.DataFrame)
    discovery_rule: str = ""
    ranking: pd.DataFrame | None = None


def _csv(path: Path) -> pd.DataFrame:
    if not path.exists() or path.stat().st_size == 0:
        return pd.DataFrame()
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def read_store(paths: Paths, name: str) -> Stored:
    """The analysis tables of one store (``present = False`` when it was not analysed)."""
    adir = paths.analysis(name)
    if not (adir / "spec.json").exists():
        return Stored(name, False)
    s = Stored(name, True, meta=json.loads((adir / "spec.json").read_text()))
    s.indices = _csv(adir / "indices.csv")
    s.over_time = _csv(adir / "indices_over_time.csv")
    s.runs = _csv(adir / "runs.csv")
    s.noise = _csv(adir / "noise.csv")
    if (adir / "convergence_verdict.csv").exists():
        s.verdict = _csv(adir / "convergence_verdict.csv")
        s.convergence = _csv(adir / "convergence.csv")
    fl = _csv(adir / "pawn_floor.csv")
    s.floors = dict(zip(fl.get("outcome", []), fl.get("pawn_floor", []), strict=True))
    s.prim_box = _csv(adir / "prim_box.csv")
    s.points = _csv(adir / "discovery_points.csv")
    if (adir / "discovery.txt").exists():
        s.discovery_rule = (adir / "discovery.txt").read_text().split("\n")[0].strip()
    if (adir / "ranking.csv").exists():
        s.ranking = _csv(adir / "ranking.csv")
    return s


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------


def _population_section(paths: Paths, config: StudyConfig
                        ) -> tuple[list[str], dict[str, Any] | None]:
    lines = ["## Population size", ""]
    if not paths.popcheck.exists():
        return [*lines, NOT_RUN, ""], None
    check = pd.read_csv(paths.popcheck)
    cmp_end = compare_sizes(check, "population_change")
    cmp_mid = compare_sizes(check, "population_change_mid")
    sweep = sweep_population(config)
    lines += [
        f"Could the sweeps run a reduced population ({cmp_end['small']:,} youth instead of "
        f"{cmp_end['full']:,}) to save time? The check: the default design run with the same "
        f"{cmp_end['runs']} seeds at both sizes; population change against the counterfactual "
        "(percentage points) at the horizon and at its middle. The difference of the medians "
        "is within seed noise when its bootstrap 95% interval (2,000 resamples of the runs at "
        "each size) contains zero.", "",
        _table(["outcome", f"median at {cmp_end['small']:,}", f"median at {cmp_end['full']:,}",
                "sd (small / full)", "difference [95% interval]", "within seed noise"],
               [[lab, _f(c["median_small"]), _f(c["median_full"]),
                 f"{_f(c['sd_small'])} / {_f(c['sd_full'])}",
                 _ci(c["difference"], c["lower"], c["upper"]),
                 "yes" if c["within_noise"] else "**no**"]
                for lab, c in (("at the horizon", cmp_end), ("at mid-horizon", cmp_mid))]),
    ]
    ok = cmp_end["within_noise"] and cmp_mid["within_noise"]
    if ok:
        lines.append(f"Reducing the population to {cmp_end['small']:,} does not move the "
                     "median population change by more than seed noise.")
    else:
        moved = [lab for lab, c in (("at the horizon", cmp_end), ("at mid-horizon", cmp_mid))
                 if not c["within_noise"]]
        lines.append(f"**Reducing the population to {cmp_end['small']:,} moves the median "
                     f"population change by more than seed noise** ({_list(moved)}).")
    if sweep == cmp_end["small"]:
        lines.append(f"The sweeps run at {sweep:,} youth"
                     + ("." if ok else ": their levels are biased, read the indices with that "
                        "in mind."))
    else:
        lines.append(f"The sweeps run at {sweep:,} youth.")
    # the summary's verdict is the section's: within seed noise at the horizon and mid-horizon
    return [*lines, ""], {**cmp_end, "within_noise": ok}


def _cost_section(paths: Paths, config: StudyConfig) -> list[str]:
    lines = ["## Cost", ""]
    if not paths.cost.exists():
        return [*lines, NOT_RUN, ""]
    cost = json.loads(paths.cost.read_text())
    planned = planned_runs(config)
    done = json.loads(paths.timings.read_text()) if paths.timings.exists() else {}
    seconds = {int(k): float(v) for k, v in cost["seconds"].items()}
    size = int(cost["sweep_size"])
    sec = seconds[size]
    rows = []
    for name, runs in planned.items():
        rows.append([f"`{name}`", f"{runs:,}", _f(runs * sec / 3600, 2),
                     _f(done[name] / 3600, 2) if name in done else "not run"])
    total = sum(planned.values())
    rows.append(["**all**", f"**{total:,}**", f"**{_f(total * sec / 3600, 2)}**",
                 _f(sum(done.values()) / 3600, 2) if done else "not run"])
    lines += [
        f"One run of the default design ({_f(cost['horizon_years'])} years, no Mesa agents) "
        f"took, as the median of {cost['timed_runs']} timed runs after a warm-up on the machine "
        "that wrote this document:", "",
        _table(["population", "CPU seconds per run", "wall-clock seconds per run"],
               [[f"{k:,}" + (" (the sweeps')" if k == size else ""), _f(v, 2),
                 _f(cost.get("wall_seconds", {}).get(str(k), float("nan")), 2)]
                for k, v in sorted(seconds.items())]),
        "The estimate multiplies the sweeps' CPU time per run by their runs; the sweeps spread "
        "them over the workers (`--jobs`), so the wall-clock time is about the CPU time "
        "divided by them. The assumptions' Sobol step is counted with its planned size.", "",
        _table(["sweep", "runs", "estimated CPU hours", "wall-clock hours taken"], rows),
    ]
    return lines


def _outcome_cols(config: StudyConfig) -> dict[str, str]:
    return outcome_columns(config)


def _sobol_tables(s: Stored, config: StudyConfig, what: str,
                  fig: dict[str, Callable[[Path], None]], prefix: str, fig_link: str
                  ) -> list[str]:
    cols = _outcome_cols(config)
    lines: list[str] = []
    idx = s.indices
    for o in OUTCOMES:
        col = cols[o.key]
        if idx.empty or col not in set(idx["outcome"]):
            note = _note(s.runs, col)
            lines += [f"#### {_cap(o.label)} (`{col}`)", "",
                      f"_No indices{': ' + note if note else ''}._", ""]
            continue
        lines += [f"#### {_cap(o.label)} (`{col}`, {o.unit})", ""]
        st = _index(idx, col, "ST").set_index("parameter")
        s1 = _index(idx, col, "S1").set_index("parameter")
        pawn = _index(idx, col, "PAWN").set_index("parameter")
        order = list(st.index) if o.kind == "continuous" else list(pawn.index)
        rows = []
        for i, p in enumerate(order, 1):
            rows.append([str(i), f"`{p}`",
                         _ci(*_vals(s1, p)), _ci(*_vals(st, p)), _ci(*_vals(pawn, p))])
        if o.kind == "continuous":
            lines += _sobol_findings(idx, o, col, s.noise, s.verdict, what)
            lines.append("")
        else:
            kind = ("mostly the censoring value: most design points never reach significant "
                    "change" if o.kind == "censored" else "a 0/1 share over replications")
            lines += [f"This outcome is zero-inflated ({kind}), so variance-based indices "
                      "can mislead; the ranking is by PAWN (Pianosi & Wagener 2015).", ""]
            lines += _pawn_findings(idx, o, col, s.floors.get(col, float("nan")), what)
            lines.append("")
        lines += [_table(["rank", "parameter", "S1 [95%]", "ST [95%]", "PAWN [95%]"], rows)]
    return lines


def _vals(frame: pd.DataFrame, p: str) -> tuple[float, float, float]:
    if p not in frame.index:
        return (float("nan"),) * 3
    r = frame.loc[p]
    return float(r["value"]), float(r["lower"]), float(r["upper"])


def _note(runs: pd.DataFrame, col: str) -> str:
    if runs.empty:
        return ""
    r = runs[(runs["outcome"] == col) & runs["time"].isna()]
    return str(r["note"].iloc[0]) if len(r) and isinstance(r["note"].iloc[0], str) else ""


def _noise_table(s: Stored, config: StudyConfig) -> list[str]:
    cols = set(_outcome_cols(config).values())
    nz = s.noise[s.noise["outcome"].isin(cols)] if not s.noise.empty else s.noise
    nz = nz.drop_duplicates("outcome") if not nz.empty else nz
    rows = [[f"`{r.outcome}`", str(r.replications), _f(r.noise_share, 2),
             _f(r.noise_share_of_means, 2)] for r in nz.itertuples()]
    return ["Seed noise (each design point's replications differ only in their seed):", "",
            _table(["outcome", "replications", "share of single runs' variance",
                    "share left in the analysed means"], rows)]


def _convergence_table(s: Stored) -> list[str]:
    if s.verdict is None or s.verdict.empty:
        return ["_No convergence check (not a Sobol design, or too few points)._", ""]
    v = s.verdict
    rows = [[f"`{r.outcome}`", f"`{r.parameter}`", _f(r.st_half), _f(r.st), _f(r.change),
             _f(r.conf), r.verdict] for r in v.itertuples()]
    per = v.groupby("outcome", sort=False)["verdict"].apply(
        lambda x: "converged" if (x == "converged").all() else
        ("not assessable" if (x == "not assessable").all() else
         f"not converged ({int((x != 'converged').sum())} of {len(x)} parameters)"))
    summary = [[f"`{o}`", str(int(s.verdict.loc[s.verdict['outcome'] == o, 'n'].max()))
                if s.verdict.loc[s.verdict['outcome'] == o, 'n'].notna().any() else "n/a", text]
               for o, text in per.items()]
    return [
        "Convergence: ST on the leading N/4, N/2 and N base samples of the Saltelli design "
        "(`convergence.csv`); an ST has *converged* when it moves less than its interval's "
        "half-width at N between N/2 and N.", "",
        _table(["outcome", "N", "verdict"], summary),
        "<details><summary>Per parameter</summary>", "",
        _table(["outcome", "parameter", "ST at N/2", "ST at N", "change", "half-width at N",
                "verdict"], rows),
        "</details>", "",
    ]


def _prim_section(s: Stored) -> list[str]:
    lines = [f"Scenario discovery (PRIM, Friedman & Fisher 1999, through EMA Workbench): a "
             f"design point is of interest when `{s.discovery_rule or 'not run'}`.", ""]
    pts = s.points
    if pts.empty or "of_interest" not in pts.columns:
        return lines
    n_int = int(pts["of_interest"].sum())
    lines.append(f"{n_int} of {len(pts)} design points ({_f(n_int / max(1, len(pts)), 2)}) "
                 "are of interest.")
    box = s.prim_box
    if box.empty:
        return [*lines, "", "No PRIM box: there is no region to describe.", ""]
    restricted = box[box["restricted"].astype(str).str.lower() == "true"]
    inside = np.ones(len(pts), dtype=bool)
    rows = []
    for r in restricted.itertuples():
        if isinstance(r.values, str) and r.values:
            kept = set(r.values.split(" "))
            inside &= pts[r.parameter].astype(str).isin(kept).to_numpy()
            rows.append([f"`{r.parameter}`", "in {" + ", ".join(sorted(kept)) + "}", "", ""])
        else:
            x = pts[r.parameter].to_numpy(float)
            inside &= (x >= r.lower - 1e-12) & (x <= r.upper + 1e-12)
            rows.append([f"`{r.parameter}`", f"{_num(r.lower)} to {_num(r.upper)}",
                         f"{_num(r.full_lower)} to {_num(r.full_upper)}",
                         f"{_qp(r.qp_lower)} / {_qp(r.qp_upper)}"])
    y = pts["of_interest"].astype(bool).to_numpy()
    coverage = (y & inside).sum() / max(1, y.sum())
    density = (y & inside).sum() / max(1, inside.sum())
    lines += ["", f"The PRIM box holds {int(inside.sum())} design points: it covers "
              f"{_f(coverage, 2)} of the points of interest (coverage) and {_f(density, 2)} of "
              "its points are of interest (density)."]
    if len(restricted):
        lines += ["Its restrictions (quasi-p: how likely a restriction this strong is by chance; "
                  "n/a where that side is not restricted):", "",
                  _table(["parameter", "box", "sampled range", "quasi-p (lower / upper)"], rows)]
    else:
        lines.append("The box restricts no parameter.")
    return [*lines, ""]


def _levers_section(paths: Paths, config: StudyConfig, fig: dict[str, Callable[[Path], None]],
                    fig_link: str) -> tuple[list[str], list[str]]:
    s = read_store(paths, "levers")
    lines = ["## Design levers", ""]
    if not s.present:
        return [*lines, NOT_RUN, ""], []
    m = s.meta
    lines += [f"Sobol (Saltelli) design, N = {m['n']}, {len(m['parameters'])} levers, "
              f"{m['replications']} replications: {m['runs']:,} runs. Indices on each design "
              f"point's mean over its replications, {config.num_resamples} bootstrap "
              "resamples for the 95% intervals.", ""]
    summary = _summary_lines(s, config, "levers")
    lines += ["### Findings", ""] + [f"- {x}" for x in summary] + [""]
    lines += ["### Indices per outcome", ""]
    lines += _sobol_tables(s, config, "levers", fig, "levers", fig_link)
    lines += ["### Seed noise and convergence", "", *_noise_table(s, config)]
    lines += _convergence_table(s)
    lines += ["### Where is significant change reached?", "", *_prim_section(s)]
    _figures_sobol(s, config, fig, "levers")
    lines += [f"![Levers: ST and S1]({fig_link}/levers_sobol.png)", "",
              f"![Levers: PAWN]({fig_link}/levers_pawn.png)", ""]
    if not s.over_time.empty:
        lines += [f"![Levers: ST of population change over time]({fig_link}/"
                  "levers_over_time.png)", ""]
    return lines, summary


def _summary_lines(s: Stored, config: StudyConfig, what: str) -> list[str]:
    cols = _outcome_cols(config)
    out = []
    for o in OUTCOMES:
        col = cols[o.key]
        if s.indices.empty or col not in set(s.indices["outcome"]):
            continue
        if o.kind == "continuous":
            out += _sobol_findings(s.indices, o, col, s.noise, s.verdict, what)[:2]
        else:
            out += _pawn_findings(s.indices, o, col, s.floors.get(col, float("nan")), what)
    return out


def _assumptions_section(paths: Paths, config: StudyConfig,
                         fig: dict[str, Callable[[Path], None]], fig_link: str
                         ) -> tuple[list[str], list[str]]:
    mor = read_store(paths, "assumptions_morris")
    sob = read_store(paths, "assumptions_sobol")
    lines = ["## Assumed constants", ""]
    if not mor.present:
        return [*lines, NOT_RUN, ""], []
    m = mor.meta
    cols = _outcome_cols(config)
    floors = morris_floors(mor.noise, m["replications"], m["num_levels"]) if len(
        mor.noise) else {}
    ranking = mor.ranking if mor.ranking is not None else pd.DataFrame()
    lines += ["### Step 1: Morris screening", "",
              f"Morris design, {m['n']} trajectories on a {m['num_levels']}-level grid, "
              f"{len(m['parameters'])} parameters ("
              + ("the first of the sampled priors of `cisim/data/priors.toml`: a reduced run"
                 if config.morris_parameters is not None else
                 "every sampled prior of `cisim/data/priors.toml`") + "), "
              f"{m['replications']} replications: {m['runs']:,} runs. mu* is the mean absolute "
              "elementary effect on the outcome's scale per the whole prior range; the noise "
              "floor is the mu* seed noise alone gives (from the within-point variance), a "
              "parameter is *above noise* when the lower end of its mu* interval exceeds it on "
              "at least one outcome. The "
              "score is a parameter's largest mu* as a share of the largest mu* of the same "
              "outcome.", ""]
    summary: list[str] = []
    if not ranking.empty:
        n_above = int(ranking["above_noise"].astype(bool).sum())
        top = list(ranking["parameter"].head(5))
        summary.append(f"Of {len(ranking)} screened assumptions, {n_above} have an effect "
                       f"above seed noise on at least one outcome; the largest screening "
                       f"effects are those of {_list(_code(top))}.")
        idx = mor.indices
        summary += _dummy_findings(idx, m.get("dummy"), cols[OUTCOMES[0].key],
                                   OUTCOMES[0].label)
        head = [cols[o.key] for o in OUTCOMES if cols[o.key] in set(idx["outcome"])]
        mu = idx[idx["index"] == "mu_star"]
        rows = []
        for r in ranking.itertuples():
            row = [str(r.rank), f"`{r.parameter}`", _f(r.score, 2),
                   "yes" if bool(r.above_noise) else "no"]
            for c in head:
                q = mu[(mu["outcome"] == c) & (mu["parameter"] == r.parameter)]
                row.append(_ci(q["value"].iloc[0], q["lower"].iloc[0], q["upper"].iloc[0])
                           if len(q) else "n/a")
            rows.append(row)
        lines += _table(["rank", "parameter", "score", "above noise",
                         *[f"mu* `{c}`" for c in head]], rows).splitlines()
        lines += ["", _table(["outcome", "noise floor of mu*"],
                             [[f"`{c}`", _f(floors.get(c, float("nan")))] for c in head]), ""]
        _figure_morris(mor, config, fig, floors)
        lines += [f"![Assumptions: Morris screening]({fig_link}/assumptions_morris.png)", ""]
    lines += ["### Step 2: Sobol study of the leading assumptions", ""]
    if not sob.present:
        return [*lines, NOT_RUN, ""], summary
    sm = sob.meta
    lines += [f"The {len(sm['parameters'])} leading assumptions of the screening above noise "
              f"({_list(_code(sm['parameters']))}), the others at their defaults; Sobol "
              f"(Saltelli) design, N = {sm['n']}, {sm['replications']} replications: "
              f"{sm['runs']:,} runs.", ""]
    s_summary = _summary_lines(sob, config, "assumptions")
    summary += s_summary
    lines += ["#### Findings", ""] + [f"- {x}" for x in s_summary] + [""]
    lines += _sobol_tables(sob, config, "assumptions", fig, "assumptions", fig_link)
    lines += ["#### Seed noise and convergence", "", *_noise_table(sob, config)]
    lines += _convergence_table(sob)
    lines += ["#### Where is significant change reached?", "", *_prim_section(sob)]
    _figures_sobol(sob, config, fig, "assumptions")
    lines += [f"![Assumptions: ST and S1]({fig_link}/assumptions_sobol.png)", ""]
    return lines, summary


def _dummy_findings(idx: pd.DataFrame, dummy: str | None, col: str, label: str
                    ) -> list[str]:
    """How many parameters stand clear of the screening's dummy (a parameter without effect)."""
    mu = idx[(idx["index"] == "mu_star") & (idx["outcome"] == col)]
    if not dummy or dummy not in set(mu["parameter"]):
        return []
    d = mu[mu["parameter"] == dummy].iloc[0]
    clear = mu[(mu["parameter"] != dummy) & (mu["lower"] > d["upper"])]
    return [f"`{dummy}` has no effect on the default design (it generates no champions), so "
            f"its mu* on {label} ({_ci(d['value'], d['lower'], d['upper'])}) is what seed "
            f"noise alone scores; {len(clear)} of {len(mu) - 1} assumptions have a mu* "
            "interval entirely above it"
            + (f": {_list(_code(list(clear.sort_values('value', ascending=False)['parameter'])))}."
               if len(clear) else ".")]


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


def _save(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    write_atomic(path, lambda p: fig.savefig(p, dpi=80, bbox_inches="tight", format="png"))
    plt.close(fig)


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _figures_sobol(s: Stored, config: StudyConfig, fig: dict[str, Callable[[Path], None]],
                   prefix: str) -> None:
    cols = _outcome_cols(config)
    cont = [o for o in OUTCOMES if o.kind == "continuous" and not s.indices.empty
            and cols[o.key] in set(s.indices["outcome"])]
    zero = [o for o in OUTCOMES if o.kind != "continuous" and not s.indices.empty
            and cols[o.key] in set(s.indices["outcome"])]
    idx = s.indices

    def bars(path: Path) -> None:
        plt = _plt()
        n = max(1, len(cont))
        f, axes = plt.subplots(1, n, figsize=(3.2 * n, 0.3 * len(s.meta["parameters"]) + 1.4),
                               sharey=True, squeeze=False)
        params = s.meta["parameters"]
        if cont:
            order = list(_index(idx, cols[cont[0].key], "ST")["parameter"])[::-1]
            params = order + [p for p in params if p not in order]
        y = np.arange(len(params))
        for ax, o in zip(axes[0], cont, strict=False):
            for k, (kind, dy) in enumerate((("ST", 0.18), ("S1", -0.18))):
                t = _index(idx, cols[o.key], kind).set_index("parameter").reindex(params)
                err = t["conf"].fillna(0).to_numpy()
                ax.barh(y + dy, t["value"], 0.36, xerr=err, capsize=2, label=kind,
                        color=("tab:blue", "tab:orange")[k])
            ax.set_xlim(-0.1, 1.1)
            ax.set_title(o.label, fontsize=8)
            ax.axvline(0, color="k", lw=0.5)
        axes[0][0].set_yticks(y, params, fontsize=7)
        axes[0][0].legend(fontsize=7)
        f.suptitle(f"{prefix}: Sobol indices with 95% intervals", fontsize=9)
        _save(f, path)

    def pawn(path: Path) -> None:
        plt = _plt()
        n = max(1, len(zero))
        f, axes = plt.subplots(1, n, figsize=(3.4 * n, 0.3 * len(s.meta["parameters"]) + 1.4),
                               squeeze=False)
        for ax, o in zip(axes[0], zero, strict=False):
            t = _index(idx, cols[o.key], "PAWN")[::-1]
            y = np.arange(len(t))
            ax.barh(y, t["value"], xerr=t["conf"].fillna(0), capsize=2, color="tab:green")
            floor = s.floors.get(cols[o.key], float("nan"))
            if math.isfinite(floor):
                ax.axvline(floor, color="red", ls="--", lw=1, label="no-effect level")
                ax.legend(fontsize=7)
            ax.set_yticks(y, t["parameter"], fontsize=7)
            ax.set_title(o.label, fontsize=8)
        f.suptitle(f"{prefix}: PAWN with 95% intervals", fontsize=9)
        _save(f, path)

    def over_time(path: Path) -> None:
        plt = _plt()
        ot = s.over_time[s.over_time["index"] == "ST"]
        f, ax = plt.subplots(figsize=(5.5, 3.2))
        last = ot[ot["time"] == ot["time"].max()].sort_values("value", ascending=False)
        for p in list(last["parameter"].head(5)):
            g = ot[ot["parameter"] == p].sort_values("time")
            line = ax.plot(g["time"], g["value"], marker="o", ms=3, label=p)[0]
            ax.fill_between(g["time"], g["lower"].clip(-0.1, 1.1), g["upper"].clip(-0.1, 1.1),
                            color=line.get_color(), alpha=0.15)
        ax.set_ylim(-0.1, 1.1)
        ax.set_xlabel("year")
        ax.set_ylabel("ST")
        ax.set_title("ST of population change over time (five largest at the end)", fontsize=9)
        ax.legend(fontsize=7)
        _save(f, path)

    fig[f"{prefix}_sobol.png"] = bars
    if prefix == "levers":
        fig[f"{prefix}_pawn.png"] = pawn
        if not s.over_time.empty:
            fig[f"{prefix}_over_time.png"] = over_time


def _figure_morris(s: Stored, config: StudyConfig, fig: dict[str, Callable[[Path], None]],
                   floors: dict[str, float]) -> None:
    col = _outcome_cols(config)[OUTCOMES[0].key]
    idx = s.indices

    def draw(path: Path) -> None:
        plt = _plt()
        mu = idx[(idx["outcome"] == col) & (idx["index"] == "mu_star")].set_index("parameter")
        sg = idx[(idx["outcome"] == col) & (idx["index"] == "sigma")].set_index("parameter")
        f, ax = plt.subplots(figsize=(5.5, 4))
        if len(mu):
            ax.scatter(mu["value"], sg["value"].reindex(mu.index), s=12)
            for p in mu.sort_values("value", ascending=False).index[:8]:
                ax.annotate(p.split(".")[-1], (mu.loc[p, "value"], sg["value"].get(p, 0)),
                            fontsize=6)
            fl = floors.get(col, float("nan"))
            if math.isfinite(fl):
                ax.axvline(fl, color="red", ls="--", lw=1, label="seed-noise floor")
                ax.legend(fontsize=7)
        ax.set_xlabel(f"mu* ({col})")
        ax.set_ylabel("sigma")
        ax.set_title("Morris screening of the assumptions", fontsize=9)
        _save(f, path)

    fig["assumptions_morris.png"] = draw


# --------------------------------------------------------------------------------------------
# The document
# --------------------------------------------------------------------------------------------


def _design_tables(config: StudyConfig) -> list[str]:
    """The levers with their ranges and the screened assumptions, from the spec files."""
    from .study import ASSUMPTIONS_SPEC, LEVERS_SPEC, load_study_spec

    lev = load_study_spec(LEVERS_SPEC, config)
    mor = load_study_spec(ASSUMPTIONS_SPEC, config)
    rows = []
    for p in lev.parameters:
        if p.values is not None:
            rng = ", ".join(str(v).lower() if isinstance(v, bool) else str(v) for v in p.values)
            rows.append([f"`{p.label}`", f"`{p.path}`", f"one of {rng}"])
        else:
            b = p.bounds or []
            rows.append([f"`{p.label}`", f"`{p.path}`",
                         f"{p.distribution} {_num(b[0])} to {_num(b[1])}"])
    return ["The levers and the ranges sampled (`levers.toml`):", "",
            _table(["lever", "scenario path", "range"], rows),
            f"Sobol N = {lev.sampler.n}, {lev.replications} replications; the Morris "
            f"screening: {len(mor.parameters)} assumptions, {mor.sampler.n} trajectories, "
            f"{mor.replications} replications; the Sobol step: the {config.top_k} leading "
            f"assumptions above noise, N = {config.sobol_n}.", ""]


def _model_note(paths: Paths) -> list[str]:
    """Which model the levers study ran: the shipped posterior's medians, or an earlier set.

    Compares the fixed assumptions of the stored levers sweep (its ``spec.toml``) with the
    medians of the posterior that ships now, so the document cannot silently describe a model
    that has since been recalibrated.
    """
    stored_spec = paths.store("levers") / "spec.toml"
    if not stored_spec.exists():
        return []
    stored = tomllib.loads(stored_spec.read_text(encoding="utf-8")).get("set", {})
    medians = levers_medians()
    if not medians:
        return ["> **Which model.** No calibrated posterior ships; the levers study fixes the "
                "assumptions at the values in `levers.toml`.", ""]
    differ = sorted(k for k, v in medians.items()
                    if k not in stored or not np.isclose(float(stored[k]),
                                                         float(format(v, ".6g")),
                                                         rtol=1e-9, atol=0.0))
    meta = (json.loads(POSTERIOR_PROVENANCE.read_text(encoding="utf-8"))
            if POSTERIOR_PROVENANCE.exists() else {})
    which = (f"calibration `{meta.get('name', '?')}` generated "
             f"{str(meta.get('generated', '?'))[:10]}, {meta.get('simulations', '?'):,} prior "
             f"draws, digest `{str(meta.get('digest', '?'))[:12]}`")
    if not differ:
        return [f"> **Which model.** The levers study fixes every assumption that is not a lever "
                f"at the median of the posterior that ships with the package ({which}). The "
                "assumptions study samples the priors (`cisim/data/priors.toml`), not the "
                "posterior.", ""]
    return [f"> **Which model: not the shipped one.** {len(differ)} of the levers study's "
            f"{len(medians)} fixed assumptions differ from the medians of the posterior that "
            f"ships now ({which}), e.g. `{differ[0]}`: these results are of an earlier "
            "calibration. Rerun the study (`python -m experiments.sensitivity --jobs 2 "
            "--docs`) before relying on them.", ""]


def build_report(out: str | Path, config: StudyConfig, fig_link: str = "figures") -> Report:
    """The document for the study stored under ``out`` (figures referenced under fig_link)."""
    paths = Paths(Path(out))
    fig: dict[str, Callable[[Path], None]] = {}
    pop, cmp_end = _population_section(paths, config)
    cost = _cost_section(paths, config)
    levers, lever_summary = _levers_section(paths, config, fig, fig_link)
    assumptions, ass_summary = _assumptions_section(paths, config, fig, fig_link)
    head = ["# Sensitivity: which conditions drive impact, and how strongly?", "",
            "<!-- Generated by `python -m experiments.sensitivity --docs`; do not edit by hand: "
            "every number and finding below is computed from the study's stored results. -->",
            ""]
    head += _model_note(paths)
    if config.quick:
        head += ["> **Quick mode**: tiny samples, a short horizon and a tiny population to test "
                 "the pipeline. The numbers below mean nothing.", ""]
    summary = ["## Summary", ""]
    if cmp_end is not None:
        summary.append(f"- Population size: the reduced population "
                       f"{'keeps' if cmp_end['within_noise'] else '**does not keep**'} the "
                       "default design's median population change within seed noise.")
    summary += [f"- Levers: {x}" for x in lever_summary[:3]]
    summary += [f"- Assumptions: {x}" for x in ass_summary[:3]]
    if paths.cost.exists():
        timing = json.loads(paths.cost.read_text())
        sec = float(timing["seconds"][str(timing["sweep_size"])])
        total = sum(planned_runs(config).values())
        summary.append(f"- Cost: the sweeps run at {int(timing['sweep_size']):,} youth; the whole "
                       f"study is {total:,} runs, about {_f(total * sec / 3600, 2)} CPU hours.")
    if not (lever_summary or ass_summary):
        summary.append("- The design-levers and assumptions studies have not been run yet.")
    summary.append("")
    method = [
        "## How the study was run", "",
        "Two questions, two studies on the default design (`scenarios/default.toml`):", "",
        "1. **Design levers** (`experiments/sensitivity/levers.toml`): what the strategist "
        "sets, each over a range a strategist would consider: backbone presence and staff in "
        "its three roles, facilitation skill, meeting cadence, whether the meetings work out "
        "a common agenda, shared measurement and its budget, the two funding streams' "
        "amounts and a hard stop on funding, beneficiary "
        "engagement and equity focus. Sobol (Saltelli) first-order (S1) and total (ST) "
        "indices: the share of an outcome's variance a lever explains alone, and with its "
        "interactions.",
        "2. **Assumed constants** (`experiments/sensitivity/assumptions.toml`): every "
        "parameter with a sampled prior in `cisim/data/priors.toml`, drawn from that prior. A "
        "Morris screening ranks them all; a Sobol study of the leading ones (the others at "
        "their defaults) then measures their shares.", "",
        "Outcomes: population change against the counterfactual at years 10 and 5 "
        "(percentage points), SROI at year 10, the equity gap at the horizon against the "
        "counterfactual's (on the log-odds scale, the log odds ratio of the majority over the "
        "disadvantaged subgroup; below zero when the initiative narrowed it), "
        "time to significant change (the first year from which population change stays at or "
        f"above {_f(SIGNIFICANT_CHANGE_PP)} percentage point(s) for a year, censored at "
        "horizon + 1 when never reached) and whether it was "
        "reached. The last two are zero-inflated (most designs share one value), so they are "
        "ranked by PAWN (Pianosi & Wagener 2015), judged against the index a parameter "
        "without effect scores on the same design points, and \"reached\" is described by "
        "PRIM boxes.", "",
        "**Seed noise.** Every design point is run with independent seeds per replication; "
        "the indices use each point's mean over its replications (docs/sweeps.md, \"Seed "
        "noise\"), and the noise tables say how much of the variance of those means is still "
        "seed noise. For Morris, the same within-point variance gives the mu* a parameter "
        "without effect would score (the noise floor).", "",
        "Run it (resumable; `--quick` for the smoke test; `--docs` rewrites this document and "
        "`docs/figures/sensitivity/`):", "",
        "```bash",
        "python -m experiments.sensitivity --study all --jobs 2 --out out/sensitivity --resume "
        "--docs",
        "```", "",
    ]
    method += _design_tables(config)
    limits = [
        "## Limitations", "",
        "- One base design: the indices describe the neighbourhood of the default "
        "youth-employment initiative, not every collective impact initiative.",
        "- The backbone's budget stays at its default whatever its staffing, so more staff "
        "cost nothing extra in SROI.",
        "- The levers are sampled independently over their ranges; real designs couple them "
        "(a larger budget buys more staff).",
        "- The assumptions' Sobol step holds the screened-out assumptions at their defaults; "
        "their joint effect is what the screening's ranking shows, not a variance share.",
        "- Intervals are bootstrap intervals of the estimators; they do not include the "
        "uncertainty of the model's structure.", "",
    ]
    text = "\n".join(head + summary + method + pop + cost + levers + assumptions + limits)
    return Report(text=text.rstrip() + "\n", figures=fig)


def write_report(out: str | Path, config: StudyConfig, doc: Path, fig_dir: Path,
                 fig_link: str) -> list[Path]:
    """Write the document and its figures; return the paths written."""
    report = build_report(out, config, fig_link)
    fig_dir.mkdir(parents=True, exist_ok=True)
    doc.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for name, draw in report.figures.items():
        draw(fig_dir / name)
        written.append(fig_dir / name)
    write_text_atomic(doc, report.text)
    return [doc, *written]
