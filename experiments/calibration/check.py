"""Check the default scenario's forecast against the criteria fixed before calibration.

``python -m experiments.calibration.check [-n 100] [--seed S]`` runs the default scenario with
parameters drawn from the model's parameter distribution (the shipped calibrated posterior, the
other assumptions from their priors) and reports, with the criteria written down in advance:

* timing: at most 10% of futures show sustained change (1 pp against the counterfactual, held for
  a year) before year 3 (ORS Impact & Spark Policy Institute 2018: no site under three years old
  showed population change);
* magnitude: the median population change at year 10 lies within 1-6 pp, the range that
  community-level randomised evidence supports (Communities That Care: Hawkins et al. 2012;
  Kuklinski et al. 2021: absolute improvements of 3.5-6.1 points and +1.9 points in college
  completion);
* equity: without an equity focus (``engagement.equity_focus = 0``), the equity gap narrows no more
  on a log-odds scale than in the counterfactual: the median of the factual log-odds gap minus the
  counterfactual's at the horizon is not below zero by more than its 90% bootstrap interval's
  half-width (the relative scale declared in advance, after the ORS study's "equity outcomes
  followed an equity focus").
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from cisim import ensemble, load_scenario
from cisim.model import DEFAULT_SCENARIO

EARLY_YEAR, EARLY_MAX_SHARE = 3.0, 0.10
MAGNITUDE_PP = (1.0, 6.0)


def _median_ci(values: np.ndarray, seed: int, level: float = 0.9) -> tuple[float, float, float]:
    rng = np.random.default_rng(seed)
    boots = [np.median(rng.choice(values, values.size)) for _ in range(2000)]
    lo, hi = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2])
    return float(np.median(values)), float(lo), float(hi)


def main(argv: list[str] | None = None) -> int:
    """Run the check; the exit code is 0 when every criterion holds, 1 otherwise."""
    parser = argparse.ArgumentParser(prog="python -m experiments.calibration.check",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100, help="futures (default 100)")
    parser.add_argument("--seed", type=int, default=20261130, help="master seed")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    if args.n < 10:
        parser.error("-n must be at least 10")
    sc = load_scenario(DEFAULT_SCENARIO)
    runs = ensemble(sc, replications=args.n, seed=args.seed, n_jobs=args.jobs)
    s = runs.summaries
    early = float((s["first_significant_change_year"] < EARLY_YEAR).mean())
    med, lo, hi = _median_ci(s["population_change_vs_cf_final"].to_numpy(float), args.seed)
    no_focus = sc.with_overrides({"engagement.equity_focus": 0.0}, source="check")
    eq = ensemble(no_focus, replications=args.n, seed=args.seed, n_jobs=args.jobs).summaries
    gap = eq["equity_gap_logodds_vs_cf_final"].to_numpy(float)
    g_med, g_lo, g_hi = _median_ci(gap, args.seed)
    checks = [
        (early <= EARLY_MAX_SHARE,
         f"timing: {early:.0%} of {args.n} futures show sustained change before year "
         f"{EARLY_YEAR:g} (criterion: at most {EARLY_MAX_SHARE:.0%})"),
        (MAGNITUDE_PP[0] <= med <= MAGNITUDE_PP[1],
         f"magnitude: median population change at year 10 {med:.2f} pp (90% CI of the median "
         f"{lo:.2f} to {hi:.2f}; criterion: within {MAGNITUDE_PP[0]:g}-{MAGNITUDE_PP[1]:g} pp)"),
        (g_hi >= 0.0,
         f"equity without focus: log-odds gap, factual minus counterfactual, at year 10: median "
         f"{g_med:+.3f} (90% CI {g_lo:+.3f} to {g_hi:+.3f}; criterion: not below zero)"),
    ]
    print(f"default scenario, {args.n} futures, parameters from: "
          f"{runs.distribution.get('source', '?')}")
    for ok, text in checks:
        print(f"{'HOLDS' if ok else 'FAILS'}  {text}")
    return 0 if all(ok for ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
