"""The population kernel: kept-up counts, thread independence, exact shortcuts."""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd
import pytest

import cisim.population as population_module
from cisim import Scenario, simulate
from cisim._population import (
    CHUNK,
    D_BOOST,
    D_CHORD,
    D_EXPO,
    PARALLEL_MIN_CHUNKS,
    recount,
    status_quo_multipliers,
    terms_bounded,
    week_bounded,
    world_terms,
)
from cisim.kernels import WP, run_step_keys, step_keys
from cisim.model import CollectiveImpactModel
from cisim.population import Population, world_rows
from cisim.rng import threshold, u01
from cisim.world import F_BARRIER_MULTIPLIER, F_STRUCTURAL_MULTIPLIER


@pytest.fixture(scope="module")
def churning(default_scenario: Scenario) -> Scenario:
    """Three and a bit chunks, with ~1% of people replaced every week."""
    return default_scenario.with_overrides({
        "population.size": 3 * CHUNK + 500,
        "population.years_in_population": 2.0,
        "horizon_years": 1.0,
    })


def test_kept_counts_equal_a_recount(churning: Scenario):
    model = CollectiveImpactModel(churning, rng=4)
    pop = model.population
    for _ in range(30):
        model.step()
    kept = pop._partial.copy()
    fresh = kept.copy()
    recount(pop.subgroup, pop.outcome, pop.exposure, pop.G, fresh)
    G = pop.G
    counts = slice(2, 4 + 2 * G)
    assert kept[:, :, counts].sum() > 0
    np.testing.assert_array_equal(kept[:, :, counts], fresh[:, :, counts])
    # and the totals the model reads are the state's
    for w in range(2):
        assert pop.in_outcome(w).sum() == (pop.outcome[w] == 1).sum()
        assert pop.group_sizes(w).sum() == pop.n
        assert pop.served(w)[1] == (pop.exposure.astype(float) > 0.1).sum()


