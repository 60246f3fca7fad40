"""cisim: agent-based simulation of collective impact partnerships.

Scenario -> CollectiveImpactModel (Mesa) -> SimulationResult / EnsembleResult (pandas) ->
analyses (:mod:`cisim.sweep`) and reports (:mod:`cisim.report`).

The public names are imported lazily, so ``cisim validate`` and worker processes that need only
the scenario schema do not pay for importing Mesa and numba.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Scenario": "cisim.scenario",
    "ScenarioError": "cisim.scenario",
    "load_scenario": "cisim.scenario",
    "CollectiveImpactModel": "cisim.model",
    "SimulationResult": "cisim.simulate",
    "EnsembleResult": "cisim.simulate",
    "simulate": "cisim.simulate",
    "ensemble": "cisim.simulate",
}

__all__ = [
    "CollectiveImpactModel",
    "EnsembleResult",
    "Scenario",
    "ScenarioError",
    "SimulationResult",
    "__version__",
    "ensemble",
    "load_scenario",
    "simulate",
]

if TYPE_CHECKING:
    from cisim.model import CollectiveImpactModel
    from cisim.scenario import Scenario, ScenarioError, load_scenario
    from cisim.simulate import EnsembleResult, SimulationResult, ensemble, simulate


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'cisim' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
