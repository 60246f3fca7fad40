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
    meeting_params,
    meeting_streams,
    week_scratch,
    week_scratch_size,
)
from cisim.mechanisms.measurement import measured_win
from cisim.scenario import STEPS_PER_YEAR
from cisim.world import BACKBONE_NEUTRALITY, World, meeting_interval

if TYPE_CHECKING:
    from cisim.context import StepContext


__all__ = ["Communication", "own_trust"]


class _Run:
    """What the compiled week takes from the scenario and the seed, made once a run."""

    __slots__ = ("design", "interval", "keep", "kseed", "params", "recovery", "streams", "work")

    def __init__(self, model: StepContext, n: int) -> None:
        sc = self.design = model.design
        dyn = sc.dynamics
        self.kseed = model.kseed
        self.streams = meeting_streams(model.kseed)
        self.params = meeting_params(sc.meetings.attendance, dyn.distance_penalty,
                                     dyn.trust_gain, dyn.trust_loss, dyn.trust_damage,
                                     dyn.trust_rule, dyn.trust_negativity)
        self.interval = meeting_interval(sc)
        self.keep = 1.0 - dyn.trust_decay_per_year / STEPS_PER_YEAR  # trust without contact
        self.recovery = 1.0 - dyn.trust_damage_recovery_per_year / STEPS_PER_YEAR  # damage
        self.work = week_scratch(n)  # for n partners


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
        # a week without a meeting, a decay or a recovery: nobody has met; the mean trust
        self._week(model, world, self._constants(model, world), False, 1.0, 1.0)

    def good_chance(self, model: StepContext, world: World) -> float:
        """Chance that an interaction is good before agenda distance is taken into account."""
        sc = model.design
        dyn = sc.dynamics
        p = dyn.good_experience_base + dyn.good_experience_facilitation * world.facilitation
        if sc.backbone.present:
            neutrality = sc.backbone.neutrality
            if neutrality is None:
                neutrality = BACKBONE_NEUTRALITY[sc.backbone.type]
            p -= dyn.non_neutral_penalty * (1.0 - neutrality)
        p -= dyn.overload_friction * (1.0 - world.absorbed)
        p += dyn.small_win_trust * measured_win(world)
        return p

    def step(self, model: StepContext, world: World) -> None:
        """Hold this week's meeting (if any), then let trust decay where there was no contact."""
        run = self._constants(model, world)
        meets = not world.isolated and run.interval > 0 and model.steps % run.interval == 0
        # an isolated world never meets: its damage stays 0 (0 x r), and is left alone
        self._week(model, world, run, meets, run.keep, 1.0 if world.isolated else run.recovery)

    def _week(self, model: StepContext, world: World, run: _Run, meets: bool, keep: float,
              recovery: float) -> None:
        """The week, in one compiled call (:func:`.communication_week`).

        With ``meets``, the meeting: the attendance draw and, with two or more attendees, the
        interactions. Then trust decays by ``keep`` where a pair had no contact, the ceiling's
        damage recovers by ``recovery``, and the mean trust is measured.
        """
        contacts = p_good = 0.0
        if meets:
            # (a float whatever the numbers' types: one compiled signature)
            contacts = float(model.design.meetings.contacts_per_meeting
                             * model.emphasis(world, self.component))
            p_good = self.good_chance(model, world)
        world.interactions, world.good_interactions, world.trust_mean = communication_week(
            model.steps, run.streams, run.params, world.active, world.commitment, contacts,
            p_good, world.attended, world.trust, world.damage, world.contacted,
            world.position, meets, True, keep, recovery, run.work)

    def _constants(self, model: StepContext, world: World) -> _Run:
        """The run's constants (made again for another scenario, seed or partner count)."""
        run = self._run
        if (run is None or run.design is not model.design or run.kseed is not model.kseed
                or run.work.shape[0] != week_scratch_size(world.trust.shape[0])):
            run = self._run = _Run(model, world.trust.shape[0])
        return run


def own_trust(world: World, partner: int | None = None) -> np.ndarray | float:
    """Each partner's mean trust in the others (or one partner's, given its index).

    A row of the trust matrix summed over the other ``N - 1`` partners, whether they are
    still active or not (trust in a partner that left stays where it was, decaying).
    """
    rows = world.trust if partner is None else world.trust[partner]
    # rows.sum(axis=-1) without ndarray.sum's wrapper (the same reduction)
    return np.add.reduce(rows, axis=-1) / max(1, world.partners.n - 1)
