"""Reporting: figures and plain-language summaries of simulation results.

The figure functions accept an ensemble result (or a single run where noted) and return
:class:`matplotlib.figure.Figure` objects; :func:`format_summary` turns an ensemble into the short
text the command line prints. Nothing here prints.
"""

from cisim.report.figures import (
    COMPONENTS,
    components_figure,
    phase_colour,
    phase_timeline_figure,
    population_change_figure,
    save_figures,
    sroi_figure,
)
from cisim.report.summary import format_summary

__all__ = [
    "COMPONENTS",
    "components_figure",
    "format_summary",
    "phase_colour",
    "phase_timeline_figure",
    "population_change_figure",
    "save_figures",
    "sroi_figure",
]
