"""The common agenda's week, compiled: bounded-confidence moves, the pull, the agreement.

Deffuant, Neau, Amblard & Weisbuch (2000), weighted by trust and influence: one compiled loop
over the pairs that interacted this week (in numpy it took a dozen calls on arrays of a few
hundred pairs every meeting); then the meeting's pull toward its proposal, the clip and the
agreement (two dozen numpy calls on a few rows, most of the mechanism's time at a meeting), in
the same compiled call (:func:`agenda_week`): a week of the mechanism is that one call. Used by
:mod:`cisim.mechanisms.agenda`.
"""

from __future__ import annotations

import math

import numpy as np

from cisim.kernels import MAX_PAIRWISE, _inner, _jit, _rule, pairwise
from cisim.scenario import Scenario
from cisim.world import F_FACILITATION

#: Columns of the run's constants of the week's terms (:func:`agenda_params`).
A_BOUND, A_FACILITATION_BOUND, A_CONVERGENCE, A_PULL, A_N = range(5)

__all__ = ["agenda_params", "agenda_scratch", "agenda_terms_rule", "agenda_week",
           "compiled_agreement", "distance2"]


def compiled_agreement(position: np.ndarray) -> bool:
    """Whether :func:`agenda_week` works out the pull and the agreement for these positions.

    Up to :data:`cisim.kernels.MAX_PAIRWISE` partners: numpy adds the columns of an ``(n, 2)``
    array down the rows from zero, and a row or a vector as :func:`cisim.kernels.pairwise`;
    the loops do the same.
    """
    return position.shape[0] <= MAX_PAIRWISE


