"""What the rules of the model see of a run: small typed contexts instead of the whole model.

The mechanisms (:mod:`cisim.mechanisms`) and the phase conditions (:mod:`cisim.phases`) read
and write the arrays of a :class:`~cisim.world.World`; of the run around it they need only
what :class:`StepContext` lists: the scenario, the week, the seed, the two worlds and a few
services (the phase's emphasis on a component, the needs of those not yet helped, the outcome
rate of a past week, the event log). :class:`~cisim.model.CollectiveImpactModel` satisfies it,
and so does any small object with these members, so a rule can be tested against a stub
(``tests/test_context.py``). :class:`RunView` adds what the recorder, the cost ledger and the
Mesa agents read at the end of a week; it is read-only. :class:`WeekContext` adds what the
compiled week of the default mechanisms reads of the phase.

Modules below the model import these Protocols instead of the model, so that data and imports
run one way: scenario -> world and population -> mechanisms and phases -> model -> results.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np

    from cisim.population import Population
    from cisim.scenario import Scenario
    from cisim.world import World

__all__ = ["RunView", "StepContext", "WeekContext"]


class StepContext(Protocol):
    """What a mechanism or a phase condition may use of the run (besides its world).

    Attributes:
        design: The scenario being simulated, fixed for the run (mechanisms work out what
            they take of it once a run: a change made to it during a run is not seen).
        steps: The current week (1 in the first step; 0 while the model is set up).
        kseed: The run's seed, as the counter-based generator takes it.
        factual: The scenario's world.
        counterfactual: The same partners, population and money in isolation.
    """

    design: Scenario
    steps: int
    kseed: np.uint64
    factual: World
    counterfactual: World

    def world_index(self, world: World) -> int:
        """0 for the factual world, 1 for the counterfactual (the index of its draws)."""
        ...

    def emphasis(self, world: World, component: str) -> float:
        """The current phase's emphasis on a component (1 in an isolated world)."""
        ...

    def phase_value(self, world: World, values: Mapping[str, float], default: float) -> float:
        """A per-phase quantity (keyed by phase) as the scenario's phase effect says."""
        ...

    def entered_phase(self, world: World, key: str) -> bool:
        """Whether the world entered phase ``key`` at the end of the previous step."""
        ...

    def need_share(self, world: World) -> np.ndarray:
        """Shares of unmet need over strategy areas among those not in the outcome state.

        Shared by the week's callers: not to be written.
        """
        ...

    def true_rate(self, world: World, step: int) -> float:
        """The world's true outcome rate at ``step`` (the latest known if later)."""
        ...

    def log(self, world: World, kind: str, message: str) -> None:
        """Add an entry to the event log."""
        ...


class RunView(StepContext, Protocol):
    """What the recorder, the cost ledger and the Mesa agents read of a run (read-only).

    Attributes:
        population: The beneficiaries (arrays shared by both worlds).
    """

    population: Population

    def readiness(self, world: World) -> float:
        """Readiness of the world for coordinated work at the end of the previous step."""
        ...

    def phase_label(self, world: World) -> str:
        """Readable name of the world's current phase."""
        ...

    def phase_blockers(self, world: World) -> list[str]:
        """The unmet conditions of the world's next phase (empty in an isolated world)."""
        ...


class WeekContext(StepContext, Protocol):
    """What the compiled week of the default mechanisms uses of the run.

    (:class:`cisim.mechanisms.CompiledWeek`, which works out the phase's emphases when the
    phase changes rather than asking for each every week.)

    Attributes:
        mechanisms: The mechanisms the run steps, in order
            (:class:`cisim.mechanisms.base.Mechanism`; not imported here, which it imports).
        phase_model: The phase model of the run (:class:`cisim.phases.PhaseModel`; not
            imported here either).
    """

    mechanisms: list
    phase_model: object

    def phase_key(self, world: World) -> str:
        """Key of the world's current phase."""
        ...

    def readiness(self, world: World) -> float:
        """Readiness of the world for coordinated work at the end of the previous step."""
        ...

    def phase_terms(self, world: World, values: Mapping[str, float],
                    default: float) -> tuple[float, float]:
        """A per-phase quantity now as ``(base, change with readiness)``."""
        ...

    def emphasis_values(self, component: str) -> Mapping[str, float]:
        """Each phase's emphasis on ``component``, by phase key."""
        ...
