"""Compiled rule of :mod:`cisim.mechanisms.activities`: the plan's fitting and the week after it.

:func:`plan_sweeps` is the loop of :func:`cisim.mechanisms.activities.plan_allocation`, and
:func:`activities_week` the rest of the mechanism's week (the organisations' own learning, the
re-tuning toward the plan, the drift back, and the service capacity, coverage and alignment it
leaves), reading and writing the world's figures in their array (:data:`cisim.world.FIGURES`),
with the same operations in the same order as the numpy path, so the same doubles: a
column sum over partners is added row by row from zero, as numpy reduces the outer axis of a
C-ordered array; a plan's row over fewer than eight areas left to right from zero, as numpy's
pairwise summation does below eight elements (with eight or more areas the plan stays in
numpy); every other sum goes through :func:`cisim.kernels.pairwise`, numpy's pairwise order
(hence at most :data:`MAX_PARTNERS` partners and areas; above that the week stays in numpy).
Written as flat loops, without allocation: each of these adds to numba's first compile, which
the start-up goal bounds (benchmarks/README.md). :func:`activities_week` is the rule, compiled
as its own entry from Python: inlined into a thin entry (:func:`cisim.kernels._rule`) its first
compile took ~0.5 s more (1.6 -> 2.1 s, fresh cache).

The re-plan every fourth week is Python around :func:`plan_sweeps` in the mechanism's own step
(:meth:`cisim.mechanisms.activities.MutuallyReinforcingActivities._replan`), and
:func:`replan_rule` in the compiled week of the default mechanisms
(:mod:`cisim.mechanisms._week`), where handing the re-plan back to Python cost more than the
re-plan itself (the week's arguments read and passed twice more).
"""


from __future__ import annotations

import numpy as np

from cisim.kernels import MAX_PAIRWISE, _inner, _jit, pairwise
from cisim.world import (
    F_AGREEMENT,
    F_ALIGNMENT,
    F_COORDINATION,
    F_ENGAGEMENT,
    F_FIT,
    F_LEARNED,
    F_MEASUREMENT,
    F_PROGRAMME_MONEY,
    F_SERVICE_CAPACITY,
)

#: Working hours in a full-time equivalent's week (what coordination work is set against).
HOURS_PER_FTE_WEEK = 37.5

#: The compiled plan adds a row in numpy's order only below this many areas.
MAX_AREAS = 8


@_jit(opt=1, no_cfunc_wrapper=True)
def plan_sweeps(x: np.ndarray, cap: np.ndarray, target: np.ndarray, sweeps: int,
                factor: np.ndarray) -> None:
    """Iterative proportional fitting of ``x`` (N, A) in place (A < :data:`MAX_AREAS`).

    Each sweep scales column ``a`` by ``target[a] / sum_i cap[i] x[i, a]`` (by 1 where that
    sum is not positive; a sum below 1e-300 counts as 1e-300) and then each row to sum to one.
    ``factor`` is scratch of A doubles.
    """
    N, A = x.shape
    for _ in range(sweeps):
        for a in range(A):
            col = 0.0
            for i in range(N):
                col += cap[i] * x[i, a]
            # np.where(col > 0, target / np.maximum(col, 1e-300), 1.0): the same numbers as
            # target / col whenever every column is at least 1e-300
            if col > 0:
                factor[a] = target[a] / (col if col > 1e-300 else 1e-300)
            else:
                factor[a] = 1.0
        for i in range(N):
            row = 0.0
            for a in range(A):
                x[i, a] *= factor[a]
                row += x[i, a]
            for a in range(A):
                x[i, a] = x[i, a] / row


#: The compiled week adds a sum over partners in numpy's pairwise order only up to this many
#: partners (:func:`cisim.kernels.pairwise`); above it the mechanism stays in numpy.
MAX_PARTNERS = MAX_PAIRWISE


#: Columns of the run's constants (:func:`week_params`), as :func:`activities_week` takes them.
(C_LEARNING, C_FIT_FLOOR, C_INITIAL_ENGAGEMENT, C_ALIGNMENT_RATE, C_FADE_RATE,
 C_ISOLATED_COORDINATION, C_DUPLICATION_WASTE, C_MEETING_HOURS, C_COST) = range(9)


