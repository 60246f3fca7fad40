"""Run the sensitivity study: ``python -m experiments.sensitivity [--quick] [--out DIR] ...``.

Runs (or resumes) the population-size check, the timing of one run, the design-levers Sobol
sweep and the assumptions' Morris screening and Sobol step with :mod:`cisim.sweep`, analyses
them and writes ``sensitivity.md`` with its figures into the output directory; ``--docs`` also
writes them to ``docs/sensitivity.md`` and ``docs/figures/sensitivity/``. Results go outside the
source tree by default (the system's temporary directory).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "sensitivity.md"
DOCS_FIGURES = ROOT / "docs" / "figures" / "sensitivity"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m experiments.sensitivity",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="the smoke test: tiny samples, short horizon, tiny population")
    parser.add_argument("--out", type=Path, default=None,
                        help="output directory (default: <tmp>/cisim-sensitivity[-quick])")
    parser.add_argument("--jobs", type=int, default=1, help="parallel workers (default 1)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run")
    parser.add_argument("--study", choices=["levers", "assumptions", "all", "check"],
                        default="all", help="which study to run (check: only the population "
                        "check and the timing; default all)")
    parser.add_argument("--docs", action="store_true",
                        help=f"also write {DOCS.relative_to(ROOT)} and its figures")
    parser.add_argument("--no-progress", action="store_true", help="no progress output")
    parser.add_argument("--sync-assumptions", action="store_true",
                        help="rewrite the parameter list of experiments/sensitivity/"
                        "assumptions.toml from the priors table's sampled priors, and stop")
    parser.add_argument("--sync-levers", action="store_true",
                        help="rewrite the fixed assumptions of experiments/sensitivity/"
                        "levers.toml from the shipped posterior's medians, and stop")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")

    from cisim.sweep import StoreError, SweepSpecError

    from .report import write_report
    from .study import ASSUMPTIONS_SPEC, QUICK, StudyConfig, StudyError, run_study

    if args.sync_assumptions or args.sync_levers:
        from .study import LEVERS_SPEC, sync_assumptions_spec, sync_levers_spec

        for wanted, sync, path in ((args.sync_assumptions, sync_assumptions_spec,
                                    ASSUMPTIONS_SPEC),
                                   (args.sync_levers, sync_levers_spec, LEVERS_SPEC)):
            if not wanted:
                continue
            try:
                changed = sync()
            except StudyError as err:
                print(f"error: {err}", file=sys.stderr)
                return 2
            print(f"{path}: {'rewritten' if changed else 'already up to date'}")
        return 0

    config = replace(QUICK if args.quick else StudyConfig(), jobs=args.jobs)
    out = args.out or Path(tempfile.gettempdir()) / (
        "cisim-sensitivity-quick" if args.quick else "cisim-sensitivity")

    def say(msg: str) -> None:
        if not args.no_progress:
            print(msg, file=sys.stderr, flush=True)

    try:
        run_study(out, config, args.study, resume=args.resume, progress=say,
                  bar=not args.no_progress)
    except (StoreError, SweepSpecError, StudyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"error: --out {out}: {err.strerror or err}", file=sys.stderr)
        return 2
    written = write_report(out, config, out / "sensitivity.md", out / "figures", "figures")
    if args.docs:
        written += write_report(out, config, DOCS, DOCS_FIGURES, "figures/sensitivity")
    for p in written:
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
