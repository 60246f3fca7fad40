"""The trust rules: the smoothing rule is asymmetric at every trust level, Pant & Yu's is not."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from meeting import meeting

from cisim import Scenario
from cisim.mechanisms._communication import trust_update
from cisim.model import CollectiveImpactModel

unit = st.floats(0.0, 1.0, allow_nan=False)
gains = st.floats(0.001, 1.0, allow_nan=False)
ratios = st.floats(1.0, 20.0, allow_nan=False)


def _one(rule: str, t: float, d: float, good: bool, gain: float, loss: float = 0.3,
         k: float = 3.0) -> float:
    return float(trust_update(np.array([t]), np.array([d]), np.array([good]), rule, gain, loss,
                              k)[0])


@given(t=unit, d=unit, g=gains, k=ratios)
def test_smoothing_bad_costs_k_times_a_good_gain_or_all_trust(t, d, g, k):
    gain = _one("smoothing", t, d, True, g, k=k) - t
    loss = t - _one("smoothing", t, d, False, g, k=k)
    assert gain >= 0.0
    assert 0.0 <= loss <= t
    assert loss >= min(t, k * gain) - 1e-12
    # and never less than a good interaction's gain whenever there is that much trust to lose
    if t >= g:
        assert loss >= gain - 1e-12


@given(t=unit, d=unit, g=gains, k=ratios)
def test_smoothing_good_then_bad_never_raises_trust(t, d, g, k):
    up = _one("smoothing", t, d, True, g, k=k)
    after = _one("smoothing", up, d, False, g, k=k)
    assert after <= t + 1e-12
    if t > 0 and k > 1.0 + 1e-6:  # strictly lower: by at least (k - 1) g or all of it
        assert after < t
        assert after <= max(0.0, t - (k - 1.0) * g) + 1e-12


@given(t=unit, d=unit, g=gains)
def test_good_interactions_are_the_same_under_both_rules(t, d, g):
    assert _one("smoothing", t, d, True, g) == _one("pant_yu", t, d, True, g)
    # capped at the ceiling 1 - D unless already above it
    assert _one("smoothing", t, d, True, g) <= max(t, 1.0 - d) + 1e-12


def test_pant_yu_reverses_the_asymmetry_at_low_trust():
    # the reviewer's finding, kept as the documented behaviour of the variant
    gain = _one("pant_yu", 0.1, 0.0, True, 0.1) - 0.1
    loss = 0.1 - _one("pant_yu", 0.1, 0.0, False, 0.1)
    assert loss / gain == pytest.approx(1.0 / 3.0)
    assert _one("pant_yu", _one("pant_yu", 0.1, 0.0, True, 0.1), 0.0, False, 0.1) > 0.1
    # the smoothing rule at the same trust: a bad interaction takes all of the little there is
    assert _one("smoothing", 0.1, 0.0, False, 0.1) == 0.0
    assert _one("smoothing", 0.5, 0.0, False, 0.1) == pytest.approx(0.2)


def test_unknown_rule_is_refused():
    with pytest.raises(ValueError, match="unknown trust rule"):
        trust_update(np.zeros(1), np.zeros(1), np.ones(1, bool), "optimism", 0.1, 0.3, 3.0)


@pytest.mark.parametrize("rule", ["smoothing", "pant_yu"])
def test_meeting_applies_the_rule(rule):
    n = 12
    rng = np.random.default_rng(3)
    trust0 = rng.uniform(0, 0.6, (n, n))
    trust0 = np.triu(trust0, 1) + np.triu(trust0, 1).T
    damage0 = np.triu(rng.uniform(0, 0.3, (n, n)), 1)
    damage0 = damage0 + damage0.T
    trust, damage = trust0.copy(), damage0.copy()
    contacted = np.zeros((n, n), bool)
    inter, good = meeting(np.uint64(5), 3, np.ones(n, bool), trust, damage, np.zeros((n, 2)),
                          0.5, 0.0, 0.1, 0.3, 0.1, rule, 3.0, contacted=contacted)
    assert inter == n * (n - 1) / 2 and 0 < good < inter
    i, j = np.triu_indices(n, 1)
    went_up = trust[i, j] > trust0[i, j]
    expected = trust_update(trust0[i, j], damage0[i, j], went_up, rule, 0.1, 0.3, 3.0)
    np.testing.assert_array_equal(trust[i, j], expected)
    assert went_up.sum() == good
    # the ceiling falls after exactly the bad interactions
    np.testing.assert_allclose(damage[i, j][~went_up], np.minimum(1, damage0[i, j][~went_up]
                                                                  + 0.1))
    np.testing.assert_array_equal(damage[i, j][went_up], damage0[i, j][went_up])


def _settled_trust(rule: str, p_good: float) -> float:
    n = 10
    trust = np.full((n, n), 0.1)
    np.fill_diagonal(trust, 0)
    damage = np.zeros((n, n))
    for step in range(200):
        meeting(np.uint64(9), step, np.ones(n, bool), trust, damage, np.zeros((n, 2)), p_good,
                0.0, 0.1, 0.3, 0.0, rule, 3.0)
    return float(trust[np.triu_indices(n, 1)].mean())


def test_mixed_meetings_build_less_trust_under_smoothing():
    # Two in three interactions good: Pant & Yu's shares settle trust near 0.4; under a 3:1
    # negativity in amounts trust only builds where more than 3 in 4 interactions are good, and
    # below that it hovers where the last few good interactions left it.
    pant_yu, smoothing = _settled_trust("pant_yu", 2 / 3), _settled_trust("smoothing", 2 / 3)
    assert pant_yu > 0.3
    assert smoothing < 0.25 and smoothing < 0.6 * pant_yu
    # with nine in ten good, both build trust
    assert _settled_trust("smoothing", 0.9) > 0.5 and _settled_trust("pant_yu", 0.9) > 0.5


def test_the_scenario_switch_reaches_the_kernel(small: Scenario):
    sc = small.with_overrides({"horizon_years": 0.5})
    assert sc.dynamics.trust_rule == "smoothing"
    trusts = {}
    for rule in ("smoothing", "pant_yu"):
        m = CollectiveImpactModel(sc.with_overrides({"dynamics.trust_rule": rule}), rng=4)
        for _ in range(26):
            m.step()
        trusts[rule] = m.factual.trust.copy()
    assert not np.array_equal(trusts["smoothing"], trusts["pant_yu"])
