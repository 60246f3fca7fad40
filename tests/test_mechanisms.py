"""Mechanism tests: each would fail if its mechanism were wrong."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from meeting import meeting

from cisim import Scenario, load_scenario, simulate
from cisim.mechanisms import (
    BeneficiaryEngagement,
    MutuallyReinforcingActivities,
    SystemsChange,
    systems_change,
)
from cisim.mechanisms.activities import fit_alone
from cisim.model import CollectiveImpactModel

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"


def _meeting(trust, damage, p_good, step):
    n = trust.shape[0]
    return meeting(np.uint64(7), step, np.ones(n, dtype=np.bool_), trust, damage,
                   np.zeros((n, 2)), p_good, 0.0, 0.1, 0.3, 0.1)


def test_trust_rises_with_good_meetings_and_falls_faster_after_bad_ones():
    trust = np.full((2, 2), 0.1)
    damage = np.zeros((2, 2))
    history = [trust[0, 1]]
    for step in range(10):
        counts = _meeting(trust, damage, 1.0, step)
        assert counts[1] == counts[0] == 1  # one interaction, good
        history.append(trust[0, 1])
    assert all(b > a for a, b in itertools.pairwise(history))
    gained = trust[0, 1] - 0.1
    peak = trust[0, 1]
    bad = 0
    while trust[0, 1] > 0.1:
        _meeting(trust, damage, 0.0, 100 + bad)
        bad += 1
    assert gained > 0.4
    assert bad < 10, f"lost in {bad} bad meetings what 10 good ones built"
    assert trust[0, 1] == pytest.approx(trust[1, 0])
    assert damage[0, 1] > 0 and peak <= 1.0
    # at the same level, one bad interaction costs more than one good one brings
    up, down = np.full((2, 2), 0.4), np.full((2, 2), 0.4)
    _meeting(up, np.zeros((2, 2)), 1.0, 0)
    _meeting(down, np.zeros((2, 2)), 0.0, 0)
    assert 0.4 - down[0, 1] > up[0, 1] - 0.4 > 0


def test_trust_ceiling_after_damage():
    trust = np.full((2, 2), 0.5)
    damage = np.zeros((2, 2))
    _meeting(trust, damage, 0.0, 0)
    assert damage[0, 1] == pytest.approx(0.1)
    for step in range(200):
        _meeting(trust, damage, 1.0, step + 1)
    assert trust[0, 1] <= 1.0 - damage[0, 1] + 1e-12


def _run(sc: Scenario, years: float, seed: int = 3) -> CollectiveImpactModel:
    model = CollectiveImpactModel(sc.with_overrides({"horizon_years": years}), rng=seed)
    while model.running:
        model.step()
    return model


def test_better_facilitation_builds_more_trust(small: Scenario):
    weak = _run(small.with_overrides({"backbone.skill": 0.0}), 2)
    strong = _run(small.with_overrides({"backbone.skill": 1.0}), 2)
    assert strong.factual.trust_mean > weak.factual.trust_mean + 0.05


def test_trust_decays_without_meetings(small: Scenario):
    sc = small.with_overrides({"meetings.cadence": "none", "dynamics.initial_trust": 0.5})
    m = _run(sc, 2)
    expected = 0.5 * (1 - sc.dynamics.trust_decay_per_year / 52) ** (2 * 52)
    assert m.factual.trust_mean == pytest.approx(expected, rel=1e-9)


def test_agenda_converges_only_with_enough_trust(small: Scenario):
    start = CollectiveImpactModel(small, rng=3).factual.agreement
    no_trust = small.with_overrides({
        "dynamics.initial_trust": 0.0, "dynamics.good_experience_base": 0.0,
        "dynamics.good_experience_facilitation": 0.0,
    })
    low = _run(no_trust, 3).factual
    high = _run(small.with_overrides({"dynamics.initial_trust": 0.6}), 3).factual
    assert low.trust_mean < 0.01
    assert low.agreement < start + 0.02
    assert high.agreement > start + 0.3


def test_without_backbone_alignment_lower_and_run_later_or_never(small: Scenario):
    seeds = range(4)
    with_bb = [simulate(small, s) for s in seeds]
    without = [simulate(small.with_overrides({"backbone.present": False}), s) for s in seeds]
    a_with = np.mean([r.summary["alignment_final"] for r in with_bb])
    a_without = np.mean([r.summary["alignment_final"] for r in without])
    assert a_with > a_without + 0.1
    run_with = [r.summary.get("year_reached:Run", np.inf) for r in with_bb]
    run_without = [r.summary.get("year_reached:Run", np.inf) for r in without]
    assert np.median(run_without) > np.median(run_with)
    assert all(np.isinf(run_without)), "the default Run conditions require a backbone"
    blockers = without[0].summary["phase_blockers"]
    assert "backbone capacity 0.00 < 0.5" in blockers
    assert without[0].summary["final_phase"] == "Initiation"


def test_shared_measurement_reduces_measurement_error(small: Scenario):
    def error(sc: Scenario) -> float:
        t = simulate(sc, 5).trajectory.iloc[104:]
        return float((t["measured_rate"] - t["outcome_rate"]).abs().mean())

    thin = small.with_overrides({"measurement.shared": False})
    strong = small.with_overrides({"backbone.staff.data_manager": 2.0,
                                   "measurement.investment_per_year": 150000})
    assert error(strong) < 0.6 * error(thin)


def test_isolated_scenario_equals_its_counterfactual(small: Scenario):
    r = simulate(small.counterfactual(), 11)
    t = r.trajectory
    assert (t["population_change_vs_cf"] == 0).all()
    assert (t["outcome_rate"] == t["outcome_rate_cf"]).all()
    sub = r.subgroups.pivot_table(index=["step", "subgroup"], columns="world",
                                  values="outcome_rate")
    assert (sub["factual"] == sub["counterfactual"]).all()


def test_same_scenario_and_seed_give_identical_results(small: Scenario):
    a, b = simulate(small, 42), simulate(small, 42)
    for attr in ("trajectory", "subgroups", "partners", "events", "phases"):
        assert getattr(a, attr).equals(getattr(b, attr)), attr
    c = simulate(small, 43)
    assert not a.trajectory["outcome_rate"].equals(c.trajectory["outcome_rate"])


def test_collaboration_beats_isolation_and_policy_reaches_the_unserved(default_scenario):
    r = simulate(default_scenario, 2)
    t = r.trajectory
    assert r.summary["population_change_vs_cf_final"] > 2.0
    # systems change is under way and a policy win lowers barriers for everyone
    assert t["systems_change"].iloc[-1] > 0.2


def test_policy_change_lifts_outcomes_of_the_unserved(small: Scenario):
    # services cost so much that nobody is served: only policy can move outcomes
    base = small.with_overrides({"horizon_years": 6, "population.cost_per_service_year": 1e8})
    policy = base.with_overrides({"dynamics.policy_change_rate_per_year": 20.0,
                                  "dynamics.policy_barrier_reduction": 0.5})
    none = base.with_overrides({"dynamics.policy_change_rate_per_year": 0.0})
    with_p = simulate(policy, 1).trajectory
    without = simulate(none, 1).trajectory
    assert with_p["served_share"].max() == without["served_share"].max() == 0
    assert with_p["policy_change"].iloc[-1] > 0.3
    assert without["policy_change"].iloc[-1] == 0
    assert with_p["population_change_vs_cf"].iloc[-52:].mean() > 2.0
    assert without["population_change_vs_cf"].iloc[-52:].abs().mean() < 0.5


def test_funding_cliff_hurts(small: Scenario):
    cliff = small.with_overrides({"funding.max_years": 2})
    full = simulate(small, 4).summary
    cut = simulate(cliff, 4).summary
    assert cut["population_change_vs_cf_final"] < full["population_change_vs_cf_final"]
    events = simulate(cliff, 4).events
    assert events["message"].str.contains("funding cliff").any()


def test_equity_focus_narrows_the_gap(default_scenario: Scenario):
    # services are scarce in the default design, so whom they reach matters
    sc = default_scenario.with_overrides({"horizon_years": 3})
    focus = simulate(sc.with_overrides({"engagement.equity_focus": 1.0}), 6).trajectory
    none = simulate(sc.with_overrides({"engagement.equity_focus": 0.0}), 6).trajectory
    gap_focus = focus["equity_gap"].iloc[52:].mean()
    gap_none = none["equity_gap"].iloc[52:].mean()
    assert gap_focus < gap_none - 3.0


def test_more_money_means_more_capacity(small: Scenario):
    rich = small.model_copy(deep=True)
    for s in rich.funding.streams:
        s.amount_per_year *= 2
    m_rich = CollectiveImpactModel(rich, rng=1)
    m_base = CollectiveImpactModel(small, rng=1)
    for _ in range(10):
        m_rich.step()
        m_base.step()
    assert m_rich.factual.service_capacity > m_base.factual.service_capacity
    # the counterfactual gets the same money as its own factual world
    assert m_rich.counterfactual.income == m_rich.factual.income


def test_weighted_mean_is_numpys_average_bit_for_bit():
    from cisim.numeric import weighted_mean

    rng = np.random.default_rng(1)
    for n in (2, 7, 9, 33, 200, 1000):
        a, w, b = rng.random((n, 2)), rng.random(n) * 3, rng.random(n)
        assert np.array_equal(weighted_mean(a, w, axis=0), np.average(a, axis=0, weights=w))
        assert weighted_mean(b, w) == np.average(b, weights=w)


def test_pairwise_sum_of_python_floats_is_numpys_sum_bit_for_bit():
    from cisim.numeric import pairwise_rows, pairwise_sum

    rng = np.random.default_rng(2)
    for n in [*range(0, 40), 63, 64, 65, 127, 128, 129, 300]:
        for _ in range(20):  # mixed magnitudes, so that the order of the additions shows
            a = rng.random(n) * 10.0 ** rng.integers(-8, 8, n)
            w = rng.random(n) + 1e-3
            assert pairwise_sum(a.tolist()) == np.add.reduce(a)
            rows = np.stack([a, w, a * w])  # each row summed as numpy sums it, all at once
            assert np.array_equal(pairwise_rows(rows), np.add.reduce(rows, axis=1))


def test_discount_of_one_step_is_numpys_bit_for_bit():
    """Python's pow of floats is the C library's, as numpy's scalar power: the same factors."""
    from cisim.numeric import discount, discount_at

    rng = np.random.default_rng(3)
    for rate in [0.0, 0.035, 0.5, *rng.uniform(0.0, 0.5, 40)]:
        for step in [0, 1, 51, 52, 53, 259, 520, 521, 5200, *rng.integers(0, 6000, 40)]:
            assert discount_at(int(step), float(rate)) == float(discount(int(step), rate))


