"""The population kernel: every beneficiary's week in both worlds, compiled.

:func:`population_step` is the hot loop of :class:`cisim.population.Population` (numba, with
its helpers compiled into it); the creaming factors, the calibration's status-quo product and
the recount of the per-chunk aggregates are plain numpy with the same operations in the same
order (they run a few times a run, and every compiled function adds to numba's first-use
compile time, which benchmarks/README.md measures). The hazard and complementarity form is
described in docs/model.md (Submodels).
"""

from __future__ import annotations

import math

import numpy as np

from cisim.kernels import (
    K_ENTRANT,
    K_NEED_A,
    K_NEED_B,
    K_SUBGROUP,
    K_TRANSITION,
    K_TURNOVER,
    W_BARRIER,
    W_CAP_NORM,
    W_EFFECT,
    W_EFFICACY,
    W_EQUITY,
    W_FIT,
    W_SBARRIER,
    W_TAKEUP,
    W_TREND,
    _inner,
    _jit,
    _mix,
    _normalk,
    _u01k,
    prefetch,
)
from cisim.world import (
    F_BARRIER_MULTIPLIER,
    F_EFFECT_MULTIPLIER,
    F_ENGAGEMENT,
    F_FIT,
    F_SERVICE_CAPACITY,
    F_STRUCTURAL_MULTIPLIER,
)

__all__ = [
    "CHUNK",
    "add_chunks",
    "creaming_factors",
    "entrant_rates",
    "outcome_rate",
    "past_rate_rule",
    "population_step",
    "population_week",
    "recount",
    "status_quo_multipliers",
    "sum_chunks",
    "terms_bounded",
    "week_bounded",
    "world_rows_of",
    "world_terms",
]

CREAMING = 3.0  # exponent of "creaming" the easiest to help without an equity focus
EQUITY_BOOST = 2.0  # extra weight on disadvantaged subgroups at full equity focus
CHUNK = 16_384  # beneficiaries per reduction chunk (fixed: results do not depend on threads)
PREFETCH_AHEAD = 128  # how many people ahead the population kernel prefetches state

# Columns of the per-world terms derived from the parameters (see world_terms).
D_EXPO = 0  # creaming exponent CREAMING (1 - equity)
D_BOOST = 1  # targeting boost of the disadvantaged, 1 + EQUITY_BOOST equity
D_CHORD = 2  # the chord that bounds the entry hazard's product from a person's mean need


def creaming_factors(mean_need: np.ndarray, equity: float, out: np.ndarray) -> None:
    """Each person's creaming factor ``(1 - mean need)^(3 (1 - equity))``, into ``out``.

    It depends only on the person's needs and the world's equity focus, so the population
    keeps it in an array refreshed when the equity focus changes (plain numpy, as the
    calibration's targeting weights); :func:`population_step` sets it for new entrants.
    """
    np.power(1.0 - mean_need, creaming_exponent(equity), out=out)


def creaming_exponent(equity: float) -> float:
    """The exponent of the creaming factor, ``CREAMING (1 - equity)``: 0 at full equity focus."""
    return CREAMING * (1.0 - equity)


def status_quo_multipliers(needs: np.ndarray, weight: np.ndarray, scale: float, wp: np.ndarray,
                           coverage: np.ndarray, barriers: np.ndarray, out: np.ndarray) -> None:
    """Each person's entry-hazard multiplier in a status-quo world, into ``out``.

    The product of :func:`population_step` for the world's row ``wp`` and ``coverage`` when
    the service intensity is ``min(1, scale * weight)``, with the same operations in the same
    order (so the same doubles); ``barriers`` (n, 2) holds each person's row of the kernel's
    ``barriers`` (the person's subgroup in this world). Used to calibrate the entry hazards.
    Plain numpy: it runs a few times a run.
    """
    s = np.minimum(1.0, scale * weight)
    out[:] = 1.0
    reachable = barriers[:, 0]
    structural = barriers[:, 1]
    for a in range(needs.shape[1]):
        help_ = wp[W_EFFICACY] * np.minimum(1.0, s * coverage[a] * wp[W_FIT] * wp[W_EFFECT])
        n = needs[:, a].astype(np.float64)
        out *= 1.0 - (n * reachable * (1.0 - help_) + n * structural)


