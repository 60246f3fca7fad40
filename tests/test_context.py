"""Rules run against a stub context: a mechanism needs a world and what StepContext lists.

Each stub below is a small dataclass with exactly the members of
:class:`cisim.context.StepContext` (no population, no recorder, no Mesa model), so these tests
would fail if a mechanism reached for anything else of the model.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pytest

from cisim import Scenario
from cisim.context import StepContext
from cisim.mechanisms import CommonAgenda, Communication, PartnerValue
from cisim.mechanisms.base import is_counterfactual
from cisim.world import World, build_partners


@dataclass
class StubContext:
    """Just what a rule may use of a run; every phase emphasis is 1."""

    design: Scenario
    factual: World
    counterfactual: World
    steps: int = 0
    kseed: int = 11
    log_entries: list[tuple[str, str]] = field(default_factory=list)

    def world_index(self, world: World) -> int:
        return 0 if world is self.factual else 1

    def emphasis(self, world: World, component: str) -> float:
        return 1.0

    def phase_value(self, world: World, values: Mapping[str, float], default: float) -> float:
        return default

    def entered_phase(self, world: World, key: str) -> bool:
        return False

    def need_share(self, world: World) -> np.ndarray:
        return np.full(world.n_areas, 1.0 / world.n_areas)

    def true_rate(self, world: World, step: int) -> float:
        return 0.5

    def log(self, world: World, kind: str, message: str) -> None:
        self.log_entries.append((kind, message))


def _context(sc: Scenario) -> StubContext:
    table = build_partners(sc, np.random.default_rng(5))
    A = len(sc.strategy_areas)
    factual = World(isolated=False, partners=table, n_areas=A)
    counterfactual = World(isolated=True, partners=table, n_areas=A)
    ctx = StubContext(design=sc, factual=factual, counterfactual=counterfactual)
    _: StepContext = ctx  # the stub satisfies the Protocol (checked by type checkers)
    return ctx


def _meetings(sc: Scenario, facilitation: float, absorbed: float, weeks: int) -> list[float]:
    """Mean trust after each of ``weeks`` weekly meetings of fully committed partners."""
    sc = sc.with_overrides({"meetings.cadence": "weekly", "meetings.attendance": 1.0})
    ctx = _context(sc)
    world = ctx.factual
    mech = Communication()
    mech.setup(ctx, world)
    world.commitment[:] = 1.0
    world.facilitation, world.absorbed = facilitation, absorbed
    trust = [world.trust_mean]
    for t in range(1, weeks + 1):
        ctx.steps = t
        mech.step(ctx, world)
        trust.append(world.trust_mean)
    return trust


@pytest.fixture(scope="module")
def tiny(default_scenario: Scenario) -> Scenario:
    return default_scenario.with_overrides({"population.size": 100})


def test_good_meetings_raise_trust_and_bad_ones_lower_it(tiny: Scenario):
    start = tiny.dynamics.initial_trust
    good = _meetings(tiny, facilitation=1.0, absorbed=1.0, weeks=20)
    bad = _meetings(tiny.with_overrides({"dynamics.good_experience_base": 0.0,
                                         "dynamics.good_experience_facilitation": 0.0}),
                    facilitation=0.0, absorbed=0.0, weeks=20)
    assert good[0] == pytest.approx(start) == bad[0]
    assert good[-1] > start + 0.05  # well-facilitated meetings build trust
    assert bad[-1] < start - 0.05  # meetings that go wrong break it
    assert all(b > a for a, b in itertools.pairwise(good))


def test_no_meetings_in_an_isolated_world(tiny: Scenario):
    ctx = _context(tiny.with_overrides({"meetings.cadence": "weekly"}))
    mech = Communication()
    mech.setup(ctx, ctx.counterfactual)
    ctx.steps = 1
    mech.step(ctx, ctx.counterfactual)
    assert ctx.counterfactual.interactions == 0.0
    assert not ctx.counterfactual.contacted.any()


def test_meetings_draw_agenda_positions_together_and_raise_agreement(tiny: Scenario):
    ctx = _context(tiny.with_overrides({"dynamics.confidence_bound": 2.0}))
    world = ctx.factual
    mech = CommonAgenda()
    mech.setup(ctx, world)
    before = world.agreement
    spread = np.ptp(world.position, axis=0).copy()
    world.trust[:] = 0.8
    world.facilitation = 1.0
    for t in range(1, 6):  # everyone met everyone at five meetings
        ctx.steps = t
        world.contacted[:] = True
        np.fill_diagonal(world.contacted, False)
        world.attended[:] = True
        mech.step(ctx, world)
    assert world.agreement > before + 0.1
    assert (np.ptp(world.position, axis=0) < spread).all()  # positions drew together
    assert ctx.log_entries == []


def test_small_wins_raise_the_chance_of_a_good_interaction(tiny: Scenario):
    sc = tiny.with_overrides({"dynamics.small_win_trust": 0.1})
    ctx = _context(sc)
    world = ctx.factual
    mech = Communication()
    world.measured_baseline = 0.5
    chances = []
    for measured in (0.49, 0.5, 0.525, 0.55, 0.60):  # a loss, none, half a win, a win, more
        world.measured_rate = measured
        chances.append(mech.good_chance(ctx, world))
    assert chances[0] == chances[1]  # a measured loss is no win (and costs nothing here)
    assert chances[2] - chances[1] == pytest.approx(0.05)  # 2.5 points: half a full win
    assert chances[3] - chances[1] == pytest.approx(0.1) == chances[4] - chances[1]  # capped


def test_meeting_fatigue_lowers_commitment_with_the_cadence(tiny: Scenario):
    settled = {}
    for cadence in ("none", "quarterly", "monthly", "biweekly", "weekly"):
        sc = tiny.with_overrides({"meetings.cadence": cadence, "dynamics.meeting_fatigue": 0.3,
                                  "dynamics.exit_rate_per_year": 0.0})
        ctx = _context(sc)
        world = ctx.factual
        world.active[:] = True
        world.measured_rate = world.measured_baseline = 0.5
        world.commitment[:] = 0.6
        mech = PartnerValue()
        mech.setup(ctx, world)
        for t in range(1, 3 * 52):  # long enough to settle
            ctx.steps = t
            mech.step(ctx, world)
        settled[cadence] = float(world.commitment.mean())
    order = [settled[c] for c in ("none", "quarterly", "monthly", "biweekly", "weekly")]
    assert all(b < a for a, b in itertools.pairwise(order)), settled
    # weekly settles 0.3 lower than no meetings in target terms (fatigue shrinks the gap a bit)
    assert 0.15 < settled["none"] - settled["weekly"] <= 0.3, settled


def test_without_agenda_work_positions_stay(tiny: Scenario):
    ctx = _context(tiny.with_overrides({"dynamics.confidence_bound": 2.0,
                                        "meetings.agenda_work": False}))
    world = ctx.factual
    mech = CommonAgenda()
    mech.setup(ctx, world)
    before, start = world.agreement, world.position.copy()
    world.trust[:] = 0.8
    world.facilitation = 1.0
    for t in range(1, 6):  # the same five meetings as above, with no agenda work
        ctx.steps = t
        world.contacted[:] = True
        np.fill_diagonal(world.contacted, False)
        world.attended[:] = True
        mech.step(ctx, world)
    assert world.agreement == before
    np.testing.assert_array_equal(world.position, start)


def test_is_counterfactual_names_the_counterfactual_world_only(tiny: Scenario):
    ctx = _context(tiny)
    assert is_counterfactual(ctx, ctx.counterfactual)
    assert not is_counterfactual(ctx, ctx.factual)
    ctx.counterfactual = ctx.factual  # a stub handing one world as both: the factual
    assert not is_counterfactual(ctx, ctx.factual)
