"""Compiled rule of :mod:`cisim.mechanisms.measurement`: a week of the shared data system.

:func:`measurement_week` is the arithmetic of
:meth:`cisim.mechanisms.measurement.SharedMeasurement.step` over the world's figures
(:attr:`cisim.world.World.figures`, read and written in place by the indices ``F_*``): the
maturity's growth and decay, the report lag and the noise of the week's measurement, with the same
Python float operations in the same order (so the same doubles). The run's constants come in one
array laid out by the ``Q_*`` columns (:func:`measurement_params`); the phase's emphasis, the
partners' data practice and the week's normal draw come from the caller (the mechanism's step, or
the compiled week, which works out the data practice with :func:`data_practice`). The measured rate
itself needs the true rate of the lagged week (a service of the run): the caller adds it.
:func:`measurement_week` is called by the mechanism's step and by the compiled week
(:mod:`cisim.mechanisms._week`). The rule and its sources are described in
:mod:`cisim.mechanisms.measurement`.
"""

from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from cisim.kernels import _inner, _jit, pairwise
from cisim.scenario import STEPS_PER_YEAR, Scenario
from cisim.world import (
    F_DATA_CAPACITY,
    F_MEASUREMENT,
    F_MEASUREMENT_SPEND,
    F_TRUST_MEAN,
)

__all__ = ["clip01", "data_practice", "measured_win_of", "measurement_params", "measurement_week"]

# Columns of the run's constants (measurement_params): rates are per week.
(Q_INVESTMENT, Q_BACKBONE, Q_SELF_COORDINATION, Q_RATE, Q_DECAY, Q_INITIAL, Q_LAG, Q_NOISE,
 Q_N) = range(9)


def measurement_params(sc: Scenario) -> np.ndarray:
    """The run's constants of :func:`measurement_week`, by the ``Q_*`` columns.

    The rates per year divided by the weeks of a year and the noise's points divided by 100
    here, as the mechanism's Python divided them before multiplying (the same doubles).
    """
    m = sc.measurement
    dyn = sc.dynamics
    params = np.zeros(Q_N)
    params[Q_INVESTMENT] = m.investment_per_year
    params[Q_BACKBONE] = 1.0 if sc.backbone.present else 0.0
    params[Q_SELF_COORDINATION] = dyn.self_coordination
    params[Q_RATE] = dyn.measurement_rate_per_year / STEPS_PER_YEAR
    params[Q_DECAY] = dyn.measurement_decay_per_year / STEPS_PER_YEAR
    params[Q_INITIAL] = m.initial_maturity
    params[Q_LAG] = m.report_lag_weeks
    params[Q_NOISE] = m.noise_pp / 100.0
    return params


@_jit(opt=1, no_cfunc_wrapper=True)
def measurement_week(figures: np.ndarray, params: np.ndarray, matures: bool, emph: float,
                     data: float, best: float, z: float) -> tuple[float, float]:
    """One week of the data system in a measured world, in place; the lag and the noise.

    With ``matures`` (a coordinating world that shares measurement) the maturity ``M`` grows
    by ``Q_RATE x emph x capacity x willing x (1 - M)`` and decays by ``Q_DECAY x (1 -
    capacity) x (M - Q_INITIAL)``: the capacity is the backbone's data capacity (or, without a
    backbone, the self-coordination times the ``best`` partner's data maturity) times the
    funded share (half, and half more as the week's measurement spend over its budget), the
    willingness the mean of trust and the partners' mean data maturity ``data``. Then the
    report lag ``round(Q_LAG x (1 - M))`` (Python's round: half to even) and the noise
    ``Q_NOISE x (1 - M) x z`` of the week's measurement.

    Reads the figures measurement, measurement spend, data capacity and mean trust; writes
    the measurement (maturity).

    Returns:
        The lag in weeks as a float (NaN or infinite where Python's round fails: the caller's
        ``int`` fails alike) and the noise to add to the lagged true rate.
    """
    quality = figures[F_MEASUREMENT]
    if matures:
        # staff alone get half way; the data system's money (tools, data sharing
        # agreements) the rest (NCIOM task force: "substantial funding")
        funded = 0.5
        if params[Q_INVESTMENT] > 0:
            funded += 0.5 * figures[F_MEASUREMENT_SPEND] * STEPS_PER_YEAR / params[Q_INVESTMENT]
        if params[Q_BACKBONE] != 0.0:
            capacity = figures[F_DATA_CAPACITY] * funded
        else:  # the best data partner at the table does what it can
            capacity = params[Q_SELF_COORDINATION] * best * funded
        willing = 0.5 * (figures[F_TRUST_MEAN] + data)
        grow = params[Q_RATE] * emph * capacity * willing
        decay = params[Q_DECAY] * (1.0 - capacity)
        quality += grow * (1.0 - quality) - decay * (quality - params[Q_INITIAL])
        figures[F_MEASUREMENT] = quality
    span = params[Q_LAG] * (1.0 - quality)
    lag = span if span - span != 0.0 else float(round(span))  # (NaN and inf: left as they are)
    noise = params[Q_NOISE] * (1.0 - quality)
    return lag, noise * z


@register_jitable
def measured_win_of(rate: float, baseline: float) -> float:
    """The visible win, 0-1: the measured ``rate``'s improvement on ``baseline``, 5 points = 1.

    ``min(1, max(0, 100 (rate - baseline) / 5))`` as comparisons (NaN -> 0, as the
    builtins'). A Python function that compiled code can call too (of the figures measured
    rate and measured baseline).
    """
    win = 100.0 * (rate - baseline) / 5.0
    win = win if win > 0.0 else 0.0
    return win if win < 1.0 else 1.0


@_inner
def data_practice(data_maturity: np.ndarray, active: np.ndarray,
                  flat: np.ndarray) -> tuple[float, float]:
    """The mean and the best data maturity of the active partners (0 with nobody).

    As numpy's mean and max of ``data_maturity[active]`` (the mean a pairwise sum over the
    count, at most :data:`cisim.kernels.MAX_PAIRWISE` partners; a NaN maturity makes both
    NaN), gathered into ``flat``: the numpy of :mod:`cisim.mechanisms.measurement`'s
    ``_data_practice`` (``tests/test_week_kernel.py`` holds the two equal). One exception: of
    maturities 0.0 and -0.0 tied for the best, the first active partner's is kept, where
    numpy's max picks by its own order (only a scenario that writes -0.0 can tell).
    """
    n = 0
    best = 0.0
    for i in range(active.shape[0]):
        if active[i]:
            value = data_maturity[i]
            flat[n] = value
            if n == 0 or value != value or (best == best and value > best):
                best = value
            n += 1
    if n == 0:
        return 0.0, 0.0
    return pairwise(flat, n) / n, best


@register_jitable
def clip01(v: float) -> float:
    """``float(np.clip(v, 0, 1))`` for a float, without numpy's call (NaN stays NaN)."""
    if v != v:
        return v
    v = v if v > 0.0 else 0.0  # numpy's clip: max(v, 0) as v > 0 ? v : 0 (so -0.0 -> 0.0)
    return v if v < 1.0 else 1.0
