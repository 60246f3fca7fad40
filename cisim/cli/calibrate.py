"""Command-line handler: ``cisim calibrate SPEC [--resume] [--out DIR] [--ship]``.

Bad input (an invalid spec or targets file, a missing file, a parameter without a prior, an
existing run without ``--resume``, a changed spec on ``--resume``) gives a message on stderr
naming the file and the field, and exit status 2, never a traceback. Rejection ABC that stops
at ``max_walltime_minutes`` before keeping every parameter set says how far it got and how to
continue, with exit status 130 (as an interrupted run: its finished batches are kept).
"""

from __future__ import annotations

import argparse
import logging
import sys

from cisim.cli._common import EXIT_INTERRUPTED, EXIT_OK, run_command

__all__ = ["add_parser", "cmd_calibrate"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``calibrate`` on the ``cisim`` command's subparsers."""
    p = subparsers.add_parser(
        "calibrate",
        help="calibrate assumed parameters against observed targets (ABC, resumable)",
        description="Approximate Bayesian computation (rejection ABC in stored batches, or "
        "ABC-SMC with pyabc) of the parameters a calibration spec names, against the "
        "role = calibration targets of its targets file; "
        "writes posterior.csv, posterior.json, posterior predictive checks (ppc.csv, ppc.txt) "
        "and a prior-vs-posterior figure. See docs/calibration.md.",
    )
    p.add_argument("spec", metavar="SPEC", help="calibration spec TOML file")
    p.add_argument("--out", metavar="DIR", default=None,
                   help="output directory (default: the spec's 'output', else "
                   "out/calibration/<name>)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run stored in the output directory (refused if the "
                   "spec, targets, scenario or priors changed)")
    p.add_argument("--ship", action="store_true",
                   help="afterwards copy posterior.csv and posterior.json into cisim/data, "
                   "where forecasts pick them up")
    p.add_argument("--no-figures", action="store_true", help="do not draw the figure")
    p.add_argument("--quiet", action="store_true", help="no per-generation log on stderr")
    p.set_defaults(func=cmd_calibrate)


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Handle ``cisim calibrate``."""
    from cisim.calibrate.run import CalibrationError, CalibrationIncompleteError

    out = args.out  # the spec's own output directory once it is read

    def calibrate() -> int:
        nonlocal out
        from cisim.calibrate.run import calibrate, ship, summary_of
        from cisim.calibrate.spec import load_calibration

        loaded = load_calibration(args.spec, output=args.out)
        out = str(loaded.output)
        eps = loaded.spec.epsilons
        if not (eps and len(eps) == 1):  # ABC-SMC: pyabc sets its logger's level on import
            import pyabc  # noqa: F401

        level = logging.WARNING if args.quiet else logging.INFO
        logging.getLogger("ABC").setLevel(level)
        mine = logging.getLogger("cisim.calibrate")
        if not mine.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
            mine.addHandler(handler)
        mine.setLevel(level)
        try:
            result = calibrate(loaded, resume=args.resume, figures=not args.no_figures)
        except CalibrationIncompleteError as err:
            print(f"cisim calibrate: {err}; {resume()}", file=sys.stderr)
            return EXIT_INTERRUPTED
        shipped = ship(result.output) if args.ship else []
        print(summary_of(result), end="")
        print(f"{len(result.files)} files in {result.output}")
        for path in shipped:
            print(f"shipped: {path}")
        return EXIT_OK

    def resume() -> str:
        return ("finished generations (rejection ABC: batches) are kept. Continue with: "
                f"cisim calibrate {args.spec} --resume" + (f" --out {out}" if args.out else ""))

    return run_command(args, calibrate, prefix="cisim calibrate", bad_input=(CalibrationError,),
                       interrupted=resume)
