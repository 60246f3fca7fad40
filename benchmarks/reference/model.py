"""A plain-Mesa reference implementation of cisim's per-step mechanics, one agent at a time.

This is what the engine would be without arrays and numba: every beneficiary and every partner
is a ``mesa.Agent`` with a ``step`` written in plain Python, and the model steps them through
``model.agents_by_type[...]`` as an idiomatic Mesa 3.5 model does. It implements the same
per-step mechanics as the engine, with the same counter-based random numbers (the pure-Python
generator of :mod:`cisim.rng`, the kernels' twin), so that the two agree step for step:

* beneficiaries — ageing out and replacement, service delivery (targeting weight, intensity,
  complementary barriers) and the outcome transition in both worlds, and the aggregates the
  engine reads back (:func:`cisim._population.population_step`, :mod:`cisim.population`);
* partners — meeting attendance, pairwise interactions that build or break trust (both trust
  rules, :func:`cisim.mechanisms._communication.trust_update`), trust decay
  and ceiling recovery (:func:`cisim.mechanisms._communication.communication_week`,
  :mod:`cisim.mechanisms.communication`), and the trust-weighted bounded-confidence agenda
  update with the facilitator's pull toward a shared proposal (:mod:`cisim.mechanisms.agenda`),
  in the factual world (in the counterfactual world partners work in isolation: no meetings and
  no agenda work).

Everything else the engine does each week (investment, backbone, measurement, activities,
systems change, value, phases, recording) sets the *inputs* of these mechanics: the reference
takes them as a :class:`StepInputs` per step, either captured from a running engine model
(:class:`RecordingModel`, used by ``tests/test_reference.py``) or held fixed (the benchmarks).

Update order. Each beneficiary's update reads and writes only its own row, so the order in which
beneficiaries step does not matter (``shuffle_do``); only the floating-point sums of the
aggregates depend on it, in the last bits. Each pair of partners meets at most once per meeting
and its draws depend only on its indices, so the meeting order does not matter either. The
agenda update is synchronous (every partner moves from the positions at the start of the
update), so it is done in two stages: all partners plan their move, then all move.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from mesa import Agent, Model

from benchmarks.reference.rng import normal, u01
from cisim._population import CREAMING, EQUITY_BOOST
from cisim.kernels import (
    S_ATTEND,
    S_ENTRANT,
    S_NEED,
    S_PAIR,
    S_QUALITY,
    S_SUBGROUP,
    S_TRANSITION,
    S_TURNOVER,
    WP,
)
from cisim.mechanisms import DEFAULT_MECHANISMS, CommonAgenda, Communication
from cisim.model import CollectiveImpactModel
from cisim.scenario import STEPS_PER_YEAR
from cisim.world import World, meeting_interval

__all__ = [
    "RecordingModel",
    "ReferenceBeneficiary",
    "ReferenceModel",
    "ReferencePartner",
    "StepInputs",
    "capture_inputs",
]


def _f32(x: float) -> float:
    """Round to the nearest float32, as a store into the engine's float32 arrays does."""
    return float(np.float32(x))


# ---- the inputs of one step -------------------------------------------------------------------


