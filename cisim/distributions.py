"""The parameter distributions priors and sweeps share: their names, bounds and quantiles.

A distribution is a name and its ``bounds`` (the sweep specification's conventions): uniform
and loguniform ``[low, high]``, normal ``[mean, sd]``, lognormal ``[mu, sigma]`` of the log,
triangular ``[low, high, mode]`` and truncnormal ``[low, high, mean, sd]``. Unit values map to
values by the inverse distribution function (SciPy's ``ppf``), so a Latin hypercube or a Sobol
sequence in the unit cube becomes a sample of the distributions (McKay, Beckman & Conover 1979).
The priors table (:mod:`cisim.priors`) and the sweep specification (:mod:`cisim.sweep.spec`)
both build on this module, which depends on neither.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import stats

__all__ = ["BOUNDED", "DIST_PARAMS", "DistName", "quantiles"]

DistName = Literal["uniform", "loguniform", "normal", "lognormal", "triangular", "truncnormal"]

#: How many numbers ``bounds`` holds for each distribution.
DIST_PARAMS: dict[str, int] = {"uniform": 2, "loguniform": 2, "normal": 2, "lognormal": 2,
                               "triangular": 3, "truncnormal": 4}
#: Distributions with a lower and an upper end.
BOUNDED = ("uniform", "loguniform", "triangular", "truncnormal")


def quantiles(distribution: str, bounds: list[float] | tuple[float, ...], u: np.ndarray,
              integer: bool = False) -> np.ndarray:
    """Values of a distribution at unit values ``u`` (clipped to [0, 1]).

    Args:
        distribution: One of :data:`DIST_PARAMS`.
        bounds: Its parameters, as above.
        u: Unit values (quantile levels).
        integer: Round to integers (a uniform's integers are equally likely, ends included).

    Returns:
        float64 values, or int64 when ``integer``.
    """
    u = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
    b = bounds
    d = distribution
    if d == "uniform":
        lo, hi = b
        if integer:
            lo_i, hi_i = int(np.ceil(lo)), int(np.floor(hi))
            return np.minimum(hi_i, lo_i + np.floor(u * (hi_i - lo_i + 1))).astype(np.int64)
        x = lo + u * (hi - lo)
    elif d == "loguniform":
        lo, hi = b
        x = np.exp(np.log(lo) + u * (np.log(hi) - np.log(lo)))
    else:
        eps = 1e-12
        q = np.clip(u, eps, 1 - eps)
        if d == "normal":
            x = stats.norm.ppf(q, loc=b[0], scale=b[1])
        elif d == "lognormal":
            x = stats.lognorm.ppf(q, s=b[1], scale=np.exp(b[0]))
        elif d == "triangular":
            lo, hi, mode = b
            x = stats.triang.ppf(q, c=(mode - lo) / (hi - lo), loc=lo, scale=hi - lo)
        elif d == "truncnormal":  # low, high, mean, sd
            lo, hi, mu, sd = b
            x = stats.truncnorm.ppf(q, (lo - mu) / sd, (hi - mu) / sd, loc=mu, scale=sd)
        else:
            raise ValueError(f"unknown distribution {d!r}")
    if integer:
        return np.rint(x).astype(np.int64)
    return np.asarray(x, dtype=float)
