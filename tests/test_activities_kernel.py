"""The compiled week of the activities mechanism against its numpy path, bit for bit.

Random world states (allocations, plans, trust, capacity, burden, partners who left, the
scalars the week reads) are stepped once by the compiled week and once by the numpy path, in
a re-planning week and in an ordinary one, in the factual and the isolated world, at setup and
in a week; every array and figure the mechanism writes must come out with the same bits.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

import cisim.mechanisms.activities as activities
from cisim import CollectiveImpactModel
from cisim.kernels import S_PERCEIVED
from cisim.mechanisms.activities import MutuallyReinforcingActivities
from cisim.rng import normals

FIGURES = ("learned", "fit", "service_capacity", "alignment")
ARRAYS = ("allocation", "capacity", "coverage", "plan", "ideal_plan", "perceived_need")


def _randomise(world, rng: np.random.Generator) -> None:
    N, A = world.allocation.shape
    world.allocation[:] = rng.dirichlet(np.ones(A), size=N)
    world.plan[:] = rng.dirichlet(np.ones(A), size=N)
    world.trust[:] = rng.random((N, N)) * rng.uniform(0.0, 1.5)
    np.fill_diagonal(world.trust, 0.0)
    world.active[:] = rng.random(N) < rng.choice([1.0, 0.8, 0.0])
    world.attended[:] = rng.random(N) < 0.5
    world.burden_hours[:] = rng.choice([0.0, 2.0, 40.0], size=N) * rng.random(N)
    world.capacity[:] = rng.lognormal(1.0, 1.0, N) * (rng.random(N) < 0.9)
    world.assumed_need[:] = rng.dirichlet(np.ones(A))
    for name in ("agreement", "coordination", "measurement", "engagement", "learned"):
        setattr(world, name, float(rng.choice([0.0, rng.random(), 1.0])))
    world.fit = float(rng.random())
    world.programme_money = float(rng.choice([0.0, rng.lognormal(10.0, 1.0)]))


def _state(world) -> tuple:
    return tuple(np.float64(getattr(world, k)).tobytes() for k in FIGURES) + tuple(
        getattr(world, k).tobytes() for k in ARRAYS)


@pytest.mark.parametrize("generated", [0, 12, 60])
@pytest.mark.parametrize("persistence", ["fade", "lock_in"])
def test_compiled_week_is_the_numpy_week_on_random_states(default_scenario, generated: int,
                                                          persistence: str, monkeypatch):
    sc = default_scenario.with_overrides({
        "population.size": 300, "dynamics.persistence": persistence,
        "partner_generation.counts": {"nonprofit": generated} if generated else {},
    })
    model = CollectiveImpactModel(sc, rng=generated + 1)
    rng = np.random.default_rng(generated)
    for case in range(40):
        model.steps = int(rng.integers(1, 200))  # a multiple of 4 re-plans
        for world in model.worlds:
            _randomise(world, rng)
            for setup in (False, True):
                ours, theirs = copy.deepcopy(world), copy.deepcopy(world)
                compiled = MutuallyReinforcingActivities()
                (compiled.setup if setup else compiled.step)(model, ours)
                with monkeypatch.context() as m:
                    m.setattr(activities, "_compiled", lambda partners, areas: False)
                    numpy_path = MutuallyReinforcingActivities()
                    (numpy_path.setup if setup else numpy_path.step)(model, theirs)
                assert _state(ours) == _state(theirs), (case, model.steps, world.isolated, setup)


def test_perceived_need_from_the_run_table_is_the_weekly_draw(default_scenario):
    """Perceived needs from the run's draws made at once are those of the week's draws.

    The draws of ``rng.normals`` at the week (stream ``S_PERCEIVED`` + the world's index), in
    the run's plan weeks and outside them; the needs are their definition worked out in numpy.
    """
    sc = default_scenario.with_overrides({"population.size": 300, "horizon_years": 1.0})
    model = CollectiveImpactModel(sc, rng=7)
    mech = MutuallyReinforcingActivities()
    rng = np.random.default_rng(3)
    for step in (0, 4, 17, 48, sc.steps, sc.steps + 1, sc.steps + 40):
        model.steps = step
        for world in model.worlds:
            _randomise(world, rng)
            need = rng.dirichlet(np.ones(world.n_areas))
            draws = mech.constants(model).perceived_draws(model, world)
            assert (draws is None) == (step % 4 != 0 or step > sc.steps)
            got = activities.perceived_need(model, world, need, draws)
            assert np.array_equal(got, activities.perceived_need(model, world, need))
            # the definition: numpy's operations on the week's normal draws
            m, e = world.measurement, world.engagement
            know = 1.0 - (1.0 - m) * (1.0 - e)
            z = normals(model.kseed, step, need.size, S_PERCEIVED + model.world_index(world))
            noisy = need * np.maximum(0.0, 1.0 + 0.3 * (1.0 - m) * z)
            perceived = (1.0 - know) * world.assumed_need + know * noisy
            # (numpy's own pairwise sum, not the production pairwise_sum it stands in for)
            want = perceived / max(float(np.add.reduce(perceived)), 1e-12)
            assert np.array_equal(got, want), (step, model.world_index(world))