def test_population_rates_are_each_worlds_rate(default_scenario: Scenario):
    model = CollectiveImpactModel(default_scenario.with_overrides(
        {"population.size": 700, "horizon_years": 0.5}), rng=6)
    for _ in range(10):
        model.step()
        assert model.population.rates() == (model.population.rate(0), model.population.rate(1))


def test_a_meeting_touches_only_pairs_of_attendees_and_keeps_trust_symmetric():
    """The compiled meeting: attendees only, both cells of a pair, the counts it returns."""
    rng = np.random.default_rng(3)
    n = 60
    attending = rng.random(n) < 0.8
    position = rng.random((n, 2))
    trust0 = np.full((n, n), 0.3)
    trust, damage = trust0.copy(), np.zeros((n, n))
    contacted = np.zeros((n, n), dtype=np.bool_)
    interactions, good = meeting(np.uint64(5), 9, attending, trust, damage, position, 0.7, 0.5,
                                 0.1, 0.3, 0.1, contact_prob=0.2, contacted=contacted)
    assert 0 < good < interactions  # some good and some bad interactions
    assert not contacted[~attending].any() and not contacted[:, ~attending].any()
    assert not contacted.diagonal().any()
    np.testing.assert_array_equal(contacted, contacted.T)
    np.testing.assert_array_equal(trust, trust.T)
    np.testing.assert_array_equal(damage, damage.T)
    assert np.count_nonzero(np.triu(contacted)) == interactions
    assert np.count_nonzero(np.triu(trust > trust0)) == good  # good ones build trust
    assert np.count_nonzero(np.triu(damage > 0)) == interactions - good  # bad ones cost it
    np.testing.assert_array_equal(trust[~contacted], trust0[~contacted])  # nobody else moved
    with pytest.raises(ValueError, match="optimism"):
        meeting(np.uint64(5), 9, attending, trust, damage, position, 0.7, 0.5, 0.1, 0.3, 0.1,
                "optimism", contact_prob=0.2, contacted=contacted)