def world_terms(rows: list[list[float]], A: int) -> np.ndarray:
    """The per-world terms :func:`population_step` takes, derived from the parameter rows.

    Per world (a row of the ``(2, 3)`` result, columns ``D_*``), from the worlds'
    parameter rows as Python lists (``wp.tolist()``) and the number of areas ``A``: the
    creaming exponent, the equity boost of the disadvantaged, and the chord that bounds
    the entry hazard's product from a person's mean need when the week's parameters are
    bounded (:func:`terms_bounded` and :func:`week_bounded`, decided each week; 0 where
    :func:`terms_bounded` already fails). When bounded, each factor is at most ``1 - need_a
    c`` with ``c = barrier (1 - efficacy)`` (help is at most the efficacy, and a structural
    share ``σ`` of the barrier is left at ``B_s >= barrier (1 - efficacy)`` instead), so the
    product is at most ``(1 - m c)^A`` (AM-GM, ``m`` the mean need), which is convex in ``m``
    and so at most the chord ``1 - m (1 - (1 - c)^A)`` on [0, 1]: a draw above ``h_in
    trend`` times that cannot be an entry.

    They depend only on each world's equity focus, barrier multiplier and efficacy, which
    change a few times a run: the population keeps them until these change.
    """
    terms = []
    for row in rows:  # Python floats: the same doubles
        eq = row[W_EQUITY]
        # (only where it can be used: out of range, the power may overflow)
        chord = (1.0 - (1.0 - row[W_BARRIER] * (1.0 - row[W_EFFICACY])) ** A
                 if terms_bounded(row) else 0.0)
        terms.append((creaming_exponent(eq), 1.0 + EQUITY_BOOST * eq, chord))
    return np.array(terms)


def terms_bounded(row: list[float]) -> bool:
    """The part of the bounded test that depends only on what :func:`world_terms` depends on.

    A world's parameters are *bounded* in a week when they keep every factor of the entry
    hazard's product in [0, 1]: then the product is at most the chord of :func:`world_terms`
    (``D_CHORD``), which lets :func:`population_step` skip people whose draw is above it. They
    are when both this and :func:`week_bounded` hold (False for a NaN anywhere); the
    population keeps this part until the terms change and tests the rest every week.

    This part: the equity focus, barrier multiplier and efficacy in [0, 1], and the
    structural-barrier multiplier between ``barrier (1 - efficacy)`` and 1 (``row``: a
    parameter row as a list).
    """
    eq, barrier, efficacy = row[W_EQUITY], row[W_BARRIER], row[W_EFFICACY]
    return (0.0 <= eq <= 1.0 and 0.0 <= barrier <= 1.0 and 0.0 <= efficacy <= 1.0
            and barrier * (1.0 - efficacy) <= row[W_SBARRIER] <= 1.0)


@_inner
def week_bounded(wp: np.ndarray, w: np.int64, coverage: np.ndarray) -> bool:
    """The rest of the bounded test (see :func:`terms_bounded`), from the week's parameters.

    Take-up, intensity, fit, effect, trend and every area's coverage >= 0 in world ``w``
    (``wp``: both worlds' parameter rows, ``coverage``: both worlds' area coverage, a row each).
    """
    if not (wp[w, W_TAKEUP] >= 0.0 and wp[w, W_CAP_NORM] >= 0.0 and wp[w, W_FIT] >= 0.0
            and wp[w, W_EFFECT] >= 0.0 and wp[w, W_TREND] >= 0.0):
        return False
    for a in range(coverage.shape[1]):  # noqa: SIM110 (numba compiles no generator in all)
        if not coverage[w, a] >= 0.0:  # (NaN coverage: not covered)
            return False
    return True


