"""The week of the communication mechanism, compiled: the meeting, the decay, the recovery.

:func:`communication_week` runs the mechanism's week in one compiled call (in numpy it was half
a dozen calls every week and a few dozen more at a meeting): who attends, which pairs of
attendees interact, whether each interaction is good and how it moves their trust and trust
ceiling, then the recovery of the ceiling and the decay of trust where there was no contact.
The mean trust is :func:`mean_trust` in the compiled week (:mod:`cisim.mechanisms._week`) and
numpy in the mechanism's own step (a compiled entry for it alone cost ~0.4 s of first compile
for ~2 ms a run; ``tests/test_week_kernel.py`` holds the two equal). A meeting costs a few
microseconds; in numpy it took a few dozen calls on arrays of a few hundred pairs, the largest
part of a run's time at teaching sizes. The asymmetric update follows Pant & Yu (2025) and
Slovic (1993), with experience smoothing after Jonker & Treur (1999): :func:`trust_update` is
the rule over arrays, and the loop applies the same operations to each pair
(``tests/test_trust_rule.py`` checks the two agree bit for bit). Used by
:mod:`cisim.mechanisms.communication`.
"""

from __future__ import annotations

import math

import numpy as np

from cisim.kernels import (
    S_ATTEND,
    S_PAIR,
    S_QUALITY,
    _inner,
    _jit,
    _mix,
    _rule,
    _step_key,
    _u01k,
    pairwise_long,
)
from cisim.mechanisms._agenda import distance2
from cisim.mechanisms._measurement import measured_win_of
from cisim.rng import stream_base
from cisim.scenario import Scenario
from cisim.world import (
    BACKBONE_NEUTRALITY,
    F_ABSORBED,
    F_FACILITATION,
    F_MEASURED_BASELINE,
    F_MEASURED_RATE,
)

__all__ = ["TRUST_RULES", "communication_week", "good_chance_params", "good_chance_rule",
           "mean_trust", "meeting_params", "meeting_streams", "rule_code", "trust_update"]


#: The trust rules (``dynamics.trust_rule``) by their code in the compiled loop.
TRUST_RULES = {"pant_yu": 0, "smoothing": 1}
_PANT_YU = float(TRUST_RULES["pant_yu"])  # (its code as the parameters' array holds it)


def rule_code(rule: str) -> int:
    """The code of trust rule ``rule`` in the compiled loop.

    Raises:
        ValueError: ``rule`` is not a trust rule.
    """
    code = TRUST_RULES.get(rule)
    if code is None:
        raise ValueError(f"unknown trust rule {rule!r}")
    return code


#: Columns of a meeting's parameters (:func:`meeting_params`), as the compiled week takes them.
P_ATTENDANCE, P_DISTANCE, P_GAIN, P_LOSS, P_DAMAGE, P_RULE, P_NEGATIVITY = range(7)


def meeting_params(attendance: float, distance_penalty: float, gain: float, loss: float,
                   damage_jump: float, rule: str, negativity: float) -> np.ndarray:
    """A meeting's parameters in one array, as :func:`communication_week` takes them.

    (One array rather than seven numbers: each argument of a compiled call costs its
    dispatcher time, and these stay the same through a run.)

    Raises:
        ValueError: ``rule`` is not a trust rule.
    """
    return np.array([attendance, distance_penalty, gain, loss, damage_jump, rule_code(rule),
                     negativity], dtype=np.float64)


def meeting_streams(seed: np.uint64) -> np.ndarray:
    """The stream bases of a meeting's draws for the run's seed, as uint64.

    ``[attendance, pairs, quality]``: :func:`cisim.rng.stream_base` of each stream, from which
    :func:`communication_week` works out each meeting's keys.
    """
    return np.array([stream_base(int(seed), s) for s in (S_ATTEND, S_PAIR, S_QUALITY)],
                    dtype=np.uint64)