def agenda_scratch(position: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scratch for :func:`agenda_week` over ``position``: its ``moved`` and ``work``.

    Raises:
        ValueError: ``position`` is not an ``(N, 2)`` array (the agenda has two dimensions).
    """
    if position.ndim != 2 or position.shape[1] != 2:
        raise ValueError(f"agenda positions must be (N, 2), not {position.shape}")
    return np.zeros((position.shape[0], 3)), np.zeros(position.shape[0])


def agenda_params(sc: Scenario) -> np.ndarray:
    """The run's constants of :func:`agenda_terms_rule`, by the ``A_*`` columns."""
    dyn = sc.dynamics
    params = np.zeros(A_N)
    params[A_BOUND] = dyn.confidence_bound
    params[A_FACILITATION_BOUND] = dyn.facilitation_bound
    params[A_CONVERGENCE] = dyn.convergence_rate
    params[A_PULL] = dyn.proposal_pull
    return params


@_rule
def agenda_terms_rule(figures: np.ndarray, params: np.ndarray,
                      emph: float) -> tuple[float, float, float]:
    """The week's confidence bound, convergence rate and pull (of a world's figures).

    The bound ``confidence_bound + facilitation_bound x facilitation``; the rate
    ``min(0.5, convergence_rate x emph)``; the pull ``proposal_pull x emph x facilitation``
    (each attendee's times its own trust, in :func:`agenda_week`).
    """
    facilitation = figures[F_FACILITATION]
    bound = params[A_BOUND] + params[A_FACILITATION_BOUND] * facilitation
    rate = params[A_CONVERGENCE] * emph
    rate = rate if rate < 0.5 else 0.5  # min(0.5, rate)
    return bound, rate, params[A_PULL] * emph * facilitation


@_jit(opt=1, no_cfunc_wrapper=True)
def agenda_week(rest: bool, position: np.ndarray, influence: np.ndarray, contacted: np.ndarray,
                trust: np.ndarray, bound: float, rate: float, attended: np.ndarray,
                active: np.ndarray, pulls: bool, pull: float, moved: np.ndarray,
                work: np.ndarray) -> tuple[bool, float]:
    """A week of the common agenda, in place: the moves, then the pull, clip and agreement.

    If any pair is in ``contacted``: the synchronous trust-weighted bounded-confidence moves
    of the ``(N, 2)`` positions. Partner ``i`` moves by the mean over its contacts ``j`` of
    ``w_ij (x_j - x_i)`` with ``w_ij = 2 trust_ij rate infl_j / (infl_i + infl_j)`` if
    ``|x_j - x_i| < bound``, else 0 (Deffuant et al. 2000): every move is worked out from the
    positions at the start, then all partners move, a partner's terms added in the order of
    ``j``. With ``rest`` (only where :func:`compiled_agreement`), then, if there were moves,
    the meeting's pull toward its proposal and the clip to [0, 1]; and the agreement of the
    positions (NaN without ``rest``). What :meth:`cisim.mechanisms.agenda.CommonAgenda.step`
    does in numpy above :data:`MAX_PAIRWISE` partners
    (:func:`cisim.mechanisms.agenda.pull_toward_proposal`, then
    :func:`cisim.mechanisms.agenda.agreement`), with the same operations in numpy's order
    (``tests/test_agenda_kernel.py`` checks the two bit for bit): given ``pulls`` and at
    least two attendees, attendee ``i`` moves ``pull x own trust_i`` of the way to the
    attendees' influence-weighted centre (own trust: its row of ``trust`` summed, over
    ``max(1, active - 1)``); every position is clipped; the agreement is ``1 - 2 x`` the mean
    distance of active partners from their influence-weighted centre, clipped to [0, 1].

    ``moved`` (N x 3: each partner's move and its number of contacts) and ``work`` are
    scratch (:func:`agenda_scratch`): an allocation inside the kernel more than doubles its
    first compile. Written as few loops as the rule allows (a row's move, pull and clip
    touch only that row, so they share the loops that sum the centres): numba's compile
    time grows with every loop and branch.

    Returns:
        ``(whether any pair had contact, agreement)``.
    """
    N = position.shape[0]
    met = False
    for i in range(N):  # the moves, from the positions at the start
        count = 0
        d0 = d1 = 0.0
        for j in range(N):
            if contacted[i, j]:
                count += 1
                if math.sqrt(distance2(position, i, j)) < bound:
                    pull_j = influence[j] / (influence[i] + influence[j])
                    w = trust[i, j] * 2.0 * pull_j * rate
                    d0 += w * (position[j, 0] - position[i, 0])
                    d1 += w * (position[j, 1] - position[i, 1])
        moved[i, 2] = count
        if count > 0:
            met = True
            moved[i, 0] = d0 / count
            moved[i, 1] = d1 / count
    # every partner moves; the attendees' centre (weighted_mean(x[att], infl[att], axis=0):
    # the products summed down the rows from zero, over the pairwise sum of the weights)
    n_active = 0
    c0 = c1 = 0.0
    n = np.int64(0)  # (not the literal 0: numba would compile pairwise for it too)
    for i in range(N):
        if met and moved[i, 2] > 0.0:
            position[i, 0] += moved[i, 0]
            position[i, 1] += moved[i, 1]
        if active[i]:
            n_active += 1
        if attended[i]:
            c0 += position[i, 0] * influence[i]
            c1 += position[i, 1] * influence[i]
            work[n] = influence[i]
            n += 1
    if not rest:
        return met, math.nan
    pulling = met and pulls and n >= 2
    if pulling:
        total = pairwise(work, n)
        c0 = c0 / total
        c1 = c1 / total
    others = n_active - 1.0 if n_active > 1 else 1.0  # float(max(1, n_active - 1))
    # the pull and the clip, row by row; the active partners' centre of the result
    a0 = a1 = 0.0
    n = np.int64(0)
    for i in range(N):
        x0 = position[i, 0]
        x1 = position[i, 1]
        if met:
            if pulling and attended[i]:
                # trust[att].sum(axis=1) / others: a row's pairwise sum
                step = pull * (pairwise(trust[i], N) / others)
                x0 = x0 + step * (c0 - x0)
                x1 = x1 + step * (c1 - x1)
            if x0 < 0.0:  # ndarray.clip (NaN and -0.0 stay)
                x0 = 0.0
            elif x0 > 1.0:
                x0 = 1.0
            if x1 < 0.0:
                x1 = 0.0
            elif x1 > 1.0:
                x1 = 1.0
            position[i, 0] = x0
            position[i, 1] = x1
        if active[i]:
            a0 += x0 * influence[i]
            a1 += x1 * influence[i]
            work[n] = influence[i]
            n += 1
    if n < 2:
        return met, 1.0
    total = pairwise(work, n)
    a0 = a0 / total
    a1 = a1 / total
    n = np.int64(0)
    for i in range(N):  # each active partner's distance from the centre (a row sum, from 0)
        if active[i]:
            g0 = position[i, 0] - a0
            g1 = position[i, 1] - a1
            work[n] = math.sqrt((0.0 + g0 * g0) + g1 * g1)
            n += 1
    agreement = 1.0 - 2.0 * (pairwise(work, n) / n)
    agreement = agreement if agreement > 0.0 else 0.0  # max(0.0, .): NaN gives 0
    return met, (agreement if agreement < 1.0 else 1.0)


@_inner
def distance2(position: np.ndarray, i: int, j: int) -> float:
    """Squared distance between the agenda positions of partners ``i`` and ``j``.

    The two dimensions' squares added from the first, as numpy adds a short row (and the
    same whichever partner comes first: ``x - y`` is ``-(y - x)`` exactly).
    """
    g0 = position[i, 0] - position[j, 0]
    g1 = position[i, 1] - position[j, 1]
    return g0 * g0 + g1 * g1