@_jit(opt=1, no_cfunc_wrapper=True)
def world_rows_of(wp: np.ndarray, first: np.ndarray, second: np.ndarray,
                  aggregates: np.ndarray, spread: bool, trend: float, efficacy: float,
                  equity_first: float, equity_second: float) -> None:
    """The population kernel's parameter rows of two worlds into ``wp`` (2, ``WP.N``).

    Row 0 from the figures ``first``, row 1 from ``second`` (:data:`cisim.world.FIGURES`):
    the fit (figure ``fit``), the effect, barrier and structural-barrier multipliers
    (``effect_multiplier``, ``barrier_multiplier``, ``structural_multiplier``), take-up
    (``engagement``), the given equity focus, efficacy and trend, and with ``spread`` the
    capacity per unit of targeting weight, ``service_capacity / max(weight, 1e-12)`` with row
    ``w``'s weight ``aggregates[w, 0]`` (0 without ``spread``).
    """
    for w in range(2):
        figures = first if w == 0 else second
        cap_norm = 0.0
        if spread:  # max(weight, 1e-12), as Python's max (a NaN weight stays)
            weight = aggregates[w, 0]
            cap_norm = figures[F_SERVICE_CAPACITY] / (1e-12 if weight < 1e-12 else weight)
        wp[w, W_CAP_NORM] = cap_norm
        wp[w, W_FIT] = figures[F_FIT]
        wp[w, W_EFFECT] = figures[F_EFFECT_MULTIPLIER]
        wp[w, W_BARRIER] = figures[F_BARRIER_MULTIPLIER]
        wp[w, W_TAKEUP] = figures[F_ENGAGEMENT]
        wp[w, W_EQUITY] = equity_first if w == 0 else equity_second
        wp[w, W_EFFICACY] = efficacy
        wp[w, W_TREND] = trend
        wp[w, W_SBARRIER] = figures[F_STRUCTURAL_MULTIPLIER]


#: Margin of the tests that skip work in the entry draw without changing its outcome:
#: ``1 - exp(-x) <= x`` for every real ``x``, and computed in floating point it exceeds ``x``
#: by at most ~3e-16, so a draw ``u > x + 1e-15`` cannot be below ``1 - exp(-x)``; and when
#: every factor of the hazard's product is in [0, 1] (bounded), ``x`` is at most
#: ``h_in (1 - mean need * chord)``, which the kernel inflates by ``1 + 1e-9`` against rounding.
_EXP_SKIP = 1e-15


@_inner
def _weight(prop: float, takeup: float, cream: float, boost: float) -> float:
    """Targeting weight of a person out of the outcome state (see :func:`population_step`)."""
    return (prop + takeup * (1.0 - prop)) * cream * boost


@_inner
def _move(acc: np.ndarray, G: np.int64, g0: np.int64, served0: bool, in00: bool, in10: bool,
          g1: np.int64, served1: bool, in01: bool, in11: bool) -> None:
    """Move one person's share of a chunk's counts from its old state to its new one.

    The counts (columns 2, 3 and 4 to 4 + 2 G of ``acc``) are integers held exactly in
    float64, so adding the booleans' differences in any order gives the same numbers.
    """
    for w in range(2):
        was = in00 if w == 0 else in10
        now = in01 if w == 0 else in11
        acc[w, 4 + G + g0] -= 1.0
        acc[w, 4 + G + g1] += 1.0
        acc[w, 4 + g0] -= 1.0 * was  # (1.0 * a boolean: 1.0 or 0.0, compiled or not)
        acc[w, 4 + g1] += 1.0 * now
        acc[w, 2] += 1.0 * served1 - 1.0 * served0
        acc[w, 3] += 1.0 * (served1 and now) - 1.0 * (served0 and was)


