"""Small PNG figures of the validation patterns (one per pattern), with matplotlib.

Each figure shows the simulated quantity a pattern is measured on and its criterion; they are
written by ``python -m experiments.validation`` and, with ``--figures-for-docs``, committed under
``docs/figures/validation/`` for ``docs/validation.md``.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from cisim.io import write_atomic

from . import patterns as pat
from .study import StudyData

__all__ = ["save_figures"]

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


def save_figures(data: StudyData, results: list[pat.PatternResult], outdir: str | Path
                 ) -> list[Path]:
    """Write one PNG per pattern into ``outdir``; return the paths."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    pop = data.population
    H = pat.horizon(pop)
    by = {r.key: r for r in results}
    paths = []

    # five conditions: share with change, with and without the five conditions, vs ORS
    r = by["five_conditions"]
    fig, ax = plt.subplots(figsize=SIZE)
    five = pat.five_conditions_in_place(pop)
    ok = pat.changed(pop)
    k1, n1 = int((ok & five).sum()), int(five.sum())
    k0, n0 = int((ok & ~five).sum()), int((~five).sum())
    vals = [k1 / n1 if n1 else np.nan, k0 / n0 if n0 else np.nan, 20 / 25]
    cis = [pat.share_ci(k1, n1), pat.share_ci(k0, n0), pat.share_ci(20, 25)]
    _bar(ax, [f"five in place (n={n1})", f"not (n={n0})", "ORS 20/25"], vals,
         [c[0] for c in cis], [c[1] for c in cis])
    ax.set_ylabel("share with population change")
    ax.set_ylim(0, 1)
    paths.append(_save(fig, outdir / "five_conditions.png"))

    # timing: distribution of the first year of sustained change
    fig, ax = plt.subplots(figsize=SIZE)
    first = pop.loc[ok, "first_change_year"]
    ax.hist(first, bins=np.arange(0, H + 1, 0.5), color="#4477aa")
    ax.axvline(3, color="k", ls="--", lw=1)
    ax.axvline(5, color="grey", ls=":", lw=1)
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
    narrowing = pop["equity_gap_cf_final"] - pop["equity_gap_final"]
    ax.scatter(pop["equity_focus_level"], narrowing, s=6, alpha=0.6, color="#4477aa")
    ax.axhline(1, color="k", ls="--", lw=0.8)
    ax.set_xlabel("equity focus")
    ax.set_ylabel("gap narrowing vs counterfactual (pp)")
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
    cond = pat.funding_condition(pop)
    k1, n1 = int((ok & cond).sum()), int(cond.sum())
    k0, n0 = int((ok & ~cond).sum()), int((~cond).sum())
    cis = [pat.share_ci(k1, n1), pat.share_ci(k0, n0)]
    _bar(ax, [f"anchor >= 2 yr (n={n1})", f"otherwise (n={n0})"],
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
    win = pop["measured_change@3"] >= 1.0
    rise = pop[f"trust@{H}"] - pop["trust@3"]
    ax.boxplot([rise[~win].dropna(), rise[win].dropna()])
    ax.set_xticks([1, 2], ["no early win", "early win (>= 1 pp by year 3)"], fontsize=7)
    ax.set_ylabel(f"trust rise, year 3 to {H}")
    paths.append(_save(fig, outdir / "small_wins.png"))

    # inclusiveness
    fig, ax = plt.subplots(figsize=SIZE)
    sub = pop[pop["meetings_per_year"] > 0]
    ax.scatter(sub["n_partners"], sub[f"trust@{pat.Y}"], s=6, color="#4477aa")
    ax.set_xlabel("partners")
    ax.set_ylabel(f"mean trust at year {pat.Y}")
    paths.append(_save(fig, outdir / "inclusiveness.png"))

    # meeting intensity
    means = by["meeting_intensity"].details["mean_by_cadence"]
    fig, ax = plt.subplots(figsize=SIZE)
    sub = pop[pop["backbone"] > 0.5]
    cis = []
    for _, m in pat.CADENCE_ORDER:
        vals = pat.pc(sub, H)[sub["meetings_per_year"] == m]
        cis.append(pat.bootstrap(pd.DataFrame({"v": vals}), lambda f: float(f["v"].mean()))
                   if len(vals) > 1 else (np.nan, np.nan))
    _bar(ax, list(means), list(means.values()), [c[0] for c in cis], [c[1] for c in cis])
    ax.set_ylabel(f"mean change at year {H} (pp)")
    paths.append(_save(fig, outdir / "meeting_intensity.png"))
    return paths
