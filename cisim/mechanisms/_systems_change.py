"""Compiled rule of :mod:`cisim.mechanisms.systems_change`: a week of services, practices, policy.

:func:`systems_change_week` is the week of
:meth:`cisim.mechanisms.systems_change.SystemsChange.step` over the world's figures
(:attr:`cisim.world.World.figures`, read and written in place by the indices ``F_*``): the growth,
erosion and fading of changed services and practices, the fading and the weekly chance of a policy
win, and the multipliers the population reads. The same Python float operations in the same order,
so the same doubles. The run's constants come in one array laid out by the ``P_*`` columns
(:func:`systems_change_params`); the phase's emphasis and the week's policy draw come from Python
(the phase model, the run's table of draws); the champion's pull the rule works out from the
partners' arrays. :func:`systems_change_week` is called by the mechanism's step and by the
compiled week (:mod:`cisim.mechanisms._week`). The rule and its sources are described in
:mod:`cisim.mechanisms.systems_change`.
"""

from __future__ import annotations

import numpy as np

from cisim.kernels import _inner, _jit, _rule
from cisim.scenario import STEPS_PER_YEAR, Scenario
from cisim.world import (
    F_AGREEMENT,
    F_ALIGNMENT,
    F_BACKBONE_CAPACITY,
    F_BARRIER_MULTIPLIER,
    F_COORDINATION,
    F_EFFECT_MULTIPLIER,
    F_MEASUREMENT,
    F_POLICY_CHANGE,
    F_PRACTICES_CHANGE,
    F_SERVICES_CHANGE,
    F_STRUCTURAL_MULTIPLIER,
)

__all__ = ["multipliers_rule", "systems_change_params", "systems_change_week"]

# Columns of the run's constants (systems_change_params): rates are per week.
(P_RATE, P_DECAY, P_FADES, P_FADE, P_POLICY_FADE, P_BACKBONE, P_ADVOCACY, P_SELF_COORDINATION,
 P_POLICY_RATE, P_POLICY_STEP, P_GAIN, P_REDUCTION, P_EQUITY, P_N) = range(14)


def systems_change_params(sc: Scenario) -> np.ndarray:
    """The run's constants of :func:`systems_change_week`, by the ``P_*`` columns.

    The rates per year divided by the weeks of a year here, as the mechanism's Python
    divided them before multiplying (the same doubles); flags as 1.0 or 0.0.
    """
    dyn = sc.dynamics
    params = np.zeros(P_N)
    params[P_RATE] = dyn.systems_change_rate_per_year / STEPS_PER_YEAR
    params[P_DECAY] = dyn.systems_change_decay_per_year / STEPS_PER_YEAR
    params[P_FADES] = 1.0 if dyn.persistence == "fade" else 0.0
    params[P_FADE] = dyn.fade_rate_per_year / STEPS_PER_YEAR
    params[P_POLICY_FADE] = dyn.policy_fade_rate_per_year / STEPS_PER_YEAR
    params[P_BACKBONE] = 1.0 if sc.backbone.present else 0.0
    params[P_ADVOCACY] = sc.backbone.advocacy
    params[P_SELF_COORDINATION] = dyn.self_coordination
    params[P_POLICY_RATE] = dyn.policy_change_rate_per_year / STEPS_PER_YEAR
    params[P_POLICY_STEP] = dyn.policy_step
    params[P_GAIN] = dyn.practice_effectiveness_gain
    params[P_REDUCTION] = dyn.policy_barrier_reduction
    params[P_EQUITY] = sc.engagement.equity_focus
    return params


