"""The recorder's compiled week (cisim._outcomes.record_week) against the numpy it replaced."""

from __future__ import annotations

import numpy as np
import pytest

from cisim._outcomes import record_week


@pytest.mark.parametrize("seed", range(40))
def test_record_week_is_the_numpy_copy_bit_for_bit(seed):
    rng = np.random.default_rng(seed)
    n, G, A = int(rng.integers(1, 60)), int(rng.integers(1, 5)), int(rng.integers(1, 6))
    steps, nf = int(rng.integers(1, 30)), int(rng.integers(1, 40))
    step = int(rng.integers(0, steps + 1))
    aggregates = rng.standard_normal((2, 4 + 2 * G + A)) * 1e3
    realised = rng.standard_normal((n, 4)) * 10.0 ** rng.integers(-12, 12, (n, 4))
    rate = rng.standard_normal((n, 4)) * 10.0 ** rng.integers(-12, 12, (n, 4))
    seeks = rng.dirichlet(np.ones(4), n)
    figures = rng.standard_normal(nf) * 10.0 ** rng.integers(-12, 12, nf)
    active = rng.random(n) < 0.8
    readiness = float(rng.random())
    burden = rng.random(n) * 10.0 ** rng.integers(-3, 4, n)
    attended = rng.random(n) < 0.5
    hours_per_meeting = float(rng.choice([0.0, rng.random() * 4]))
    # signed zeros, NaN and infinities where the week may have them
    rate[rng.random((n, 4)) < 0.1] = -0.0
    rate[rng.random((n, 4)) < 0.02] = np.nan
    rate[rng.random((n, 4)) < 0.02] = -np.inf
    realised[rng.random((n, 4)) < 0.05] = np.nan
    figures[rng.random(nf) < 0.1] = np.nan
    figures[rng.random(nf) < 0.1] = -0.0
    burden[rng.random(n) < 0.1] = -0.0
    coordinated = bool(rng.random() < 0.7)
    week = step - 1  # the ledger's row of the week (-1 at step 0: nothing)

    kept = np.full((steps + 1, nf + 2), np.nan)
    counts = np.zeros((steps + 1, 2, 4 + 2 * G))
    got_realised = np.zeros((steps + 1, n, 4), dtype=np.float32)
    got_satisfaction = np.zeros((steps + 1, n), dtype=np.float32)
    hours = np.zeros((steps, n))
    want = [a.copy() for a in (kept, counts, got_realised, got_satisfaction, hours)]
    record_week(step, readiness, figures, active, aggregates, realised, rate, seeks, kept,
                counts, got_realised, got_satisfaction, week, coordinated, hours_per_meeting,
                burden, attended, hours)

    # the recorder's and the ledger's numpy, as they were
    want[0][step] = (*figures.tolist(), readiness, np.count_nonzero(active))
    want[1][step] = aggregates[:, : counts.shape[2]]
    want[2][step] = realised
    want[3][step] = np.add.reduce(rate * seeks, axis=1)
    if week >= 0 and coordinated:
        want[4][week] = burden + hours_per_meeting * attended
    for got, expected in zip((kept, counts, got_realised, got_satisfaction, hours), want,
                             strict=True):
        assert got.tobytes() == expected.tobytes()
