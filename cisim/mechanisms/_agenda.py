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

from cisim.kernels import MAX_PAIRWISE, _inner, _jit, pairwise

__all__ = ["agenda_scratch", "agenda_week", "compiled_agreement", "distance2"]


def compiled_agreement(position: np.ndarray) -> bool:
    """Whether :func:`agenda_week` works out the pull and the agreement for these positions.

    For the agenda's two dimensions and up to :data:`cisim.kernels.MAX_PAIRWISE` partners:
    numpy adds the columns of an ``(n, 2)`` array down the rows from zero, and a row or a
    vector as :func:`cisim.kernels.pairwise`; the loops do the same.
    """
    return position.shape[0] <= MAX_PAIRWISE and position.shape[1] == 2


def agenda_scratch(position: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scratch for :func:`agenda_week` over ``position``: its ``delta`` and ``work``."""
    return np.zeros(position.shape), np.zeros(position.shape[0])


@_jit(opt=1, no_cfunc_wrapper=True)
def agenda_week(moves: bool, rest: bool, position: np.ndarray, influence: np.ndarray,
                contacted: np.ndarray, trust: np.ndarray, bound: float, rate: float,
                attended: np.ndarray, active: np.ndarray, pulls: bool, pull: float,
                delta: np.ndarray, work: np.ndarray) -> tuple[bool, float]:
    """A week of the common agenda, in place: the moves, then the pull, clip and agreement.

    With ``moves`` (the world works on its agenda) and any pair in ``contacted``: the
    synchronous trust-weighted bounded-confidence moves (any number of dimensions). Partner
    ``i`` moves by the mean over its contacts ``j`` of ``w_ij (x_j - x_i)`` with ``w_ij = 2
    trust_ij rate infl_j / (infl_i + infl_j)`` if ``|x_j - x_i| < bound``, else 0 (Deffuant
    et al. 2000): every move is worked out from the positions at the start, then all partners
    move, a partner's terms added in the order of ``j``. With ``rest`` (only where
    :func:`compiled_agreement`), then, if there were moves, the meeting's pull toward its
    proposal and the clip to [0, 1]; and the agreement of the positions (NaN without
    ``rest``). What :meth:`cisim.mechanisms.agenda.CommonAgenda.step` does in numpy above
    :data:`MAX_PAIRWISE` partners (:func:`cisim.mechanisms.agenda.pull_toward_proposal`, then
    :func:`cisim.mechanisms.agenda.agreement`), with the same operations in numpy's order
    (``tests/test_agenda_kernel.py`` checks the two bit for bit): given ``pulls`` and at
    least two attendees, attendee ``i`` moves ``pull x own trust_i`` of the way to the
    attendees' influence-weighted centre (own trust: its row of ``trust`` summed, over
    ``max(1, active - 1)``); every position is clipped; the agreement is ``1 - 2 x`` the mean
    distance of active partners from their influence-weighted centre, clipped to [0, 1].

    ``delta`` and ``work`` are scratch (:func:`agenda_scratch`): an allocation inside the
    kernel more than doubles its first compile.

    Returns:
        ``(whether any pair had contact, agreement)``.
    """
    N, D = position.shape
    met = False
    if moves:
        for i in range(N):
            for j in range(N):
                if contacted[i, j]:
                    met = True
                    break
            if met:
                break
    if met:
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
                pull_j = influence[j] / (influence[i] + influence[j])
                w = trust[i, j] * 2.0 * pull_j * rate
                for d in range(D):
                    delta[i, d] += w * (position[j, d] - position[i, d])
            work[i] = count  # (whether i moves, once all moves are worked out)
            if count > 0:
                for d in range(D):
                    delta[i, d] = delta[i, d] / count
        for i in range(N):
            if work[i] > 0.0:
                for d in range(D):
                    position[i, d] += delta[i, d]
    if not rest:
        return met, math.nan
    n_active = 0
    for i in range(N):
        if active[i]:
            n_active += 1
    if met:
        if pulls:
            n, c0, c1 = _centre(position, influence, attended, work)
            if n >= 2:
                others = float(max(1, n_active - 1))
                for i in range(N):
                    if attended[i]:
                        # trust[att].sum(axis=1) / others: a row's pairwise sum
                        step = pull * (pairwise(trust[i], N) / others)
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
        return met, 1.0
    _, c0, c1 = _centre(position, influence, active, work)
    n = np.int64(0)  # (not the literal 0: numba would compile pairwise for it too)
    for i in range(N):  # each active partner's distance from the centre (a row sum, from 0)
        if active[i]:
            g0 = position[i, 0] - c0
            g1 = position[i, 1] - c1
            work[n] = math.sqrt((0.0 + g0 * g0) + g1 * g1)
            n += 1
    agreement = 1.0 - 2.0 * (pairwise(work, n) / n)
    agreement = agreement if agreement > 0.0 else 0.0  # max(0.0, .): NaN gives 0
    return met, (agreement if agreement < 1.0 else 1.0)


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


@_inner
def _centre(position: np.ndarray, influence: np.ndarray, rows: np.ndarray,
            work: np.ndarray) -> tuple[int, float, float]:
    """``weighted_mean(position[rows], influence[rows], axis=0)``, with the number of rows.

    The two columns of the products summed down the rows from zero (numpy's order for more
    than one column), each over the pairwise sum of the weights (``work`` holds them).
    """
    c0 = c1 = 0.0
    n = np.int64(0)  # (not the literal 0: numba would compile pairwise for it too)
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
