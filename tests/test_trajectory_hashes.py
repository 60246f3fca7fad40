"""Restructuring the code changes no number: the shipped scenarios' records hash as stored.

The stored hashes (tests/data/trajectory_hashes.json) were computed by
tests/trajectory_hashes.py from the code before the model was restructured; see that script
for what is hashed and how to regenerate them when a change is meant to alter the dynamics.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import trajectory_hashes as th

STORED = json.loads(th.STORE.read_text())
SAME_MACHINE = STORED["machine"] == th.machine()

pytestmark = pytest.mark.usefixtures("one_numba_thread")


def _case(name: str):
    return th.cases()[name]


@pytest.mark.parametrize("name", sorted(STORED["scenarios"]))
def test_scenario_records_unchanged(name: str) -> None:
    want = STORED["scenarios"][name]
    if SAME_MACHINE:  # bit for bit
        got = th.scenario_hashes(*_case(name))
        changed = [f"{frame}.{col}" for frame, cols in want.items() for col, h in cols.items()
                   if got.get(frame, {}).get(col) != h]
        added = [f"{frame}.{col}" for frame, cols in got.items() for col in cols
                 if col not in want.get(frame, {})]
        assert not changed and not added, f"changed: {changed}; new: {added}"
        return
    # another CPU: numeric columns to a relative 1e-7 (last-bit differences), the rest exactly
    sums = STORED["sums"][name]
    got_sums = th.scenario_sums(*_case(name))
    got = th.scenario_hashes(*_case(name))
    off = [f"{frame}.{col}: {v} != {got_sums.get(frame, {}).get(col)}"
           for frame, cols in sums.items() for col, v in cols.items()
           if got_sums.get(frame, {}).get(col) != pytest.approx(v, rel=1e-7, abs=1e-9)]
    text = [f"{frame}.{col}" for frame, cols in want.items() for col, h in cols.items()
            if col not in sums.get(frame, {}) and frame != "summary"
            and got.get(frame, {}).get(col) != h]
    assert not off and not text, (
        f"hashes were made on {STORED['machine']}, this is {th.machine()}; compared by column "
        f"sums: {off}; text columns changed: {text}")