@_inner
def _replace(i: np.int64, k_sub: np.uint64, k_ent: np.uint64, k_need_a: np.uint64,
             k_need_b: np.uint64, share_cum: np.ndarray, entrant_rate: np.ndarray,
             need_mean: np.ndarray, need_sd: float, wd: np.ndarray, needs: np.ndarray,
             subgroup: np.ndarray, outcome: np.ndarray, exposure: np.ndarray,
             mean_need: np.ndarray, cream: np.ndarray) -> None:
    """Person ``i`` ages out and a new entrant takes the place: the same in both worlds.

    The entrant's subgroup follows the shares, its needs the subgroup's means plus normal
    noise (clipped to [0, 1]), and it starts in the outcome state with the subgroup's
    entrant rate, with no service received yet.
    """
    G, A = need_mean.shape
    us = _u01k(k_sub, i)
    g = 0
    while g < G - 1 and us >= share_cum[g]:
        g += 1
    subgroup[i] = g
    m = 0.0
    for a in range(A):
        v = need_mean[g, a] + need_sd * _normalk(k_need_a, k_need_b, i * A + a)
        v = v if v > 0.0 else 0.0
        needs[i, a] = v if v < 1.0 else 1.0  # clipped to [0, 1]
        m += float(needs[i, a])
    m /= A
    mean_need[i] = m
    for w in range(2):
        cream[w, i] = (1.0 - m) ** wd[w, D_EXPO]
    start = 1 if _u01k(k_ent, i) < entrant_rate[g] else 0
    outcome[0, i] = start
    outcome[1, i] = start
    exposure[i] = 0.0


