"""Design points: SALib samples in the unit hypercube, mapped to parameter values.

Every sampler draws in [0, 1]^D (SALib: Sobol/Saltelli, Morris, FAST, Latin hypercube; a full
factorial grid is built here because SALib's ``ff`` is a two-level fractional design). Each
unit column is then mapped through the parameter's inverse distribution function (scipy.stats),
rounded for integer fields, or turned into an index into a list of discrete values. The unit
values are kept beside the parameter values, because the analyses work on them (Herman & Usher
2017, SALib; Saltelli et al. 2010 for the Sobol design; Morris 1991; Cukier et al. 1973 and
Saltelli et al. 1999 for FAST; Tarantola et al. 2006 for RBD-FAST).

Seeds: one per (design point, replication), from ``numpy.random.SeedSequence(seed,
spawn_key=(point, replication))``, so a run's seed does not depend on the order, the worker or
the backend that runs it.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd

from cisim.distributions import quantiles
from cisim.scenario import Scenario
from cisim.sweep.spec import Parameter, SweepSpec, is_integer_parameter

__all__ = ["build_sample", "run_seed", "salib_problem", "unit_sample"]

UNIT_PREFIX = "u:"


def salib_problem(spec: SweepSpec) -> dict[str, Any]:
    """The SALib problem in unit space (every parameter on [0, 1])."""
    return {
        "num_vars": len(spec.parameters),
        "names": spec.labels,
        "bounds": [[0.0, 1.0]] * len(spec.parameters),
    }


def _sample_seed(seed: int) -> int:
    """A 32-bit seed for the sampler, derived from the master seed (apart from run seeds)."""
    ss = np.random.SeedSequence(seed, spawn_key=(2**32 - 1,))
    return int(ss.generate_state(1, np.uint32)[0])


def run_seed(seed: int, point: int, replication: int) -> int:
    """The seed of one run: independent per (point, replication), 62 bits, non-negative."""
    ss = np.random.SeedSequence(seed, spawn_key=(int(point), int(replication)))
    return int(ss.generate_state(1, np.uint64)[0] >> np.uint64(2))


def unit_sample(spec: SweepSpec) -> np.ndarray:
    """The design in the unit hypercube, shape (points, parameters), in SALib's row order."""
    s = spec.sampler
    problem = salib_problem(spec)
    rng_seed = _sample_seed(spec.seed)
    D = problem["num_vars"]
    if s.method == "sobol":
        from SALib.sample import sobol

        return sobol.sample(
            problem, s.n, calc_second_order=s.calc_second_order, scramble=s.scramble,
            seed=rng_seed,
        )
    if s.method == "morris":
        from SALib.sample import morris

        return morris.sample(problem, s.n, num_levels=s.num_levels, seed=rng_seed)
    if s.method == "fast":
        from SALib.sample import fast_sampler

        return fast_sampler.sample(problem, s.n, M=s.m, seed=rng_seed)
    if s.method in ("latin", "rbd_fast"):
        from SALib.sample import latin

        return latin.sample(problem, s.n, seed=rng_seed)
    if s.method == "factorial":
        axes = []
        for p in spec.parameters:
            if p.values is not None:
                k = len(p.values)
                axes.append([(i + 0.5) / k for i in range(k)])
            elif p.distribution in ("uniform", "loguniform"):
                axes.append(list(np.linspace(0.0, 1.0, s.levels)))
            else:
                axes.append([(i + 0.5) / s.levels for i in range(s.levels)])
        return np.array(list(itertools.product(*axes)), dtype=float).reshape(-1, D)
    raise ValueError(f"unknown sampler {s.method!r}")  # pragma: no cover - validated


def to_values(p: Parameter, u: np.ndarray, integer: bool) -> list[Any] | np.ndarray:
    """Map unit values of one parameter to its values (a list's items, or its distribution)."""
    if p.values is not None:
        u = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
        k = len(p.values)
        idx = np.minimum(k - 1, np.floor(u * k).astype(int))
        return [p.values[i] for i in idx]
    return quantiles(p.distribution, p.bounds or [], u, integer)


def build_sample(spec: SweepSpec, base: Scenario | None = None) -> pd.DataFrame:
    """The sample table: one row per design point with unit and parameter values.

    Columns: ``point``, one per parameter label (the values given to the model), and
    ``u:<label>`` (the unit-space coordinates the analyses use).
    """
    U = unit_sample(spec)
    columns: dict[str, Any] = {"point": np.arange(len(U), dtype=np.int64)}
    for j, p in enumerate(spec.parameters):
        values = to_values(p, U[:, j], is_integer_parameter(p, base))
        if isinstance(values, list):
            vals = pd.Series(values)
            if vals.map(type).nunique() > 1 or vals.map(lambda v: isinstance(v, str)).all():
                vals = vals.astype(str) if not vals.map(lambda v: isinstance(v, bool)).all() \
                    else vals.astype(bool)
            columns[p.label] = vals.to_numpy()
        else:
            columns[p.label] = values
    for j, p in enumerate(spec.parameters):
        columns[UNIT_PREFIX + p.label] = U[:, j]
    # built at once: a column at a time fragments the frame (pandas warns past 100 columns)
    return pd.DataFrame(columns)


def run_table(sample: pd.DataFrame, spec: SweepSpec) -> pd.DataFrame:
    """Every (point, replication) with its seed, in point-then-replication order."""
    points = sample["point"].to_numpy()
    R = spec.replications
    rows = pd.DataFrame({
        "point": np.repeat(points, R).astype(np.int64),
        "replication": np.tile(np.arange(R, dtype=np.int64), len(points)),
    })
    rows["seed"] = [run_seed(spec.seed, p, r) for p, r in zip(rows["point"], rows["replication"],
                                                             strict=True)]
    rows["seed"] = rows["seed"].astype(np.int64)
    return rows
