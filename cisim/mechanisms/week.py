"""The default mechanisms' week as one compiled call, where it gives their steps' numbers.

A week of :func:`cisim.mechanisms.DEFAULT_MECHANISMS` called mechanism by mechanism pays each
step's Python: the run's constants looked up, the figures and arrays read, a compiled call each.
:class:`CompiledWeek` gathers the run's constants and arrays, works out what changes with the
phase (the emphases, the visibility of value, whether Re-design began) and the needs of those
not yet helped, and calls :func:`cisim.mechanisms._week.week_rule` once; the few things that
stay in Python (a funding line's review, the payments copied to the funding lines, the start
of Re-design, the logs, who leaves, the re-plan with eight or more areas) it hands to the
mechanisms themselves, and then goes on. The numbers are the mechanisms' own
(``tests/test_week_kernel.py`` holds whole runs equal bit for bit).

It serves a model whose mechanisms are the default ones, in their order, where every one of
them would run compiled (at most :data:`cisim.kernels.MAX_PAIRWISE` partners and strategy
areas), with an isolated counterfactual and the standard phase model; any other model steps
mechanism by mechanism, as before. When a model's mechanisms are replaced during a run it
steps them one by one from then on (:meth:`CompiledWeek.release`).
"""

from __future__ import annotations

import inspect
import operator
from typing import TYPE_CHECKING

import numpy as np

from cisim.kernels import MAX_PAIRWISE
from cisim.mechanisms import _value as _value_kernel
from cisim.mechanisms import activities as _activities
from cisim.mechanisms import agenda as _agenda
from cisim.mechanisms import value as _value
from cisim.mechanisms._week import (
    AFTER,
    I_ACTIVITIES,
    I_AGENDA,
    I_CLIFF,
    I_COMMUNICATION,
    I_ENGAGEMENT,
    I_MEASUREMENT,
    I_N,
    I_NEEDS_GIVEN,
    I_REDESIGN,
    I_SYSTEMS_CHANGE,
    I_VISIBILITY,
    K_AGENDA_WORK,
    K_CONTACTS,
    K_IDEAL_TOTAL,
    K_INTERVAL,
    K_ISOLATED,
    K_KEEP,
    K_N,
    K_NEEDS,
    K_PLAN_INTERVAL,
    K_PULLS,
    K_RECOVERY,
    K_REPLAN,
    K_SHARED,
    M_INVESTMENT,
    M_MEASUREMENT,
    M_SYSTEMS_CHANGE,
    M_VALUE,
    NEEDS,
    STAGES,
    week_rule,
)
from cisim.mechanisms.activities import MutuallyReinforcingActivities
from cisim.mechanisms.agenda import CommonAgenda
from cisim.mechanisms.backbone import BackboneSupport
from cisim.mechanisms.communication import Communication
from cisim.mechanisms.engagement import BeneficiaryEngagement
from cisim.mechanisms.investment import Investment
from cisim.mechanisms.measurement import SharedMeasurement
from cisim.mechanisms.systems_change import SystemsChange
from cisim.mechanisms.value import VISIBILITY, PartnerValue
from cisim.phases import PhaseModel

if TYPE_CHECKING:
    from cisim.context import WeekContext
    from cisim.population import Population
    from cisim.world import World

__all__ = ["USE_COMPILED_WEEK", "CompiledWeek"]

#: Whether models step their default mechanisms in one compiled call where it can (False: one
#: by one, as any other list of mechanisms; the two give the same numbers).
USE_COMPILED_WEEK = True

#: The default mechanisms' classes, in their order (:func:`cisim.mechanisms.DEFAULT_MECHANISMS`).
_DEFAULT_TYPES = (Investment, BackboneSupport, Communication, CommonAgenda,
                  BeneficiaryEngagement, SharedMeasurement, MutuallyReinforcingActivities,
                  SystemsChange, PartnerValue)

#: The components whose emphasis the week takes, by their entry in the week's inputs.
_EMPHASES = ((I_COMMUNICATION, Communication.component), (I_AGENDA, CommonAgenda.component),
             (I_ENGAGEMENT, BeneficiaryEngagement.component),
             (I_MEASUREMENT, SharedMeasurement.component),
             (I_ACTIVITIES, MutuallyReinforcingActivities.component),
             (I_SYSTEMS_CHANGE, SystemsChange.component))

#: :func:`cisim.mechanisms._week.week_rule`'s arguments after the week's own (stage, week,
#: inputs, aggregates), by name: the run's arrays, then the worlds' (from ``figures`` on, each
#: as (factual, counterfactual), read by the same names from the worlds). Taken from its
#: signature, so that the arrays are passed by name, not by a second list of positions.
_ARGUMENTS = tuple(inspect.signature(getattr(week_rule, "py_func", week_rule)).parameters)[4:]
_RUN_ARGUMENTS = _ARGUMENTS[:_ARGUMENTS.index("figures")]
_world_arrays = operator.attrgetter(*_ARGUMENTS[_ARGUMENTS.index("figures"):])
_LINES, _RULES, _NEED = (_RUN_ARGUMENTS.index(name) for name in ("lines", "rules", "need"))


