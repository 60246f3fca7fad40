"""Restructuring the code changes no number: the shipped scenarios' records hash as stored.

The stored hashes (tests/data/trajectory_hashes.json) were computed by
tests/trajectory_hashes.py from the code before the model was restructured; see that script
for what is hashed and how to regenerate them when a change is meant to alter the dynamics.
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import trajectory_hashes as th

STORED = json.loads(th.STORE.read_text())
MACHINE = (f"{platform.machine()} {platform.system()} Python {platform.python_version()} "
           f"numpy {np.__version__}")

pytestmark = pytest.mark.usefixtures("one_numba_thread")


@pytest.mark.parametrize("name", sorted(STORED["scenarios"]))
def test_scenario_records_unchanged(name: str) -> None:
    if name in th.VARIANTS:
        base, extra = th.VARIANTS[name]
        got = th.scenario_hashes(th.ROOT / "scenarios" / f"{base}.toml", extra)
    else:
        got = th.scenario_hashes(th.ROOT / "scenarios" / f"{name}.toml")
    want = STORED["scenarios"][name]
    changed = [f"{frame}.{col}" for frame, cols in want.items() for col, h in cols.items()
               if got.get(frame, {}).get(col) != h]
    added = [f"{frame}.{col}" for frame, cols in got.items() for col in cols
             if col not in want.get(frame, {})]
    note = "" if STORED["machine"] == MACHINE else (
        f" (hashes were made on {STORED['machine']}, this is {MACHINE}: floating point "
        "may differ between machines)")
    assert not changed and not added, f"changed: {changed}; new: {added}{note}"
