"""Phase models: state machines with explicit entry conditions and per-phase emphasis.

The default is the refined collective impact model (Save the Children Sweden 2021: Initiation
-> Run -> Re-design -> Run ... -> Exponential Value). Its phase tables give each phase's purpose
and main activities per component; they are turned here into *emphasis* multipliers on each
mechanism's rate (1 = the component is fully active, lower = in the background). The Initiation
and Run tables survive only as their purposes ("create a collaborative value proposition";
"implement the plan ... to create collective impact"); the Re-design and Exponential Value
tables are given in full. The second model is the NCIOM task force's three phases after
Hanleybrown, Kania & Kramer 2012 (Initiate Action, Organize for Impact, Sustain Action &
Impact), whose component table maps the same way.

Entry conditions: Run needs agenda agreement, trust, a backbone in place and secured funding
(Kania & Kramer 2011; NCIOM's "2-3 years of funding"); Re-design follows a period of Run with
data to analyse; Exponential Value needs systems change and a demonstrated SROI. A run records
every transition with its step and cause; while a phase's exit conditions are unmet, the unmet
ones are reported as *blockers*.

How the phases act on the dynamics is a scenario switch (``phases.effect``). *Gated*: the
current phase's table applies in full, so a partnership that misses one Run condition keeps
Initiation's low emphasis on activities and systems change whatever the others are. *Graded*
(the default): the emphasis moves from the initial phase's value toward the operating phase's
value in proportion to :func:`readiness`, a weighted power mean of how far each Run condition
is met, so each condition weighs by what it does in the dynamics rather than by a veto.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cisim.scenario import STEPS_PER_YEAR

if TYPE_CHECKING:
    from cisim.context import StepContext
    from cisim.world import World

__all__ = ["PHASE_MODELS", "Phase", "PhaseModel", "PhaseState", "power_mean", "readiness"]

COMPONENTS = (
    "communication",
    "agenda",
    "activities",
    "measurement",
    "engagement",
    "investment",
    "backbone",
    "systems_change",
)


def _emph(**kw: float) -> dict[str, float]:
    out = dict.fromkeys(COMPONENTS, 1.0)
    out.update(kw)
    return out


@dataclass(frozen=True)
class Phase:
    """One phase: its key, its label and its emphasis on each component."""

    key: str
    label: str
    emphasis: dict[str, float]


@dataclass
class PhaseState:
    """Where a world is in its phase model."""

    key: str
    entered: int = 0
    entered_this_step: bool = False
    blockers: list[str] = field(default_factory=list)
    visits: dict[str, int] = field(default_factory=dict)
    readiness: float = 0.0  # of the Run conditions, at the end of the previous step


Condition = tuple[str, Callable[["StepContext", "World"], float], float]


@dataclass
class Transition:
    """From one phase to another when every condition holds (value >= threshold)."""

    source: str
    target: str
    conditions: list[Condition]
    min_years: float = 0.0
    cause: str = ""


class PhaseModel:
    """A phase state machine: phases, transitions in priority order, an initial phase.

    ``operating`` is the phase in which the partnership does its coordinated work (the one
    the Run conditions lead to, directly or through ``preparatory`` phases); under graded
    effects the initial and preparatory phases act with the operating phase's emphasis in
    proportion to readiness. The transitions and their conditions are read when the phase
    model is made: a condition added to a :class:`Transition` afterwards is not seen.
    """

    def __init__(self, name: str, phases: list[Phase], transitions: list[Transition],
                 operating: str, preparatory: Sequence[str] = ()):
        self.name = name
        self.phases = {p.key: p for p in phases}
        self.initial = phases[0].key
        self.transitions = transitions
        self.operating = operating
        self.preparatory = frozenset((self.initial, *preparatory))
        self._by_component: dict[str, dict[str, float]] = {}  # emphasis_values' tables
        # the transitions out of each phase, in priority order, each with whether it leads
        # forward (its unmet conditions are the blockers; a setback's are not) and its
        # conditions, each with its blocker text to format the value into (the threshold
        # written out once, not every week): advance asks every week (the transitions and
        # their conditions are those the model is made with)
        self._out: dict[str, list[tuple[Transition, bool, tuple]]] = {}
        for tr in transitions:
            conditions = tuple(
                (name, fn, threshold, _braces(name) + " {:.2f} < " + f"{threshold:.3g}")
                for name, fn, threshold in tr.conditions)
            self._out.setdefault(tr.source, []).append(
                (tr, not tr.cause.startswith("setback"), conditions))

    def label(self, key: str) -> str:
        """The readable name of phase ``key`` (the key itself if it names none: 'isolated')."""
        phase = self.phases.get(key)
        return key if phase is None else phase.label

    def emphasis(self, key: str) -> dict[str, float]:
        """The phase's emphasis on each component."""
        return self.phases[key].emphasis

    def graded(self, values: Mapping[str, float], key: str, ready: float,
               default: float = 1.0) -> float:
        """A per-phase value under graded effects.

        ``v(initial) + (v(reference) - v(initial)) * ready``, where the reference phase is the
        operating phase while the partnership is in the initial or a preparatory phase and the
        current phase otherwise; phases ``values`` does not list count as ``default``. At
        readiness 0 this is the initial phase's value, at readiness 1 the reference phase's,
        and in between it moves linearly (so continuously) with readiness.
        """
        base, change = self.graded_terms(values, key, default)
        return base + change * ready

    def graded_terms(self, values: Mapping[str, float], key: str,
                     default: float = 1.0) -> tuple[float, float]:
        """:meth:`graded`'s value in phase ``key`` as ``(v(initial), v(reference) - v(initial))``.

        The value at readiness ``r`` is the first plus the second times ``r``.
        """
        ref = self.operating if key in self.preparatory else key
        v0 = values.get(self.initial, default)
        return v0, values.get(ref, default) - v0

    def emphasis_values(self, component: str) -> dict[str, float]:
        """Each phase's emphasis on ``component``, by phase key (1 where a phase sets none)."""
        values = self._by_component.get(component)
        if values is None:  # made once per model
            values = {k: p.emphasis.get(component, 1.0) for k, p in self.phases.items()}
            self._by_component[component] = values
        return values

    def graded_emphasis(self, key: str, component: str, ready: float) -> float:
        """The emphasis on ``component`` under graded effects (see :meth:`graded`)."""
        return self.graded(self.emphasis_values(component), key, ready)

    def advance(self, model: StepContext, world: World, state: PhaseState
                ) -> tuple[str, str] | None:
        """Check the transitions out of the current phase.

        Returns:
            ``(new phase key, cause)`` if one fires, else ``None``; ``state.blockers`` then
            lists the unmet conditions of the first forward transition.
        """
        state.entered_this_step = False
        elapsed = (model.steps - state.entered) / STEPS_PER_YEAR
        blockers: list[str] | None = None
        for tr, forward, conditions in self._out.get(state.key, ()):
            early = elapsed < tr.min_years
            met = []  # written out only if the transition fires
            unmet = []  # written out only if they are the blockers (not a setback's, say)
            for name, fn, threshold, below in conditions:
                value = fn(model, world)
                if value >= threshold:
                    met.append((name, value, threshold))
                else:
                    unmet.append((below, value))
            if not early and not unmet:
                state.blockers = []
                cause = tr.cause or "; ".join(
                    f"{name} {value:.2f} >= {threshold:.3g}" for name, value, threshold in met
                ) or "time elapsed"
                return tr.target, cause
            if blockers is None and forward:
                # f"{name} {value:.2f} < {threshold:.3g}", the threshold's part made once
                blockers = [below.format(value) for below, value in unmet]
                if early:  # (the same weeks come back in every run: their texts are kept)
                    blockers.insert(0, _early_text(elapsed, tr.min_years))
        state.blockers = blockers or []
        return None


