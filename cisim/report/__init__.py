"""Reporting: figures and plain-language summaries of simulation results.

The figure functions accept an ensemble result (or a single run where noted) and return
:class:`matplotlib.figure.Figure` objects; :func:`format_summary` turns an ensemble into the short
text the command line prints; :func:`report_html` renders the strategist's self-contained HTML
report and :func:`run_comparison` / :func:`comparison_html` compare designs with common random
numbers. Nothing here prints.
"""

from cisim.report.compare import (
    Comparison,
    compare_results,
    comparison_html,
    run_comparison,
    write_comparison,
)
from cisim.report.figures import (
    COMPONENTS,
    components_figure,
    phase_colour,
    phase_timeline_figure,
    population_change_figure,
    save_figures,
    sroi_figure,
)
from cisim.report.html import report_html, report_numbers, write_report
from cisim.report.summary import format_summary

__all__ = [
    "COMPONENTS",
    "Comparison",
    "compare_results",
    "comparison_html",
    "components_figure",
    "format_summary",
    "phase_colour",
    "phase_timeline_figure",
    "population_change_figure",
    "report_html",
    "report_numbers",
    "run_comparison",
    "save_figures",
    "sroi_figure",
    "write_comparison",
    "write_report",
]
