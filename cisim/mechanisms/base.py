"""The interface every mechanism implements."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, Self

if TYPE_CHECKING:
    import numpy as np

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


def is_counterfactual(model: StepContext, world: World) -> bool:
    """Whether ``world`` is the run's counterfactual world (and not its factual one too).

    The mechanisms whose counterfactual work nothing reads (or that mirror the factual world)
    ask this; a stub that hands one world as both is the factual world.
    """
    return world is model.counterfactual and model.factual is not world


class RunConstants:
    """What a mechanism works out once a run from its scenario and seed (a base class).

    The scenario is fixed for a run. A mechanism keeps its instance while :meth:`is_of` the
    model it steps: made again for another scenario or seed (known by identity: the instance
    holds both, so neither's address can be another's).
    """

    __slots__ = ("design", "kseed")

    def __init__(self, model: StepContext) -> None:
        self.design = model.design
        self.kseed = model.kseed

    def is_of(self, model: StepContext) -> bool:
        """Whether these are the constants of ``model``'s run."""
        return self.design is model.design and self.kseed is model.kseed

    @classmethod
    def kept(cls, current: Self | None, model: StepContext, *args: Any) -> Self:
        """``current`` if it is of ``model``'s run, else ``cls(model, *args)``."""
        if current is not None and current.is_of(model):
            return current
        return cls(model, *args)


class RunParams(RunConstants):
    """A mechanism's run constants: one array made from the scenario by ``make``.

    (The array of a compiled rule's constants, e.g.
    :func:`cisim.mechanisms._agenda.agenda_params`.)
    """

    __slots__ = ("params",)

    def __init__(self, model: StepContext, make: Callable[[Any], np.ndarray]) -> None:
        super().__init__(model)
        self.params = make(model.design)


class WeeklyDraws(RunConstants):
    """A mechanism's draw of each week of the run for each world index, made at once.

    The draw of week ``t`` for world ``w`` is ``draw(kseed, t, w, stream)``; ``table(kseed,
    steps, w, stream)`` gives the same doubles for weeks ``0..steps-1`` in one pass (counter-
    based draws are pure functions of their coordinates), made the first time a world asks.
    A week past the run's end draws on its own.
    """

    __slots__ = ("_by_world", "_draw", "_stream", "_table")

    def __init__(self, model: StepContext, table: Callable[..., list[float]],
                 draw: Callable[..., float], stream: int) -> None:
        super().__init__(model)
        self._table = table
        self._draw = draw
        self._stream = stream
        self._by_world: dict[int, list[float]] = {}

    def table(self, w: int) -> list[float]:
        """The draws of weeks ``0..steps`` for world index ``w`` (made the first time asked)."""
        draws = self._by_world.get(w)
        if draws is None:
            draws = self._by_world[w] = self._table(self.kseed, self.design.steps + 1, w,
                                                    self._stream)
        return draws

    def at(self, step: int, w: int) -> float:
        """The draw of week ``step`` for world index ``w``."""
        draws = self._by_world.get(w)
        if draws is None:
            draws = self.table(w)
        if step < len(draws):
            return draws[step]
        return self._draw(self.kseed, step, w, self._stream)


class ByContents:
    """A value per world, remembered while the bytes of the arrays it is made from stay the same.

    For a quantity a mechanism asks every week whose inputs change rarely (partners leave
    rarely, positions move only at meetings). The key is the inputs' bytes, so any change to
    them, by whatever code, recomputes it. :meth:`same` serves work that is skipped (rather
    than a value that is kept) while its inputs stay the same.
    """

    def __init__(self) -> None:
        self._known: dict[int, tuple[tuple[Any, ...], Any]] = {}

    def get(self, world: World, inputs: Sequence[np.ndarray], compute: Callable[[], Any]) -> Any:
        """The remembered value for ``inputs`` now, or ``compute()`` remembered."""
        key = tuple([a.tobytes() for a in inputs])  # (a list: tuple() of a generator is slower)
        known = self._known.get(id(world))
        if known is not None and known[0] == key:
            return known[1]
        return self.put(world, inputs, compute(), key)

    def same(self, world: World, key: tuple[Any, ...]) -> bool:
        """Whether ``key`` is the world's key at its last call; remembers it either way.

        For work a mechanism skips while its inputs stay the same: the caller makes the key
        of its arrays' bytes (``a.tobytes()``) and any other values (a NaN is the same only
        as the very object remembered, as in any tuple). An instance serves either
        :meth:`same` or :meth:`get`/:meth:`put`, not both: they remember in the same place.
        """
        known = self._known.get(id(world))
        if known is not None and known[0] == key:
            return True
        self._known[id(world)] = (key, None)
        return False

    def forget(self, world: World) -> None:
        """Forget what is remembered of the world."""
        self._known.pop(id(world), None)

    def put(self, world: World, inputs: Sequence[np.ndarray], value: Any,
            key: tuple[bytes, ...] | None = None) -> Any:
        """Remember ``value`` as the world's at ``inputs`` now; returns it."""
        if key is None:
            key = tuple([a.tobytes() for a in inputs])
        self._known[id(world)] = (key, value)
        return value