def _braces(text: str) -> str:
    """``text`` as a literal part of a ``str.format`` template (its braces doubled)."""
    return text.replace("{", "{{").replace("}", "}}")


@functools.lru_cache(maxsize=1024)
def _early_text(elapsed: float, min_years: float) -> str:
    """A blocker: too little time in the phase.

    Remembered: the same weeks come back in every run. ``0 <= elapsed < min_years``, so no
    signed zero (one key, two texts) reaches it.
    """
    return f"time in phase {elapsed:.1f} < {min_years:.3g} years"


# ---- condition helpers (each returns a number compared with a threshold) --------------------


def _agreement(m: StepContext, w: World) -> float:
    return w.agreement


def _trust(m: StepContext, w: World) -> float:
    return w.trust_mean


def _backbone(m: StepContext, w: World) -> float:
    return w.backbone_capacity


def _runway(m: StepContext, w: World) -> float:
    return w.runway_years


def _measurement(m: StepContext, w: World) -> float:
    return w.measurement


def _systems(m: StepContext, w: World) -> float:
    return (w.services_change + w.practices_change + w.policy_change) / 3.0


def _sroi(m: StepContext, w: World) -> float:
    return w.measured_sroi


def _champion(m: StepContext, w: World) -> float:
    infl = w.partners.influence[w.active]
    return float(infl.max()) if infl.size else 0.0


