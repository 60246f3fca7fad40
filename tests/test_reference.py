"""The plain-Mesa reference (benchmarks/reference) computes what the engine computes.

The reference steps every beneficiary and partner in Python; the engine runs numba kernels on
arrays. Replaying the inputs the engine used in each step, the two must agree step for step:
integer states exactly, floats to 1e-9.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numba
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # benchmarks/ is not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks.reference import RecordingModel, ReferenceModel, normal, u01  # noqa: E402
from cisim import kernels  # noqa: E402
from cisim.rng import key as stream_key  # noqa: E402
from cisim.rng import normals, uniforms  # noqa: E402

N_STEPS = 6  # biweekly meetings: steps 2, 4 and 6 hold one


@numba.njit
def _kernel_draws(keys: np.ndarray, index: np.int64) -> tuple[float, float]:
    """The kernels' uniform and normal draws (their helpers have no Python entry point)."""
    return kernels._u01k(keys[0], index), kernels._normalk(keys[0], keys[1], index)


def test_python_generator_is_the_kernels_generator():
    rng = np.random.default_rng(3)
    seeds = rng.integers(0, 2**62, 50, dtype=np.uint64)
    for seed in seeds:
        step, index, stream = (int(v) for v in rng.integers(0, 10**6, 3))
        keys = np.array([stream_key(int(seed), step, s) for s in (stream, stream + 100)],
                        dtype=np.uint64)
        u, z = _kernel_draws(keys, np.int64(index))
        assert u01(int(seed), step, index, stream) == u
        assert normal(int(seed), step, index, stream) == z
    # the keys the population kernel is given are those of its streams
    streams = (kernels.S_TURNOVER, kernels.S_TRANSITION, kernels.S_SUBGROUP,
               kernels.S_ENTRANT, kernels.S_NEED, kernels.S_NEED + 100)
    np.testing.assert_array_equal(kernels.step_keys(9, 4),
                                  [stream_key(9, 4, s) for s in streams])
    # the vectorised draws the mechanisms take
    assert list(uniforms(11, 4, 500, 3)) == [u01(11, 4, i, 3) for i in range(500)]
    assert list(normals(11, 4, 20, 3)) == [normal(11, 4, i, 3) for i in range(20)]


@pytest.fixture(scope="module", params=[0.0, 4.0], ids=["no-trend", "trend"])
def lockstep(default_scenario, request):
    """Engine and reference stepped side by side on a small population, with turnover.

    The default design has a structural barrier on its disadvantaged subgroup; the second
    variant adds a secular trend (moving the entry hazards and the entrants' odds weekly).
    """
    sc = default_scenario.with_overrides({
        "population.size": 1500,
        "population.mesa_agents": 0,
        "population.years_in_population": 1.0,  # ~30 replacements a week: exercise entrants
        "dynamics.trend_pp_per_year": request.param,
    })
    engine = RecordingModel(sc, rng=20240601)
    assert engine.population.structural.max() > 0
    ref = ReferenceModel.from_engine(engine)
    history = []
    for _ in range(N_STEPS):
        engine.step()
        trend = engine.last_inputs.wp[:, kernels.WP.TREND]
        assert trend[0] == trend[1]  # the same in both worlds
        assert (trend[0] > 1.0) == (request.param > 0)
        ref.inputs = engine.last_inputs
        ref.step()
        pop, world = engine.population, engine.factual
        history.append(dict(
            engine=dict(outcome=pop.outcome.copy(), subgroup=pop.subgroup.copy(),
                        needs=pop.needs.copy(), exposure=pop.exposure.copy(),
                        aggregates=pop.aggregates.copy(), trust=world.trust.copy(),
                        damage=world.damage.copy(), position=world.position.copy(),
                        agreement=world.agreement, interactions=world.interactions,
                        good=world.good_interactions, meeting=engine.last_inputs.meeting),
            ref=dict(**ref.beneficiary_arrays(), **ref.partner_arrays(),
                     aggregates=ref.aggregates.copy(), agreement=ref.agreement,
                     interactions=ref.interactions, good=ref.good_interactions),
        ))
    return history


def test_beneficiary_states_agree_exactly(lockstep):
    changed = 0
    for k, h in enumerate(lockstep, start=1):
        e, r = h["engine"], h["ref"]
        for key in ("outcome", "subgroup", "needs", "exposure"):
            np.testing.assert_array_equal(r[key], e[key], err_msg=f"{key} at step {k}")
        if k > 1:
            changed += int((e["outcome"] != lockstep[k - 2]["engine"]["outcome"]).sum())
    assert changed > 0  # the states did move: the comparison is not of frozen arrays


def test_aggregates_agree(lockstep):
    for k, h in enumerate(lockstep, start=1):
        e, r = h["engine"]["aggregates"], h["ref"]["aggregates"]
        assert e.shape == r.shape
        np.testing.assert_allclose(r, e, rtol=1e-9, atol=1e-9, err_msg=f"step {k}")


def test_partner_trust_and_agenda_agree(lockstep):
    meetings = 0
    for k, h in enumerate(lockstep, start=1):
        e, r = h["engine"], h["ref"]
        meetings += e["meeting"]
        assert r["interactions"] == e["interactions"], f"step {k}"
        assert r["good"] == e["good"], f"step {k}"
        for key in ("trust", "damage", "position"):
            np.testing.assert_allclose(r[key], e[key], rtol=0, atol=1e-9,
                                       err_msg=f"{key} at step {k}")
        assert r["agreement"] == pytest.approx(e["agreement"], abs=1e-9)
    assert meetings >= 2
    assert sum(h["engine"]["interactions"] for h in lockstep) > 0
    first, last = lockstep[0]["engine"], lockstep[-1]["engine"]
    assert not np.array_equal(first["position"], last["position"])  # the agenda moved
