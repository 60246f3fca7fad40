"""Small numeric helpers shared by the mechanisms and the outcome recorder."""

from __future__ import annotations

import numpy as np

__all__ = ["weighted_mean"]


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
