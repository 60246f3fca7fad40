"""Hashes of every recorded column of the shipped scenarios, to check that a refactoring
changes no number.

Each scenario of ``scenarios/*.toml`` runs at 1,500 beneficiaries for six years (312 weekly
steps) with seed 7; every column of every frame of the result (trajectory, subgroups,
partners, partner values, events, phases, costs) is hashed with SHA-256 of its bytes
(numbers as float64 or int64, text as UTF-8). ``tests/test_trajectory_hashes.py`` compares
these hashes with those stored in ``tests/data/trajectory_hashes.json``.

Regenerate the stored hashes only when a change is *meant* to change the dynamics::

    .venv/bin/python tests/trajectory_hashes.py --write

Floating-point results can differ in the last bits between machines (libm, the SIMD paths numpy
picks for the CPU), so the hashes are required to match only on a machine like the one they
were made on (the file records its CPU and numpy's SIMD features). Elsewhere the test compares
each numeric column's sum, stored beside its hash, to a relative 1e-7: a refactoring that
changes the dynamics moves those sums far more, a last-bit difference does not.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
STORE = ROOT / "tests" / "data" / "trajectory_hashes.json"
OVERRIDES = {"population.size": 1500, "horizon_years": 6.0}
SEED = 7
#: Extra cases: the default design with phase thresholds that let it reach Re-design and
#: Exponential Value within the six years (so the SROI condition and the phases' effects run).
VARIANTS = {
    "default+phases": ("default", {
        "dynamics.initial_trust": 0.35, "phases.run_years_before_redesign": 0.5,
        "phases.redesign_years": 0.5, "phases.exponential_min_systems_change": 0.0,
        "phases.exponential_min_sroi": 0.0}),
}
FRAMES = ("trajectory", "subgroups", "partners", "partner_values", "events", "phases", "costs")


def _column_hash(series: pd.Series) -> str:
    values = series.to_numpy()
    if values.dtype.kind in "fiub":
        data = np.ascontiguousarray(values.astype(np.float64 if values.dtype.kind == "f"
                                                  else np.int64)).tobytes()
    else:
        data = "\x1f".join(repr(v) for v in values).encode()
    return hashlib.sha256(data).hexdigest()[:16]


def machine() -> str:
    """This machine as far as floating point goes: CPU model and numpy's SIMD features."""
    model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # pragma: no cover - older numpy
        features = {}
    simd = ",".join(k for k in ("AVX512F", "AVX2", "FMA3", "SSE42") if features.get(k))
    return (f"{platform.machine()} {platform.system()} {model} [{simd}] "
            f"Python {platform.python_version()} numpy {np.__version__}")


def _column_sum(series: pd.Series) -> float | None:
    values = series.to_numpy()
    if values.dtype.kind not in "fiub":
        return None
    return float(np.nansum(values.astype(np.float64)))


def scenario_sums(path: Path, extra: dict | None = None) -> dict[str, dict[str, float]]:
    """Sums of every numeric column of every frame of one scenario's run (NaN skipped)."""
    result = _run(path, extra)
    out: dict[str, dict[str, float]] = {}
    for name in FRAMES:
        frame = getattr(result, name)
        out[name] = {str(c): v for c in frame.columns
                     if (v := _column_sum(frame[c])) is not None}
    out["summary"] = {k: float(v) for k, v in result.summary.items()
                      if isinstance(v, int | float) and np.isfinite(v)}
    return out


def _run(path: Path, extra: dict | None):
    from cisim import load_scenario
    from cisim.simulate import simulate

    sc = load_scenario(path).with_overrides({**OVERRIDES, **(extra or {})},
                                            source="trajectory hashes")
    return simulate(sc, SEED)


def scenario_hashes(path: Path, extra: dict | None = None) -> dict[str, dict[str, str]]:
    """Column hashes of every frame of one scenario's run."""
    result = _run(path, extra)
    out: dict[str, dict[str, str]] = {}
    for name in FRAMES:
        frame = getattr(result, name)
        out[name] = {str(c): _column_hash(frame[c]) for c in frame.columns}
        out[name]["_rows"] = str(len(frame))
    out["summary"] = {k: hashlib.sha256(repr(v).encode()).hexdigest()[:16]
                      for k, v in result.summary.items()}
    return out


def cases() -> dict[str, tuple[Path, dict | None]]:
    """Every case: the shipped scenarios and the variants, by name."""
    out: dict[str, tuple[Path, dict | None]] = {
        p.stem: (p, None) for p in sorted((ROOT / "scenarios").glob("*.toml"))}
    for name, (base, extra) in VARIANTS.items():
        out[name] = (ROOT / "scenarios" / f"{base}.toml", extra)
    return out


def all_hashes() -> dict[str, dict[str, dict[str, str]]]:
    """Column hashes of every shipped scenario."""
    return {name: scenario_hashes(*case) for name, case in cases().items()}


def all_sums() -> dict[str, dict[str, dict[str, float]]]:
    """Column sums of every shipped scenario."""
    return {name: scenario_sums(*case) for name, case in cases().items()}


def main(argv: list[str]) -> int:
    if "--add-sums" in argv:  # sums beside hashes that still match (same machine, same numbers)
        stored = json.loads(STORE.read_text())
        assert all_hashes() == stored["scenarios"], "the code no longer gives the stored hashes"
        stored["sums"] = all_sums()
        stored["machine"] = machine()
        STORE.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")
        return 0
    hashes = all_hashes()
    if "--write" in argv:
        STORE.write_text(json.dumps({
            "note": ("SHA-256 (first 16 hex digits) of each column of each frame of "
                     "cisim.simulate.simulate(scenario, 7) for scenarios/*.toml with "
                     f"{OVERRIDES}; made by tests/trajectory_hashes.py --write"),
            "machine": machine(),
            "scenarios": hashes,
            "sums": all_sums(),
        }, indent=1, sort_keys=True) + "\n")
    else:
        json.dump(hashes, sys.stdout, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
