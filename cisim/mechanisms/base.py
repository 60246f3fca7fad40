"""The interface every mechanism implements."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from cisim.context import StepContext
    from cisim.world import World


class Mechanism(Protocol):
    """A component's weekly update of one world.

    A mechanism reads and writes the arrays of ``world`` and uses of the run only what
    :class:`cisim.context.StepContext` lists, so it can be run against a stub.
    """

    #: Key of the component in the phase emphasis tables (see :mod:`cisim.phases`).
    component: str

    def setup(self, model: StepContext, world: World) -> None:
        """Initialise the component's state in ``world`` before step 1.

        Called twice at step 0: once to find the status quo the population is calibrated to,
        and again once the population is calibrated. It must therefore set its state, not add
        to it (the second call must give what a single call on the calibrated population would).
        """

    def step(self, model: StepContext, world: World) -> None:
        """Advance the component one week in ``world``."""
