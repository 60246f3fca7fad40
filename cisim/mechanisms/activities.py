"""Mutually reinforcing activities: partners re-tune their effort toward a coordinated plan.

Kania & Kramer 2011: "each participant undertakes the specific set of activities at which it excels
in a way that supports and is coordinated with the actions of others"; the causes and the solutions
are interdependent. The plan gives each partner an allocation over strategy areas, proportional to
its expertise, such that the partnership's capacity covers the needs *as the partners see them*
(assumed needs corrected by engagement and measured data: data-driven management, Save the
Children Sweden 2021).
Partners move toward the plan at a speed set by their trust, the agreement, the coordination
capacity and measurement; at the same speed they redesign their services around what engagement has
taught them of the real needs (the *fit* of services). Effort several partners put into the same
area without coordination is partly wasted (duplication); an area with less capacity than its share
of needs is under-covered, which blunts the services in the other areas (complementary needs, in the
population kernel).

Organisations also learn on their own, in both worlds: each year they close
``isolated_learning_per_year`` of the gap between what they know of the real needs and the
truth (organisational learning from their own caseloads, much slower than with engagement and
shared data), which raises the fit they reach alone; and they coordinate ad hoc
(``isolated_coordination`` of the duplication is avoided without any backbone or agenda).

Persistence (``dynamics.persistence = "fade"``): without coordination, allocations drift back
to each partner's own priorities and the fit back to what the partners would reach alone, at
``fade_rate_per_year`` times the missing coordination (``1 - coordination``). The default rate
is anchored on fade-out evidence: Shape Up Somerville's BMI z-score effect fell from 0.10 after
one school year to 0.06 after two (Economos et al. 2013), ``ln(0.10 / 0.06) = 0.51`` a year
(about 40% of the effect lost a year); impacts of most child and adolescent interventions fade
within a few years of their end (Bailey, Duncan, Odgers & Yu 2017). ``"lock_in"`` keeps them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from cisim.kernels import S_PERCEIVED
from cisim.mechanisms._activities import activities_week, plan_into, work_size
from cisim.rng import normals
from cisim.scenario import STEPS_PER_YEAR
from cisim.world import PartnerTable, World

if TYPE_CHECKING:
    from cisim.context import StepContext

HOURS_PER_FTE_WEEK = 37.5
MAX_BURDEN_SHARE = 0.5
PLAN_INTERVAL = 4  # weeks between re-plans (a monthly planning cycle)


class MutuallyReinforcingActivities:
    """Plan, re-tuning of allocations, duplication, coverage and service capacity."""

    component = "activities"

    def setup(self, model: StepContext, world: World) -> None:
        """Compute the initial plan, fit, service capacity and coverage."""
        world.fit = target_fit(model, world)
        self._replan(model, world)
        self.refresh(model, world)

    def step(self, model: StepContext, world: World) -> None:
        """Re-tune allocations toward the plan, then recompute capacity and coverage.

        Active partners move toward the plan at ``alignment_rate_per_year / 52 x emphasis x
        own trust x agreement x coordination x (0.5 + 0.5 measurement)`` a week (at most all
        the way), inactive ones back to their own priorities at 1/52 a week; the fit moves
        toward :func:`target_fit` at the capacity-weighted mean speed of the active partners.
        Under ``persistence = "fade"`` allocations and fit then drift back to working alone
        at ``fade_rate_per_year / 52 x (1 - coordination)``.
        """
        sc = model.design
        if model.steps % PLAN_INTERVAL == 0:
            self._replan(model, world)
        dyn = sc.dynamics
        if dyn.isolated_learning_per_year > 0:
            world.learned += dyn.isolated_learning_per_year / STEPS_PER_YEAR * (
                1.0 - world.learned)
            alone = fit_alone(model, world)
            if world.isolated:
                world.fit = alone
            else:
                world.fit = max(world.fit, alone)
        retune = not world.isolated
        speed0 = target = fade = 0.0
        if retune:
            speed0 = (dyn.alignment_rate_per_year / STEPS_PER_YEAR
                      * model.emphasis(world, self.component))
            target = target_fit(model, world)
            if dyn.persistence == "fade":
                fade = dyn.fade_rate_per_year / STEPS_PER_YEAR * (1.0 - world.coordination)
        world.fit = self.refresh(model, world, retune, speed0, target, fade)
        if fade > 0:  # without coordination, the fit drifts back to working alone
            alone = fit_alone(model, world)
            if world.fit > alone:
                world.fit -= fade * (world.fit - alone)

    def _replan(self, model: StepContext, world: World) -> None:
        """Re-make the coordinated plan and the ideal plan.

        The plan follows the needs as the partners see them; the ideal plan follows the real
        needs and is the yardstick of the alignment indicator.
        """
        p = world.partners
        true_need = model.need_share(world)
        world.ideal_plan = plan_allocation(p.expertise, np.maximum(p.budget, 1.0), true_need)
        if world.isolated:
            return
        m = world.measurement
        know = 1.0 - (1.0 - m) * (1.0 - world.engagement)
        z = normals(model.kseed, model.steps, true_need.size,
                         S_PERCEIVED + model.world_index(world))
        noisy = true_need * np.maximum(0.0, 1.0 + 0.3 * (1.0 - m) * z)
        perceived = (1.0 - know) * world.assumed_need + know * noisy
        world.perceived_need = perceived / max(perceived.sum(), 1e-12)
        world.plan = plan_allocation(p.expertise, world.capacity, world.perceived_need)

    def refresh(self, model: StepContext, world: World, retune: bool = False,
                speed0: float = 0.0, target: float = 0.0, fade: float = 0.0) -> float:
        """Service capacity per area, duplication waste, coverage and alignment.

        Each partner loses to coordination work and meetings a share of its staff time (at
        most half), and with it of its own service capacity; the programme money adds capacity
        in proportion. Per area the capacity is ``sum(capacity x allocation x expertise)``;
        uncoordinated effort several partners put into an area is partly wasted
        (``duplication_waste x (1 - coordinated) x (1 - HHI)`` of the partners' shares);
        coverage is each area's share of the effective capacity over its share of the real
        needs (at most 1); alignment is one minus half the capacity-weighted distance of the
        allocations from the ideal plan. With ``retune`` (and ``fade``) the week's re-tuning
        of allocations comes first (see :meth:`step`). One compiled call
        (:func:`cisim.mechanisms._activities.activities_week`).

        Returns:
            The fit after re-tuning.
        """
        sc = model.design
        p = world.partners
        # Duplication falls as coordinated work gets under way (the phase's activity emphasis).
        emph = min(1.0, model.emphasis(world, self.component))
        coordinated = 0.0 if world.isolated else world.coordination * world.agreement * emph
        coordinated = max(coordinated, sc.dynamics.isolated_coordination)  # ad hoc, in any world
        fit, total, alignment = activities_week(
            retune, speed0, world.agreement, world.coordination,
            0.5 + 0.5 * world.measurement, target, world.fit, not fade <= 0, fade,
            world.active, world.trust, world.plan, p.own_priority, world.allocation, p.budget,
            _staff_hours(p), world.burden_hours, world.attended, sc.meetings.hours_per_meeting,
            sc.population.cost_per_service_year, world.programme_money, MAX_BURDEN_SHARE,
            p.expertise, coordinated, sc.dynamics.duplication_waste, model.need_share(world),
            world.ideal_plan, world.capacity, world.coverage,
            np.empty(work_size(p.n, world.n_areas)))
        world.service_capacity = float(total)
        world.alignment = float(alignment)
        return float(fit)


def _staff_hours(p: PartnerTable) -> np.ndarray:
    """Each partner's staff hours a week (at least 1e-9)."""
    return np.maximum(p.staff_fte * HOURS_PER_FTE_WEEK, 1e-9)


def target_fit(model: StepContext, world: World) -> float:
    """Fit services would have if redesigned around what engagement has revealed."""
    floor = _learned_floor(model, world)
    return floor + (1.0 - floor) * world.engagement


def fit_alone(model: StepContext, world: World) -> float:
    """Fit partners reach on their own: initial engagement and their own learning."""
    floor = _learned_floor(model, world)
    return floor + (1.0 - floor) * model.design.engagement.initial_level


def _learned_floor(model: StepContext, world: World) -> float:
    """The fit of services designed on assumed needs, raised by organisational learning."""
    floor = model.design.dynamics.fit_floor
    if world.learned > 0:
        floor += (1.0 - floor) * world.learned
    return floor


def plan_allocation(
    expertise: np.ndarray, capacity: np.ndarray, need_share: np.ndarray, sweeps: int = 25
) -> np.ndarray:
    """Allocations proportional to squared expertise whose total covers the needs.

    Iterative proportional fitting of ``X = diag(r) E^2 diag(s)``: each row sums to one (a
    partner's effort) and the capacity-weighted column sums are proportional to ``need_share``.

    Args:
        expertise: (N, A) effectiveness of each partner in each area.
        capacity: (N,) each partner's capacity (weights of the rows).
        need_share: (A,) shares of needs over areas (sums to one).
        sweeps: IPF iterations.

    Returns:
        (N, A) allocations, rows summing to one.
    """
    x = np.empty(expertise.shape)
    plan_into(expertise, np.asarray(capacity, dtype=np.float64), need_share, sweeps, x,
              np.empty(work_size(*expertise.shape)))
    return x
