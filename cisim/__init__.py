"""cisim: agent-based simulation of collective impact partnerships.

Scenario -> CollectiveImpactModel (Mesa) -> SimulationResult / EnsembleResult (pandas) ->
analyses (:mod:`cisim.sweep`) and reports (:mod:`cisim.report`). The bundled scenarios ship
with the package: ``load_scenario("default")`` reads one by name from any directory, and
:data:`DEFAULT_SCENARIO` is the reference design's file.
"""

# The names are imported eagerly: ``cisim.simulate`` is both a module and a function, and a
# lazily resolved name would be shadowed by the submodule once anything imported it.
from cisim.model import DEFAULT_SCENARIO, CollectiveImpactModel
from cisim.scenario import Scenario, ScenarioError, load_scenario
from cisim.simulate import EnsembleResult, SimulationResult, ensemble, simulate

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_SCENARIO",
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
