"""Graded phase effects: emphasis moves with readiness; the gated variant is the old model."""

from __future__ import annotations

import hashlib
import math
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cisim import Scenario, simulate
from cisim.model import CollectiveImpactModel
from cisim.phases import COMPONENTS, nciom_model, power_mean, readiness, refined_model

unit = st.floats(0.0, 1.0, allow_nan=False)
weights = st.floats(0.0, 10.0, allow_nan=False)
exponents = st.floats(-4.0, 1.0, allow_nan=False)


def _stub(scenario: Scenario) -> SimpleNamespace:
    return SimpleNamespace(design=scenario)


@given(v=st.lists(unit, min_size=4, max_size=4), w=st.lists(weights, min_size=4, max_size=4),
       p=exponents)
def test_power_mean_lies_between_the_values(v, w, p):
    m = power_mean(v, w, p)
    used = [x for x, wt in zip(v, w, strict=True) if wt > 0]
    if not used:
        assert m == 1.0
        return
    # the mean is exp(log sum / p): a rounding of the log sum (a few 1e-16 of its terms'
    # logs) becomes a few 1e-16 / |p| of the mean (up to 4.2e-16 / |p| in 200,000 random
    # cases), ~1e-10 next to the geometric mean (|p| >= 1e-6); 4e-15 / |p| leaves a margin
    tol = 1e-12 + (4e-15 / abs(p) if abs(p) >= 1e-6 else 0.0)
    assert min(used) - tol <= m <= max(used) + tol


@given(v=st.lists(unit, min_size=4, max_size=4), k=st.integers(0, 3),
       dv=st.floats(0.0, 1.0), p=exponents)
def test_power_mean_never_falls_when_a_condition_improves(v, k, dv, p):
    better = list(v)
    better[k] = min(1.0, v[k] + dv)
    assert power_mean(better, [1, 1, 1, 1], p) >= power_mean(v, [1, 1, 1, 1], p) - 1e-12


def test_power_mean_special_cases():
    v, w = [0.25, 1.0, 0.5, 1.0], [1, 1, 2, 0]
    assert power_mean(v, w, 1.0) == pytest.approx((0.25 + 1.0 + 2 * 0.5) / 4)
    assert power_mean(v, w, 0.0) == pytest.approx(math.exp((math.log(0.25) + 2 * math.log(0.5))
                                                           / 4))
    assert power_mean([0.0, 1.0], [1, 1], 0.0) == 0.0  # geometric: a missing condition vetoes
    assert power_mean([0.0, 1.0], [1, 1], 1.0) == 0.5  # arithmetic: it does not
    assert power_mean([0.0, 1.0], [0, 1], -2.0) == 1.0  # a zero weight drops a condition


@pytest.mark.parametrize("values, weights", [((1.0,), (1.0, 2.0)), ((1.0, 0.5), (1.0,)),
                                             ((1.0,), (0.0, 0.0))])
def test_power_mean_refuses_values_and_weights_of_different_lengths(values, weights):
    with pytest.raises(ValueError, match=f"{len(values)} values for {len(weights)} weights"):
        power_mean(values, weights, 1.0)


@given(r1=unit, r2=unit)
def test_graded_emphasis_moves_linearly_from_initiation_to_run(default_scenario, r1, r2):
    pm = refined_model(_stub(default_scenario))
    for comp in COMPONENTS:
        e0 = pm.emphasis("initiation")[comp]
        e1 = pm.emphasis("run")[comp]
        a = pm.graded_emphasis("initiation", comp, r1)
        b = pm.graded_emphasis("initiation", comp, r2)
        assert a == pytest.approx(e0 + (e1 - e0) * r1)
        assert abs(a - b) <= abs(e1 - e0) * abs(r1 - r2) + 1e-12  # continuous in readiness
        # Run acts the same as Initiation at the same readiness: entering Run is no jump
        assert pm.graded_emphasis("run", comp, r1) == a
    assert pm.graded_emphasis("initiation", "activities", 0.0) == 0.15
    assert pm.graded_emphasis("initiation", "activities", 1.0) == 1.0
    # the later phases keep their own tables at full readiness
    assert pm.graded_emphasis("exponential", "systems_change", 1.0) == 1.5