@dataclass
class StepInputs:
    """What the rest of the engine hands the per-step mechanics in one week.

    Attributes:
        wp: (2, WP.N) per-world population parameters (see :class:`cisim.kernels.WP`).
        coverage: (2, A) coverage of each strategy area per world.
        meeting: Whether the factual world holds a meeting this week.
        attendance: The scenario's attendance chance.
        commitment: Each partner's commitment.
        active: Whether each partner is still in the partnership.
        contacts: Contacts per meeting times the phase's communication emphasis.
        p_good_base: Chance of a good interaction before agenda distance.
        distance_penalty: Loss of that chance per unit of agenda distance.
        gain: Share of the gap to the trust ceiling closed by a good interaction.
        loss: Share of trust lost in a bad interaction (rule "pant_yu").
        rule: The trust rule, "smoothing" or "pant_yu" (``dynamics.trust_rule``).
        negativity: Good interactions' largest gain one bad one removes (rule "smoothing").
        damage_jump: Drop of the trust ceiling after a bad interaction.
        decay: Weekly trust decay without contact.
        recovery: Weekly recovery of the trust ceiling.
        bound: Confidence bound of the agenda update (facilitation included).
        convergence: Convergence weight (rate times the phase's agenda emphasis, at most 0.5).
        proposal_step: Proposal pull times agenda emphasis times facilitation.
        proposal_on: Whether the proposal pull is switched on.
        entrant_rate: (G,) chance that an entrant starts in the outcome state this week (the
            secular trend moves it); None keeps the rate read at construction.
    """

    wp: np.ndarray
    coverage: np.ndarray
    meeting: bool
    attendance: float
    commitment: np.ndarray
    active: np.ndarray
    contacts: float
    p_good_base: float
    distance_penalty: float
    gain: float
    loss: float
    rule: str
    negativity: float
    damage_jump: float
    decay: float
    recovery: float
    bound: float
    convergence: float
    proposal_step: float
    proposal_on: bool
    entrant_rate: np.ndarray | None = None


def _partner_inputs(model: CollectiveImpactModel, world: World) -> dict:
    """The partner-level inputs, read as Communication and CommonAgenda read them."""
    sc = model.design
    dyn = sc.dynamics
    interval = meeting_interval(sc)
    t = model.steps
    emph_c = model.emphasis(world, Communication.component)
    emph_a = model.emphasis(world, CommonAgenda.component)
    return dict(
        meeting=bool(not world.isolated and interval > 0 and t % interval == 0),
        attendance=float(sc.meetings.attendance),
        commitment=world.commitment.copy(),
        active=world.active.copy(),
        contacts=float(sc.meetings.contacts_per_meeting * emph_c),
        p_good_base=float(Communication().good_chance(model, world)),
        distance_penalty=float(dyn.distance_penalty),
        gain=float(dyn.trust_gain),
        loss=float(dyn.trust_loss),
        rule=str(dyn.trust_rule),
        negativity=float(dyn.trust_negativity),
        damage_jump=float(dyn.trust_damage),
        decay=float(dyn.trust_decay_per_year / STEPS_PER_YEAR),
        recovery=float(dyn.trust_damage_recovery_per_year / STEPS_PER_YEAR),
        bound=float(dyn.confidence_bound + dyn.facilitation_bound * world.facilitation),
        convergence=float(min(0.5, dyn.convergence_rate * emph_a)),
        proposal_step=float(dyn.proposal_pull * emph_a * world.facilitation),
        proposal_on=bool(dyn.proposal_pull > 0),
    )


def _population_inputs(model: CollectiveImpactModel) -> dict:
    wp = np.stack([model._world_row(w, world) for w, world in enumerate(model.worlds)])
    coverage = np.stack([world.coverage for world in model.worlds])
    entrant_rate = np.array(model.population.entrant_rate(float(wp[0, WP.TREND])))
    return dict(wp=wp, coverage=coverage, entrant_rate=entrant_rate)


def capture_inputs(model: CollectiveImpactModel) -> StepInputs:
    """The inputs of the per-step mechanics in the engine model's current state.

    The benchmarks hold these fixed for every step of the reference; the engine itself
    recomputes them every week (see :class:`RecordingModel` for exact per-step capture).
    """
    return StepInputs(**_population_inputs(model), **_partner_inputs(model, model.factual))


# ---- the engine, recording the inputs it hands the mechanics each step -------------------------


class _RecordingCommunication(Communication):
    def step(self, model: CollectiveImpactModel, world: World) -> None:
        if world is model.factual:
            model.recorded_partner_inputs = _partner_inputs(model, world)
        super().step(model, world)


