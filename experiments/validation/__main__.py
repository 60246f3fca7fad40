"""Run the validation study: ``python -m experiments.validation [--quick] [--out DIR]``.

Samples the population of initiatives (:mod:`.designs`), runs it with :mod:`cisim.sweep`
(:mod:`.study`), checks every pattern (:mod:`.patterns`) and writes ``patterns.csv``, a text
summary and one PNG per pattern. Results go outside the source tree by default (the system's
temporary directory); ``--figures-for-docs`` also writes the figures to
``docs/figures/validation/`` for ``docs/validation.md``. Pattern-oriented modelling: Grimm et
al. 2005.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from cisim.io import write_atomic, write_text_atomic

DOCS_FIGURES = Path(__file__).resolve().parents[2] / "docs" / "figures" / "validation"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m experiments.validation",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the reduced study (minutes)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output directory (default: <tmp>/cisim-validation[-quick])")
    parser.add_argument("--designs", type=int, default=None, help="override: sampled designs")
    parser.add_argument("--paired", type=int, default=None,
                        help="override: designs run with and without systems change")
    parser.add_argument("--jobs", type=int, default=2, help="parallel workers (default 2)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run")
    parser.add_argument("--figures-for-docs", action="store_true",
                        help=f"also write the figures to {DOCS_FIGURES}")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    from dataclasses import replace

    from .figures import save_figures
    from .patterns import check_all
    from .study import QUICK, StudyConfig, run_study

    config = QUICK if args.quick else StudyConfig()
    config = replace(config, jobs=args.jobs)
    if args.designs is not None:
        config = replace(config, designs=args.designs)
    if args.paired is not None:
        config = replace(config, paired_designs=args.paired)
    if config.designs < 4 or config.paired_designs < 2:
        parser.error("--designs must be at least 4 and --paired at least 2")
    out = args.out or Path(tempfile.gettempdir()) / (
        "cisim-validation-quick" if args.quick else "cisim-validation")
    if (out / "population").exists() and not args.resume:
        print(f"error: {out} already holds a study; use --resume or another --out",
              file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    data = run_study(out, config, resume=args.resume, progress=not args.no_progress)
    t_run = time.perf_counter() - t0
    results = check_all(data)
    import pandas as pd

    table = pd.DataFrame([r.row() for r in results])
    write_atomic(out / "patterns.csv", lambda t: table.to_csv(t, index=False))
    lines = [f"validation study: {len(data.population)} designs, {len(data.paired)} paired; "
             f"running (or reading) the runs took {t_run:.0f} s", ""]
    for r in results:
        lines.append(f"{'HOLDS ' if r.holds else 'FAILS '} {r.key}: {r.value:.3g} "
                     f"[{r.interval[0]:.3g}, {r.interval[1]:.3g}] (n={r.n}); "
                     f"criterion: {r.criterion}")
        for k, v in r.details.items():
            if k in ("table", "first_years"):
                continue
            lines.append(f"        {k}: {v}")
    text = "\n".join(lines) + "\n"
    write_text_atomic(out / "summary.txt", text)
    save_figures(data, results, out / "figures")
    if args.figures_for_docs:
        save_figures(data, results, DOCS_FIGURES)
    print(text)
    print(f"results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