# ---- persistence: what the partnership built fades without coordination -----------------------


def _bare(sc: Scenario, persistence: str) -> CollectiveImpactModel:
    return CollectiveImpactModel(sc.with_overrides({
        "dynamics.persistence": persistence, "dynamics.isolated_learning_per_year": 0.0,
    }), rng=3)


@pytest.mark.parametrize("persistence", ["fade", "lock_in"])
@pytest.mark.parametrize("coordination", [0.0, 0.5, 1.0])
def test_systems_change_fades_at_the_fade_rate_without_coordination(
        small: Scenario, persistence: str, coordination: float):
    m = _bare(small, persistence)
    w = m.factual
    w.alignment = 0.0  # no aligned work: nothing grows, no policy win can be drawn
    w.coordination = coordination
    w.services_change, w.practices_change, w.policy_change = 0.5, 0.0, 0.4
    mech = SystemsChange()
    for _ in range(52):
        mech.step(m, w)
    dyn = m.design.dynamics
    missing = (1.0 - coordination) if persistence == "fade" else 0.0
    keep = (1 - dyn.systems_change_decay_per_year / 52) * (
        1 - dyn.fade_rate_per_year / 52 * missing)
    assert w.services_change == pytest.approx(0.5 * keep**52, rel=1e-12)
    assert w.policy_change == pytest.approx(
        0.4 * (1 - dyn.policy_fade_rate_per_year / 52 * missing) ** 52, rel=1e-12)
    if persistence == "fade" and coordination == 0.0:
        # the default rate loses about 40% of services change a year, policy about 10%
        assert 0.55 < w.services_change / 0.5 < 0.62
        assert 0.88 < w.policy_change / 0.4 < 0.92


