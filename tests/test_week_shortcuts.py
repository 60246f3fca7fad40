"""Work skipped or made at once in a week gives what doing it every week gives, bit for bit.

The policy and the measurement noise draws of a run made at once (cisim.rng.u01_steps,
normal_steps, normals_at_steps), the backbone's figures kept while their inputs stay, the
phases' remembered blocker texts, the power mean's weights.
"""

from __future__ import annotations

import math
import random
import struct
from types import SimpleNamespace

import numpy as np
import pytest

from cisim.mechanisms import BackboneSupport
from cisim.model import CollectiveImpactModel
from cisim.phases import Phase, PhaseModel, PhaseState, Transition, _early_text, power_mean
from cisim.rng import normal, normal_steps, normals, normals_at_steps, u01, u01_steps
from cisim.scenario import Scenario


@pytest.mark.parametrize("seed", [0, 1, 987654321, 2**64 - 1])
@pytest.mark.parametrize("index", [0, 1, 7])
@pytest.mark.parametrize(("table", "draw", "stream"), [(u01_steps, u01, 13),
                                                       (normal_steps, normal, 17)])
def test_run_tables_are_the_weekly_draws(table, draw, stream, seed, index):
    kseed = np.uint64(seed)
    draws = table(kseed, 600, index, stream)
    assert len(draws) == 600
    assert all(type(d) is float for d in draws)
    assert draws == [draw(kseed, s, index, stream) for s in range(600)]


def _figures(world):
    scalars = np.array([world.coordination, world.data_capacity, world.facilitation,
                        world.backbone_capacity, world.absorbed])
    return scalars.tobytes() + world.burden_hours.tobytes()


def test_backbone_kept_figures_are_the_figures_worked_out(small: Scenario):
    m = CollectiveImpactModel(small, rng=3)
    w = m.factual
    kept = BackboneSupport()
    kept.setup(m, w)
    for change in range(6):
        if change == 1:
            w.active[2] = False  # a partner leaves
        elif change == 2:
            w.backbone_funded = 0.4  # the money falls short
        elif change == 3:
            w.backbone_funded = float("nan")
        elif change == 4:
            w.active[:] = False
        elif change == 5:
            w.active[:], w.backbone_funded = True, 1.0
        for _ in range(2):  # the second week with the same inputs is the kept one
            kept.step(m, w)
            got = _figures(w)
            fresh = BackboneSupport()
            fresh.step(m, w)
            assert got == _figures(w)


def test_early_blocker_text():
    assert _early_text(0.25, 2.0) == "time in phase 0.2 < 2 years"
    assert _early_text(0.0, 0.5) == "time in phase 0.0 < 0.5 years"


def _power_mean_every_time(values, weights, exponent):
    """power_mean as it was written before its weights' part was remembered (the reference)."""
    total = float(sum(weights))
    if total <= 0:
        return 1.0
    pairs = [(w / total, v) for w, v in zip(weights, values, strict=True) if w / total > 0]
    if abs(exponent) < 1e-6:
        exponent = 0.0
    if exponent > 0:
        pairs = [(w, v) for w, v in pairs if v > 0]
        if not pairs:
            return 0.0
    elif any(v <= 0 for _, v in pairs):
        return 0.0
    if exponent == 0:
        return min(1.0, math.exp(sum(w * math.log(v) for w, v in pairs)))
    terms = [math.log(w) + exponent * math.log(v) for w, v in pairs]
    top = max(terms)
    log_sum = top + math.log(sum(math.exp(x - top) for x in terms))
    return min(1.0, math.exp(log_sum / exponent))


def test_power_mean_with_remembered_weights_is_the_power_mean():
    rnd = random.Random(7)
    for _ in range(20000):
        k = rnd.choice([1, 2, 4, 4, 4, 7])
        values = tuple(rnd.choice([0.0, 1.0, rnd.random(), rnd.random(), 1e-300, math.nan])
                       for _ in range(k))
        # (negative weights count in the total and are dropped as values, in both)
        weights = tuple(rnd.choice([0.0, 1.0, 0.5, 10 * rnd.random(), 1e-320, -0.0, -0.5,
                                    -2 * rnd.random()])
                        for _ in range(k))
        p = rnd.choice([0.5, 1.0, 0.0, 1e-7, -1e-7, -4.0, -0.5, rnd.uniform(-4.0, 1.0)])
        want = struct.pack("d", _power_mean_every_time(values, weights, p))
        assert struct.pack("d", power_mean(values, weights, p)) == want
        assert struct.pack("d", power_mean(list(values), list(weights), p)) == want


def test_blocker_texts_are_the_conditions_written_out():
    conditions = [("odd {name}}", lambda m, w: 0.123456, 0.5),
                  ("signed zero", lambda m, w: -0.0, 1e-5),
                  ("not a number", lambda m, w: math.nan, 123456.0)]
    model = PhaseModel("test", [Phase("a", "A", {}), Phase("b", "B", {})],
                       [Transition("a", "b", conditions, 0.0)], operating="b")
    state = PhaseState("a")
    context = SimpleNamespace(steps=1)
    assert model.advance(context, None, state) is None
    assert state.blockers == [f"{name} {fn(None, None):.2f} < {threshold:.3g}"
                              for name, fn, threshold in conditions]


@pytest.mark.parametrize("seed", [0, 1, 987654321, 2**64 - 1])
def test_normals_at_steps_are_the_weekly_normals(seed):
    kseed = np.uint64(seed)
    steps = [0, 1, 4, 520, 2**40 + 3]
    draws = normals_at_steps(kseed, steps, 7, 21)
    assert all(type(d) is float for row in draws for d in row)
    assert draws == [normals(kseed, s, 7, 21).tolist() for s in steps]
