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

from cisim.mechanisms._backbone import backbone_params, backbone_rule
from cisim.mechanisms.base import ByContents, RunParams
from cisim.world import World

if TYPE_CHECKING:
    from cisim.context import StepContext


class BackboneSupport:
    """Backbone capacity, facilitation quality, coordination and the coordination burden."""

    component = "backbone"

    def __init__(self) -> None:
        # each world's inputs of its figures as last worked out: the active partners (their
        # bytes) and the funded share. The figures (capacities and burden hours) are a
        # function of these and the design alone, and the backbone (or the compiled week, which
        # runs its rule: see forget) is their only writer, so
        # a week with the same inputs leaves them as they are (most weeks: partners leave
        # rarely, and the backbone is paid in full while the money lasts)
        self._inputs = ByContents()
        self._run: RunParams | None = None

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
        # the compiled week's rule, run as Python (a few weeks a run: the inputs change rarely)
        _backbone(world.figures, self.constants(model).params, world.isolated, world.active,
                  world.burden_hours)

    def forget(self, world: World) -> None:
        """Forget the inputs the world's figures were last worked out from.

        For when the figures were written elsewhere (the compiled week runs the same rule
        every week, :class:`cisim.mechanisms.CompiledWeek`): the next step works them out.
        """
        self._inputs.forget(world)

    def constants(self, model: StepContext) -> RunParams:
        """The run's constants of the compiled rule (:func:`backbone_params`; kept)."""
        run = self._run = RunParams.kept(self._run, model, backbone_params)
        return run


# the compiled rule as a Python function (one copy of the rule)
_backbone = getattr(backbone_rule, "py_func", backbone_rule)
