"""Small numeric helpers shared by the mechanisms, the world's books and the outcome recorder.

Discounting follows HM Treasury's Green Book (2022); the SROI ratio the SROI guide (Nicholls,
Lawlor, Neitzert & Goodspeed 2012).
"""

from __future__ import annotations

import numpy as np

from cisim.scenario import MIN_MONEY, STEPS_PER_YEAR

__all__ = ["discount", "sroi_ratio", "weighted_mean"]


def discount(step: np.ndarray | float, rate: float) -> np.ndarray | float:
    """Discount factor at a (weekly) step for a yearly rate."""
    return (1.0 + rate) ** (-np.asarray(step, dtype=float) / STEPS_PER_YEAR)


def sroi_ratio(value_pv: float, investment_pv: float) -> float:
    """SROI ratio; NaN while less than ``MIN_MONEY`` (one cent) has been invested.

    A ratio over a vanishing input (a denormal hour cost times a few hours) would overflow to
    infinity; below one cent no money counts as invested.
    """
    return value_pv / investment_pv if investment_pv >= MIN_MONEY else float("nan")


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
