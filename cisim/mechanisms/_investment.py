"""Compiled rule of :mod:`cisim.mechanisms.investment`: a week of the pooled fund's money.

:func:`investment_week` is the weekly arithmetic of
:class:`cisim.mechanisms.investment.Investment`: what each funding line pays, the spending order
(backbone, data system, programmes), the funding runway, and the counterfactual world's mirror
of the factual world's money. It reads and writes the world's figures in place
(:data:`cisim.world.FIGURES`) and the funding lines as a table kept beside ``world.funding``
(a row per line, columns ``L_*``). The reviews of lines whose commitment ends and the stops of
partners' grants draw, ask the phase's emphasis and log, and are rare: the kernel reports the
line that is due and the mechanism reviews it in Python. The operations are Python's float
operations in Python's order (``min`` and ``max`` as the comparisons the builtins make), so the
same doubles. :func:`investment_week` is called by the mechanism's step and by the compiled
week (:mod:`cisim.mechanisms._week`). Compiled at LLVM level 1
(:func:`cisim.kernels._jit`). The rule and its sources are described in
:mod:`cisim.mechanisms.investment`.
"""

from __future__ import annotations

import math

import numpy as np

from cisim.kernels import _jit
from cisim.scenario import STEPS_PER_YEAR
from cisim.world import (
    F_BACKBONE_FUNDED,
    F_BACKBONE_SPEND,
    F_INCOME,
    F_MEASUREMENT_SPEND,
    F_PROGRAMME_MONEY,
    F_RUNWAY_YEARS,
)

__all__ = [
    "L_N",
    "MIRROR",
    "PAID_CHANGED",
    "RUNWAY",
    "R_N",
    "WEEK",
    "investment_week",
]

#: Columns of a world's funding table: a row per line of ``world.funding``, the same figures
#: as its :class:`cisim.world.FundingLine` (``active`` as 1.0 / 0.0, ``partner`` -1.0 for an
#: external stream).
L_AMOUNT, L_START, L_END, L_ACTIVE, L_PARTNER, L_PAID = range(6)
L_N = 6

#: Entries of a world's spending rules (fixed for a run): the step the money stops at (inf
#: without a cliff), whether the backbone is paid (1.0 / 0.0: present and not isolated) and its
#: weekly budget, whether the data system is paid (shared and not isolated) and its weekly
#: investment.
R_STOP, R_BACKBONE, R_BACKBONE_COST, R_MEASUREMENT, R_MEASUREMENT_COST = range(5)
R_N = 5

#: What :func:`investment_week` does: the factual week, the counterfactual's mirror, or only
#: the runway (at set-up).
WEEK, MIRROR, RUNWAY = 0, 1, 2

#: :func:`investment_week`'s result when some line's payment changed this week.
PAID_CHANGED = -2


