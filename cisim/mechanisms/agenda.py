"""Common agenda: agenda positions converge through trust-weighted bounded confidence.

Kania & Kramer 2011: "each organization often has a slightly different definition of the problem and
the ultimate goal ... collective impact requires that these differences be discussed and resolved."
Pairs that interacted this week and lie within the confidence bound (Deffuant et al. 2000), widened
by facilitation, move toward each other by ``convergence_rate`` times their trust, champions (more
influence) moving less and pulling more. At meetings the backbone's facilitation pulls attendees
toward a shared proposal, the influence-weighted centre of those present (NCIOM task force: the
backbone guides vision and strategy). Agreement is ``1 - 2 x`` the mean distance of active
partners from their influence-weighted centre, clipped to [0, 1]. A design without agenda work
(``meetings.agenda_work = false``) keeps every partner's own agenda: positions never move.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from cisim.mechanisms._agenda import (
    agenda_params,
    agenda_scratch,
    agenda_terms_rule,
    agenda_week,
    compiled_agreement,
)
from cisim.mechanisms.base import ByContents, RunParams
from cisim.numeric import weighted_mean
from cisim.world import World

if TYPE_CHECKING:
    from cisim.context import StepContext


class CommonAgenda:
    """Trust-weighted bounded-confidence convergence of agenda positions."""

    component = "agenda"

    def __init__(self) -> None:
        # the scratch of the compiled agenda week (agenda_week), and whether it works out the
        # agreement too
        self._scratch = agenda_scratch(np.zeros((0, 2)))
        self._compiled = True
        # the last agreement computed per world (by id), with the bytes of its inputs (worlds
        # without agenda work, and the numpy path above the compiled week's partners)
        self._remembered = ByContents()
        self._run: RunParams | None = None

    def setup(self, model: StepContext, world: World) -> None:
        """Measure the starting agreement."""
        world.agreement = agreement(world.position, world.partners.influence, world.active)

    def constants(self, model: StepContext) -> RunParams:
        """The run's constants of the mechanism's compiled rules (made once a run, kept)."""
        run = self._run = RunParams.kept(self._run, model, agenda_params)
        return run

    def step(self, model: StepContext, world: World) -> None:
        """Move the positions of partners who interacted this week, then measure agreement.

        One compiled call (:func:`cisim.mechanisms._agenda.agenda_week`); above its partners,
        the moves compiled and the rest in numpy. A world that does no agenda work (an
        isolated one, or without ``meetings.agenda_work``) only measures its agreement.
        """
        sc = model.design
        if world.isolated or not sc.meetings.agenda_work:
            world.agreement = self._agreement(world)
            return
        dyn = sc.dynamics
        x = world.position
        infl = world.partners.influence
        run = self.constants(model)
        bound, rate, pull = _terms(world.figures, run.params, model.emphasis(world, self.component))
        moved, work = self.scratch_for(x)
        compiled = self._compiled
        met, value = agenda_week(compiled, x, infl, world.contacted, world.trust, bound, rate,
                                 world.attended, world.active, dyn.proposal_pull > 0, pull,
                                 moved, work)
        if compiled:
            world.agreement = value
        else:
            if met:
                pull_toward_proposal(x, infl, world.attended, world.active, world.trust,
                                     dyn.proposal_pull > 0, pull)
            world.agreement = self._agreement(world)

    def scratch_for(self, position: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The scratch of :func:`agenda_week` for these positions (``moved``, ``work``).

        Kept, and made again for another number of partners, with whether the compiled week
        works out the agreement too (:func:`compiled_agreement`); :func:`agenda_scratch`
        refuses positions that are not (N, 2), which the compiled week assumes.
        """
        moved, work = self._scratch
        if moved.shape[0] != position.shape[0] or position.shape[1:] != (2,):
            moved, work = self._scratch = agenda_scratch(position)
            self._compiled = compiled_agreement(position)
        return moved, work

    def _agreement(self, world: World) -> float:
        """:func:`agreement` of the world, remembered while its inputs stay the same.

        Positions move only at weeks with contacts, and partners leave rarely: most weeks the
        agreement is that of the week before.
        """
        p = world.partners
        return self._remembered.get(world, (world.position, world.active, p.influence),
                                    lambda: agreement(world.position, p.influence, world.active))


# the compiled rule as a Python function (one copy of the rule)
_terms = getattr(agenda_terms_rule, "py_func", agenda_terms_rule)


def pull_toward_proposal(position: np.ndarray, influence: np.ndarray, attended: np.ndarray,
                         active: np.ndarray, trust: np.ndarray, pulls: bool, pull: float
                         ) -> None:
    """The meeting's pull toward its proposal, then the clip to [0, 1], in place (numpy).

    Given ``pulls`` and at least two attendees, attendee ``i`` moves ``pull x own trust_i``
    of the way to the attendees' influence-weighted centre, own trust being its row of
    ``trust`` summed over ``max(1, active - 1)``. The rule that
    :func:`cisim.mechanisms._agenda.agenda_week` runs compiled.
    """
    x = position
    att = attended
    if np.count_nonzero(att) >= 2 and pulls:
        x_att = x[att]  # (what x[att] reads until it is written back)
        proposal = weighted_mean(x_att, influence[att], axis=0)
        # trust[att].sum(axis=1) without ndarray.sum's wrapper (the same reduction)
        own_trust = np.add.reduce(trust[att], axis=1) / max(1, np.count_nonzero(active) - 1)
        step = pull * own_trust
        x[att] = x_att + step[:, None] * (proposal - x_att)
    x.clip(0.0, 1.0, out=x)  # np.clip, one wrapper fewer


def agreement(position: np.ndarray, influence: np.ndarray, active: np.ndarray) -> float:
    """Agreement in [0, 1]: 1 - 2 x the mean distance from the influence-weighted centre."""
    n = np.count_nonzero(active)
    if n < 2:
        return 1.0
    if n == active.size:  # all active: the arrays themselves (what their copies would hold)
        x, infl = position, influence
    else:
        x, infl = position[active], influence[active]
    centre = weighted_mean(x, infl, axis=0)
    # .sum(axis=1) without ndarray.sum's wrapper (the same reduction)
    dist = np.sqrt(np.add.reduce((x - centre) ** 2, axis=1))
    mean_dist = float(np.add.reduce(dist) / dist.size)  # dist.mean(), without its wrapper
    return float(min(1.0, max(0.0, 1.0 - 2.0 * mean_dist)))
