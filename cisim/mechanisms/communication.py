"""Continuous communication: meetings build and break trust between partners.

Kania & Kramer 2011: "participants need several years of regular meetings to build up enough
experience with each other"; leaders met monthly or biweekly, with external facilitators.
Attendance is the scenario's attendance times each partner's commitment. At a meeting each
attendee works with a few others (``contacts_per_meeting``); an interaction is good with a chance
raised by facilitation and by small wins (the measured improvement partners see: Ansell & Gash
2008; Vangen & Huxham 2003, trust builds in a cycle of small wins) and lowered by agenda distance,
a non-neutral backbone and overload from unabsorbed coordination work. Trust is slow to build
and fast to lose (Slovic 1993): by default a good interaction closes a share of the gap to the
trust ceiling (experience smoothing, Jonker & Treur 1999) and a bad one removes
``trust_negativity`` times the largest such step, so the asymmetry holds at every trust level;
the variant ``dynamics.trust_rule = "pant_yu"`` is the update of Pant & Yu (2025). See
:func:`cisim.mechanisms._communication.trust_update`. Trust decays without contact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from cisim.mechanisms._communication import (
    communication_week,
    good_chance_params,
    good_chance_rule,
    meeting_params,
    meeting_streams,
)
from cisim.mechanisms.base import RunConstants
from cisim.scenario import STEPS_PER_YEAR
from cisim.world import World, meeting_interval

if TYPE_CHECKING:
    from cisim.context import StepContext


__all__ = ["Communication", "own_trust"]


class _Run(RunConstants):
    """What the compiled week takes from the scenario and the seed, made once a run."""

    __slots__ = ("good", "interval", "keep", "params", "recovery", "streams")

    def __init__(self, model: StepContext) -> None:
        super().__init__(model)
        sc = model.design
        dyn = sc.dynamics
        self.streams = meeting_streams(model.kseed)
        self.params = meeting_params(sc.meetings.attendance, dyn.distance_penalty,
                                     dyn.trust_gain, dyn.trust_loss, dyn.trust_damage,
                                     dyn.trust_rule, dyn.trust_negativity)
        self.good = good_chance_params(sc)
        self.interval = meeting_interval(sc)
        self.keep = 1.0 - dyn.trust_decay_per_year / STEPS_PER_YEAR  # trust without contact
        self.recovery = 1.0 - dyn.trust_damage_recovery_per_year / STEPS_PER_YEAR  # damage


class Communication:
    """Meetings, attendance and the trust update."""

    component = "communication"

    def __init__(self) -> None:
        self._run: _Run | None = None

    def setup(self, model: StepContext, world: World) -> None:
        """Start every pair at the scenario's initial trust."""
        t0 = model.design.dynamics.initial_trust
        world.trust[:] = t0
        np.fill_diagonal(world.trust, 0.0)
        world.trust_mean = _mean_trust(world)

    def good_chance(self, model: StepContext, world: World) -> float:
        """Chance that an interaction is good before agenda distance is taken into account."""
        run = self.constants(model)
        return float(_good_chance(world.figures, run.good))

    def constants(self, model: StepContext) -> _Run:
        """The run's constants of the mechanism's compiled rules (made once a run, kept)."""
        run = self._run = _Run.kept(self._run, model)
        return run

    def step(self, model: StepContext, world: World) -> None:
        """Hold this week's meeting (if any), then let trust decay where there was no contact."""
        run = self.constants(model)
        meets = not world.isolated and run.interval > 0 and model.steps % run.interval == 0
        contacts = p_good = 0.0
        if meets:
            # (a float whatever the numbers' types: one compiled signature)
            contacts = float(model.design.meetings.contacts_per_meeting
                             * model.emphasis(world, self.component))
            p_good = self.good_chance(model, world)
        # the meeting, then the recovery of the ceiling and the decay, in one compiled call (an
        # isolated world never meets: its damage stays 0 (0 x r), and is left alone; a test
        # in tests/test_communication_kernel.py holds it at 0 through a run)
        world.interactions, world.good_interactions = communication_week(
            model.steps, run.streams, run.params, world.active, world.commitment, contacts,
            p_good, world.attended, world.trust, world.damage, world.contacted,
            world.position, meets, run.keep, 1.0 if world.isolated else run.recovery)
        world.trust_mean = _mean_trust(world)


def own_trust(world: World, partner: int | None = None) -> np.ndarray | float:
    """Each partner's mean trust in the others (or one partner's, given its index).

    A row of the trust matrix summed over the other ``N - 1`` partners, whether they are
    still active or not (trust in a partner that left stays where it was, decaying).
    """
    rows = world.trust if partner is None else world.trust[partner]
    # rows.sum(axis=-1) without ndarray.sum's wrapper (the same reduction)
    return np.add.reduce(rows, axis=-1) / max(1, world.partners.n - 1)


def _mean_trust(world: World) -> float:
    n = np.count_nonzero(world.active)
    if n < 2:
        return 0.0
    if n == world.trust.shape[0]:  # all active: the whole matrix (the sum of its copy)
        sub = world.trust
    else:
        idx = np.flatnonzero(world.active)
        sub = world.trust[np.ix_(idx, idx)]
    # sub.sum() without ndarray.sum's wrapper (the same reduction over every element)
    return float(np.add.reduce(sub, axis=None) / (n * (n - 1)))


# the compiled rule as a Python function (one copy of the rule)
_good_chance = getattr(good_chance_rule, "py_func", good_chance_rule)