@_jit(opt=1, no_cfunc_wrapper=True)
def investment_week(mode: int, t: int, first: int, figures: np.ndarray, source: np.ndarray,
                    lines: np.ndarray, active: np.ndarray, rules: np.ndarray) -> int:
    """One world's week of money at step ``t``, in place.

    ``mode`` :data:`WEEK`: if a line from ``first`` on is due (active, and its partner left or
    its commitment ends at ``t``), returns its index and changes nothing (the mechanism
    reviews it and asks again from the next line). Otherwise each line's payment into
    ``lines[:, L_PAID]``, then writes the figures ``income``, ``backbone_spend``,
    ``backbone_funded`` (the share of the backbone's budget paid, 1 for a budget of zero),
    ``measurement_spend``, ``programme_money`` (the spending order) and ``runway_years``;
    returns :data:`PAID_CHANGED` if some line's payment changed, else -1. A line pays a 52nd
    of its yearly amount while the money flows (before the cliff), it is active and it has
    started. The runway is the money the active lines committed from ``t`` (or their start) to
    the end of their commitment or the cliff, over the yearly amount of the lines paying at
    ``t`` (at ``t = 0``, of those starting then), in years, at most 20 (0 with none paying).

    ``mode`` :data:`MIRROR` (the counterfactual world): the world gets the money of ``source``
    (the factual world's figures), all of it for programmes: writes ``income`` and
    ``programme_money`` (``source``'s income), ``runway_years`` (``source``'s), and zero
    ``backbone_spend``, ``backbone_funded`` and ``measurement_spend``.

    ``mode`` :data:`RUNWAY`: writes only ``runway_years`` (the set-up's).

    Args:
        mode: :data:`WEEK`, :data:`MIRROR` or :data:`RUNWAY`.
        t: The step.
        first: The first line to test for a review (:data:`WEEK`).
        figures: The world's figures (:data:`cisim.world.FIGURES`).
        source: The factual world's figures (:data:`MIRROR`; else any float array).
        lines: The world's funding table (columns ``L_*``).
        active: The world's partners' ``active`` flags (a partner's grant stops on leaving).
        rules: The world's spending rules (entries ``R_*``).
    """
    if mode == MIRROR:
        income = source[F_INCOME]
        figures[F_INCOME] = income
        figures[F_BACKBONE_SPEND] = 0.0
        figures[F_MEASUREMENT_SPEND] = 0.0
        figures[F_BACKBONE_FUNDED] = 0.0
        figures[F_PROGRAMME_MONEY] = income
        figures[F_RUNWAY_YEARS] = source[F_RUNWAY_YEARS]
        return -1
    n = lines.shape[0]
    week = mode == WEEK
    if week:
        # a line due for review (its partner left, or its commitment ends): the mechanism's
        for i in range(first, n):
            if lines[i, L_ACTIVE] != 0.0:
                partner = lines[i, L_PARTNER]  # (a cast below, not numba's Python int)
                if (partner >= 0.0 and not active[np.int64(partner)]) or t >= lines[i, L_END]:
                    return i
    stop = rules[R_STOP]
    paying = week and t < stop
    result = -1
    income = 0.0
    committed = 0.0
    rate = 0.0
    for i in range(n):
        on = lines[i, L_ACTIVE] != 0.0
        amount = lines[i, L_AMOUNT]
        start_step = lines[i, L_START]
        if week:  # each line's payment, added in the lines' order
            paid = amount / STEPS_PER_YEAR if paying and on and t >= start_step else 0.0
            before = lines[i, L_PAID]
            # (a change of sign of a zero too: a line of -0.0 a year pays -0.0, as before)
            if paid != before or math.copysign(1.0, paid) != math.copysign(1.0, before):
                result = PAID_CHANGED
            lines[i, L_PAID] = paid
            income += paid
        if on:  # the money committed from t (or the start) to the end or the cliff
            end_step = lines[i, L_END]
            end = stop if stop < end_step else end_step  # min(end_step, stop)
            start = start_step if start_step > t else t  # max(t, start_step)
            if end > start:
                committed += amount * (end - start) / STEPS_PER_YEAR
            if (start_step <= t and t < end) or (t == 0 and start_step == 0):
                rate += amount  # paying at t (at t = 0: starting then)
    years = 0.0
    if rate > 0:
        years = committed / rate
        years = years if years < 20.0 else 20.0  # min(20.0, years)
    figures[F_RUNWAY_YEARS] = years
    if week:  # the spending order: backbone, data system, programmes
        backbone = 0.0
        funded = 0.0
        if rules[R_BACKBONE] != 0.0:
            cost = rules[R_BACKBONE_COST]
            backbone = cost if cost < income else income  # min(money, cost)
            funded = backbone / cost if cost > 0 else 1.0
        money = income - backbone  # (x - 0.0 is x, -0.0 and NaN too)
        measurement = 0.0
        if rules[R_MEASUREMENT] != 0.0:
            cost = rules[R_MEASUREMENT_COST]
            measurement = cost if cost < money else money  # min(money, cost)
        figures[F_INCOME] = income
        figures[F_BACKBONE_SPEND] = backbone
        figures[F_BACKBONE_FUNDED] = funded
        figures[F_MEASUREMENT_SPEND] = measurement
        figures[F_PROGRAMME_MONEY] = money - measurement
    return result
