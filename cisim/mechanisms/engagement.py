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
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cisim.scenario import STEPS_PER_YEAR
from cisim.world import World

if TYPE_CHECKING:
    from cisim.context import StepContext


class BeneficiaryEngagement:
    """Engagement level and the partners' picture of the needs."""

    component = "engagement"

    def setup(self, model: StepContext, world: World) -> None:
        """Start from the initial engagement level and the partners' assumed needs."""
        world.engagement = model.design.engagement.initial_level
        own = world.partners.own_priority * world.partners.budget[:, None]
        total = own.sum()
        if total > 0:
            world.assumed_need = own.sum(axis=0) / total

    def step(self, model: StepContext, world: World) -> None:
        """Grow engagement and learn the real needs (revisited at Re-design)."""
        if world.isolated:
            return
        sc = model.design
        emph = model.emphasis(world, self.component)
        rate = sc.dynamics.engagement_rate_per_year / STEPS_PER_YEAR
        fade_mode = sc.dynamics.persistence == "fade"
        carried = world.coordination if fade_mode else 1.0
        engagement = world.engagement
        engagement += rate * sc.engagement.intensity * emph * carried * (1.0 - engagement)
        if fade_mode:
            start = sc.engagement.initial_level
            fade = sc.dynamics.fade_rate_per_year / STEPS_PER_YEAR * (1.0 - world.coordination)
            if engagement > start:
                engagement -= fade * (engagement - start)
        world.engagement = engagement
        true_need = model.need_share(world)
        learn = rate * engagement * emph
        if model.entered_phase(world, "redesign"):
            learn = engagement
            model.log(world, "engagement", "needs revisited with beneficiaries (Re-design)")
        world.assumed_need += min(1.0, learn) * (true_need - world.assumed_need)
