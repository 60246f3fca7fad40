"""The recorder's compiled week (cisim._outcomes.record_week) against the numpy it replaced."""

from __future__ import annotations

import numpy as np
import pytest

from cisim._outcomes import record_week


@pytest.mark.parametrize("seed", range(40))
def test_record_week_is_the_numpy_copy_bit_for_bit(seed):
    rng = np.random.default_rng(seed)
    n, G, A = int(rng.integers(1, 60)), int(rng.integers(1, 5)), int(rng.integers(1, 6))
    aggregates = rng.standard_normal((2, 4 + 2 * G + A)) * 1e3
    realised = rng.standard_normal((n, 4)) * 10.0 ** rng.integers(-12, 12, (n, 4))
    rate = rng.standard_normal((n, 4)) * 10.0 ** rng.integers(-12, 12, (n, 4))
    seeks = rng.dirichlet(np.ones(4), n)
    # signed zeros, NaN and infinities where the week may have them
    rate[rng.random((n, 4)) < 0.1] = -0.0
    rate[rng.random((n, 4)) < 0.02] = np.nan
    rate[rng.random((n, 4)) < 0.02] = -np.inf
    realised[rng.random((n, 4)) < 0.05] = np.nan
    counts = np.zeros((2, 4 + 2 * G))
    got_realised = np.zeros((n, 4), dtype=np.float32)
    got_satisfaction = np.zeros(n, dtype=np.float32)
    record_week(aggregates, counts, realised, rate, seeks, got_realised, got_satisfaction)

    want_counts = np.zeros_like(counts)
    want_counts[:] = aggregates[:, : counts.shape[1]]
    want_realised = np.zeros((n, 4), dtype=np.float32)
    want_realised[:] = realised
    want_satisfaction = np.zeros(n, dtype=np.float32)
    want_satisfaction[:] = np.add.reduce(rate * seeks, axis=1)
    for got, want in ((counts, want_counts), (got_realised, want_realised),
                      (got_satisfaction, want_satisfaction)):
        assert got.tobytes() == want.tobytes()
