"""Numba kernels: the per-beneficiary and per-pair hot loops, as pure functions on arrays.

Randomness comes from a counter-based generator (SplitMix64 finalisation of a hash of seed,
step, index and stream), so every draw is a pure function of its coordinates: a run is a pure
function of (scenario, seed), the factual and the counterfactual world see the *same* numbers
(common random numbers), and the population kernel gives bit-identical results whatever the
number of threads, because it reduces over fixed-size chunks in a fixed order.

Sources: the hazard and complementarity form is described in docs/model.md (Submodels); the
asymmetric trust update follows Pant & Yu (2025) and Slovic (1993); the agenda update is the
bounded-confidence model of Deffuant et al. (2000).
"""

from __future__ import annotations

import os
import tempfile

# Idle OpenMP worker threads spin by default and steal the core the next step needs; let them
# sleep (set before numba starts its thread pool; a user's own setting wins).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
from pathlib import Path

import numba
import numpy as np
from numba import njit, prange

__all__ = [
    "CHUNK",
    "WP",
    "meeting_interactions",
    "population_step",
    "u01",
]

CREAMING = 3.0  # exponent of "creaming" the easiest to help without an equity focus
EQUITY_BOOST = 2.0  # extra weight on disadvantaged subgroups at full equity focus
CHUNK = 16_384  # beneficiaries per reduction chunk (fixed: results do not depend on threads)
_CACHE = os.environ.get("CISIM_NUMBA_CACHE", "1") != "0"


def _private_cache_dir() -> str | None:
    """A cache directory under the temp directory, owned by this user and private, or None."""
    uid = os.getuid() if hasattr(os, "getuid") else None
    path = Path(tempfile.gettempdir()) / f"cisim-numba-cache-{uid if uid is not None else 'user'}"
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        st = path.stat()
    except OSError:
        return None
    if uid is not None and (st.st_uid != uid or st.st_mode & 0o077):
        return None  # someone else's, or open to others: do not load cached code from it
    return str(path)


def _jit(**options):
    """``numba.njit`` that caches the compiled kernel where it can and never fails at import.

    numba caches next to the source (``__pycache__``) or, when the package directory is
    read-only, in the user's cache directory (``~/.cache/numba``); ``NUMBA_CACHE_DIR`` overrides
    both. When none of these is writable numba raises at decoration time; the kernels are then
    cached in a private directory under the system temp directory, or, failing that, compiled
    in every process without a cache.
    """

    def wrap(func):
        if _CACHE:
            try:
                return njit(cache=True, **options)(func)
            except RuntimeError:  # numba found no writable cache location
                if not numba.config.CACHE_DIR:
                    fallback = _private_cache_dir()
                    if fallback is not None:
                        numba.config.CACHE_DIR = fallback
                        try:
                            return njit(cache=True, **options)(func)
                        except RuntimeError:
                            pass
        return njit(**options)(func)

    return wrap

# Streams of the counter-based generator.
S_TURNOVER, S_SUBGROUP, S_ENTRANT, S_TRANSITION, S_NEED = 0, 1, 2, 3, 4
S_PAIR, S_QUALITY, S_ATTEND, S_POLICY, S_NOISE, S_RENEW = 10, 11, 12, 13, 14, 15
S_PERCEIVED = 20  # + world index: noise in the needs partners perceive when re-planning


# Columns of the per-world parameter rows passed to :func:`population_step`.
W_CAP_NORM = 0  # service-years per unit of targeting weight (capacity / weight sum)
W_FIT = 1  # fit of services to real needs, 0-1
W_EFFECT = 2  # effectiveness multiplier from changed practices and services
W_BARRIER = 3  # barrier multiplier from changed policy (1 = no change)
W_TAKEUP = 4  # population engagement level E, 0-1
W_EQUITY = 5  # equity focus, 0-1
W_EFFICACY = 6  # share of a barrier a full, fitting, covered year of service removes


class WP:
    """Column indices of the per-world parameter rows (for Python callers)."""

    CAP_NORM = W_CAP_NORM
    FIT = W_FIT
    EFFECT = W_EFFECT
    BARRIER = W_BARRIER
    TAKEUP = W_TAKEUP
    EQUITY = W_EQUITY
    EFFICACY = W_EFFICACY
    N = 7