def _ratio(value: float, full: float) -> float:
    """How far a condition is met: ``value / full`` capped at 1 (1 when ``full`` is 0)."""
    if full <= 0:
        return 1.0
    # min(1, max(0, r)) as comparisons, without the builtins' calls (readiness asks four a
    # week): the same value, NaN -> 0 and -0.0 -> 0.0 included
    r = value / full
    r = r if r > 0.0 else 0.0
    return r if r < 1.0 else 1.0


def power_mean(values: Sequence[float], weights: Sequence[float], exponent: float) -> float:
    """Weighted power mean ``(sum w_i v_i^p / sum w_i)^(1/p)`` of values in [0, 1].

    ``p = 0`` is the geometric mean (used for ``|p| < 1e-6``); for ``p <= 0`` a zero value
    gives 0. Zero weights drop a value; with all weights zero the mean is 1 (nothing is
    required). Computed in logs (no overflow at any exponent), it carries a relative rounding
    error of a few ``1e-16 / |p|``: ~1e-10 next to the geometric mean.

    Raises:
        ValueError: ``values`` and ``weights`` differ in length.
    """
    if len(values) != len(weights):
        raise ValueError(f"{len(values)} values for {len(weights)} weights")
    shares = _shares(tuple(weights))
    if shares is None:
        return 1.0
    # (share, log share, value) of the values of positive weight
    pairs = [(w, log_w, values[i]) for i, w, log_w in shares]
    if abs(exponent) < 1e-6:  # the geometric mean, the limit p -> 0 (and its neighbourhood)
        exponent = 0.0
    if exponent > 0:  # zero values add nothing to the sum
        pairs = [pair for pair in pairs if pair[2] > 0]
        if not pairs:
            return 0.0
    elif any(v <= 0 for _, _, v in pairs):
        return 0.0
    if exponent == 0:
        return min(1.0, math.exp(sum([w * math.log(v) for w, _, v in pairs])))
    # In logs (log-sum-exp), so tiny values and negative exponents cannot overflow.
    terms = [log_w + exponent * math.log(v) for _, log_w, v in pairs]
    top = max(terms)
    log_sum = top + math.log(sum([math.exp(x - top) for x in terms]))
    return min(1.0, math.exp(log_sum / exponent))


@functools.lru_cache(maxsize=64)
def _shares(weights: tuple[float, ...]) -> tuple[tuple[int, float, float], ...] | None:
    """:func:`power_mean`'s weights: ``(index, w / total, log(w / total))`` of each positive one.

    None when the weights add up to zero or less. Remembered: a run's weights are the
    scenario's, and readiness asks every week.
    """
    total = float(sum(weights))
    if total <= 0:
        return None
    shares = [(i, w / total) for i, w in enumerate(weights)]
    return tuple((i, w, math.log(w)) for i, w in shares if w > 0)


@functools.lru_cache(maxsize=64)
def _power_mean_of(values: tuple[float, ...], weights: tuple[float, ...],
                   exponent: float) -> float:
    """:func:`power_mean` of tuples, remembered.

    Readiness is asked every week and its four ratios often stay where they were (capped at 1,
    or a runway that does not move), a third of the weeks of a default run. A pure function
    of its arguments, so the same bits.
    """
    return power_mean(values, weights, exponent)


def readiness(model: StepContext, world: World) -> float:
    """Readiness for coordinated work, in [0, 1]: how far the Run conditions are met.

    Each condition counts as ``min(1, value / threshold)`` with the Run thresholds of the
    scenario (``phases.run_min_*``): agenda agreement, mean trust, coordination capacity and
    funding runway. Coordination capacity is the backbone capacity, or, without a backbone,
    the partners' own ``dynamics.self_coordination`` (so a partnership without a backbone is
    less ready, not unable). The four are combined by :func:`power_mean` with the weights
    ``phases.readiness_weight_*`` and the exponent ``phases.readiness_exponent``.
    """
    sc = model.design
    ph = sc.phases
    coordination = (world.backbone_capacity if sc.backbone.present
                    else sc.dynamics.self_coordination)
    values = (
        _ratio(world.agreement, ph.run_min_agreement),
        _ratio(world.trust_mean, ph.run_min_trust),
        _ratio(coordination, ph.run_min_backbone),
        _ratio(world.runway_years, ph.run_min_runway_years),
    )
    weights = (ph.readiness_weight_agreement, ph.readiness_weight_trust,
               ph.readiness_weight_coordination, ph.readiness_weight_runway)
    return _power_mean_of(values, weights, ph.readiness_exponent)


def _lost(fn: Callable[[StepContext, World], float], threshold: float
          ) -> Callable[[StepContext, World], float]:
    """A condition that holds when ``fn`` has fallen below ``threshold`` (for setbacks)."""
    return lambda m, w: 1.0 if fn(m, w) < threshold else 0.0