@pytest.mark.parametrize("persistence", ["fade", "lock_in"])
def test_allocations_fit_and_engagement_drift_back_without_coordination(
        small: Scenario, persistence: str):
    m = _bare(small.with_overrides({"engagement.intensity": 0.0}), persistence)
    w = m.factual
    p = w.partners
    w.allocation[:] = w.plan  # as aligned as the plan, then coordination stops
    w.fit, w.engagement = 0.9, 0.7
    w.coordination = 0.0
    alone = fit_alone(m, w)
    start = float(np.abs(w.allocation - p.own_priority).sum())
    activities, engagement = MutuallyReinforcingActivities(), BeneficiaryEngagement()
    for _ in range(26):
        engagement.step(m, w)
        activities.step(m, w)
    f = m.design.dynamics.fade_rate_per_year / 52
    left = float(np.abs(w.allocation - p.own_priority).sum())
    e0 = m.design.engagement.initial_level
    if persistence == "fade":
        assert left == pytest.approx(start * (1 - f) ** 26, rel=1e-9)
        assert w.fit - alone == pytest.approx((0.9 - alone) * (1 - f) ** 26, rel=1e-9)
        assert w.engagement - e0 == pytest.approx((0.7 - e0) * (1 - f) ** 26, rel=1e-9)
    else:
        assert left == pytest.approx(start, rel=1e-12)
        assert w.fit == 0.9 and w.engagement == 0.7