#: Columns of the good chance's constants (:func:`good_chance_params`).
G_BASE, G_FACILITATION, G_BACKBONE, G_NON_NEUTRAL, G_OVERLOAD, G_SMALL_WIN, G_N = range(7)


def good_chance_params(sc: Scenario) -> np.ndarray:
    """The run's constants of :func:`good_chance_rule`, by the ``G_*`` columns.

    The non-neutral backbone's penalty is ``non_neutral_penalty x (1 - neutrality)``,
    multiplied here as the mechanism multiplied it (the same double).
    """
    dyn = sc.dynamics
    params = np.zeros(G_N)
    params[G_BASE] = dyn.good_experience_base
    params[G_FACILITATION] = dyn.good_experience_facilitation
    if sc.backbone.present:
        neutrality = sc.backbone.neutrality
        if neutrality is None:
            neutrality = BACKBONE_NEUTRALITY[sc.backbone.type]
        params[G_BACKBONE] = 1.0
        params[G_NON_NEUTRAL] = dyn.non_neutral_penalty * (1.0 - neutrality)
    params[G_OVERLOAD] = dyn.overload_friction
    params[G_SMALL_WIN] = dyn.small_win_trust
    return params


@_rule
def good_chance_rule(figures: np.ndarray, params: np.ndarray) -> float:
    """The chance that an interaction is good, before agenda distance (a world's figures).

    ``base + facilitation_gain x facilitation``, less the non-neutral backbone's penalty
    (with a backbone), less ``overload_friction x (1 - absorbed)``, plus ``small_win_trust x``
    the measured win (:func:`cisim.mechanisms._measurement.measured_win_of`), in that order.
    """
    p = params[G_BASE] + params[G_FACILITATION] * figures[F_FACILITATION]
    if params[G_BACKBONE] != 0.0:
        p -= params[G_NON_NEUTRAL]
    p -= params[G_OVERLOAD] * (1.0 - figures[F_ABSORBED])
    p += params[G_SMALL_WIN] * measured_win_of(figures[F_MEASURED_RATE],
                                               figures[F_MEASURED_BASELINE])
    return p