def test_nciom_organize_is_preparatory(default_scenario):
    pm = nciom_model(_stub(default_scenario))
    half = pm.graded_emphasis("organize", "activities", 0.5)
    assert half == pytest.approx(0.3 + (1.0 - 0.3) * 0.5)  # toward Sustain, from Initiate
    assert pm.graded_emphasis("initiate", "activities", 0.5) == half


def _world(**kw) -> SimpleNamespace:
    base = dict(agreement=0.6, trust_mean=0.35, backbone_capacity=0.8, runway_years=2.0)
    base.update(kw)
    return SimpleNamespace(**base)


def test_readiness_is_one_when_every_run_condition_is_met(default_scenario):
    assert readiness(_stub(default_scenario), _world()) == 1.0


@pytest.mark.parametrize("field, low", [("agreement", 0.2), ("trust_mean", 0.1),
                                        ("backbone_capacity", 0.1), ("runway_years", 0.3)])
def test_one_missing_condition_lowers_readiness_without_vetoing_it(default_scenario, field, low):
    full = readiness(_stub(default_scenario), _world())
    part = readiness(_stub(default_scenario), _world(**{field: low}))
    gone = readiness(_stub(default_scenario), _world(**{field: 0.0}))
    assert gone < part < full
    assert gone > 0.2  # the default exponent (0.5) does not let one condition veto the rest
    geometric = default_scenario.with_overrides({"phases.readiness_exponent": 0.0})
    assert readiness(_stub(geometric), _world(**{field: 0.0})) == 0.0  # geometric: it does


def test_without_a_backbone_self_coordination_stands_in(default_scenario):
    sc = default_scenario.with_overrides({"backbone.present": False})
    world = _world(backbone_capacity=0.0)
    r = readiness(_stub(sc), world)
    assert 0.0 < r < 1.0
    more = sc.with_overrides({"dynamics.self_coordination": 0.5})  # = run_min_backbone
    assert readiness(_stub(more), world) == 1.0


def test_weights_choose_what_readiness_listens_to(default_scenario):
    only_trust = default_scenario.with_overrides({
        "phases.readiness_weight_agreement": 0.0, "phases.readiness_weight_coordination": 0.0,
        "phases.readiness_weight_runway": 0.0})
    w = _world(agreement=0.0, backbone_capacity=0.0, runway_years=0.0, trust_mean=0.15)
    assert readiness(_stub(only_trust), w) == pytest.approx(0.5)


# Recorded by running main at commit c2b9b2e, which has neither graded effects, the smoothing
# trust rule nor the exit hazard (a recording from main at 0174955 was reproduced the same way
# before main's later population changes moved it): the default scenario, 2,000 people,
# 4 years, seed 11. The hash is of the trajectory columns below, as float64 bytes in row order.
OLD = {
    "refined": dict(
        sha="503d93133f6617c0838e733e658bf9390ae4a9a102c8bfaafadf07c6f99a703b",
        last=dict(trust=0.4934315555642714, agreement=0.9671417757478444,
                  alignment=0.8519431326965381, systems_change=0.1980831569578152),
        phases=[(56, "Run"), (160, "Re-design"), (186, "Run")]),
    "nciom": dict(
        sha="464744cdf2fc2b62147e2e0ab89db903501d4965dd63f2658fcdea0f4d798901",
        last=dict(trust=0.4929974203315662, agreement=0.9461007182291106,
                  alignment=0.8633079951424212, systems_change=0.24292863647723406),
        phases=[(26, "Organize for Impact"), (63, "Sustain Action & Impact")]),
}
COLUMNS = ["outcome_rate", "outcome_rate_cf", "trust", "agreement", "alignment", "measurement",
           "systems_change"]


