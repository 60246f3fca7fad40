"""Partner exit: a hazard that rises as satisfaction and commitment fall, and that fires."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cisim import Scenario, kernels, simulate
from cisim.mechanisms.value import exit_hazard

unit = st.floats(0.0, 1.0, allow_nan=False)


@given(s=unit, c=unit, ds=unit, dc=unit)
def test_hazard_rises_as_satisfaction_and_commitment_fall(s, c, ds, dc):
    h = exit_hazard(np.array([s, max(0.0, s - ds), s]), np.array([c, c, max(0.0, c - dc)]),
                    1.0, 0.25, 0.4)
    assert (h >= 0).all() and (h <= 1.0 / 52 + 1e-15).all()
    assert h[1] >= h[0] and h[2] >= h[0]


def test_hazard_needs_both_shortfalls():
    h = exit_hazard(np.array([0.3, 0.0, 0.0, 0.125, 0.0]), np.array([0.0, 0.5, 0.0, 0.2, 0.4]),
                    2.0, 0.25, 0.4)
    np.testing.assert_allclose(h, [0.0, 0.0, 2.0 / 52, 2.0 / 52 * 0.5 * 0.5, 0.0])
    assert not exit_hazard(np.zeros(3), np.zeros(3), 0.0, 0.25, 0.4).any()
    assert not exit_hazard(np.zeros(3), np.zeros(3), 1.0, 0.0, 0.4).any()  # threshold 0: never


def test_exit_stream_is_its_own():
    streams = {getattr(kernels, n) for n in dir(kernels) if n.startswith("S_") and n != "S_EXIT"}
    taken = streams | {s + 100 for s in streams} | {kernels.S_PERCEIVED + 1}
    assert kernels.S_EXIT not in taken


def _exits(sc: Scenario, seeds: range) -> list[int]:
    out = []
    for seed in seeds:
        r = simulate(sc, seed)
        out.append(len(sc.partners) + sum(sc.partner_generation.counts.values())
                   - r.summary["active_partners_final"])
    return out


@pytest.fixture(scope="module")
def short(small: Scenario) -> Scenario:
    return small.with_overrides({"population.size": 500})


def test_partners_leave_a_partnership_that_goes_badly(short: Scenario):
    bad = short.with_overrides({
        "backbone.present": False,
        "dynamics.good_experience_facilitation": 0.0,  # no facilitation to speak of
        "dynamics.good_experience_base": 0.35,  # meetings go badly
    })
    exits = _exits(bad, range(1, 4))
    assert sum(exits) >= 3 and min(exits) >= 1, exits
    # without the hazard (the old rule: commitment below 0.1) nobody leaves
    assert _exits(bad.with_overrides({"dynamics.exit_rate_per_year": 0.0}), range(1, 2)) == [0]


def test_few_or_no_partners_leave_the_default_design(short: Scenario):
    # "Few": the median run loses nobody and no run loses more than a fifth of its 20 partners
    # (meeting fatigue lowers the commitment partners settle at, so an unlucky run can lose some).
    exits = _exits(short, range(1, 4))
    assert sorted(exits)[1] == 0 and max(exits) <= 4, exits
    # a weekly cadence with the largest meeting fatigue of its prior costs partners
    weekly = short.with_overrides({"meetings.cadence": "weekly", "dynamics.meeting_fatigue": 0.3})
    assert sum(_exits(weekly, range(1, 4))) > sum(exits)


def test_leavers_are_logged_and_inactive(short: Scenario):
    bad = short.with_overrides({"backbone.present": False,
                                "dynamics.good_experience_facilitation": 0.0,
                                "dynamics.good_experience_base": 0.35,
                                "horizon_years": 10.0})
    r = simulate(bad, 2)
    left = r.events[r.events["kind"] == "partner"]
    assert len(left) == 20 - r.summary["active_partners_final"] > 0