def week_params(learning: float, fit_floor: float, initial_engagement: float,
                alignment_rate: float, fade_rate: float, isolated_coordination: float,
                duplication_waste: float, meeting_hours: float, cost: float) -> np.ndarray:
    """The run's constants in one array (columns ``C_*``), as :func:`activities_week` takes them.

    (One array rather than nine numbers: each argument of a compiled call costs its
    dispatcher time, and these stay the same through a run.)
    """
    params = np.empty(9)
    params[C_LEARNING] = learning
    params[C_FIT_FLOOR] = fit_floor
    params[C_INITIAL_ENGAGEMENT] = initial_engagement
    params[C_ALIGNMENT_RATE] = alignment_rate
    params[C_FADE_RATE] = fade_rate
    params[C_ISOLATED_COORDINATION] = isolated_coordination
    params[C_DUPLICATION_WASTE] = duplication_waste
    params[C_MEETING_HOURS] = meeting_hours
    params[C_COST] = cost
    return params


@_inner
def fit_plan(start: np.ndarray, cap: np.ndarray, total: float, need_share: np.ndarray,
             out: np.ndarray, target: np.ndarray, factor: np.ndarray) -> None:
    """:func:`cisim.mechanisms.activities._fit_plan` into ``out`` (fewer than 8 areas).

    ``out`` starts as ``start``; with a positive ``total`` (the sum of the row weights
    ``cap``) it is fitted to ``need_share x total`` by :func:`plan_sweeps` (25 sweeps).
    ``target`` and ``factor`` are scratch of the areas' length.
    """
    N, A = start.shape
    for i in range(N):
        for a in range(A):
            out[i, a] = start[i, a]
    if total <= 0:  # (a NaN total goes on to the fitting, as in numpy)
        return
    for a in range(A):
        target[a] = need_share[a] * total
    sweeps = np.int64(25)  # (not a literal: plan_sweeps would be compiled again for it)
    plan_sweeps(out, cap, target, sweeps, factor)


@_inner
def replan_rule(isolated: bool, figures: np.ndarray, draws: np.ndarray, start: np.ndarray,
                ideal_weights: np.ndarray, ideal_total: float, true_need: np.ndarray,
                assumed_need: np.ndarray, capacity: np.ndarray, ideal_plan: np.ndarray,
                perceived_need: np.ndarray, plan: np.ndarray, weights: np.ndarray,
                target: np.ndarray, factor: np.ndarray) -> None:
    """A world's re-plan, in place: the ideal plan, then the needs as seen and the plan.

    What :meth:`cisim.mechanisms.activities.MutuallyReinforcingActivities._replan` does (with
    :func:`cisim.mechanisms.activities.perceived_need` and ``_fit_plan``), with the same
    operations in the same order, for fewer than :data:`MAX_AREAS` areas: the ideal plan
    fitted from ``start`` to ``true_need`` with the budgets as weights (``ideal_weights``,
    summing to ``ideal_total``); unless ``isolated``, the perceived needs from the world's
    figures (measurement, engagement), ``assumed_need`` and the week's normal ``draws``, and
    the plan fitted to them with the capacities (at least 0) as weights. ``weights`` (N),
    ``target`` and ``factor`` (A) are scratch.
    """
    fit_plan(start, ideal_weights, ideal_total, true_need, ideal_plan, target, factor)
    if isolated:
        return
    N, A = start.shape
    m = figures[F_MEASUREMENT]
    know = 1.0 - (1.0 - m) * (1.0 - figures[F_ENGAGEMENT])
    spread = 0.3 * (1.0 - m)
    for a in range(A):
        noise = 1.0 + spread * draws[a]
        noisy = true_need[a] * (0.0 if noise < 0.0 else noise)
        perceived_need[a] = (1.0 - know) * assumed_need[a] + know * noisy
    total = pairwise(perceived_need, A)
    total = 1e-12 if total < 1e-12 else total  # max(total, 1e-12)
    for a in range(A):
        perceived_need[a] = perceived_need[a] / total
    for i in range(N):
        c = capacity[i]
        weights[i] = c if c >= 0.0 or c != c else 0.0  # np.maximum(c, 0.0)
    fit_plan(start, weights, pairwise(weights, N), perceived_need, plan, target, factor)


