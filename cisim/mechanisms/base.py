"""The interface every mechanism implements."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from cisim.model import CollectiveImpactModel
    from cisim.world import World


class Mechanism(Protocol):
    """A component's weekly update of one world."""

    #: Key of the component in the phase emphasis tables (see :mod:`cisim.phases`).
    component: str

    def setup(self, model: CollectiveImpactModel, world: World) -> None:
        """Initialise the component's state in ``world`` (called once, before step 1)."""

    def step(self, model: CollectiveImpactModel, world: World) -> None:
        """Advance the component one week in ``world``."""