class RecordingModel(CollectiveImpactModel):
    """The engine's model, unchanged, recording the inputs of each step's mechanics.

    After ``step()``, :attr:`last_inputs` holds the :class:`StepInputs` the engine used in that
    step: the partner inputs as Communication saw them, the population inputs as
    ``serve_population`` computed them.
    """

    def __init__(self, *args, **kwargs):
        mechs = [
            _RecordingCommunication() if isinstance(m, Communication) else m
            for m in DEFAULT_MECHANISMS()
        ]
        self.recorded_partner_inputs: dict = {}
        self.last_inputs: StepInputs | None = None
        super().__init__(*args, mechanisms=mechs, **kwargs)

    def serve_population(self) -> None:
        """Record the population inputs, then serve as the engine does."""
        self.last_inputs = StepInputs(**_population_inputs(self), **self.recorded_partner_inputs)
        super().serve_population()


# ---- agents -----------------------------------------------------------------------------------


class ReferenceBeneficiary(Agent):
    """One young person: barriers, subgroup, engagement propensity, outcome in both worlds."""

    def __init__(self, model: ReferenceModel, index: int, needs: list[float], subgroup: int,
                 propensity: float, outcome: list[int], exposure: float):
        super().__init__(model)
        self.index = index
        self.needs = needs
        self.subgroup = subgroup
        self.propensity = propensity
        self.outcome = outcome
        self.exposure = exposure

    def _weight(self, mean_need: float, wp: np.ndarray) -> float:
        """Targeting weight: who services reach (the kernel's ``_weight``)."""
        m = self.model
        t = self.propensity + wp[WP.TAKEUP] * (1.0 - self.propensity)
        d = 1.0 if m.disadvantaged[self.subgroup] else 0.0
        equity = wp[WP.EQUITY]
        return (t * (1.0 - mean_need) ** (CREAMING * (1.0 - equity))
                * (1.0 + EQUITY_BOOST * equity * d))

    def _age_out(self, seed: int, t: int) -> None:
        """Leave the population; a new entrant takes this place."""
        m = self.model
        i = self.index
        us = u01(seed, t, i, S_SUBGROUP)
        g = 0
        while g < m.G - 1 and us >= m.share_cum[g]:
            g += 1
        self.subgroup = g
        A = m.A
        for a in range(A):
            v = m.need_mean[g][a] + m.need_sd * normal(seed, t, i * A + a, S_NEED)
            self.needs[a] = _f32(min(1.0, max(0.0, v)))
        rates = m.inputs.entrant_rate if m.inputs.entrant_rate is not None else m.entrant_rate
        start = 1 if u01(seed, t, i, S_ENTRANT) < rates[g] else 0
        self.outcome[0] = start
        self.outcome[1] = start
        self.exposure = 0.0

    def step(self) -> None:
        """One week: maybe age out, receive services, move in or out of the outcome state."""
        m = self.model
        seed, t, i = m.seed_int, m.t, self.index
        if m.turnover > 0.0 and u01(seed, t, i, S_TURNOVER) < m.turnover:
            self._age_out(seed, t)
        g = self.subgroup
        A = m.A
        mean_need = 0.0
        for a in range(A):
            mean_need += self.needs[a]
        mean_need /= A
        u = u01(seed, t, i, S_TRANSITION)
        inputs = m.inputs
        for w in range(2):
            wp = inputs.wp[w]
            s = 0.0
            if self.outcome[w] == 0:
                s = min(1.0, wp[WP.CAP_NORM] * self._weight(mean_need, wp))
                # services reach the share 1 - σ of the subgroup's barriers, which policy
                # lowers; the structural share σ yields only to policy aimed by an equity focus
                reachable = wp[WP.BARRIER] * (1.0 - m.structural[g])
                structural = m.structural[g] * wp[WP.SBARRIER]
                mult = 1.0
                for a in range(A):
                    help_ = wp[WP.EFFICACY] * min(
                        1.0, s * inputs.coverage[w][a] * wp[WP.FIT] * wp[WP.EFFECT])
                    n = self.needs[a]
                    mult *= 1.0 - (n * reachable * (1.0 - help_) + n * structural)
                h = m.h_in[g] * wp[WP.TREND]  # the secular trend, the same in both worlds
                if u < 1.0 - math.exp(-h * mult):
                    self.outcome[w] = 1
            elif u < 1.0 - math.exp(-m.h_out[g]):
                self.outcome[w] = 0
            if w == 0:
                self.exposure = _f32(self.exposure + s / 52.0)
            weight = self._weight(mean_need, wp) if self.outcome[w] == 0 else 0.0
            m.report(w, g, s, self.exposure > 0.1, self.outcome[w], weight, self.needs,
                     wp[WP.BARRIER])


