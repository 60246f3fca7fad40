"""One benchmark measurement, run in its own process by :mod:`benchmarks.run`.

``python -m benchmarks._worker KIND JSON_ARGS`` prints one JSON object on its last stdout line.
Each measurement runs in a fresh process so that its peak memory (``ru_maxrss``), its numba
threads (``NUMBA_NUM_THREADS``) and its numba cache (``NUMBA_CACHE_DIR``) are its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "scenarios" / "default.toml"
NAMED_PARTNERS = 8  # partners listed by name in scenarios/default.toml


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


def scenario(beneficiaries: int, partners: int | None = None, years: float | None = None,
             mesa_agents: int | None = None):
    """The default design at a given population, partner count and horizon."""
    from cisim import load_scenario

    sc = load_scenario(DEFAULT)
    over: dict[str, Any] = {"population.size": int(beneficiaries)}
    if partners is not None:
        extra = int(partners) - NAMED_PARTNERS
        if extra < 0:
            raise ValueError(f"at least {NAMED_PARTNERS} partners (the named ones)")
        sectors = ["nonprofit", "private", "community", "public", "academia", "philanthropy"]
        shares = [0.4, 0.25, 0.2, 0.1, 0.03, 0.02]
        counts = {s: int(extra * f) for s, f in zip(sectors, shares, strict=True)}
        counts["nonprofit"] += extra - sum(counts.values())
        over["partner_generation.counts"] = {k: v for k, v in counts.items() if v}
    if years is not None:
        over["horizon_years"] = float(years)
    if mesa_agents is not None:
        over["population.mesa_agents"] = int(mesa_agents)
    return sc.with_overrides(over, source="benchmark")


def _median_step(model, steps: int) -> float:
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        model.step()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def speedup(n: int, engine_steps: int, reference_steps: int) -> dict:
    """Agent-steps per second of the engine and of the plain-Mesa reference at ``n``."""
    import numpy as np

    from benchmarks.reference import ReferenceModel, capture_inputs
    from cisim import CollectiveImpactModel

    sc = scenario(n)
    model = CollectiveImpactModel(sc, rng=1)
    for _ in range(3):  # warm up (compilation is cached, but the first calls load it)
        model.step()
    agents = n + model.factual.partners.n
    engine_step = _median_step(model, engine_steps)
    pop = model.population
    wp = np.stack([model._world_row(w, world) for w, world in enumerate(model.worlds)])
    cov = np.stack([world.coverage for world in model.worlds])
    kernel_times = []
    for k in range(engine_steps):
        t = time.perf_counter()
        pop.step(model.kseed, model.steps + 1 + k, wp, cov)
        kernel_times.append(time.perf_counter() - t)
    kernel_step = statistics.median(kernel_times)
    t = time.perf_counter()
    ref = ReferenceModel.from_engine(model, capture_inputs(model))
    build = time.perf_counter() - t
    ref_step = _median_step(ref, reference_steps)
    return dict(
        beneficiaries=n, agents=agents, engine_step_s=engine_step, kernel_step_s=kernel_step,
        reference_step_s=ref_step, reference_build_s=build,
        engine_agent_steps_per_s=agents / engine_step,
        reference_agent_steps_per_s=agents / ref_step,
        ratio=ref_step / engine_step, kernel_ratio=ref_step / kernel_step,
        reference_steps=reference_steps, engine_steps=engine_steps,
    )


def ladder(n: int, partners: int, years: float) -> dict:
    """Wall time and peak memory of one run of ``years`` at ``n`` beneficiaries."""
    from cisim import CollectiveImpactModel
    from cisim.simulate import result_of

    rss0 = _peak_rss_mb()
    t0 = time.perf_counter()
    c0 = time.process_time()
    model = CollectiveImpactModel(scenario(n, partners, years), rng=1)
    t1 = time.perf_counter()
    while model.running:
        model.step()
    t2 = time.perf_counter()
    result_of(model)
    t3 = time.perf_counter()
    return dict(
        beneficiaries=n, partners=model.factual.partners.n, years=years, steps=model.steps,
        build_s=t1 - t0, run_s=t2 - t1, results_s=t3 - t2, wall_s=t3 - t0,
        cpu_s=time.process_time() - c0, peak_rss_mb=_peak_rss_mb(), import_rss_mb=rss0,
    )


def compile_time() -> dict:
    """Import, first tiny run (compiles or loads every kernel) and a second, warm, run."""
    t0 = time.perf_counter()
    import cisim
    from cisim import simulate

    t1 = time.perf_counter()
    sc = scenario(300, years=0.25)
    simulate(sc, 1)
    t2 = time.perf_counter()
    simulate(sc, 2)
    t3 = time.perf_counter()
    del cisim
    return dict(import_s=t1 - t0, first_run_s=t2 - t1, second_run_s=t3 - t2,
                compile_s=(t2 - t1) - (t3 - t2),
                cache_dir=os.environ.get("NUMBA_CACHE_DIR", ""))


#: Calls of an ensemble or a sweep timed after the first (the pool already up): their median
#: is the warm figure. One such call of 8 runs takes ~0.3-0.6 s, and on a quiet two-core host
#: the same call read 0.31-0.48 s in consecutive calls, so one call is no measurement.
WARM_CALLS = 5


def ensemble_time(n: int, replications: int, n_jobs: int, years: float) -> dict:
    """Wall time of an ensemble: the first call (starting the worker pool), then warm calls."""
    from cisim import ensemble

    sc = scenario(n, years=years)
    times = []
    digest = ""
    for _ in range(1 + WARM_CALLS):
        t = time.perf_counter()
        res = ensemble(sc, replications, seed=5, n_jobs=n_jobs, parameters="seed_only")
        times.append(time.perf_counter() - t)
        digest = _digest(res.trajectories)
    return dict(beneficiaries=n, replications=replications, n_jobs=n_jobs, years=years,
                first_s=times[0], warm_s=statistics.median(times[1:]), warm_all=times[1:],
                digest=digest)


def report_time(replications: int | None = None, n: int | None = None) -> dict:
    """Wall time of ``cisim report scenarios/default.toml`` (all cores), split into its parts.

    The ensemble (with parameter draws, the default) and the HTML report are timed separately in
    one process, as the command runs them; ``n`` overrides the population size.
    """
    t = time.perf_counter()
    from cisim import load_scenario
    from cisim.report.html import report_html
    from cisim.simulate import DEFAULT_REPLICATIONS, ensemble

    import_s = time.perf_counter() - t
    reps = int(replications or DEFAULT_REPLICATIONS)
    sc = load_scenario(DEFAULT)
    if n is not None:
        sc = sc.with_overrides({"population.size": int(n)}, source="benchmark")
    t = time.perf_counter()
    res = ensemble(sc, reps, seed=0, n_jobs=-1)
    ensemble_s = time.perf_counter() - t
    t = time.perf_counter()
    html = report_html(res, seed=0, source=str(DEFAULT))
    report_s = time.perf_counter() - t
    return dict(replications=reps, beneficiaries=sc.population.size, cores=os.cpu_count(),
                import_s=import_s, ensemble_s=ensemble_s, report_s=report_s,
                total_s=import_s + ensemble_s + report_s, per_future_s=ensemble_s / reps,
                html_mb=len(html) / 1e6, kind=res.distribution["kind"])


def sweep_time(n: int, points: int, jobs: int, years: float) -> dict:
    """Wall time of a small Latin-hypercube sweep of the engine with ``cisim.sweep``.

    Timed as :func:`ensemble_time` times an ensemble: the first call, then the warm calls.
    """
    try:
        from cisim.sweep import CisimModel, sweep_function
    except ImportError as exc:  # pragma: no cover - depends on the tree
        return dict(error=f"cisim.sweep unavailable: {exc}")
    sc = scenario(n, years=years)
    model = CisimModel(sc, {"intensity": "engagement.intensity"},
                       ["population_change_vs_cf_final"])
    times = []
    for _ in range(1 + WARM_CALLS):
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            store = sweep_function(model, {"intensity": [0.1, 0.9]}, Path(tmp) / "store",
                                   sampler="latin", n=points, jobs=jobs)
            times.append(time.perf_counter() - t)
            frame = store.read().sort_values(["point", "replication"]).reset_index(drop=True)
            digest = _digest(frame)
    return dict(beneficiaries=n, points=points, jobs=jobs, years=years, first_s=times[0],
                warm_s=statistics.median(times[1:]), warm_all=times[1:], digest=digest)


def run_cost(n: int, runs: int, reference_steps: int) -> dict:
    """One default run's wall time against one step of the plain-Mesa reference, in one process.

    The median over ``runs`` runs (seeds 1, 2, ...) of building the model and stepping it to the
    horizon, and of that plus packaging the results (:func:`cisim.simulate.result_of`), after a
    warm-up run; then the median step of the reference model built from the last run's state.
    """
    from benchmarks.reference import ReferenceModel, capture_inputs
    from cisim import CollectiveImpactModel
    from cisim.simulate import result_of

    sc = scenario(n, mesa_agents=0)
    warm = CollectiveImpactModel(sc, rng=0)
    while warm.running:
        warm.step()
    result_of(warm)
    run_times, result_times, cpu_times = [], [], []
    model = warm
    for r in range(runs):
        t = time.perf_counter()
        c = time.process_time()
        model = CollectiveImpactModel(sc, rng=1 + r)
        while model.running:
            model.step()
        t1 = time.perf_counter()
        cpu_times.append(time.process_time() - c)
        result_of(model)
        run_times.append(t1 - t)
        result_times.append(time.perf_counter() - t)
    ref = ReferenceModel.from_engine(model, capture_inputs(model))
    ref_step = _median_step(ref, reference_steps)
    run_s = statistics.median(run_times)
    return dict(beneficiaries=n, runs=runs, steps=model.steps, run_s=run_s,
                run_cpu_s=statistics.median(cpu_times),
                run_with_results_s=statistics.median(result_times), runs_per_s=1.0 / run_s,
                reference_step_s=ref_step, reference_steps=reference_steps,
                run_in_reference_steps=run_s / ref_step)


SOBOL_SPEC = ROOT / "benchmarks" / "sobol_10.toml"


def sobol_slice(n_base: int, jobs: int, runs_per_task: int | None = None,
                beneficiaries: int | None = None) -> dict:
    """``cisim sweep`` of benchmarks/sobol_10.toml at base sample size ``n_base``, end to end.

    The spec is copied with ``sampler.n = n_base`` (and the population size, if given) and
    run by the ``cisim sweep`` command in a subprocess with ``--jobs``, timed from start to
    exit: spec check, sampling, worker start-up, the runs, the Parquet store.
    """
    import subprocess
    import tomllib

    text = SOBOL_SPEC.read_text()
    spec = tomllib.loads(text)
    k = len(spec["parameters"])
    second = spec["sampler"].get("calc_second_order", True)
    runs = n_base * (2 * k + 2 if second else k + 2) * int(spec.get("replications", 1))
    text = text.replace('base = "../scenarios/default.toml"', f'base = "{DEFAULT.as_posix()}"')
    text = text.replace("\nn = 1024\n", f"\nn = {int(n_base)}\n")
    if beneficiaries is not None:
        text = text.replace('"population.size" = 10000', f'"population.size" = {beneficiaries}')
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sobol_slice.toml"
        path.write_text(text)
        cmd = [sys.executable, "-c", "import sys; from cisim.cli import main; "
               "raise SystemExit(main(sys.argv[1:]))", "sweep", str(path), "--out",
               str(Path(tmp) / "store"), "--jobs", str(jobs), "--no-progress"]
        if runs_per_task is not None:
            cmd += ["--runs-per-task", str(runs_per_task)]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # the command's CPU and that of the workers it reaped (loky reaps its workers at exit)
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        if proc.returncode != 0:
            return dict(error=f"cisim sweep exit {proc.returncode}: {proc.stderr[-400:]}")
    return dict(n_base=n_base, parameters=k, runs=runs, jobs=jobs, runs_per_task=runs_per_task,
                wall_s=wall, cpu_s=cpu, runs_per_s=runs / wall)


def _digest(frame) -> str:
    import pandas as pd

    frame = frame.sort_index(axis=1)
    h = pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes()
    return hashlib.sha256(h).hexdigest()[:16]


def trajectory_digest(n: int, years: float, seed: int) -> dict:
    """A hash of one run's trajectory (compared across thread counts)."""
    import numba

    from cisim import simulate

    res = simulate(scenario(n, years=years), seed)
    return dict(beneficiaries=n, seed=seed, threads=numba.get_num_threads(),
                digest=_digest(res.trajectory))


KINDS = {
    "speedup": speedup,
    "ladder": ladder,
    "compile": compile_time,
    "ensemble": ensemble_time,
    "sweep": sweep_time,
    "report": report_time,
    "digest": trajectory_digest,
    "run": run_cost,
    "sobol": sobol_slice,
}


def main(argv: list[str]) -> int:
    kind, args = argv[0], json.loads(argv[1]) if len(argv) > 1 else {}
    out = KINDS[kind](**args)
    out["peak_rss_mb"] = out.get("peak_rss_mb", _peak_rss_mb())
    sys.stdout.write("\n" + json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
