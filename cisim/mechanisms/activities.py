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

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from cisim.kernels import S_PERCEIVED
from cisim.mechanisms._activities import (
    HOURS_PER_FTE_WEEK,
    MAX_AREAS,
    MAX_PARTNERS,
    activities_week,
    plan_sweeps,
    week_params,
)
from cisim.mechanisms.base import ByContents, RunConstants
from cisim.mechanisms.communication import own_trust
from cisim.numeric import pairwise_sum, weighted_mean
from cisim.rng import normals, normals_at_steps
from cisim.scenario import STEPS_PER_YEAR
from cisim.world import PartnerTable, World

if TYPE_CHECKING:
    from cisim.context import StepContext

MAX_BURDEN_SHARE = 0.5
PLAN_INTERVAL = 4  # weeks between re-plans (a monthly planning cycle)


class _Run(RunConstants):
    """What the week takes from the scenario and the seed, made once a run."""

    __slots__ = ("draws", "params")

    def __init__(self, model: StepContext) -> None:
        super().__init__(model)
        sc = model.design
        dyn = sc.dynamics
        # the compiled week's constants (see activities_week)
        fade = dyn.fade_rate_per_year if dyn.persistence == "fade" else 0.0
        self.params = week_params(
            dyn.isolated_learning_per_year, dyn.fit_floor, sc.engagement.initial_level,
            dyn.alignment_rate_per_year, fade, dyn.isolated_coordination, dyn.duplication_waste,
            sc.meetings.hours_per_meeting, sc.population.cost_per_service_year)
        # per world index, the perceived needs' draws of the plan weeks 0, 4, 8, ... of the run
        self.draws: dict[int, list[list[float]]] = {}

    def perceived_table(self, model: StepContext, index: int) -> list[list[float]]:
        """The perceived needs' draws of world index ``index`` at the run's plan weeks.

        :func:`cisim.rng.normals` at weeks 0, 4, 8, ... (stream ``S_PERCEIVED`` + the index),
        a row of the strategy areas' draws each, made the first time asked.
        """
        table = self.draws.get(index)
        if table is None:
            table = self.draws[index] = normals_at_steps(
                self.kseed, range(0, model.design.steps + 1, PLAN_INTERVAL),
                len(model.design.strategy_areas), S_PERCEIVED + index)
        return table

    def perceived_draws(self, model: StepContext, world: World) -> list[float] | None:
        """This week's normal draws of the world's perceived needs (None if not a plan week).

        :func:`cisim.rng.normals` at the week (stream ``S_PERCEIVED`` + the world's index),
        made for all the run's plan weeks at once (the same doubles).
        """
        table = self.perceived_table(model, model.world_index(world))
        row, rest = divmod(model.steps, PLAN_INTERVAL)
        return table[row] if rest == 0 and 0 <= row < len(table) else None


