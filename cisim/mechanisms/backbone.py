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

from cisim.world import World

if TYPE_CHECKING:
    from cisim.context import StepContext


class BackboneSupport:
    """Backbone capacity, facilitation quality, coordination and the coordination burden."""

    component = "backbone"

    def setup(self, model: StepContext, world: World) -> None:
        """Compute the initial capacities (fully funded at the start)."""
        world.backbone_funded = 1.0
        self.step(model, world)

    def step(self, model: StepContext, world: World) -> None:
        """Update role saturations from funded staff and the number of active partners."""
        sc = model.design
        dyn = sc.dynamics
        if world.isolated:
            world.facilitation = world.coordination = world.data_capacity = 0.0
            world.backbone_capacity = world.absorbed = 0.0
            world.burden_hours[:] = 0.0
            return
        if sc.backbone.present:
            n_active = max(1, int(world.active.sum()))
            required = n_active / dyn.partners_per_backbone_fte
            staff = sc.backbone.staff
            fte = np.array([staff.project_manager, staff.data_manager, staff.facilitator])
            sat = np.minimum(1.0, fte * world.backbone_funded / required)
            world.coordination = float(sat[0])
            world.data_capacity = float(sat[1])
            world.facilitation = float(sat[2]) * sc.backbone.skill
            world.backbone_capacity = float(np.add.reduce(sat) / sat.size)  # sat.mean()
        else:
            world.coordination = world.facilitation = dyn.self_coordination
            world.data_capacity = 0.0
            world.backbone_capacity = 0.0
        world.absorbed = world.backbone_capacity
        world.burden_hours[:] = np.where(
            world.active, dyn.coordination_hours_per_partner * (1.0 - world.absorbed), 0.0
        )
