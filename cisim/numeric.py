"""Small numeric helpers shared by the mechanisms, the world's books and the outcome recorder.

Discounting follows HM Treasury's Green Book (2022); the SROI ratio the SROI guide (Nicholls,
Lawlor, Neitzert & Goodspeed 2012). :func:`weighted_mean` is numpy's ``average`` without its
checks; :func:`pairwise_sum` is numpy's summation order for the compiled partner-level
functions, so that a rule moved from numpy into numba gives the same doubles (numpy adds a 1-D
float64 array by pairwise summation with eight accumulators, blocks of 128; Higham, *Accuracy
and Stability of Numerical Algorithms*, 2002, section 4.2, on pairwise summation).
"""

from __future__ import annotations

import numpy as np

from cisim.kernels import _inner
from cisim.scenario import STEPS_PER_YEAR

__all__ = ["discount", "pairwise_sum", "sroi_ratio", "weighted_mean"]


def discount(step: np.ndarray | float, rate: float) -> np.ndarray | float:
    """Discount factor at a (weekly) step for a yearly rate."""
    return (1.0 + rate) ** (-np.asarray(step, dtype=float) / STEPS_PER_YEAR)


def sroi_ratio(value_pv: float, investment_pv: float) -> float:
    """SROI ratio; NaN before any money was invested."""
    return value_pv / investment_pv if investment_pv > 0 else float("nan")


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


@_inner
def _block(a: np.ndarray, lo: int, n: int) -> float:
    """The pairwise sum of ``a[lo:lo + n]`` for ``n <= 128`` (a leaf of numpy's tree)."""
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[lo + i]
        return res
    r0 = a[lo]
    r1 = a[lo + 1]
    r2 = a[lo + 2]
    r3 = a[lo + 3]
    r4 = a[lo + 4]
    r5 = a[lo + 5]
    r6 = a[lo + 6]
    r7 = a[lo + 7]
    i = 8
    while i < n - (n % 8):
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


#: Length of the scratch array :func:`pairwise_sum` needs (64 open halvings of four numbers).
PAIRWISE_WORK = 256


@_inner
def pairwise_sum(a: np.ndarray, work: np.ndarray) -> float:
    """``a.sum()`` of a 1-D float64 array, bit for bit as numpy adds it (compiled code only).

    ``work`` is scratch of at least :data:`PAIRWISE_WORK` doubles (used only for more than
    128 elements): compiled code here allocates nothing, since numba's allocation adds much
    to the first compile (benchmarks/README.md, start-up).

    numpy halves an array of more than 128 elements (the first half rounded down to a multiple
    of eight) until the pieces have at most 128, adds each piece with eight accumulators and
    the halves' sums in pairs: here without recursion (numba caches no recursive function),
    walking the halves left to right and adding a pair as soon as both its sums are known.
    """
    n = a.shape[0]
    if n <= 128:
        return 0.0 + _block(a, 0, n)
    # Each open node of the tree: its start, its length (exact in doubles), whether its left
    # half is done, and that half's sum. 64 halvings are more than any array can need.
    lo_of = work[0:64]
    n_of = work[64:128]
    left = work[128:192]
    done = work[192:256]
    depth = 0
    lo_of[0] = 0
    n_of[0] = n
    value = 0.0
    descend = True
    while True:
        if descend:
            m = int(n_of[depth])
            if m <= 128:
                value = _block(a, int(lo_of[depth]), m)
                descend = False
            else:
                half = m // 2
                half -= half % 8
                done[depth] = 0.0
                lo_of[depth + 1] = lo_of[depth]
                n_of[depth + 1] = half
                depth += 1
                continue
        # ``value`` is the sum of node ``depth``: hand it to its parent
        if depth == 0:
            return 0.0 + value
        depth -= 1
        if done[depth] == 0.0:  # the left half: now the right one
            done[depth] = 1.0
            left[depth] = value
            m = int(n_of[depth])
            half = m // 2
            half -= half % 8
            lo_of[depth + 1] = lo_of[depth] + half
            n_of[depth + 1] = m - half
            depth += 1
            descend = True
        else:
            value = left[depth] + value
