"""Beneficiary engagement: services that fit real rather than assumed needs.

Save the Children Sweden 2021: "actively engaging the beneficiaries throughout the initiative is
foundational"; the Re-design phase revisits the needs analysis and re-aligns with the
beneficiaries. Engagement ``E`` grows toward 1 at ``engagement_rate_per_year x intensity``; it
raises take-up of services, the fit that services can reach once partners redesign them
(``fit_floor + (1 - fit_floor) E``, see :mod:`.activities`) and moves the needs the partners
assume toward the real ones, with a jump when Re-design begins.

Persistence (``dynamics.persistence = "fade"``, the default): engagement is joint work that
the partnership's coordination carries (the backbone engages the community and builds public
will: Turner, Merchant, Kania & Martin 2012), so it grows in proportion to ``coordination``, and
without coordination the relationships with beneficiaries lapse like the partnership's other
gains (see :mod:`.activities`): engagement drifts back toward its initial level at
``fade_rate_per_year x (1 - coordination)`` (Bailey, Duncan, Odgers & Yu 2017).

The week's rule runs compiled (:func:`cisim.mechanisms._engagement.engagement_week`); the
step reads what it needs of the run and logs the Re-design.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cisim.mechanisms._engagement import engagement_params, engagement_week
from cisim.mechanisms.base import RunConstants
from cisim.scenario import STEPS_PER_YEAR
from cisim.world import World

if TYPE_CHECKING:
    from cisim.context import StepContext


class BeneficiaryEngagement:
    """Engagement level and the partners' picture of the needs."""

    component = "engagement"

    def __init__(self) -> None:
        self._run: _Run | None = None

    def setup(self, model: StepContext, world: World) -> None:
        """Start from the initial engagement level and the partners' assumed needs."""
        world.engagement = model.design.engagement.initial_level
        own = world.partners.own_priority * world.partners.budget[:, None]
        total = own.sum()
        if total > 0:
            world.assumed_need = own.sum(axis=0) / total

    def constants(self, model: StepContext) -> _Run:
        """The run's constants of the mechanism's compiled rules (made once a run, kept)."""
        run = self._run = _Run.kept(self._run, model)
        return run

    def step(self, model: StepContext, world: World) -> None:
        """Grow engagement and learn the real needs (revisited at Re-design).

        One compiled call (:func:`cisim.mechanisms._engagement.engagement_week`).
        """
        if world.isolated:
            return
        run = self.constants(model)
        redesign = model.entered_phase(world, "redesign")
        engagement_week(run.params, world.figures, model.emphasis(world, self.component),
                        redesign, model.need_share(world), world.assumed_need)
        if redesign:
            model.log(world, "engagement", "needs revisited with beneficiaries (Re-design)")


class _Run(RunConstants):
    """The week's constants from the scenario (:func:`engagement_params`), made once a run."""

    __slots__ = ("params",)

    def __init__(self, model: StepContext) -> None:
        super().__init__(model)
        sc = model.design
        dyn = sc.dynamics
        self.params = engagement_params(
            dyn.engagement_rate_per_year / STEPS_PER_YEAR, sc.engagement.intensity,
            dyn.persistence == "fade", sc.engagement.initial_level,
            dyn.fade_rate_per_year / STEPS_PER_YEAR)
