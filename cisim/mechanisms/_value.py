"""Compiled rule of :mod:`cisim.mechanisms.value`: a week of realised value and commitment.

:func:`value_week` is the arithmetic of :meth:`cisim.mechanisms.value.PartnerValue.step` (the
value rates, the realised value, satisfaction and the commitment update) with numpy's
operations in numpy's order, so the same doubles: a sum over partners goes through
:func:`cisim.kernels.pairwise` (numpy's pairwise summation), a row of the four kinds of value
is added left to right from zero (numpy below eight elements), ``np.minimum`` and ``np.clip``
are conditional expressions that keep their NaN rules. Who leaves is decided and logged in
Python (``cisim.mechanisms.value._exits``); the compiled week of the default mechanisms asks
:func:`anyone_leaves` first (the same test and draws), so that it hands back only in the weeks
someone does. Written as flat loops, compiled at LLVM level 1 (:func:`cisim.kernels._jit`): every
compiled function adds to numba's first compile, which the start-up goal bounds
(benchmarks/README.md).
"""

from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from cisim.kernels import (
    MAX_PAIRWISE,
    S_EXIT,
    _inner,
    _jit,
    _rule,
    _step_key,
    _u01k,
    pairwise,
)
from cisim.mechanisms._measurement import measured_win_of
from cisim.rng import stream_base
from cisim.scenario import STEPS_PER_YEAR, Scenario
from cisim.world import (
    F_ABSORBED,
    F_MEASURED_BASELINE,
    F_MEASURED_RATE,
    F_MEASUREMENT,
    meeting_interval,
)

__all__ = ["MAX_PARTNERS", "anyone_leaves", "exit_chance", "exit_stream", "exits_possible",
           "value_params", "value_terms_rule", "value_week"]

#: The compiled week runs up to this many partners (numpy's summation order is kept only so
#: far); above it the mechanism stays in numpy.
MAX_PARTNERS = MAX_PAIRWISE

#: A partner whose commitment falls below this leaves at once.
EXIT_COMMITMENT = 0.1

#: Columns of the run's constants (:func:`value_params`): the week's terms', then the exits'.
(V_OVERLOAD, V_MEETING_COST, V_FATIGUE, V_EXIT_RATE, V_EXIT_SATISFACTION, V_EXIT_COMMITMENT,
 V_N) = range(7)


def value_params(sc: Scenario) -> np.ndarray:
    """The run's constants of :func:`value_terms_rule`, by the ``V_*`` columns.

    Meeting fatigue: each meeting costs leaders' time, ``meeting_fatigue`` over the weeks
    between meetings (0 without meetings).
    """
    dyn = sc.dynamics
    interval = meeting_interval(sc)
    params = np.zeros(V_N)
    params[V_OVERLOAD] = dyn.overload_friction
    params[V_MEETING_COST] = dyn.meeting_fatigue / interval if interval > 0 else 0.0
    params[V_FATIGUE] = dyn.commitment_fatigue_per_year
    params[V_EXIT_RATE] = dyn.exit_rate_per_year
    params[V_EXIT_SATISFACTION] = dyn.exit_satisfaction
    params[V_EXIT_COMMITMENT] = dyn.exit_commitment
    return params


def exit_stream(seed: np.uint64) -> np.ndarray:
    """The stream base of the exits' draws for the run's seed (:func:`anyone_leaves`)."""
    return np.array([stream_base(int(seed), S_EXIT)], dtype=np.uint64)


@_rule
def value_terms_rule(figures: np.ndarray, params: np.ndarray) -> tuple[float, float, float]:
    """The week's measured win, overload friction and fatigue rate (of a world's figures).

    The win :func:`cisim.mechanisms._measurement.measured_win_of`; the friction
    ``overload_friction x (1 - absorbed)``; the fatigue ``commitment_fatigue_per_year x (1 -
    measurement)`` (accountability slows it).
    """
    win = measured_win_of(figures[F_MEASURED_RATE], figures[F_MEASURED_BASELINE])
    friction = params[V_OVERLOAD] * (1.0 - figures[F_ABSORBED])
    return win, friction, params[V_FATIGUE] * (1.0 - figures[F_MEASUREMENT])


@register_jitable
def _shortfall_of(value: float, threshold: float) -> float:
    """``cisim.mechanisms.value._shortfall`` of one float (NaN stays NaN, as np.clip's)."""
    if threshold <= 0:
        return 0.0
    share = (threshold - value) / threshold
    if share != share:
        return share
    share = share if share > 0.0 else 0.0
    return share if share < 1.0 else 1.0


@register_jitable
def exit_chance(satisfaction: float, commitment: float, rate_per_year: float,
                min_satisfaction: float, min_commitment: float) -> float:
    """:func:`cisim.mechanisms.value.exit_hazard` of one partner (the same double).

    A plain function that compiled code can call too (:func:`anyone_leaves`).
    """
    h = rate_per_year / STEPS_PER_YEAR * _shortfall_of(
        satisfaction, min_satisfaction) * _shortfall_of(commitment, min_commitment)
    return h if h < 1.0 or h != h else 1.0  # np.minimum(1.0, h): NaN stays NaN


