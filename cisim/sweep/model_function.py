"""The "any model" interface: a sweep treats a model as ``f(params, seed) -> outcomes``.

A model function takes a dict of parameter values (keyed by the spec's parameter labels) and an
integer seed, and returns a mapping of outcome names to floats or 1-D arrays. Arrays become one
column per element, ``name@t``. This is the shape SALib and EMA Workbench use (Kwakkel 2017),
so researchers can sweep their own models with the same machinery.

:class:`CisimModel` is the adapter for cisim itself: it builds the design point's scenario with
:meth:`cisim.scenario.Scenario.with_overrides`, runs :func:`cisim.simulate.simulate` and extracts
the outcomes named in the spec:

- ``column@year``: a trajectory column at a year (aliases such as ``population_change_year10``
  are listed in :data:`OUTCOME_ALIASES`); NaN if the year lies beyond the run's
  horizon;
- summary keys of :func:`cisim.simulate.summarise`, e.g. ``sroi_final``;
- ``first_significant_change_year`` (alias ``time_to_significant_change``): the summary gives NaN
  when population change never becomes significant. A NaN would count as a failed run and be
  dropped, biasing the analysis toward designs that succeed, so a run that never gets there is
  *censored at horizon + 1 year* (a value larger than any observed year; documented in
  ``docs/sweeps.md``), and ``significant_change_reached`` (0/1) is kept beside it;
- trajectories: a column's values at every whole year 0, 1, ..., horizon, as ``column@year``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from cisim.scenario import STEPS_PER_YEAR, Scenario

__all__ = ["OUTCOME_ALIASES", "CisimModel", "ModelFunction", "flatten_outputs"]

#: Friendly outcome names for cisim runs and what they stand for (``column@year`` reads a
#: trajectory column at a year; other names are keys of ``SimulationResult.summary``).
OUTCOME_ALIASES: dict[str, str] = {
    "population_change_year5": "population_change_vs_cf@5",
    "population_change_year10": "population_change_vs_cf@10",
    "sroi_year10": "sroi@10",
    "time_to_significant_change": "first_significant_change_year",
}

ModelFunction = Callable[[dict[str, Any], int], Mapping[str, Any]]

CENSORED = "first_significant_change_year"


class CisimModel:
    """A picklable model function running cisim on a base scenario.

    Args:
        base: The base scenario (with the spec's fixed overrides applied).
        paths: Parameter label -> dotted scenario path.
        scalars: Scalar outcome names (summary keys, ``column@year`` or aliases).
        trajectories: Trajectory columns kept at every whole year.
        numba_threads: Threads of the engine's parallel kernels in each run (None: numba's
            default). Sweeps on several workers set 1: the parallelism is across runs, and
            nested kernel threads only oversubscribe the cores.
    """

    def __init__(
        self,
        base: Scenario,
        paths: Mapping[str, str],
        scalars: Sequence[str],
        trajectories: Sequence[str] = (),
        numba_threads: int | None = None,
    ):
        self.base = base
        self.numba_threads = numba_threads
        self.paths = dict(paths)
        self.scalars = list(scalars)
        self.trajectories = list(trajectories)

    def scenario(self, params: Mapping[str, Any]) -> Scenario:
        """The design point's scenario."""
        overrides = {self.paths.get(k, k): _plain(v) for k, v in params.items()}
        return self.base.with_overrides(overrides, source="sweep design point")

    def __call__(self, params: dict[str, Any], seed: int) -> dict[str, Any]:
        """Run one replication of a design point and return its outcomes."""
        from cisim.simulate import simulate

        if self.numba_threads is not None:
            import numba

            numba.set_num_threads(max(1, min(self.numba_threads, numba.config.NUMBA_NUM_THREADS)))
        scenario = self.scenario(params)
        result = simulate(scenario, int(seed), details=False)
        return extract(result.trajectory, result.summary, scenario.horizon_years,
                       self.scalars, self.trajectories, horizon_cap=self._max_horizon())

    def _max_horizon(self) -> float:
        return self.base.horizon_years

    def columns(self) -> list[str]:
        """Output columns in order (scalars, then trajectories year by year)."""
        cols = []
        for name in self.scalars:
            cols.append(name)
            if OUTCOME_ALIASES.get(name, name) == CENSORED:
                cols.append("significant_change_reached")
        for col in self.trajectories:
            cols += [f"{col}@{y}" for y in range(math.floor(self.base.horizon_years) + 1)]
        return cols


def extract(
    trajectory: Any,
    summary: Mapping[str, Any],
    horizon_years: float,
    scalars: Sequence[str],
    trajectories: Sequence[str],
    horizon_cap: float | None = None,
) -> dict[str, Any]:
    """Pick the spec's outcomes from one run's trajectory and summary."""
    out: dict[str, Any] = {}
    n = len(trajectory)
    for name in scalars:
        target = OUTCOME_ALIASES.get(name, name)
        if "@" in target:
            col, _, year = target.partition("@")
            y = float(year)
            step = round(y * STEPS_PER_YEAR)
            out[name] = (float(trajectory[col].iloc[step])
                         if y <= horizon_years + 1e-9 and step < n else float("nan"))
        elif target == CENSORED:
            value = float(summary.get(CENSORED, float("nan")))
            reached = math.isfinite(value)
            out[name] = value if reached else float(horizon_years) + 1.0
            out["significant_change_reached"] = 1.0 if reached else 0.0
        else:
            out[name] = float(summary[target])
    years = math.floor((horizon_cap if horizon_cap is not None else horizon_years) + 1e-9)
    for col in trajectories:
        values = trajectory[col].to_numpy(dtype=float)
        yearly = np.full(years + 1, np.nan)
        for y in range(years + 1):
            step = y * STEPS_PER_YEAR
            if y <= horizon_years + 1e-9 and step < n:
                yearly[y] = values[step]
        out[col] = yearly
    return out


def _plain(value: Any) -> Any:
    """NumPy scalars to Python scalars (TOML-ready, pydantic-friendly)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def flatten_outputs(outputs: Mapping[str, Any]) -> dict[str, float]:
    """Outcome mapping -> flat columns: scalars as is, 1-D arrays as ``name@i``.

    Raises:
        TypeError: An output that is neither a number nor a 1-D array.
    """
    flat: dict[str, float] = {}
    for name, value in outputs.items():
        arr = np.asarray(value, dtype=float) if not isinstance(value, str) else None
        if arr is None:
            raise TypeError(f"outcome '{name}' is a string, not a number or an array")
        if arr.ndim == 0:
            flat[str(name)] = float(arr)
        elif arr.ndim == 1:
            for i, v in enumerate(arr):
                flat[f"{name}@{i}"] = float(v)
        else:
            raise TypeError(f"outcome '{name}' has {arr.ndim} dimensions; give 0 or 1")
    return flat
