"""Command-line handlers: ``cisim sweep SPEC`` and ``cisim analyze STORE``.

``add_parser(subparsers)`` registers both subcommands on the ``cisim`` parser (wired in
:mod:`cisim.cli`). Bad input (an invalid spec, an existing store without ``--resume``, a store
from another spec) gives a message on stderr and exit status 2, never a traceback. ``cisim
analyze`` writes its output directory whole, as ``cisim run`` does (a hidden sibling swapped
into place, with a ``manifest.json``; see :mod:`cisim.io`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cisim.cli._common import (
    EXIT_INVALID,
    EXIT_OK,
    ResultsError,
    UsageError,
    check_output_dir,
    jobs_count,
    positive_int,
    run_command,
    share,
)

__all__ = ["add_parser", "cmd_analyze", "cmd_sweep"]

EXIT_FAILED_RUNS = EXIT_INVALID  # every run of the sweep failed


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``sweep`` and ``analyze`` on the ``cisim`` command's subparsers."""
    p = subparsers.add_parser(
        "sweep",
        help="run a sensitivity sweep into a resumable Parquet store",
        description="Sample the parameters of a sweep spec, run every design point and "
        "replication in parallel, and stream the results into a Parquet store. A spec that "
        "names a model function (function = \"module:function\") runs that code, like a "
        "Python script: run only specs you trust.",
    )
    p.add_argument("spec", metavar="SPEC", help="sweep spec TOML file")
    p.add_argument("--out", metavar="STORE", default=None,
                   help="store directory (default: out/sweeps/<spec name>)")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted sweep in STORE: run only the missing runs")
    p.add_argument("-j", "--jobs", type=jobs_count, default=-1, metavar="N",
                   help="parallel workers; -1 uses every core (default: -1)")
    p.add_argument("--backend", choices=["loky", "dask"], default="loky",
                   help="loky: local processes; dask: dask.distributed (default: loky)")
    p.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="Dask scheduler address, e.g. tcp://10.0.0.5:8786 (default: a "
                   "LocalCluster)")
    p.add_argument("--runs-per-task", type=positive_int, default=None, metavar="K",
                   help="fixed runs per task (default: sized to about a second)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--allow-large", "--yes", action="store_true",
                   help="run a sweep of more than 100,000 runs (refused otherwise, with its "
                   "estimated time and disk)")
    p.set_defaults(func=cmd_sweep)

    a = subparsers.add_parser(
        "analyze",
        help="sensitivity indices, indices over time and scenario discovery of a sweep store",
        description="Analyse a sweep store with SALib and write tables (CSV) and figures "
        "(PNG).",
    )
    a.add_argument("store", metavar="STORE", help="sweep store directory")
    a.add_argument("--out", metavar="DIR", default=None,
                   help="output directory, written whole: an earlier analysis there is "
                   "replaced, other files are refused (default: STORE/analysis)")
    a.add_argument("--discover", metavar="RULE", default=None,
                   help="scenario discovery threshold, e.g. 'population_change_year10>5' "
                   "(default: the spec's [discovery])")
    a.add_argument("--probability", type=share, default=0.8, metavar="P",
                   help="share of replications that must clear the threshold (default: 0.8)")
    a.add_argument("--resamples", type=positive_int, default=200, metavar="B",
                   help="bootstrap resamples of the confidence intervals (default: 200)")
    a.add_argument("--no-figures", action="store_true", help="do not draw the figures")
    a.set_defaults(func=cmd_analyze)


def cmd_sweep(args: argparse.Namespace) -> int:
    """Handle ``cisim sweep``."""
    from cisim.sweep.execute import SchedulerError
    from cisim.sweep.store import StoreError

    store = args.out or "out/sweeps/<name>"  # named once the spec is read

    def resume() -> str:
        return f"cisim sweep {args.spec} --resume --out {store}"

    def sweep() -> int:
        nonlocal store
        from cisim.progress import tqdm_progress
        from cisim.sweep.execute import run_sweep
        from cisim.sweep.spec import load_spec

        if args.scheduler and args.backend != "dask":
            raise UsageError("--scheduler needs --backend dask")
        spec, _ = load_spec(args.spec)
        store = args.out or str(Path("out") / "sweeps" / spec.name)
        options = {"resume": args.resume, "jobs": args.jobs, "backend": args.backend,
                   "scheduler": args.scheduler, "runs_per_task": args.runs_per_task,
                   "allow_large": args.allow_large}
        try:
            if not args.no_progress:
                with tqdm_progress(spec.name) as bar:
                    result = run_sweep(args.spec, store, progress=bar, **options)
            else:
                result = run_sweep(args.spec, store, **options)
        except OSError as err:
            raise ResultsError(f"cannot write the store {store}: {err}; continue later with: "
                               f"{resume()}") from err
        for path in result.set_aside:
            print(f"cisim sweep: {path.with_suffix('')} could not be read; moved aside to "
                  f"{path.name} and its runs run again", file=sys.stderr)
        try:
            frame = result.read(columns=[])
        except StoreError as err:
            raise ResultsError(str(err)) from err
        failed = frame[frame["error"] != ""]
        print(f"{spec.name}: {len(frame)} runs in {result.path}")
        if len(failed):
            first = failed.iloc[0]
            print(f"{len(failed)} run(s) failed; first: point {first['point']}, replication "
                  f"{first['replication']}: {first['error']}")
            return EXIT_FAILED_RUNS if len(failed) == len(frame) else EXIT_OK
        return EXIT_OK

    return run_command(args, sweep, prefix="cisim sweep", bad_input=(StoreError, SchedulerError),
                       interrupted=lambda: f"continue with: {resume()}")


