"""cisim benchmarks: speed-up over a plain-Mesa reference, scale ladder, start-up, parallelism.

Run from the repository root::

    .venv/bin/python -m benchmarks            # the full set (about 5 min on 2 quiet cores)
    .venv/bin/python -m benchmarks --quick    # a fast subset (a few minutes)

Every measurement runs in its own subprocess (:mod:`benchmarks._worker`), so each has its own
peak memory, numba thread count and numba cache. One-core figures run with
``NUMBA_NUM_THREADS=1``. The table is printed and the raw figures are written as JSON to
``--out`` (default in the system temp directory: nothing is written into the tree). The goals
are listed in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

GOALS = {
    "speedup_100k": 150.0,
    "million_wall_s": 10.0,
    "million_rss_mb": 2048.0,
    "cold_compile_s": 3.0,
    "warm_compile_s": 0.5,
    "efficiency": 0.85,
    "report_s": 30.0,
    "run_in_reference_steps": 1.0,
    "run_2000_s": 0.040,
    "sobol_22528_2_cores_min": 15.0,
}

#: Runs of the Sobol study the runs-per-second line extrapolates to (benchmarks/sobol_10.toml:
#: N = 1,024, k = 10, second-order indices: N (2k + 2)).
SOBOL_RUNS = 1024 * 22


# ---- running one measurement --------------------------------------------------------------------


def measure(kind: str, args: dict[str, Any] | None = None, *, threads: int | None = 1,
            env: dict[str, str] | None = None, timeout: float = 1800) -> dict[str, Any]:
    """Run one measurement in a fresh Python process and return its JSON result."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    if threads is not None:
        full_env["NUMBA_NUM_THREADS"] = str(threads)
    full_env.update(env or {})
    cmd = [sys.executable, "-m", "benchmarks._worker", kind, json.dumps(args or {})]
    proc = subprocess.run(cmd, cwd=ROOT, env=full_env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return {"error": f"{kind} {args} failed (exit {proc.returncode}): " + " | ".join(tail)}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _median(runs: list[dict[str, Any]], key: str) -> float:
    vals = [r[key] for r in runs if key in r]
    return statistics.median(vals) if vals else float("nan")


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---- the measurements ---------------------------------------------------------------------------


def bench_speedup(sizes: list[int], repeats: int) -> list[dict[str, Any]]:
    rows = []
    for n in sizes:
        ref_steps = 2 if n >= 100_000 else 3
        _log(f"speed-up at {n:,} beneficiaries ...")
        runs = [measure("speedup", dict(n=n, engine_steps=20, reference_steps=ref_steps))
                for _ in range(repeats)]
        ok = [r for r in runs if "error" not in r]
        if not ok:
            rows.append(runs[0])
            continue
        row = dict(ok[0])
        for key in ("engine_step_s", "kernel_step_s", "reference_step_s", "ratio",
                    "kernel_ratio", "engine_agent_steps_per_s", "reference_agent_steps_per_s"):
            row[key] = _median(ok, key)
        row["repeats"] = len(ok)
        rows.append(row)
    return rows


def bench_ladder(beneficiaries: list[int], partners: list[int], years: float, repeats: int
                 ) -> list[dict[str, Any]]:
    configs = [(n, 50) for n in beneficiaries] + [(10_000, p) for p in partners if p != 50]
    rows = []
    for n, p in configs:
        _log(f"scale ladder: {n:,} beneficiaries, {p} partners, {years:g} years ...")
        runs = [measure("ladder", dict(n=n, partners=p, years=years)) for _ in range(repeats)]
        ok = [r for r in runs if "error" not in r]
        if not ok:
            rows.append(dict(beneficiaries=n, partners=p, **runs[0]))
            continue
        row = dict(ok[0])
        for key in ("build_s", "run_s", "results_s", "wall_s", "cpu_s", "peak_rss_mb"):
            row[key] = _median(ok, key)
        row["repeats"] = len(ok)
        rows.append(row)
    return rows


def bench_compile(repeats: int) -> dict[str, Any]:
    """Cold start (a fresh numba cache) then warm start (that cache), ``repeats`` times."""
    runs: dict[str, list[dict[str, Any]]] = {"cold": [], "warm": []}
    for k in range(repeats):
        with tempfile.TemporaryDirectory(prefix="cisim-numba-cache-") as cache:
            env = {"NUMBA_CACHE_DIR": cache}
            for key in ("cold", "warm"):
                _log(f"compile: {key} ({'fresh' if key == 'cold' else 'same'} "
                     f"NUMBA_CACHE_DIR) {k + 1}/{repeats} ...")
                runs[key].append(measure("compile", env=env, threads=None))
    out: dict[str, Any] = {}
    for key, rs in runs.items():
        ok = [r for r in rs if "error" not in r]
        if not ok:
            out[key] = rs[0]
            continue
        row = dict(ok[0])
        for field in ("import_s", "first_run_s", "second_run_s", "compile_s"):
            row[field] = _median(ok, field)
        row["compile_all_s"] = [r["compile_s"] for r in ok]
        out[key] = row
    return out


def bench_parallel(n: int, replications: int, years: float, with_sweep: bool
                   ) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for jobs in (1, 2):
        _log(f"ensemble: {replications} x {n:,} beneficiaries, n_jobs={jobs} ...")
        out[f"ensemble_{jobs}"] = measure(
            "ensemble", dict(n=n, replications=replications, n_jobs=jobs, years=years))
    e1, e2 = out["ensemble_1"], out["ensemble_2"]
    if "error" not in e1 and "error" not in e2:
        out["ensemble_efficiency_first"] = e1["first_s"] / (2 * e2["first_s"])
        out["ensemble_efficiency_warm"] = e1["warm_s"] / (2 * e2["warm_s"])
        out["ensemble_identical"] = e1["digest"] == e2["digest"]
    if with_sweep:
        # A sweep times its first two runs in the calling process to size its ~1 s tasks: a
        # fixed cost that an 8-point sweep cannot amortise (at most 80% then), so sweeps are
        # measured at four times the ensemble's size.
        points = 4 * replications
        for jobs in (1, 2):
            _log(f"sweep: {points} points x {n:,} beneficiaries, jobs={jobs} ...")
            out[f"sweep_{jobs}"] = measure(
                "sweep", dict(n=n, points=points, jobs=jobs, years=years))
        s1, s2 = out["sweep_1"], out["sweep_2"]
        if "error" not in s1 and "error" not in s2:
            out["sweep_efficiency_first"] = s1["first_s"] / (2 * s2["first_s"])
            out["sweep_efficiency_warm"] = s1["warm_s"] / (2 * s2["warm_s"])
            out["sweep_identical"] = s1["digest"] == s2["digest"]
    return out


def bench_report(repeats: int, n: int | None = None) -> dict[str, Any]:
    """The default report of the default design at the default replication count (all cores)."""
    _log("report: cisim report scenarios/default.toml at the default count ...")
    runs = [measure("report", dict(n=n), threads=1) for _ in range(repeats)]
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[0]
    out = dict(ok[0])
    for key in ("import_s", "ensemble_s", "report_s", "total_s", "per_future_s"):
        out[key] = _median(ok, key)
    out["share_ensemble"] = out["ensemble_s"] / out["total_s"]
    out["repeats"] = len(ok)
    return out


def bench_runs(quick: bool, repeats: int) -> dict[str, Any]:
    """Runs per second: one run against the reference, then sweeps on 1 and 2 workers.

    One default run (build + ten years, warm process, median) at 10,000 and at 2,000
    beneficiaries, with the plain-Mesa reference's step at the same size timed in the same
    process; then ``cisim sweep`` of slices of the Sobol study (benchmarks/sobol_10.toml) end to
    end: at a fixed batch of runs per task on 1 and 2 workers (runs per second), and at two slice
    sizes on 2 workers, whose difference gives the cost of a run without the fixed start-up, to
    extrapolate to the whole study's 22,528 runs.
    """
    out: dict[str, Any] = {"run": []}
    for n in (10_000, 2_000):
        _log(f"runs: one default run at {n:,} beneficiaries vs one reference step ...")
        runs = [measure("run", dict(n=n, runs=3 if quick else 5, reference_steps=3))
                for _ in range(repeats)]
        ok = [r for r in runs if "error" not in r]
        row = dict(ok[0]) if ok else runs[0]
        for key in ("run_s", "run_cpu_s", "run_with_results_s", "runs_per_s",
                    "reference_step_s", "run_in_reference_steps"):
            if ok:
                row[key] = _median(ok, key)
        out["run"].append(row)
    batch = 8
    small, big = (2, 8) if quick else (4, 16)
    for jobs in (1, 2):
        _log(f"runs: cisim sweep, Sobol N = {small} slice, {jobs} worker(s), {batch} runs a task")
        out[f"sweep_{jobs}"] = measure("sobol", dict(n_base=small, jobs=jobs,
                                                     runs_per_task=batch), threads=1)
    _log(f"runs: cisim sweep, Sobol N = {big} slice, 2 workers (for the extrapolation) ...")
    out["sweep_2_big"] = measure("sobol", dict(n_base=big, jobs=2, runs_per_task=batch),
                                 threads=1)
    a, b = out["sweep_2"], out["sweep_2_big"]
    if "error" not in a and "error" not in b:
        per_run = (b["wall_s"] - a["wall_s"]) / (b["runs"] - a["runs"])
        fixed = max(0.0, a["wall_s"] - a["runs"] * per_run)
        # the same from CPU time (less sensitive to other tenants), spread over 2 cores
        cpu_run = (b["cpu_s"] - a["cpu_s"]) / (b["runs"] - a["runs"])
        cpu_fixed = max(0.0, a["cpu_s"] - a["runs"] * cpu_run)
        out["sobol_extrapolation"] = dict(
            per_run_s=per_run, fixed_s=fixed, runs=SOBOL_RUNS,
            total_min=(fixed + SOBOL_RUNS * per_run) / 60.0, cpu_per_run_s=cpu_run,
            cpu_fixed_s=cpu_fixed, cpu_total_min=(cpu_fixed + SOBOL_RUNS * cpu_run) / 2 / 60.0)
    return out


def bench_threads(n: int, years: float) -> dict[str, Any]:
    _log(f"reproducibility: {n:,} beneficiaries, NUMBA_NUM_THREADS=1 vs 2 ...")
    runs = {t: measure("digest", dict(n=n, years=years, seed=3), threads=t)
            for t in (1, 2)}
    ok = all("error" not in r for r in runs.values())
    return dict(runs=runs, identical=ok and runs[1]["digest"] == runs[2]["digest"])


# ---- the machine and the table ------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = ""
    mem_gb = float("nan")
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = int(line.split()[1]) / 1024**2
                break
    except OSError:
        pass
    import numba
    import numpy

    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    return dict(nproc=os.cpu_count(), cpu=cpu, ram_gb=round(mem_gb, 1),
                python=platform.python_version(), numba=numba.__version__,
                numpy=numpy.__version__, platform=platform.platform(),
                load_average_at_start=load, date=time.strftime("%Y-%m-%d %H:%M"))


def _fmt(v: Any, spec: str = ".3g") -> str:
    if isinstance(v, float):
        return format(v, spec)
    return str(v)


def table(results: dict[str, Any]) -> str:
    lines: list[str] = []
    m = results["machine"]
    lines.append(f"machine: {m['nproc']} cores, {m['cpu']}, {m['ram_gb']} GB RAM; "
                 f"Python {m['python']}, numba {m['numba']}; load {m['load_average_at_start']:.1f}"
                 f" at start ({m['date']})")
    lines.append("")
    lines.append("engine vs plain-Mesa reference (one core; agent-steps/s; median step)")
    lines.append(f"{'beneficiaries':>13} {'engine/s':>10} {'reference/s':>12} {'speed-up':>9} "
                 f"{'kernel-only':>12}")
    for r in results.get("speedup", []):
        if "error" in r:
            lines.append(f"  error: {r['error']}")
            continue
        lines.append(f"{r['beneficiaries']:>13,} {r['engine_agent_steps_per_s']:>10.3g} "
                     f"{r['reference_agent_steps_per_s']:>12.3g} {r['ratio']:>8.0f}x "
                     f"{r['kernel_ratio']:>11.0f}x")
    lines.append(f"  goal: >= {GOALS['speedup_100k']:.0f}x at 100,000 beneficiaries")
    lines.append("")
    lines.append("scale ladder (one core; one run of the horizon; wall = build + run + results)")
    lines.append(f"{'beneficiaries':>13} {'partners':>8} {'steps':>5} {'build s':>8} "
                 f"{'run s':>8} {'wall s':>8} {'cpu s':>8} {'peak MB':>8}")
    for r in results.get("ladder", []):
        if "error" in r:
            lines.append(f"  {r.get('beneficiaries')} / {r.get('partners')}: {r['error']}")
            continue
        lines.append(f"{r['beneficiaries']:>13,} {r['partners']:>8} {r['steps']:>5} "
                     f"{r['build_s']:>8.2f} {r['run_s']:>8.2f} {r['wall_s']:>8.2f} "
                     f"{r['cpu_s']:>8.2f} {r['peak_rss_mb']:>8.0f}")
    lines.append(f"  goal: 1,000,000 beneficiaries, 50 partners, 520 steps <= "
                 f"{GOALS['million_wall_s']:.0f} s wall and < 2 GB")
    c = results.get("compile")
    if c:
        lines.append("")
        lines.append("start-up (import, then the first tiny run, which compiles or loads kernels;"
                     " medians)")
        for key in ("cold", "warm"):
            r = c[key]
            if "error" in r:
                lines.append(f"  {key}: {r['error']}")
                continue
            every = ", ".join(f"{v:.2f}" for v in r.get("compile_all_s", []))
            lines.append(f"  {key:>4}: import {r['import_s']:.2f} s, compile/load "
                         f"{r['compile_s']:.2f} s (first run {r['first_run_s']:.2f} s, "
                         f"second {r['second_run_s']:.2f} s; each run: {every})")
        lines.append(f"  goal: cold <= {GOALS['cold_compile_s']:g} s, warm <= "
                     f"{GOALS['warm_compile_s']:g} s")
    p = results.get("parallel")
    if p:
        lines.append("")
        lines.append("parallel efficiency on 2 workers = T(1 job) / (2 T(2 jobs))")
        for what in ("ensemble", "sweep"):
            if f"{what}_1" not in p:
                continue
            a, b = p[f"{what}_1"], p[f"{what}_2"]
            if "error" in a or "error" in b:
                lines.append(f"  {what}: {a.get('error') or b.get('error')}")
                continue
            lines.append(
                f"  {what}: 1 job {a['warm_s']:.2f} s, 2 jobs {b['warm_s']:.2f} s (warm pool, "
                f"medians of {len(a.get('warm_all', [0]))}) "
                f"-> {p[f'{what}_efficiency_warm']:.0%}; with pool start-up "
                f"{a['first_s']:.1f} s / {b['first_s']:.1f} s -> "
                f"{p[f'{what}_efficiency_first']:.0%}; identical results: "
                f"{p[f'{what}_identical']}")
        lines.append(f"  goal: >= {GOALS['efficiency']:.0%}")
    r = results.get("report")
    if r:
        lines.append("")
        lines.append("strategist's report (cisim report scenarios/default.toml, all cores; "
                     "medians)")
        if "error" in r:
            lines.append(f"  error: {r['error']}")
        else:
            lines.append(
                f"  {r['replications']} futures x {r['beneficiaries']:,} beneficiaries "
                f"({r['kind']} draws): total {r['total_s']:.1f} s = import {r['import_s']:.1f} s"
                f" + ensemble {r['ensemble_s']:.1f} s ({r['per_future_s']:.2f} s a future, "
                f"{r['share_ensemble']:.0%} of the total) + report {r['report_s']:.1f} s")
        lines.append(f"  goal: <= {GOALS['report_s']:g} s on 2 cores")
    r = results.get("runs")
    if r:
        lines.append("")
        lines.append("runs per second (one core per run; medians)")
        for row in r.get("run", []):
            if "error" in row:
                lines.append(f"  error: {row['error']}")
                continue
            lines.append(
                f"  one default run at {row['beneficiaries']:,}: {row['run_s'] * 1e3:.0f} ms "
                f"({row['runs_per_s']:.2f} runs/s; {row['run_with_results_s'] * 1e3:.0f} ms with "
                f"its results) = {row['run_in_reference_steps']:.2f} steps of the plain-Mesa "
                f"reference at that size ({row['reference_step_s'] * 1e3:.0f} ms a step)")
        lines.append(f"  goal: <= {GOALS['run_in_reference_steps']:g} reference step at "
                     f"10,000; <= {GOALS['run_2000_s'] * 1e3:.0f} ms at 2,000")
        for jobs in (1, 2):
            row = r.get(f"sweep_{jobs}", {})
            if "error" in row:
                lines.append(f"  sweep, {jobs} worker(s): {row['error']}")
            elif row:
                lines.append(
                    f"  cisim sweep, {jobs} worker(s), {row['runs_per_task']} runs a task: "
                    f"{row['runs']} runs of 10,000 in {row['wall_s']:.1f} s = "
                    f"{row['runs_per_s']:.2f} runs/s (start-up included; CPU "
                    f"{row.get('cpu_s', float('nan')):.1f} s)")
        e = r.get("sobol_extrapolation")
        if e:
            lines.append(
                f"  Sobol N = 1,024, k = 10 ({e['runs']:,} runs) on 2 workers, extrapolated from "
                f"two slices: {e['per_run_s']:.3f} s a run + {e['fixed_s']:.0f} s fixed = "
                f"{e['total_min']:.0f} min wall; from CPU time {e['cpu_per_run_s']:.3f} s a run "
                f"+ {e['cpu_fixed_s']:.0f} s, over 2 cores: {e['cpu_total_min']:.0f} min")
        lines.append(f"  goal: <= {GOALS['sobol_22528_2_cores_min']:g} min on 2 cores")
    t = results.get("threads")
    if t:
        lines.append("")
        digests = {k: v.get("digest", v.get("error")) for k, v in t["runs"].items()}
        lines.append(f"bit-identical trajectory with NUMBA_NUM_THREADS=1 and 2: {t['identical']} "
                     f"({digests})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a fast subset")
    ap.add_argument("--out", type=Path,
                    default=Path(tempfile.gettempdir()) / "cisim-benchmarks.json",
                    help="where to write the raw figures as JSON (default: %(default)s)")
    ap.add_argument("--repeats", type=int, default=None,
                    help="repeats per figure (medians are reported; default 3, quick 1)")
    ap.add_argument("--only", nargs="*",
                    choices=["speedup", "ladder", "compile", "parallel", "threads", "report",
                             "runs"],
                    help="run only these parts")
    args = ap.parse_args(argv)
    quick = args.quick
    repeats = args.repeats or (1 if quick else 3)
    parts = set(args.only or ["speedup", "ladder", "compile", "parallel", "threads", "report",
                              "runs"])
    results: dict[str, Any] = {"machine": machine(), "quick": quick, "goals": GOALS}
    t0 = time.perf_counter()
    if "speedup" in parts:
        sizes = [1_000, 10_000] if quick else [1_000, 10_000, 100_000]
        results["speedup"] = bench_speedup(sizes, repeats)
    if "ladder" in parts:
        if quick:
            results["ladder"] = bench_ladder([1_000, 10_000, 100_000], [10, 100], 10.0, 1)
        else:
            results["ladder"] = bench_ladder([1_000, 10_000, 100_000, 1_000_000],
                                             [10, 100, 1000], 10.0, repeats)
    if "compile" in parts:
        results["compile"] = bench_compile(repeats)
    if "parallel" in parts:
        results["parallel"] = bench_parallel(10_000, 4 if quick else 8, 10.0, not quick)
    if "threads" in parts:
        results["threads"] = bench_threads(40_000, 2.0 if quick else 10.0)
    if "report" in parts:
        results["report"] = bench_report(repeats)
    if "runs" in parts:
        results["runs"] = bench_runs(quick, repeats)
    results["elapsed_s"] = time.perf_counter() - t0
    text = table(results)
    print(text)
    from cisim.io import write_text_atomic

    write_text_atomic(args.out, json.dumps(results, indent=2) + "\n")
    print(f"\nraw figures: {args.out} ({results['elapsed_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