@_jit(nogil=True, no_cfunc_wrapper=True)
def population_step(
    c_lo: np.int64,  # first chunk to update
    c_hi: np.int64,  # one past the last chunk
    keys: np.ndarray,  # (6,) uint64: the generator's keys of this step (see step_keys)
    needs: np.ndarray,  # (n, A) float32 barriers in [0, 1]
    subgroup: np.ndarray,  # (n,) int8
    propensity: np.ndarray,  # (n,) float32 engagement propensity
    outcome: np.ndarray,  # (2, n) uint8: world 0 factual, world 1 counterfactual
    exposure: np.ndarray,  # (n,) float32 service-years received in the factual world
    mean_need: np.ndarray,  # (n,) float64 mean barrier, kept up to date
    cream: np.ndarray,  # (2, n) float64 creaming factor per world (see creaming_factors)
    wp: np.ndarray,  # (2, WP.N) per-world parameters
    wd: np.ndarray,  # (2, 3) terms derived from them (columns D_*, see world_terms)
    bounded0: bool,  # the factual world's parameters are bounded this week (terms_bounded
    #                  and week_bounded)
    bounded1: bool,  # the counterfactual world's
    coverage: np.ndarray,  # (2, A) coverage of each strategy area, 0-1
    barriers: np.ndarray,  # (2, G, 2) per world, subgroup: [B (1 - σ_g), σ_g B_s]
    h_in: np.ndarray,  # (G,) weekly entry hazard scale per subgroup
    p_exit: np.ndarray,  # (G,) weekly chance of leaving the outcome state per subgroup
    disadvantaged: np.ndarray,  # (G,) bool
    turnover: float,  # weekly probability of ageing out (replaced by a new entrant)
    t_turn: np.int64,  # cisim.rng.threshold(turnover, or -1 if 0): the same test on integers
    t_exit: np.int64,  # cisim.rng.threshold(max(p_exit))
    share_cum: np.ndarray,  # (G,) cumulative subgroup shares for entrants
    entrant_rate: np.ndarray,  # (G,) probability that an entrant starts in the outcome state
    need_mean: np.ndarray,  # (G, A) mean barrier per subgroup and area
    need_sd: float,
    partial: np.ndarray,  # (n_chunks, 2, K) per-chunk aggregates, updated for c_lo..c_hi-1
    flag: np.ndarray,  # (CHUNK,) uint8 scratch, one per thread
) -> None:
    """Advance the beneficiaries of chunks ``c_lo..c_hi-1`` one week in both worlds.

    Each person's weekly hazard of entering the outcome state is
    ``h_in[g] * trend * prod_a (1 - r_a)`` where
    ``r_a = need_a * (B (1 - σ_g) (1 - efficacy * min(1, s * coverage_a * fit * effect))
    + σ_g B_s)`` is the barrier left in area ``a`` after the services the person receives
    (intensity ``s``): services reach the share ``1 - σ_g`` of the subgroup's barriers, which
    policy lowers by ``B`` (``barrier``); the structural share ``σ_g`` is out of their reach
    and lowered only by policy directed by an equity focus (``B_s``, ``wp``'s ``SBARRIER``).
    Needs are complementary, so an uncovered area blunts the help in the others. ``trend``
    (``wp``'s secular-trend column) is the same in both worlds. The
    targeting weight of a person out of the outcome state is ``t (1 - mean need)^(3 (1 - q))
    (1 + 2 q d)``: take-up ``t``, creaming unless the equity focus ``q`` is high, and extra
    weight ``d`` on disadvantaged subgroups. Random numbers are common to both worlds.

    Chunks are independent (each person's update reads and writes only that person), so they
    can run on any number of threads; each chunk's aggregates are in its own row of
    ``partial`` (:func:`add_chunks` adds them in chunk order: results do not depend on
    threads). Per chunk and world: weight sum of those not in the outcome state,
    service-years delivered, number ever served, number ever served in the outcome state, then
    per subgroup the count in the outcome state and the count, then per strategy area the unmet
    need among those not in the outcome state (``K = 4 + 2 G + A``). The sums (columns 0, 1
    and the unmet need) are recomputed every week; the counts are kept up to date person by
    person as states change (exact integers, so the same as recounting), so that the ~90% of
    people who stay in the outcome state in both worlds cost two random draws and no
    bookkeeping. ``partial``'s counts must hold the state's counts on entry (see
    :meth:`cisim.population.Population.recount`).
    """
    n, A = needs.shape
    G = h_in.shape[0]
    k_turn = keys[K_TURNOVER]
    k_trans = keys[K_TRANSITION]
    k_sub = keys[K_SUBGROUP]
    k_ent = keys[K_ENTRANT]
    k_need_a = keys[K_NEED_A]
    k_need_b = keys[K_NEED_B]
    # The first pass compares the draws' 53-bit integers with t_turn and t_exit, which decides
    # as comparing the draws with turnover and max(p_exit); the exact per-subgroup exit test
    # is in the second pass.
    out0 = outcome[0]  # (1-D views let the first pass vectorise)
    out1 = outcome[1]
    unmet = 4 + 2 * G  # the first column of the unmet need
    cream0 = cream[0]
    cream1 = cream[1]
    for c in range(c_lo, c_hi):
        lo = c * CHUNK
        hi = lo + CHUNK if lo + CHUNK < n else n
        acc = partial[c]
        wsum0 = wsum1 = ssum0 = ssum1 = 0.0
        for w in range(2):
            for a in range(A):
                acc[w, unmet + a] = 0.0
        # First pass, without branches (so it vectorises): flag who may age out, may leave
        # the outcome state, or is out of it in a world. Everyone else stays in it in both
        # worlds, needs no services and changes no count: two draws are all they cost.
        # (The chunk's views are indexed from 0: numba then need not wrap negative indices,
        # and the states are loaded a vector at a time rather than one by one.)
        in0_chunk = out0[lo:hi]
        in1_chunk = out1[lo:hi]
        for j in range(hi - lo):
            i = lo + j
            m_turn = np.int64(_mix(k_turn ^ np.uint64(i)) >> np.uint64(11))
            m_trans = np.int64(_mix(k_trans ^ np.uint64(i)) >> np.uint64(11))
            flag[j] = ((m_turn < t_turn) | (m_trans < t_exit)
                       | ((in0_chunk[j] & in1_chunk[j]) == 0))
        for j in range(hi - lo):
            if not flag[j]:
                continue
            i = lo + j
            # The person's index as an unsigned integer for the arrays (and the subgroup's,
            # gu, below): numba wraps a negative signed index, and cannot tell that i is not
            # one, at the cost of a few instructions at each of the ~40 reads and writes.
            iu = np.uint64(i)
            # Fetch the state of people further on while this one is computed (at 1,000,000
            # people it is out of cache, and about one in eight people is worked on).
            ahead = i + PREFETCH_AHEAD if i + PREFETCH_AHEAD < n else n - 1
            prefetch(needs, ahead * A)
            prefetch(propensity, ahead)
            prefetch(exposure, ahead)
            prefetch(mean_need, ahead)
            prefetch(cream0, ahead)
            prefetch(cream1, ahead)
            # The person's share of the counts before the update (moved if it changes).
            g_was = np.int64(subgroup[iu])
            served_was = exposure[iu] > 0.1
            in0_was = outcome[0, iu] == 1
            in1_was = outcome[1, iu] == 1
            if _u01k(k_turn, i) < turnover:
                _replace(i, k_sub, k_ent, k_need_a, k_need_b, share_cum, entrant_rate,
                         need_mean, need_sd, wd, needs, subgroup, outcome, exposure,
                         mean_need, cream)
            g = np.int64(subgroup[iu])
            gu = np.uint64(g)  # (subgroups are 0..G-1 by construction: none wraps)
            u = _u01k(k_trans, i)
            # A new entrant in the outcome state in both worlds and staying there needs no
            # services (s = 0) and adds nothing to the sums.
            stays = outcome[0, iu] == 1 and outcome[1, iu] == 1 and not u < p_exit[gu]
            # float32 state is widened explicitly, so that the pure-Python fallback
            # (NUMBA_DISABLE_JIT=1) computes in float64 exactly as the compiled kernel does.
            prop = float(propensity[iu])
            d = disadvantaged[gu]
            for w in range(0 if stays else 2):
                weight = -1.0  # computed only for those out of the outcome state
                s = 0.0
                takeup = wp[w, W_TAKEUP]
                boost = wd[w, D_BOOST] if d else 1.0
                if outcome[w, iu] == 0:
                    weight = _weight(prop, takeup, cream[w, iu], boost)
                    s = wp[w, W_CAP_NORM] * weight
                    s = s if s < 1.0 else 1.0  # min(1, s)
                    h = h_in[gu] * wp[w, W_TREND]
                    # The hazard is at most h (1 - mean need * chord) when bounded.
                    if not ((bounded0 if w == 0 else bounded1) and u > h * (
                            1.0 - mean_need[iu] * wd[w, D_CHORD]) * (1.0 + 1e-9) + _EXP_SKIP):
                        mult = 1.0
                        b_r = barriers[w, gu, 0]
                        b_s = barriers[w, gu, 1]
                        for a in range(A):
                            cov = s * coverage[w, a] * wp[w, W_FIT] * wp[w, W_EFFECT]
                            help_ = wp[w, W_EFFICACY] * (cov if cov < 1.0 else 1.0)
                            n_a = float(needs[iu, a])
                            mult *= 1.0 - (n_a * b_r * (1.0 - help_) + n_a * b_s)
                        x = h * mult
                        if u <= x + _EXP_SKIP and u < 1.0 - math.exp(-x):
                            outcome[w, iu] = 1
                elif u < p_exit[gu]:
                    outcome[w, iu] = 0
                sy = s / 52.0
                if w == 0:
                    exposure[iu] = float(exposure[iu]) + sy
                    ssum0 += sy
                else:
                    ssum1 += sy
                if outcome[w, iu] == 0:  # sums over those out of the outcome state
                    if weight < 0.0:  # just left the outcome state
                        weight = _weight(prop, takeup, cream[w, iu], boost)
                    if w == 0:
                        wsum0 += weight
                    else:
                        wsum1 += weight
                    for a in range(A):
                        acc[w, np.uint64(unmet + a)] += needs[iu, a] * wp[w, W_BARRIER]
            served = exposure[iu] > 0.1
            in0 = outcome[0, iu] == 1
            in1 = outcome[1, iu] == 1
            if g != g_was or served != served_was or in0 != in0_was or in1 != in1_was:
                _move(acc, G, g_was, served_was, in0_was, in1_was, g, served, in0, in1)
        acc[0, 0] = wsum0
        acc[1, 0] = wsum1
        acc[0, 1] = ssum0
        acc[1, 1] = ssum1


