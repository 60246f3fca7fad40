"""Compiled side of :mod:`cisim.world`: the layout of a world's figures, and the books' rule.

The world's scalar figures live in one float array (:attr:`cisim.world.World.figures`) laid
out as :data:`FIGURES`; the compiled rules of the mechanisms read and write it by the indices
``F_<NAME>`` defined here (numba takes them as constants). :func:`book_figures` is the arithmetic of
:func:`cisim.world.book_week`, which describes the books and their sources (the SROI guide,
Nicholls, Lawlor, Neitzert & Goodspeed 2012), with Python's operations in Python's order, so
the same doubles: the partners' hours are summed in numpy's pairwise order
(:func:`cisim.kernels.pairwise`, as ``np.add.reduce`` adds them) up to ``MAX_PAIRWISE``
partners, and above that :func:`cisim.world.book_week` passes numpy's sum (numpy splits a
longer array in two, recursively; a recursive compiled sum would add ~0.4 s to the first
compile for partnerships that large); the discount factor and the ratio are
:func:`cisim.numeric.discount_at` and :func:`cisim.numeric.sroi_ratio`, which compiled code
calls too.
"""

from __future__ import annotations

import math

import numpy as np

from cisim.kernels import MAX_PAIRWISE, _jit, pairwise
from cisim.numeric import discount_at, sroi_ratio
from cisim.scenario import STEPS_PER_YEAR

__all__ = ["FIGURES", "book_figures"]

#: The world's scalar figures, in the order of :attr:`World.figures`: the compiled rules read
#: and write them there by the indices ``F_<NAME>`` below; Python reads and writes them as
#: attributes (``world.trust_mean``), each with the meaning its docstring gives. The kernels
#: bake these indices in when they compile; their cache entries carry a digest of the package's
#: sources, so a change here compiles them afresh (:func:`cisim.kernels._jit`).
FIGURES = (
    "trust_mean", "agreement", "alignment", "measurement", "engagement", "runway_years",
    "backbone_capacity", "facilitation", "coordination", "data_capacity", "absorbed",
    "services_change", "practices_change", "policy_change",
    "effect_multiplier", "barrier_multiplier", "structural_multiplier",
    "income", "backbone_spend", "measurement_spend", "programme_money", "backbone_funded",
    "fit", "learned", "service_capacity", "measured_rate", "measured_baseline",
    "interactions", "good_interactions",
    "coordination_cost", "investment", "investment_pv", "measured_value_pv", "measured_sroi",
)
(F_TRUST_MEAN, F_AGREEMENT, F_ALIGNMENT, F_MEASUREMENT, F_ENGAGEMENT, F_RUNWAY_YEARS,
 F_BACKBONE_CAPACITY, F_FACILITATION, F_COORDINATION, F_DATA_CAPACITY, F_ABSORBED,
 F_SERVICES_CHANGE, F_PRACTICES_CHANGE, F_POLICY_CHANGE,
 F_EFFECT_MULTIPLIER, F_BARRIER_MULTIPLIER, F_STRUCTURAL_MULTIPLIER,
 F_INCOME, F_BACKBONE_SPEND, F_MEASUREMENT_SPEND, F_PROGRAMME_MONEY, F_BACKBONE_FUNDED,
 F_FIT, F_LEARNED, F_SERVICE_CAPACITY, F_MEASURED_RATE, F_MEASURED_BASELINE,
 F_INTERACTIONS, F_GOOD_INTERACTIONS,
 F_COORDINATION_COST, F_INVESTMENT, F_INVESTMENT_PV, F_MEASURED_VALUE_PV, F_MEASURED_SROI,
 ) = range(len(FIGURES))


@_jit(opt=1, no_cfunc_wrapper=True)
def book_figures(figures: np.ndarray, burden_hours: np.ndarray, attended: np.ndarray,
                 burden_total: float, coordinated: bool, step: int, population: int,
                 hours_per_meeting: float, hour_cost: float, discount_rate: float,
                 value_per_outcome_year: float, attribution: float, displacement: float) -> None:
    """Book the week ``step`` in a world's figures, in place.

    Reads ``figures[F_INCOME]``, ``[F_MEASURED_RATE]`` and ``[F_MEASURED_BASELINE]``; writes
    ``[F_COORDINATION_COST]`` (a coordinated world's hours, the sum of ``burden_hours`` plus
    ``hours_per_meeting`` per partner ``attended``, times ``hour_cost``; 0 in isolation),
    ``[F_INVESTMENT]`` (the income plus that cost, 0 at step 0), adds the discounted investment
    to ``[F_INVESTMENT_PV]`` and, after step 0 and while it is finite, the discounted measured
    gain (``(measured rate - baseline) x population / 52`` outcome-years at the valuation's
    adjusted value) to ``[F_MEASURED_VALUE_PV]``, and sets ``[F_MEASURED_SROI]`` to the one
    over the other (NaN below ``MIN_MONEY`` invested). ``burden_total`` is the sum of
    ``burden_hours`` as numpy adds it, read only above ``MAX_PAIRWISE`` partners.
    """
    cost = 0.0
    if coordinated:
        n = burden_hours.shape[0]
        burden = pairwise(burden_hours, n) if n <= MAX_PAIRWISE else burden_total
        attendees = 0
        for i in range(attended.shape[0]):
            if attended[i]:
                attendees += 1
        cost = (burden + hours_per_meeting * attendees) * hour_cost
    figures[F_COORDINATION_COST] = cost
    investment = (figures[F_INCOME] + cost) if step > 0 else 0.0
    figures[F_INVESTMENT] = investment
    d = discount_at(step, discount_rate)
    figures[F_INVESTMENT_PV] += investment * d
    adjusted_value = value_per_outcome_year * (1.0 - attribution) * (1.0 - displacement)
    measured_gain = ((figures[F_MEASURED_RATE] - figures[F_MEASURED_BASELINE]) * population
                     / STEPS_PER_YEAR)
    if step > 0 and math.isfinite(measured_gain):
        figures[F_MEASURED_VALUE_PV] += measured_gain * adjusted_value * d
    figures[F_MEASURED_SROI] = sroi_ratio(figures[F_MEASURED_VALUE_PV], figures[F_INVESTMENT_PV])
