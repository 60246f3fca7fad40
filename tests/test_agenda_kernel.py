"""The compiled week of the common agenda against its rule, bit for bit.

The moves against a plain-Python statement of the rule (docs/model.md, section 7.4); the
whole week against those moves followed by the numpy pull, clip and agreement.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from cisim.mechanisms._agenda import agenda_scratch, agenda_week
from cisim.mechanisms.agenda import agreement, pull_toward_proposal


def _reference_moves(position: np.ndarray, influence: np.ndarray, contacted: np.ndarray,
                     trust: np.ndarray, bound: float, rate: float) -> bool:
    """The week's bounded-confidence moves, in place, in plain Python.

    Partner ``i`` with ``n_i`` contacts moves by the sum, over its contacts ``j`` in the order
    of ``j`` and from 0.0, of ``T_ij * 2 * pi_ij * mu * (x_j - x_i)`` (``pi_ij = I_j / (I_i +
    I_j)``) if ``|x_j - x_i| < bound``, else 0.0, divided by ``n_i``; every move is worked out
    from the positions at the start, then everyone with a contact moves at once.

    Returns:
        Whether any pair had contact.
    """
    n = position.shape[0]
    x = position.tolist()
    infl = influence.tolist()
    moves = []
    for i in range(n):
        count = 0
        d0 = d1 = 0.0
        for j in range(n):
            if not contacted[i, j]:
                continue
            count += 1
            g0, g1 = x[j][0] - x[i][0], x[j][1] - x[i][1]
            if math.sqrt(g0 * g0 + g1 * g1) < bound:
                w = float(trust[i, j]) * 2.0 * (infl[j] / (infl[i] + infl[j])) * rate
                t0, t1 = w * g0, w * g1
            else:
                t0 = t1 = 0.0
            d0 += t0
            d1 += t1
        moves.append((d0 / count, d1 / count) if count else None)
    for i, move in enumerate(moves):
        if move is not None:
            position[i, 0] = x[i][0] + move[0]
            position[i, 1] = x[i][1] + move[1]
    return any(move is not None for move in moves)


def _case(rng: np.random.Generator, n: int) -> tuple:
    position = rng.random((n, 2))
    if rng.random() < 0.3:  # some partners at the edges, some just outside (the clip)
        edge = rng.random((n, 2)) < 0.2
        position[edge] = rng.choice([0.0, -0.0, 1.0, -1e-3, 1.0 + 1e-3], size=int(edge.sum()))
    influence = rng.choice([1.0, 1.0, 2.0, 3.5, 5.0], size=n) * rng.uniform(0.5, 1.5, n)
    active = rng.random(n) < rng.choice([1.0, 0.9, 0.5])
    attended = active & (rng.random(n) < rng.uniform(0.0, 1.0))
    trust = rng.random((n, n)) * rng.uniform(0.0, 1.0)
    if rng.random() < 0.2:  # some trust at the ends of [0, 1]
        trust[rng.random((n, n)) < 0.3] = rng.choice([0.0, 1.0])
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
    pairs = np.argwhere(contacted)
    if len(pairs) and rng.random() < 0.2:  # a pair exactly the bound apart: no move
        i, j = pairs[rng.integers(len(pairs))]
        position[i], position[j] = (0.25, 0.5), (0.5, 0.5)
        bound = 0.25
    rate = float(rng.uniform(0.0, 0.5))
    return position, influence, attended, active, trust, contacted, pulls, pull, bound, rate


def test_moves_are_the_rule_in_plain_python():
    """Without the rest of the week, the compiled moves are the plain-Python rule's bits."""
    rng = np.random.default_rng(2024)
    moved = 0
    for _ in range(1500):
        n = int(rng.integers(1, 61))
        position, influence, attended, active, trust, contacted, pulls, pull, bound, rate = (
            _case(rng, n))
        ours, theirs = position.copy(), position.copy()
        met, nan = agenda_week(False, ours, influence, contacted, trust, bound, rate,
                               attended, active, pulls, pull, *agenda_scratch(ours))
        assert met == _reference_moves(theirs, influence, contacted, trust, bound, rate)
        assert met == bool(contacted.any())
        assert math.isnan(nan)
        assert ours.tobytes() == theirs.tobytes()
        moved += not np.array_equal(ours, position)
    assert moved > 500  # most weeks with contacts move someone


@pytest.mark.parametrize("n", [1, 2, 3, 8, 20, 37, 128])
def test_compiled_week_is_the_rule(n: int):
    """The whole compiled week against the moves, then the numpy pull, clip and agreement."""
    rng = np.random.default_rng(n * 10 + 2)
    met_weeks = 0
    for _ in range(300 if n < 100 else 60):
        position, influence, attended, active, trust, contacted, pulls, pull, bound, rate = (
            _case(rng, n))
        ours = position.copy()
        met, value = agenda_week(True, ours, influence, contacted, trust, bound, rate,
                                 attended, active, pulls, pull, *agenda_scratch(ours))
        theirs = position.copy()
        assert met == _reference_moves(theirs, influence, contacted, trust, bound, rate)
        if met:
            pull_toward_proposal(theirs, influence, attended, active, trust, pulls, pull)
        expected = agreement(theirs, influence, active)
        assert ours.tobytes() == theirs.tobytes()
        assert np.float64(value).tobytes() == np.float64(expected).tobytes()
        met_weeks += met
    if n > 1:  # (one partner has no one to meet)
        assert met_weeks > (20 if n > 2 else 5)  # many weeks with moves (most, from three on)


@pytest.mark.parametrize("shape", [(4, 3), (4,), (4, 1), (0,)])
def test_agenda_scratch_refuses_positions_that_are_not_two_dimensional_points(shape):
    with pytest.raises(ValueError, match=r"agenda positions must be \(N, 2\)"):
        agenda_scratch(np.zeros(shape))
