"""Sensitivity sweeps and scenario discovery, on a laptop or a Dask cluster.

A sweep is: a TOML spec (:mod:`cisim.sweep.spec`) -> a SALib sample in the unit hypercube
(:mod:`cisim.sweep.samplers`) x replications with their own seeds -> joblib execution on loky or
Dask (:mod:`cisim.sweep.execute`) -> a Parquet store written as tasks finish, resumable
(:mod:`cisim.sweep.store`) -> SALib indices with intervals, per outcome and over time
(:mod:`cisim.sweep.analyze`) and scenario discovery (:mod:`cisim.sweep.discovery`). Any model
``f(params, seed) -> outcomes`` can be swept (:mod:`cisim.sweep.model_function`). See
docs/sweeps.md.
"""

from cisim.sweep.analyze import SweepAnalysis, analyze
from cisim.sweep.discovery import DiscoveryResult, discover
from cisim.sweep.execute import run_sweep, sweep_function
from cisim.sweep.model_function import CisimModel
from cisim.sweep.spec import SweepSpec, SweepSpecError, load_spec
from cisim.sweep.store import ResultStore, StoreError

__all__ = [
    "CisimModel",
    "DiscoveryResult",
    "ResultStore",
    "StoreError",
    "SweepAnalysis",
    "SweepSpec",
    "SweepSpecError",
    "analyze",
    "discover",
    "load_spec",
    "run_sweep",
    "sweep_function",
]
