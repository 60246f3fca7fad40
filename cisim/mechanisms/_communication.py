"""The trust update of a meeting's pairwise interactions (the communication mechanism's rule).

Plain numpy over a meeting's pairs (see :func:`meeting_interactions`); the asymmetric update
follows Pant & Yu (2025) and Slovic (1993), with experience smoothing after Jonker & Treur
(1999). Used by :mod:`cisim.mechanisms.communication`.
"""

from __future__ import annotations

import functools

import numpy as np

from cisim.kernels import S_PAIR, S_QUALITY
from cisim.rng import bits, threshold, uniforms_at

__all__ = ["PAIR_BLOCK", "meeting_interactions", "trust_update"]

#: Pairs of attendees whose draws :func:`meeting_interactions` takes at once (bounds memory;
#: blocks of this size stay in the CPU caches).
PAIR_BLOCK = 1 << 17



def meeting_interactions(
    seed: np.uint64,
    step: np.int64,
    attending: np.ndarray,  # (N,) bool
    contact_prob: float,
    trust: np.ndarray,  # (N, N) float64, symmetric, updated in place
    damage: np.ndarray,  # (N, N) float64, ceiling damage, updated in place
    contacted: np.ndarray,  # (N, N) bool, set where a pair interacted this step
    position: np.ndarray,  # (N, D) agenda positions
    p_good_base: float,  # chance of a good interaction before agenda distance
    distance_penalty: float,
    gain: float,
    loss: float,
    damage_jump: float,
    rule: str = "pant_yu",
    negativity: float = 3.0,
) -> tuple[float, float]:
    """One meeting: pairwise interactions among attendees build or break trust.

    Each pair of attendees ``i < j`` meets with probability ``contact_prob`` (the draw of
    stream ``S_PAIR`` at index ``i N + j``). The interaction is good with probability
    ``p_good_base - distance_penalty * distance`` (partners far apart on the agenda clash
    more; the draw of ``S_QUALITY`` at the same index). Trust then moves by
    :func:`trust_update` (``rule``, ``gain``, ``loss``, ``negativity``), and a bad interaction
    lowers the trust ceiling ``1 - damage`` by ``damage_jump``: trust is slow to build and fast
    to lose.

    Plain numpy (a meeting's pairs are independent; the draws are compared as integers with
    :func:`cisim.rng.threshold`, which decides as the floats do), in blocks of at most
    :data:`PAIR_BLOCK` pairs.

    Returns:
        ``(interactions, good interactions)``.
    """
    N = attending.shape[0]
    att = np.flatnonzero(attending).astype(np.int64, copy=False)
    m = att.size
    t_contact = np.uint64(max(0, threshold(contact_prob)))
    if m * m <= PAIR_BLOCK:  # a usual meeting: its pairs at once (the same pairs in order)
        rows, cols = _pairs(m)
        ii, jj = att[rows], att[cols]
        met = bits(seed, step, ii * N + jj, S_PAIR) < t_contact
        i, j = ii[met], jj[met]
    else:
        met_i, met_j = [], []
        rows_per_block = max(1, PAIR_BLOCK // max(1, m))
        for r0 in range(0, m, rows_per_block):
            r = np.arange(r0, min(m, r0 + rows_per_block))
            upper = np.arange(m)[None, :] > r[:, None]  # pairs i < j among attendees
            ii = np.broadcast_to(att[r][:, None], upper.shape)[upper]
            jj = np.broadcast_to(att[None, :], upper.shape)[upper]
            met = bits(seed, step, ii * N + jj, S_PAIR) < t_contact
            met_i.append(ii[met])
            met_j.append(jj[met])
        i = np.concatenate(met_i)
        j = np.concatenate(met_j)
    # the squared distance summed over the agenda's dimensions from zero (0 + x is x for a
    # square), with the pairs' rows of positions taken once
    gap = position[i] - position[j]
    dist = gap[:, 0] ** 2
    for d in range(1, position.shape[1]):
        dist += gap[:, d] ** 2
    p_good = p_good_base - distance_penalty * np.sqrt(dist)
    p_good = np.where(p_good < 1.0, np.where(p_good > 0.0, p_good, 0.0), 1.0)
    contacted[i, j] = True
    contacted[j, i] = True
    good = uniforms_at(seed, step, i * N + j, S_QUALITY) < p_good
    t = trust_update(trust[i, j], damage[i, j], good, rule, gain, loss, negativity)
    bad_i, bad_j = i[~good], j[~good]
    dmg = damage[bad_i, bad_j] + damage_jump
    dmg = np.where(dmg < 1.0, dmg, 1.0)
    damage[bad_i, bad_j] = dmg
    damage[bad_j, bad_i] = dmg
    trust[i, j] = t
    trust[j, i] = t
    return float(i.size), float(np.count_nonzero(good))


@functools.lru_cache(maxsize=64)
def _pairs(m: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the pairs ``r < c`` of ``m`` attendees, row by row (read-only)."""
    rows, cols = np.triu_indices(m, 1)
    rows.flags.writeable = False
    cols.flags.writeable = False
    return rows, cols


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
