"""The compiled week of the common agenda against its numpy rule, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from cisim.mechanisms._agenda import agenda_scratch, agenda_week
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
    # this week's contacts: none (a week without a meeting), or some pairs of attendees
    contacted = np.zeros((n, n), dtype=bool)
    if rng.random() < 0.8:
        contacted = np.triu(rng.random((n, n)) < rng.uniform(0.0, 1.0), 1)
        contacted = (contacted | contacted.T) & attended[:, None] & attended[None, :]
    pulls = bool(rng.random() < 0.9)
    pull = float(rng.choice([0.0, rng.uniform(0.0, 0.5), rng.uniform(0.0, 3.0)]))
    bound = float(rng.choice([0.1, 0.4, 2.0]))
    rate = float(rng.uniform(0.0, 0.5))
    return position, influence, attended, active, trust, contacted, pulls, pull, bound, rate


@pytest.mark.parametrize("n, d", [(2, 2), (3, 2), (8, 2), (20, 2), (37, 2), (128, 2)])
def test_compiled_week_is_the_numpy_rule(n: int, d: int):
    """The whole compiled week against its moves followed by the numpy pull and agreement."""
    rng = np.random.default_rng(n * 10 + d)
    met_weeks = 0
    for _ in range(300):
        position, influence, attended, active, trust, contacted, pulls, pull, bound, rate = (
            _case(rng, n, d))
        ours = position.copy()
        met, value = agenda_week(True, ours, influence, contacted, trust, bound, rate,
                                 attended, active, pulls, pull, *agenda_scratch(ours))
        theirs = position.copy()
        met_numpy, nan = agenda_week(False, theirs, influence, contacted, trust, bound, rate,
                                     attended, active, pulls, pull, *agenda_scratch(theirs))
        assert met == met_numpy == bool(contacted.any())
        assert np.isnan(nan)
        if met:
            pull_toward_proposal(theirs, influence, attended, active, trust, pulls, pull)
        expected = agreement(theirs, influence, active)
        assert ours.tobytes() == theirs.tobytes()
        assert np.float64(value).tobytes() == np.float64(expected).tobytes()
        met_weeks += met
    assert met_weeks > 20  # many weeks with moves (most, from three partners on)
