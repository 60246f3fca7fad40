"""Bounded-confidence moves of agenda positions (the common agenda mechanism's rule).

Deffuant, Neau, Amblard & Weisbuch (2000), weighted by trust and influence: one compiled loop
over the pairs that interacted this week (in numpy it took a dozen calls on arrays of a few
hundred pairs every meeting). Then, in a second loop, the meeting's pull toward its proposal,
the clip and the agreement (two dozen numpy calls on a few rows, most of the mechanism's time
at a meeting). Used by :mod:`cisim.mechanisms.agenda`.
"""

from __future__ import annotations

import math

import numpy as np

from cisim.kernels import _inner, _jit, pairwise

__all__ = ["agenda_moves", "distance2", "pull_and_agreement"]


def agenda_moves(
    position: np.ndarray,  # (N, D) agenda positions, updated in place
    influence: np.ndarray,  # (N,)
    contacted: np.ndarray,  # (N, N) bool, pairs that interacted this week
    trust: np.ndarray,  # (N, N)
    bound: float,  # confidence bound
    rate: float,  # convergence rate this week (at most 0.5)
) -> None:
    """Synchronous trust-weighted bounded-confidence moves over the contacted pairs.

    Partner ``i`` moves by the mean over its contacts ``j`` of
    ``w_ij (x_j - x_i)`` with ``w_ij = 2 trust_ij rate infl_j / (infl_i + infl_j)`` if
    ``|x_j - x_i| < bound``, else 0 (Deffuant et al. 2000). Synchronous: every move is worked
    out from the positions at the start, then all partners move. A partner's terms are added
    in the order of ``j``.
    """
    N = position.shape[0]
    _moves(position, influence, contacted, trust, float(bound), float(rate),
           np.empty(position.shape), np.empty(N, dtype=np.bool_))


@_jit(opt=1, no_cfunc_wrapper=True)
def _moves(position: np.ndarray, influence: np.ndarray, contacted: np.ndarray,
           trust: np.ndarray, bound: float, rate: float, delta: np.ndarray,
           moved: np.ndarray) -> None:
    """The loop of :func:`agenda_moves`; ``delta`` and ``moved`` are scratch of its shape.

    (Scratch passed in rather than allocated here: an allocation inside the kernel more than
    doubles its first compile.)
    """
    N, D = position.shape
    for i in range(N):
        count = 0
        for d in range(D):
            delta[i, d] = 0.0
        for j in range(N):
            if not contacted[i, j]:
                continue
            count += 1
            if not math.sqrt(distance2(position, i, j)) < bound:
                continue
            pull = influence[j] / (influence[i] + influence[j])
            w = trust[i, j] * 2.0 * pull * rate
            for d in range(D):
                delta[i, d] += w * (position[j, d] - position[i, d])
        moved[i] = count > 0
        if count > 0:
            for d in range(D):
                delta[i, d] = delta[i, d] / count
    for i in range(N):
        if moved[i]:
            for d in range(D):
                position[i, d] += delta[i, d]


@_inner
def distance2(position: np.ndarray, i: int, j: int) -> float:
    """Squared distance between the agenda positions of partners ``i`` and ``j``.

    Summed over the agenda's dimensions from the first, as numpy adds a short row (and the
    same whichever partner comes first: ``x - y`` is ``-(y - x)`` exactly).
    """
    gap = position[i, 0] - position[j, 0]
    dist = gap * gap
    for d in range(1, position.shape[1]):
        gap = position[i, d] - position[j, d]
        dist += gap * gap
    return dist


