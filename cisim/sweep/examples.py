"""Test functions for sweeps with known answers, usable as ``function = "module:name"``.

The Ishigami function (Ishigami & Homma 1990) on [-pi, pi]^3 with a = 7, b = 0.1 has analytic
Sobol indices S1 = (0.3139, 0.4424, 0), ST = (0.5576, 0.4424, 0.2437) (Saltelli et al. 2008).
The noisy and failing variants exercise the handling of seed noise and of failed runs.

:func:`normal_mean` is a calibration problem with a known posterior: the mean of
:data:`NORMAL_MEAN_OBSERVATIONS` draws from a normal distribution with unknown mean ``mu`` and
standard deviation 1. With a flat prior on ``mu`` that is wide against the observation, the
posterior of ``mu`` given an observed mean ``ybar`` is normal with mean ``ybar`` and standard
deviation ``1 / sqrt(n)`` (Gelman et al. 2013, Bayesian Data Analysis, section 2.5).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

__all__ = ["ISHIGAMI_S1", "ISHIGAMI_ST", "NORMAL_MEAN_OBSERVATIONS", "failing_ishigami",
           "ishigami", "noisy_ishigami", "normal_mean", "slow_ishigami"]

ISHIGAMI_A = 7.0
ISHIGAMI_B = 0.1
_V = ISHIGAMI_A**2 / 8 + ISHIGAMI_B * math.pi**4 / 5 + ISHIGAMI_B**2 * math.pi**8 / 18 + 0.5
_V1 = 0.5 * (1 + ISHIGAMI_B * math.pi**4 / 5) ** 2
_V2 = ISHIGAMI_A**2 / 8
_V13 = ISHIGAMI_B**2 * math.pi**8 * (1 / 18 - 1 / 50)
#: Analytic first-order indices of the Ishigami function.
ISHIGAMI_S1 = (_V1 / _V, _V2 / _V, 0.0)
#: Analytic total-order indices of the Ishigami function.
ISHIGAMI_ST = ((_V1 + _V13) / _V, _V2 / _V, _V13 / _V)


def ishigami(params: dict[str, Any], seed: int) -> dict[str, float]:
    """The Ishigami function of x1, x2, x3 (the seed is ignored)."""
    x1, x2, x3 = float(params["x1"]), float(params["x2"]), float(params["x3"])
    y = math.sin(x1) + ISHIGAMI_A * math.sin(x2) ** 2 + ISHIGAMI_B * x3**4 * math.sin(x1)
    return {"y": y}


def noisy_ishigami(params: dict[str, Any], seed: int) -> dict[str, Any]:
    """Ishigami plus seed noise (sd 1), and a short 'trajectory' y * t for t = 0..3."""
    y = ishigami(params, seed)["y"]
    noise = float(np.random.default_rng(seed).normal(0.0, 1.0))
    return {"y": y + noise, "traj": (y + noise) * np.arange(4.0)}


def failing_ishigami(params: dict[str, Any], seed: int) -> dict[str, float]:
    """Ishigami that returns NaN where x1 > 2.5 and raises where x1 < -2.8."""
    x1 = float(params["x1"])
    if x1 < -2.8:
        raise RuntimeError("model diverged")
    if x1 > 2.5:
        return {"y": float("nan")}
    return ishigami(params, seed)


def slow_ishigami(params: dict[str, Any], seed: int) -> dict[str, float]:
    """Noisy Ishigami that takes about 20 ms, for interruption tests."""
    time.sleep(0.02)
    return {"y": noisy_ishigami(params, seed)["y"]}


#: Draws averaged by :func:`normal_mean` (its sampling standard deviation is 1 / sqrt of this).
NORMAL_MEAN_OBSERVATIONS = 4


def normal_mean(params: dict[str, Any], seed: int) -> dict[str, float]:
    """The mean of :data:`NORMAL_MEAN_OBSERVATIONS` normal draws with mean ``mu`` and sd 1."""
    rng = np.random.default_rng(seed)
    draws = rng.normal(float(params["mu"]), 1.0, size=NORMAL_MEAN_OBSERVATIONS)
    return {"y": float(draws.mean())}
