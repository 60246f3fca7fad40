"""Command-line handlers of ``cisim report`` and ``cisim compare``.

``cisim report FILE.toml`` runs an ensemble of a design and writes the strategist's HTML report;
``cisim report DIR`` writes it from the results ``cisim run`` saved in DIR. ``cisim compare A.toml
B.toml ...`` runs every design with the same seeds (common random numbers) and writes an HTML
comparison; ``--what-if PATH=VALUE ...`` adds variants of the first design without editing files,
and ``--set PATH=VALUE`` changes every design. Overrides are validated like scenario files. The
parser is added to the ``cisim`` command by :func:`add_parser`; errors surface as
:class:`cisim.cli.UsageError` or :class:`cisim.scenario.ScenarioError`, which the entry point
turns into a message and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from cisim.cli._common import (
    EXIT_INVALID,
    EXIT_OK,
    UsageError,
    add_parameter_options,
    jobs_count,
    non_negative_int,
    parameters_from_args,
    parse_sets,
    positive_int,
)

__all__ = ["add_parser", "cmd_compare", "cmd_report", "load_results"]


def add_parser(subparsers: Any) -> None:
    """Add the ``report`` and ``compare`` subcommands to the ``cisim`` parser.

    Args:
        subparsers: The object returned by ``ArgumentParser.add_subparsers``.

    """
    p = subparsers.add_parser(
        "report",
        help="write the strategist's HTML report of a design",
        description="Run an ensemble of a scenario (or read the results 'cisim run' wrote to a "
        "directory) and write a self-contained HTML report: its assumptions and limitations, "
        "what to expect, when, how sure, with what risk, at what return (the SROI guide's "
        "initiative and collaboration framings, with a sensitivity table) and cost. The "
        "report's tables are written as CSV files next to it (report.html -> "
        "report_tables/*.csv); the HTML prints cleanly from a browser.",
    )
    p.add_argument("path", metavar="FILE|DIR",
                   help="scenario TOML file, or a results directory written by 'cisim run'")
    _ensemble_options(p)
    p.add_argument("-o", "--out", metavar="FILE", default=None,
                   help="HTML file to write (default: out/<scenario>/report.html, or "
                   "DIR/report.html); its CSV tables go to <FILE stem>_tables/")
    p.set_defaults(func=cmd_report)

    c = subparsers.add_parser(
        "compare",
        help="compare designs with common random numbers",
        description="Run every design with the same replication seeds and write an HTML "
        "comparison: the probability that each design beats each other on population change, "
        "SROI, time to population change, cost per outcome and risk.",
    )
    c.add_argument("files", nargs="+", metavar="FILE",
                   help="scenario TOML files, or bundled scenarios by name (e.g. no_backbone)")
    c.add_argument(
        "--what-if", action="append", nargs="+", metavar="PATH=VALUE", default=[],
        dest="what_if",
        help="add a variant of the first design with these overrides, e.g. --what-if "
        "backbone.staff.facilitator=0.5 funding.max_years=2 (repeatable: one variant each)",
    )
    _ensemble_options(c)
    c.add_argument("-o", "--out", metavar="FILE", default=None,
                   help="HTML file to write (default: out/compare_<designs>.html)")
    c.set_defaults(func=cmd_compare)


def _ensemble_options(p: argparse.ArgumentParser) -> None:
    from cisim.simulate import DEFAULT_REPLICATIONS

    p.add_argument("-n", "--replications", type=positive_int, default=DEFAULT_REPLICATIONS,
                   metavar="N",
                   help=f"number of replications (default: {DEFAULT_REPLICATIONS})")
    p.add_argument("--seed", type=non_negative_int, default=0, metavar="S",
                   help="master seed; every design gets the same replication seeds (default: 0)")
    p.add_argument("-j", "--jobs", type=jobs_count, default=-1, metavar="J",
                   help="parallel worker processes; -1 uses every core (default: -1)")
    p.add_argument(
        "--set", action="append", metavar="PATH=VALUE", default=[],
        help="override a scenario field (of every design), e.g. --set funding.max_years=2; "
        "VALUE is read as TOML (repeatable)",
    )
    add_parameter_options(p)


# --------------------------------------------------------------------------------------------
# cisim report
# --------------------------------------------------------------------------------------------


def cmd_report(args: argparse.Namespace) -> int:
    """Handle ``cisim report``; return the exit status."""
    from cisim.report.html import tables_dir, write_report

    path = Path(args.path)
    if path.is_dir():
        for given, flag in ((args.set, "--set"), (args.seed_only, "--seed-only"),
                            (args.parameters, "--parameters")):
            if given:
                raise UsageError(f"{flag} applies to a scenario file, not to saved results in "
                                 f"{path}; run 'cisim report FILE.toml {flag} ...' instead")
        result = load_results(path)
        out = Path(args.out) if args.out else path / "report.html"
        seed = None
        source = str(path)
    else:
        scenario = _load(path, args.set)
        result = _run(scenario, args)
        out = Path(args.out) if args.out else Path("out") / path.stem / "report.html"
        seed = args.seed
        source = str(path) + _overrides_text(args.set)
    start = time.perf_counter()
    try:
        write_report(result, out, seed=seed, source=source)
    except OSError as err:
        print(f"cisim: cannot write the report to {out}: {err}", file=sys.stderr)
        return EXIT_INVALID
    print(f"Report written to {out} (generated in {time.perf_counter() - start:.1f} s); "
          f"its tables as CSV in {tables_dir(out)}")
    return EXIT_OK


def load_results(directory: Path) -> Any:
    """Read the results ``cisim run`` wrote to a directory back into an ensemble result.

    The directory's ``manifest.json`` is checked first: files that differ from those written
    together, or result files it does not list, mean results of two runs are mixed, and the
    directory is refused. A directory without a manifest gives a warning.

    Raises:
        UsageError: A required file (trajectories.parquet, summaries.csv, scenario.toml) is
            missing or unreadable, or the files do not match the manifest.

    """
    import pandas as pd

    from cisim.cli.run import run_owned
    from cisim.io import MANIFEST, check_manifest
    from cisim.scenario import load_scenario
    from cisim.simulate import EnsembleResult

    problems = check_manifest(directory, run_owned)
    if problems is None and (directory / "trajectories.parquet").exists():
        print(f"cisim report: warning: {directory} has no {MANIFEST} (written by an older "
              "cisim?); cannot check that its files all come from one run", file=sys.stderr)
    elif problems:
        raise UsageError(f"{directory}: its files do not all come from one run: "
                         + "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else "")
                         + ". Run 'cisim run' into it again.")

    def read(name: str, required: bool) -> pd.DataFrame:
        file = directory / name
        if not file.exists():
            if required:
                raise UsageError(f"{file}: no such file; is {directory} a 'cisim run' output "
                                 "directory?")
            return pd.DataFrame()
        try:
            return pd.read_parquet(file) if file.suffix == ".parquet" else pd.read_csv(file)
        except Exception as err:  # pyarrow and pandas raise many types for corrupt files
            raise UsageError(f"{file}: cannot be read: {err}") from None

    trajectories = read("trajectories.parquet", True)
    summaries = read("summaries.csv", True)
    scenario_file = directory / "scenario.toml"
    if not scenario_file.exists():
        raise UsageError(f"{scenario_file}: no such file; is {directory} a 'cisim run' output "
                         "directory?")
    scenario = load_scenario(scenario_file)
    seeds = [int(s) for s in summaries["seed"]] if "seed" in summaries.columns else []
    extra: dict[str, Any] = {}
    parameters = read("parameters.csv", False)
    if len(parameters):
        extra["parameters"] = parameters
    info = directory / "distribution.json"
    if info.exists():
        try:
            extra["distribution"] = json.loads(info.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise UsageError(f"{info}: cannot be read: {err}") from None
    return EnsembleResult(
        scenario=scenario,
        seeds=seeds,
        trajectories=trajectories,
        subgroups=read("subgroups.parquet", False),
        partners=read("partners.csv", False),
        events=read("events.csv", False),
        phases=read("phases.csv", False),
        summaries=summaries,
        partner_values=read("partner_values.parquet", False),
        costs=read("costs.csv", False),
        **extra,
    )


# --------------------------------------------------------------------------------------------
# cisim compare
# --------------------------------------------------------------------------------------------


def cmd_compare(args: argparse.Namespace) -> int:
    """Handle ``cisim compare``; return the exit status."""
    from cisim.progress import tqdm_progress
    from cisim.report.compare import run_comparison, write_comparison

    if args.replications < 2:
        raise UsageError(f"--replications must be at least 2 to compare, got "
                         f"{args.replications}")
    scenarios, labels, sources = [], [], []
    for file in args.files:
        scenarios.append(_load(Path(file), args.set))
        labels.append(scenarios[-1].name)
        sources.append(str(file) + _overrides_text(args.set))
    for items in args.what_if:
        variant = _load(Path(args.files[0]), args.set, parse_sets(items),
                        source=f"--what-if {' '.join(items)}")
        scenarios.append(variant)
        labels.append(variant.name)
        sources.append(f"{sources[0]} with --what-if {' '.join(items)}")
    if len(scenarios) < 2:
        raise UsageError("compare needs at least two designs: give two or more files, or one "
                         "file and --what-if PATH=VALUE")
    labels = _unique(labels)
    parameters = parameters_from_args(args)
    out = Path(args.out) if args.out else Path("out") / (
        "compare_" + "_".join(Path(f).stem for f in args.files)[:80] + ".html")

    total = args.replications * len(scenarios)
    with tqdm_progress("compare", total, leave=False) as progress:
        comparison = run_comparison(scenarios, labels, sources, replications=args.replications,
                                    seed=args.seed, n_jobs=args.jobs, progress=progress,
                                    parameters=parameters)
    start = time.perf_counter()
    try:
        write_comparison(comparison, out)
    except OSError as err:
        print(f"cisim: cannot write the comparison to {out}: {err}", file=sys.stderr)
        return EXIT_INVALID
    print(_comparison_text(comparison))
    print(f"\nComparison written to {out} (generated in {time.perf_counter() - start:.1f} s)")
    return EXIT_OK


def _assumptions_text(comparison: Any) -> str:
    dist = getattr(comparison.designs[0].result, "distribution", None) or {}
    if dist.get("kind", "none") == "none":
        return ("Seed only: every assumption fixed at each design's values; the spread is chance "
                "alone and understates the uncertainty.")
    where = "the documented priors" if dist.get("kind") == "prior" else dist.get("source", "")
    return (f"Assumptions drawn from {where}: replication k of every design used the same draw "
            "(paths a design sets itself keep its value).")


def _comparison_text(comparison: Any) -> str:
    from cisim.provenance import changes_of
    from cisim.report.compare import design_lines

    lines = [f"{len(comparison.labels)} designs, "
             f"{int(comparison.probabilities['n'].iloc[0])} paired replications each"
             + (" (common random numbers)." if comparison.crn else "."),
             _assumptions_text(comparison)]
    for d in comparison.designs:
        lines.extend(f"  {d.label}: {line}" for line in changes_of(d.result.scenario))
    lines.append("")
    lines.extend(design_lines(comparison))
    for metric in comparison.metrics:
        lines.append("")
        lines.append(f"P(row beats column) on {metric.label}:")
        mat = comparison.matrix(metric.key)
        se = comparison.matrix(metric.key, "se")
        width = max(len(lab) for lab in comparison.labels)
        for a in comparison.labels:
            cells = []
            for b in comparison.labels:
                cells.append("    --      " if a == b
                             else f"{mat.loc[a, b]:.2f} ± {se.loc[a, b]:.2f}".center(12))
            lines.append(f"  {a:<{width}}  " + " ".join(cells))
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _load(path: Path, sets: list[str], what_if: dict[str, Any] | None = None,
          source: str | None = None) -> Any:
    """Read a scenario file and apply ``--set`` (and ``--what-if``), recording the changes."""
    from cisim.provenance import derive
    from cisim.scenario import check_overrides, load_scenario

    changes = [("--set", parse_sets(sets)), ("--what-if", what_if or {})]
    for flag, overrides in changes:
        check_overrides(overrides, flag)
    return derive(load_scenario(path), changes, str(path),
                  source=source or f"--set (applied to {path})")


def _overrides_text(sets: list[str]) -> str:
    return (" with --set " + " --set ".join(sets)) if sets else ""


def _run(scenario: Any, args: argparse.Namespace) -> Any:
    from cisim.progress import tqdm_progress
    from cisim.simulate import ensemble

    if args.replications < 1:
        raise UsageError(f"--replications must be at least 1, got {args.replications}")
    parameters = parameters_from_args(args)
    with tqdm_progress(scenario.name, args.replications, leave=False) as progress:
        return ensemble(scenario, replications=args.replications, seed=args.seed,
                        n_jobs=args.jobs, progress=progress, parameters=parameters)


def _unique(labels: list[str]) -> list[str]:
    used: set[str] = set()
    out = []
    for lab in labels:
        candidate, k = lab, 1
        while candidate in used:
            k += 1
            candidate = f"{lab} ({k})"
        used.add(candidate)
        out.append(candidate)
    return out
