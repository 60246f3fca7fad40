"""The compiled pull and agreement of the common agenda against its numpy rule, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from cisim.mechanisms._agenda import pull_and_agreement
from cisim.mechanisms.agenda import agreement, pull_toward_proposal


def _case(rng: np.random.Generator, n: int, d: int) -> tuple:
    position = rng.random((n, d))
    if rng.random() < 0.3:  # some partners at the edges, some just outside (the clip)
        edge = rng.random((n, d)) < 0.2
        position[edge] = rng.choice([0.0, 1.0, -1e-3, 1.0 + 1e-3], size=int(edge.sum()))
    influence = rng.choice([1.0, 1.0, 2.0, 3.5, 5.0], size=n) * rng.uniform(0.5, 1.5, n)
    active = rng.random(n) < rng.choice([1.0, 0.9, 0.5])
    attended = active & (rng.random(n) < rng.uniform(0.0, 1.0))
    trust = rng.random((n, n)) * rng.uniform(0.0, 1.0)
    trust = (trust + trust.T) / 2
    np.fill_diagonal(trust, 0.0)
    pulls = bool(rng.random() < 0.9)
    pull = float(rng.choice([0.0, rng.uniform(0.0, 0.5), rng.uniform(0.0, 3.0)]))
    return position, influence, attended, active, trust, pulls, pull


@pytest.mark.parametrize("n, d", [(2, 2), (3, 2), (8, 2), (20, 2), (37, 2), (128, 2)])
def test_compiled_pull_and_agreement_is_the_numpy_rule(n: int, d: int):
    rng = np.random.default_rng(n * 10 + d)
    for _ in range(300):
        position, influence, attended, active, trust, pulls, pull = _case(rng, n, d)
        ours = position.copy()
        value = pull_and_agreement(ours, influence, attended, active, trust, pulls, pull)
        theirs = position.copy()
        pull_toward_proposal(theirs, influence, attended, active, trust, pulls, pull)
        expected = agreement(theirs, influence, active)
        assert ours.tobytes() == theirs.tobytes()
        assert np.float64(value).tobytes() == np.float64(expected).tobytes()
