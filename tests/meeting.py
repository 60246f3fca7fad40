"""A meeting alone, through the communication mechanism's compiled week (for tests).

The week with everyone in ``attending`` present (attendance and commitment 1, whose draws
always fall below 1), no decay and no recovery (``keep`` and ``recovery`` 1, which change no
value): what is left of it is the meeting.
"""

from __future__ import annotations

import numpy as np

from cisim.mechanisms._communication import communication_week, meeting_params, meeting_streams


def meeting(seed: np.uint64, step: int, attending: np.ndarray, trust: np.ndarray,
            damage: np.ndarray, position: np.ndarray, p_good: float, distance_penalty: float,
            gain: float, loss: float, damage_jump: float, rule: str = "pant_yu",
            negativity: float = 3.0, contact_prob: float = 1.0,
            contacted: np.ndarray | None = None) -> tuple[float, float]:
    """A meeting of ``attending``, each pair meeting with chance ``contact_prob`` (1: every pair).

    The chance is ``contact_prob`` up to one ulp: the week takes each attendee's contacts,
    ``contact_prob x (n_att - 1)``, over ``n_att - 1`` (exactly 1 when ``contact_prob`` is 1).
    ``trust`` and ``damage`` are updated in place; ``contacted`` (a new array if None) is
    cleared first, as every week clears it, and then holds this meeting's pairs.

    Returns:
        ``(interactions, good interactions)``.
    """
    n = attending.shape[0]
    # each attendee seeks contact_prob x (n_att - 1) contacts: a pair meets with that over n_att - 1
    contacts = contact_prob * max(1, int(np.count_nonzero(attending)) - 1)
    if contacted is None:
        contacted = np.zeros((n, n), dtype=np.bool_)
    params = meeting_params(1.0, distance_penalty, gain, loss, damage_jump, rule, negativity)
    return communication_week(int(step), meeting_streams(seed), params, attending, np.ones(n),
                              float(contacts), float(p_good), np.zeros(n, dtype=np.bool_),
                              trust, damage, contacted, position, True, 1.0, 1.0)