@_jit(opt=1, no_cfunc_wrapper=True)
def communication_week(step: int, streams: np.ndarray, params: np.ndarray, active: np.ndarray,
                       commitment: np.ndarray, contacts: float, p_good_base: float,
                       attending: np.ndarray, trust: np.ndarray, damage: np.ndarray,
                       contacted: np.ndarray, position: np.ndarray, meets: bool, keep: float,
                       recovery: float) -> tuple[float, float]:
    """A week of communication, in place: the meeting, the recovery of the ceiling, the decay.

    ``streams`` and ``params`` are :func:`meeting_streams` and :func:`meeting_params`;
    ``p_good_base`` is the chance of a good interaction before agenda distance; ``contacts``
    the number of contacts each attendee seeks (``contacts_per_meeting`` x emphasis).

    Every pair starts the week uncontacted. With ``meets`` the week holds a meeting: an
    active partner attends when its draw of stream ``S_ATTEND`` (index: partner) is below
    ``attendance x commitment`` (``attending`` is set to who attended; without ``meets``,
    nobody). With two or more attendees, each pair of attendees ``i < j`` meets with
    probability ``min(1, contacts / (n - 1))`` for ``n`` attendees (the draw of stream
    ``S_PAIR`` at index ``i N + j``); the interaction is good with probability ``p_good_base -
    distance_penalty x`` their agenda distance, clipped to [0, 1] (partners far apart clash
    more; the draw of ``S_QUALITY`` at the same index). Trust then moves by
    :func:`trust_update`, and a bad interaction lowers the trust ceiling ``1 - damage`` by
    ``damage_jump``: trust is slow to build and fast to lose. Then the ceiling's damage is
    multiplied by ``recovery`` (skipped at 1.0, which changes no value) and trust by ``keep``
    wherever a pair had no contact.

    The same draws and the same doubles as the numpy the mechanism ran before
    (``uniforms(...) < attendance x commitment``, the pairs' ``u01 < p``, compared here as
    integers with :func:`cisim.rng.threshold`, which decides as the floats do); the streams'
    keys at ``step`` are worked out from their bases, as :func:`cisim.rng.key` does (uint64
    wraps as its ``& 2**64 - 1``). Every pair is independent (its draws depend only on its
    indices, and it reads and writes only its own cells), so one pass in the order ``i < j``
    gives what the whole meeting at once would. ``tests/test_communication_kernel.py`` holds
    it to a plain-Python week.

    Returns:
        ``(interactions, good interactions)``.
    """
    N = attending.shape[0]
    for i in range(N):
        for j in range(N):
            contacted[i, j] = False
    key_attend = _step_key(streams[0], step)
    attendance = params[P_ATTENDANCE]
    n_att = 0
    for i in range(N):
        # uniforms(...) < attendance * commitment, where active (the same doubles)
        here = meets and active[i] and _u01k(key_attend, i) < attendance * commitment[i]
        attending[i] = here
        if here:
            n_att += 1
    interactions = 0
    good_ones = 0
    if n_att >= 2:
        key_pair = _step_key(streams[1], step)
        key_quality = _step_key(streams[2], step)
        distance_penalty = params[P_DISTANCE]
        gain = params[P_GAIN]
        loss = params[P_LOSS]
        damage_jump = params[P_DAMAGE]
        pant_yu = params[P_RULE] == _PANT_YU
        negativity = params[P_NEGATIVITY]
        # threshold(min(1.0, contacts / (n_att - 1))), Python's min/max order kept
        p = contacts / (n_att - 1)
        p = p if p < 1.0 else 1.0
        p = -1.0 if p < -1.0 else p  # (threshold's upper clip at 2 cannot bind below 1)
        tc = math.ceil(p * 9007199254740992.0)
        t_contact = np.uint64(tc if tc > 0 else 0)
        for i in range(N):
            if not attending[i]:
                continue
            for j in range(i + 1, N):
                if not attending[j]:
                    continue
                index = np.uint64(i * N + j)
                if (_mix(key_pair ^ index) >> np.uint64(11)) >= t_contact:
                    continue
                interactions += 1
                p_good = p_good_base - distance_penalty * math.sqrt(distance2(position, i, j))
                p_good = (p_good if p_good > 0.0 else 0.0) if p_good < 1.0 else 1.0
                contacted[i, j] = True
                contacted[j, i] = True
                good = _u01k(key_quality, i * N + j) < p_good
                after = _trust_after(trust[i, j], damage[i, j], good, pant_yu, gain, loss,
                                     negativity)
                if good:
                    good_ones += 1
                else:
                    dmg = damage[i, j] + damage_jump
                    dmg = dmg if dmg < 1.0 else 1.0
                    damage[i, j] = dmg
                    damage[j, i] = dmg
                trust[i, j] = after
                trust[j, i] = after
    for i in range(N):
        for j in range(N):
            if recovery != 1.0:
                damage[i, j] *= recovery
            if not contacted[i, j]:  # pairs that met keep their trust this week
                trust[i, j] *= keep
    return float(interactions), float(good_ones)


@_inner
def mean_trust(trust: np.ndarray, active: np.ndarray, flat: np.ndarray) -> float:
    """Mean trust between the active partners (0 with fewer than two), as numpy gives it.

    The trust among the ``n`` active partners (the whole matrix when all are, its diagonal 0)
    summed as numpy sums the ``n x n`` matrix (:func:`cisim.kernels.pairwise_long` over its
    elements in order, gathered into ``flat``, N x N doubles of scratch), over ``n (n - 1)``:
    the numpy of :mod:`cisim.mechanisms.communication`'s ``_mean_trust``.
    """
    N = active.shape[0]
    n = 0
    for i in range(N):
        if active[i]:
            for j in range(N):
                if active[j]:
                    flat[n] = trust[i, j]
                    n += 1
    count = 0
    for i in range(N):
        if active[i]:
            count += 1
    if count < 2:
        return 0.0
    return pairwise_long(flat, n) / (count * (count - 1))


