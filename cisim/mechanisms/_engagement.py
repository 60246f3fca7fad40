"""Compiled rule of :mod:`cisim.mechanisms.engagement`: a week of engagement and assumed needs.

:func:`engagement_week` is the arithmetic of
:meth:`cisim.mechanisms.engagement.BeneficiaryEngagement.step` with Python's operations in
Python's order (and numpy's element by element on the assumed needs), so the same doubles,
compiled as its own entry from Python (inlined into a thin entry, numba's IR inliner makes a
rule's first compile dearer, as measured for the activities' week). The log of the Re-design
stays in Python. The rule and its sources are described in :mod:`cisim.mechanisms.engagement`.
"""

from __future__ import annotations

import numpy as np

from cisim.kernels import _jit
from cisim.world import F_COORDINATION, F_ENGAGEMENT

__all__ = ["engagement_params", "engagement_week"]

#: Columns of the run's constants (:func:`engagement_params`).
(E_RATE, E_INTENSITY, E_CARRIED, E_INITIAL, E_FADE_RATE) = range(5)


def engagement_params(rate: float, intensity: float, fade: bool, initial: float,
                      fade_rate: float) -> np.ndarray:
    """The run's constants in one array (columns ``E_*``), as :func:`engagement_week` takes them.

    Args:
        rate: The engagement's growth a week (``engagement_rate_per_year / 52``).
        intensity: The design's engagement intensity.
        fade: Whether gains fade without coordination (``persistence = "fade"``).
        initial: The initial engagement level (what it fades back to).
        fade_rate: The fade a week at no coordination (``fade_rate_per_year / 52``).
    """
    return np.array([rate, intensity, 1.0 if fade else 0.0, initial, fade_rate])


@_jit(opt=1, no_cfunc_wrapper=True)
def engagement_week(params: np.ndarray, figures: np.ndarray, emphasis: float, redesign: bool,
                    true_need: np.ndarray, assumed_need: np.ndarray) -> None:
    """One week of a world's engagement and of the needs its partners assume, in place.

    Engagement ``E`` (``figures[F_ENGAGEMENT]``) grows by ``rate intensity emphasis carried
    (1 - E)``, ``carried`` the coordination (``figures[F_COORDINATION]``) when gains fade and
    1 otherwise; when they fade, an ``E`` above its initial level then falls back by
    ``fade_rate (1 - coordination)`` of the gap. The assumed needs move ``min(1, learn)`` of
    the way to ``true_need``, ``learn`` being ``rate E emphasis``, or ``E`` at the start of
    Re-design (``redesign``). ``params`` are the run's (:func:`engagement_params`).
    """
    rate = params[E_RATE]
    fade_mode = params[E_CARRIED] != 0.0
    coordination = figures[F_COORDINATION]
    carried = coordination if fade_mode else 1.0
    engagement = figures[F_ENGAGEMENT]
    engagement += rate * params[E_INTENSITY] * emphasis * carried * (1.0 - engagement)
    if fade_mode:
        start = params[E_INITIAL]
        fade = params[E_FADE_RATE] * (1.0 - coordination)
        if engagement > start:
            engagement -= fade * (engagement - start)
    figures[F_ENGAGEMENT] = engagement
    learn = engagement if redesign else rate * engagement * emphasis
    learn = learn if learn < 1.0 else 1.0  # min(1.0, learn): NaN gives 1, as Python's min
    for a in range(assumed_need.shape[0]):
        assumed_need[a] += learn * (true_need[a] - assumed_need[a])