class ReferencePartner(Agent):
    """One organisation: an agenda position, influence, and trust in each other partner."""

    def __init__(self, model: ReferenceModel, index: int, position: list[float],
                 influence: float, trust: dict[int, float], damage: dict[int, float]):
        super().__init__(model)
        self.index = index
        self.position = position
        self.influence = influence
        self.trust = trust
        self.damage = damage
        self.attending = False
        self.contacted: set[int] = set()
        self._move = [0.0] * len(position)

    def attend(self) -> None:
        """Decide whether to come to this week's meeting (attendance times commitment)."""
        m = self.model
        inp = m.inputs
        self.contacted = set()
        self.attending = False
        if inp.meeting:
            u = u01(m.seed_int, m.t, self.index, S_ATTEND)
            self.attending = bool(inp.active[self.index]) and (
                u < inp.attendance * inp.commitment[self.index])

    def meet(self) -> None:
        """Interact with the attendees of higher index (each pair once per meeting)."""
        m = self.model
        if not (self.attending and m.meeting_held):
            return
        inp = m.inputs
        i = self.index
        N = m.n_partners
        for other in m.partner_list[i + 1:]:
            if not other.attending:
                continue
            j = other.index
            k = i * N + j
            if u01(m.seed_int, m.t, k, S_PAIR) >= m.contact_prob:
                continue
            dist = 0.0
            for a, b in zip(self.position, other.position, strict=True):
                dist += (a - b) * (a - b)
            dist = math.sqrt(dist)
            p_good = min(1.0, max(0.0, inp.p_good_base - inp.distance_penalty * dist))
            m.interactions += 1.0
            self.contacted.add(j)
            other.contacted.add(i)
            if u01(m.seed_int, m.t, k, S_QUALITY) < p_good:
                m.good_interactions += 1.0
                trust = self.trust[j] + inp.gain * max(0.0, 1.0 - self.damage[j] - self.trust[j])
            else:
                if inp.rule == "pant_yu":  # a share of the trust there is
                    trust = self.trust[j] * (1.0 - inp.loss)
                else:  # smoothing: negativity times a good interaction's largest step, or all
                    trust = self.trust[j] - min(self.trust[j], inp.negativity * inp.gain)
                dmg = min(1.0, self.damage[j] + inp.damage_jump)
                self.damage[j] = dmg
                other.damage[i] = dmg
            self.trust[j] = trust
            other.trust[i] = trust

    def decay(self) -> None:
        """Trust fades toward partners not met this week; the trust ceiling recovers."""
        inp = self.model.inputs
        for j in self.trust:
            if j not in self.contacted:
                self.trust[j] *= 1.0 - inp.decay
            self.damage[j] *= 1.0 - inp.recovery

    def plan_move(self) -> None:
        """Bounded confidence: plan a move toward trusted partners met this week."""
        m = self.model
        inp = m.inputs
        x = self.position
        total = [0.0] * len(x)
        for other in m.partner_list:
            j = other.index
            if j not in self.contacted:
                continue
            diff = [b - a for a, b in zip(x, other.position, strict=True)]
            dist = math.sqrt(sum(d * d for d in diff))
            if not dist < inp.bound:
                continue
            pull = other.influence / (self.influence + other.influence)
            w = self.trust[j] * 2.0 * pull * inp.convergence
            for d in range(len(x)):
                total[d] += w * diff[d]
        n_contacts = max(1, len(self.contacted))
        self._move = [total[d] / n_contacts for d in range(len(x))]

    def move(self) -> None:
        """Take the planned move."""
        for d in range(len(self.position)):
            self.position[d] += self._move[d]

    def pull_to_proposal(self) -> None:
        """At a meeting, the facilitator pulls attendees toward the shared proposal."""
        m = self.model
        if not (self.attending and m.proposal is not None):
            return
        own_trust = sum(self.trust.values()) / m.active_others
        step = m.inputs.proposal_step * own_trust
        for d in range(len(self.position)):
            self.position[d] += step * (m.proposal[d] - self.position[d])

    def clip(self) -> None:
        """Agenda positions stay in the unit square."""
        self.position = [min(1.0, max(0.0, v)) for v in self.position]