def test_a_funding_cliff_fades_under_fade_and_not_under_lock_in(default_scenario: Scenario):
    """The 5-year cliff the review measured: the gain at year 10 against year 5."""
    # Under the trust rule of the review (pant_yu): with the smoothing rule less trust and so
    # less change is built by year 5 (1.2 points against 1.9 in seeds 1-4), and less can fade.
    sc = load_scenario(SCENARIO_DIR / "funding_cliff.toml").with_overrides({
        "population.size": 2000, "funding.max_years": 5.0, "dynamics.trust_rule": "pant_yu"})

    def gain(persistence: str) -> tuple[float, float]:
        runs = [simulate(sc.with_overrides({"dynamics.persistence": persistence}), s).trajectory
                for s in range(1, 5)]
        y5 = np.mean([t["population_change_vs_cf"].iloc[209:261].mean() for t in runs])
        y10 = np.mean([t["population_change_vs_cf"].iloc[469:521].mean() for t in runs])
        return float(y5), float(y10)

    fade5, fade10 = gain("fade")
    lock5, lock10 = gain("lock_in")
    assert fade10 < fade5 - 0.25
    assert lock10 > lock5


# ---- a counterfactual that learns and coordinates a little --------------------------------------


def test_organisations_alone_learn_slowly(small: Scenario):
    sc = small.with_overrides({"horizon_years": 8.0})
    rate = sc.dynamics.isolated_learning_per_year
    m = CollectiveImpactModel(sc, rng=2)
    cf = m.counterfactual
    fit0 = cf.fit
    while m.running:
        m.step()
    assert cf.learned == pytest.approx(1 - (1 - rate / 52) ** sc.steps, rel=1e-9)
    assert cf.fit == fit_alone(m, cf) > fit0
    # much slower than an engaged partnership: the factual fit has moved further
    assert m.factual.fit - fit0 > 2 * (cf.fit - fit0)
    none = CollectiveImpactModel(sc.with_overrides({"dynamics.isolated_learning_per_year": 0.0}),
                                 rng=2)
    for _ in range(20):
        none.step()
    assert none.counterfactual.fit == fit0


def test_ad_hoc_coordination_avoids_some_duplication(small: Scenario):
    cap = {}
    for level in (0.0, 0.1):
        m = CollectiveImpactModel(small.with_overrides({"dynamics.isolated_coordination": level}),
                                  rng=2)
        cap[level] = m.counterfactual.service_capacity
    assert cap[0.1] > cap[0.0]


# ---- structural barriers -------------------------------------------------------------------


def test_structural_barriers_yield_only_to_policy_aimed_by_an_equity_focus(small: Scenario):
    m = CollectiveImpactModel(small, rng=1)
    w = m.factual
    w.policy_change = 0.5
    red = m.design.dynamics.policy_barrier_reduction
    for focus, structural in ((0.0, 1.0), (1.0, 1 - red * 0.5)):
        systems_change.set_multipliers(m.design.with_overrides(
            {"engagement.equity_focus": focus}), w)
        assert w.structural_multiplier == pytest.approx(structural)
        assert w.barrier_multiplier == pytest.approx(1 - red * 0.5)
    systems_change.set_multipliers(m.design, m.counterfactual)  # isolated: no equity focus
    assert m.counterfactual.structural_multiplier == 1.0
    pop = m.population
    assert list(pop.structural) == [0.0, m.design.dynamics.structural_barrier]


def test_services_help_less_where_barriers_are_structural(small: Scenario):
    def gain(sigma: float) -> float:
        sc = small.with_overrides({"horizon_years": 4.0, "dynamics.structural_barrier": sigma})
        out = []
        for seed in range(3):
            sg = simulate(sc, seed).subgroups
            late = sg[(sg.subgroup == "marginalised") & (sg.step > 3 * 52)]
            f = late[late.world == "factual"].outcome_rate.mean()
            c = late[late.world == "counterfactual"].outcome_rate.mean()
            out.append(f - c)
        return float(np.mean(out))

    assert gain(0.6) < gain(0.0) - 0.005