@pytest.mark.parametrize("model", ["refined", "nciom"])
def test_gated_variant_reproduces_the_old_trajectory_exactly(small: Scenario, model: str):
    sc = small.with_overrides({"horizon_years": 4.0, "phases.model": model,
                               "phases.effect": "gated", "dynamics.trust_rule": "pant_yu",
                               "dynamics.exit_rate_per_year": 0.0,
                               # nor small wins in trust or meeting fatigue
                               "dynamics.small_win_trust": 0.0, "dynamics.meeting_fatigue": 0.0})
    r = simulate(sc, 11)
    t = r.trajectory
    old = OLD[model]
    for col, value in old["last"].items():
        assert float(t[col].iloc[-1]) == value, col
    assert list(r.phases[["step", "to_phase"]].itertuples(index=False, name=None)) == old[
        "phases"]
    data = np.ascontiguousarray(t[COLUMNS].to_numpy(dtype=float))
    assert hashlib.sha256(data.tobytes()).hexdigest() == old["sha"]


def test_graded_effects_follow_readiness_in_a_run(small: Scenario):
    sc = small.with_overrides({"horizon_years": 1.5})
    m = CollectiveImpactModel(sc, rng=3)
    pm = m.phase_model
    seen = []
    while m.running:
        m.step()
        r = m.readiness(m.factual)
        assert r == pytest.approx(readiness(m, m.factual))
        e = m.emphasis(m.factual, "activities")
        assert e == pytest.approx(pm.graded_emphasis(m.phase_key(m.factual), "activities", r))
        seen.append(r)
    assert 0.0 < min(seen) < max(seen) <= 1.0
    assert m.emphasis(m.counterfactual, "activities") == 1.0  # isolation: no phases
    recorded = m.recorder.data[:, m.recorder.cols["readiness"]]
    assert recorded[0] == 0.0  # a partnership starts unready
    np.testing.assert_array_equal(recorded[1:], seen)


def test_without_a_backbone_graded_effects_still_let_partners_coordinate(small: Scenario):
    # Gated, a partnership without a backbone never leaves Initiation and its activities keep
    # Initiation's emphasis 0.15; graded, they rise with whatever readiness it reaches.
    sc = small.with_overrides({"backbone.present": False, "horizon_years": 2.0})
    emph = {}
    for effect in ("graded", "gated"):
        m = CollectiveImpactModel(sc.with_overrides({"phases.effect": effect}), rng=2)
        values = []
        while m.running:
            m.step()
            values.append(m.emphasis(m.factual, "activities"))
        assert m.phase_key(m.factual) == "initiation"
        emph[effect] = np.mean(values[26:])
    assert emph["gated"] == pytest.approx(0.15)
    assert emph["graded"] > 0.3


def test_without_a_common_agenda_graded_effects_keep_some_coordinated_work(small: Scenario):
    # No agenda convergence (bounded confidence closed, no facilitation widening, no proposal):
    # gated, the partnership stays in Initiation, where systems change and measurement run at
    # 0.2 and 0.5 of their rates; graded, the other conditions still make it partly ready.
    sc = small.with_overrides({"population.size": 500, "horizon_years": 4.0,
                               "dynamics.confidence_bound": 1e-6,
                               "dynamics.facilitation_bound": 0.0,
                               "dynamics.proposal_pull": 0.0})
    out = {e: simulate(sc.with_overrides({"phases.effect": e}), 1).trajectory
           for e in ("graded", "gated")}
    for t in out.values():
        assert set(t["phase"]) == {"Initiation"}
        assert t["agreement"].iloc[-1] < 0.3  # no common agenda formed
    assert out["graded"]["readiness"].iloc[-52:].mean() > 0.4
    last = {e: t.iloc[-1] for e, t in out.items()}
    assert last["graded"]["systems_change"] > 2 * last["gated"]["systems_change"] > 0
    assert last["graded"]["measurement"] > last["gated"]["measurement"] + 0.05