def refined_model(m: StepContext) -> PhaseModel:
    """The refined model's four phases with the scenario's thresholds."""
    ph = m.design.phases
    run_conditions: list[Condition] = [
        ("agenda agreement", _agreement, ph.run_min_agreement),
        ("trust", _trust, ph.run_min_trust),
        ("backbone capacity", _backbone, max(ph.run_min_backbone, 1e-9)),
        ("funding runway (years)", _runway, ph.run_min_runway_years),
    ]
    setbacks = []
    for src in ("run", "redesign", "exponential"):
        setbacks.append(Transition(src, "initiation", [
            ("backbone lost", _lost(_backbone, 0.5 * ph.run_min_backbone), 1.0)],
            cause="setback: backbone capacity collapsed"))
        setbacks.append(Transition(src, "initiation", [
            ("agreement lost", _lost(_agreement, 0.7 * ph.run_min_agreement), 1.0)],
            cause="setback: the common agenda fell apart"))
    phases = [
        Phase("initiation", "Initiation", _emph(
            communication=1.0, agenda=1.0, activities=0.15, measurement=0.5, engagement=1.0,
            investment=1.0, backbone=1.0, systems_change=0.2)),
        Phase("run", "Run", _emph(
            communication=0.8, agenda=0.5, activities=1.0, measurement=1.0, engagement=0.6,
            investment=0.8, backbone=1.0, systems_change=1.0)),
        Phase("redesign", "Re-design", _emph(
            communication=0.5, agenda=1.0, activities=0.5, measurement=1.0, engagement=1.0,
            investment=1.0, backbone=1.0, systems_change=0.8)),
        Phase("exponential", "Exponential Value", _emph(
            communication=1.0, agenda=1.0, activities=1.2, measurement=1.0, engagement=1.0,
            investment=1.2, backbone=1.0, systems_change=1.5)),
    ]
    transitions = [
        Transition("initiation", "run", run_conditions, ph.min_initiation_years),
        *setbacks,
        Transition("run", "redesign", [("measurement maturity", _measurement, 0.3)],
                   ph.run_years_before_redesign),
        Transition("redesign", "exponential", [
            ("systems change", _systems, ph.exponential_min_systems_change),
            ("SROI", _sroi, ph.exponential_min_sroi)], ph.redesign_years),
        Transition("redesign", "run", [], ph.redesign_years,
                   cause="re-designed plan ready; conditions for Exponential Value not met"),
    ]
    return PhaseModel("refined", phases, transitions, operating="run")


def nciom_model(m: StepContext) -> PhaseModel:
    """NCIOM's three phases with the scenario's thresholds."""
    ph = m.design.phases
    phases = [
        Phase("initiate", "Initiate Action", _emph(
            communication=1.0, agenda=0.6, activities=0.3, measurement=0.5, engagement=1.0,
            investment=1.0, backbone=0.6, systems_change=0.2)),
        Phase("organize", "Organize for Impact", _emph(
            communication=1.0, agenda=1.0, activities=0.6, measurement=1.0, engagement=1.0,
            investment=1.0, backbone=1.0, systems_change=0.6)),
        Phase("sustain", "Sustain Action & Impact", _emph(
            communication=0.8, agenda=0.5, activities=1.0, measurement=1.0, engagement=0.8,
            investment=1.0, backbone=1.0, systems_change=1.2)),
    ]
    transitions = [
        Transition("initiate", "organize", [
            ("influential champion", _champion, 2.0),
            ("funding runway (years)", _runway, max(2.0, ph.run_min_runway_years)),
            ("trust", _trust, 0.67 * ph.run_min_trust)], ph.min_initiation_years),
        Transition("organize", "initiate", [
            ("agreement lost", _lost(_agreement, 0.3 * ph.run_min_agreement), 1.0)],
            cause="setback: the cross-sector group fell apart"),
        Transition("organize", "sustain", [
            ("backbone capacity", _backbone, max(ph.run_min_backbone, 1e-9)),
            ("agenda agreement", _agreement, ph.run_min_agreement),
            ("shared metrics maturity", _measurement, 0.3)], 0.5),
        Transition("sustain", "organize", [
            ("backbone lost", _lost(_backbone, 0.5 * ph.run_min_backbone), 1.0)],
            cause="setback: backbone capacity collapsed"),
    ]
    return PhaseModel("nciom", phases, transitions, operating="sustain",
                      preparatory=("organize",))


PHASE_MODELS: dict[str, Callable[[StepContext], PhaseModel]] = {
    "refined": refined_model,
    "nciom": nciom_model,
}
