"""The model as a whole: shipped scenarios run, phases, SROI arithmetic, ensembles, batch_run."""

from __future__ import annotations

from pathlib import Path

import mesa
import numpy as np
import pytest

from cisim import Scenario, ensemble, load_scenario, simulate
from cisim.agents import Backbone, Beneficiary, Partner
from cisim.model import CollectiveImpactModel
from cisim.outcomes import discount

SCENARIOS = sorted((Path(__file__).resolve().parent.parent / "scenarios").glob("*.toml"))


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_shipped_scenario_runs(path: Path):
    sc = load_scenario(path)
    r = simulate(sc, 0)
    t = r.trajectory
    assert len(t) == sc.steps + 1
    numeric = t.drop(columns=["phase", "phase_blockers", "sroi", "sroi_measured",
                              "sroi_initiative", "sroi_collaboration",
                              "served_outcome_rate",
                              "unserved_outcome_rate", "outcome_rate_cf_served"])
    assert np.isfinite(numeric.to_numpy(dtype=float)).all()
    assert t["outcome_rate"].between(0, 1).all()
    for col in ("trust", "agreement", "alignment", "measurement", "engagement",
                "funding_runway", "backbone_capacity"):
        assert t[col].between(0, 1).all(), col


def test_default_reaches_run_and_records_transitions(default_scenario: Scenario):
    r = simulate(default_scenario, 1)
    assert "Run" in set(r.trajectory["phase"])
    first = r.phases.iloc[0]
    assert (first["from_phase"], first["to_phase"]) == ("Initiation", "Run")
    assert "agenda agreement" in first["cause"]
    assert r.phases["step"].is_monotonic_increasing
    # no transition before the shortest Initiation phase
    assert first["year"] >= default_scenario.phases.min_initiation_years


def test_nciom_phase_model(default_scenario: Scenario):
    r = simulate(default_scenario.with_overrides({"phases.model": "nciom",
                                                  "population.size": 2000}), 1)
    assert r.trajectory["phase"].iloc[0] == "Initiate Action"
    assert set(r.trajectory["phase"]) <= {"Initiate Action", "Organize for Impact",
                                          "Sustain Action & Impact"}
    assert len(r.phases) >= 1


def test_sroi_follows_the_guide(small: Scenario):
    r = simulate(small, 9)
    t = r.trajectory
    v = small.valuation
    steps = t["step"].to_numpy()
    gain = (t["outcome_rate"] - t["outcome_rate_cf"]).to_numpy() * small.population.size / 52
    gain[0] = 0
    adjusted = v.value_per_outcome_year * (1 - v.attribution) * (1 - v.displacement)
    value_pv = np.cumsum(gain * adjusted * discount(steps, v.discount_rate))
    invest_pv = np.cumsum(t["investment"].to_numpy() * discount(steps, v.discount_rate))
    np.testing.assert_allclose(t["social_value"], value_pv, rtol=1e-9)
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = value_pv / invest_pv
    np.testing.assert_allclose(t["sroi"].iloc[1:], expected[1:], rtol=1e-9)
    # attribution scales value, not the dynamics
    r2 = simulate(small.with_overrides({"valuation.attribution": 0.5}), 9)
    assert r2.summary["sroi_final"] == pytest.approx(
        r.summary["sroi_final"] * 0.5 / (1 - v.attribution), rel=1e-9)
    assert r2.trajectory["outcome_rate"].equals(t["outcome_rate"])


def test_projection_with_drop_off_adds_value(small: Scenario):
    base = simulate(small, 9).summary
    proj = simulate(small.with_overrides({"valuation.projection_years": 3}), 9).summary
    assert base["sroi_projected"] == pytest.approx(base["sroi_final"])
    assert proj["sroi_projected"] > proj["sroi_final"]


def test_mesa_agents_are_views_on_the_arrays(small: Scenario):
    m = CollectiveImpactModel(small, rng=1, collect_agents=True)
    for _ in range(30):
        m.step()
    partners = m.agents_by_type[Partner]
    assert len(partners) == m.factual.partners.n
    p = partners.to_list()[0]
    p2 = partners.to_list()[1]
    assert p.trust_in(p2) == m.factual.trust[p.index, p2.index]
    assert len(m.agents_by_type[Backbone]) == 1
    youths = m.agents_by_type[Beneficiary]
    assert len(youths) == small.population.mesa_agents
    y = youths.to_list()[0]
    assert y.in_outcome == bool(m.population.outcome[0, y.index])
    agent_data = m.datacollector.get_agenttype_vars_dataframe(Partner)
    assert len(agent_data) > 0
    model_data = m.datacollector.get_model_vars_dataframe()
    assert len(model_data) == 31
    assert model_data["trust"].iloc[-1] == pytest.approx(m.factual.trust_mean)