# ---- the model --------------------------------------------------------------------------------


class ReferenceModel(Model):
    """The per-step mechanics of cisim with every agent stepping in Python.

    Build it from an engine model with :meth:`from_engine`; set :attr:`inputs` before a step
    to replay the engine's inputs (otherwise the inputs captured at construction are reused).

    Attributes:
        aggregates: (2, 4 + 2 G + A) aggregates after the last step, in the layout of
            :func:`cisim._population.population_step`.
        interactions: Interactions at this week's meeting.
        good_interactions: Good ones among them.
        agreement: Agenda agreement after the last step (as in :mod:`cisim.mechanisms.agenda`).
    """

    def __init__(self, engine: CollectiveImpactModel, inputs: StepInputs | None = None):
        super().__init__(rng=int(engine.seed))
        pop = engine.population
        self.seed_int = int(engine.kseed)
        self.t0 = int(engine.steps)
        self.A = int(pop.needs.shape[1])
        self.G = int(pop.G)
        self.h_in = [float(v) for v in pop.h_in]
        self.h_out = [float(v) for v in pop.h_out]
        self.disadvantaged = [bool(v) for v in pop.disadvantaged]
        self.structural = [float(v) for v in pop.structural]
        self.turnover = float(pop.turnover)
        self.share_cum = [float(v) for v in pop.share_cum]
        self.entrant_rate = [float(v) for v in pop.entrant_rate()]
        self.need_mean = [[float(v) for v in row] for row in pop.need_mean]
        self.need_sd = float(pop.need_sd)
        self.inputs = inputs if inputs is not None else capture_inputs(engine)
        self.aggregates = np.array(pop.aggregates, dtype=float)
        for i in range(pop.n):
            ReferenceBeneficiary(
                self, i, [float(v) for v in pop.needs[i]], int(pop.subgroup[i]),
                float(pop.propensity[i]), [int(pop.outcome[0, i]), int(pop.outcome[1, i])],
                float(pop.exposure[i]),
            )
        world = engine.factual
        N = world.partners.n
        self.n_partners = N
        for i in range(N):
            ReferencePartner(
                self, i, [float(v) for v in world.position[i]],
                float(world.partners.influence[i]),
                {j: float(world.trust[i, j]) for j in range(N) if j != i},
                {j: float(world.damage[i, j]) for j in range(N) if j != i},
            )
        self.partner_list: list[ReferencePartner] = sorted(
            self.agents_by_type[ReferencePartner], key=lambda p: p.index)
        self.beneficiaries = self.agents_by_type[ReferenceBeneficiary]
        self.partners = self.agents_by_type[ReferencePartner]
        self.interactions = self.good_interactions = 0.0
        self.meeting_held = False
        self.contact_prob = 0.0
        self.proposal: list[float] | None = None
        self.active_others = 1
        self.agreement = float(world.agreement)
        self._acc: list[list[float]] = []

    @classmethod
    def from_engine(cls, engine: CollectiveImpactModel, inputs: StepInputs | None = None
                    ) -> ReferenceModel:
        """Copy an engine model's population, partners, parameters and current inputs."""
        return cls(engine, inputs)

    @property
    def t(self) -> int:
        """The engine's step number of the step being taken."""
        return self.t0 + self.steps

    # ---- aggregates, reported by each beneficiary ----------------------------------------------

    def report(self, w: int, g: int, s: float, served: bool, outcome: int, weight: float,
               needs: list[float], barrier: float) -> None:
        """Add one beneficiary's state after its update to world ``w``'s aggregates."""
        acc = self._acc[w]
        G = self.G
        acc[1] += s / 52.0
        if served:
            acc[2] += 1.0
            if outcome == 1:
                acc[3] += 1.0
        acc[4 + G + g] += 1.0
        if outcome == 1:
            acc[4 + g] += 1.0
        else:
            acc[0] += weight
            for a in range(self.A):
                acc[4 + 2 * G + a] += needs[a] * barrier

    # ---- the weekly step -------------------------------------------------------------------------

    def step(self) -> None:
        """One week: partners meet and re-position, then every beneficiary is served."""
        self._partners_step()
        K = 4 + 2 * self.G + self.A
        self._acc = [[0.0] * K, [0.0] * K]
        self.beneficiaries.shuffle_do("step")
        self.aggregates = np.array(self._acc)

    def _partners_step(self) -> None:
        inp = self.inputs
        self.interactions = self.good_interactions = 0.0
        self.partners.do("attend")
        n_att = sum(1 for p in self.partner_list if p.attending)
        self.meeting_held = n_att >= 2
        if self.meeting_held:
            self.contact_prob = min(1.0, inp.contacts / (n_att - 1))
            self.partners.shuffle_do("meet")
        self.partners.do("decay")
        if any(p.contacted for p in self.partner_list):
            self.partners.do("plan_move")
            self.partners.do("move")
            self.proposal = None
            attendees = [p for p in self.partner_list if p.attending]
            if len(attendees) >= 2 and inp.proposal_on:
                weight = sum(p.influence for p in attendees)
                self.proposal = [
                    sum(p.position[d] * p.influence for p in attendees) / weight
                    for d in range(len(attendees[0].position))
                ]
                n_active = sum(1 for k in range(self.n_partners) if inp.active[k])
                self.active_others = max(1, n_active - 1)
                self.partners.do("pull_to_proposal")
            self.partners.do("clip")
        self.agreement = self._agreement()

    def _agreement(self) -> float:
        active = [p for p in self.partner_list if self.inputs.active[p.index]]
        if len(active) < 2:
            return 1.0
        weight = sum(p.influence for p in active)
        D = len(active[0].position)
        centre = [sum(p.position[d] * p.influence for p in active) / weight for d in range(D)]
        mean_dist = sum(
            math.sqrt(sum((p.position[d] - centre[d]) ** 2 for d in range(D))) for p in active
        ) / len(active)
        return min(1.0, max(0.0, 1.0 - 2.0 * mean_dist))

    # ---- state in the engine's array layout (for comparisons) ----------------------------------

    def outcome_array(self) -> np.ndarray:
        """(2, n) outcome states, by beneficiary index."""
        out = np.zeros((2, len(self.beneficiaries)), dtype=np.uint8)
        for b in self.beneficiaries:
            out[0, b.index], out[1, b.index] = b.outcome
        return out

    def beneficiary_arrays(self) -> dict[str, np.ndarray]:
        """Needs, subgroup, exposure and outcome by beneficiary index."""
        n = len(self.beneficiaries)
        needs = np.zeros((n, self.A), dtype=np.float32)
        subgroup = np.zeros(n, dtype=np.int8)
        exposure = np.zeros(n, dtype=np.float32)
        for b in self.beneficiaries:
            needs[b.index] = b.needs
            subgroup[b.index] = b.subgroup
            exposure[b.index] = b.exposure
        return dict(needs=needs, subgroup=subgroup, exposure=exposure,
                    outcome=self.outcome_array())

    def partner_arrays(self) -> dict[str, np.ndarray]:
        """Trust, damage (N, N) and positions (N, D) by partner index."""
        N = self.n_partners
        trust = np.zeros((N, N))
        damage = np.zeros((N, N))
        position = np.zeros((N, len(self.partner_list[0].position)))
        for p in self.partner_list:
            for j, v in p.trust.items():
                trust[p.index, j] = v
            for j, v in p.damage.items():
                damage[p.index, j] = v
            position[p.index] = p.position
        return dict(trust=trust, damage=damage, position=position)