def cmd_analyze(args: argparse.Namespace) -> int:
    """Handle ``cisim analyze``."""
    from cisim.sweep.store import StoreError

    return run_command(args, lambda: _analyze(args), prefix="cisim analyze",
                       bad_input=(StoreError,))


def _replaceable(directory: Path) -> bool:
    """An existing output directory may be replaced: it holds only an earlier analysis."""
    from cisim.io import holds_only
    from cisim.sweep.analyze import analysis_owned

    return holds_only(directory, analysis_owned)


def _analyze(args: argparse.Namespace) -> int:
    from cisim.io import write_directory, write_manifest
    from cisim.sweep.analyze import analyze
    from cisim.sweep.store import ResultStore

    store = ResultStore(args.store)
    if not store.exists():
        raise UsageError(f"{args.store} is not a sweep store (no spec.toml or sample.parquet)")
    discovery = None
    if args.discover:
        try:
            discovery = parse_rule(args.discover, args.probability)
        except ValueError as err:
            raise UsageError(f"--discover: {err}") from None
    outdir = Path(args.out) if args.out else store.path / "analysis"
    check_output_dir(outdir, _replaceable, option="--out", writer="cisim analyze")
    try:
        result = analyze(store, discovery=discovery, num_resamples=args.resamples)
    except ValueError as err:  # an outcome the store does not hold, ...
        raise UsageError(str(err)) from None
    try:  # whole: an interrupted analysis leaves the old directory, never a mix
        with write_directory(outdir, _replaceable) as tmp:
            files = result.write(tmp, figures=not args.no_figures)
            write_manifest(tmp, {"written_by": "cisim analyze", "store": str(args.store),
                                 "discover": args.discover, "probability": args.probability,
                                 "resamples": args.resamples})
    except OSError as err:
        raise ResultsError(f"cannot write to {outdir}: {err}") from err
    files = result.files = [outdir / f.relative_to(tmp) for f in files]
    print(format_analysis(result))
    print(f"\n{len(files)} files in {outdir}")
    return EXIT_OK


def parse_rule(text: str, probability: float) -> dict[str, object]:
    """``'outcome>5'`` or ``'outcome<0.2'`` -> a discovery threshold."""
    for op, key in ((">", "above"), ("<", "below")):
        if op in text:
            name, _, value = text.partition(op)
            try:
                level = float(value)
            except ValueError:
                raise ValueError(f"{text!r}: {value!r} is not a number") from None
            if not name.strip():
                raise ValueError(f"{text!r}: no outcome before {op!r}")
            return {"outcome": name.strip(), key: level, "probability": probability}
    raise ValueError(f"{text!r}: expected OUTCOME>VALUE or OUTCOME<VALUE")


def format_analysis(result: object) -> str:
    """A short text summary of an analysis: run counts, top parameters, discovery."""
    r = result  # SweepAnalysis
    lines = [f"{r.spec.name}: {r.method} analysis"]  # type: ignore[attr-defined]
    runs = r.runs[r.runs["time"].isna()]  # type: ignore[attr-defined]
    for _, row in runs.iterrows():
        extra = f"; {row['note']}" if row["note"] else ""
        lines.append(f"  {row['outcome']}: {row['runs']} runs, {row['failed']} failed, "
                     f"{row['nan']} NaN (excluded), {row['points_used']} points used{extra}")
    idx = r.indices  # type: ignore[attr-defined]
    key = "ST" if "ST" in set(idx["index"]) else ("mu_star" if "mu_star" in set(idx["index"])
                                                  else "S1")
    for outcome, g in idx[idx["index"] == key].groupby("outcome", sort=False):
        top = g.sort_values("value", ascending=False).head(3)
        desc = ", ".join(f"{p} {v:.2f}±{c:.2f}" for p, v, c in
                         zip(top["parameter"], top["value"], top["conf"], strict=True))
        lines.append(f"  {outcome}: largest {key}: {desc}")
    d = r.discovery  # type: ignore[attr-defined]
    if d is not None:
        lines.append(f"  discovery: {d.rule}; {int(d.points['of_interest'].sum())} of "
                     f"{len(d.points)} points")
        if d.note:
            lines.append(f"    {d.note}")
        elif len(d.prim_box):
            s = d.prim_trajectory.iloc[d.prim_selected]
            box = d.prim_box[d.prim_box["restricted"]]
            lims = "; ".join(f"{b['parameter']} in [{b['lower']:.3g}, {b['upper']:.3g}]"
                             if not b["values"] else f"{b['parameter']} in {{{b['values']}}}"
                             for _, b in box.iterrows())
            lines.append(f"    PRIM box (coverage {s['coverage']:.2f}, density "
                         f"{s['density']:.2f}): {lims or 'unrestricted'}")
    return "\n".join(lines)