#: Phase thresholds that take the default design through every phase within four years.
QUICK_PHASES = {"dynamics.initial_trust": 0.35, "phases.run_years_before_redesign": 0.5,
                "phases.redesign_years": 0.5, "phases.exponential_min_systems_change": 0.0,
                "phases.exponential_min_sroi": 0.0}


def test_datacollector_reads_each_week_as_the_recorder_recorded_it(small: Scenario):
    """Every model column of every week is what the model gave that week, phases included."""
    from cisim.model import MODEL_REPORTERS

    m = CollectiveImpactModel(small.with_overrides(
        {"population.size": 600, "horizon_years": 4.0, **QUICK_PHASES}), rng=2)
    seen = []
    while m.running:
        m.step()
        seen.append([m.latest(c) for c in MODEL_REPORTERS] + [m.phase_label(m.factual)])
        if m.steps == 6:  # read mid-run: the later weeks are still added when read again
            assert len(m.datacollector.get_model_vars_dataframe()) == 7
    frame = m.datacollector.get_model_vars_dataframe()
    assert list(frame.columns) == [*MODEL_REPORTERS, "phase"]
    assert len(frame) == m.steps + 1  # the initial state and every week
    got = frame.iloc[1:].to_numpy(dtype=object).tolist()
    assert got == seen  # the same Python floats (NaN aside: none in these columns) and phases
    assert frame["trust"].iloc[0] == m.recorder.data[0, m.recorder.cols["trust"]]
    assert frame["phase"].iloc[0] == "Initiation"
    assert frame["phase"].nunique() == 4  # (the run goes through every phase)


def test_mesa_batch_run_collects_each_week_as_the_model_does(small: Scenario):
    """``mesa.batch_run`` reads the collector's weeks (by Mesa's collection times) unchanged.

    Every model column of every week, the phase included, is what the same run's own
    DataCollector holds, and the phase is the recorder's of that week.
    """
    import pandas as pd

    params = {"population.size": 500, "horizon_years": 4.0, **QUICK_PHASES}
    rows = mesa.batch_run(CollectiveImpactModel, parameters={
        **{k: [v] for k, v in params.items()}, "meetings.cadence": ["weekly", "monthly"]},
        max_steps=208, rng=[3], data_collection_period=1, number_processes=1,
        display_progress=False)
    got = pd.DataFrame(rows)
    assert len(got) == 2 * 209
    assert got.groupby("meetings.cadence")["phase"].nunique().max() > 1  # phases change
    for cadence, runs in got.groupby("meetings.cadence"):
        model = CollectiveImpactModel(small, rng=3, **params, **{"meetings.cadence": cadence})
        while model.running:
            model.step()
        want = model.datacollector.get_model_vars_dataframe()
        assert list(runs["Step"]) == list(range(209))
        assert list(runs["phase"]) == model.recorder.phase  # each week's, as recorded
        pd.testing.assert_frame_equal(runs[list(want.columns)].reset_index(drop=True), want,
                                      check_exact=True)


def test_ensemble_bands_and_independence_of_workers(small: Scenario):
    sc = small.with_overrides({"horizon_years": 3, "population.size": 800})
    one = ensemble(sc, 4, seed=5, n_jobs=1)
    two = ensemble(sc, 4, seed=5, n_jobs=2)
    assert one.trajectories.equals(two.trajectories)
    assert len(set(one.seeds)) == 4
    b = one.bands("population_change_vs_cf")
    assert (b["p5"] <= b["p50"] + 1e-12).all() and (b["p50"] <= b["p95"] + 1e-12).all()
    assert len(one.summaries) == 4


def test_runs_under_mesa_batch_run(tmp_path: Path, small: Scenario):
    f = tmp_path / "s.toml"
    small.with_overrides({"horizon_years": 1, "population.size": 500}).save(f)
    out = mesa.batch_run(
        CollectiveImpactModel,
        parameters={"scenario": str(f), "backbone.staff.facilitator": [0.2, 1.0]},
        rng=[1, 2],
        max_steps=1000,
        display_progress=False,
    )
    assert len(out) == 4
    assert {row["backbone.staff.facilitator"] for row in out} == {0.2, 1.0}
    assert all(row["Step"] == 52 for row in out)
    assert all("population_change_vs_cf" in row for row in out)


def test_bad_model_arguments_raise_scenario_error(small: Scenario):
    from cisim import ScenarioError

    with pytest.raises(ScenarioError, match=r"meetings\.cadance"):
        CollectiveImpactModel(small, rng=1, **{"meetings.cadance": "weekly"})
    with pytest.raises(ValueError, match="non-negative"):
        CollectiveImpactModel(small, rng=-1)


