"""cisim as an EMA Workbench model: names, priors, and runs that match cisim's own."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from cisim.ema import ema_model, ema_name
from cisim.priors import registry, uncertain_parameters
from cisim.scenario import Scenario, ScenarioError
from cisim.simulate import simulate
from cisim.sweep.samplers import run_seed

ema = pytest.importorskip("ema_workbench")

ROOT = Path(__file__).resolve().parents[1]
TINY = {"population.size": 200, "population.mesa_agents": 0, "horizon_years": 2.0}
OUTCOMES = ["trust@1", "outcome_rate_final", "first_significant_change_year"]


@pytest.fixture(scope="module")
def tiny() -> Scenario:
    return Scenario.load(ROOT / "scenarios" / "default.toml").with_overrides(TINY)


def small_model(tiny: Scenario, **kwargs):
    return ema_model(
        tiny,
        uncertainties=["dynamics.trust_gain", "dynamics.trust_decay_per_year"],
        levers={"backbone.staff.facilitator": [0.0, 2.0],
                "meetings.cadence": ["weekly", "monthly"]},
        outcomes=OUTCOMES, trajectories=["trust"], **kwargs,
    )


def expected(tiny: Scenario, row, seed: int) -> dict[str, float]:
    """What cisim itself gives for one experiment row of EMA's table."""
    scenario = tiny.with_overrides({
        "dynamics.trust_gain": float(row["dynamics_trust_gain"]),
        "dynamics.trust_decay_per_year": float(row["dynamics_trust_decay_per_year"]),
        "backbone.staff.facilitator": float(row["backbone_staff_facilitator"]),
        "meetings.cadence": str(row["meetings_cadence"]),
    })
    result = simulate(scenario, seed)
    trust = result.trajectory["trust"].to_numpy(float)
    return {"trust_1": trust[52], "outcome_rate_final": result.summary["outcome_rate_final"],
            "trust": trust[[0, 52, 104]]}


def test_names_are_identifiers_that_keep_the_path():
    assert ema_name("dynamics.trust_gain") == "dynamics_trust_gain"
    assert ema_name("partners[2].commitment") == "partners_2_commitment"
    assert ema_name("trust@3") == "trust_3"
    assert ema_name("3x").isidentifier()


def test_default_uncertainties_are_the_documented_priors(tiny):
    model = ema_model(tiny, outcomes=["trust@1"])
    entries = uncertain_parameters()
    params = list(model.uncertainties)
    assert [p.variable_name[0] for p in params] == [e.path for e in entries]
    for p, e in zip(params, entries, strict=True):
        # the parameter's distribution is the prior's: same quantiles
        q = np.array([0.05, 0.5, 0.95])
        np.testing.assert_allclose(p.dist.ppf(q), e.scipy().ppf(q), rtol=1e-12)
        assert p.name == ema_name(e.path)
    # and every draw of all of them is a scenario cisim runs
    experiments, outcomes = ema.perform_experiments(model, scenarios=2)
    assert len(experiments) == 2 and np.isfinite(outcomes["trust_1"]).all()


def test_runs_match_cisim_with_the_same_seed(tiny):
    model = small_model(tiny, seed=7)
    experiments, outcomes = ema.perform_experiments(model, scenarios=3, policies=2)
    assert len(experiments) == 6
    assert set(outcomes) == {"trust_1", "outcome_rate_final", "first_significant_change_year",
                             "significant_change_reached", "trust"}
    assert outcomes["trust"].shape == (6, 3)
    seed = run_seed(7, 0, 0)
    for i in (0, 5):
        row = experiments.iloc[i]
        want = expected(tiny, row, seed)
        assert outcomes["trust_1"][i] == pytest.approx(want["trust_1"], abs=1e-12)
        assert outcomes["outcome_rate_final"][i] == pytest.approx(want["outcome_rate_final"],
                                                                  abs=1e-12)
        np.testing.assert_allclose(outcomes["trust"][i], want["trust"], atol=1e-12)
    # uncertainties drawn from their priors stay inside the priors' support
    for path in ("dynamics.trust_gain", "dynamics.trust_decay_per_year"):
        lo, hi = registry()[path].support()
        values = experiments[ema_name(path)].to_numpy(float)
        assert np.all((values >= lo) & (values <= hi))
    # never reached within two years: censored at horizon + 1, as in sweeps
    reached = outcomes["significant_change_reached"]
    censored = outcomes["first_significant_change_year"][reached == 0]
    assert np.all(censored == tiny.horizon_years + 1)