@pytest.mark.parametrize("persistence", ["fade", "lock_in"])
def test_engagement_grows_only_as_far_as_coordination_carries_it(small: Scenario,
                                                                 persistence: str):
    m = _bare(small.with_overrides({"engagement.intensity": 1.0}), persistence)
    w = m.factual
    start = w.engagement
    w.coordination = 0.0
    mech = BeneficiaryEngagement()
    for _ in range(52):
        mech.step(m, w)
    if persistence == "fade":
        assert w.engagement == start  # nobody carries the joint work: no growth, nothing to fade
    else:
        assert w.engagement > start + 0.05
    w.coordination = 1.0
    before = w.engagement
    mech.step(m, w)
    assert w.engagement > before


def test_equity_on_the_log_odds_scale_follows_the_equity_focus(default_scenario: Scenario):
    """Pattern P5 on the scale declared in advance: the log-odds gap between subgroups.

    Without an equity focus the factual gap narrows no more than the counterfactual's over ten
    years (within noise); with a full focus it narrows clearly more. The default population:
    services are scarce per head, so whom they reach first (creaming) matters.
    """
    def narrowing(q: float) -> float:
        sc = default_scenario.with_overrides({"engagement.equity_focus": q})
        out = []
        for seed in (1, 2, 3):
            t = simulate(sc, seed).trajectory.iloc[-52:]
            out.append(t["equity_gap_logodds"].mean() - t["equity_gap_logodds_cf"].mean())
        return float(np.mean(out))

    none, full = narrowing(0.0), narrowing(1.0)
    assert none > -0.15
    assert full < none - 0.4


def _plan_numpy(expertise, capacity, need_share, sweeps=25):
    """The plan's proportional fitting in numpy (the operations plan_allocation documents)."""
    x = np.maximum(expertise, 1e-3) ** 2
    x = x / x.sum(axis=1, keepdims=True)
    cap = np.maximum(capacity, 0.0)
    total = cap.sum()
    if total <= 0:
        return x
    target = need_share * total
    for _ in range(sweeps):
        col = (cap[:, None] * x).sum(axis=0)
        x *= np.where(col > 0, target / np.maximum(col, 1e-300), 1.0)
        x /= x.sum(axis=1, keepdims=True)
    return x


@pytest.mark.parametrize("areas", [1, 3, 4, 7, 8, 11])
def test_compiled_plan_is_the_numpy_plan_bit_for_bit(areas: int):
    from cisim.mechanisms.activities import plan_allocation

    rng = np.random.default_rng(areas)
    for n in (1, 5, 20, 150):
        expertise = rng.uniform(0.0, 1.0, (n, areas))
        expertise[0, 0] = 0.0  # below the 1e-3 floor
        capacity = rng.lognormal(3.0, 1.0, n)
        capacity[-1] = -1.0  # a negative capacity counts as none
        need = rng.dirichlet(np.ones(areas))
        got = plan_allocation(expertise, capacity, need)
        assert np.array_equal(got, _plan_numpy(expertise, capacity, need))
        assert np.allclose(got.sum(axis=1), 1.0)
    zero = plan_allocation(np.full((3, areas), 0.5), np.zeros(3), np.full(areas, 1.0 / areas))
    assert np.array_equal(zero, np.full((3, areas), 1.0 / areas))


@pytest.mark.parametrize("generated", [0, 5, 12, 29])
def test_compiled_activities_week_is_the_numpy_week_bit_for_bit(
        default_scenario: Scenario, generated: int, monkeypatch):
    """The compiled re-tuning and refresh give the numpy path's numbers, for 8 to 37 partners.

    8 partners fill the pairwise sums' eight lanes exactly; 13, 20 and 37 leave a remainder
    (and 37 several blocks); persistence "fade" and "lock_in" both run.
    """
    import cisim.mechanisms.activities as activities

    for persistence in ("fade", "lock_in"):
        sc = default_scenario.with_overrides({
            "population.size": 800, "horizon_years": 3.0, "dynamics.persistence": persistence,
            "partner_generation.counts": {"nonprofit": generated} if generated else {},
        })
        compiled = simulate(sc, 11)
        with monkeypatch.context() as m:
            m.setattr(activities, "_compiled", lambda partners, areas: False)
            numpy_week = simulate(sc, 11)
        assert len(compiled.partners["partner"].unique()) == 8 + generated
        pd.testing.assert_frame_equal(compiled.trajectory, numpy_week.trajectory,
                                      check_exact=True)
        pd.testing.assert_frame_equal(compiled.partners, numpy_week.partners, check_exact=True)


