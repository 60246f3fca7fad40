"""Systems change: sustained aligned work changes services, practices and policies.

ORS Impact 2018: "population change generally stemmed from changes in services, practices, and
policies"; NCIOM task force: the backbone advances policy and builds public will. Services change
grows with alignment and agreement, practices change with alignment and measurement (data used to
adapt strategies); both erode without aligned work. Policy changes are discrete wins, with a weekly
chance proportional to advocacy, changed practices, agreement and the champions' influence; a win
lasts while the partnership coordinates. Changed services and practices make services more
effective for those served; changed policy lowers the barriers of the whole population, served or
not.

Persistence (``dynamics.persistence = "fade"``, the default): without coordination, changed
services and practices also fade at ``fade_rate_per_year`` and won policy at the slower
``policy_fade_rate_per_year``, each times the missing coordination ``1 - coordination``
(effects of interventions fade after they end: Bailey, Duncan, Odgers & Yu 2017; Shape Up
Somerville lost about 40% of its effect in a year, Economos et al. 2013; the Communities That
Care coalitions' effects lasted years after the trial's support ended, but by age 19 only the
lifetime measures remained, Oesterle et al. 2015). ``"lock_in"`` keeps them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cisim.kernels import S_POLICY
from cisim.mechanisms._systems_change import (
    multipliers_rule,
    systems_change_params,
    systems_change_week,
)
from cisim.mechanisms.base import RunConstants, WeeklyDraws
from cisim.rng import u01, u01_steps
from cisim.scenario import Scenario
from cisim.world import World, equity_focus

if TYPE_CHECKING:
    from cisim.context import StepContext


__all__ = ["SystemsChange", "set_multipliers"]


class SystemsChange:
    """Services, practices and policy levels."""

    component = "systems_change"

    def __init__(self) -> None:
        # the run's constants of the compiled rule and its policy draws
        self._run: _Run | None = None

    def setup(self, model: StepContext, world: World) -> None:
        """Nothing has changed at the start."""
        world.services_change = world.practices_change = world.policy_change = 0.0
        set_multipliers(model.design, world)

    def constants(self, model: StepContext) -> _Run:
        """The run's constants of the mechanism's compiled rules (made once a run, kept)."""
        run = self._run = _Run.kept(self._run, model)
        return run

    def step(self, model: StepContext, world: World) -> None:
        """Grow or erode services and practices; draw this week's policy win.

        One compiled call over the world's figures
        (:func:`cisim.mechanisms._systems_change.systems_change_week`, which also works out
        the champion's pull and writes the multipliers of :func:`set_multipliers`); the
        phase's emphasis and the week's policy draw come from here.
        """
        if world.isolated:
            return
        run = self.constants(model)
        # the week's draw, ``u01(kseed, step, world index, S_POLICY)``, is looked up whether
        # or not the chance is positive (the rule takes it only then): the draws are
        # counter-based, so looking one up changes no other
        draw = run.draws.at(model.steps, model.world_index(world))
        if systems_change_week(world.figures, run.params, model.emphasis(world, self.component),
                               draw, world.active, world.partners.influence):
            self.log_win(model, world)

    @staticmethod
    def log_win(model: StepContext, world: World) -> None:
        """Log the policy win of this week (the compiled week's too)."""
        model.log(world, "policy", f"policy change won (level {world.policy_change:.2f})")


class _Run(RunConstants):
    """The run's constants of the compiled rule and its table of policy draws.

    The draws are made at once (:func:`cisim.rng.u01_steps`, the same doubles as ``u01``).
    """

    __slots__ = ("draws", "params")

    def __init__(self, model: StepContext) -> None:
        super().__init__(model)
        self.params = systems_change_params(model.design)
        self.draws = WeeklyDraws(model, u01_steps, u01, S_POLICY)


# ---- what changed systems do to services and barriers (read by the population's parameters) --


def set_multipliers(sc: Scenario, world: World) -> None:
    """Write what the world's changed systems do to services and barriers into the world.

    The multiplier on the help services give grows with changed services and practices; the
    one on everyone's barriers falls with changed policy. Universal policy lowers the barriers
    services also work on; the structural barriers of a disadvantaged group (a subgroup's
    ``structural_barrier`` share) yield only to policy aimed at them, which takes an equity
    focus (ORS Impact & Spark Policy Institute 2018: equity outcomes only where an equity
    focus shaped the strategies; powell, Menendian & Ake 2019, targeted universalism), and
    there is none in an isolated world. The population's parameters
    (:func:`cisim.population.world_rows`) read them. The rule is
    :func:`cisim.mechanisms._systems_change.multipliers_rule`, which the weekly step's
    compiled rule calls; here it runs as Python on the world's figures.
    """
    dyn = sc.dynamics
    equity = equity_focus(sc, world)
    _multipliers(world.figures, dyn.practice_effectiveness_gain, dyn.policy_barrier_reduction,
                 equity)


# the compiled rule as a Python function (one copy of the rule)
_multipliers = getattr(multipliers_rule, "py_func", multipliers_rule)