# The kernel and the parameter rows as helpers compiled into population_week (their own
# entries serve the kernel's threads and the model's set-up).
_step_helper = _inner(getattr(population_step, "py_func", population_step))
_rows_helper = _inner(getattr(world_rows_of, "py_func", world_rows_of))


@_jit(nogil=True, no_cfunc_wrapper=True)
def population_week(
    check: bool,  # work out the rows and check them against ``known`` first
    step: np.int64,
    trend: float,  # the secular trend's odds ratio at ``step``
    efficacy: float,
    equity_first: float,
    equity_second: float,
    first: np.ndarray,  # the factual world's figures
    second: np.ndarray,  # the counterfactual world's
    cov_first: np.ndarray,  # (A,) the factual world's area coverage
    cov_second: np.ndarray,
    known: np.ndarray,  # (8,) the terms the derived arguments were made from (see below)
    terms_ok: np.ndarray,  # (2,) bool: terms_bounded of each world's row
    key_table: np.ndarray,  # (steps, 6) uint64: the run's step keys, a row per step
    baseline: np.ndarray,  # (G,) the subgroups' baseline rates
    entrant: np.ndarray,  # (G,) scratch: the entrants' rates
    out: np.ndarray,  # (2, K) receives the week's aggregates
    history: np.ndarray,  # (2, steps + 1) each world's outcome rate by week
    aggregates: np.ndarray,  # (2, K) last week's
    needs: np.ndarray, subgroup: np.ndarray, propensity: np.ndarray, outcome: np.ndarray,
    exposure: np.ndarray, mean_need: np.ndarray, cream: np.ndarray, wp: np.ndarray,
    wd: np.ndarray, coverage: np.ndarray, barriers: np.ndarray, h_in: np.ndarray,
    p_exit: np.ndarray, disadvantaged: np.ndarray, turnover: float, t_turn: np.int64,
    t_exit: np.int64, share_cum: np.ndarray, need_mean: np.ndarray, need_sd: float,
    partial: np.ndarray, flag: np.ndarray,
) -> bool:
    """The population's week on one thread, in one call: rows, kernel, sums and rates.

    What :func:`cisim.population.world_rows` and :meth:`cisim.population.Population.step`
    do, with the same operations: both worlds' parameter rows into ``wp``
    (:func:`world_rows_of`, with ``spread``), the coverage into ``coverage``, the bounded
    test, the entrants' rates, :func:`population_step` over every chunk, the chunks' sums
    into ``out`` and each world's outcome rate into ``history`` at ``step``.

    With ``check``, it first compares the rows' equity focus, barrier multiplier, efficacy
    and structural-barrier multiplier of each world (``known``: the four of the factual world,
    then of the counterfactual) with what the derived arguments ``wd``, ``barriers``,
    ``terms_ok`` and the creaming factors were made from, and returns False, having only
    written ``wp``, when one differs (0.0 and -0.0 count as the same; a NaN never does): the
    caller derives them from ``wp`` and calls again without ``check``.

    Returns:
        True when the week is done.
    """
    if check:
        _rows_helper(wp, first, second, aggregates, True, trend, efficacy, equity_first,
                     equity_second)
        for w in range(2):
            if not (wp[w, W_EQUITY] == known[4 * w] and wp[w, W_BARRIER] == known[4 * w + 1]
                    and wp[w, W_EFFICACY] == known[4 * w + 2]
                    and wp[w, W_SBARRIER] == known[4 * w + 3]):
                return False
    for a in range(coverage.shape[1]):
        coverage[0, a] = cov_first[a]
        coverage[1, a] = cov_second[a]
    bounded0 = terms_ok[0] and week_bounded(wp, np.int64(0), coverage)
    bounded1 = terms_ok[1] and week_bounded(wp, np.int64(1), coverage)
    if trend == 1.0:
        for g in range(baseline.shape[0]):
            entrant[g] = baseline[g]
    else:
        entrant_rates(baseline, trend, entrant)
    _step_helper(np.int64(0), np.int64(partial.shape[0]), key_table[step], needs, subgroup,
                 propensity, outcome, exposure, mean_need, cream, wp, wd, bounded0, bounded1,
                 coverage, barriers, h_in, p_exit, disadvantaged, turnover, t_turn, t_exit,
                 share_cum, entrant, need_mean, need_sd, partial, flag)
    add_chunks(partial, out)
    if 0 <= step < history.shape[1]:
        G = np.int64(h_in.shape[0])
        history[0, step] = outcome_rate(out[0], np.int64(4), G)
        history[1, step] = outcome_rate(out[1], np.int64(4), G)
    return True