@_jit(inline="always")
def _mix(z: np.uint64) -> np.uint64:
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@_jit(inline="always")
def u01(seed: np.uint64, step: np.int64, index: np.int64, stream: np.int64) -> float:
    """Uniform draw in [0, 1) at the coordinates (seed, step, index, stream)."""
    z = _mix(seed + np.uint64(0x9E3779B97F4A7C15) * np.uint64(stream + 1))
    z = _mix(z ^ (np.uint64(step) * np.uint64(0xD1B54A32D192ED03)))
    z = _mix(z ^ np.uint64(index))
    return (z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@_jit(inline="always")
def _normal(seed: np.uint64, step: np.int64, index: np.int64, stream: np.int64) -> float:
    """Standard normal draw (Box-Muller on two counter draws)."""
    a = u01(seed, step, index, stream)
    b = u01(seed, step, index, stream + 100)
    return np.sqrt(-2.0 * np.log(1.0 - a)) * np.cos(2.0 * np.pi * b)


@_jit()
def draw_uniforms(seed: np.uint64, step: np.int64, n: np.int64, stream: np.int64) -> np.ndarray:
    """``n`` uniform draws for indices ``0..n-1`` (used by partner-level mechanisms)."""
    out = np.empty(n)
    for i in range(n):
        out[i] = u01(seed, step, i, stream)
    return out


@_jit()
def draw_normals(seed: np.uint64, step: np.int64, n: np.int64, stream: np.int64) -> np.ndarray:
    """``n`` standard normal draws for indices ``0..n-1``."""
    out = np.empty(n)
    for i in range(n):
        out[i] = _normal(seed, step, i, stream)
    return out


@_jit(inline="always")
def _weight(mean_need: float, propensity: float, disadvantaged: bool, takeup: float,
            equity: float) -> float:
    """Targeting weight: who services reach.

    Without an equity focus providers 'cream' the easiest to help (weight
    ``(1 - mean need)^3``); an equity focus ``q`` flattens that to
    ``(1 - mean need)^(3 (1 - q))`` and weighs disadvantaged subgroups ``1 + 2 q`` times.
    """
    t = propensity + takeup * (1.0 - propensity)
    d = 1.0 if disadvantaged else 0.0
    return t * (1.0 - mean_need) ** (CREAMING * (1.0 - equity)) * (1.0 + EQUITY_BOOST * equity * d)


@_jit(parallel=True)
def population_step(
    seed: np.uint64,
    step: np.int64,
    needs: np.ndarray,  # (n, A) float32 barriers in [0, 1]
    subgroup: np.ndarray,  # (n,) int8
    propensity: np.ndarray,  # (n,) float32 engagement propensity
    outcome: np.ndarray,  # (2, n) uint8: world 0 factual, world 1 counterfactual
    exposure: np.ndarray,  # (n,) float32 service-years received in the factual world
    wp: np.ndarray,  # (2, WP.N) per-world parameters
    coverage: np.ndarray,  # (2, A) coverage of each strategy area, 0-1
    h_in: np.ndarray,  # (G,) weekly entry hazard scale per subgroup
    h_out: np.ndarray,  # (G,) weekly exit hazard per subgroup
    disadvantaged: np.ndarray,  # (G,) bool
    turnover: float,  # weekly probability of ageing out (replaced by a new entrant)
    share_cum: np.ndarray,  # (G,) cumulative subgroup shares for entrants
    entrant_rate: np.ndarray,  # (G,) probability that an entrant starts in the outcome state
    need_mean: np.ndarray,  # (G, A) mean barrier per subgroup and area
    need_sd: float,
) -> np.ndarray:
    """Advance every beneficiary one week in both worlds, with common random numbers.

    Each person's weekly hazard of entering the outcome state is ``h_in[g] * prod_a (1 - r_a)``
    where ``r_a = need_a * barrier * (1 - efficacy * min(1, s * coverage_a * fit * effect))``
    is the
    barrier left in area ``a`` after the services the person receives (intensity ``s``);
    needs are complementary, so an uncovered area blunts the help in the others.

    Returns:
        Aggregates after the update, shape ``(2, 4 + 2 G + A)`` per world: weight sum of those
        not in the outcome state, service-years delivered, number ever served, number ever
        served in the outcome state, then per subgroup the count in the outcome state and the
        count, then per strategy area the unmet need among those not in the outcome state.
    """
    n, A = needs.shape
    G = h_in.shape[0]
    K = 4 + 2 * G + A
    p_exit = np.empty(G)  # weekly chance of leaving the outcome state, per subgroup
    for g in range(G):
        p_exit[g] = 1.0 - np.exp(-h_out[g])
    n_chunks = (n + CHUNK - 1) // CHUNK
    partial = np.zeros((n_chunks, 2, K))
    for c in prange(n_chunks):
        lo = c * CHUNK
        hi = min(n, lo + CHUNK)
        acc = partial[c]
        for i in range(lo, hi):
            # Ageing out and replacement: the same for both worlds.
            if turnover > 0.0 and u01(seed, step, i, S_TURNOVER) < turnover:
                us = u01(seed, step, i, S_SUBGROUP)
                g = 0
                while g < G - 1 and us >= share_cum[g]:
                    g += 1
                subgroup[i] = g
                for a in range(A):
                    v = need_mean[g, a] + need_sd * _normal(seed, step, i * A + a, S_NEED)
                    needs[i, a] = min(1.0, max(0.0, v))
                start = 1 if u01(seed, step, i, S_ENTRANT) < entrant_rate[g] else 0
                outcome[0, i] = start
                outcome[1, i] = start
                exposure[i] = 0.0
            g = subgroup[i]
            # float32 state is widened explicitly, so that the pure-Python fallback
            # (NUMBA_DISABLE_JIT=1) computes in float64 exactly as the compiled kernel does.
            prop = np.float64(propensity[i])
            mean_need = 0.0
            for a in range(A):
                mean_need += np.float64(needs[i, a])
            mean_need /= A
            u = u01(seed, step, i, S_TRANSITION)
            for w in range(2):
                p = wp[w]
                weight = -1.0  # computed only for those out of the outcome state
                s = 0.0
                if outcome[w, i] == 0:
                    weight = _weight(mean_need, prop, disadvantaged[g], p[W_TAKEUP], p[W_EQUITY])
                    s = min(1.0, p[W_CAP_NORM] * weight)
                    mult = 1.0
                    for a in range(A):
                        help_ = p[W_EFFICACY] * min(
                            1.0, s * coverage[w, a] * p[W_FIT] * p[W_EFFECT])
                        mult *= 1.0 - needs[i, a] * p[W_BARRIER] * (1.0 - help_)
                    if u < 1.0 - np.exp(-h_in[g] * mult):
                        outcome[w, i] = 1
                elif u < p_exit[g]:
                    outcome[w, i] = 0
                if w == 0:
                    exposure[i] = np.float64(exposure[i]) + s / 52.0
                # Aggregates after the update.
                acc[w, 1] += s / 52.0
                served = exposure[i] > 0.1
                if served:
                    acc[w, 2] += 1.0
                    if outcome[w, i] == 1:
                        acc[w, 3] += 1.0
                acc[w, 4 + G + g] += 1.0
                if outcome[w, i] == 1:
                    acc[w, 4 + g] += 1.0
                else:
                    if weight < 0.0:  # just left the outcome state
                        weight = _weight(mean_need, prop, disadvantaged[g], p[W_TAKEUP],
                                         p[W_EQUITY])
                    acc[w, 0] += weight
                    for a in range(A):
                        acc[w, 4 + 2 * G + a] += needs[i, a] * p[W_BARRIER]
    out = np.zeros((2, K))
    for c in range(n_chunks):
        out += partial[c]
    return out


#: Populations below this many chunks run the population kernel on one thread: waking the thread
#: pool costs more than it saves. Results are the same on any number of threads.
PARALLEL_MIN_CHUNKS = 4


@_jit()
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
) -> np.ndarray:
    """One meeting: pairwise interactions among attendees build or break trust.

    Each pair of attendees meets with probability ``contact_prob``. The interaction is good with
    probability ``p_good_base - distance_penalty * distance`` (partners far apart on the agenda
    clash more). A good interaction closes ``gain`` of the gap to the trust ceiling
    ``1 - damage``; a bad one removes ``loss`` of the trust and lowers the ceiling by
    ``damage_jump``: trust is slow to build and fast to lose.

    Returns:
        ``[interactions, good interactions]``.
    """
    N = attending.shape[0]
    D = position.shape[1]
    n_int = 0.0
    n_good = 0.0
    for i in range(N):
        if not attending[i]:
            continue
        for j in range(i + 1, N):
            if not attending[j]:
                continue
            k = i * N + j
            if u01(seed, step, k, S_PAIR) >= contact_prob:
                continue
            dist = 0.0
            for d in range(D):
                dist += (position[i, d] - position[j, d]) ** 2
            dist = np.sqrt(dist)
            p_good = min(1.0, max(0.0, p_good_base - distance_penalty * dist))
            n_int += 1.0
            contacted[i, j] = True
            contacted[j, i] = True
            if u01(seed, step, k, S_QUALITY) < p_good:
                n_good += 1.0
                t = trust[i, j] + gain * max(0.0, 1.0 - damage[i, j] - trust[i, j])
            else:
                t = trust[i, j] * (1.0 - loss)
                dmg = min(1.0, damage[i, j] + damage_jump)
                damage[i, j] = dmg
                damage[j, i] = dmg
            trust[i, j] = t
            trust[j, i] = t
    return np.array([n_int, n_good])
