"""The SROI guide's two framings and its sensitivity table (cisim/sroi.py), by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cisim import Scenario, simulate
from cisim.sroi import (
    Adjustments,
    framing_components,
    framing_ratio,
    present_value,
    projection_factor,
    sensitivity_table,
)


def adj(**kw) -> Adjustments:
    base = dict(value_per_outcome_year=20_000.0, deadweight=0.0, attribution=0.25,
                displacement=0.1, drop_off=0.2, projection_years=0.0, discount_rate=0.0)
    base.update(kw)
    return Adjustments(**base)


# ---- the arithmetic --------------------------------------------------------------------------


def test_ratio_by_hand():
    # 20,000 x 0.8 x 0.75 x 0.9 = 10,800 per outcome-year; 10 outcome-years over 100,000
    a = adj(deadweight=0.2)
    assert a.value_factor == pytest.approx(10_800)
    assert framing_ratio(10.0, 0.0, 100_000.0, a, 5.0) == pytest.approx(1.08)
    assert math.isnan(framing_ratio(10.0, 0.0, 0.0, a, 5.0))  # no input, no ratio
    r = framing_ratio(np.array([10.0, 5.0]), np.zeros(2), np.array([100_000.0, -1.0]), a, 5.0)
    assert r[0] == pytest.approx(1.08) and math.isnan(r[1])


def test_projection_factor_by_hand():
    # two years at 50% drop-off, undiscounted: 0.5 + 0.25
    assert projection_factor(adj(projection_years=2, drop_off=0.5), 3.0) == pytest.approx(0.75)
    # one year, no drop-off, 10% discount from horizon 1: the year after is year 2
    assert projection_factor(adj(projection_years=1, drop_off=0.0, discount_rate=0.1),
                             1.0) == pytest.approx(1.1 ** -2)
    # one and a half years, no drop-off, no discount
    assert projection_factor(adj(projection_years=1.5, drop_off=0.0), 0.0) == pytest.approx(1.5)
    assert projection_factor(adj(projection_years=0), 10.0) == 0.0
    # 4 people above the reference for 0.75 projected years add 3 outcome-years to 10
    a = adj(projection_years=2, drop_off=0.5)
    assert framing_ratio(10.0, 4.0, 13.0 * a.value_factor, a, 3.0) == pytest.approx(1.0)


def test_present_value_by_hand():
    assert present_value(np.array([1.0, 1.0]), np.array([0.0, 52.0]), 0.1) == pytest.approx(
        1 + 1 / 1.1)


def test_framing_components_by_hand():
    # 1,040 people: each week 1 percentage point is 10.4 people = 0.2 outcome-years
    t = pd.DataFrame({
        "step": [0, 1, 2],
        "outcome_rate": [0.50, 0.52, 0.53],
        "outcome_rate_cf": [0.50, 0.51, 0.51],
        "investment": [0.0, 100.0, 200.0],
        "collaboration_cost": [0.0, 10.0, 20.0],
    })
    c = framing_components(t, 1040, 0.0)
    assert c["initiative_gain_years_pv"] == pytest.approx((2 + 3) * 0.2)
    assert c["initiative_final_gain"] == pytest.approx(0.03 * 1040)
    assert c["initiative_input_pv"] == pytest.approx(300.0)
    assert c["collaboration_gain_years_pv"] == pytest.approx((1 + 2) * 0.2)
    assert c["collaboration_final_gain"] == pytest.approx(0.02 * 1040)
    assert c["collaboration_input_pv"] == pytest.approx(30.0)


# ---- the sensitivity table ---------------------------------------------------------------------


def _row(rows, name):
    return next(r for r in rows if r.parameter == name)


def test_sensitivity_break_even_by_hand():
    # one future: 10 outcome-years x 13,500 = 135,000 over 54,000: ratio 2.5
    a = adj()
    rows = sensitivity_table([10.0], [0.0], [54_000.0], a, 5.0)
    assert [r.parameter for r in rows] == ["deadweight", "attribution", "displacement",
                                           "drop_off", "value_per_outcome_year"]
    assert all(r.ratio_base == pytest.approx(2.5) for r in rows)
    # (1 - a*) = 0.75 / 2.5 -> a* = 0.7; (1 - d*) = 1 / 2.5 -> 0.6; (1 - x*) = 0.9 / 2.5 -> 0.64
    for name, x_star in (("attribution", 0.7), ("deadweight", 0.6), ("displacement", 0.64)):
        r = _row(rows, name)
        assert r.break_even == pytest.approx(x_star, abs=1e-8), name
        assert r.change == pytest.approx(x_star - getattr(a, name), abs=1e-8), name
    att = _row(rows, "attribution")
    assert (att.low, att.high) == (0.0, 0.5)
    assert att.ratio_low == pytest.approx(2.5 / 0.75)
    assert att.ratio_high == pytest.approx(2.5 * 0.5 / 0.75)
    proxy = _row(rows, "value_per_outcome_year")
    assert proxy.break_even == pytest.approx(8_000) and proxy.change == pytest.approx(-0.6)
    assert proxy.ratio_low == pytest.approx(1.25) and proxy.ratio_high == pytest.approx(3.75)
    drop = _row(rows, "drop_off")
    assert drop.break_even is None and "no effect" in drop.note


def test_sensitivity_not_reachable_below_one():
    # ratio 0.5: no share in [0, 1] can raise it to 1 (the shares only lower it)
    rows = sensitivity_table([10.0], [0.0], [270_000.0], adj(), 5.0)
    for name in ("deadweight", "attribution", "displacement"):
        r = _row(rows, name)
        assert r.break_even is None and r.note == "not reachable within [0, 1]", name
    # the proxy would have to double
    assert _row(rows, "value_per_outcome_year").change == pytest.approx(1.0)
    # a negative value: no proxy helps
    neg = sensitivity_table([-10.0], [0.0], [1.0], adj(), 5.0)
    assert _row(neg, "value_per_outcome_year").break_even is None


def test_sensitivity_drop_off_root():
    # 1 person above the reference, projected 2 years, proxy 1, no other adjustment, input 1:
    # ratio = (1 - d) + (1 - d)^2 = 1 at 1 - d = (sqrt 5 - 1) / 2
    a = Adjustments(1.0, 0.0, 0.0, 0.0, 0.2, 2.0, 0.0)
    r = _row(sensitivity_table([0.0], [1.0], [1.0], a, 0.0), "drop_off")
    assert r.ratio_base == pytest.approx(1.44)
    assert r.break_even == pytest.approx(1 - (math.sqrt(5) - 1) / 2, abs=1e-8)
    assert r.ratio_low == pytest.approx(2.0) and r.ratio_high == pytest.approx(0.75)


def test_sensitivity_uses_the_median_across_futures():
    # ratios 1, 2 and 4 (attribution 0 in use): median 2, break-even attribution 0.5
    a = adj(attribution=0.0, displacement=0.0, value_per_outcome_year=1.0)
    rows = sensitivity_table([4.0, 4.0, 4.0, 1.0], [0, 0, 0, 0], [4.0, 2.0, 1.0, -1.0], a, 1.0)
    att = _row(rows, "attribution")
    assert att.ratio_base == pytest.approx(2.0)  # the future without input is left out
    assert att.break_even == pytest.approx(0.5, abs=1e-8)


@settings(max_examples=60, deadline=None)
@given(st.floats(0.05, 50.0), st.floats(0.0, 0.9), st.floats(0.0, 0.9))
def test_break_even_matches_the_closed_form(ratio, attribution, displacement):
    """For one future, x* = 1 - (1 - x0) / R for each share (when it lies in [0, 1])."""
    a = adj(attribution=attribution, displacement=displacement)
    rows = sensitivity_table([1.0], [0.0], [a.value_factor / ratio], a, 1.0)
    for name in ("attribution", "displacement", "deadweight"):
        r = _row(rows, name)
        expected = 1 - (1 - getattr(a, name)) / ratio
        if 0 <= expected <= 1:
            assert r.break_even == pytest.approx(expected, abs=1e-7), name
            assert framing_ratio(1.0, 0.0, a.value_factor / ratio,
                                 Adjustments(**{**a.__dict__, name: r.break_even}),
                                 1.0) == pytest.approx(1.0, abs=1e-6)
        else:
            assert r.break_even is None, name


# ---- in the model -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run(small: Scenario):
    return simulate(small.with_overrides({"horizon_years": 4}), 3)


def test_summary_framings_match_the_running_columns(run):
    t, s = run.trajectory, run.summary
    assert s["sroi_initiative"] == pytest.approx(t["sroi_initiative"].iloc[-1], rel=1e-9)
    assert s["sroi_collaboration"] == pytest.approx(t["sroi_collaboration"].iloc[-1], rel=1e-9)
    # the cost of collaborating is part of the initiative's money and time
    assert 0 < s["collaboration_input_pv"] < s["initiative_input_pv"]
    assert s["collaboration_cost"] == pytest.approx(t["collaboration_cost"].sum())


def test_collaboration_cost_agrees_with_the_cost_ledger(run):
    """The cost of collaborating is the ledger's backbone, shared-measurement and coordination
    uses (cisim.costs), week by week summed over the run."""
    uses = run.costs[run.costs["side"] == "use"].groupby("category")["amount"].sum()
    ledger = uses["backbone"] + uses["shared measurement"] + uses["coordination"]
    assert run.summary["collaboration_cost"] == pytest.approx(ledger, rel=1e-9)
    assert run.summary["collaboration_cost"] < run.trajectory["investment"].sum()


def test_collaboration_cost_is_backbone_measurement_and_time(small: Scenario):
    """Without backbone, shared measurement and meetings, collaborating costs only the
    partners' coordination hours; with a zero hour cost it costs nothing and has no ratio."""
    bare = small.with_overrides({"horizon_years": 1, "backbone.present": False,
                                 "measurement.shared": False,
                                 "valuation.coordination_hour_cost": 0.0})
    r = simulate(bare, 3)
    assert r.summary["collaboration_cost"] == 0.0
    assert math.isnan(r.summary["sroi_collaboration"])
    assert r.summary["initiative_input_pv"] > 0


def test_deadweight_scales_only_the_initiative_framing(small: Scenario, run):
    sc = small.with_overrides({"horizon_years": 4, "valuation.deadweight": 0.4})
    r = simulate(sc, 3)
    assert r.trajectory["outcome_rate"].equals(run.trajectory["outcome_rate"])
    assert r.summary["sroi_initiative"] == pytest.approx(0.6 * run.summary["sroi_initiative"])
    assert r.summary["sroi_collaboration"] == pytest.approx(run.summary["sroi_collaboration"])
    assert r.summary["sroi_final"] == pytest.approx(run.summary["sroi_final"])


def test_every_numeric_summary_key_is_a_sweep_outcome(run):
    """Sweeps accept the framings' summary keys (cisim.sweep.spec checks outcome names)."""
    from cisim.sweep.spec import _SUMMARY_KEYS

    numeric = {k for k, v in run.summary.items()
               if isinstance(v, int | float) and not k.startswith("year_reached:")
               and k != "seed"}
    assert numeric <= _SUMMARY_KEYS, sorted(numeric - _SUMMARY_KEYS)
