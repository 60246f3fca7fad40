"""Compiled part of :class:`cisim.outcomes.Recorder`: a week's arrays copied into the record.

:func:`record_week` does in one call what the recorder did with four numpy calls a week (a
slice of the population's counts, the partners' realised value and their satisfaction as
float32): the same doubles, since the satisfaction of a partner is its four value rates
weighted by what it seeks, added left to right from zero as ``np.add.reduce`` adds a row of
fewer than eight, and numpy's cast to float32 rounds to nearest as the compiled one does.
Compiled at LLVM level 1 (:func:`cisim.kernels._jit`): every compiled function adds to numba's
first compile. It pays for its compile, if narrowly: against the numpy calls it replaced,
``Recorder.record`` at 2,000 beneficiaries costs ~3-5 ms a run less (two sets of 16 alternating
runs in one process: 10.6 -> 7.6 and 13.1 -> 7.7 ms), for ~0.17-0.21 s of cold compile (the
rule of thumb asks ~3.5 ms for that).
"""

from __future__ import annotations

import numpy as np

from cisim.kernels import _jit

__all__ = ["record_week"]


@_jit(opt=1, no_cfunc_wrapper=True)
def record_week(aggregates: np.ndarray, counts: np.ndarray, realised: np.ndarray,
                value_rate: np.ndarray, seeks: np.ndarray, realised_row: np.ndarray,
                satisfaction_row: np.ndarray) -> None:
    """Copy a week into the record, in place.

    ``counts[w, j] = aggregates[w, j]`` for the columns of ``counts``; ``realised_row`` the
    realised value (float32); ``satisfaction_row[i]`` the sum over the kinds of value of
    ``value_rate[i, k] * seeks[i, k]``, ``np.add.reduce(value_rate * seeks, axis=1)`` bit for
    bit, as float32.
    """
    for w in range(counts.shape[0]):
        for j in range(counts.shape[1]):
            counts[w, j] = aggregates[w, j]
    for i in range(realised.shape[0]):
        s = 0.0
        for k in range(realised.shape[1]):
            realised_row[i, k] = realised[i, k]
            s += value_rate[i, k] * seeks[i, k]
        satisfaction_row[i] = s