@_inner
def _trust_after(trust: float, damage: float, good: bool, pant_yu: bool, gain: float,
                 loss: float, negativity: float) -> float:
    """:func:`trust_update` of one pair (``pant_yu``: that rule, else the smoothing rule)."""
    if good:
        gap = 1.0 - damage - trust
        return trust + gain * (gap if gap > 0.0 else 0.0)
    if pant_yu:
        return trust * (1.0 - loss)
    k = negativity * gain
    return trust - (k if k < trust else trust)  # np.minimum(trust, k)


def trust_update(trust: np.ndarray, damage: np.ndarray, good: np.ndarray, rule: str,
                 gain: float, loss: float, negativity: float) -> np.ndarray:
    """Trust after one interaction each, good or bad, under one of two rules.

    With ceiling ``C = 1 - D`` and ``g = gain``, a good interaction closes ``g`` of the gap to
    the ceiling under both rules (experience smoothing toward a good experience, Jonker &
    Treur 1999): ``gain(T) = g max(0, C - T)``. A bad one removes

    * ``"pant_yu"`` (Pant & Yu 2025): ``loss x T``, a share of the trust there is. The 3:1
      asymmetry of shares holds at every ``T``, but in amounts it reverses at low trust:
      ``loss T < g (1 - T)`` for ``T < g / (g + loss)`` (0.25 at the defaults; at ``T = 0.1``
      a bad interaction costs a third of what a good one brings).
    * ``"smoothing"``: ``min(T, k g)`` with ``k = negativity >= 1``: ``k`` times the largest
      step a good interaction can make, or all the trust left.

    The smoothing rule is asymmetric at every trust level. For every ``T`` in [0, 1] and
    ``D`` in [0, 1]:

    1. ``loss(T) >= min(T, k gain(T))``: a bad interaction removes ``k`` times what a good one
       adds at the same trust, unless there is less trust than that left, and then all of it.
       Proof: ``gain(T) <= g`` because ``C - T <= 1``, so ``k g >= k gain(T)``.
    2. A good interaction followed by a bad one never leaves more trust than before, and
       strictly less when ``T > 0`` and ``k > 1``: with ``T' = T + gain(T)``, trust ends at
       ``max(0, T' - k g) = max(0, T - (k g - gain(T)))`` and ``k g - gain(T) >= (k - 1) g``.
       (Under ``"pant_yu"`` the pair raises trust for ``T < g (1 - loss) / (loss + g (1 -
       loss))``, 0.19 at the defaults.)

    No rule that keeps trust at or above 0 can remove more than ``T``, so below ``T = k
    gain(T)`` property 1 is the most a bounded rule can give; property 2 holds everywhere.

    Args:
        trust: Trust of each interacting pair before the interaction.
        damage: Ceiling damage ``D`` of each pair (trust ceiling ``1 - D``).
        good: Whether each interaction was good.
        rule: ``"smoothing"`` or ``"pant_yu"``.
        gain: Share of the gap to the ceiling a good interaction closes.
        loss: Share of trust a bad interaction removes (``"pant_yu"`` only).
        negativity: ``k``, the weight of a bad interaction (``"smoothing"`` only).

    Returns:
        The trust of each pair after its interaction.
    """
    gap = 1.0 - damage - trust
    up = trust + gain * np.where(gap > 0.0, gap, 0.0)
    if rule == "pant_yu":
        down = trust * (1.0 - loss)
    elif rule == "smoothing":
        down = trust - np.minimum(trust, negativity * gain)
    else:
        raise ValueError(f"unknown trust rule {rule!r}")
    return np.where(good, up, down)
