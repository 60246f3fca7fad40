"""Phase models: state machines with explicit entry conditions and per-phase emphasis.

The default is the refined model of Save the Children Sweden 2021 (Initiation -> Run -> Re-design ->
Run ... -> Exponential Value). Its phase tables give each phase's purpose and main activities per
component; they are turned here into *emphasis* multipliers on each mechanism's rate (1 = the
component is fully active, lower = in the background). Save the Children Sweden's (2021) Initiation
and Run tables survive only as their purposes ("create a collaborative value proposition";
"implement the plan ... to create collective impact"); the Re-design and Exponential Value tables
are given in full. The second model is NCIOM's three phases (NCIOM task force: Initiate Action,
Organize for Impact, Sustain Action & Impact), whose component table maps the same way.

Entry conditions follow the source documents: Run needs agenda agreement, trust, a backbone in place
and secured funding (Kania & Kramer 2011; Hanleybrown, Kania & Kramer 2012's "2-3 years of funding",
as the NCIOM task force slides present it); Re-design follows a period of Run with data to analyse;
Exponential Value needs systems change and a demonstrated SROI. A run records every transition with
its step and cause; while a phase's exit conditions are unmet, the unmet ones are reported as
*blockers*.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cisim.scenario import STEPS_PER_YEAR

if TYPE_CHECKING:
    from cisim.model import CollectiveImpactModel
    from cisim.world import World

__all__ = ["PHASE_MODELS", "Phase", "PhaseModel", "PhaseState"]

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


Condition = tuple[str, Callable[["CollectiveImpactModel", "World"], float], float]


@dataclass
class Transition:
    """From one phase to another when every condition holds (value >= threshold)."""

    source: str
    target: str
    conditions: list[Condition]
    min_years: float = 0.0
    cause: str = ""


class PhaseModel:
    """A phase state machine: phases, transitions in priority order, an initial phase."""

    def __init__(self, name: str, phases: list[Phase], transitions: list[Transition]):
        self.name = name
        self.phases = {p.key: p for p in phases}
        self.initial = phases[0].key
        self.transitions = transitions

    def label(self, key: str) -> str:
        """The readable name of a phase."""
        return self.phases[key].label

    def emphasis(self, key: str) -> dict[str, float]:
        """The phase's emphasis on each component."""
        return self.phases[key].emphasis

    def advance(self, model: CollectiveImpactModel, world: World, state: PhaseState
                ) -> tuple[str, str] | None:
        """Check the transitions out of the current phase.

        Returns:
            ``(new phase key, cause)`` if one fires, else ``None``; ``state.blockers`` then
            lists the unmet conditions of the first forward transition.
        """
        state.entered_this_step = False
        elapsed = (model.steps - state.entered) / STEPS_PER_YEAR
        blockers: list[str] | None = None
        for tr in self.transitions:
            if tr.source != state.key:
                continue
            unmet = []
            if elapsed < tr.min_years:
                unmet.append(f"time in phase {elapsed:.1f} < {tr.min_years:g} years")
            met = []
            for name, fn, threshold in tr.conditions:
                value = fn(model, world)
                if value >= threshold:
                    met.append(f"{name} {value:.2f} >= {threshold:g}")
                else:
                    unmet.append(f"{name} {value:.2f} < {threshold:g}")
            if not unmet:
                state.blockers = []
                cause = tr.cause or "; ".join(met) or "time elapsed"
                return tr.target, cause
            if blockers is None and not tr.cause.startswith("setback"):
                blockers = unmet
        state.blockers = blockers or []
        return None


# ---- condition helpers (each returns a number compared with a threshold) --------------------


def _agreement(m: CollectiveImpactModel, w: World) -> float:
    return w.agreement


def _trust(m: CollectiveImpactModel, w: World) -> float:
    return w.trust_mean


def _backbone(m: CollectiveImpactModel, w: World) -> float:
    return w.backbone_capacity


def _runway(m: CollectiveImpactModel, w: World) -> float:
    return w.runway_years


def _measurement(m: CollectiveImpactModel, w: World) -> float:
    return w.measurement


def _systems(m: CollectiveImpactModel, w: World) -> float:
    return (w.services_change + w.practices_change + w.policy_change) / 3.0


def _sroi(m: CollectiveImpactModel, w: World) -> float:
    return m.recorder.measured_sroi


def _champion(m: CollectiveImpactModel, w: World) -> float:
    infl = w.partners.influence[w.active]
    return float(infl.max()) if infl.size else 0.0


def _lost(fn: Callable[[CollectiveImpactModel, World], float], threshold: float
          ) -> Callable[[CollectiveImpactModel, World], float]:
    """A condition that holds when ``fn`` has fallen below ``threshold`` (for setbacks)."""
    return lambda m, w: 1.0 if fn(m, w) < threshold else 0.0


def refined_model(m: CollectiveImpactModel) -> PhaseModel:
    """Save the Children Sweden's (2021) four phases with the scenario's thresholds."""
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
    return PhaseModel("refined", phases, transitions)


def nciom_model(m: CollectiveImpactModel) -> PhaseModel:
    """NCIOM's three phases (NCIOM task force) with the scenario's thresholds."""
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
    return PhaseModel("nciom", phases, transitions)


PHASE_MODELS: dict[str, Callable[[CollectiveImpactModel], PhaseModel]] = {
    "refined": refined_model,
    "nciom": nciom_model,
}
