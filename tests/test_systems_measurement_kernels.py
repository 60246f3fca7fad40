"""The compiled weeks of systems change and measurement against their rules, bit for bit.

Each against a plain-Python statement of the mechanism's week as it was written before it was
compiled (on Python floats read from the world), on random figures including the edges a
float can take (NaN, -0.0, a chance of exactly zero, a lag of exactly half a week); the
systems change's multipliers also against the public helpers of
:mod:`cisim.mechanisms.systems_change` (the population's parameters and the setup use those).
"""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest

from cisim.mechanisms._measurement import (
    Q_BACKBONE,
    Q_DECAY,
    Q_INITIAL,
    Q_INVESTMENT,
    Q_LAG,
    Q_N,
    Q_NOISE,
    Q_RATE,
    Q_SELF_COORDINATION,
    measurement_params,
    measurement_week,
)
from cisim.mechanisms._systems_change import systems_change_params, systems_change_week
from cisim.mechanisms.measurement import measured_win
from cisim.scenario import Scenario
from cisim.world import FIGURES, World, build_partners


def _bits(values) -> bytes:
    return b"".join(struct.pack("<d", float(v)) for v in values)


def _odd(rng: np.random.Generator) -> float:
    """A figure: mostly in [0, 1], sometimes an edge a float can take."""
    k = rng.integers(12)
    return [math.nan, -0.0, 0.0, 1.0][k] if k < 4 else float(rng.uniform(0.0, 1.0))


def _systems_change_reference(sc: Scenario, w: World, emph: float,
                              draw: float) -> tuple[bool, float]:
    """SystemsChange.step's arithmetic in plain Python (before it was compiled).

    Returns:
        Whether policy was won, and the week's chance of a win.
    """
    dyn = sc.dynamics
    rate = dyn.systems_change_rate_per_year / 52 * emph
    decay = dyn.systems_change_decay_per_year / 52
    drive_s = w.alignment * w.agreement
    drive_p = w.alignment * w.measurement
    services, practices = w.services_change, w.practices_change
    services += rate * drive_s * (1 - services) - decay * (1 - drive_s) * services
    practices += rate * drive_p * (1 - practices) - decay * (1 - drive_p) * practices
    if dyn.persistence == "fade":
        missing = 1.0 - w.coordination
        fade = dyn.fade_rate_per_year / 52 * missing
        services -= fade * services
        practices -= fade * practices
        w.policy_change -= dyn.policy_fade_rate_per_year / 52 * missing * w.policy_change
    w.services_change, w.practices_change = services, practices
    if sc.backbone.present:
        advocacy = sc.backbone.advocacy * w.backbone_capacity
    else:
        advocacy = sc.backbone.advocacy * dyn.self_coordination
    influence = w.partners.influence[w.active]
    champion = min(1.0, float(influence.max()) / 4.0) if influence.size else 0.0
    chance = (dyn.policy_change_rate_per_year / 52 * emph * advocacy * practices * w.agreement
              * champion)
    won = chance > 0.0 and draw < chance
    if won:
        w.policy_change += dyn.policy_step * (1.0 - w.policy_change)
    # the multipliers (an isolated world's equity focus is none)
    equity = 0.0 if w.isolated else sc.engagement.equity_focus
    red = dyn.policy_barrier_reduction
    w.effect_multiplier = 1.0 + dyn.practice_effectiveness_gain * 0.5 * (
        w.services_change + w.practices_change)
    w.barrier_multiplier = 1.0 - red * w.policy_change
    w.structural_multiplier = 1.0 - red * w.policy_change * equity
    return won, chance


@pytest.fixture(scope="module")
def partners(default_scenario: Scenario):
    return build_partners(default_scenario, np.random.default_rng(5))


@pytest.mark.parametrize("variant", range(4))
def test_compiled_systems_change_week_is_the_rule(default_scenario: Scenario, partners,
                                                  variant: int):
    sc = default_scenario.with_overrides({
        "dynamics.persistence": "fade" if variant % 2 == 0 else "lock_in",
        "backbone.present": variant < 2,
        "dynamics.policy_change_rate_per_year": 40.0,  # wins are drawn often
    })
    params = systems_change_params(sc)
    rng = np.random.default_rng(variant)
    won_any = False
    for _ in range(400):
        worlds = [World(isolated=False, partners=partners, n_areas=len(sc.strategy_areas))
                  for _ in range(2)]
        a, b = worlds
        a.figures[:] = [_odd(rng) for _ in FIGURES]
        a.active[:] = rng.uniform(size=partners.n) < rng.choice([0.0, 0.3, 1.0])
        b.figures[:] = a.figures
        b.active[:] = a.active
        # champions below and above 4 (the pull's cap), sometimes a NaN among them
        influence = rng.uniform(0.0, float(rng.choice([2.0, 4.0, 8.0])), partners.n)
        if rng.uniform() < 0.3:
            influence[rng.integers(partners.n)] = math.nan
        partners_b = type(partners)(**{**partners.__dict__, "influence": influence})
        a.partners = b.partners = partners_b
        emph = float(rng.choice([0.0, 0.5, 1.0, 1.5]))
        # a draw about the week's chance, at it or a double below it: a chance one double
        # off shows
        trial = World(isolated=False, partners=partners_b, n_areas=a.n_areas)
        trial.figures[:], trial.active[:] = a.figures, a.active
        _, chance = _systems_change_reference(sc, trial, emph, 1.0)
        pick = rng.uniform()
        if pick < 0.25:
            draw = chance
        elif pick < 0.5:
            draw = float(np.nextafter(chance, 0.0))
        else:
            draw = chance * float(rng.uniform(0.97, 1.03))
        draw = draw if draw == draw else float(rng.uniform())
        won, _ = _systems_change_reference(sc, a, emph, draw)
        got = systems_change_week(b.figures, params, emph, draw, b.active, influence)
        assert got == won
        assert _bits(b.figures) == _bits(a.figures)
        won_any |= won
    assert won_any