@_jit(opt=1, no_cfunc_wrapper=True)
def activities_week(isolated: bool, week: bool, params: np.ndarray, figures: np.ndarray,
                    emphasis: float, trust: np.ndarray, active: np.ndarray,
                    attended: np.ndarray, burden_hours: np.ndarray, allocation: np.ndarray,
                    capacity: np.ndarray, coverage: np.ndarray, plan: np.ndarray,
                    ideal_plan: np.ndarray, budget: np.ndarray, staff_fte: np.ndarray,
                    expertise: np.ndarray, own_priority: np.ndarray, true_need: np.ndarray,
                    scratch: np.ndarray) -> None:
    """One world's week of the activities mechanism after the plan, its arrays in place.

    The numpy path of :meth:`cisim.mechanisms.activities.MutuallyReinforcingActivities.step`
    after the re-plan (and, without ``week``, of its ``setup``) with the same operations in the
    same order (``tests/test_activities_kernel.py`` and ``tests/test_mechanisms.py`` hold
    them equal bit for bit). ``params`` are the run's constants (:func:`week_params`): the
    organisations' own ``learning`` a year, ``fit_floor``, ``initial_engagement``,
    ``alignment_rate``, ``fade_rate`` (0 under lock-in), ``isolated_coordination``,
    ``duplication_waste``, the ``meeting_hours`` and the ``cost`` of a service-year.
    ``figures`` are the world's (:data:`cisim.world.FIGURES`): the rule reads its learned,
    fit, engagement, measurement, agreement, coordination and programme money, and writes its
    learned, fit, service capacity and alignment. ``emphasis`` is the phase's on the
    activities (1 in an isolated world). In a ``week`` (not at setup):

    1. The organisations' own learning at ``learning`` a year, which lifts the fit floor and
       the fit reached alone.
    2. Unless ``isolated``, the re-tuning: partner ``i`` moves its allocation toward the plan
       at ``min(1, alignment_rate / 52 emphasis own_trust_i agreement coordination (0.5 +
       0.5 measurement))`` (inactive partners at 1/52 toward their own priorities), and
       active partners drift back toward their own priorities by ``fade_rate / 52 (1 -
       coordination)`` when it is positive; the fit moves by the capacity-weighted mean
       speed toward what ``engagement`` reveals and drifts back.

    In a week and at setup:

    3. ``capacity`` (N) and ``coverage`` (A), after the meetings' and coordination's burden,
       the programme money and the duplication waste; the alignment with ``ideal_plan``.

    ``scratch`` is 5 x max(N, A) doubles.
    """
    N, A = allocation.shape
    learning = params[C_LEARNING] if week else 0.0
    fit_floor = params[C_FIT_FLOOR]
    initial_engagement = params[C_INITIAL_ENGAGEMENT]
    alignment_rate = params[C_ALIGNMENT_RATE]
    fade_rate = params[C_FADE_RATE]
    isolated_coordination = params[C_ISOLATED_COORDINATION]
    duplication_waste = params[C_DUPLICATION_WASTE]
    meeting_hours = params[C_MEETING_HOURS]
    cost = params[C_COST]
    learned = figures[F_LEARNED]
    fit = figures[F_FIT]
    engagement = figures[F_ENGAGEMENT]
    measurement = figures[F_MEASUREMENT]
    agreement = figures[F_AGREEMENT]
    coordination = figures[F_COORDINATION]
    programme_money = figures[F_PROGRAMME_MONEY]
    retune = week and not isolated
    # the organisations' own learning: the fit of services designed alone
    if learning > 0:
        learned = learned + learning / 52.0 * (1.0 - learned)
    floor = fit_floor
    if learned > 0:
        floor = floor + (1.0 - floor) * learned
    alone = floor + (1.0 - floor) * initial_engagement
    if learning > 0 and (isolated or alone > fit):  # alone isolated, else max(fit, alone)
        fit = alone

    # one pass over the partners: the re-tuning (a row's allocation moves toward its target,
    # then drifts back), its weights from the capacity before the refresh, then the capacity
    # after the burden of coordination (each row touches only its own cells, so the rows'
    # steps can share a loop: numba's first compile grows with every loop)
    mean_speed = 0.0
    fade = 0.0
    rate = alignment_rate / 52.0 * emphasis
    if retune:
        fade = fade_rate / 52.0 * (1.0 - coordination)
    others = float(N - 1 if N > 1 else 1)
    for i in range(N):
        on = active[i]
        if retune:
            v = rate * (pairwise(trust[i], N) / others) * agreement * coordination * (
                0.5 + 0.5 * measurement)
            v = 1.0 if v >= 1.0 else v  # np.minimum(1.0, v)
            if not on:
                v = 1.0 / 52.0
            back = fade if on else 0.0
            for a in range(A):
                target = plan[i, a] if on else own_priority[i, a]
                allocation[i, a] += v * (target - allocation[i, a])
                if fade > 0.0:
                    allocation[i, a] += back * (own_priority[i, a] - allocation[i, a])
            scratch[0, i] = capacity[i] * (1.0 if on else 0.0)
            scratch[1, i] = v * scratch[0, i]
        burden = burden_hours[i] + meeting_hours * (1.0 if attended[i] else 0.0)
        staff = staff_fte[i] * HOURS_PER_FTE_WEEK
        staff = staff if staff >= 1e-9 or staff != staff else 1e-9  # np.maximum(staff, 1e-9)
        lost = burden / staff
        lost = 0.5 if lost >= 0.5 else lost  # np.minimum(0.5, lost)
        capacity[i] = budget[i] / cost * (1.0 - lost)
    if retune:
        den = pairwise(scratch[0], N)
        if den != 0.0:
            mean_speed = pairwise(scratch[1], N) / den

    # plus the programme money, shared by capacity; then the capacity per area (scratch[2])
    extra = programme_money * 52.0 / cost
    base = pairwise(capacity, N) if extra > 0 else 0.0
    for a in range(A):
        scratch[2, a] = 0.0
        scratch[3, a] = 0.0
    for i in range(N):
        if extra > 0:
            share = capacity[i] / base if base > 0 else 1.0 / N
            capacity[i] = capacity[i] + extra * share
        for a in range(A):
            scratch[2, a] += capacity[i] * allocation[i, a] * expertise[i, a]
    # duplication: falls as coordinated work gets under way (ad hoc coordination in any world)
    if isolated:
        coordinated = isolated_coordination if isolated_coordination > 0.0 else 0.0
    else:
        coordinated = coordination * agreement * (emphasis if emphasis < 1.0 else 1.0)
        if isolated_coordination > coordinated:
            coordinated = isolated_coordination
    waste = duplication_waste * (1.0 - coordinated)
    # one more pass over the partners: the concentration of each area's capacity (the sum of
    # its squared shares, scratch[3]); and the alignment's terms, a row's capacity-weighted
    # one minus half the L1 distance of its allocation from the ideal plan (scratch[0] and
    # [1], the row's distances in scratch[4])
    for i in range(N):
        for a in range(A):
            c = scratch[2, a]
            share = capacity[i] * allocation[i, a] * expertise[i, a] / c if c > 0 else 0.0
            scratch[3, a] += share * share
            scratch[4, a] = abs(allocation[i, a] - ideal_plan[i, a])
        scratch[0, i] = capacity[i] * (1.0 if active[i] else 0.0)
        scratch[1, i] = (1.0 - 0.5 * pairwise(scratch[4], A)) * scratch[0, i]
    # the effective capacity per area (scratch[4]) and the coverage of the needs
    for a in range(A):
        scratch[4, a] = scratch[2, a] * (1.0 - waste * (1.0 - scratch[3, a]))
    total = pairwise(scratch[4], A)
    for a in range(A):
        ratio = 0.0
        if total > 0:
            need = true_need[a]
            ratio = scratch[4, a] / total / need if need > 0 else 1.0
            ratio = 1.0 if ratio >= 1.0 else ratio  # np.minimum(1.0, ratio)
        coverage[a] = ratio
    # alignment: the capacity-weighted mean over active partners (0 when they have no
    # capacity)
    den = pairwise(scratch[0], N)
    alignment = pairwise(scratch[1], N) / den if den > 0 else 0.0

    if retune:
        # the fit follows the re-tuning toward what engagement has revealed, and drifts back
        fit = fit + mean_speed * ((floor + (1.0 - floor) * engagement) - fit)
        if fade > 0 and fit > alone:
            fit = fit - fade * (fit - alone)
    figures[F_LEARNED] = learned
    figures[F_FIT] = fit
    figures[F_SERVICE_CAPACITY] = total
    figures[F_ALIGNMENT] = alignment