def _refuses_writes(aggregates: np.ndarray) -> None:
    with pytest.raises(ValueError, match="read-only"):
        aggregates[0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        aggregates[1] += 1.0


def test_aggregates_are_read_only_at_every_stage(small: Scenario):
    """The aggregates refuse writes in place when built, from the initial state and each week.

    The population's views on them (and the model's need shares) are kept while they are the
    same object, so a write in place must fail rather than leave those stale. Each stage makes
    a new array (constructor, ``initial_aggregates``, each week's ``serve``): each is checked.
    """
    built = Population(small, np.random.default_rng(1)).aggregates
    _refuses_writes(built)
    model = CollectiveImpactModel(small, rng=1)
    pop = model.population
    initial = pop.aggregates
    assert initial.any()  # initial_aggregates' array, not the constructor's zeros
    _refuses_writes(initial)
    for _ in range(2):
        before = pop.aggregates
        model.step()
        assert pop.aggregates is not before  # the week's new array
        _refuses_writes(pop.aggregates)


def test_results_do_not_depend_on_kernel_threads(default_scenario: Scenario):
    sc = default_scenario.with_overrides({
        "population.size": PARALLEL_MIN_CHUNKS * CHUNK + 1000,
        "horizon_years": 0.5,
    })
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = simulate(sc, 9).trajectory
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = simulate(sc, 9).trajectory
    finally:
        numba.set_num_threads(before)
    assert one.equals(two)


def test_integer_thresholds_decide_as_the_float_draws():
    """The first pass compares a draw's 53-bit integer with ``_threshold(t)``: u < t exactly."""
    rng = np.random.default_rng(5)
    draws = [u01(77, 3, i, 0) for i in range(400)]
    thresholds = [*draws, *rng.random(200), 0.0, -1.0, 1.0, 1e-300, np.nextafter(0.5, 1)]
    for t in thresholds:
        T = threshold(t)
        for u in draws:
            m = round(u * 2.0**53)
            assert (m < T) == (u < t), (u, t)


def test_entry_hazard_bound_holds():
    """The kernel skips the hazard product when the draw is above its chord bound.

    With help at most the efficacy, ``prod_a (1 - n_a b (1 - help_a)) <= 1 - m (1 - (1 - c)^A)``
    for ``c = b (1 - efficacy)`` and ``m`` the mean need (AM-GM, then convexity).
    """
    rng = np.random.default_rng(11)
    for A in (1, 2, 5, 9):
        needs = rng.random((20_000, A))
        needs[:500] = 1.0
        needs[500:1000] = 0.0
        b, eff = rng.random(20_000), rng.random(20_000)
        help_ = eff[:, None] * rng.random((20_000, A))
        product = np.prod(1.0 - needs * b[:, None] * (1.0 - help_), axis=1)
        c = b * (1.0 - eff)
        bound = 1.0 - needs.mean(axis=1) * (1.0 - (1.0 - c) ** A)
        assert (product <= bound * (1.0 + 1e-12)).all()
        # with a structural share σ left at B_s in [b (1 - eff), 1] (world_terms' condition)
        sigma = rng.random(20_000)
        b_s = c + (1.0 - c) * rng.random(20_000)
        b_s[:200] = c[:200]  # the edge of the condition
        structural = np.prod(1.0 - needs * (b[:, None] * (1 - sigma[:, None]) * (1.0 - help_)
                                            + (sigma * b_s)[:, None]), axis=1)
        assert (structural <= bound * (1.0 + 1e-12)).all()
        assert (structural >= 0.0).all()


def bounded(wp: np.ndarray, coverage: np.ndarray, w: int) -> bool:
    """The kernel's bounded test of world ``w``'s week: the population's two parts of it."""
    return terms_bounded(wp.tolist()[w]) and getattr(week_bounded, "py_func", week_bounded)(
        wp, w, coverage)


def test_world_terms_bound_the_product_only_when_every_factor_is_in_the_unit_interval():
    wp = np.zeros((2, WP.N))
    wp[:, [WP.CAP_NORM, WP.FIT, WP.EFFECT, WP.TAKEUP]] = 0.5
    wp[:, WP.BARRIER] = 0.8
    wp[:, WP.EFFICACY] = 0.5
    wp[:, WP.EQUITY] = [0.2, 1.0]
    wp[:, WP.TREND] = 1.0
    wp[:, WP.SBARRIER] = 0.9
    coverage = np.full((2, 4), 0.5)
    terms = world_terms(wp.tolist(), 4)
    np.testing.assert_allclose(terms[:, D_EXPO], [3.0 * 0.8, 0.0])  # creaming fades with equity
    np.testing.assert_allclose(terms[:, D_BOOST], [1.4, 3.0])
    np.testing.assert_allclose(terms[:, D_CHORD], 1.0 - (1.0 - 0.8 * 0.5) ** 4)
    assert bounded(wp, coverage, 0) and bounded(wp, coverage, 1)
    for column, value in ((WP.BARRIER, 1.2), (WP.EFFICACY, -0.1), (WP.EQUITY, 1.5),
                          (WP.FIT, -0.5), ("coverage", -0.01), ("coverage", np.nan),
                          (WP.TREND, -0.1), (WP.SBARRIER, 1.1), (WP.SBARRIER, 0.8 * 0.5 - 0.01),
                          (WP.TAKEUP, np.nan)):
        broken_wp, broken_cov = wp.copy(), coverage.copy()
        if column == "coverage":
            broken_cov[1, 2] = value
        else:
            broken_wp[1, column] = value
        assert bounded(broken_wp, broken_cov, 0), column
        assert not bounded(broken_wp, broken_cov, 1), column


# ---- the secular trend and structural barriers ---------------------------------------------


def test_trend_multiplier_is_the_odds_ratio_of_the_drifted_baseline(small: Scenario):
    sc = small.with_overrides({"dynamics.trend_pp_per_year": -0.3})
    pop = CollectiveImpactModel(sc, rng=1).population
    p0 = 0.7 * 0.91 + 0.3 * 0.80  # the default subgroups' share-weighted baseline
    assert pop.base_rate == pytest.approx(p0)
    p10 = p0 - 0.03
    assert pop.trend_multiplier(0) == 1.0
    assert pop.trend_multiplier(520) == pytest.approx((p10 / (1 - p10)) / (p0 / (1 - p0)))
    assert pop.trend_multiplier(520) < pop.trend_multiplier(260) < 1.0
    # entrants' odds move by the same ratio; without a trend they are the baselines themselves
    k = pop.trend_multiplier(520)
    rates = pop.entrant_rate(k)
    np.testing.assert_allclose(rates / (1 - rates), pop.baseline / (1 - pop.baseline) * k)
    assert pop.entrant_rate(1.0) is pop.baseline
    flat = CollectiveImpactModel(small, rng=1).population
    assert flat.trend_multiplier(520) == 1.0


def test_trend_moves_both_worlds_by_about_the_stated_points(small: Scenario):
    """An isolated design (factual = counterfactual) over six years: +0.5 points a year."""
    alone = small.counterfactual().with_overrides({"horizon_years": 6.0})
    drift = []
    for seed in range(3):
        up = simulate(alone.with_overrides({"dynamics.trend_pp_per_year": 0.5}), seed).trajectory
        flat = simulate(alone, seed).trajectory
        assert (up["population_change_vs_cf"] == 0).all()  # the trend creates no impact
        drift.append(up["population_change_cf"].iloc[-52:].mean()
                     - flat["population_change_cf"].iloc[-52:].mean())
    # 0.5 points a year, reached with a lag of about a year (the hazards' relaxation time)
    assert 1.8 < np.mean(drift) < 3.2


def test_structural_share_is_out_of_services_reach(small: Scenario):
    """Full service removes the efficacy share of the reachable barrier only."""
    pop = CollectiveImpactModel(small, rng=1).population
    wp = np.zeros(WP.N)
    wp[[WP.FIT, WP.EFFECT]] = 1.0
    wp[WP.BARRIER], wp[WP.SBARRIER], wp[WP.EFFICACY] = 0.8, 0.9, 0.6
    barriers = pop.barriers(wp[None, :])[0]
    sigma = pop.structural
    np.testing.assert_allclose(barriers[:, 0], 0.8 * (1 - sigma))
    np.testing.assert_allclose(barriers[:, 1], 0.9 * sigma)
    needs = np.full((2, 3), 0.5, dtype=np.float32)
    out = np.empty(2)
    status_quo_multipliers(needs, np.ones(2), 1.0, wp, np.ones(3), barriers, out)
    left = 0.5 * (0.8 * (1 - sigma) * (1 - 0.6) + 0.9 * sigma)  # barrier left in each area
    np.testing.assert_allclose(out, (1 - left) ** 3)
    assert out[1] < out[0]  # the disadvantaged subgroup keeps more of its barrier


def test_outcomes_are_not_locked_in_once_the_systems_are_as_in_the_counterfactual(
        small: Scenario):
    """Nothing keeps people in the outcome state but the same exit hazard in both worlds.

    After four years of the partnership, the factual population is served exactly as the
    counterfactual (the same parameter row): the gap between the worlds closes within a few
    years, at the rate the hazards set (entry + exit + turnover, about once a year).
    """

    class SameServices(CollectiveImpactModel):
        same = False

        def _world_row(self, w, world, spread=True):
            if self.same:
                w, world = 1, self.counterfactual
            return super()._world_row(w, world, spread)

        def serve_population(self):
            if not self.same:
                return super().serve_population()
            row = self._world_row(1, self.counterfactual)
            wp = np.stack([row, row])
            coverage = np.stack([self.counterfactual.coverage] * 2)
            self.population.step(self.kseed, self.steps, wp, coverage)

    m = SameServices(small.with_overrides({"horizon_years": 8.0}), rng=3)
    for _ in range(4 * 52):
        m.step()
    gap0 = m.population.rate(0) - m.population.rate(1)
    assert gap0 > 0.01
    m.same = True
    for _ in range(3 * 52):
        m.step()
    gap3 = m.population.rate(0) - m.population.rate(1)
    assert abs(gap3) < 0.25 * gap0


# ---- calibration: scipy's root where one exists, the closest rate where none does -----------


def _gap(m: np.ndarray, h_out: float, target: float):
    return lambda h: float((h * m / (h * m + h_out)).mean()) - target


def test_entry_hazard_is_the_root_where_one_exists():
    from cisim.population import entry_hazard

    # one multiplier: the rate h m / (h m + h_out) is 0.5 at h = h_out / m
    h, short = entry_hazard(_gap(np.full(10, 0.5), 0.1, 0.5))
    assert short == 0.0 and h == pytest.approx(0.2, rel=1e-10)
    # a baseline rate so small that the root lies below the bracket's 1e-12
    gap = _gap(np.ones(4), 0.02, 1e-13)
    h, short = entry_hazard(gap)
    assert short == 0.0 and h == pytest.approx(1e-13 * 0.02 / (1 - 1e-13), rel=1e-9)


def test_entry_hazard_falls_back_to_the_closest_rate_when_none_reaches_the_baseline():
    from cisim.population import MAX_ENTRY_HAZARD, entry_hazard

    # half the people have a barrier no service lowers (multiplier 0): at most half can enter
    m = np.array([0.0, 0.0, 0.3, 0.7])
    h, short = entry_hazard(_gap(m, 0.1, 0.8))
    assert h == MAX_ENTRY_HAZARD
    assert short == pytest.approx(0.3, abs=1e-6)  # 0.8 asked, 0.5 attainable
    with pytest.raises(ValueError, match="not a number"):
        entry_hazard(_gap(np.array([np.nan]), 0.1, 0.5))


def test_a_subgroup_with_total_barriers_runs_with_a_calibration_event(default_scenario: Scenario):
    """The fuzzing reproducer: need_level 1.0 crashed the calibration (no root in the bracket)."""
    sc = default_scenario.with_overrides({
        "population.size": 1000, "population.subgroups[1].need_level": 1.0,
        "horizon_years": 0.5})
    result = simulate(sc, 0)
    events = result.events[result.events["kind"] == "calibration"]
    assert len(events) == 1
    message = events["message"].iloc[0]
    assert "'marginalised'" in message and "points short" in message
    start = result.subgroups[(result.subgroups["step"] == 0)
                             & (result.subgroups["world"] == "counterfactual")]
    rates = dict(zip(start["subgroup"], start["outcome_rate"], strict=True))
    assert rates["marginalised"] < 0.6  # well short of its 0.8 baseline, as the event says
    assert rates["majority"] == pytest.approx(0.91, abs=0.04)  # the other subgroup calibrated
    assert np.isfinite(result.trajectory["outcome_rate"]).all()
    from cisim.report.summary import format_summary

    text = format_summary(result)
    assert "Calibration: in 1 of 1 replication(s) the status quo could not be calibrated" in text
    assert "'marginalised'" in text


def test_an_empty_subgroup_is_calibrated_on_everyone_and_said_so(default_scenario: Scenario):
    sc = default_scenario.with_overrides({"population.size": 2000, "horizon_years": 0.1})
    model = CollectiveImpactModel(sc, rng=1)
    pop = model.population
    pop.subgroup[:] = 0  # nobody in the marginalised subgroup
    pop.refresh_caches()
    cf = model.counterfactual
    pop.calibrate(model._world_row(1, cf, spread=False), cf.coverage, cf.service_capacity)
    assert pop.calibration_empty.tolist() == [False, True]
    assert 0 < pop.h_in[1] < np.inf
    assert any("'marginalised' has no members" in note for note in pop.calibration_notes())


def test_a_runs_step_keys_are_each_steps_keys():
    """The population reads its keys from a table made once a run: the same integers."""
    for seed in (0, 9, 2**62 - 1, 2**64 - 1):
        table = run_step_keys(seed, 60)
        assert table.dtype == np.uint64 and table.shape == (60, 6)
        for step in range(60):
            np.testing.assert_array_equal(table[step], step_keys(seed, step))


def test_kept_kernel_arguments_follow_their_inputs(default_scenario: Scenario):
    """The derived terms, barriers, keys and rates the population keeps are what it would make."""
    model = CollectiveImpactModel(default_scenario.with_overrides({"horizon_years": 0.5}), rng=2)
    pop = model.population
    A = pop.needs.shape[1]
    while model.running:
        model.step()
        wp = np.array([model._world_row(w, world) for w, world in enumerate(model.worlds)])
        np.testing.assert_array_equal(pop._derived[0], world_terms(wp.tolist(), A))
        np.testing.assert_array_equal(pop._derived[1], pop.barriers(wp))
        rows = wp.tolist()
        assert tuple(pop._terms_ok.tolist()) == (terms_bounded(rows[0]), terms_bounded(rows[1]))
        assert tuple(pop._known.tolist()) == pop._terms_key(rows)
        # the rates the kernel recorded are those the counts give
        assert tuple(pop.rate_history[:, model.steps].tolist()) == pop.rates()
    np.testing.assert_array_equal(pop.keys_of_step(model.kseed, 7), step_keys(model.kseed, 7))
    far = pop.rate_history.shape[1] + 3  # beyond the run's table
    np.testing.assert_array_equal(pop.keys_of_step(model.kseed, far), step_keys(model.kseed, far))
    rates = pop.rates()
    pop._rates = None
    assert pop.rates() == rates == (pop.rate(0), pop.rate(1))


def test_world_rows_put_each_worlds_figures_in_their_columns(small: Scenario):
    """Each world's figures land in their columns of its own row, as the rule says."""
    from cisim.population import world_row, world_rows

    model = CollectiveImpactModel(small, rng=1)
    pop = model.population
    for k, world in enumerate(model.worlds):  # distinct figures in each world
        world.fit, world.effect_multiplier, world.barrier_multiplier = 0.11 + k, 1.22 + k, 0.33
        world.engagement, world.structural_multiplier = 0.44 - 0.1 * k, 0.55 + k
        world.service_capacity = 6.6 + k

    def expected(w: int, world) -> list[float]:
        weight = float(pop.aggregates[w, 0])  # the targeting weight of those not yet helped
        cols = {WP.FIT: world.fit, WP.EFFECT: world.effect_multiplier,
                WP.BARRIER: world.barrier_multiplier, WP.TAKEUP: world.engagement,
                WP.SBARRIER: world.structural_multiplier,
                WP.EQUITY: 0.0 if world.isolated else model.design.engagement.equity_focus,
                WP.EFFICACY: model.design.dynamics.service_efficacy,
                WP.TREND: pop.trend_multiplier(260),
                WP.CAP_NORM: world.service_capacity / max(weight, 1e-12)}
        assert sorted(cols) == list(range(WP.N))
        return [cols[c] for c in range(WP.N)]

    both = world_rows(model.design, model.worlds, pop, 260)
    for w, world in enumerate(model.worlds):
        assert both[w].tolist() == expected(w, world)
        assert world_row(model.design, world, pop, w, 260).tolist() == expected(w, world)
        assert world_row(model.design, world, pop, w, 260, spread=False)[WP.CAP_NORM] == 0.0
    assert both[1, WP.EQUITY] == 0.0 and both[0, WP.EQUITY] == small.engagement.equity_focus


@pytest.mark.parametrize("groups", [3, 9])
def test_recorded_rates_are_the_counts_rates_with_few_or_many_subgroups(
        default_scenario: Scenario, groups: int):
    """The recorded rates are the counts' in numpy's order, below and above eight subgroups."""
    subgroups = [{"name": f"g{g}", "share": 1.0 / groups, "baseline_rate": 0.8 + 0.01 * g,
                  "need_level": 0.3 + 0.02 * g, "disadvantaged": g % 2 == 1}
                 for g in range(groups)]
    sc = default_scenario.with_overrides({"population.size": 3000, "horizon_years": 0.2,
                                          "population.subgroups": subgroups})
    model = CollectiveImpactModel(sc, rng=5)
    pop = model.population
    assert groups == pop.G
    while model.running:
        model.step()
        recorded = tuple(pop.rate_history[:, model.steps].tolist())
        pop._rates = None
        assert recorded == pop.rates()


# ---- the week in one compiled call --------------------------------------------------------


class _Perturbed(CollectiveImpactModel):
    """With ``perturb``, odd inputs to the population's week: -0.0, NaN, refreshed caches.

    Between the mechanisms and the population: a barrier multiplier of 0.0 then -0.0 (the
    same terms: no new ones), a NaN structural multiplier two weeks running (new terms each
    week: a NaN equals nothing), a NaN and a negative coverage (not bounded), and the
    population's caches refreshed (its terms made anew).
    """

    perturb = False

    def serve_population(self):
        if self.perturb:
            figures, t = self.factual.figures, self.steps
            if t in (30, 31):
                figures[F_BARRIER_MULTIPLIER] = 0.0 if t == 30 else -0.0
            elif t in (40, 41):
                figures[F_STRUCTURAL_MULTIPLIER] = np.nan
            elif t in (45, 46):
                self.factual.coverage[0] = np.nan if t == 45 else -0.5
            elif t == 50:
                self.population.refresh_caches()
        self.serve()

    def serve(self):
        super().serve_population()


class _StepByStep(_Perturbed):
    """The population's week as its parts: the rows (:func:`world_rows`), then ``step``."""

    def serve(self):
        first, second = self.worlds
        self.population.step(self.kseed, self.steps,
                             world_rows(self.design, self.worlds, self.population, self.steps),
                             (first.coverage, second.coverage))


_STATE = ("needs", "subgroup", "propensity", "outcome", "exposure", "mean_need", "cream",
          "aggregates", "rate_history", "_partial", "_known", "_terms_ok")


@pytest.mark.parametrize(("overrides", "perturb", "derived"), [
    ({}, False, 1),  # the terms are made once, the first week
    ({"dynamics.trend_pp_per_year": -0.3, "engagement.equity_focus": 0.6,
      "population.years_in_population": 2.0, "dynamics.policy_change_rate_per_year": 12.0},
     False, 3),
    # the first week, 30 (0.0), 32 (back), 40 and 41 (NaN), 42 (back), 50 (refreshed)
    ({}, True, 7),
], ids=["default", "trend, equity, churn, policy", "-0.0, NaN, refreshed caches"])
def test_the_week_in_one_call_is_the_rows_then_the_step(
        small: Scenario, overrides: dict, perturb: bool, derived: int,
        monkeypatch: pytest.MonkeyPatch):
    """``Population.serve``'s one compiled call gives the rows-then-step week bit for bit.

    Every state array of the population after each week, and the run's trajectory; the
    compiled call must have run every week, and handed back exactly when the rows-then-step
    week made its terms anew (as often as ``derived`` says).
    """
    sc = small.with_overrides({"horizon_years": 4.0, **overrides})
    calls = {"week": 0, "step": 0, "derive": 0}

    def counted(name, fn):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(population_module, "population_week",
                        counted("week", population_module.population_week))
    monkeypatch.setattr(Population, "step", counted("step", Population.step))
    monkeypatch.setattr(Population, "_derive", counted("derive", Population._derive))
    one, parts = _Perturbed(sc, rng=5), _StepByStep(sc, rng=5)
    one.perturb = parts.perturb = perturb
    while one.running:
        one.step()
        parts.step()
        for name in _STATE:
            a, b = getattr(one.population, name), getattr(parts.population, name)
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), (name, one.steps)
    assert calls["step"] == sc.steps  # the step-by-step model's only
    # both models make the terms as often; each time, the one call handed back once
    assert calls["derive"] == 2 * derived
    assert calls["week"] == sc.steps + derived
    assert not one.population.aggregates.flags.writeable
    a = one.datacollector.get_model_vars_dataframe()
    assert len(a) == sc.steps + 1
    pd.testing.assert_frame_equal(a, parts.datacollector.get_model_vars_dataframe(),
                                  check_exact=True)


