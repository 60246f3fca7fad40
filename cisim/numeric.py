"""Small numeric helpers shared by the mechanisms, the world's books and the outcome recorder.

Discounting follows HM Treasury's Green Book (2022); the SROI ratio the SROI guide (Nicholls,
Lawlor, Neitzert & Goodspeed 2012).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numba.extending import register_jitable

from cisim.kernels import pairwise
from cisim.scenario import MIN_MONEY, STEPS_PER_YEAR

__all__ = [
    "discount", "discount_at", "pairwise_rows", "pairwise_sum", "ratio_where", "sroi_ratio",
    "sroi_ratios", "weighted_mean",
]


def discount(step: np.ndarray | float, rate: float) -> np.ndarray | float:
    """Discount factor at a (weekly) step for a yearly rate."""
    return (1.0 + rate) ** (-np.asarray(step, dtype=float) / STEPS_PER_YEAR)


@register_jitable
def discount_at(step: int, rate: float) -> float:
    """:func:`discount` at one step, as a Python float, bit for bit, without numpy's call.

    numpy raises a scalar to a power with the C library's ``pow``, as Python's ``**`` on
    floats does (a positive base: ``rate >= 0``); an array of steps goes through numpy's
    vectorised power, which may differ in the last bit, so a table of factors would not do.
    Compiled code calls it too (the same ``pow``).
    """
    return (1.0 + rate) ** (-float(step) / STEPS_PER_YEAR)


@register_jitable
def sroi_ratio(value_pv: float, investment_pv: float) -> float:
    """SROI ratio; NaN while less than ``MIN_MONEY`` (one cent) has been invested.

    A ratio over a vanishing input (a denormal hour cost times a few hours) would overflow to
    infinity; below one cent no money counts as invested. Compiled code calls it too.
    """
    return value_pv / investment_pv if investment_pv >= MIN_MONEY else math.nan


def sroi_ratios(value_pv: np.ndarray, investment_pv: np.ndarray) -> np.ndarray:
    """:func:`sroi_ratio` of each element (NaN where less than ``MIN_MONEY`` is invested)."""
    return ratio_where(value_pv, investment_pv, investment_pv >= MIN_MONEY)


def ratio_where(num: np.ndarray, den: np.ndarray, defined: np.ndarray) -> np.ndarray:
    """``num / den`` where ``defined``, NaN elsewhere (nothing divided there)."""
    return np.divide(num, den, out=np.full(num.shape, np.nan), where=defined)


def weighted_mean(a: np.ndarray, weights: np.ndarray, axis: int | None = None) -> np.ndarray:
    """``np.average(a, axis=axis, weights=weights)`` for float arrays, without its checks.

    The same operations in the same order as numpy's ``average`` (so the same bits), a tenth
    of its overhead for the small arrays of the partner-level mechanisms, which call it every
    week. The weights must not sum to zero (the callers guard against it).

    Args:
        a: Values; 1-D, or 2-D with ``axis=0``.
        weights: 1-D weights along ``axis`` (or along ``a`` when ``axis`` is None).
        axis: None for the mean of a 1-D ``a``, 0 for the column means of a 2-D ``a``.
    """
    if axis is None:
        return np.multiply(a, weights).sum() / weights.sum()
    w = weights[:, None]
    return np.multiply(a, w).sum(axis) / w.sum(axis)


def pairwise_sum(values: Sequence[float]) -> float:
    """``np.add.reduce`` of a short list of floats, bit for bit, without numpy's call.

    The summation of :func:`cisim.kernels.pairwise` (numpy's pairwise order), run as Python over
    the list rather than compiled over an array, which would cost a conversion; more than 128
    values go to numpy.
    """
    n = len(values)
    if n < 8:  # the kernel's short case (left to right from zero), without its eight lanes
        total = 0.0
        for v in values:
            total += v
        return total
    if n > 128:
        return float(np.add.reduce(np.asarray(values, dtype=float)))
    return _PAIRWISE(values, n)


def pairwise_rows(a: np.ndarray) -> np.ndarray:
    """:func:`pairwise_sum` of each row of a 2-D array, bit for bit, a column at a time.

    The same additions in the same order as :func:`pairwise_sum` of each row's list, run on
    whole columns (so over all the rows at once: what a run recorded week by week, summed
    when it is asked for); rows of more than 128 values go to numpy one by one.
    """
    n = a.shape[1]
    if n > 128:
        return np.array([pairwise_sum(row) for row in a], dtype=float).reshape(a.shape[0])
    if n == 0:
        return np.zeros(a.shape[0])
    return _PAIRWISE([a[:, j] for j in range(n)], n)  # below 8 columns: left to right from 0


#: :func:`cisim.kernels.pairwise` as Python (its compiled form takes arrays only).
_PAIRWISE = getattr(pairwise, "py_func", pairwise)
