"""The compiled week of communication against the numpy it replaced.

hold_meeting (attendance drawn in the compiled loop) and communication_week (the week: the reset
of the week's contacts, the meeting, the recovery of the ceiling and the decay of trust).
"""

from __future__ import annotations

import numpy as np

from cisim.kernels import S_ATTEND
from cisim.mechanisms._communication import (
    communication_week,
    hold_meeting,
    meeting_interactions,
    meeting_params,
    meeting_streams,
)
from cisim.rng import uniforms


def _numpy_meeting(seed, step, active, commitment, attendance, contacts, state, args):
    """The mechanism's meeting before hold_meeting: numpy attendance, then the pair loop."""
    trust, damage, contacted, position = state
    attended = active & (uniforms(seed, step, active.shape[0], S_ATTEND) < attendance * commitment)
    n_att = np.count_nonzero(attended)
    counts = (0.0, 0.0)
    if n_att >= 2:
        counts = meeting_interactions(seed, step, attended, min(1.0, contacts / (n_att - 1)),
                                      trust, damage, contacted, position, *args)
    return attended, counts


def test_hold_meeting_matches_numpy_attendance():
    rng = np.random.default_rng(7)
    met = 0
    for case in range(600):
        n = int(rng.integers(1, 30))
        seed, step = np.uint64(rng.integers(0, 2**63)), int(rng.integers(0, 600))
        active = rng.random(n) < rng.choice([0.2, 0.8, 1.0])
        commitment = rng.random(n)
        attendance = float(rng.choice([0.0, 0.3, 0.9, 1.0]))
        contacts = float(rng.choice([0.0, 0.5, 2.0, 3.7, 12.0, 100.0]))
        trust = rng.random((n, n))
        trust = (trust + trust.T) / 2
        damage = rng.random((n, n)) * 0.3
        damage = (damage + damage.T) / 2
        position = rng.random((n, 2))
        args = (float(rng.random()), 0.3, 0.1, 0.3, 0.05,
                ["smoothing", "pant_yu"][case % 2], 3.0)
        old = [trust.copy(), damage.copy(), np.zeros((n, n), bool), position]
        new = [trust.copy(), damage.copy(), np.zeros((n, n), bool), position]
        attended_old, counts_old = _numpy_meeting(seed, step, active, commitment, attendance,
                                                  contacts, old, args)
        attended_new = np.zeros(n, bool)
        counts_new = hold_meeting(seed, step, active, commitment, attendance, contacts,
                                  attended_new, new[0], new[1], new[2], position, *args)
        assert counts_new == counts_old
        met += counts_old[0] > 0
        np.testing.assert_array_equal(attended_new, attended_old)
        for a, b in zip(old[:3], new[:3], strict=True):
            assert a.tobytes() == b.tobytes()
    assert met > 150  # most cases hold a meeting with interactions, not just the attendance


def _numpy_week(seed, step, meets, state, active, commitment, attendance, contacts, args,
                keep, recovery):
    """The mechanism's week before communication_week: the meeting, then numpy's decay."""
    trust, damage, contacted, attended, position = state
    contacted.fill(False)
    attended.fill(False)
    counts = (0.0, 0.0)
    if meets:
        counts = hold_meeting(seed, step, active, commitment, attendance, contacts, attended,
                              trust, damage, contacted, position, *args)
        np.multiply(trust, keep, out=trust, where=~contacted)
    else:
        trust *= keep
    if recovery != 1.0:
        damage *= recovery
    return counts


def test_communication_week_is_the_numpy_week():
    rng = np.random.default_rng(11)
    for case in range(400):
        n = int(rng.choice([1, 2, 3, 7, 20, 23, 60]))
        seed, step = np.uint64(rng.integers(0, 2**63)), int(rng.integers(0, 600))
        active = rng.random(n) < rng.choice([0.2, 0.8, 1.0, 1.0])
        commitment = rng.random(n)
        attendance = float(rng.choice([0.0, 0.3, 0.9, 1.0]))
        contacts = float(rng.choice([0.0, 2.0, 3.7, 100.0]))
        trust = rng.random((n, n))
        trust = (trust + trust.T) / 2
        np.fill_diagonal(trust, 0.0)
        damage = rng.random((n, n)) * 0.3
        damage = (damage + damage.T) / 2
        position = rng.random((n, 2))
        rule = ["smoothing", "pant_yu"][case % 2]
        args = (float(rng.random()), 0.3, 0.1, 0.3, 0.05, rule, 3.0)
        meets = bool(rng.random() < 0.7)
        keep = float(rng.choice([1.0, 1.0 - 0.2 / 52, 0.9]))
        recovery = float(rng.choice([1.0, 1.0 - 0.5 / 52]))
        stale = rng.random((n, n)) < 0.5  # last week's contacts and attendance, reset
        old = [trust.copy(), damage.copy(), stale.copy(), rng.random(n) < 0.5, position]
        new = [trust.copy(), damage.copy(), stale.copy(), old[3].copy(), position]
        expected = _numpy_week(seed, step, meets, old, active, commitment, attendance,
                               contacts, args, keep, recovery)
        got = communication_week(
            step, meeting_streams(seed), meeting_params(attendance, *args[1:]), active,
            commitment, contacts if meets else 0.0, args[0], new[3], new[0], new[1], new[2],
            position, meets, True, keep, recovery)
        assert got == expected
        for a, b in zip(old[:4], new[:4], strict=True):
            assert a.tobytes() == b.tobytes()