@pytest.mark.parametrize("areas", [8, 9, 12])
def test_compiled_activities_week_matches_numpy_with_eight_or_more_areas(
        default_scenario: Scenario, areas: int, monkeypatch):
    """With eight or more areas the compiled week sums a row's areas in numpy's pairwise
    order (eight lanes, then the rest), and still gives the numpy path's numbers."""
    import cisim.mechanisms.activities as activities

    sc = default_scenario.with_overrides({
        "strategy_areas": [f"area {k}" for k in range(areas)], "partners": [],
        "partner_generation.profiles": {}, "population.size": 600, "horizon_years": 2.0,
        "partner_generation.counts": {"nonprofit": 9, "public": 4 + areas % 3},
    })
    compiled = simulate(sc, 5)
    with monkeypatch.context() as m:
        m.setattr(activities, "_compiled", lambda partners, areas: False)
        numpy_week = simulate(sc, 5)
    assert compiled.trajectory["alignment"].iloc[-1] > 0
    pd.testing.assert_frame_equal(compiled.trajectory, numpy_week.trajectory, check_exact=True)
    pd.testing.assert_frame_equal(compiled.partners, numpy_week.partners, check_exact=True)


@pytest.mark.parametrize("generated", [0, 5, 29])
def test_compiled_value_week_is_the_numpy_week_bit_for_bit(
        default_scenario: Scenario, generated: int, monkeypatch):
    """The compiled value week gives the numpy path's numbers, with partners leaving.

    A partnership that goes badly (no backbone, meetings going badly) loses partners, so the
    rows of partners who left (their value rates set to zero) run too; 8, 13 and 37 partners
    leave a remainder in the pairwise sums' eight lanes or fill them.
    """
    import cisim.mechanisms.value as value

    sc = default_scenario.with_overrides({
        "population.size": 600, "horizon_years": 4.0, "backbone.present": False,
        "dynamics.good_experience_facilitation": 0.0, "dynamics.good_experience_base": 0.35,
        "partner_generation.counts": {"nonprofit": generated} if generated else {},
    })
    compiled = simulate(sc, 3)
    with monkeypatch.context() as m:
        m.setattr(value, "MAX_PARTNERS", 0)  # every week in numpy
        numpy_week = simulate(sc, 3)
    assert compiled.summary["active_partners_final"] < 8 + generated  # some left
    for frame in ("trajectory", "partners", "partner_values", "events"):
        pd.testing.assert_frame_equal(getattr(compiled, frame), getattr(numpy_week, frame),
                                      check_exact=True)


def test_a_kernel_at_level_one_leaves_numbas_settings_as_they_were(monkeypatch):
    """``_jit(opt=1)`` sets numba's optimisation level only around its own compile, also when
    the compile fails."""
    import numba

    from cisim import kernels

    monkeypatch.setattr(kernels, "_CACHE", False)  # nothing written next to the tests
    before = (numba.config.OPT, numba.config.LOOP_VECTORIZE)

    @kernels._jit(opt=1)
    def total(a):
        s = 0.0
        for v in a:
            s += v
        return s

    assert total(np.arange(10.0)) == 45.0
    assert before == (numba.config.OPT, numba.config.LOOP_VECTORIZE)

    @kernels._jit(opt=1)
    def broken(a):
        return a.no_such_attribute

    if not numba.config.DISABLE_JIT:
        with pytest.raises(numba.core.errors.TypingError):
            broken(np.arange(3.0))
        assert before == (numba.config.OPT, numba.config.LOOP_VECTORIZE)
