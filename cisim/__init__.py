"""cisim: agent-based simulation of collective impact partnerships.

Scenario -> CollectiveImpactModel (Mesa) -> SimulationResult / EnsembleResult (pandas) ->
analyses (:mod:`cisim.sweep`) and reports (:mod:`cisim.report`).
"""

# The names are imported eagerly: ``cisim.simulate`` is both a module and a function, and a
# lazily resolved name would be shadowed by the submodule once anything imported it.
from cisim.model import CollectiveImpactModel
from cisim.scenario import Scenario, ScenarioError, load_scenario
from cisim.simulate import EnsembleResult, SimulationResult, ensemble, simulate

__version__ = "0.1.0"

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
