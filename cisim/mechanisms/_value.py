"""Compiled rule of :mod:`cisim.mechanisms.value`: a week's value, commitment and exit hazard.

The same operations in the same order as the numpy expressions of the mechanism's rule (its
docstring), so the same doubles: row sums are numpy's pairwise sums
(:func:`cisim.numeric.pairwise_sum`), ``np.clip`` and ``np.minimum`` keep a NaN, and
``x ** 0.5`` is a square root (numpy's power takes that path; both are correctly rounded).
"""

from __future__ import annotations

import math

import numpy as np

from cisim.kernels import _inner, _jit
from cisim.numeric import PAIRWISE_WORK, pairwise_sum

STEPS = 52.0  # cisim.scenario.STEPS_PER_YEAR


@_inner
def _clip01(v: float) -> float:
    """``np.clip(v, 0, 1)`` (NaN stays NaN)."""
    if v < 0.0:
        return 0.0
    return 1.0 if v > 1.0 else v


@_inner
def _shortfall(value: float, threshold: float) -> float:
    """:func:`cisim.mechanisms.value._shortfall` for one value."""
    if threshold <= 0:
        return 0.0
    return _clip01((threshold - value) / threshold)


def work_size(kinds: int) -> int:
    """Doubles of scratch :func:`value_week` needs for ``kinds`` kinds of value."""
    return kinds + PAIRWISE_WORK


@_jit(no_cfunc_wrapper=True)
def value_week(impact: float, measurement: float, visibility: float, engagement: float,
               overload: float, fatigue_rate: float, exit_rate: float, exit_satisfaction: float,
               exit_commitment: float, active: np.ndarray, trust: np.ndarray,
               influence: np.ndarray, capacity: np.ndarray, seeks: np.ndarray,
               commitment0: np.ndarray, rate: np.ndarray, realised: np.ndarray,
               commitment: np.ndarray, satisfaction: np.ndarray, hazard: np.ndarray,
               work: np.ndarray) -> bool:
    """One week of :meth:`cisim.mechanisms.value.PartnerValue.step` up to the exit draws.

    Writes this week's value rates (``rate``), the realised value, commitment, satisfaction
    and each partner's exit hazard (:func:`cisim.mechanisms.value.exit_hazard`).

    ``work`` is scratch of :func:`work_size` doubles (compiled code here allocates nothing).

    Returns:
        Whether any active partner has a positive exit hazard (then the exit draws are taken).
    """
    N = rate.shape[0]
    K = rate.shape[1]
    row = work[:K]
    pw = work[K:]
    mean_cap = pairwise_sum(capacity, pw) / N
    mean_cap = 1e-9 if mean_cap < 1e-9 else mean_cap  # max(mean, 1e-9), as Python's max
    draw = False
    for i in range(N):
        on = 1.0 if active[i] else 0.0
        own_trust = pairwise_sum(trust[i], pw) / max(1, N - 1)
        infl = influence[i] / 2.0
        cap = capacity[i] / mean_cap
        rate[i, 0] = impact * on
        rate[i, 1] = measurement * own_trust * on
        rate[i, 2] = visibility * math.sqrt(infl if (infl < 1.0 or infl != infl) else 1.0) * on
        rate[i, 3] = engagement * (cap if (cap < 1.0 or cap != cap) else 1.0) * on
        for k in range(K):
            realised[i, k] += rate[i, k] / STEPS
            row[k] = rate[i, k] * seeks[i, k]
        s = pairwise_sum(row, pw)
        satisfaction[i] = s
        target = commitment0[i] * (0.6 + 0.4 * measurement) + 0.3 * s
        target -= overload
        fatigue = fatigue_rate * (1.0 - measurement) * commitment[i]
        c = commitment[i] + (target - commitment[i] - fatigue) / STEPS
        commitment[i] = _clip01(c)
        h = exit_rate / STEPS * _shortfall(s, exit_satisfaction) * _shortfall(
            commitment[i], exit_commitment)
        hazard[i] = h if (h < 1.0 or h != h) else 1.0
        if active[i] and hazard[i] > 0:
            draw = True
    return draw