@register_jitable
def exits_possible(low: float, exit_commitment: float) -> bool:
    """Whether anyone may leave this week, given the lowest commitment ``low``.

    Someone leaves at once below :data:`EXIT_COMMITMENT`; the hazard is positive only below
    ``exit_commitment`` (when it is positive); a NaN takes the full test.
    """
    hazard_on = exit_commitment > 0 and low < exit_commitment
    return low < EXIT_COMMITMENT or low != low or hazard_on


@_jit(opt=1, no_cfunc_wrapper=True)
def value_week(win: float, measurement: float, visibility: float, engagement: float,
               friction: float, meeting_cost: float, fatigue_rate: float, trust: np.ndarray,
               reach: np.ndarray, capacity: np.ndarray, active: np.ndarray, seeks: np.ndarray,
               commitment0: np.ndarray, rate: np.ndarray, realised: np.ndarray,
               commitment: np.ndarray, satisfaction: np.ndarray) -> float:
    """One world's week of partner value and commitment, in place.

    Per partner ``i``: the value rates ``rate[i]`` (social impact ``win``, knowledge
    ``measurement x`` own trust, reputation ``visibility x reach[i]``, engagement
    ``engagement x min(1, capacity[i] / mean capacity)``), zero for a partner that left;
    ``realised[i] += rate[i] / 52``; ``satisfaction[i]`` the rates weighted by ``seeks[i]``;
    commitment relaxes toward ``commitment0[i] (0.6 + 0.4 measurement) + 0.3 satisfaction[i] -
    friction - meeting_cost`` less ``fatigue_rate x commitment[i]``, a 52nd of the way, and is
    clipped to [0, 1]. At most :data:`MAX_PARTNERS` partners.

    Returns:
        The lowest commitment after the update, as ``np.minimum.reduce(commitment)`` gives it
        (NaN if any is NaN): the exit test reads it every week.
    """
    N = commitment.shape[0]
    others = N - 1 if N > 1 else 1  # max(1, N - 1), without compiling Python's max
    mean = pairwise(capacity, N) / N
    mean = 1e-9 if mean < 1e-9 else mean  # max(mean, 1e-9), as Python's max (NaN stays)
    keep = 0.6 + 0.4 * measurement
    low = np.inf
    nan = False
    for i in range(N):
        on = 1.0 if active[i] else 0.0  # (a product by one changes no number)
        share = capacity[i] / mean
        share = 1.0 if share >= 1.0 else share  # np.minimum(1.0, share)
        rate[i, 0] = win * on
        rate[i, 1] = measurement * (pairwise(trust[i], N) / others) * on
        rate[i, 2] = visibility * reach[i] * on
        rate[i, 3] = engagement * share * on
        s = 0.0
        for k in range(4):
            realised[i, k] = realised[i, k] + rate[i, k] / 52.0
            s += rate[i, k] * seeks[i, k]
        satisfaction[i] = s
        target = commitment0[i] * keep + 0.3 * s
        target -= friction
        target -= meeting_cost
        c = commitment[i]
        c = c + (target - c - fatigue_rate * c) / 52.0
        if c == c:  # np.clip(c, 0, 1): NaN stays NaN, -0.0 becomes 0.0
            c = c if c > 0.0 else 0.0
            c = c if c < 1.0 else 1.0
            low = c if c < low else low
        else:
            nan = True
        commitment[i] = c
    return np.nan if nan else low


@_inner
def anyone_leaves(t: int, stream: np.ndarray, params: np.ndarray, low: float,
                  commitment: np.ndarray, active: np.ndarray, satisfaction: np.ndarray) -> bool:
    """Whether any partner leaves at week ``t``: the test of the mechanism's exits, compiled.

    ``low`` is the lowest commitment (:func:`value_week`'s). An active partner leaves below
    :data:`EXIT_COMMITMENT`, or, with the hazard on (a positive exit commitment above
    ``low``), when below the exit commitment its draw at week ``t`` (stream base
    ``stream[0]``, index: partner) falls below its positive :func:`exit_chance`: the same
    test, draws and doubles as ``cisim.mechanisms.value._exits``, which then names who leaves
    (``tests/test_week_kernel.py`` holds the two to the same answer).
    """
    rate = params[V_EXIT_RATE]
    min_satisfaction = params[V_EXIT_SATISFACTION]
    min_commitment = params[V_EXIT_COMMITMENT]
    hazard_on = min_commitment > 0 and low < min_commitment
    key = _step_key(stream[0], t)
    for k in range(commitment.shape[0]):
        if not active[k]:
            continue
        c = commitment[k]
        if c < EXIT_COMMITMENT:
            return True
        if hazard_on and c < min_commitment:
            h = exit_chance(satisfaction[k], c, rate, min_satisfaction, min_commitment)
            if h > 0.0 and _u01k(key, k) < h:
                return True
    return False