def recount(subgroup: np.ndarray, outcome: np.ndarray, exposure: np.ndarray, G: int,
            partial: np.ndarray) -> None:
    """Fill the per-chunk counts of ``partial`` (see :func:`population_step`) from the state.

    The kernel keeps these counts up to date as states change; this sets them from scratch
    (after the state is drawn or edited outside the kernel). Plain numpy: it runs once a run.
    """
    n = subgroup.shape[0]
    n_chunks = partial.shape[0]
    chunk = np.arange(n) // CHUNK
    cell = chunk * G + subgroup
    served = exposure.astype(np.float64) > 0.1  # as the kernel compares, in float64
    for w in range(2):
        is_in = outcome[w] == 1
        partial[:, w, 2] = np.bincount(chunk, weights=served, minlength=n_chunks)
        partial[:, w, 3] = np.bincount(chunk, weights=served & is_in, minlength=n_chunks)
        partial[:, w, 4:4 + G] = np.bincount(
            cell, weights=is_in, minlength=n_chunks * G).reshape(n_chunks, G)
        partial[:, w, 4 + G:4 + 2 * G] = np.bincount(
            cell, minlength=n_chunks * G).reshape(n_chunks, G)


@_inner
def add_chunks(partial: np.ndarray, out: np.ndarray) -> None:
    """The chunks' aggregates added in chunk order into ``out`` (the same on any number of threads).

    Starting from the first chunk rather than from zeros gives the same bits: the kernel's sums
    start at +0.0 and its counts are whole numbers, so no entry is -0.0, the one double that
    0.0 + x would change. (Loops, not numpy's array expressions: numba compiles those with
    their shape checks and error messages, ~2.5 s of first compile.)
    """
    for w in range(out.shape[0]):
        for k in range(out.shape[1]):
            out[w, k] = partial[0, w, k]
    for c in range(1, partial.shape[0]):
        for w in range(out.shape[0]):
            for k in range(out.shape[1]):
                out[w, k] += partial[c, w, k]


