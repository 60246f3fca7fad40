"""Figures of a sweep analysis: index bars with intervals, indices over time, PRIM boxes.

Matplotlib (Agg), one PNG per figure, written atomically. The PRIM trade-off and box views follow
EMA Workbench's (Kwakkel 2017) but are drawn here so they need no seaborn styling.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from cisim.io import write_atomic

__all__ = ["is_analysis_figure", "save_analysis_figures"]

#: Starts the name of each per-outcome figure (index bars; indices over time).
_INDICES = "indices_"
#: The scenario discovery figures.
_PRIM_FIGURES = ("prim_tradeoff.png", "prim_box.png")


def is_analysis_figure(name: str) -> bool:
    """Whether a file name is one :func:`save_analysis_figures` draws."""
    return name in _PRIM_FIGURES or (name.startswith(_INDICES) and name.endswith(".png")
                                     and "/" not in name)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    write_atomic(path, lambda p: fig.savefig(p, dpi=110, bbox_inches="tight", format="png"))
    plt.close(fig)
    return path


def save_analysis_figures(analysis: Any, outdir: Path) -> list[Path]:
    """Draw every figure of a :class:`cisim.sweep.analyze.SweepAnalysis` into ``outdir``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths: list[Path] = []
    idx = analysis.indices
    for outcome, frame in idx.groupby("outcome", sort=False):
        kinds = list(dict.fromkeys(frame["index"]))
        kinds = [k for k in kinds if k != "mu"] or kinds
        params = list(dict.fromkeys(frame["parameter"]))
        fig, ax = plt.subplots(figsize=(max(5, 0.9 * len(params) + 2), 3.6))
        width = 0.8 / len(kinds)
        x = np.arange(len(params))
        for i, kind in enumerate(kinds):
            sub = frame[frame["index"] == kind].set_index("parameter").reindex(params)
            ax.bar(x + i * width - 0.4 + width / 2, sub["value"], width,
                   yerr=sub["conf"].fillna(0).to_numpy(), capsize=3, label=kind)
        if set(kinds) <= {"S1", "ST"}:
            ax.set_ylim(-0.2, 1.2)  # variance shares; wider intervals are cut (see the CSV)
        ax.set_xticks(x, params, rotation=30, ha="right")
        ax.axhline(0, color="k", lw=0.5)
        ax.set_ylabel("index")
        ax.set_title(f"{outcome}: {analysis.method} indices (bars: {0.95:.0%} intervals)")
        ax.legend()
        paths.append(_save(fig, outdir / f"{_INDICES}{_safe(outcome)}.png"))
    ot = analysis.over_time
    for outcome, frame in ot.groupby("outcome", sort=False):
        kind = "ST" if "ST" in set(frame["index"]) else frame["index"].iloc[0]
        sub = frame[frame["index"] == kind]
        fig, ax = plt.subplots(figsize=(6.5, 3.8))
        for param, g in sub.groupby("parameter", sort=False):
            g = g.sort_values("time")
            line = ax.plot(g["time"], g["value"], marker="o", ms=3, label=param)[0]
            ax.fill_between(g["time"], g["lower"].clip(-0.2, 1.2), g["upper"].clip(-0.2, 1.2),
                            color=line.get_color(), alpha=0.15)
        if kind in ("S1", "ST"):
            ax.set_ylim(-0.2, 1.2)  # variance shares; wider intervals are cut (see the CSV)
        ax.set_xlabel("year")
        ax.set_ylabel(kind)
        ax.set_title(f"{outcome}: {kind} over time")
        ax.legend(fontsize=7, ncol=2)
        paths.append(_save(fig, outdir / f"{_INDICES}over_time_{_safe(outcome)}.png"))
    d = analysis.discovery
    if d is not None and len(d.prim_trajectory):
        t = d.prim_trajectory
        fig, ax = plt.subplots(figsize=(5.5, 4))
        sc = ax.scatter(t["coverage"], t["density"], c=t["res_dim"], cmap="viridis", s=18)
        sel = t.iloc[d.prim_selected]
        ax.scatter([sel["coverage"]], [sel["density"]], s=120, facecolors="none",
                   edgecolors="red", label=f"chosen box {d.prim_selected}")
        fig.colorbar(sc, ax=ax, label="restricted dimensions")
        ax.set_xlabel("coverage")
        ax.set_ylabel("density")
        ax.set_title("PRIM peeling trajectory")
        ax.legend()
        paths.append(_save(fig, outdir / _PRIM_FIGURES[0]))
        box = d.prim_box[d.prim_box["restricted"]]
        if len(box):
            fig, ax = plt.subplots(figsize=(6, 0.5 * len(box) + 1.5))
            for i, (_, r) in enumerate(box.iterrows()):
                span = r["full_upper"] - r["full_lower"]
                if not np.isfinite(span) or span <= 0:
                    ax.text(0.5, i, r["values"], ha="center", va="center", fontsize=8)
                    continue
                lo = (r["lower"] - r["full_lower"]) / span
                hi = (r["upper"] - r["full_lower"]) / span
                ax.plot([0, 1], [i, i], color="lightgray", lw=6)
                ax.plot([lo, hi], [i, i], color="tab:blue", lw=6)
                ax.text(lo, i + 0.25, f"{r['lower']:.3g}", ha="center", fontsize=7)
                ax.text(hi, i + 0.25, f"{r['upper']:.3g}", ha="center", fontsize=7)
            ax.set_yticks(range(len(box)), box["parameter"])
            ax.set_xlim(-0.05, 1.05)
            ax.set_xlabel("share of the sampled range")
            s = d.prim_trajectory.iloc[d.prim_selected]
            ax.set_title(f"PRIM box: coverage {s['coverage']:.2f}, density {s['density']:.2f}")
            paths.append(_save(fig, outdir / _PRIM_FIGURES[1]))
    return paths
