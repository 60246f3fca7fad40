"""The beneficiary population: struct-of-arrays state, calibration, and the weekly update.

Each beneficiary has barriers (needs) over the strategy areas, a subgroup, an engagement
propensity, and an outcome state in each world (factual and counterfactual). The entry hazard
of each subgroup is calibrated so that, with the services of the status quo (the partners
working alone, before the initiative's money), the expected outcome rate equals the subgroup's
``baseline_rate``: the counterfactual then shows "the curve" without the initiative (the NCIOM task
force's Results-Based Accountability baseline). The hot loop is
:func:`cisim._population.population_step`.

A secular trend (``dynamics.trend_pp_per_year``) moves the status quo's outcome rate the same
way in both worlds: the entry hazards and the entrants' odds of starting in the outcome state
are multiplied by the odds ratio that takes the population's baseline rate ``p0`` to
``p0 + trend · years`` (Measure of America's opportunity-youth series, *A Decade Undone*, 2020,
and *Ensuring an Equitable Recovery*, 2022: from 14.7% in 2010 to about 10.9% in 2022, about
-0.3 points a year of disconnection, partly cyclical). A subgroup's *structural barrier* is
the share of its barriers that services do not reach; policy change lowers it only as far as
an equity focus directs policy at it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numba
import numpy as np
from scipy.optimize import brentq

from cisim._population import (
    CHUNK,
    EQUITY_BOOST,
    PARALLEL_MIN_CHUNKS,
    creaming_exponent,
    creaming_factors,
    entrant_rates,
    outcome_rate,
    past_rate_rule,
    population_step,
    population_week,
    recount,
    status_quo_multipliers,
    sum_chunks,
    terms_bounded,
    week_bounded,
    world_rows_of,
    world_terms,
)
from cisim.kernels import WP, run_step_keys, step_keys
from cisim.rng import threshold
from cisim.scenario import STEPS_PER_YEAR, Scenario
from cisim.world import equity_focus

# the compiled rules of a past rate, an outcome rate, the entrants' rates and the bounded test,
# as Python functions (one copy of each rule)
_past_rate = getattr(past_rate_rule, "py_func", past_rate_rule)
_outcome_rate = getattr(outcome_rate, "py_func", outcome_rate)
_entrant_rates = getattr(entrant_rates, "py_func", entrant_rates)
_week_bounded = getattr(week_bounded, "py_func", week_bounded)

if TYPE_CHECKING:
    from cisim.world import World

__all__ = ["Population", "world_row", "world_rows"]


class Population:
    """The beneficiaries of one run, shared by both worlds."""

    def __init__(self, sc: Scenario, rng: np.random.Generator):
        pop = sc.population
        A = len(sc.strategy_areas)
        groups = pop.subgroups
        self.n = pop.size
        self.G = len(groups)
        self.group_names = [g.name for g in groups]
        shares = np.array([g.share for g in groups])
        self.share_cum = np.cumsum(shares)
        self.share_cum[-1] = 1.0
        self.need_mean = np.array(
            [g.needs if g.needs is not None else [g.need_level] * A for g in groups], dtype=float
        )
        self.need_sd = pop.need_spread
        self.baseline = np.array([g.baseline_rate for g in groups])
        self.disadvantaged = np.array([g.disadvantaged for g in groups], dtype=np.bool_)
        self.structural = np.array([
            g.structural_barrier if g.structural_barrier is not None
            else (sc.dynamics.structural_barrier if g.disadvantaged else 0.0)
            for g in groups
        ])
        self.base_rate = float((shares * self.baseline).sum())
        self.trend_pp = sc.dynamics.trend_pp_per_year
        self.subgroup = np.searchsorted(self.share_cum, rng.random(self.n), side="right")
        self.subgroup = np.minimum(self.subgroup, self.G - 1).astype(np.int8)
        noise = rng.standard_normal((self.n, A), dtype=np.float32) * np.float32(self.need_sd)
        self.needs = np.clip(self.need_mean[self.subgroup].astype(np.float32) + noise, 0, 1)
        self.propensity = rng.beta(2.0, 3.0, self.n).astype(np.float32)
        self.exposure = np.zeros(self.n, dtype=np.float32)
        self.outcome = np.zeros((2, self.n), dtype=np.uint8)
        self.h_out = np.full(self.G, 1.0 - np.exp(-pop.exit_rate_per_year / STEPS_PER_YEAR))
        self.h_out = -np.log1p(-self.h_out)  # weekly hazard
        # weekly chance of leaving (libm's exp, as the reference model computes it)
        self.p_exit = np.array([1.0 - math.exp(-h) for h in self.h_out])
        years = pop.years_in_population
        self.turnover = 1.0 / (years * STEPS_PER_YEAR) if years > 0 else 0.0
        # the kernel's first pass compares draws as integers with these (see rng.threshold)
        self._t_turn = np.int64(threshold(self.turnover if self.turnover > 0 else -1.0))
        self._t_exit = np.int64(threshold(self.p_exit.max()))
        self.h_in = np.zeros(self.G)
        # what the calibration could not do (see calibration_notes)
        self.calibration_shortfall = np.zeros(self.G)
        self.calibration_empty = np.zeros(self.G, dtype=np.bool_)
        # Read-only, as every later value (see sum_chunks): what is worked out from them is
        # kept while they are the same object.
        self.aggregates = np.zeros((2, 4 + 2 * self.G + A))
        self.aggregates.flags.writeable = False
        # outcome rate of each world after each step (0: the initial state), for the lag of
        # measured outcomes (see past_rate)
        self.rate_history = np.full((2, sc.steps + 1), np.nan)
        self._init_rng = rng
        # Per-person caches the kernel keeps up to date (they change only on replacement).
        self.mean_need = np.empty(self.n)
        self.cream = np.empty((2, self.n))
        self._cream_equity = [np.nan, np.nan]
        # the kernel's derived terms and barriers (see refresh_caches), what they were made
        # from, and each world's part of the bounded test, as arrays (the compiled week's too)
        self._derived: tuple[np.ndarray, np.ndarray]
        self._known = np.empty(8)
        self._terms_ok = np.zeros(2, dtype=np.bool_)
        self.refresh_caches()
        # Per-chunk aggregates of the kernel; its counts are kept up to date by the kernel
        # once set from the state (``recount``; ``_counted`` is False until then).
        self._partial = np.zeros(((self.n + CHUNK - 1) // CHUNK, 2, 4 + 2 * self.G + A))
        self._scratch = [np.empty(CHUNK, np.uint8)]  # the kernel's per-thread flag buffers
        self._coverage = np.empty((2, A))  # the week's coverage of both worlds (see serve, step)
        self._wp = np.empty((2, WP.N))  # the week's parameter rows (see serve)
        self._entrant = np.empty(self.G)  # the week's entrants' rates (see serve)
        self._counted = False
        # the step keys, a table made once a run
        self._keys: tuple[int, np.ndarray] | None = None
        self._rates: tuple[np.ndarray, tuple[float, float]] | None = None

    def __setstate__(self, state: dict) -> None:
        """Restore a copied or unpickled population, its aggregates read-only again.

        A copy of an array does not keep numpy's read-only flag; the aggregates must keep it
        (see :func:`cisim._population.sum_chunks`), and the compiled weeks take them as
        read-only arrays (a writable one would make numba compile them again).
        """
        self.__dict__.update(state)
        self.aggregates.flags.writeable = False

    def refresh_caches(self) -> None:
        """Recompute each person's mean need and creaming factors (after editing ``needs``)."""
        # Added area by area in float64, in the order the kernel adds a new entrant's needs.
        A = self.needs.shape[1]
        self.mean_need[:] = self.needs[:, 0]
        for a in range(1, A):
            self.mean_need += self.needs[:, a]
        self.mean_need /= A
        self._cream_equity = [np.nan, np.nan]
        # What the kernel's other arguments are derived from (``_known``, per world: the
        # equity focus, barrier multiplier, efficacy and structural-barrier multiplier), with
        # the derived terms and barriers, kept until it changes (a few times a run; see step):
        # none yet (a NaN equals nothing), so that they and the creaming factors are made anew.
        self._derived = (np.empty((0, 3)), np.empty((0, self.G, 2)))
        self._known[:] = np.nan
        self._terms_ok[:] = False

    # ---- calibration ----------------------------------------------------------------------

    def calibrate(self, wp: np.ndarray, coverage: np.ndarray, capacity: float) -> None:
        """Set entry hazards so the status quo reproduces the baseline rates, then draw states.

        Args:
            wp: (WP.N,) parameters of the status-quo world.
            coverage: (A,) its area coverage.
            capacity: its effective service capacity (service-years per year).

        A subgroup whose baseline rate no hazard reaches is calibrated to the closest rate it
        can attain (:func:`entry_hazard`); :meth:`calibration_notes` says so.
        """
        weight = self.targeting_weight(wp)
        p_in = self.baseline[self.subgroup].astype(float)
        members = [np.flatnonzero(self.subgroup == g) for g in range(self.G)]
        self.calibration_empty[:] = [not idx.size for idx in members]
        mult = np.empty(self.n)
        barriers = self.barriers(wp[None, :])[0][self.subgroup]
        for _ in range(4):  # fixed point: who is out determines how thinly services spread
            w_sum = float(((1 - p_in) * weight).sum())
            status_quo_multipliers(self.needs, weight, capacity / max(w_sum, 1e-12), wp,
                                   coverage, barriers, mult)
            for g in range(self.G):
                idx = members[g]
                # a subgroup nobody was drawn into (its entrants may still arrive): calibrated
                # on everyone's multipliers, the closest stand-in for people not yet there
                m_g = mult[idx] if idx.size else mult
                h_out = self.h_out[g]
                target = self.baseline[g]
                r = np.empty_like(m_g)
                q = np.empty_like(m_g)

                def gap(h: float, m_g: np.ndarray = m_g, h_out: float = h_out,
                        target: float = target, r: np.ndarray = r, q: np.ndarray = q) -> float:
                    np.multiply(h, m_g, out=r)
                    np.add(r, h_out, out=q)
                    np.divide(r, q, out=r)
                    return float(r.mean()) - target

                self.h_in[g], self.calibration_shortfall[g] = entry_hazard(gap)
                if idx.size:
                    r = self.h_in[g] * m_g
                    p_in[idx] = r / (r + h_out)
        start = (self._init_rng.random(self.n) < p_in).astype(np.uint8)
        self.outcome[0] = start
        self.outcome[1] = start
        self._counted = False

    def calibration_notes(self) -> list[str]:
        """What the last :meth:`calibrate` could not do, one readable sentence per subgroup.

        A subgroup nobody was drawn into is calibrated on the whole population's multipliers;
        a subgroup whose baseline rate no entry hazard reaches gets the hazard that comes
        closest (:func:`entry_hazard`), and its status quo starts below its baseline rate.
        """
        notes = []
        for g, name in enumerate(self.group_names):
            if self.calibration_empty[g]:
                notes.append(f"subgroup '{name}' has no members at the start; its entry hazard "
                             "is calibrated on the whole population")
            if self.calibration_shortfall[g] > 0:
                short = self.calibration_shortfall[g]
                notes.append(
                    f"subgroup '{name}': no entry hazard reaches its baseline rate "
                    f"{self.baseline[g]:.4g} under the status quo (barriers no service lowers); "
                    f"calibrated to the closest attainable rate {self.baseline[g] - short:.4g}, "
                    f"{100 * short:.3g} points short")
        return notes

    def targeting_weight(self, wp: np.ndarray) -> np.ndarray:
        """Who services reach in a world with parameters ``wp`` (as the kernel computes it)."""
        mean_need = self.mean_need  # = needs.mean(axis=1, dtype=float), kept by the kernel
        takeup = self.propensity + wp[WP.TAKEUP] * (1 - self.propensity)
        dis = self.disadvantaged[self.subgroup]
        eq = wp[WP.EQUITY]
        return takeup * (1 - mean_need) ** creaming_exponent(eq) * (1 + EQUITY_BOOST * eq * dis)

    def entrant_rate(self, trend: float = 1.0) -> np.ndarray:
        """Chance that a new entrant starts in the outcome state, per subgroup.

        Args:
            trend: The secular-trend multiplier on the odds (:meth:`trend_multiplier`).
        """
        if trend == 1.0:
            return self.baseline
        out = np.empty(self.G)
        _entrant_rates(self.baseline, trend, out)
        return out

    def trend_multiplier(self, step: int) -> float:
        """Odds ratio of the status quo's outcome rate at ``step`` to the baseline's.

        The population's baseline rate moves ``dynamics.trend_pp_per_year`` points a year
        (kept within [0.5%, 99.5%]); 1 without a trend.
        """
        if self.trend_pp == 0.0 or step <= 0:
            return 1.0
        p0 = self.base_rate
        p = min(0.995, max(0.005, p0 + self.trend_pp / 100.0 * step / STEPS_PER_YEAR))
        return (p / (1.0 - p)) / (p0 / (1.0 - p0))

    def barriers(self, wp: np.ndarray) -> np.ndarray:
        """(worlds, G, 2) barrier multipliers of the kernel: services' share and structural.

        ``[..., 0]`` is the policy multiplier ``B`` times the share services reach,
        ``1 - σ_g``; ``[..., 1]`` the structural share ``σ_g`` times its own multiplier
        ``B_s`` (policy directed by an equity focus).
        """
        # in Python floats (the same products), one array at the end
        structural = self.structural.tolist()
        return np.array([[(row[WP.BARRIER] * (1.0 - s), s * row[WP.SBARRIER]) for s in structural]
                         for row in wp.tolist()], dtype=np.float64).reshape(-1, self.G, 2)

    # ---- weekly update ----------------------------------------------------------------------

    def serve(self, sc: Scenario, worlds: tuple[World, World], seed: np.uint64,
              step: int) -> None:
        """The week of both worlds' beneficiaries: :func:`world_rows`, then :meth:`step`.

        On one kernel thread (:func:`kernel_threads_for` the population's chunks) and within
        the run's steps, the whole week is one compiled call,
        :func:`cisim._population.population_week`, with the same numbers; otherwise (threads,
        or a step beyond the run's table of step keys) the rows, then :meth:`step`.
        """
        first, second = worlds
        n_chunks = self._partial.shape[0]
        table = self._step_key_table(seed)
        if kernel_threads_for(n_chunks) > 1 or not 0 <= step < table.shape[0]:
            self.step(seed, step, world_rows(sc, worlds, self, step),
                      (first.coverage, second.coverage))
            return
        if not self._counted:
            self.recount()
        out = np.empty(self.aggregates.shape)
        derived = self._derived
        check = True
        while not population_week(
                check, step, self.trend_multiplier(step), sc.dynamics.service_efficacy,
                equity_focus(sc, first), equity_focus(sc, second), first.figures,
                second.figures, first.coverage, second.coverage, self._known, self._terms_ok,
                table, self.baseline, self._entrant, out, self.rate_history, self.aggregates,
                self.needs, self.subgroup, self.propensity, self.outcome, self.exposure,
                self.mean_need, self.cream, self._wp, derived[0], self._coverage, derived[1],
                self.h_in, self.p_exit, self.disadvantaged, self.turnover, self._t_turn,
                self._t_exit, self.share_cum, self.need_mean, self.need_sd, self._partial,
                self._scratch[0]):
            rows = self._wp.tolist()  # (the terms changed: made again from the week's rows)
            derived = self._derive(self._terms_key(rows), rows, self._wp)
            check = False
        out.flags.writeable = False  # (as sum_chunks' result)
        self.aggregates = out

    def step(self, seed: np.uint64, step: int, wp: np.ndarray,
             coverage: np.ndarray | tuple[np.ndarray, np.ndarray]) -> None:
        """Advance both worlds one week (see :func:`cisim._population.population_step`).

        Args:
            seed: The run's seed (the generator's keys of the step are derived from it).
            step: The step.
            wp: (2, WP.N) both worlds' parameter rows.
            coverage: Both worlds' (A,) area coverage: a (2, A) array, or a pair of arrays.

        Large populations are split over :func:`kernel_threads` threads by chunk; the result
        does not depend on the number of threads.
        """
        rows = wp.tolist()
        r0 = rows[0]
        # The derived terms, barriers and creaming factors are functions of these, kept until
        # one changes (comparing 0.0 and -0.0 as equal: their terms and creaming factors are
        # the same doubles, and their barriers differ only in the sign of a zero, which leaves
        # each factor 1 - (...) of the kernel's product the same).
        key = self._terms_key(rows)
        if key != tuple(self._known.tolist()):
            self._derive(key, rows, wp)
        terms, barriers = self._derived
        ok0, ok1 = self._terms_ok.tolist()
        if not self._counted:
            self.recount()
        keys = self.keys_of_step(seed, step)
        # both worlds' coverage, a row each (copied into an array kept for it: the kernel reads
        # the rows of one array faster than it picks one of two arrays per person)
        both = self._coverage
        both[0] = coverage[0]
        both[1] = coverage[1]
        # whether the kernel may skip by the chord bound (see cisim._population.terms_bounded)
        bounded0 = ok0 and _week_bounded(wp, 0, both)
        bounded1 = ok1 and _week_bounded(wp, 1, both)
        partial = self._partial
        args = (
            keys, self.needs, self.subgroup, self.propensity, self.outcome, self.exposure,
            self.mean_need, self.cream, wp, terms, bounded0, bounded1, both, barriers,
            self.h_in, self.p_exit, self.disadvantaged, self.turnover, self._t_turn,
            self._t_exit, self.share_cum, self.entrant_rate(r0[WP.TREND]), self.need_mean,
            self.need_sd, partial,
        )
        n_chunks = partial.shape[0]
        threads = kernel_threads_for(n_chunks)
        if threads <= 1:
            population_step(0, n_chunks, *args, self._scratch[0])
        else:
            flags = self._flags(threads)
            bounds = [n_chunks * k // threads for k in range(threads + 1)]
            pool = _thread_pool(threads - 1)
            futures = [pool.submit(population_step, bounds[k], bounds[k + 1], *args, flags[k])
                       for k in range(1, threads)]
            population_step(0, bounds[1], *args, flags[0])
            for f in futures:
                f.result()
        self.aggregates = sum_chunks(partial)
        self._remember_rates(step)

    @staticmethod
    def _terms_key(rows: list[list[float]]) -> tuple[float, ...]:
        """What the derived arguments depend on (see :meth:`step`), from both rows as lists."""
        r0, r1 = rows
        return (r0[WP.EQUITY], r0[WP.BARRIER], r0[WP.EFFICACY], r0[WP.SBARRIER],
                r1[WP.EQUITY], r1[WP.BARRIER], r1[WP.EFFICACY], r1[WP.SBARRIER])

    def _derive(self, key: tuple, rows: list[list[float]], wp: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
        """What the kernel takes of ``key`` (see :meth:`step`), and the creaming factors.

        The terms and the barriers (``_derived``, returned), ``key`` (``_known``) and each
        world's part of the bounded test (``_terms_ok``, :func:`cisim._population.terms_bounded`);
        a world's creaming factors are made anew when its equity focus changes.
        """
        for w in range(2):
            if rows[w][WP.EQUITY] != self._cream_equity[w]:
                creaming_factors(self.mean_need, rows[w][WP.EQUITY], self.cream[w])
                self._cream_equity[w] = rows[w][WP.EQUITY]
        self._derived = (world_terms(rows, self.needs.shape[1]), self.barriers(wp))
        self._known[:] = key
        self._terms_ok[:] = (terms_bounded(rows[0]), terms_bounded(rows[1]))
        return self._derived

    def keys_of_step(self, seed: np.uint64, step: int) -> np.ndarray:
        """:func:`cisim.kernels.step_keys` of ``step``, from a table of the run's steps."""
        table = self._step_key_table(seed)
        if 0 <= step < table.shape[0]:
            return table[step]
        return step_keys(seed, step)

    def _step_key_table(self, seed: np.uint64) -> np.ndarray:
        """:func:`cisim.kernels.run_step_keys` of the run's steps, made once a run."""
        known = self._keys
        if known is None or known[0] != seed:
            known = self._keys = (seed, run_step_keys(seed, self.rate_history.shape[1]))
        return known[1]

    def _remember_rates(self, step: int) -> None:
        history = self.rate_history
        if 0 <= step < history.shape[1]:
            history[0, step], history[1, step] = self.rates()

    def past_rate(self, w: int, step: int) -> float:
        """Outcome rate of world ``w`` after ``step`` (clamped to the run's steps).

        The latest known rate if ``step`` has not been reached yet; the current rate before
        the initial state is known (while the model is set up).
        """
        history = self.rate_history[w]
        if math.isnan(history[0]):
            return self.rate(w)
        return float(_past_rate(history, step))  # (the compiled week's rule, as Python)

    def _flags(self, threads: int) -> list[np.ndarray]:
        """A scratch buffer for each of ``threads`` kernel threads (kept between steps)."""
        while len(self._scratch) < threads:
            self._scratch.append(np.empty(CHUNK, np.uint8))
        return self._scratch

    def recount(self) -> None:
        """Set the kernel's per-chunk counts from the state (it keeps them up to date after).

        Needed once the state is drawn, and again after editing ``outcome``, ``subgroup`` or
        ``exposure`` outside the kernel.
        """
        recount(self.subgroup, self.outcome, self.exposure, self.G, self._partial)
        self._counted = True

    def initial_aggregates(self, wp: np.ndarray) -> None:
        """Aggregates of the initial state (the kernel's layout), without stepping."""
        A = self.needs.shape[1]
        G = self.G
        self.recount()
        out = np.zeros((2, 4 + 2 * G + A))
        out[:, 2:4 + 2 * G] = self._partial[:, :, 2:4 + 2 * G].sum(axis=0)
        for w in range(2):
            weight = self.targeting_weight(wp[w])
            off = self.outcome[w] == 0
            out[w, 0] = weight[off].sum()
            out[w, 4 + 2 * G:] = (self.needs[off] * wp[w, WP.BARRIER]).sum(axis=0)
        out.flags.writeable = False  # (as sum_chunks' result: views on it are kept)
        self.aggregates = out
        self._remember_rates(0)

    # ---- views on the aggregates ------------------------------------------------------------

    def in_outcome(self, w: int | slice) -> np.ndarray:
        """Count in the outcome state per subgroup in world ``w``.

        ``slice(None)`` gives both worlds, a row each.
        """
        return self.aggregates[w, 4: 4 + self.G]

    def group_sizes(self, w: int | slice) -> np.ndarray:
        """Size of each subgroup in world ``w`` (``slice(None)``: both, a row each)."""
        return self.aggregates[w, 4 + self.G: 4 + 2 * self.G]

    def unmet_need(self, w: int) -> np.ndarray:
        """Unmet need per strategy area among those not in the outcome state."""
        return self.aggregates[w, 4 + 2 * self.G:]

    def served(self, w: int) -> tuple[float, float, float]:
        """(service-years this week, ever served, ever served and in the outcome state)."""
        a = self.aggregates[w]
        return float(a[1]), float(a[2]), float(a[3])

    def rate(self, w: int) -> float:
        """Outcome rate in world ``w``."""
        return self.rates()[w]

    def rates(self) -> tuple[float, float]:
        """The outcome rates of both worlds, ``(rate(0), rate(1))``, from one read of the counts.

        Kept while the aggregates are the same object (the population replaces them when it
        steps, and they are read-only, so they do not change in place), since a week asks for
        them more than once.
        """
        aggregates = self.aggregates
        known = self._rates
        if known is not None and known[0] is aggregates:  # held, so not another's address
            return known[1]
        G = self.G
        # the counts in the outcome state and the sizes of both worlds, from one read; they
        # are whole numbers (held exactly), so Python's sum gives numpy's sums bit for bit
        c0, c1 = aggregates[:, 4: 4 + 2 * G].tolist()
        r0 = _outcome_rate(c0, 0, G)
        r1 = _outcome_rate(c1, 0, G)
        self._rates = (aggregates, (r0, r1))
        return r0, r1


#: Bracket of the weekly entry hazard the calibration searches. At the top (4^10, about a
#: million a week) anyone services can reach enters within the week: a subgroup that still
#: falls short of its baseline rate there cannot reach it at any hazard (see
#: :func:`entry_hazard`).
MIN_ENTRY_HAZARD = 1e-12
MAX_ENTRY_HAZARD = 4.0**10


def entry_hazard(gap: Callable[[float], float]) -> tuple[float, float]:
    """The weekly entry hazard at which a subgroup's status-quo rate meets its baseline rate.

    ``gap(h)`` is the subgroup's expected status-quo outcome rate at entry hazard ``h`` minus
    its baseline rate: ``-baseline_rate`` at ``h = 0`` and increasing in ``h``. The root is
    found with ``scipy.optimize.brentq`` (``xtol`` 1e-12) in ``[1e-12, hi]``, where ``hi`` is
    the first of 1, 4, 16, ... 4^10 at which the gap is no longer negative (in ``[0, 1e-12]``
    when even 1e-12 overshoots a tiny baseline rate).

    When no hazard reaches the baseline rate (people whose barriers in some area no service
    lowers cannot enter the outcome state at all, or a baseline rate within a hair of 1), the
    hazard is the top of the bracket, where the rate comes closest to the baseline, and the
    shortfall says by how much it falls short.

    Returns:
        ``(hazard, shortfall)``: the shortfall is the baseline rate minus the attainable rate
        (a fraction; 0 when the root exists).

    Raises:
        ValueError: The gap is not a number (NaN multipliers).
    """
    lo = MIN_ENTRY_HAZARD
    g_lo = gap(lo)
    if g_lo > 0:  # a tiny baseline rate: the root lies below 1e-12 (gap(0) < 0)
        return float(brentq(gap, 0.0, lo, xtol=lo * 1e-12)), 0.0
    hi = 1.0
    while (g_hi := gap(hi)) < 0 and hi < MAX_ENTRY_HAZARD:
        hi *= 4
    if math.isnan(g_lo) or math.isnan(g_hi):
        raise ValueError("the status-quo rate of a subgroup is not a number")
    if g_hi < 0:  # unattainable: the closest rate, at the top of the bracket
        return hi, -g_hi
    return float(brentq(gap, lo, hi, xtol=1e-12)), 0.0


def kernel_threads() -> int:
    """Threads for the population kernel.

    numba's thread count: ``NUMBA_NUM_THREADS`` (joblib's workers get 1), or what
    ``numba.set_num_threads`` set in this thread.
    """
    from numba.np.ufunc import parallel

    if parallel._is_initialized:  # numba's thread pool is up: honour set_num_threads
        return int(numba.get_num_threads())
    return int(numba.config.NUMBA_NUM_THREADS)


def kernel_threads_for(n_chunks: int) -> int:
    """Threads the population kernel runs ``n_chunks`` chunks on.

    One below :data:`PARALLEL_MIN_CHUNKS` chunks (waking a thread costs more than it saves),
    else :func:`kernel_threads`, at most one per chunk.
    """
    return min(kernel_threads(), n_chunks) if n_chunks >= PARALLEL_MIN_CHUNKS else 1


_POOL: tuple[int, ThreadPoolExecutor] | None = None


def _thread_pool(workers: int) -> ThreadPoolExecutor:
    """A process-wide pool of at least ``workers`` threads (a new one after a fork)."""
    global _POOL
    if _POOL is None or _POOL[0] != os.getpid() or _POOL[1]._max_workers < workers:
        _POOL = (os.getpid(), ThreadPoolExecutor(workers, thread_name_prefix="cisim-population"))
    return _POOL[1]


def world_row(sc: Scenario, world: World, population: Population, w: int, step: int,
              spread: bool = True) -> np.ndarray:
    """The population kernel's parameter row for world ``w`` (columns :class:`cisim.kernels.WP`).

    What the week's services are to the beneficiaries: the fit of the services
    (:mod:`cisim.mechanisms.activities`), the effectiveness and barrier multipliers of changed
    systems (:func:`cisim.mechanisms.systems_change.set_multipliers`), take-up from engagement,
    the equity focus (none in an isolated world), the service efficacy and the secular trend. With
    ``spread`` the row also says how thinly the world's service capacity spreads over the
    targeting weight of those out of the outcome state (not known before calibration).
    Built from the world's figures by :func:`cisim._population.world_rows_of`.
    """
    equity = equity_focus(sc, world)
    wp = np.empty((2, WP.N))
    # both rows of the one world: row w is the world's with world w's targeting weight
    world_rows_of(wp, world.figures, world.figures, population.aggregates, spread,
                  population.trend_multiplier(step), sc.dynamics.service_efficacy, equity,
                  equity)
    return wp[w]


def world_rows(sc: Scenario, worlds: tuple[World, World], population: Population,
               step: int) -> np.ndarray:
    """:func:`world_row` of both worlds (with ``spread``), a row each: the week's ``wp``."""
    first, second = worlds
    wp = np.empty((2, WP.N))
    world_rows_of(wp, first.figures, second.figures, population.aggregates, True,
                  population.trend_multiplier(step), sc.dynamics.service_efficacy,
                  equity_focus(sc, first), equity_focus(sc, second))
    return wp
