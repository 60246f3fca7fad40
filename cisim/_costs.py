"""Compiled part of :class:`cisim.costs.CostLedger`: a week's coordination time into the ledger.

:func:`ledger_rule` keeps each partner's coordination hours of the week (its hours of
coordination work plus the meeting's hours if it attended), the sum numpy made of the two
arrays when the ledger was read (``burden + hours_per_meeting x attended``, the attendance as
0.0 or 1.0): the same doubles, kept one row a week instead of two arrays. It has no entry of
its own: the recorder's compiled week (:func:`cisim._outcomes.record_week`) calls it, so that
recording a week stays one compiled call.
"""

from __future__ import annotations

import numpy as np

from cisim.kernels import _inner

__all__ = ["ledger_rule"]


@_inner
def ledger_rule(week: int, coordinated: bool, hours_per_meeting: float,
                burden_hours: np.ndarray, attended: np.ndarray, hours: np.ndarray) -> None:
    """Keep a week's coordination hours in row ``week`` of ``hours``, in place.

    ``hours[week, i] = burden_hours[i] + hours_per_meeting x attended[i]`` in a week whose
    coordination time counts (``coordinated``); nothing in another week (its row stays zero)
    or for ``week < 0`` (step 0, which the ledger does not record).
    """
    if week < 0 or not coordinated:
        return
    for i in range(burden_hours.shape[0]):
        hours[week, i] = burden_hours[i] + hours_per_meeting * (1.0 if attended[i] else 0.0)