class MutuallyReinforcingActivities:
    """Plan, re-tuning of allocations, duplication, coverage and service capacity."""

    component = "activities"

    def __init__(self) -> None:
        self._scratch: np.ndarray | None = None  # activities_week's
        self._run: _Run | None = None
        # the plans' starting allocations and the ideal plan's weights and their total
        self._basis = ByContents()

    def setup(self, model: StepContext, world: World) -> None:
        """Compute the initial plan, fit, service capacity and coverage."""
        world.fit = target_fit(model, world)
        if _compiled(world.partners.n, world.n_areas):
            self._week(model, world, week=False)
            return
        self._replan(model, world, self.constants(model))
        self.refresh(model, world)

    def step(self, model: StepContext, world: World) -> None:
        """Re-tune allocations toward the plan, then recompute capacity and coverage."""
        if _compiled(world.partners.n, world.n_areas):
            self._week(model, world, week=True)
            return
        sc = model.design
        p = world.partners
        if model.steps % PLAN_INTERVAL == 0:
            self._replan(model, world, self.constants(model))
        dyn = sc.dynamics
        learning = dyn.isolated_learning_per_year > 0
        if learning:
            world.learned += dyn.isolated_learning_per_year / STEPS_PER_YEAR * (
                1.0 - world.learned)
            alone = fit_alone(model, world)
            world.fit = alone if world.isolated else max(world.fit, alone)
        if not world.isolated:
            m = world.measurement
            emph = model.emphasis(world, self.component)
            speed = (
                sc.dynamics.alignment_rate_per_year / STEPS_PER_YEAR * emph * own_trust(world)
                * world.agreement * world.coordination * (0.5 + 0.5 * m)
            )
            speed = np.minimum(1.0, speed)[:, None]
            target = np.where(world.active[:, None], world.plan, p.own_priority)
            speed = np.where(world.active[:, None], speed, 1.0 / STEPS_PER_YEAR)
            world.allocation += speed * (target - world.allocation)
            weights = world.capacity * world.active
            mean_speed = float(weighted_mean(speed[:, 0], weights)) if weights.sum() else 0.0
            world.fit += mean_speed * (target_fit(model, world) - world.fit)
            if dyn.persistence == "fade":
                self._fade(model, world)
        self.refresh(model, world)

    def _week(self, model: StepContext, world: World, week: bool) -> None:
        """The world's week (or, without ``week``, its setup): the plan, then one compiled call.

        Every fourth week (and at setup) :meth:`_replan`; then
        :func:`cisim.mechanisms._activities.activities_week`: what :meth:`step` (or
        :meth:`setup` after the fit) does in numpy after the plan, with the same numbers.
        """
        run = self.constants(model)
        if not week or model.steps % PLAN_INTERVAL == 0:
            self._replan(model, world, run)
        p = world.partners
        isolated = world.isolated
        activities_week(
            isolated, week, run.params, world.figures,
            1.0 if isolated else model.emphasis(world, self.component), world.trust,
            world.active, world.attended, world.burden_hours, world.allocation, world.capacity,
            world.coverage, world.plan, world.ideal_plan, p.budget, p.staff_fte, p.expertise,
            p.own_priority, model.need_share(world), self._scratch_of(world))

    def constants(self, model: StepContext) -> _Run:
        """The run's constants of the compiled rules (made once a run, kept)."""
        run = self._run = _Run.kept(self._run, model)
        return run

    def _scratch_of(self, world: World) -> np.ndarray:
        """The scratch of :func:`activities_week` for the world's partners and areas (kept)."""
        size = max(world.partners.n, world.n_areas)
        scratch = self._scratch
        if scratch is None or scratch.shape[1] != size:
            scratch = self._scratch = np.empty((5, size))
        return scratch

    @staticmethod
    def _fade_rate(model: StepContext, world: World) -> float:
        """This week's drift back toward working alone: the fade rate times missing coordination."""
        return model.design.dynamics.fade_rate_per_year / STEPS_PER_YEAR * (
            1.0 - world.coordination)

    def _fade(self, model: StepContext, world: World) -> None:
        """Without coordination, allocations and fit drift back to working alone."""
        fade = self._fade_rate(model, world)
        if fade <= 0:
            return
        p = world.partners
        back = np.where(world.active[:, None], fade, 0.0)  # inactive ones drift back already
        world.allocation += back * (p.own_priority - world.allocation)
        self._fade_fit(world, fade, fit_alone(model, world))

    @staticmethod
    def _fade_fit(world: World, fade: float, alone: float) -> None:
        """The fit drifts back by ``fade`` toward ``alone``, the fit of working alone."""
        if world.fit > alone:
            world.fit -= fade * (world.fit - alone)

    def _replan(self, model: StepContext, world: World, run: _Run) -> None:
        """Re-make the coordinated plan and the ideal plan.

        The plan follows the needs as the partners see them; the ideal plan follows the real
        needs and is the yardstick of the alignment indicator.
        """
        start, ideal_weights, ideal_total = self._plan_basis(world)
        true_need = model.need_share(world)
        world.ideal_plan = _fit_plan(start, ideal_weights, ideal_total, true_need)
        if world.isolated:
            return
        world.perceived_need = perceived_need(
            model, world, true_need, run.perceived_draws(model, world))
        weights = np.maximum(world.capacity, 0.0)
        world.plan = _fit_plan(start, weights, float(np.add.reduce(weights)),
                               world.perceived_need)

    def _plan_basis(self, world: World) -> tuple[np.ndarray, np.ndarray, float]:
        """The plans' starting allocations (:func:`_plan_start`) and the ideal plan's weights.

        The ideal plan weighs partners by their budgets (at least 1) and both start from the
        partners' expertise: made once, and again only if those arrays' contents change (the
        lengths of their bytes fix both shapes).
        """
        p = world.partners
        return self._basis.get(world, (p.expertise, p.budget), lambda: _plan_basis_of(p))

    def refresh(self, model: StepContext, world: World) -> None:
        """Service capacity per area, duplication waste, coverage and alignment."""
        p = world.partners
        sc = model.design
        true_need = model.need_share(world)
        cost = sc.population.cost_per_service_year
        burden = world.burden_hours + sc.meetings.hours_per_meeting * world.attended
        staff_hours = np.maximum(p.staff_fte * HOURS_PER_FTE_WEEK, 1e-9)
        lost = np.minimum(MAX_BURDEN_SHARE, burden / staff_hours)
        world.capacity = p.budget / cost * (1.0 - lost)
        extra = world.programme_money * STEPS_PER_YEAR / cost
        base = world.capacity.sum()
        if extra > 0:
            share = world.capacity / base if base > 0 else np.full(p.n, 1.0 / p.n)
            world.capacity = world.capacity + extra * share
        contrib = world.capacity[:, None] * world.allocation * p.expertise  # (N, A)
        cap_area = contrib.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            shares = np.where(cap_area > 0, contrib / cap_area, 0.0)
        hhi = (shares**2).sum(axis=0)
        # Duplication falls as coordinated work gets under way (the phase's activity emphasis).
        emph = min(1.0, model.emphasis(world, self.component))
        coordinated = 0.0 if world.isolated else world.coordination * world.agreement * emph
        coordinated = max(coordinated, sc.dynamics.isolated_coordination)  # ad hoc, in any world
        waste = sc.dynamics.duplication_waste * (1.0 - coordinated) * (1.0 - hhi)
        effective = cap_area * (1.0 - waste)
        total = effective.sum()
        world.service_capacity = float(total)
        if total > 0:
            with np.errstate(invalid="ignore", divide="ignore"):
                ratio = np.where(true_need > 0, (effective / total) / true_need, 1.0)
            world.coverage = np.minimum(1.0, ratio)
        else:
            world.coverage = np.zeros_like(true_need)
        weights = world.capacity * world.active
        if weights.sum() > 0:
            gap = 0.5 * np.abs(world.allocation - world.ideal_plan).sum(axis=1)
            world.alignment = float(weighted_mean(1.0 - gap, weights))
        else:
            world.alignment = 0.0