class CompiledWeek:
    """The week of a model's default mechanisms in one compiled call (see the module)."""

    def __init__(self, model: WeekContext, population: Population) -> None:
        """Gather the run's constants and arrays (after the mechanisms' set-up).

        Args:
            model: The run (its mechanisms are the default ones; see :meth:`of`).
            population: Its beneficiaries (the factual world's outcome rates by week).
        """
        self._mechanisms = tuple(model.mechanisms)
        inv, backbone, com, agenda, engagement, measurement, activities, systems, value = (
            self._mechanisms)
        sc = model.design
        factual, counterfactual = model.factual, model.counterfactual
        self._investment = inv
        self._funding, lines, rules, self._stop = inv._book(model, factual)
        # each mechanism's run constants (kept by the mechanism: its own step uses them too)
        com_run = com.constants(model)
        agenda_run = agenda.constants(model)
        engagement_run = engagement.constants(model)
        measurement_run = measurement.constants(model)
        systems_run = systems.constants(model)
        value_run = value.constants(model)
        activities_run = activities.constants(model)
        moved, work = agenda.scratch_for(factual.position)
        consts = np.zeros(K_N)
        consts[K_INTERVAL] = com_run.interval
        consts[K_PLAN_INTERVAL] = _activities.PLAN_INTERVAL
        start, ideal_weights, consts[K_IDEAL_TOTAL] = activities._plan_basis(factual)
        consts[K_REPLAN] = factual.n_areas < _activities.MAX_AREAS  # (else numpy's fitting)
        consts[K_CONTACTS] = sc.meetings.contacts_per_meeting
        consts[K_KEEP] = com_run.keep
        consts[K_RECOVERY] = com_run.recovery
        consts[K_AGENDA_WORK] = sc.meetings.agenda_work
        consts[K_PULLS] = sc.dynamics.proposal_pull > 0
        consts[K_SHARED] = measurement_run.shared
        consts[K_NEEDS] = population.aggregates.shape[1] - factual.n_areas  # (unmet_need's)
        consts[K_ISOLATED] = factual.isolated
        consts[K_ISOLATED + 1] = counterfactual.isolated
        p = factual.partners
        n = p.n
        areas = factual.n_areas
        perceived = np.array(activities_run.perceived_table(model, 0), dtype=float)
        self._satisfaction = value._satisfaction  # (the week writes it; the exits read it)
        run_arrays = {
            "consts": consts, "lines": lines, "rules": rules,
            "backbone": backbone.constants(model).params, "streams": com_run.streams,
            "meeting": com_run.params, "good": com_run.good, "agenda": agenda_run.params,
            "engagement": engagement_run.params, "measurement": measurement_run.params,
            "noise": np.array(measurement_run.noise.table(0)),
            "activities": activities_run.params, "perceived": perceived.reshape(-1, areas),
            "start": start, "ideal_weights": ideal_weights, "systems": systems_run.params,
            "policy": np.array(systems_run.draws.table(0)), "value": value_run.params,
            "exit_stream": _value_kernel.exit_stream(model.kseed),
            "history": population.rate_history[0], "influence": p.influence,
            "budget": p.budget, "staff_fte": p.staff_fte, "expertise": p.expertise,
            "own_priority": p.own_priority, "seeks": p.seeks, "commitment0": p.commitment0,
            "data_maturity": p.data_maturity, "reach": value._reach, "flat": np.zeros(n * n),
            "moved": moved, "work": work, "scratch": activities._scratch_of(factual),
            "satisfaction": self._satisfaction, "no_contacts": np.zeros((n, n), dtype=bool),
            "need": (np.zeros(areas), np.zeros(areas)),
        }
        self._fixed = [run_arrays[name] for name in _RUN_ARGUMENTS]
        self._population = population
        self._inputs = inputs = np.zeros(I_N)
        # the phase's emphases and the value's visibility, as (entry, table, default); worked
        # out as (base, change with readiness) when the phase changes (model.phase_terms)
        self._tables = [(entry, model.emphasis_values(component), 1.0)
                        for entry, component in _EMPHASES]
        self._tables.append((I_VISIBILITY, VISIBILITY, 0.3))
        self._graded = sc.phases.effect != "gated"
        self._phase: str | None = None
        self._terms: list[tuple[int, float, float]] = []
        if factual.isolated:  # (the emphases are 1 in an isolated world; nothing reads more)
            for entry, _ in _EMPHASES:
                inputs[entry] = 1.0

    @classmethod
    def of(cls, model: WeekContext, population: Population) -> CompiledWeek | None:
        """The compiled week of ``model``, or None where its mechanisms step one by one.

        One by one when the mechanisms are not the default ones in their order, when one of
        them would not run compiled (its numpy path, above :data:`cisim.kernels.MAX_PAIRWISE`
        partners or areas), when the counterfactual is not isolated (the week reads only the
        factual world's phase and draws), or when the phase model is another class than
        :class:`cisim.phases.PhaseModel` (the week works out its emphases from
        :meth:`~cisim.phases.PhaseModel.graded_terms`; a subclass may have changed another
        method).
        """
        mechanisms = model.mechanisms
        if not USE_COMPILED_WEEK or len(mechanisms) != len(_DEFAULT_TYPES) or any(
                type(m) is not t for m, t in zip(mechanisms, _DEFAULT_TYPES, strict=True)):
            return None
        if not model.counterfactual.isolated or type(model.phase_model) is not PhaseModel:
            return None
        world = model.factual
        partners, areas = world.partners.n, world.n_areas
        if not (_activities._compiled(partners, areas) and partners <= _value.MAX_PARTNERS
                and partners <= MAX_PAIRWISE and _agenda.compiled_agreement(world.position)
                and world.position.shape[1:] == (2,)):
            return None
        return cls(model, population)

    def serves(self, model: WeekContext) -> bool:
        """Whether the model's mechanisms are still the ones this week was made for."""
        return tuple(model.mechanisms) == self._mechanisms

    def release(self, model: WeekContext) -> None:
        """Hand the week back to the mechanisms' own steps (their list was replaced).

        The backbone remembers what its figures were last worked out from, to skip weeks
        whose inputs are the same; the compiled week wrote them meanwhile, so it forgets.
        """
        for mechanism in self._mechanisms:
            if isinstance(mechanism, BackboneSupport):
                for world in (model.factual, model.counterfactual):
                    mechanism.forget(world)

    def run(self, model: WeekContext) -> None:
        """The model's week (``model.steps``): every mechanism in both worlds, in order."""
        t = model.steps
        factual, counterfactual = worlds = model.factual, model.counterfactual
        inputs = self._inputs
        if not factual.isolated:
            self._phase_inputs(model, factual, inputs)
        inputs[I_REDESIGN] = model.entered_phase(factual, "redesign")
        if factual.funding is not self._funding:  # (another list: its table made again)
            self._funding, self._fixed[_LINES], self._fixed[_RULES], self._stop = (
                self._investment._book(model, factual))
        inputs[I_CLIFF] = not t < self._stop and not self._investment._cliff_logged
        inputs[I_NEEDS_GIVEN] = 0.0
        aggregates = self._population.aggregates
        arrays = self._arrays(factual, counterfactual)
        stage = 0
        while True:
            result = week_rule(stage, t, inputs, aggregates, *self._fixed, *arrays)
            if result == STAGES:
                return
            if result == NEEDS:  # (nobody left with unmet need: the model's rule)
                for w, world in enumerate(worlds):
                    self._fixed[_NEED][w][:] = model.need_share(world)
                inputs[I_NEEDS_GIVEN] = 1.0
            elif result < AFTER:  # the mechanism's own step, in Python
                self._mechanisms[result >> 1].step(model, worlds[result & 1])
                arrays = self._arrays(factual, counterfactual)  # (a re-plan's new arrays)
                stage = result + 1
            else:
                stage = result - AFTER
                self._ending(model, stage, worlds[stage & 1])
                stage += 1

    def _phase_inputs(self, model: WeekContext, world: World, inputs: np.ndarray) -> None:
        """The phase's emphases and the value's visibility in a coordinating world.

        What :meth:`WeekContext.emphasis` and ``phase_value`` give: ``base + change x``
        readiness under graded effects, ``base`` under gated (the terms worked out again
        when the phase changes).
        """
        phase = model.phase_key(world)
        if phase != self._phase:
            self._phase = phase
            self._terms = [(entry, *model.phase_terms(world, table, default))
                           for entry, table, default in self._tables]
            if not self._graded:
                for entry, base, _ in self._terms:
                    inputs[entry] = base
        if self._graded:
            ready = model.readiness(world)
            for entry, base, change in self._terms:
                inputs[entry] = base + change * ready

    @staticmethod
    def _arrays(factual: World, counterfactual: World) -> list[tuple[np.ndarray, np.ndarray]]:
        """The worlds' arrays the week takes, each as (factual, counterfactual).

        Read afresh each week (and after a mechanism's own step: a re-plan replaces arrays).
        """
        return list(zip(_world_arrays(factual), _world_arrays(counterfactual), strict=True))

    def _ending(self, model: WeekContext, stage: int, world: World) -> None:
        """The Python ending of a stage that ran compiled."""
        mechanism = stage >> 1
        if mechanism == M_INVESTMENT:
            self._investment.copy_payments(world)
        elif mechanism == M_SYSTEMS_CHANGE:
            SystemsChange.log_win(model, world)
        elif mechanism == M_VALUE:
            self._mechanisms[mechanism].leave(model, world, self._satisfaction,
                                              float(np.minimum.reduce(world.commitment)))
        elif mechanism == M_MEASUREMENT:
            raise ValueError("the measurement's report lag is not a finite number of weeks")
