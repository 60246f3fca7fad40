"""Compiled part of :class:`cisim.outcomes.Recorder`: a week copied into the record.

:func:`record_week` keeps what the recorder keeps of a week: the factual world's figures (the whole
:attr:`cisim.world.World.figures`, read there in place rather than as 22 attributes), its readiness
and number of active partners, the population's counts, the partners' realised value and their
satisfaction as float32, and the cost ledger's row of each partner's coordination hours
(:class:`cisim.costs.CostLedger`). The same doubles: the number of active partners is
``np.count_nonzero`` as a float; the satisfaction of a partner is its four value rates weighted by
what it seeks, added left to right from zero as ``np.add.reduce`` adds a row of fewer than eight,
and numpy's cast to float32 rounds to nearest as the compiled one does; a partner's hours are
``burden + hours_per_meeting x attended`` as numpy added the two arrays (the attendance as 0.0 or
1.0). The ledger's copy is part of this rule rather than a rule of its own in a ``_costs.py``: as a
separate compiled function it cost ~0.25 s more of first compile for a loop over a few partners.
Called from Python by the recorder. Compiled at LLVM level 1 (:func:`cisim.kernels._jit`): every
compiled function adds to numba's first compile.
"""

from __future__ import annotations

import numpy as np

from cisim.kernels import _jit

__all__ = ["record_week"]


@_jit(opt=1, no_cfunc_wrapper=True)
def record_week(step: int, readiness: float, figures: np.ndarray, active: np.ndarray,
                aggregates: np.ndarray, realised: np.ndarray, value_rate: np.ndarray,
                seeks: np.ndarray, kept: np.ndarray, counts: np.ndarray,
                realised_rows: np.ndarray, satisfaction_rows: np.ndarray, week: int,
                coordinated: bool, hours_per_meeting: float, burden_hours: np.ndarray,
                attended: np.ndarray, hours: np.ndarray) -> None:
    """Copy the week after ``step`` into row ``step`` of the record, in place.

    ``kept[step]``: every figure of ``figures`` (the world's, all of
    :data:`cisim.world.FIGURES`, read only), then ``readiness``, then the number of partners
    ``active``; ``counts[step, w, j] = aggregates[w, j]`` for the columns of ``counts``;
    ``realised_rows[step]`` the realised value (float32); ``satisfaction_rows[step, i]`` the
    sum over the kinds of value of ``value_rate[i, k] * seeks[i, k]``,
    ``np.add.reduce(value_rate * seeks, axis=1)`` bit for bit, as float32. The ledger's row
    ``week``: ``hours[week, i] = burden_hours[i] + hours_per_meeting x attended[i]`` in a week
    whose coordination time counts (``coordinated``); nothing in another week (its row stays
    zero) or for ``week < 0`` (step 0, which the ledger does not record).
    """
    nf = figures.shape[0]
    for j in range(nf):
        kept[step, j] = figures[j]
    kept[step, nf] = readiness
    n_active = 0
    for i in range(active.shape[0]):
        if active[i]:
            n_active += 1
    kept[step, nf + 1] = n_active
    for w in range(counts.shape[1]):
        for j in range(counts.shape[2]):
            counts[step, w, j] = aggregates[w, j]
    for i in range(realised.shape[0]):
        s = 0.0
        for k in range(realised.shape[1]):
            realised_rows[step, i, k] = realised[i, k]
            s += value_rate[i, k] * seeks[i, k]
        satisfaction_rows[step, i] = s
    if week >= 0 and coordinated:
        for i in range(burden_hours.shape[0]):
            hours[week, i] = burden_hours[i] + hours_per_meeting * (1.0 if attended[i] else 0.0)
