"""Work skipped or made at once in a week gives what doing it every week gives, bit for bit.

The policy draws of a run made at once (cisim.rng.u01_steps), the backbone's figures kept
while their inputs stay, the phases' remembered blocker texts.
"""

from __future__ import annotations

import numpy as np
import pytest

from cisim.mechanisms import BackboneSupport
from cisim.model import CollectiveImpactModel
from cisim.phases import _early_text
from cisim.rng import u01, u01_steps
from cisim.scenario import Scenario


@pytest.mark.parametrize("seed", [0, 1, 987654321, 2**64 - 1])
@pytest.mark.parametrize("index", [0, 1, 7])
def test_u01_steps_are_the_weekly_draws(seed, index):
    kseed = np.uint64(seed)
    draws = u01_steps(kseed, 600, index, 13)
    assert len(draws) == 600
    assert all(type(d) is float for d in draws)
    assert draws == [u01(kseed, s, index, 13) for s in range(600)]


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


@pytest.mark.parametrize("seed", [0, 1, 987654321, 2**64 - 1])
def test_normals_at_steps_are_the_weekly_normals(seed):
    from cisim.rng import normals, normals_at_steps

    kseed = np.uint64(seed)
    steps = [0, 1, 4, 520, 2**40 + 3]
    draws = normals_at_steps(kseed, steps, 7, 21)
    assert all(type(d) is float for row in draws for d in row)
    assert draws == [normals(kseed, s, 7, 21).tolist() for s in steps]
