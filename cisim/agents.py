"""Mesa agents: Partner, Backbone and Beneficiary.

The state lives in arrays (struct of arrays) so that populations of millions run
in numba kernels; each agent is a view on its row, so a notebook or the teaching app can inspect
one organisation or one young person through the ordinary Mesa interface
(``model.agents_by_type[Partner]``). Agents are those of the factual world.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from mesa import Agent

from cisim.mechanisms.communication import own_trust
from cisim.scenario import SECTORS
from cisim.world import VALUE_KINDS

if TYPE_CHECKING:
    from cisim.context import RunView

__all__ = ["Backbone", "Beneficiary", "Partner"]


class Partner(Agent):
    """An organisation in the partnership (row ``index`` of the factual world's partner arrays).

    Attributes:
        index: Row in the partner arrays.
        name: The organisation's name.
        sector: One of :data:`cisim.scenario.SECTORS`.
    """

    def __init__(self, model: RunView, index: int):
        super().__init__(model)
        self.index = index
        table = model.factual.partners
        self.name = table.names[index]
        self.sector = SECTORS[int(table.sector[index])]

    @property
    def _world(self):
        return self.model.factual

    @property
    def active(self) -> bool:
        """Whether the organisation is still in the partnership."""
        return bool(self._world.active[self.index])

    @property
    def commitment(self) -> float:
        """Chance-scale commitment (drives attendance)."""
        return float(self._world.commitment[self.index])

    @property
    def influence(self) -> float:
        """Weight in agenda setting (champions have more)."""
        return float(self._world.partners.influence[self.index])

    @property
    def agenda_position(self) -> tuple[float, float]:
        """The organisation's current position in the agenda space."""
        x = self._world.position[self.index]
        return float(x[0]), float(x[1])

    @property
    def allocation(self) -> np.ndarray:
        """Share of effort in each strategy area."""
        return self._world.allocation[self.index].copy()

    @property
    def capacity(self) -> float:
        """Service-years per year the organisation delivers now."""
        return float(self._world.capacity[self.index])

    @property
    def mean_trust(self) -> float:
        """Mean trust toward the other partners."""
        return float(own_trust(self._world, self.index))

    def trust_in(self, other: Partner) -> float:
        """Trust between this organisation and ``other``."""
        return float(self._world.trust[self.index, other.index])

    @property
    def realised_value(self) -> dict[str, float]:
        """Value realised so far, per kind (value-years)."""
        row = self._world.realised[self.index]
        return {k: float(v) for k, v in zip(VALUE_KINDS, row, strict=True)}

    @property
    def satisfaction(self) -> float:
        """This week's realised value weighted by what the organisation seeks (0-1)."""
        w = self._world
        return float((w.value_rate[self.index] * w.partners.seeks[self.index]).sum())


class Backbone(Agent):
    """The backbone (orchestrator) organisation; present only if the scenario has one."""

    def __init__(self, model: RunView):
        super().__init__(model)
        spec = model.design.backbone
        self.type = spec.type
        self.staff = spec.staff.model_dump()

    @property
    def capacity(self) -> float:
        """Mean saturation of the three roles (0-1)."""
        return self.model.factual.backbone_capacity

    @property
    def facilitation(self) -> float:
        """Facilitation quality (0-1)."""
        return self.model.factual.facilitation

    @property
    def funded(self) -> float:
        """Share of the backbone budget funded this week."""
        return self.model.factual.backbone_funded


class Beneficiary(Agent):
    """One beneficiary (row ``index`` of the population arrays)."""

    def __init__(self, model: RunView, index: int):
        super().__init__(model)
        self.index = index

    @property
    def subgroup(self) -> str:
        """The beneficiary's subgroup (may change when the person ages out and is replaced)."""
        pop = self.model.population
        return pop.group_names[int(pop.subgroup[self.index])]

    @property
    def in_outcome(self) -> bool:
        """Whether the person is in the outcome state (e.g. in education or employment)."""
        return bool(self.model.population.outcome[0, self.index])

    @property
    def in_outcome_counterfactual(self) -> bool:
        """The same person's state in the counterfactual world."""
        return bool(self.model.population.outcome[1, self.index])

    @property
    def needs(self) -> np.ndarray:
        """Barriers per strategy area (0-1)."""
        return self.model.population.needs[self.index].astype(float)

    @property
    def engagement(self) -> float:
        """Chance of taking up services now (propensity raised by the initiative's engagement)."""
        p = float(self.model.population.propensity[self.index])
        return p + self.model.factual.engagement * (1.0 - p)

    @property
    def service_years(self) -> float:
        """Service received so far (service-years, factual world)."""
        return float(self.model.population.exposure[self.index])