@_jit(opt=1, no_cfunc_wrapper=True)
def systems_change_week(figures: np.ndarray, params: np.ndarray, emph: float, draw: float,
                        active: np.ndarray, influence: np.ndarray) -> bool:
    """One week of systems change in a world that coordinates (not isolated), in place.

    Services (driven by alignment x agreement) and practices (alignment x measurement) grow
    at ``P_RATE x emph`` toward 1 and erode at ``P_DECAY`` without the drive; with
    ``P_FADES`` both, and policy, fade at their rates times the missing coordination. A
    policy win (policy moves ``P_POLICY_STEP`` of the way to 1) when the week's chance
    ``P_POLICY_RATE x emph x advocacy x practices x agreement x champion`` is positive and
    ``draw`` is below it; the champion's pull is ``min(1, max influence / 4)`` of the
    ``active`` partners (0 with nobody). Then the multipliers on help, barriers and
    structural barriers (:func:`cisim.mechanisms.systems_change.set_multipliers`).

    Reads the figures alignment, agreement, measurement, coordination, backbone capacity,
    services, practices and policy change; writes services, practices and policy change and
    the effect, barrier and structural multipliers.

    Returns:
        Whether policy was won this week (the caller logs it).
    """
    rate = params[P_RATE] * emph
    decay = params[P_DECAY]
    alignment = figures[F_ALIGNMENT]
    agreement = figures[F_AGREEMENT]
    drive_s = alignment * agreement
    drive_p = alignment * figures[F_MEASUREMENT]
    services = figures[F_SERVICES_CHANGE]
    practices = figures[F_PRACTICES_CHANGE]
    policy = figures[F_POLICY_CHANGE]
    services += rate * drive_s * (1.0 - services) - decay * (1.0 - drive_s) * services
    practices += rate * drive_p * (1.0 - practices) - decay * (1.0 - drive_p) * practices
    if params[P_FADES] != 0.0:
        missing = 1.0 - figures[F_COORDINATION]
        fade = params[P_FADE] * missing
        services -= fade * services
        practices -= fade * practices
        policy -= params[P_POLICY_FADE] * missing * policy
    figures[F_SERVICES_CHANGE] = services
    figures[F_PRACTICES_CHANGE] = practices
    if params[P_BACKBONE] != 0.0:
        advocacy = params[P_ADVOCACY] * figures[F_BACKBONE_CAPACITY]
    else:
        advocacy = params[P_ADVOCACY] * params[P_SELF_COORDINATION]
    chance = params[P_POLICY_RATE] * emph * advocacy * practices * agreement * _champion(
        active, influence)
    # a draw is never below a chance of zero (nor NaN)
    won = chance > 0.0 and draw < chance
    if won:
        policy += params[P_POLICY_STEP] * (1.0 - policy)
    figures[F_POLICY_CHANGE] = policy
    multipliers_rule(figures, params[P_GAIN], params[P_REDUCTION], params[P_EQUITY])
    return won


@_rule
def multipliers_rule(figures: np.ndarray, gain: float, reduction: float, equity: float) -> None:
    """What changed systems do to services and barriers, into the figures, in place.

    From the figures ``services_change``, ``practices_change`` and ``policy_change``: the
    ``effect_multiplier`` on the help services give, ``1 + gain (services + practices) / 2``
    (``gain`` the practices' effectiveness gain); the ``barrier_multiplier`` on everyone's
    barriers, ``1 - reduction policy``; the ``structural_multiplier`` on structural barriers,
    ``1 - reduction policy equity`` (policy as far as an equity focus aims it).
    """
    services = figures[F_SERVICES_CHANGE]
    practices = figures[F_PRACTICES_CHANGE]
    policy = figures[F_POLICY_CHANGE]
    figures[F_EFFECT_MULTIPLIER] = 1.0 + gain * 0.5 * (services + practices)
    figures[F_BARRIER_MULTIPLIER] = 1.0 - reduction * policy
    figures[F_STRUCTURAL_MULTIPLIER] = 1.0 - reduction * policy * equity


@_inner
def _champion(active: np.ndarray, influence: np.ndarray) -> float:
    """``min(1, max influence / 4)`` of the active partners, 0 with nobody.

    The maximum as ``np.max``'s (NaN if any is NaN), the minimum as Python's ``min(1.0, v)``
    (``v`` only if below 1: NaN gives 1).
    """
    best = 0.0
    anyone = False
    for i in range(active.shape[0]):
        if active[i]:
            v = influence[i]
            if not anyone or v > best or v != v:  # (once NaN, nothing is above it)
                best = v
            anyone = True
    if not anyone:
        return 0.0
    pull = best / 4.0
    return pull if pull < 1.0 else 1.0
