"""Compiled rule of :mod:`cisim.mechanisms.backbone`: the backbone's capacities and the burden.

:func:`backbone_rule` is the backbone's week over the world's figures (read and written in place
by the indices ``F_*``): each role's saturation from its funded staff and the active partners,
the capacities that follow, and each partner's coordination hours. The same Python float
operations in the same order, so the same doubles. The compiled week calls it every week; the
mechanism runs it as Python (:class:`cisim.mechanisms.backbone.BackboneSupport` asks only when
its inputs changed), one copy of the rule. The rule and its sources are described in
:mod:`cisim.mechanisms.backbone`.
"""

from __future__ import annotations

import numpy as np

from cisim.kernels import _rule
from cisim.scenario import Scenario
from cisim.world import (
    F_ABSORBED,
    F_BACKBONE_CAPACITY,
    F_BACKBONE_FUNDED,
    F_COORDINATION,
    F_DATA_CAPACITY,
    F_FACILITATION,
)

__all__ = ["backbone_params", "backbone_rule"]

# Columns of the run's constants (backbone_params).
(B_PRESENT, B_PER_FTE, B_MANAGER, B_DATA, B_FACILITATOR, B_SKILL, B_SELF_COORDINATION, B_HOURS,
 B_N) = range(9)


def backbone_params(sc: Scenario) -> np.ndarray:
    """The run's constants of :func:`backbone_rule`, by the ``B_*`` columns."""
    dyn = sc.dynamics
    staff = sc.backbone.staff
    params = np.zeros(B_N)
    params[B_PRESENT] = 1.0 if sc.backbone.present else 0.0
    params[B_PER_FTE] = dyn.partners_per_backbone_fte
    params[B_MANAGER] = staff.project_manager
    params[B_DATA] = staff.data_manager
    params[B_FACILITATOR] = staff.facilitator
    params[B_SKILL] = sc.backbone.skill
    params[B_SELF_COORDINATION] = dyn.self_coordination
    params[B_HOURS] = dyn.coordination_hours_per_partner
    return params


@_rule
def backbone_rule(figures: np.ndarray, params: np.ndarray, isolated: bool, active: np.ndarray,
                  burden_hours: np.ndarray) -> None:
    """One week of the backbone in a world, in place.

    In an isolated world every capacity is 0 and nobody carries coordination hours. With a
    backbone each role's saturation is ``min(1, fte x funded / required)`` (NaN stays NaN),
    ``required`` being ``max(1, active partners) / partners_per_backbone_fte`` and ``funded``
    ``figures[F_BACKBONE_FUNDED]``: coordination is the project manager's, data capacity the
    data manager's, facilitation the facilitator's times skill, and the backbone's capacity
    (the share of the burden it absorbs) their mean. Without one, coordination and
    facilitation are ``self_coordination`` and the rest 0. Each active partner then carries
    ``coordination_hours_per_partner x (1 - absorbed)`` hours (0 for the others, as the
    product of the flag and the hours). Writes the figures facilitation, coordination,
    data capacity, backbone capacity and absorbed, and ``burden_hours``.
    """
    n = burden_hours.shape[0]
    if isolated:
        figures[F_FACILITATION] = 0.0
        figures[F_COORDINATION] = 0.0
        figures[F_DATA_CAPACITY] = 0.0
        figures[F_BACKBONE_CAPACITY] = 0.0
        figures[F_ABSORBED] = 0.0
        for i in range(n):
            burden_hours[i] = 0.0
        return
    if params[B_PRESENT] != 0.0:
        count = 0
        for i in range(n):
            if active[i]:
                count += 1
        required = (count if count > 1 else 1) / params[B_PER_FTE]
        funded = figures[F_BACKBONE_FUNDED]
        manager = params[B_MANAGER] * funded / required
        manager = 1.0 if manager > 1.0 else manager  # np.minimum(1.0, v): NaN stays
        data = params[B_DATA] * funded / required
        data = 1.0 if data > 1.0 else data
        facilitator = params[B_FACILITATOR] * funded / required
        facilitator = 1.0 if facilitator > 1.0 else facilitator
        figures[F_COORDINATION] = manager
        figures[F_DATA_CAPACITY] = data
        figures[F_FACILITATION] = facilitator * params[B_SKILL]
        # np.mean of the three: added left to right from zero, over their number
        capacity = (((0.0 + manager) + data) + facilitator) / 3
    else:
        figures[F_COORDINATION] = params[B_SELF_COORDINATION]
        figures[F_FACILITATION] = params[B_SELF_COORDINATION]
        figures[F_DATA_CAPACITY] = 0.0
        capacity = 0.0
    figures[F_BACKBONE_CAPACITY] = capacity
    figures[F_ABSORBED] = capacity
    hours = params[B_HOURS] * (1.0 - capacity)
    for i in range(n):
        burden_hours[i] = (1.0 if active[i] else 0.0) * hours
