"""The report's figure of the two sources of uncertainty: the full fan and the part from chance.

The full 90% band runs over every future (each with its own seed and parameter set); the chance
band is the median plus and minus 1.645 within-set standard deviations, the spread seeds alone
give around one parameter set, cut at the full band (:func:`cisim.uncertainty.chance_band`). The
gap between them is what the assumptions add, the part a seed-only forecast leaves out. A lower
panel gives the law-of-total-variance split at each step.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from cisim.uncertainty import chance_band

__all__ = ["uncertainty_figure"]

_FULL = "#1f6fb4"
_CHANCE = "#ff7f0e"


def uncertainty_figure(result: Any) -> Figure:
    """Population change against the counterfactual: the full 90% band and chance's part of it.

    Args:
        result: An ensemble with ``trajectories`` and (for the chance band) ``parameters``.

    Returns:
        The figure: the fan with the chance band, and below it the share of the variance from
        the assumptions and from chance over time; without repeated parameter sets only the
        full band is drawn.

    """
    band = chance_band(result, "population_change_vs_cf")
    fig = Figure(figsize=(10, 6.2), layout="constrained")
    FigureCanvasAgg(fig)
    ax, ax_share = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1.3))
    ax.fill_between(band["year"], band["low"], band["high"], color=_FULL, alpha=0.2, linewidth=0,
                    label="90% of futures: chance and the assumptions")
    if np.isfinite(band["chance_low"].to_numpy(dtype=float)).any():
        ax.fill_between(band["year"], band["chance_low"], band["chance_high"], facecolor="none",
                        edgecolor=_CHANCE, hatch="///", linewidth=0.0,
                        label="90% band from chance alone (seeds, assumptions fixed)")
        ax.plot(band["year"], band["chance_low"], color=_CHANCE, linewidth=1)
        ax.plot(band["year"], band["chance_high"], color=_CHANCE, linewidth=1)
    ax.plot(band["year"], band["median"], color=_FULL, linewidth=2, label="Median")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylabel("Population change vs\ncounterfactual (pp)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    ax.set_title("How sure: the full spread of futures and the part chance alone explains")
    share = band["share_parameters"].to_numpy(dtype=float)
    if np.isfinite(share).any():
        ax_share.fill_between(band["year"], 0, 100 * share, color=_FULL, alpha=0.35, linewidth=0,
                              label="from the assumptions")
        ax_share.fill_between(band["year"], 100 * share, 100, color=_CHANCE, alpha=0.25,
                              linewidth=0, label="from chance")
        ax_share.legend(loc="lower left", fontsize="small", ncols=2)
    else:
        ax_share.text(0.5, 0.5, "Too few repeated draws to split the variance", ha="center",
                      va="center", transform=ax_share.transAxes)
    ax_share.set_ylim(0, 100)
    ax_share.set_ylabel("Share of the\nvariance (%)")
    ax_share.set_xlabel("Years since start")
    ax_share.grid(True, alpha=0.3)
    if len(band):
        ax_share.set_xlim(float(band["year"].min()), float(band["year"].max()))
    return fig
