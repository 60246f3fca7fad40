"""``cisim validate`` checks scenario files, ``cisim run`` simulates one, ``cisim compile``.

The CLI is thin: it parses arguments, loads and overrides the scenario, runs the ensemble with a
progress bar on stderr, writes the results directory whole (a fresh hidden sibling directory
swapped into place, with a ``manifest.json`` of its files; see :mod:`cisim.io`) and prints the
summary from
:func:`cisim.report.summary.format_summary`. Bad input (an invalid or missing scenario file, a
malformed ``--set``, an unusable output directory) gives a message on stderr and exit status 2,
never a traceback.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from cisim.cli._common import (
    EXIT_INVALID,
    EXIT_OK,
    ResultsError,
    add_parameter_options,
    check_output_dir,
    jobs_count,
    non_negative_int,
    parameters_from_args,
    parse_sets,
    positive_int,
    run_command,
)
from cisim.io import write_atomic, write_text_atomic
from cisim.progress import tqdm_progress
from cisim.scenario import Scenario, ScenarioError, check_overrides, load_scenario

__all__ = ["add_parser"]

# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------


def _cmd_validate(args: argparse.Namespace) -> int:
    status = EXIT_OK
    for file in args.files:
        try:
            load_scenario(file)
        except ScenarioError as err:
            print(str(err))
            status = EXIT_INVALID
        else:
            print(f"{file}: ok")
    return status


def _cmd_compile(args: argparse.Namespace) -> int:
    from cisim._population import population_step
    from cisim.simulate import compile_kernels

    seconds = compile_kernels()
    cache = getattr(getattr(population_step, "_cache", None), "_cache_path", None)
    where = f" (numba cache: {cache})" if cache else " (numba's cache is off)"
    print(f"cisim: kernels ready in {seconds:.1f} s{where}")
    return EXIT_OK


#: The tables ``cisim run`` writes: (file name, attribute of the ensemble result).
RESULT_TABLES = (
    ("trajectories.parquet", "trajectories"),
    ("trajectories.csv", "trajectories"),
    ("summaries.csv", "summaries"),
    ("events.csv", "events"),
    ("phases.csv", "phases"),
    ("subgroups.parquet", "subgroups"),
    ("partners.csv", "partners"),
    ("partner_values.parquet", "partner_values"),
    ("costs.csv", "costs"),
    ("parameters.csv", "parameters"),
)


def run_owned(name: str) -> bool:
    """Whether a file (relative POSIX name) is one of the results of a run itself.

    These are the files whose mixing across runs ``cisim report DIR`` refuses; the report
    files (``report.html``, ``report_tables/``) are not among them: ``cisim report DIR`` adds
    them later.
    """
    from cisim.report.figures import FIGURES

    return name in ({t for t, _ in RESULT_TABLES} | {"scenario.toml", "distribution.json"}
                    | {f"{stem}.png" for stem, _ in FIGURES})


def _replaceable(directory: Path) -> bool:
    """An existing output directory may be replaced: empty, or holding only results of runs.

    Temporaries of interrupted writes (``.NAME.HOST-PID.XXXX.tmp``) count as results.
    """
    from cisim.io import holds_only

    return holds_only(directory, lambda rel: run_owned(rel) or rel == "report.html"
                      or rel.startswith("report_tables/"))


def _cmd_run(args: argparse.Namespace) -> int:
    return run_command(args, lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    from cisim.io import write_directory, write_manifest
    from cisim.provenance import derive

    overrides = parse_sets(args.set)
    check_overrides(overrides, "--set")
    scenario = derive(load_scenario(args.file), [("--set", overrides)], str(args.file),
                      source="--set")
    outdir = Path(args.out) if args.out else Path("out") / Path(args.file).stem
    check_output_dir(outdir, _replaceable, option="-o/--out", writer="cisim run")  # before runs

    from cisim.simulate import ensemble

    parameters = parameters_from_args(args)
    with tqdm_progress(scenario.name, args.replications, leave=False) as progress:
        result = ensemble(
            scenario,
            replications=args.replications,
            seed=args.seed,
            parameters=parameters,
            n_jobs=args.jobs,
            progress=progress,
        )

    try:
        with write_directory(outdir, _replaceable) as tmp:
            files = _write_results(result, scenario, tmp, figures=not args.no_figures)
            if args.report:
                from cisim.report.html import tables_dir, write_report

                files.append(write_report(result, tmp / "report.html", seed=args.seed,
                                          source=args.file))
                files.append(tables_dir(files[-1]))
            write_manifest(tmp, {"written_by": "cisim run", "scenario": str(args.file),
                                 "seed": args.seed, "replications": args.replications})
    except OSError as err:
        raise ResultsError(f"cannot write results to {outdir}: {err}") from err
    files = [outdir / f.relative_to(tmp) for f in files]

    from cisim.report.summary import format_summary

    print(format_summary(result, outdir=outdir, files=files))
    return EXIT_OK


def _write_results(result: Any, scenario: Scenario, outdir: Path, figures: bool) -> list[Path]:
    """Write every result file into ``outdir``; return the paths written."""
    paths: list[Path] = []
    for name, attr in RESULT_TABLES:
        frame = getattr(result, attr, None)
        if frame is None:
            continue
        path = outdir / name
        _write_frame(path, frame)
        paths.append(path)
    from cisim.provenance import toml_header

    path = outdir / "scenario.toml"
    write_text_atomic(path, toml_header(scenario, "cisim run") + scenario.to_toml())
    paths.append(path)
    distribution = getattr(result, "distribution", None)
    if distribution is not None:
        path = outdir / "distribution.json"
        write_text_atomic(path, json.dumps(distribution, indent=2, sort_keys=True) + "\n")
        paths.append(path)
    if figures:
        from cisim.report.figures import save_figures

        paths.extend(save_figures(result, outdir))
    return paths


def _write_frame(path: Path, frame: Any) -> None:
    if path.suffix == ".parquet":
        write_atomic(path, lambda p: frame.to_parquet(p, index=False))
    else:
        write_atomic(path, lambda p: frame.to_csv(p, index=False))


# --------------------------------------------------------------------------------------------
# Parsers
# --------------------------------------------------------------------------------------------


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``validate``, ``run`` and ``compile`` to the ``cisim`` command's subparsers."""
    p_val = sub.add_parser(
        "validate",
        help="check scenario files and list every problem",
        description="Check scenario files; print 'FILE: ok' or every problem with its field.",
    )
    p_val.add_argument("files", nargs="+", metavar="FILE",
                       help="scenario TOML file(s), or bundled scenarios by name (e.g. default)")
    p_val.set_defaults(func=_cmd_validate)

    p_run = sub.add_parser(
        "run",
        help="simulate a scenario and write results",
        description="Run an ensemble of replications of a scenario, write the results and "
        "figures, and print a plain-language summary.",
    )
    p_run.add_argument("file", metavar="FILE",
                       help="scenario TOML file, or a bundled scenario by name (e.g. default)")
    from cisim.simulate import DEFAULT_REPLICATIONS

    p_run.add_argument(
        "-n", "--replications", type=positive_int, default=DEFAULT_REPLICATIONS, metavar="N",
        help=f"number of replications (default: {DEFAULT_REPLICATIONS})",
    )
    p_run.add_argument(
        "--seed", type=non_negative_int, default=0, metavar="S",
        help="seed of the first replication, 0 or more (default: 0)",
    )
    p_run.add_argument(
        "-j", "--jobs", type=jobs_count, default=-1, metavar="J",
        help="parallel worker processes; -1 uses every core (default: -1)",
    )
    p_run.add_argument(
        "-o", "--out", metavar="DIR", default=None,
        help="output directory (default: out/<scenario file name without extension>)",
    )
    p_run.add_argument(
        "--set", action="append", metavar="PATH=VALUE", default=[],
        help="override a scenario field, e.g. --set backbone.staff.facilitator=0.5 or "
        "--set backbone.present=false; VALUE is read as TOML (repeatable)",
    )
    add_parameter_options(p_run)
    p_run.add_argument("--no-figures", action="store_true", help="do not draw the figures")
    p_run.add_argument("--report", action="store_true",
                       help="also write the strategist's HTML report (report.html) and its "
                       "tables as CSV (report_tables/)")
    p_run.set_defaults(func=_cmd_run)

    p_compile = sub.add_parser(
        "compile",
        help="compile the numba kernels into the cache now (./dev does it after installing)",
        description="Compile every numba kernel a run uses into numba's on-disk cache, so that "
        "later runs (and every worker of a sweep) load them in a fraction of a second.",
    )
    p_compile.set_defaults(func=_cmd_compile)
