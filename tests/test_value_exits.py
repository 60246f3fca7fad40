"""The exits' partner-by-partner test is the numpy rule's, bit for bit; runs' weekly draws.

:func:`cisim.mechanisms.value._exits` decides, in Python floats, what the numpy path decides
with :func:`cisim.mechanisms.value.exit_hazard` and :func:`cisim.rng.uniforms` (the
compiled-against-numpy comparison of whole runs is in ``tests/test_mechanisms.py``).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from cisim.kernels import S_EXIT, S_NOISE, S_POLICY
from cisim.mechanisms.base import WeeklyDraws
from cisim.mechanisms.value import EXIT_COMMITMENT, _exits, exit_chance, exit_hazard
from cisim.rng import normal, normal_steps, u01, u01_steps, uniforms


def _values(rng: np.random.Generator, n: int) -> np.ndarray:
    """Values around the thresholds, some NaN, some exactly at 0, the thresholds and 1."""
    v = rng.uniform(-0.2, 1.2, n)
    pick = rng.integers(0, 8, n)
    v[pick == 0] = np.nan
    v[pick == 1] = 0.0
    v[pick == 2] = 0.25
    v[pick == 3] = 0.4
    v[pick == 4] = 1.0
    return v


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # inf x 0 in the hazard: NaN, as wanted
@pytest.mark.parametrize("seed", range(20))
def test_exit_chance_is_exit_hazard_of_one_partner(seed):
    rng = np.random.default_rng(seed)
    s, c = _values(rng, 200), _values(rng, 200)
    rate = float(rng.choice([0.0, 0.5, 3.0, 80.0, np.inf]))
    min_s, min_c = (float(x) for x in rng.choice([0.0, -0.1, 0.25, 0.4, 1.0], 2))
    want = exit_hazard(s, c, rate, min_s, min_c)
    got = np.array([exit_chance(float(a), float(b), rate, min_s, min_c)
                    for a, b in zip(s, c, strict=True)])
    np.testing.assert_array_equal(got, want)  # NaN where NaN
    assert want.tobytes() == got.tobytes()


def _numpy_exits(model, world, satisfaction, hazard_on):
    """The numpy path's exit test (PartnerValue.step for more than MAX_PARTNERS partners)."""
    dyn = model.design.dynamics
    leaving = world.active & (world.commitment < EXIT_COMMITMENT)
    if hazard_on:
        hazard = exit_hazard(satisfaction, world.commitment, dyn.exit_rate_per_year,
                             dyn.exit_satisfaction, dyn.exit_commitment)
        if (hazard[world.active] > 0).any():
            u = uniforms(model.kseed, model.steps, world.active.size, S_EXIT)
            leaving |= world.active & (u < hazard)
    return leaving.nonzero()[0].tolist()


@pytest.mark.parametrize("seed", range(40))
def test_exits_partner_by_partner_are_the_numpy_rules(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 40))
    dynamics = SimpleNamespace(exit_rate_per_year=float(rng.choice([0.0, 5.0, 52.0, 400.0])),
                               exit_satisfaction=float(rng.choice([0.0, 0.3, 0.9])),
                               exit_commitment=float(rng.choice([0.0, 0.3, 0.9])))
    model = SimpleNamespace(design=SimpleNamespace(dynamics=dynamics),
                            kseed=np.uint64(rng.integers(0, 2**63)) * np.uint64(2) + np.uint64(1),
                            steps=int(rng.integers(1, 600)))
    world = SimpleNamespace(active=rng.random(n) < 0.8, commitment=_values(rng, n) * 0.5)
    satisfaction = _values(rng, n)
    for hazard_on in (False, True):
        assert _exits(model, world, satisfaction, hazard_on) == _numpy_exits(
            model, world, satisfaction, hazard_on)


@pytest.mark.parametrize(("table", "draw", "stream"), [(normal_steps, normal, S_NOISE),
                                                       (u01_steps, u01, S_POLICY)])
def test_weekly_draws_of_a_run_are_each_weeks_draws(table, draw, stream):
    """Measurement's noise and systems change's policy draws, made once a run."""
    model = SimpleNamespace(design=SimpleNamespace(steps=30), kseed=np.uint64(2**63 + 12345))
    draws = WeeklyDraws.kept(None, model, table, draw, stream)
    for t in (0, 1, 17, 30, 31, 45):  # past the run's last week: drawn on its own
        for w in (0, 1):
            assert draws.at(t, w) == draw(model.kseed, t, w, stream)
    assert WeeklyDraws.kept(draws, model, table, draw, stream) is draws
    other = SimpleNamespace(design=model.design, kseed=np.uint64(7))  # another run's seed
    again = WeeklyDraws.kept(draws, other, table, draw, stream)
    assert again is not draws
    assert again.at(3, 1) == draw(other.kseed, 3, 1, stream)
