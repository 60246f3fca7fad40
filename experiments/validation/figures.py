"""Small PNG figures of the validation patterns (one per pattern), with matplotlib.

Each figure shows the simulated quantity a pattern is measured on and its criterion; they are
written by ``python -m experiments.validation`` (per seed) and, with ``--figures-for-docs`` or
``--results-for-docs``, the first seed's under ``docs/figures/validation/`` for
``docs/validation.md``, with :func:`save_seed_figure`'s overview of every pattern in every
seed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from cisim.io import write_atomic

from . import patterns as pat
from .criteria import Criteria
from .study import StudyData

__all__ = ["save_figures", "save_seed_figure"]

SIZE = (4.8, 3.0)
DPI = 80


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=DPI, format="png"))
    plt.close(fig)
    return path


def _bar(ax: plt.Axes, labels: list[str], values: list[float], lows: list[float] | None = None,
         highs: list[float] | None = None, color: str = "#4477aa") -> None:
    x = np.arange(len(labels))
    err = None
    if lows is not None and highs is not None:
        v = np.asarray(values, dtype=float)
        err = np.vstack([np.maximum(0, v - np.asarray(lows)), np.maximum(0, np.asarray(highs) - v)])
    ax.bar(x, values, yerr=err, color=color, capsize=3)
    ax.set_xticks(x, labels, fontsize=7, rotation=20, ha="right")


def save_figures(data: StudyData, results: list[pat.PatternResult], criteria: Criteria,
                 outdir: str | Path) -> list[Path]:
    """Write one PNG per pattern into ``outdir``; return the paths."""
    c = criteria

    def ci(k: int, n: int) -> tuple[float, float]:
        return pat.share_ci(k, n, c.method.confidence)

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    pop = data.population
    H = pat.horizon(pop)
    by = {r.key: r for r in results}
    paths = []

    # five conditions: share with change, with and without the five conditions, vs ORS
    r = by["five_conditions"]
    fig, ax = plt.subplots(figsize=SIZE)
    five = pat.five_conditions_in_place(pop, c)
    ok = pat.changed(pop)
    k1, n1 = int((ok & five).sum()), int(five.sum())
    k0, n0 = int((ok & ~five).sum()), int((~five).sum())
    ko = int(c.param("five_conditions", "observed_changed"))
    no = int(c.param("five_conditions", "observed_sites"))
    vals = [k1 / n1 if n1 else np.nan, k0 / n0 if n0 else np.nan, ko / no]
    cis = [ci(k1, n1), ci(k0, n0), ci(ko, no)]
    _bar(ax, [f"five in place (n={n1})", f"not (n={n0})", f"ORS {ko}/{no}"], vals,
         [c[0] for c in cis], [c[1] for c in cis])
    ax.set_ylabel("share with population change")
    ax.set_ylim(0, 1)
    paths.append(_save(fig, outdir / "five_conditions.png"))

    # timing: distribution of the first year of sustained change
    fig, ax = plt.subplots(figsize=SIZE)
    first = pop.loc[ok, "first_change_year"]
    ax.hist(first, bins=np.arange(0, H + 1, 0.5), color="#4477aa")
    ax.axvline(c.param("not_before_three_years", "before_year"), color="k", ls="--", lw=1)
    ax.axvline(c.param("many_take_longer", "from_year"), color="grey", ls=":", lw=1)
    ax.set_xlabel("first year of sustained change (>= 1 pp vs counterfactual)")
    ax.set_ylabel("initiatives")
    paths.append(_save(fig, outdir / "timing.png"))

    # design sensitivity
    r = by["backbone_driver"]
    table = r.details["table"].head(8)
    fig, ax = plt.subplots(figsize=SIZE)
    _bar(ax, list(table["parameter"]), list(table["value"]), list(table["lower"]),
         list(table["upper"]))
    ax.set_ylabel(f"RBD-FAST S1, change at year {H}")
    paths.append(_save(fig, outdir / "design_sensitivity.png"))

    # conditions' first-order shares
    table = by["foundational_conditions"].details["table"]
    fig, ax = plt.subplots(figsize=SIZE)
    _bar(ax, [c.replace("mutually reinforcing activities", "MRA") for c in table["condition"]],
         list(table["eta2"]), list(table["low"]), list(table["high"]))
    ax.set_ylabel(f"eta² of change at year {H}")
    paths.append(_save(fig, outdir / "conditions.png"))

    # failure causes
    absent = by["failure_causes"].details["absent_share"]
    fig, ax = plt.subplots(figsize=SIZE)
    _bar(ax, [k.replace("mutually reinforcing activities", "MRA") for k in absent],
         list(absent.values()), color="#cc6677")
    ax.set_ylabel("share of failures lacking it")
    ax.set_ylim(0, 1)
    paths.append(_save(fig, outdir / "failure_causes.png"))

    # systems change: paired mean trajectories
    pair = data.paired
    Hp = pat.horizon(pair, "on_")
    years = np.arange(Hp + 1)
    fig, ax = plt.subplots(figsize=SIZE)
    for prefix, label, color in (("on_", "as designed", "#4477aa"),
                                 ("off_", "systems change off", "#cc6677")):
        m = np.array([pat.pc(pair, y, prefix).mean() for y in years])
        ax.plot(years, m, label=label, color=color)
    ax.axhline(1, color="k", ls="--", lw=0.8)
    ax.set_xlabel("year")
    ax.set_ylabel("mean change vs counterfactual (pp)")
    ax.legend(fontsize=7)
    paths.append(_save(fig, outdir / "systems_change.png"))

    # equity: gap narrowing vs focus
    fig, ax = plt.subplots(figsize=SIZE)
    narrowing = pat.equity_narrowing(pop)
    ax.scatter(pop["equity_focus_level"], narrowing, s=6, alpha=0.6, color="#4477aa")
    ax.axhline(c.param("equity", "narrowing_logodds"), color="k", ls="--", lw=0.8)
    ax.set_xlabel("equity focus")
    ax.set_ylabel("log-odds gap narrowing vs counterfactual")
    paths.append(_save(fig, outdir / "equity.png"))

    # trust: mean trust by cadence over time
    fig, ax = plt.subplots(figsize=SIZE)
    for label, m in [*pat.CADENCE_ORDER, ("none", 0.0)]:
        sub = pop[pop["meetings_per_year"] == m]
        if len(sub):
            ax.plot(np.arange(H + 1), [sub[f"trust@{y}"].mean() for y in range(H + 1)],
                    label=f"{label} (n={len(sub)})")
    ax.axhline(pat.RUN_MIN_TRUST, color="k", ls="--", lw=0.8)
    ax.set_xlabel("year")
    ax.set_ylabel("mean trust")
    ax.legend(fontsize=6)
    paths.append(_save(fig, outdir / "trust.png"))

    # funding
    r = by["funding"]
    fig, ax = plt.subplots(figsize=SIZE)
    cond = pat.funding_condition(pop, c)
    k1, n1 = int((ok & cond).sum()), int(cond.sum())
    k0, n0 = int((ok & ~cond).sum()), int((~cond).sum())
    cis = [ci(k1, n1), ci(k0, n0)]
    years = c.param("funding", "anchor_min_years")
    _bar(ax, [f"anchor >= {years:g} yr (n={n1})", f"otherwise (n={n0})"],
         [k1 / max(1, n1), k0 / max(1, n0)], [c[0] for c in cis], [c[1] for c in cis])
    ax.set_ylabel("share with population change")
    ax.set_ylim(0, 1)
    paths.append(_save(fig, outdir / "funding.png"))

    # trust asymmetry
    fig, ax = plt.subplots(figsize=SIZE)
    sub = pop.dropna(subset=["trust_good_effect", "trust_bad_effect"])
    sub = sub[sub["trust_good_effect"] > 0]
    ratio = -sub["trust_bad_effect"] / sub["trust_good_effect"]
    ax.scatter(sub[f"trust@{H}"], ratio, s=6, color="#4477aa")
    ax.axhline(1, color="k", ls="--", lw=0.8)
    ax.set_xlabel(f"mean trust at year {H}")
    ax.set_ylabel("-effect(bad) / effect(good)")
    paths.append(_save(fig, outdir / "trust_asymmetry.png"))

    # small wins
    fig, ax = plt.subplots(figsize=SIZE)
    wy = min(H, int(c.param("small_wins", "win_year")))
    wpp = c.param("small_wins", "win_pp")
    win = pop[f"measured_change@{wy}"] >= wpp
    rise = pop[f"trust@{H}"] - pop[f"trust@{wy}"]
    ax.boxplot([rise[~win].dropna(), rise[win].dropna()])
    ax.set_xticks([1, 2], ["no early win", f"early win (>= {wpp:g} pp by year {wy})"],
                  fontsize=7)
    ax.set_ylabel(f"trust rise, year {wy} to {H}")
    paths.append(_save(fig, outdir / "small_wins.png"))

    # inclusiveness
    fig, ax = plt.subplots(figsize=SIZE)
    sub = pop[pop["meetings_per_year"] > 0]
    ty = min(H, int(c.param("inclusiveness", "trust_year")))
    ax.scatter(sub["n_partners"], sub[f"trust@{ty}"], s=6, color="#4477aa")
    ax.set_xlabel("partners")
    ax.set_ylabel(f"mean trust at year {ty}")
    paths.append(_save(fig, outdir / "inclusiveness.png"))

    # meeting intensity: cadence means with intervals and the fitted quadratic in log2 cadence
    means = by["meeting_intensity"].details["mean_by_cadence"]
    fig, ax = plt.subplots(figsize=SIZE)
    sub = pop[(pop["backbone"] > 0.5) & (pop["meetings_per_year"] > 0)]
    for name, m in pat.CADENCE_ORDER:
        vals = pat.pc(sub, H)[sub["meetings_per_year"] == m]
        lo, hi = (pat.bootstrap(pd.DataFrame({"v": vals}), lambda f: float(f["v"].mean()),
                                resamples=c.method.bootstrap_resamples,
                                confidence=c.method.confidence)
                  if len(vals) > 1 else (np.nan, np.nan))
        v = means[name]
        ax.errorbar([m], [v], yerr=[[max(0.0, v - lo)], [max(0.0, hi - v)]]
                    if np.isfinite(lo) else None, fmt="o", color="#4477aa", capsize=3)
    frame = {"m": sub["meetings_per_year"].to_numpy(float), "y": pat.pc(sub, H).to_numpy(float)}
    if len(np.unique(frame["m"])) >= 3:
        z = np.log2(frame["m"])
        coef = np.polyfit(z, frame["y"], 2)
        grid = np.linspace(np.log2(4), np.log2(52), 50)
        ax.plot(2 ** grid, np.polyval(coef, grid), color="#cc6677", lw=1)
    ax.set_xscale("log", base=2)
    ax.set_xticks([m for _, m in pat.CADENCE_ORDER], [n for n, _ in pat.CADENCE_ORDER],
                  fontsize=7)
    ax.set_xlabel("meeting cadence (designs with a backbone)")
    ax.set_ylabel(f"mean change at year {H} (pp)")
    paths.append(_save(fig, outdir / "meeting_intensity.png"))
    return paths


def save_seed_figure(doc: dict[str, Any], path: str | Path) -> Path:
    """One row per pattern, one column per seed: green where it holds, red where it fails."""
    pats = doc["patterns"]
    seeds = doc["seeds"]
    grid = np.array([[1.0 if s["holds"] else 0.0 for s in p["per_seed"]] for p in pats])
    fig, ax = plt.subplots(figsize=(2.8 + 0.5 * len(seeds), 0.25 * len(pats) + 1.0))
    ax.imshow(grid, cmap=matplotlib.colors.ListedColormap(["#cc6677", "#44aa99"]), vmin=0,
              vmax=1, aspect="auto")
    ax.set_xticks(range(len(seeds)), [str(s) for s in seeds], fontsize=7)
    ax.set_yticks(range(len(pats)),
                  [f"{p['id']}{' (cal.)' if p['role'] == 'calibration' else ''}" for p in pats],
                  fontsize=7)
    ax.set_xlabel("seed (green: holds, red: fails)", fontsize=7)
    return _save(fig, Path(path))
