"""Run the validation study over several seeds: ``python -m experiments.validation``.

Each seed is a fresh study: the seed drives the Latin hypercube of designs and every run's seed
(:mod:`.study`), and its runs go to ``<out>/seed-<S>/`` (resumable with ``--resume``). Every
seed is judged against the criteria fixed in ``criteria.toml`` (:mod:`.criteria`), whose copy
and SHA-256 the run records; a pattern holds only if it holds in every seed (:mod:`.results`).
Writes ``validation_results.json``, ``patterns.csv`` and ``summary.txt`` to ``<out>`` and each
seed's table, summary and figures to its subdirectory. Results go outside the source tree by
default (the system's temporary directory); ``--results-for-docs`` also writes the results to
``docs/validation_results.json`` and the figures to ``docs/figures/validation/``; then
``python -m experiments.validation.docs docs/validation_results.json > docs/validation.md``.
Pattern-oriented modelling: Grimm et al. 2005.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cisim.io import write_atomic, write_text_atomic

if TYPE_CHECKING:
    from .patterns import PatternResult
    from .study import StudyConfig, StudyData

ROOT = Path(__file__).resolve().parents[2]
DOCS_FIGURES = ROOT / "docs" / "figures" / "validation"
DOCS_RESULTS = ROOT / "cisim" / "data" / "validation_results.json"  # docs/ links to it

#: Number of seeds by default (``--seeds N`` runs the study seeds 1..N).
DEFAULT_SEED_COUNT = 3


def default_seeds(n: int) -> list[int]:
    """The fresh default seeds: 1..n (never used to choose a default; that sample was 2005)."""
    return list(range(1, n + 1))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.validation", description=__doc__.splitlines()[0],
        epilog=f"Without --seed or --seeds the study runs --seeds {DEFAULT_SEED_COUNT}, i.e. "
               "seeds 1, 2 and 3.")
    parser.add_argument("--seed", type=int, action="append", default=None, metavar="S",
                        help="a study seed (repeat for several); drives both the sample of "
                             "designs and the runs' seeds")
    parser.add_argument("--seeds", type=int, default=None, metavar="N",
                        help=f"run the N fresh default seeds 1..N (default {DEFAULT_SEED_COUNT})")
    parser.add_argument("--quick", action="store_true", help="the reduced study (minutes)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output directory (default: <tmp>/cisim-validation[-quick])")
    parser.add_argument("--designs", type=int, default=None, help="override: designs per seed")
    parser.add_argument("--paired", type=int, default=None,
                        help="override: designs run with and without systems change, per seed")
    parser.add_argument("--criteria", type=Path, default=None,
                        help="criteria file (default: experiments/validation/criteria.toml)")
    parser.add_argument("--horizon-years", type=float, default=None,
                        help="override the 10-year horizon (tests only: the patterns are "
                             "defined on 10 years)")
    parser.add_argument("--population-size", type=int, default=None,
                        help="override the 10,000 beneficiaries (tests only)")
    parser.add_argument("--assumptions", choices=("posterior-median", "defaults"),
                        default="posterior-median",
                        help="assumed constants of every design: the shipped calibrated "
                             "posterior's medians (the default; the schema defaults when no "
                             "posterior is shipped) or the schema defaults")
    parser.add_argument("--jobs", type=int, default=2, help="parallel workers (default 2)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run")
    parser.add_argument("--figures-for-docs", action="store_true",
                        help=f"also write the first seed's figures to {DOCS_FIGURES}")
    parser.add_argument("--results-for-docs", action="store_true",
                        help=f"also write {DOCS_RESULTS} and the figures to {DOCS_FIGURES}")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def _seeds(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[int]:
    if args.seed is not None and args.seeds is not None:
        parser.error("give either --seed (repeatable) or --seeds N, not both")
    if args.seeds is not None and args.seeds < 1:
        parser.error(f"--seeds must be at least 1 (got {args.seeds})")
    seeds = args.seed if args.seed is not None else default_seeds(
        args.seeds if args.seeds is not None else DEFAULT_SEED_COUNT)
    bad = [s for s in seeds if s < 0]
    if bad:
        parser.error(f"--seed must be a non-negative integer (got {bad[0]})")
    if len(set(seeds)) != len(seeds):
        parser.error(f"--seed given twice: {sorted(s for s in seeds if seeds.count(s) > 1)[0]}")
    return seeds


def _fix_criteria(out: Path, criteria_path: Path, text: str) -> str | None:
    """Keep a copy of the criteria in ``out``; an error message if the runs used others."""
    copy = out / "criteria.toml"
    if copy.exists():
        if copy.read_text(encoding="utf-8") != text:
            return (f"{copy}: the runs in {out} were started under other criteria than "
                    f"{criteria_path}; judge them with --criteria {copy}, or start a new --out "
                    "(criteria are fixed before a run)")
        return None
    write_text_atomic(copy, text)
    return None


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    seeds = _seeds(parser, args)

    from dataclasses import replace

    import pandas as pd

    from cisim.sweep.store import StoreError

    from .criteria import CRITERIA_FILE, CriteriaError
    from .figures import save_figures, save_seed_figure
    from .patterns import check_all, default_criteria
    from .results import build_results, write_results
    from .study import QUICK, StudyConfig, run_study

    criteria_path = args.criteria or CRITERIA_FILE
    try:
        criteria = default_criteria(criteria_path)
    except CriteriaError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    config = QUICK if args.quick else StudyConfig()
    config = replace(config, jobs=args.jobs)
    if args.assumptions == "posterior-median":
        from cisim.priors import posterior_median

        config = replace(config, assumptions=tuple(sorted(posterior_median().items())))
    for flag, field in (("designs", "designs"), ("paired", "paired_designs"),
                        ("horizon_years", "horizon_years"),
                        ("population_size", "population_size")):
        if getattr(args, flag) is not None:
            config = replace(config, **{field: getattr(args, flag)})
    if config.designs < 4 or config.paired_designs < 2:
        parser.error("--designs must be at least 4 and --paired at least 2")
    if config.horizon_years < 1 or config.population_size < 10:
        parser.error("--horizon-years must be at least 1 and --population-size at least 10")
    if args.jobs < 1 and args.jobs != -1:
        parser.error("--jobs must be positive (or -1 for all cores)")
    out = args.out or Path(tempfile.gettempdir()) / (
        "cisim-validation-quick" if args.quick else "cisim-validation")
    busy = [s for s in seeds if (out / f"seed-{s}" / "population").exists()]
    if busy and not args.resume:
        print(f"error: {out / f'seed-{busy[0]}'} already holds a study; use --resume or "
              "another --out", file=sys.stderr)
        return 2
    problem = _fix_criteria(out, Path(criteria_path), Path(criteria_path).read_text("utf-8"))
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2

    by_seed, lines, tables = {}, [], []
    for seed in seeds:
        sub = out / f"seed-{seed}"
        t0 = time.perf_counter()
        try:
            data = run_study(sub, replace(config, seed=seed), resume=args.resume,
                             progress=not args.no_progress)
        except (StoreError, RuntimeError) as err:  # another study's store; failed runs
            print(f"error: {sub}: {err}", file=sys.stderr)
            return 2
        t_run = time.perf_counter() - t0
        results = check_all(data, criteria)
        by_seed[seed] = results
        table = pd.DataFrame([{"seed": seed, **r.row()} for r in results])
        tables.append(table)
        write_atomic(sub / "patterns.csv", lambda t, table=table: table.to_csv(t, index=False))
        text = _seed_summary(seed, data, results, t_run)
        write_text_atomic(sub / "summary.txt", text)
        lines.append(text)
        save_figures(data, results, criteria, sub / "figures")
        if seed == seeds[0] and (args.figures_for_docs or args.results_for_docs):
            save_figures(data, results, criteria, DOCS_FIGURES)

    doc = build_results(criteria, by_seed, config.designs)
    write_results(out / "validation_results.json", doc)
    all_rows = pd.concat(tables, ignore_index=True)
    write_atomic(out / "patterns.csv", lambda t: all_rows.to_csv(t, index=False))
    summary = _summary(doc, config) + "\n" + "\n".join(lines)
    write_text_atomic(out / "summary.txt", summary)
    save_seed_figure(doc, out / "patterns_by_seed.png")
    if args.results_for_docs:
        write_results(DOCS_RESULTS, doc)
        save_seed_figure(doc, DOCS_FIGURES / "patterns_by_seed.png")
    print(summary)
    print(f"results in {out}")
    if args.results_for_docs:
        print(f"wrote {DOCS_RESULTS}; now: python -m experiments.validation.docs "
              f"docs/validation_results.json > docs/validation.md")
    return 0


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3g}"


def _summary(doc: dict[str, Any], config: StudyConfig) -> str:
    pats = doc["patterns"]
    held = sum(p["holds"] for p in pats)
    lines = [f"validation study: seeds {', '.join(map(str, doc['seeds']))}; "
             f"{doc['designs_per_seed']} designs and {config.paired_designs} paired per seed; "
             f"criteria sha256 {doc['criteria_sha256']}",
             "assumed constants: " + (", ".join(f"{k} = {v:.4g}" for k, v in config.assumptions)
                                      + " (calibrated posterior medians), the rest at the schema "
                                      "defaults" if config.assumptions else "the schema defaults"),
             f"{held} of {len(pats)} patterns hold in every seed "
             f"(calibration targets: {sum(p['holds'] for p in pats if p['role'] == 'calibration')}"
             f" of {sum(p['role'] == 'calibration' for p in pats)}; held out: "
             f"{sum(p['holds'] for p in pats if p['role'] == 'held_out')} of "
             f"{sum(p['role'] == 'held_out' for p in pats)})", ""]
    for p in pats:
        lines.append(f"{'HOLDS' if p['holds'] else 'FAILS'} {p['id']} ({p['role']}): "
                     f"{p['criterion']}")
        for s in p["per_seed"]:
            lo, hi = s["interval"]
            lines.append(f"    seed {s['seed']}: {_fmt(s['value'])} [{_fmt(lo)}, {_fmt(hi)}] "
                         f"{'holds' if s['holds'] else 'fails'}")
    return "\n".join(lines) + "\n"


def _seed_summary(seed: int, data: StudyData, results: list[PatternResult], t_run: float
                  ) -> str:
    lines = [f"seed {seed}: {len(data.population)} designs, {len(data.paired)} paired; "
             f"running (or reading) the runs took {t_run:.0f} s"]
    for r in results:
        lines.append(f"{'HOLDS ' if r.holds else 'FAILS '} {r.key}: {r.value:.3g} "
                     f"[{r.interval[0]:.3g}, {r.interval[1]:.3g}] (n={r.n})")
        for k, v in r.details.items():
            if k in ("table", "first_years"):
                continue
            lines.append(f"        {k}: {v}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