def sum_chunks(partial: np.ndarray) -> np.ndarray:
    """:func:`add_chunks` in numpy, into a new, read-only array (the kernel's threaded path).

    The same additions in the same order, a chunk's array at a time. Read-only: the
    population's views on the aggregates (and the model's need shares) are kept while the
    aggregates are the same object, so a write in place must fail rather than leave them stale.
    """
    out = partial[0].copy()
    for c in range(1, partial.shape[0]):
        out += partial[c]
    out.flags.writeable = False
    return out


@_inner
def outcome_rate(counts, first: np.int64, G: np.int64) -> float:
    """A world's outcome rate from its counts: in the outcome state per subgroup, then sizes.

    ``counts[first:first + 2 G]`` holds the ``2 G`` counts (``counts``: an array, or a list
    from Python); the size is taken as at least 1 (an empty world's rate is 0). The counts are
    whole numbers, held exactly, so the sums are the same in any order.
    """
    inside = 0.0
    size = 0.0
    for g in range(G):
        inside += counts[first + g]
    for g in range(G):
        size += counts[first + G + g]
    return inside / (size if size > 1.0 else 1.0)  # max(1.0, size), as Python's max


@_inner
def entrant_rates(baseline: np.ndarray, trend: float, out: np.ndarray) -> None:
    """The entrants' chance of starting in the outcome state per subgroup, into ``out``.

    Each subgroup's baseline odds times the secular trend's odds ratio ``trend``
    (:meth:`cisim.population.Population.trend_multiplier`), as a probability.
    """
    for g in range(baseline.shape[0]):
        odds = baseline[g] / (1.0 - baseline[g]) * trend
        out[g] = odds / (1.0 + odds)


#: Populations below this many chunks run the population kernel on one thread: waking a thread
#: costs more than it saves. Results are the same on any number of threads.
PARALLEL_MIN_CHUNKS = 4


@_inner
def past_rate_rule(history: np.ndarray, step: int) -> float:
    """A world's outcome rate after ``step`` from its history (NaN: a week not reached yet).

    ``step`` is clamped to the history's weeks; a week not reached yet gives the latest known
    rate before it. The history's first week must be known (the caller sees to it).
    """
    last = history.shape[0] - 1
    step = step if step > 0 else 0  # min(max(step, 0), last)
    step = step if step < last else last
    value = history[step]
    while value != value:  # not reached yet: the latest known value
        step -= 1
        value = history[step]
    return value
