"""How many futures make the report's bands stable: the check behind DEFAULT_REPLICATIONS.

Runs the default design twice with independent master seeds (parameters drawn as in a default
report) and compares the 5th, 50th and 95th percentiles of population change against the
counterfactual at the horizon (year 10) between the two, for growing numbers of futures (the first
N replications of each; replication k does not depend on N). Because one pair of seeds is itself
a single noisy draw, it also gives the bootstrap expectation: the 90th percentile, over 2,000
resamples of two independent N-samples from the pooled futures, of the absolute difference. The
resamples draw whole parameter sets (the two futures that share a draw), since futures of one
set are not independent.

    .venv/bin/python experiments/futures_stability.py --size 2000 --max 120
    .venv/bin/python experiments/futures_stability.py --size 10000 --max 60 --counts 20 40 60

Prints a table; with ``--save FILE`` also writes the per-future values as JSON, which
``--load FILE`` analyses again without running anything.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
QS = (5, 50, 95)


def main() -> int:
    """Run the check and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=2000, help="population.size")
    ap.add_argument("--max", type=int, default=120, help="futures per master seed")
    ap.add_argument("--counts", type=int, nargs="*", default=None,
                    help="numbers of futures to compare (default: 10, 20, 40, ... up to --max)")
    ap.add_argument("--seeds", type=int, nargs=2, default=(101, 202))
    ap.add_argument("--jobs", type=int, default=-1)
    ap.add_argument("--save", type=Path, default=None)
    ap.add_argument("--load", type=Path, default=None)
    args = ap.parse_args()

    from cisim import ensemble, load_scenario
    from cisim.simulate import SEEDS_PER_DRAW

    values = {}
    if args.load:
        values = {int(k): np.asarray(v) for k, v in json.loads(args.load.read_text()).items()}
        args.seeds = list(values)
        args.max = min(len(v) for v in values.values())
    else:
        sc = load_scenario(ROOT / "scenarios" / "default.toml").with_overrides(
            {"population.size": args.size}, source="futures_stability")
        for s in args.seeds:
            t = time.perf_counter()
            res = ensemble(sc, args.max, seed=s, n_jobs=args.jobs)
            values[s] = res.summaries.sort_values("replication")[
                "population_change_vs_cf_final"].to_numpy(dtype=float)
            print(f"seed {s}: {args.max} futures in {time.perf_counter() - t:.0f} s", flush=True)
    a, b = (values[s] for s in args.seeds)
    pooled = np.concatenate([a, b])
    width = float(np.percentile(pooled, 95) - np.percentile(pooled, 5))
    print(f"\npopulation {args.size:,}; pooled 90% band width {width:.3f} pp "
          f"(p5 {np.percentile(pooled, 5):+.3f}, p50 {np.percentile(pooled, 50):+.3f}, "
          f"p95 {np.percentile(pooled, 95):+.3f})")
    counts = args.counts or [n for n in (10, 20, 40, 60, 80, 100, 120, 160, 200)
                             if n <= args.max]
    rng = np.random.default_rng(0)
    print(f"{'N':>4} " + " ".join(f"{'|d p' + str(q) + '|':>9}" for q in QS)
          + "   " + " ".join(f"{'boot90 p' + str(q):>11}" for q in QS) + "   (pp; / width)")
    s = SEEDS_PER_DRAW
    sets = np.concatenate([x[: x.size // s * s].reshape(-1, s) for x in (a, b)])
    for n in counts:
        d = [abs(np.percentile(a[:n], q) - np.percentile(b[:n], q)) for q in QS]
        i = rng.integers(0, sets.shape[0], size=(2000, 2, n // s))
        one, two = sets[i[:, 0]].reshape(2000, -1), sets[i[:, 1]].reshape(2000, -1)
        boot = [float(np.percentile(np.abs(np.percentile(one, q, axis=1)
                                           - np.percentile(two, q, axis=1)), 90))
                for q in QS]
        print(f"{n:>4} " + " ".join(f"{x:>9.3f}" for x in d) + "   "
              + " ".join(f"{x:>6.3f} ({x / width:.0%})" for x in boot))
    if args.save:
        args.save.write_text(json.dumps({str(k): v.tolist() for k, v in values.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
