"""The compiled week of communication against the rule in plain Python and numpy.

communication_week runs the reset of the week's contacts, the attendance draw, the meeting's
pairs, the recovery of the trust ceiling and the decay of trust in one compiled call; the
reference below states the same rule with the floats of :mod:`cisim.rng` and
:func:`cisim.mechanisms._communication.trust_update`, pair by pair.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from cisim.kernels import S_ATTEND, S_PAIR, S_QUALITY
from cisim.mechanisms._communication import (
    communication_week,
    meeting_params,
    meeting_streams,
    trust_update,
)
from cisim.model import CollectiveImpactModel
from cisim.rng import _u01_at, key, uniforms


def _reference_week(seed, step, meets, active, commitment, attendance, contacts, p_good_base,
                    distance_penalty, gain, loss, damage_jump, rule, negativity, keep, recovery,
                    trust, damage, contacted, attended, position):
    """The week, in place, one pair at a time: the rule communication_week compiles."""
    n = active.shape[0]
    contacted.fill(False)
    attended[:] = meets & active & (uniforms(seed, step, n, S_ATTEND) < attendance * commitment)
    n_att = int(np.count_nonzero(attended))
    interactions = good_ones = 0
    if n_att >= 2:
        p_contact = min(1.0, contacts / (n_att - 1))
        pair_key, quality_key = key(seed, step, S_PAIR), key(seed, step, S_QUALITY)
        for i in range(n):
            for j in range(i + 1, n):
                if not (attended[i] and attended[j] and _u01_at(pair_key, i * n + j) < p_contact):
                    continue
                interactions += 1
                g0, g1 = position[i] - position[j]
                p_good = p_good_base - distance_penalty * math.sqrt(g0 * g0 + g1 * g1)
                p_good = min(1.0, max(0.0, p_good))
                good = _u01_at(quality_key, i * n + j) < p_good
                contacted[i, j] = contacted[j, i] = True
                trust[i, j] = trust[j, i] = trust_update(
                    trust[i, j], damage[i, j], good, rule, gain, loss, negativity)
                if good:
                    good_ones += 1
                else:
                    damage[i, j] = damage[j, i] = min(1.0, damage[i, j] + damage_jump)
    damage *= recovery
    np.multiply(trust, keep, out=trust, where=~contacted)
    return float(interactions), float(good_ones)


def test_communication_week_is_the_reference_week():
    rng = np.random.default_rng(11)
    held = 0
    for case in range(600):
        n = int(rng.choice([1, 2, 3, 7, 20, 23, 60]))
        seed, step = np.uint64(rng.integers(0, 2**63)), int(rng.integers(0, 600))
        active = rng.random(n) < rng.choice([0.2, 0.8, 1.0, 1.0])
        commitment = rng.random(n)
        attendance = float(rng.choice([0.0, 0.3, 0.9, 1.0]))
        contacts = float(rng.choice([0.0, 0.5, 2.0, 3.7, 100.0]))
        trust = rng.random((n, n))
        trust = (trust + trust.T) / 2
        np.fill_diagonal(trust, 0.0)
        damage = rng.random((n, n)) * rng.choice([0.3, 1.0])
        damage = (damage + damage.T) / 2
        position = rng.random((n, 2))
        rule = ["smoothing", "pant_yu"][case % 2]
        p_good_base = float(rng.choice([rng.random(), 1.2, -0.1]))
        meeting = (float(rng.choice([0.0, 0.3, 2.0])), 0.1, 0.3, float(rng.choice([0.05, 0.6])),
                   rule, 3.0)
        meets = bool(rng.random() < 0.7)
        keep = float(rng.choice([1.0, 1.0 - 0.2 / 52, 0.9]))
        recovery = float(rng.choice([1.0, 1.0 - 0.5 / 52]))
        stale = rng.random((n, n)) < 0.5  # last week's contacts and attendance, reset
        theirs = [trust.copy(), damage.copy(), stale.copy(), rng.random(n) < 0.5]
        ours = [a.copy() for a in theirs]
        expected = _reference_week(seed, step, meets, active, commitment, attendance, contacts,
                                   p_good_base, *meeting, keep, recovery, *theirs, position)
        got = communication_week(
            step, meeting_streams(seed), meeting_params(attendance, *meeting), active,
            commitment, contacts if meets else 0.0, p_good_base, ours[3], ours[0], ours[1],
            ours[2], position, meets, keep, recovery)
        assert got == expected
        for a, b in zip(theirs, ours, strict=True):
            assert a.tobytes() == b.tobytes()
        held += expected[0] > 0
    assert held > 80  # many cases hold a meeting with interactions, not just the attendance


@pytest.mark.parametrize("isolated", [False, True])
def test_an_isolated_world_never_meets_and_its_trust_ceiling_stays_whole(small, isolated):
    """Communication passes an isolated world a recovery of 1 (no pass over its damage).

    That is exact only while its damage stays 0 (0 x r is 0): it never meets, so no bad
    interaction ever raises it. The factual world, meeting, does build damage.
    """
    model = CollectiveImpactModel(small.with_overrides({"isolated": isolated}), rng=4)
    for _ in range(3 * 52):
        model.step()
        assert not model.counterfactual.damage.any()
        assert model.counterfactual.interactions == 0.0
    assert model.factual.damage.any() == (not isolated)
