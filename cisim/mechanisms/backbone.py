"""Backbone (orchestrator) support: capacity that absorbs the cost of coordination.

Kania & Kramer 2011: "coordination takes time, and none of the participating organizations has any
to spare"; the backbone's three roles are project manager, data manager and facilitator. Each role's
saturation is its funded FTE against what the number of partners requires. Facilitation quality is
the facilitator's saturation times skill; coordination capacity is the project manager's; the data
manager's feeds shared measurement. Without a backbone, partners coordinate themselves at a low
``self_coordination`` level and carry the coordination hours, which costs them service capacity and
frays collaboration (Kania & Kramer 2011; Turner et al. 2012).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from cisim.mechanisms.base import ByContents
from cisim.numeric import pairwise_sum
from cisim.world import World

if TYPE_CHECKING:
    from cisim.context import StepContext


class BackboneSupport:
    """Backbone capacity, facilitation quality, coordination and the coordination burden."""

    component = "backbone"

    def __init__(self) -> None:
        # each world's inputs of its figures as last worked out: the active partners (their
        # bytes) and the funded share. The figures (capacities and burden hours) are a
        # function of these and the design alone, and the backbone is their only writer, so
        # a week with the same inputs leaves them as they are (most weeks: partners leave
        # rarely, and the backbone is paid in full while the money lasts)
        self._inputs = ByContents()

    def setup(self, model: StepContext, world: World) -> None:
        """Compute the initial capacities (fully funded at the start)."""
        world.backbone_funded = 1.0
        self._inputs.forget(world)
        self.step(model, world)

    def step(self, model: StepContext, world: World) -> None:
        """Update role saturations from funded staff and the number of active partners."""
        # (a share is a new float each week, so a NaN is never the same; nor is it -0.0,
        # money being >= 0)
        if self._inputs.same(world, (world.active.tobytes(), world.backbone_funded)):
            return
        sc = model.design
        dyn = sc.dynamics
        if world.isolated:
            world.facilitation = world.coordination = world.data_capacity = 0.0
            world.backbone_capacity = world.absorbed = 0.0
            world.burden_hours[:] = 0.0
            return
        if sc.backbone.present:
            # a Python int: numpy's count (an np.int64) made every capacity below, and all that
            # is computed from them each week, a numpy scalar, several times slower to add
            n_active = max(1, int(np.count_nonzero(world.active)))
            required = n_active / dyn.partners_per_backbone_fte
            staff = sc.backbone.staff
            # each role's saturation, min(1, fte funded / required) with np.minimum's NaN
            sat = [_at_most_one(fte * world.backbone_funded / required)
                   for fte in (staff.project_manager, staff.data_manager, staff.facilitator)]
            world.coordination = sat[0]
            world.data_capacity = sat[1]
            world.facilitation = sat[2] * sc.backbone.skill
            world.backbone_capacity = pairwise_sum(sat) / len(sat)  # np.mean's sum and division
        else:
            world.coordination = world.facilitation = dyn.self_coordination
            world.data_capacity = 0.0
            world.backbone_capacity = 0.0
        world.absorbed = world.backbone_capacity
        # the hours of active partners, 0 for the others: np.where(active, hours, 0), as a
        # product (hours * 1 or hours * 0: the same doubles, as the hours are finite and >= 0)
        hours = dyn.coordination_hours_per_partner * (1.0 - world.absorbed)
        np.multiply(world.active, hours, out=world.burden_hours)


def _at_most_one(v: float) -> float:
    """``np.minimum(1.0, v)`` for a float (NaN stays NaN)."""
    return 1.0 if v > 1.0 else v