def _measurement_reference(sc: Scenario, w: World, matures: bool, emph: float, data: float,
                           best: float, z: float) -> tuple[int, float]:
    """SharedMeasurement.step's arithmetic in plain Python: the lag and the noise."""
    m = sc.measurement
    dyn = sc.dynamics
    if matures:
        funded = 0.5
        if m.investment_per_year > 0:
            funded += 0.5 * w.measurement_spend * 52 / m.investment_per_year
        if sc.backbone.present:
            capacity = w.data_capacity * funded
        else:
            capacity = dyn.self_coordination * best * funded
        willing = 0.5 * (w.trust_mean + data)
        grow = dyn.measurement_rate_per_year / 52 * emph * capacity * willing
        decay = dyn.measurement_decay_per_year / 52 * (1.0 - capacity)
        w.measurement += grow * (1.0 - w.measurement) - decay * (
            w.measurement - m.initial_maturity)
    quality = w.measurement
    lag = round(m.report_lag_weeks * (1.0 - quality))
    noise = m.noise_pp / 100.0 * (1.0 - quality)
    return lag, noise * z


@pytest.mark.parametrize("variant", range(4))
def test_compiled_measurement_week_is_the_rule(default_scenario: Scenario, partners,
                                               variant: int):
    sc = default_scenario.with_overrides({
        "backbone.present": variant % 2 == 0,
        "measurement.investment_per_year": 0.0 if variant >= 2 else 120000.0,
        "measurement.report_lag_weeks": 26.0,
    })
    params = measurement_params(sc)
    assert params.shape == (Q_N,)
    assert params[Q_BACKBONE] == (1.0 if sc.backbone.present else 0.0)
    assert (params[Q_INVESTMENT], params[Q_INITIAL], params[Q_LAG]) == (
        sc.measurement.investment_per_year, sc.measurement.initial_maturity, 26.0)
    assert params[Q_RATE] == sc.dynamics.measurement_rate_per_year / 52
    assert params[Q_DECAY] == sc.dynamics.measurement_decay_per_year / 52
    assert params[Q_NOISE] == sc.measurement.noise_pp / 100.0
    assert params[Q_SELF_COORDINATION] == sc.dynamics.self_coordination
    rng = np.random.default_rng(10 + variant)
    halves = [k / 52 for k in range(53)]  # quality at which 26 (1 - q) is k/2: ties round even
    for case in range(600):
        a = World(isolated=False, partners=partners, n_areas=len(sc.strategy_areas))
        b = World(isolated=False, partners=partners, n_areas=len(sc.strategy_areas))
        a.figures[:] = [_odd(rng) for _ in FIGURES]
        if case % 3 == 0:
            a.measurement = halves[case % 53]
        a.measurement_spend = float(rng.uniform(0.0, 5000.0))
        b.figures[:] = a.figures
        matures = bool(rng.uniform() < 0.8)
        emph, data, best = (float(rng.uniform(0.0, 1.5)), _odd(rng), _odd(rng))
        z = float(rng.normal())
        try:
            lag, noise = _measurement_reference(sc, a, matures, emph, data, best, z)
        except ValueError:  # a NaN maturity: the step fails alike
            lag_f, _ = measurement_week(b.figures, params, matures, emph, data, best, z)
            with pytest.raises(ValueError):
                int(lag_f)
            continue
        lag_f, noise_f = measurement_week(b.figures, params, matures, emph, data, best, z)
        assert int(lag_f) == lag
        assert _bits([noise_f]) == _bits([noise])
        assert _bits(b.figures) == _bits(a.figures)


@pytest.mark.parametrize(("rate", "baseline", "win"), [
    (0.30, 0.30, 0.0), (0.31, 0.30, 0.2), (0.40, 0.30, 1.0), (0.20, 0.30, 0.0),
    (math.nan, 0.30, 0.0), (0.30, math.nan, 0.0),
])
def test_measured_win(partners, rate: float, baseline: float, win: float):
    w = World(isolated=False, partners=partners, n_areas=3)
    w.measured_rate, w.measured_baseline = rate, baseline
    got = measured_win(w)
    assert type(got) is float
    assert got == pytest.approx(win, abs=1e-12)

