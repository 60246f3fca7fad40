"""Bounded-confidence moves of agenda positions (the common agenda mechanism's rule).

Deffuant, Neau, Amblard & Weisbuch (2000), weighted by trust and influence: one compiled loop
over the pairs that interacted this week (in numpy it took a dozen calls on arrays of a few
hundred pairs every meeting). Used by :mod:`cisim.mechanisms.agenda`.
"""

from __future__ import annotations

import math

import numpy as np

from cisim.kernels import _inner, _jit

__all__ = ["agenda_moves", "distance2"]


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
