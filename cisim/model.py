"""CollectiveImpactModel: a Mesa model of a collective impact partnership.

Builds the partners, the backbone and the beneficiaries from a :class:`~cisim.scenario.Scenario`,
and steps, one week at a time, the mechanisms of the refined collective impact model (Save the
Children Sweden 2021) in two worlds side by side: the scenario's, and its counterfactual (the same
partners, population and money with organisations working in isolation), with common random
numbers. A run is a pure function of (scenario, seed).

The model also runs under ``mesa.batch_run`` unchanged: scenario fields are passed as keyword
arguments named by their dotted path (``{"backbone.staff.facilitator": [0.5, 1.0]}``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mesa import DataCollector, Model

from cisim.agents import Backbone, Beneficiary, Partner
from cisim.mechanisms import DEFAULT_MECHANISMS, CompiledWeek, Mechanism
from cisim.numeric import pairwise_sum
from cisim.outcomes import Recorder
from cisim.phases import PHASE_MODELS, PhaseState, readiness
from cisim.population import Population, world_row
from cisim.scenario import BUNDLED_SCENARIOS, Scenario
from cisim.world import World, book_week, build_partners

__all__ = ["DEFAULT_SCENARIO", "CollectiveImpactModel"]

#: The bundled reference design (package data, so it ships in the wheel; see
#: :data:`cisim.scenario.BUNDLED_SCENARIOS`).
DEFAULT_SCENARIO = BUNDLED_SCENARIOS / "default.toml"

#: The Mesa DataCollector's model columns from the recorded trajectory (with the phase, see
#: :class:`TrajectoryCollector`).
MODEL_REPORTERS = (
    "outcome_rate",
    "outcome_rate_cf",
    "population_change_vs_cf",
    "equity_gap",
    "trust",
    "agreement",
    "alignment",
    "measurement",
    "engagement",
    "funding_runway",
    "backbone_capacity",
    "systems_change",
    "sroi",
)


class TrajectoryCollector(DataCollector):
    """Mesa's DataCollector, whose model columns come from the recorder when read.

    Mesa's ``collect`` calls every model reporter each week and deep-copies what it returns;
    the columns of :data:`MODEL_REPORTERS` and the phase are the recorder's, which keeps them
    anyway (and works them out when they are read, see :class:`cisim.outcomes.Recorder`). So
    ``collect`` notes which recorder and row the week stands for (and the model's time, as
    Mesa's ``collect`` does for :func:`mesa.batch_run`), and Mesa collects the agent-type
    reporters, as it always does; reading :attr:`model_vars` (so
    :meth:`get_model_vars_dataframe`, :func:`mesa.batch_run`) fills the model columns from
    those rows: the Python floats ``model.latest(column)`` gave that week, and the phase's
    label.
    """

    def __init__(self, columns: tuple[str, ...], model_reporters: dict[str, Any],
                 agenttype_reporters: dict[type, Any]):
        """Collect ``columns`` and the phase from the recorder, the reporters with Mesa's collect.

        Args:
            columns: Trajectory columns of the recorder, in the order of the table.
            model_reporters: Mesa model reporters of what the recorder does not hold (none in
                cisim's own models).
            agenttype_reporters: Mesa agent-type reporters.
        """
        self._columns = tuple(columns)
        self._recorded: dict[str, list] = {name: [] for name in (*self._columns, "phase")}
        self._pending: list[tuple[Any, int]] = []  # (recorder, row) of collects not read yet
        self._in_mesa = True  # Mesa's own code adds and appends to its reporters' lists
        super().__init__(model_reporters=model_reporters, agenttype_reporters=agenttype_reporters)
        self._in_mesa = False

    @property
    def model_vars(self) -> dict[str, list]:
        """Each model reporter's values, one per collect (Mesa's ``model_vars``)."""
        if self._in_mesa:
            return self._model_vars
        if self._pending:
            pending, self._pending = self._pending, []
            start = 0
            for i in range(1, len(pending) + 1):  # runs of collects of the same recorder
                if i == len(pending) or pending[i][0] is not pending[start][0]:
                    rec = pending[start][0]
                    rows = [row for _, row in pending[start:i]]
                    data = rec.data
                    for name in self._columns:
                        self._recorded[name].extend(data[rows, rec.cols[name]].tolist())
                    self._recorded["phase"].extend([rec.phase[row] for row in rows])
                    start = i
        return {**self._recorded, **self._model_vars}

    @model_vars.setter
    def model_vars(self, value: dict[str, list]) -> None:
        self._model_vars = value

    def collect(self, model: CollectiveImpactModel) -> None:
        """Note the recorder's latest row and the model's time; Mesa's collect of any others.

        Mesa's ``collect`` notes the time (``_collection_steps``, by which
        :func:`mesa.batch_run` finds a step's row) only when it has model reporters; without
        them this does, and calls it only for agent or agent-type reporters.
        """
        self._pending.append((model.recorder, len(model.recorder.phase) - 1))
        if not self.model_reporters:  # (Mesa's collect notes the time with its reporters')
            self._collection_steps.append(model.time)
        if self.model_reporters or self.agent_reporters or self.agenttype_reporters:
            self._in_mesa = True
            try:
                super().collect(model)
            finally:
                self._in_mesa = False

    def get_model_vars_dataframe(self) -> pd.DataFrame:
        """The model columns, a row per collect.

        Mesa's raises when no model reporters are defined; the recorder's columns are this
        collector's.
        """
        return pd.DataFrame(self.model_vars)


def _seed_from(rng: Any) -> int:
    """An integer seed from what Mesa accepts as ``rng`` (None draws one from the OS)."""
    if rng is None:
        return int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> np.uint64(1))
    if isinstance(rng, int | np.integer):
        if rng < 0:
            raise ValueError(f"seed must be non-negative, got {rng}")
        return int(rng)
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(0, 2**62))
    return int(np.random.default_rng(rng).integers(0, 2**62))


class CollectiveImpactModel(Model):
    """A collective impact partnership over weekly steps.

    Attributes:
        design: The scenario being simulated.
        factual: The scenario's world.
        counterfactual: The same partners, population and money in isolation.
        population: The beneficiaries (arrays shared by both worlds).
        recorder: Per-step trajectories.
        events: Event log entries ``(step, world, kind, message)``.
        transitions: Phase transitions ``(step, from, to, cause)``.
    """

    def __init__(
        self,
        scenario: Scenario | str | Path | None = None,
        *,
        rng: Any = None,
        collect_agents: bool = False,
        mechanisms: list[Mechanism] | None = None,
        **overrides: Any,
    ):
        """Build a model.

        Args:
            scenario: A Scenario, a path to a scenario TOML file, or None for the bundled
                default scenario.
            rng: The seed (an int); None draws one from the operating system.
            collect_agents: Also collect per-agent data (Partner, Beneficiary) every step.
            mechanisms: Replacement mechanism list (default :func:`DEFAULT_MECHANISMS`).
            **overrides: Scenario fields by dotted path, e.g. ``**{"meetings.cadence": "weekly"}``
                (the form ``mesa.batch_run`` passes parameters in).

        Raises:
            ScenarioError: The scenario or an override is invalid.
        """
        seed = _seed_from(rng)
        super().__init__(rng=seed)
        if scenario is None:
            scenario = DEFAULT_SCENARIO
        if not isinstance(scenario, Scenario):
            scenario = Scenario.load(scenario)
        if overrides:
            scenario = scenario.with_overrides(overrides, source="model arguments")
        self.design = scenario
        self.seed = seed
        self.kseed = np.uint64(seed)
        self.n_steps = scenario.steps
        self.events: list[tuple[int, str, str, str]] = []
        self.transitions: list[tuple[int, str, str, str]] = []
        self.mechanisms = mechanisms if mechanisms is not None else DEFAULT_MECHANISMS()

        init_rng = np.random.default_rng(np.random.SeedSequence([seed, 0xC15]))
        table = build_partners(scenario, init_rng)
        A = len(scenario.strategy_areas)
        self.factual = World(isolated=scenario.isolated, partners=table, n_areas=A)
        self.counterfactual = World(isolated=True, partners=table, n_areas=A)
        self.worlds = (self.factual, self.counterfactual)
        self.population = Population(scenario, init_rng)
        # need_share's shares of both worlds, with the aggregates they were worked out from
        self._need_shares: tuple[np.ndarray | None, tuple[np.ndarray, np.ndarray] | None] = (
            None, None)

        self.phase_model = PHASE_MODELS[scenario.phases.model](self)
        self.phase_state = [PhaseState(self.phase_model.initial), PhaseState("isolated")]
        self.phase_state[0].visits[self.phase_model.initial] = 0
        # emphasis's values of the phase and readiness they were worked out for (see emphasis)
        self._emphases: tuple[PhaseState | None, str, float, str, dict[str, float]] = (
            None, "", 0.0, "", {})

        # Set up twice: once to find the status quo the population is calibrated to, once for
        # real with the calibrated population (see Mechanism.setup: every setup is idempotent).
        self._setup_mechanisms()
        cf = self.counterfactual
        self.population.calibrate(
            self._world_row(1, cf, spread=False), cf.coverage, cf.service_capacity
        )
        for note in self.population.calibration_notes():  # both worlds start from it
            self.log(self.factual, "calibration", note)
        self.population.initial_aggregates(
            np.stack([self._world_row(w, world, spread=False)
                      for w, world in enumerate(self.worlds)])
        )
        self._setup_mechanisms()
        book_week(self.factual, scenario, 0, self.population.n)
        self.recorder = Recorder(self)
        self._create_agents(init_rng, scenario)
        self.datacollector = self._make_datacollector(collect_agents)
        # the default mechanisms' week in one compiled call, where it can (None: one by one)
        self._week = CompiledWeek.of(self, self.population)
        self.recorder.record(0)
        self.datacollector.collect(self)

    # ---- construction -------------------------------------------------------------------------

    def _setup_mechanisms(self) -> None:
        for mech in self.mechanisms:
            for world in self.worlds:
                mech.setup(self, world)

    def _create_agents(self, rng: np.random.Generator, sc: Scenario) -> None:
        n = self.factual.partners.n
        Partner.create_agents(self, n, list(range(n)))
        if sc.backbone.present and not self.factual.isolated:
            Backbone(self)
        k = min(sc.population.mesa_agents, self.population.n)
        if k:
            sample = np.sort(rng.choice(self.population.n, size=k, replace=False))
            Beneficiary.create_agents(self, k, [int(i) for i in sample])

    def _make_datacollector(self, collect_agents: bool) -> DataCollector:
        reporters: dict = {}  # every model column is the recorder's (TrajectoryCollector)
        agenttype: dict = {}
        if collect_agents:
            agenttype = {
                Partner: {
                    "commitment": "commitment",
                    "mean_trust": "mean_trust",
                    "agenda_position": "agenda_position",
                    "active": "active",
                },
                Beneficiary: {"in_outcome": "in_outcome", "subgroup": "subgroup"},
            }
        return TrajectoryCollector(MODEL_REPORTERS, reporters, agenttype)

    # ---- the weekly step ------------------------------------------------------------------------

    def step(self) -> None:
        """One week: the mechanisms, the population, the phases, the books, then the record.

        The recorder only reads the run: nothing of the dynamics reads it back.
        """
        self.run_mechanisms()
        self.serve_population()
        self.advance_phases()
        book_week(self.factual, self.design, self.steps, self.population.n)
        self.recorder.record(self.steps)
        self.datacollector.collect(self)
        if self.steps >= self.n_steps:
            self.running = False

    def run_mechanisms(self) -> None:
        """Each mechanism, in order, in the factual then the counterfactual world.

        The default mechanisms run in one compiled call (:class:`cisim.mechanisms.CompiledWeek`,
        the same numbers) while they are the model's.
        """
        week = self._week
        if week is not None:
            if week.serves(self):
                week.run(self)
                return
            week.release(self)  # (the list was replaced: one by one from now on)
            self._week = None
        for mech in self.mechanisms:
            for world in self.worlds:
                mech.step(self, world)

    def serve_population(self) -> None:
        """Deliver services and update every beneficiary in both worlds (numba kernel)."""
        self.population.serve(self.design, self.worlds, self.kseed, self.steps)

    def advance_phases(self) -> None:
        """Move the factual world through its phase model; record transitions and readiness."""
        state = self.phase_state[0]
        state.readiness = readiness(self, self.factual)
        moved = self.phase_model.advance(self, self.factual, state)
        if moved is not None:
            target, cause = moved
            source = state.key
            state.key = target
            state.entered = self.steps
            state.entered_this_step = True
            state.visits[target] = state.visits.get(target, 0) + 1
            self.transitions.append(
                (self.steps, self.phase_model.label(source), self.phase_model.label(target), cause)
            )
            self.log(self.factual, "phase",
                     f"{self.phase_model.label(source)} -> {self.phase_model.label(target)}: "
                     f"{cause}")

    def _world_row(self, w: int, world: World, spread: bool = True) -> np.ndarray:
        """The population kernel's parameters for world ``w`` (see :func:`world_row`)."""
        return world_row(self.design, world, self.population, w, self.steps, spread)

    # ---- services for the mechanisms (cisim.context.StepContext) --------------------------------

    def world_index(self, world: World) -> int:
        """0 for the factual world, 1 for the counterfactual."""
        return 0 if world is self.factual else 1

    def emphasis(self, world: World, component: str) -> float:
        """The current phase's emphasis on a component (1 in an isolated world).

        Under ``phases.effect = "gated"`` the current phase's table value; under "graded" the
        value that moves with readiness (:meth:`cisim.phases.PhaseModel.graded_emphasis`).
        """
        if world.isolated:
            return 1.0
        state = self.phase_state[self.world_index(world)]
        effect = self.design.phases.effect
        # The mechanisms ask ~7 times a week, the same component more than once, while the
        # phase and readiness change at most once a week: the values are kept until then
        # (known by identity, so a new readiness or phase, whatever set it, starts afresh).
        known = self._emphases
        if known[0] is not state or known[1] is not state.key or (
                known[2] is not state.readiness or known[3] is not effect):
            known = self._emphases = (state, state.key, state.readiness, effect, {})
        value = known[4].get(component)
        if value is None:
            if effect == "gated":
                value = self.phase_model.emphasis(state.key).get(component, 1.0)
            else:
                value = self.phase_model.graded_emphasis(state.key, component, state.readiness)
            known[4][component] = value
        return value

    def phase_value(self, world: World, values: dict[str, float], default: float) -> float:
        """A per-phase quantity (keyed by phase) as the phase effect switch says.

        Gated: the current phase's value (``default`` for a phase not listed). Graded: the
        value moves from the initial phase's toward the operating phase's with readiness
        (:meth:`cisim.phases.PhaseModel.graded`).
        """
        state = self.phase_state[self.world_index(world)]
        if world.isolated or self.design.phases.effect == "gated":
            return values.get(state.key, default)
        return self.phase_model.graded(values, state.key, state.readiness, default)

    def phase_terms(self, world: World, values: dict[str, float],
                    default: float) -> tuple[float, float]:
        """:meth:`phase_value` in the world's current phase as ``(base, change)``.

        Under graded effects in a coordinating world the value is ``base + change x``
        readiness (:meth:`cisim.phases.PhaseModel.graded_terms`); otherwise it is ``base``
        and ``change`` is 0. For a caller that asks every week while the phase stays.
        """
        state = self.phase_state[self.world_index(world)]
        if world.isolated or self.design.phases.effect == "gated":
            return values.get(state.key, default), 0.0
        return self.phase_model.graded_terms(values, state.key, default)

    def emphasis_values(self, component: str) -> dict[str, float]:
        """Each phase's emphasis on ``component``, by phase key (see :meth:`emphasis`)."""
        return self.phase_model.emphasis_values(component)

    def readiness(self, world: World) -> float:
        """Readiness of the world for coordinated work at the end of the previous step."""
        return self.phase_state[self.world_index(world)].readiness

    def phase_key(self, world: World) -> str:
        """Key of the world's current phase ('isolated' for the counterfactual)."""
        return self.phase_state[self.world_index(world)].key

    def phase_label(self, world: World) -> str:
        """Readable name of the world's current phase."""
        return self.phase_model.label(self.phase_state[self.world_index(world)].key)

    def entered_phase(self, world: World, key: str) -> bool:
        """Whether the world entered phase ``key`` at the end of the previous step."""
        state = self.phase_state[self.world_index(world)]
        return state.entered_this_step and state.key == key

    def need_share(self, world: World) -> np.ndarray:
        """Shares of unmet need over strategy areas among those not in the outcome state.

        Shared, not to be written: both worlds' arrays are kept while the population's
        aggregates are the same object (the population replaces them when it steps), since a
        week asks for each several times. (Writable arrays, as the compiled week's own: a
        compiled rule takes one kind of array, or is compiled again for the other.)
        """
        aggregates = self.population.aggregates
        known = self._need_shares
        if known[0] is not aggregates:  # held, so not another's address
            known = self._need_shares = (aggregates, self._need_shares_of())
        return known[1][self.world_index(world)]

    def _need_shares_of(self) -> tuple[np.ndarray, np.ndarray]:
        """Both worlds' need shares: a week asks for both."""
        return self._need_share(0), self._need_share(1)

    def _need_share(self, w: int) -> np.ndarray:
        need = self.population.unmet_need(w)
        total = pairwise_sum(need.tolist())  # need.sum() bit for bit, without numpy's call
        if total <= 0:
            need = self.population.needs.mean(axis=0).astype(float)
            total = need.sum()
        if total <= 0:
            return np.full(need.size, 1.0 / need.size)
        return need / total

    def true_rate(self, world: World, step: int) -> float:
        """The world's true outcome rate at ``step`` (the latest known if later)."""
        return self.population.past_rate(self.world_index(world), step)

    def phase_blockers(self, world: World) -> list[str]:
        """The unmet conditions of the world's next phase (empty in an isolated world)."""
        return self.phase_state[self.world_index(world)].blockers

    def log(self, world: World, kind: str, message: str) -> None:
        """Add an entry to the event log."""
        name = "factual" if world is self.factual else "counterfactual"
        self.events.append((self.steps, name, kind, message))

    def latest(self, column: str) -> float:
        """The latest recorded value of a trajectory column.

        The recorder works out the rows recorded since it was last read (about half a
        millisecond for one row, little more for many): asking every week doubles a run's cost.
        """
        rec = self.recorder
        return float(rec.data[len(rec.phase) - 1, rec.cols[column]])

