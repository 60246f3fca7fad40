"""Hashes of every recorded column of the shipped scenarios, to check that a refactoring
changes no number.

Each scenario of ``scenarios/*.toml`` runs at 1,500 beneficiaries for six years (312 weekly
steps) with seed 7; every column of every frame of the result (trajectory, subgroups,
partners, partner values, events, phases, costs) is hashed with SHA-256 of its bytes
(numbers as float64 or int64, text as UTF-8). ``tests/test_trajectory_hashes.py`` compares
these hashes with those stored in ``tests/data/trajectory_hashes.json``.

Regenerate the stored hashes only when a change is *meant* to change the dynamics::

    .venv/bin/python tests/trajectory_hashes.py --write

Floating-point results can differ between machines (libm, CPU features), so the stored
hashes hold on the machine they were made on; the file says which.
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


def scenario_hashes(path: Path, extra: dict | None = None) -> dict[str, dict[str, str]]:
    """Column hashes of every frame of one scenario's run."""
    from cisim import load_scenario
    from cisim.simulate import simulate

    sc = load_scenario(path).with_overrides({**OVERRIDES, **(extra or {})},
                                            source="trajectory hashes")
    result = simulate(sc, SEED)
    out: dict[str, dict[str, str]] = {}
    for name in FRAMES:
        frame = getattr(result, name)
        out[name] = {str(c): _column_hash(frame[c]) for c in frame.columns}
        out[name]["_rows"] = str(len(frame))
    out["summary"] = {k: hashlib.sha256(repr(v).encode()).hexdigest()[:16]
                      for k, v in result.summary.items()}
    return out


def all_hashes() -> dict[str, dict[str, dict[str, str]]]:
    """Column hashes of every shipped scenario."""
    out = {p.stem: scenario_hashes(p) for p in sorted((ROOT / "scenarios").glob("*.toml"))}
    for name, (base, extra) in VARIANTS.items():
        out[name] = scenario_hashes(ROOT / "scenarios" / f"{base}.toml", extra)
    return out


def main(argv: list[str]) -> int:
    hashes = all_hashes()
    if "--write" in argv:
        STORE.write_text(json.dumps({
            "note": ("SHA-256 (first 16 hex digits) of each column of each frame of "
                     "cisim.simulate.simulate(scenario, 7) for scenarios/*.toml with "
                     f"{OVERRIDES}; made by tests/trajectory_hashes.py --write"),
            "machine": f"{platform.machine()} {platform.system()} "
                       f"Python {platform.python_version()} numpy {np.__version__}",
            "scenarios": hashes,
        }, indent=1, sort_keys=True) + "\n")
    else:
        json.dump(hashes, sys.stdout, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
