"""Compiled rule of :mod:`cisim.mechanisms.activities`: the plan's proportional fitting.

:func:`plan_sweeps` is the loop of :func:`cisim.mechanisms.activities.plan_allocation` with the
same operations in the same order, so the same doubles: a column sum over partners is added row
by row from zero, as numpy reduces the outer axis of a C-ordered array, and a row sum over fewer
than eight areas is added left to right from zero, as numpy's pairwise summation does below
eight elements (with eight or more areas the plan stays in numpy). Written as flat loops, without
helper calls, slicing or allocation: each of these adds to numba's first compile, which the
start-up goal bounds (benchmarks/README.md).
"""

from __future__ import annotations

import numpy as np

from cisim.kernels import MAX_PAIRWISE, _jit, pairwise

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


@_jit(opt=1, no_cfunc_wrapper=True)
def activities_week(retune: bool, rate: float, agreement: float, coordination: float,
                    measurement: float, fade: float, trust: np.ndarray, plan: np.ndarray,
                    own_priority: np.ndarray, active: np.ndarray, allocation: np.ndarray,
                    budget: np.ndarray, staff_fte: np.ndarray, burden_hours: np.ndarray,
                    attended: np.ndarray, meeting_hours: float, cost: float, extra: float,
                    expertise: np.ndarray, ideal_plan: np.ndarray, true_need: np.ndarray,
                    waste: float, capacity: np.ndarray, coverage: np.ndarray,
                    scratch: np.ndarray) -> tuple[float, float, float]:
    """One world's week of the activities mechanism after the plan: re-tuning, then refresh.

    :meth:`cisim.mechanisms.activities.MutuallyReinforcingActivities.step` and ``refresh``
    with the same operations in the same order (the numpy path there is the reference, and
    ``tests/test_mechanisms.py`` holds them equal bit for bit). With ``retune``, partner ``i``
    moves its allocation toward the plan at ``min(1, rate own_trust_i agreement coordination
    (0.5 + 0.5 measurement))`` (inactive partners at 1/52 toward their own priorities), and
    active partners drift back toward their own priorities by ``fade`` when it is positive.
    Then ``capacity`` (N) and ``coverage`` (A) are recomputed in place. A column summed over
    partners is added row by row from zero (numpy's order for the outer axis), every other sum
    goes through :func:`pairwise`. ``waste`` is the duplication waste before the
    concentration term; ``scratch`` is 5 x max(N, A) doubles. At most :data:`MAX_PARTNERS`
    partners and areas.

    Returns:
        ``(mean speed, service capacity, alignment)``: the capacity-weighted mean speed of
        the re-tuning (0 without ``retune`` or without capacity).
    """
    N, A = allocation.shape
    mean_speed = 0.0
    if retune:
        others = float(N - 1 if N > 1 else 1)
        for i in range(N):
            v = rate * (pairwise(trust[i], N) / others) * agreement * coordination * (
                0.5 + 0.5 * measurement)
            v = 1.0 if v >= 1.0 else v  # np.minimum(1.0, v)
            on = active[i]
            if not on:
                v = 1.0 / 52.0
            back = fade if on else 0.0
            for a in range(A):
                target = plan[i, a] if on else own_priority[i, a]
                allocation[i, a] += v * (target - allocation[i, a])
            if fade > 0.0:
                for a in range(A):
                    allocation[i, a] += back * (own_priority[i, a] - allocation[i, a])
            scratch[0, i] = capacity[i] * (1.0 if on else 0.0)
            scratch[1, i] = v * scratch[0, i]
        den = pairwise(scratch[0], N)
        if den != 0.0:
            mean_speed = pairwise(scratch[1], N) / den
    for i in range(N):
        burden = burden_hours[i] + meeting_hours * (1.0 if attended[i] else 0.0)
        staff = staff_fte[i] * HOURS_PER_FTE_WEEK
        staff = staff if staff >= 1e-9 or staff != staff else 1e-9  # np.maximum(staff, 1e-9)
        lost = burden / staff
        lost = 0.5 if lost >= 0.5 else lost  # np.minimum(0.5, lost)
        capacity[i] = budget[i] / cost * (1.0 - lost)
    if extra > 0:
        base = pairwise(capacity, N)
        for i in range(N):
            share = capacity[i] / base if base > 0 else 1.0 / N
            capacity[i] = capacity[i] + extra * share
    # scratch[2]: capacity per area; [3]: its concentration (sum of squared shares);
    # [4]: effective capacity per area
    for a in range(A):
        scratch[2, a] = 0.0
        scratch[3, a] = 0.0
    for i in range(N):
        for a in range(A):
            scratch[2, a] += capacity[i] * allocation[i, a] * expertise[i, a]
    for i in range(N):
        for a in range(A):
            c = scratch[2, a]
            share = capacity[i] * allocation[i, a] * expertise[i, a] / c if c > 0 else 0.0
            scratch[3, a] += share * share
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
    # alignment: the capacity-weighted mean over active partners of one minus half the L1
    # distance of their allocation from the ideal plan (0 when they have no capacity)
    for i in range(N):
        for a in range(A):
            scratch[2, a] = abs(allocation[i, a] - ideal_plan[i, a])
        scratch[0, i] = capacity[i] * (1.0 if active[i] else 0.0)
        scratch[1, i] = (1.0 - 0.5 * pairwise(scratch[2], A)) * scratch[0, i]
    den = pairwise(scratch[0], N)
    alignment = pairwise(scratch[1], N) / den if den > 0 else 0.0
    return mean_speed, total, alignment
