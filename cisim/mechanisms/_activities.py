"""Compiled rules of :mod:`cisim.mechanisms.activities`: the plan, re-tuning and coverage.

The same operations in the same order as the numpy expressions they replace (documented in
:mod:`.activities`), so the same doubles: a sum over partners of a column is added row by row
from zero, as numpy reduces the outer axis of a C-ordered array; a 1-D sum is numpy's pairwise
summation (:func:`cisim.numeric.pairwise_sum`); ``np.minimum`` keeps a NaN. One call does a
mechanism's arithmetic for a week, instead of a few dozen small numpy reductions.
"""

from __future__ import annotations

import numpy as np

from cisim.kernels import _inner, _jit
from cisim.numeric import PAIRWISE_WORK, pairwise_sum

STEPS = 52.0  # cisim.scenario.STEPS_PER_YEAR (kept here: the module needs no scenario import)


@_inner
def _min1(v: float) -> float:
    """``np.minimum(1.0, v)`` (NaN stays NaN)."""
    return v if (v < 1.0 or v != v) else 1.0


def work_size(n: int, areas: int) -> int:
    """Doubles of scratch the functions here need for ``n`` partners and ``areas`` areas."""
    return 2 * n + 2 * areas + PAIRWISE_WORK


@_jit(no_cfunc_wrapper=True)
def plan_into(expertise: np.ndarray, capacity: np.ndarray, need_share: np.ndarray,
              sweeps: int, x: np.ndarray, work: np.ndarray) -> None:
    """:func:`cisim.mechanisms.activities.plan_allocation` into ``x`` (N, A).

    ``work``: scratch of :func:`work_size` doubles (compiled code here allocates nothing).
    """
    N, A = expertise.shape
    cap = work[:N]
    factor = work[N:N + A]
    pw = work[2 * N + 2 * A:]
    for i in range(N):
        for a in range(A):
            e = expertise[i, a]
            e = e if (e > 1e-3 or e != e) else 1e-3  # np.maximum(expertise, 1e-3)
            x[i, a] = e * e
        row = 0.0
        for a in range(A):
            row += x[i, a]
        for a in range(A):
            x[i, a] = x[i, a] / row
    for i in range(N):
        c = capacity[i]
        cap[i] = c if (c > 0.0 or c != c) else 0.0
    total = pairwise_sum(cap, pw)
    if not total > 0:
        return
    for _ in range(sweeps):
        for a in range(A):
            col = 0.0
            for i in range(N):
                col += cap[i] * x[i, a]
            # np.where(col > 0, target / np.maximum(col, 1e-300), 1.0): the same numbers as
            # target / col whenever every column is at least 1e-300
            factor[a] = need_share[a] * total / (col if col > 1e-300 else 1e-300) if col > 0 \
                else 1.0
        for i in range(N):
            row = 0.0
            for a in range(A):
                x[i, a] *= factor[a]
                row += x[i, a]
            for a in range(A):
                x[i, a] = x[i, a] / row


@_jit(no_cfunc_wrapper=True)
def activities_week(retune: bool, speed0: float, agreement: float, coordination: float,
                    data_driven: float, target_fit: float, fit: float, fade: bool,
                    fade_rate: float, active: np.ndarray, trust: np.ndarray, plan: np.ndarray,
                    own_priority: np.ndarray, allocation: np.ndarray, budget: np.ndarray,
                    staff_hours: np.ndarray, burden_hours: np.ndarray, attended: np.ndarray,
                    hours_per_meeting: float, cost: float, programme_money: float,
                    max_burden: float, expertise: np.ndarray, coordinated: float,
                    duplication: float, true_need: np.ndarray, ideal_plan: np.ndarray,
                    capacity: np.ndarray, coverage: np.ndarray, work: np.ndarray
                    ) -> tuple[float, float, float]:
    """One week of the activities mechanism after the plan (its ``step`` and ``refresh``).

    With ``retune``, allocations move toward the plan at each partner's speed (``speed0 x own
    trust x agreement x coordination x data_driven``, capped at 1; inactive partners drift back
    to their own priorities at 1/52 a week) and the fit toward ``target_fit`` at the
    capacity-weighted mean speed; with ``fade``, active partners' allocations drift back by
    ``fade_rate``. Then the refresh: capacity (written into ``capacity``), duplication and
    coverage (into ``coverage``). ``work``: scratch of :func:`work_size` doubles.

    Returns:
        ``(fit, service capacity, alignment)``.
    """
    N, A = allocation.shape
    tmp = work[:N]
    w = work[N:2 * N]
    eff = work[2 * N:2 * N + A]
    gap = work[2 * N + A:2 * N + 2 * A]
    pw = work[2 * N + 2 * A:]
    if retune:
        for i in range(N):
            own = pairwise_sum(trust[i], pw) / max(1, N - 1)
            s = _min1(speed0 * own * agreement * coordination * data_driven)
            if not active[i]:
                s = 1.0 / STEPS
            tmp[i] = s
            for a in range(A):
                t = plan[i, a] if active[i] else own_priority[i, a]
                allocation[i, a] += s * (t - allocation[i, a])
        for i in range(N):
            w[i] = capacity[i] * (1.0 if active[i] else 0.0)
        wsum = pairwise_sum(w, pw)
        mean_speed = 0.0
        if wsum != 0.0:
            for i in range(N):
                tmp[i] = tmp[i] * w[i]
            mean_speed = pairwise_sum(tmp, pw) / wsum
        fit += mean_speed * (target_fit - fit)
    if fade:
        for i in range(N):
            back = fade_rate if active[i] else 0.0
            for a in range(A):
                allocation[i, a] += back * (own_priority[i, a] - allocation[i, a])
    # refresh: service capacity per area, duplication waste, coverage and alignment
    for i in range(N):
        burden = burden_hours[i] + hours_per_meeting * (1.0 if attended[i] else 0.0)
        lost = burden / staff_hours[i]
        lost = lost if (lost < max_burden or lost != lost) else max_burden
        capacity[i] = budget[i] / cost * (1.0 - lost)
    extra = programme_money * STEPS / cost
    base = pairwise_sum(capacity, pw)
    if extra > 0:
        for i in range(N):
            share = capacity[i] / base if base > 0 else 1.0 / N
            capacity[i] = capacity[i] + extra * share
    for a in range(A):
        cap_area = 0.0
        for i in range(N):
            cap_area += capacity[i] * allocation[i, a] * expertise[i, a]
        hhi = 0.0
        for i in range(N):
            sh = (capacity[i] * allocation[i, a] * expertise[i, a]) / cap_area \
                if cap_area > 0 else 0.0
            hhi += sh * sh
        waste = duplication * (1.0 - coordinated) * (1.0 - hhi)
        eff[a] = cap_area * (1.0 - waste)
    total = pairwise_sum(eff, pw)
    for a in range(A):
        if total > 0:
            coverage[a] = _min1((eff[a] / total) / true_need[a] if true_need[a] > 0 else 1.0)
        else:
            coverage[a] = 0.0
    for i in range(N):
        w[i] = capacity[i] * (1.0 if active[i] else 0.0)
    wsum = pairwise_sum(w, pw)
    alignment = 0.0
    if wsum > 0:
        for i in range(N):
            for a in range(A):
                gap[a] = abs(allocation[i, a] - ideal_plan[i, a])
            tmp[i] = (1.0 - 0.5 * pairwise_sum(gap, pw)) * w[i]
        alignment = pairwise_sum(tmp, pw) / wsum
    return fit, total, alignment