def test_replications_get_their_own_seeds_and_are_averaged(tiny):
    model = ema_model(tiny, uncertainties={"dynamics.trust_gain": [0.05, 0.3]},
                      outcomes=["trust@1"], trajectories=["trust"], replications=2, seed=3)
    experiments, outcomes = ema.perform_experiments(model, scenarios=2)
    assert outcomes["trust_1"].shape == (2,) and outcomes["trust"].shape == (2, 3)
    row = experiments.iloc[1]
    scenario = tiny.with_overrides({"dynamics.trust_gain": float(row["dynamics_trust_gain"])})
    runs = [simulate(scenario, run_seed(3, 0, r)).trajectory["trust"].to_numpy(float)
            for r in range(2)]
    assert runs[0][52] != runs[1][52]  # two seeds, two results
    assert outcomes["trust_1"][1] == pytest.approx((runs[0][52] + runs[1][52]) / 2, abs=1e-12)
    np.testing.assert_allclose(outcomes["trust"][1], (runs[0] + runs[1])[[0, 52, 104]] / 2,
                               atol=1e-12)


def test_integer_levers_are_integers(tiny):
    model = ema_model(tiny, uncertainties={}, outcomes=["trust@1"],
                      levers={"partner_generation.counts.nonprofit": [2, 5]})
    lever = model.levers["partner_generation_counts_nonprofit"]
    assert isinstance(lever, ema.IntegerParameter)


def test_bad_names_are_reported_together(tiny):
    with pytest.raises(ScenarioError) as info:
        ema_model(tiny, uncertainties=["backbone.staff.facilitator"],
                  levers={"backbone.staff.facilitator": [0.0, 500.0]},
                  outcomes=["trust@1", "sroi_yaer10"], trajectories=["trsut"])
    fields = [f for f, _ in info.value.problems]
    assert "uncertainties.backbone.staff.facilitator" in fields  # a design input: no prior
    assert "levers.backbone.staff.facilitator" in fields  # 500 FTE is refused
    assert "outcomes[1]" in fields and "trajectories[0]" in fields
    assert any("did you mean" in m for _, m in info.value.problems)


@pytest.mark.slow  # two worker processes import cisim and compile: ~20 s on a busy 2-core host
def test_multiprocessing_evaluator_gives_the_sequential_results(tiny):
    model = small_model(tiny, seed=7, numba_threads=1)
    sampling = {"uncertainty_sampling_kwargs": {"rng": 11}, "lever_sampling_kwargs": {"rng": 12}}
    exp_seq, seq = ema.perform_experiments(model, scenarios=2, policies=2, **sampling)
    with ema.MultiprocessingEvaluator(model, n_processes=2) as evaluator:
        exp_par, par = evaluator.perform_experiments(scenarios=2, policies=2, **sampling)
    cols = ["dynamics_trust_gain", "backbone_staff_facilitator", "meetings_cadence"]
    assert exp_seq[cols].astype(str).equals(exp_par[cols].astype(str))  # the same experiments
    assert len(set(np.round(seq["trust_1"], 12))) > 1  # that differ
    for key in seq:
        a, b = np.asarray(seq[key], float), np.asarray(par[key], float)
        assert a.shape == b.shape and all(math.isclose(x, y, abs_tol=1e-12)
                                          for x, y in zip(a.ravel(), b.ravel(), strict=True))