def test_a_week_beyond_the_runs_steps_is_the_rows_then_the_step(
        small: Scenario, monkeypatch: pytest.MonkeyPatch):
    """Past the run's table of step keys the population's week is the rows then ``step``."""
    sc = small.with_overrides({"horizon_years": 0.1})
    one, parts = CollectiveImpactModel(sc, rng=2), _StepByStep(sc, rng=2)
    for model in (one, parts):
        while model.running:
            model.step()
    far = one.population.rate_history.shape[1] + 5
    steps = []
    step = Population.step
    monkeypatch.setattr(Population, "step", lambda self, *args: (steps.append(args[1]),
                                                                 step(self, *args)))
    one.population.serve(sc, one.worlds, one.kseed, far)
    parts.population.step(parts.kseed, far, world_rows(sc, parts.worlds, parts.population, far),
                          (parts.factual.coverage, parts.counterfactual.coverage))
    assert steps == [far, far]
    for name in _STATE:
        a, b = getattr(one.population, name), getattr(parts.population, name)
        assert a.tobytes() == b.tobytes(), name


def test_a_population_that_would_use_threads_steps_in_parts(
        default_scenario: Scenario, monkeypatch: pytest.MonkeyPatch):
    """With more kernel threads than one and enough chunks, the week is rows then ``step``."""
    sc = default_scenario.with_overrides({"population.size": PARALLEL_MIN_CHUNKS * CHUNK,
                                          "horizon_years": 0.1})
    model = CollectiveImpactModel(sc, rng=1)
    steps = []
    monkeypatch.setattr(population_module, "kernel_threads", lambda: 2)
    monkeypatch.setattr(Population, "step", lambda self, seed, step, wp, coverage:
                        steps.append(step))
    model.step()
    assert steps == [1]


def test_a_copied_model_runs_on_as_the_original_with_the_same_compiled_weeks(small: Scenario):
    """A deep copy keeps the aggregates read-only: the compiled weeks are not compiled again.

    (A copy of an array does not keep numpy's read-only flag; a writable one is another type
    to numba, which would compile both weeks again, ~20 s.)
    """
    import copy

    from cisim.mechanisms._week import week_rule

    model = CollectiveImpactModel(small.with_overrides({"horizon_years": 0.5}), rng=4)
    for _ in range(5):
        model.step()
    twin = copy.deepcopy(model)
    assert not twin.population.aggregates.flags.writeable
    known = (len(population_module.population_week.signatures), len(week_rule.signatures))
    for m in (model, twin):
        while m.running:
            m.step()
    assert (len(population_module.population_week.signatures),
            len(week_rule.signatures)) == known
    for name in _STATE:
        a, b = getattr(model.population, name), getattr(twin.population, name)
        assert a.tobytes() == b.tobytes(), name
