"""The beneficiary population: struct-of-arrays state, calibration, and the weekly update.

Each beneficiary has barriers (needs) over the strategy areas, a subgroup, an engagement
propensity, and an outcome state in each world (factual and counterfactual). The entry hazard
of each subgroup is calibrated so that, with the services of the status quo (the partners
working alone, before the initiative's money), the expected outcome rate equals the subgroup's
``baseline_rate``: the counterfactual then shows "the curve" without the initiative (seed 003's
Results-Based Accountability baseline). The hot loop is :func:`cisim.kernels.population_step`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numba
import numpy as np
from scipy.optimize import brentq

from cisim.kernels import CHUNK, CREAMING, EQUITY_BOOST, PARALLEL_MIN_CHUNKS, WP, population_step
from cisim.scenario import STEPS_PER_YEAR, Scenario

if TYPE_CHECKING:
    from cisim.world import World

__all__ = ["Population"]


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
        self.subgroup = np.searchsorted(self.share_cum, rng.random(self.n), side="right")
        self.subgroup = np.minimum(self.subgroup, self.G - 1).astype(np.int8)
        noise = rng.standard_normal((self.n, A), dtype=np.float32) * np.float32(self.need_sd)
        self.needs = np.clip(self.need_mean[self.subgroup].astype(np.float32) + noise, 0, 1)
        self.propensity = rng.beta(2.0, 3.0, self.n).astype(np.float32)
        self.exposure = np.zeros(self.n, dtype=np.float32)
        self.outcome = np.zeros((2, self.n), dtype=np.uint8)
        self.h_out = np.full(self.G, 1.0 - np.exp(-pop.exit_rate_per_year / STEPS_PER_YEAR))
        self.h_out = -np.log1p(-self.h_out)  # weekly hazard
        years = pop.years_in_population
        self.turnover = 1.0 / (years * STEPS_PER_YEAR) if years > 0 else 0.0
        self.h_in = np.zeros(self.G)
        self.aggregates = np.zeros((2, 4 + 2 * self.G + A))
        self._init_rng = rng

    # ---- calibration ----------------------------------------------------------------------

    def calibrate(self, wp: np.ndarray, coverage: np.ndarray, capacity: float) -> None:
        """Set entry hazards so the status quo reproduces the baseline rates, then draw states.

        Args:
            wp: (WP.N,) parameters of the status-quo world.
            coverage: (A,) its area coverage.
            capacity: its effective service capacity (service-years per year).
        """
        weight = self.targeting_weight(wp)
        p_in = self.baseline[self.subgroup].astype(float)
        for _ in range(4):  # fixed point: who is out determines how thinly services spread
            w_sum = float(((1 - p_in) * weight).sum())
            s = np.minimum(1.0, capacity / max(w_sum, 1e-12) * weight)
            help_ = wp[WP.EFFICACY] * np.minimum(
                1.0, s[:, None] * coverage[None, :] * wp[WP.FIT] * wp[WP.EFFECT])
            mult = np.prod(1.0 - self.needs * wp[WP.BARRIER] * (1.0 - help_), axis=1)
            for g in range(self.G):
                idx = self.subgroup == g
                if not idx.any():
                    continue
                m_g = mult[idx]
                h_out = self.h_out[g]
                target = self.baseline[g]

                def gap(h: float, m_g: np.ndarray = m_g, h_out: float = h_out,
                        target: float = target) -> float:
                    r = h * m_g
                    return float((r / (r + h_out)).mean()) - target

                hi = 1.0
                while gap(hi) < 0 and hi < 1e6:
                    hi *= 4
                self.h_in[g] = brentq(gap, 1e-12, hi, xtol=1e-12)
                r = self.h_in[g] * m_g
                p_in[idx] = r / (r + h_out)
        start = (self._init_rng.random(self.n) < p_in).astype(np.uint8)
        self.outcome[0] = start
        self.outcome[1] = start

    def targeting_weight(self, wp: np.ndarray) -> np.ndarray:
        """Who services reach in a world with parameters ``wp`` (as the kernel's ``_weight``)."""
        mean_need = self.needs.mean(axis=1, dtype=float)
        takeup = self.propensity + wp[WP.TAKEUP] * (1 - self.propensity)
        dis = self.disadvantaged[self.subgroup]
        eq = wp[WP.EQUITY]
        return takeup * (1 - mean_need) ** (CREAMING * (1 - eq)) * (1 + EQUITY_BOOST * eq * dis)

    def entrant_rate(self) -> np.ndarray:
        """Chance that a new entrant starts in the outcome state, per subgroup."""
        return self.baseline

    # ---- weekly update ----------------------------------------------------------------------

    def step(self, seed: np.uint64, step: int, wp: np.ndarray, coverage: np.ndarray) -> None:
        """Advance both worlds one week (see :func:`cisim.kernels.population_step`)."""
        threads = numba.get_num_threads()
        if self.n < PARALLEL_MIN_CHUNKS * CHUNK:
            numba.set_num_threads(1)
        try:
            self.aggregates = population_step(
                seed, step, self.needs, self.subgroup, self.propensity, self.outcome,
                self.exposure, wp, coverage, self.h_in, self.h_out, self.disadvantaged,
                self.turnover, self.share_cum, self.entrant_rate(), self.need_mean, self.need_sd,
            )
        finally:
            numba.set_num_threads(threads)

    def initial_aggregates(self, wp: np.ndarray) -> None:
        """Aggregates of the initial state (the kernel's layout), without stepping."""
        A = self.needs.shape[1]
        G = self.G
        out = np.zeros((2, 4 + 2 * G + A))
        for w in range(2):
            weight = self.targeting_weight(wp[w])
            off = self.outcome[w] == 0
            out[w, 0] = weight[off].sum()
            for g in range(G):
                in_g = self.subgroup == g
                out[w, 4 + g] = (self.outcome[w][in_g] == 1).sum()
                out[w, 4 + G + g] = in_g.sum()
            out[w, 4 + 2 * G:] = (self.needs[off] * wp[w, WP.BARRIER]).sum(axis=0)
        self.aggregates = out

    # ---- views on the aggregates ------------------------------------------------------------

    def weight_sum(self, w: int) -> float:
        """Targeting weight of those not in the outcome state in world ``w``."""
        return float(self.aggregates[w, 0])

    def in_outcome(self, w: int) -> np.ndarray:
        """Count in the outcome state per subgroup in world ``w``."""
        return self.aggregates[w, 4: 4 + self.G]

    def group_sizes(self, w: int) -> np.ndarray:
        """Size of each subgroup."""
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
        return float(self.in_outcome(w).sum() / max(1.0, self.group_sizes(w).sum()))


def world_parameters(world: World, equity: float, effect: float, barrier: float,
                     efficacy: float) -> np.ndarray:
    """The population kernel's parameter row for one world (see :class:`cisim.kernels.WP`)."""
    row = np.zeros(WP.N)
    row[WP.EFFICACY] = efficacy
    row[WP.FIT] = world.fit
    row[WP.EFFECT] = effect
    row[WP.BARRIER] = barrier
    row[WP.TAKEUP] = world.engagement
    row[WP.EQUITY] = equity
    return row