def _compiled(partners: int, areas: int) -> bool:
    """Whether the week runs compiled (:mod:`cisim.mechanisms._activities`) or in numpy."""
    return partners <= MAX_PARTNERS and areas <= MAX_PARTNERS


def perceived_need(model: StepContext, world: World, true_need: np.ndarray,
                   draws: Sequence[float] | None = None) -> np.ndarray:
    """This week's needs as the partners see them, as shares (a plan's target).

    The assumed needs corrected by what engagement and measurement reveal, ``know = 1 - (1 -
    m)(1 - engagement)``, of the true needs seen with noise: ``(1 - know) assumed + know
    true_need max(0, 1 + 0.3 (1 - m) z)``, z the week's normal draw per area.

    Args:
        model: The run (its seed and week, for the draws).
        world: The world whose partners see the needs.
        true_need: (A,) the shares of unmet need (:meth:`StepContext.need_share`).
        draws: The week's draws, made ahead; None draws them (stream ``S_PERCEIVED`` + the
            world's index).

    Returns:
        (A,) the perceived needs as shares.
    """
    m = world.measurement
    know = 1.0 - (1.0 - m) * (1.0 - world.engagement)
    if draws is None:
        draws = normals(model.kseed, model.steps, true_need.size,
                        S_PERCEIVED + model.world_index(world)).tolist()
    # as Python floats over the few areas: numpy's
    # true_need * np.maximum(0.0, 1.0 + 0.3 (1 - m) z), then (1 - know) assumed + know noisy,
    # with the same operations in the same order (a NaN passes np.maximum, as here)
    spread = 0.3 * (1.0 - m)
    perceived = []
    for assumed, need, draw in zip(world.assumed_need.tolist(), true_need.tolist(), draws,
                                   strict=True):
        noise = 1.0 + spread * draw
        noisy = need * (0.0 if noise < 0.0 else noise)
        perceived.append((1.0 - know) * assumed + know * noisy)
    return np.array(perceived) / max(pairwise_sum(perceived), 1e-12)