def pull_and_agreement(
    position: np.ndarray,  # (N, 2) agenda positions after the week's moves, updated in place
    influence: np.ndarray,  # (N,)
    attended: np.ndarray,  # (N,) bool, this week's meeting
    active: np.ndarray,  # (N,) bool
    trust: np.ndarray,  # (N, N)
    pulls: bool,  # whether the meeting pulls toward a proposal (``proposal_pull > 0``)
    pull: float,  # proposal_pull x emphasis x facilitation
) -> float:
    """The pull toward the meeting's proposal, the clip to [0, 1], then the agreement.

    What :meth:`cisim.mechanisms.agenda.CommonAgenda.step` does in numpy after the moves
    (:func:`cisim.mechanisms.agenda.pull_toward_proposal`, then
    :func:`cisim.mechanisms.agenda.agreement`), with the same operations in numpy's order
    (``tests/test_agenda_kernel.py`` checks the two bit for bit): given ``pulls`` and at least
    two attendees, attendee ``i`` moves ``pull x own trust_i`` of the way to the attendees'
    influence-weighted centre (own trust: its row of ``trust`` summed, over ``max(1, active -
    1)``); every position is clipped; the return is the agreement of the result. For the
    agenda's two dimensions and ``N <= MAX_PAIRWISE``: numpy adds the columns of an ``(n, 2)``
    array down the rows from zero, and a row or a vector as :func:`cisim.kernels.pairwise`.
    """
    # the rows of trust summed (numpy's row sums, the same for a row wherever it is taken)
    return _pull_and_agree(position, influence, attended, active, np.add.reduce(trust, axis=1),
                           bool(pulls), float(pull), np.empty(position.shape[0]))


@_jit(opt=1, no_cfunc_wrapper=True)
def _pull_and_agree(position: np.ndarray, influence: np.ndarray, attended: np.ndarray,
                    active: np.ndarray, trust_sums: np.ndarray, pulls: bool, pull: float,
                    work: np.ndarray) -> float:
    """The loop of :func:`pull_and_agreement`; ``work`` is scratch of ``N`` values.

    (Scratch passed in: an allocation here would slow the first compile.)
    """
    N = position.shape[0]
    n_active = 0
    for i in range(N):
        if active[i]:
            n_active += 1
    if pulls:
        n, c0, c1 = _centre(position, influence, attended, work)
        if n >= 2:
            others = float(max(1, n_active - 1))
            for i in range(N):
                if attended[i]:
                    step = pull * (trust_sums[i] / others)
                    position[i, 0] = position[i, 0] + step * (c0 - position[i, 0])
                    position[i, 1] = position[i, 1] + step * (c1 - position[i, 1])
    for i in range(N):  # ndarray.clip (NaN and -0.0 stay)
        for d in range(2):
            v = position[i, d]
            if v < 0.0:
                position[i, d] = 0.0
            elif v > 1.0:
                position[i, d] = 1.0
    if n_active < 2:
        return 1.0
    _, c0, c1 = _centre(position, influence, active, work)
    n = 0
    for i in range(N):  # each active partner's distance from the centre (a row sum, from 0)
        if active[i]:
            g0 = position[i, 0] - c0
            g1 = position[i, 1] - c1
            work[n] = math.sqrt((0.0 + g0 * g0) + g1 * g1)
            n += 1
    agreement = 1.0 - 2.0 * (pairwise(work, n) / n)
    agreement = agreement if agreement > 0.0 else 0.0  # max(0.0, .): NaN gives 0
    return agreement if agreement < 1.0 else 1.0


@_inner
def _centre(position: np.ndarray, influence: np.ndarray, rows: np.ndarray,
            work: np.ndarray) -> tuple[int, float, float]:
    """``weighted_mean(position[rows], influence[rows], axis=0)``, with the number of rows.

    The two columns of the products summed down the rows from zero (numpy's order for more
    than one column), each over the pairwise sum of the weights (``work`` holds them).
    """
    c0 = c1 = 0.0
    n = 0
    for i in range(position.shape[0]):
        if rows[i]:
            c0 += position[i, 0] * influence[i]
            c1 += position[i, 1] * influence[i]
            work[n] = influence[i]
            n += 1
    if n == 0:
        return 0, c0, c1
    total = pairwise(work, n)
    return n, c0 / total, c1 / total