def test_each_partners_realised_value_per_step(small: Scenario):
    r = simulate(small.with_overrides({"horizon_years": 3}), 4)
    pv = r.partner_values
    n_partners = len(r.partners)
    assert len(pv) == len(r.trajectory) * n_partners
    kinds = ["realised_social_impact", "realised_knowledge", "realised_reputation",
             "realised_engagement"]
    # value accumulates: never falls for any partner
    wide = pv.pivot(index="step", columns="partner", values="realised_knowledge")
    assert (wide.diff().iloc[1:] >= -1e-6).all().all()
    assert pv["satisfaction"].between(0, 1).all()
    last = pv[pv["step"] == pv["step"].max()].set_index("partner")
    years = 3.0
    for kind in kinds:
        np.testing.assert_allclose(
            last.loc[r.partners["partner"], kind].to_numpy() / years,
            r.partners[kind].to_numpy(), rtol=1e-5)
    assert (last[kinds].sum(axis=1) > 0).all()


#: Numbers recorded on main before persistence, the counterfactual's own learning and trend and
#: structural barriers existed (same scenario, overrides and seed). With lock_in and the new
#: parameters at zero the model must reproduce them bit for bit.
LEGACY = {
    "persistence": "lock_in", "isolated_learning_per_year": 0.0, "isolated_coordination": 0.0,
    "structural_barrier": 0.0, "trend_pp_per_year": 0.0,
}
#: And before graded phase effects, the smoothing trust rule, the exit hazard, small wins in trust
#: and meeting fatigue existed.
LEGACY_STRUCTURE = {"phases.effect": "gated", "dynamics.trust_rule": "pant_yu",
                    "dynamics.exit_rate_per_year": 0.0, "dynamics.small_win_trust": 0.0,
                    "dynamics.meeting_fatigue": 0.0}
MAIN_NUMBERS = [
    ("default", {"horizon_years": 4.0}, 5, {
        "outcome_rate": 0.908, "outcome_rate_cf": 0.8905, "equity_gap": 8.417073122955475,
        "equity_gap_cf": 11.842569195510377, "alignment": 0.8790682039080423,
        "services_change": 0.34198337445787813, "practices_change": 0.23070444120956593,
        "sroi": 0.2748191513139295}),
    ("funding_cliff", {"horizon_years": 4.0, "funding.max_years": 1.5}, 7, {
        "outcome_rate": 0.887, "outcome_rate_cf": 0.877, "equity_gap": 6.702570254473061,
        "equity_gap_cf": 9.184463494170226, "alignment": 0.736532672179057,
        "services_change": 0.08553980304188664, "practices_change": 0.029316715137046295,
        "sroi": 0.43372869980481893}),
    ("default", {}, 2, {
        "outcome_rate": 0.9505, "outcome_rate_cf": 0.8865, "equity_gap": 1.3854572868641224,
        "alignment": 0.9771390991036559, "services_change": 0.8110392528177333,
        "policy_change": 0.488, "sroi": 0.9145314585206293}),
]


@pytest.mark.parametrize(("name", "overrides", "seed", "expected"), MAIN_NUMBERS,
                         ids=["default-4y", "cliff-4y", "default-10y"])
def test_lock_in_reproduces_the_earlier_model_bit_for_bit(name, overrides, seed, expected):
    sc = load_scenario(SCENARIOS[0].parent / f"{name}.toml").with_overrides({
        "population.size": 2000, **overrides,
        **{f"dynamics.{k}": v for k, v in LEGACY.items()}, **LEGACY_STRUCTURE,
    })
    last = simulate(sc, seed).trajectory.iloc[-1]
    for column, value in expected.items():
        assert float(last[column]) == value, column


def test_the_new_defaults_change_the_run(small: Scenario):
    """The same run under the new defaults is not the earlier model (the switch matters)."""
    legacy = small.with_overrides({**{f"dynamics.{k}": v for k, v in LEGACY.items()},
                                   **LEGACY_STRUCTURE})
    a = simulate(small.with_overrides({"horizon_years": 4.0}), 5).trajectory.iloc[-1]
    b = simulate(legacy.with_overrides({"horizon_years": 4.0}), 5).trajectory.iloc[-1]
    assert a["outcome_rate_cf"] != b["outcome_rate_cf"]  # the counterfactual learns now


def test_log_odds_equity_gap_column(small: Scenario):
    r = simulate(small.with_overrides({"horizon_years": 2.0}), 4)
    sg = r.subgroups
    t = r.trajectory
    for step in (0, 52, 104):
        for world, column in (("factual", "equity_gap_logodds"),
                              ("counterfactual", "equity_gap_logodds_cf")):
            rates = sg[(sg.world == world) & (sg.step == step)].set_index("subgroup")
            p_major = rates.loc["majority", "outcome_rate"]
            p_minor = rates.loc["marginalised", "outcome_rate"]
            expected = np.log(p_major / (1 - p_major)) - np.log(p_minor / (1 - p_minor))
            assert t.loc[step, column] == pytest.approx(expected, rel=1e-12)
    assert (t["equity_gap_logodds"] > 0).all()  # the marginalised subgroup starts behind
    assert np.isfinite(t["equity_gap"]).all()  # the points gap is kept