def target_fit(model: StepContext, world: World) -> float:
    """Fit services would have if redesigned around what engagement has revealed."""
    return _fit_at(_learned_floor(model, world), world.engagement)


def fit_alone(model: StepContext, world: World) -> float:
    """Fit partners reach on their own: initial engagement and their own learning."""
    return _fit_at(_learned_floor(model, world), model.design.engagement.initial_level)


def _fit_at(floor: float, engagement: float) -> float:
    """The fit of services redesigned around what ``engagement`` reveals, above ``floor``."""
    return floor + (1.0 - floor) * engagement


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
    The plan's definition in one public call (docs/model.md, 7.7, names it; the mechanism
    fits its two plans with the same :func:`_fit_plan` from a start made once a run, and
    tests/test_mechanisms.py holds it to the numpy operations it stands for).

    Args:
        expertise: (N, A) effectiveness of each partner in each area.
        capacity: (N,) each partner's capacity (weights of the rows).
        need_share: (A,) shares of needs over areas (sums to one).
        sweeps: IPF iterations.

    Returns:
        (N, A) allocations, rows summing to one.
    """
    cap = np.maximum(capacity, 0.0)
    return _fit_plan(_plan_start(expertise), cap, float(np.add.reduce(cap)), need_share, sweeps)


def _plan_basis_of(p: PartnerTable) -> tuple[np.ndarray, np.ndarray, float]:
    """The plans' start, and the ideal plan's row weights (budgets, at least 1) and total."""
    weights = np.maximum(p.budget, 1.0)
    return _plan_start(p.expertise), weights, float(np.add.reduce(weights))


def _plan_start(expertise: np.ndarray) -> np.ndarray:
    """The fitting's start: squared expertise (at least 1e-3), rows summing to one."""
    x = np.maximum(expertise, 1e-3) ** 2
    return x / np.add.reduce(x, axis=1, keepdims=True)


def _fit_plan(start: np.ndarray, cap: np.ndarray, total: float, need_share: np.ndarray,
              sweeps: int = 25) -> np.ndarray:
    """The fitting of :func:`plan_allocation` from ``start`` (left as it is).

    ``cap`` are the non-negative row weights and ``total`` their sum (``np.add.reduce``).
    """
    add = np.add.reduce  # what ndarray.sum calls, without its Python wrapper (the same sums)
    x = start.copy()
    if total <= 0:
        return x
    target = need_share * total
    if x.shape[1] < MAX_AREAS:  # the usual case: compiled, with the same operations in order
        plan_sweeps(x, cap, target, sweeps, np.empty(x.shape[1]))
        return x
    cap = cap[:, None]
    weighted = np.empty_like(x)
    for _ in range(sweeps):
        col = add(np.multiply(cap, x, out=weighted), axis=0)
        if np.minimum.reduce(col) >= 1e-300:  # the usual case: the same numbers, no np.where
            x *= target / col
        else:
            x *= np.where(col > 0, target / np.maximum(col, 1e-300), 1.0)
        x /= add(x, axis=1, keepdims=True)
    return x
