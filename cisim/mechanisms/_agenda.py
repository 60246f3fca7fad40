"""Bounded-confidence moves of agenda positions (the common agenda mechanism's rule).

Deffuant, Neau, Amblard & Weisbuch (2000), weighted by trust and influence; plain numpy over
the pairs that interacted this week. Used by :mod:`cisim.mechanisms.agenda`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["agenda_moves"]


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
    ``|x_j - x_i| < bound``, else 0 (Deffuant et al. 2000): the dense computation with the
    same operations in the same order, on the contacted pairs only (O(contacts), not O(N^2)).
    Plain numpy: ``np.add.at`` adds each partner's terms one by one in the order of ``j``, as
    a loop would.
    """
    i, j = np.divmod(np.flatnonzero(contacted), contacted.shape[1])  # by i, then j
    count = np.bincount(i, minlength=position.shape[0])
    diff = position[j] - position[i]
    dist = diff[:, 0] * diff[:, 0]  # summed over the dimensions from zero (0 + x is x here)
    for d in range(1, position.shape[1]):
        dist += diff[:, d] * diff[:, d]
    near = np.sqrt(dist) < bound
    i, j, diff = i[near], j[near], diff[near]
    pull = influence[j] / (influence[i] + influence[j])
    w = trust[i, j] * 2.0 * pull * rate
    delta = np.zeros(position.shape)
    np.add.at(delta, i, w[:, None] * diff)
    moved = count > 0
    position[moved] += delta[moved] / count[moved, None]
