"""World state: the arrays the mechanisms read and write, for one world of a run.

A run keeps two worlds side by side: the *factual* world of the scenario and the
*counterfactual* world of the same partners, population and money with organisations working in
isolation. Both are built from the same draws, so they start identical.
Partner state is a struct of arrays (one row per organisation); the Mesa ``Partner`` agents are
views on these rows. The beneficiary population is shared (see :mod:`cisim.population`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from cisim._world import (
    F_ABSORBED,
    F_AGREEMENT,
    F_ALIGNMENT,
    F_BACKBONE_CAPACITY,
    F_BACKBONE_FUNDED,
    F_BACKBONE_SPEND,
    F_BARRIER_MULTIPLIER,
    F_COORDINATION,
    F_COORDINATION_COST,
    F_DATA_CAPACITY,
    F_EFFECT_MULTIPLIER,
    F_ENGAGEMENT,
    F_FACILITATION,
    F_FIT,
    F_GOOD_INTERACTIONS,
    F_INCOME,
    F_INTERACTIONS,
    F_INVESTMENT,
    F_INVESTMENT_PV,
    F_LEARNED,
    F_MEASURED_BASELINE,
    F_MEASURED_RATE,
    F_MEASURED_SROI,
    F_MEASURED_VALUE_PV,
    F_MEASUREMENT,
    F_MEASUREMENT_SPEND,
    F_POLICY_CHANGE,
    F_PRACTICES_CHANGE,
    F_PROGRAMME_MONEY,
    F_RUNWAY_YEARS,
    F_SERVICE_CAPACITY,
    F_SERVICES_CHANGE,
    F_STRUCTURAL_MULTIPLIER,
    F_TRUST_MEAN,
    FIGURES,
    book_figures,
)
from cisim.kernels import MAX_PAIRWISE
from cisim.scenario import CADENCE_WEEKS, SECTORS, Scenario

__all__ = [
    "BACKBONE_NEUTRALITY", "FIGURES", "PartnerTable", "World", "book_week", "build_partners",
    "equity_focus", "meeting_interval",
]

VALUE_KINDS = ("social_impact", "knowledge", "reputation", "engagement")

#: Typical perceived neutrality per backbone type. Modelling assumption informed by Turner,
#: Merchant, Kania & Martin (2012): funder-based and government backbones are most often seen as
#: pursuing their own agenda, a new nonprofit created for the purpose least often.
BACKBONE_NEUTRALITY = {
    "funder_based": 0.6,
    "new_nonprofit": 0.85,
    "existing_nonprofit": 0.7,
    "government": 0.55,
    "shared": 0.75,
    "steering_committee": 0.65,
}


@dataclass
class PartnerTable:
    """The partners, one row per organisation (the same in both worlds at the start)."""

    names: list[str]
    sector: np.ndarray  # (N,) int index into SECTORS
    staff_fte: np.ndarray
    budget: np.ndarray  # own service money per year
    grant: np.ndarray  # money per year to the pooled fund
    grant_years: np.ndarray
    expertise: np.ndarray  # (N, A)
    own_priority: np.ndarray  # (N, A) allocation the partner would choose alone
    commitment0: np.ndarray
    data_maturity: np.ndarray
    influence: np.ndarray
    position0: np.ndarray  # (N, 2)
    seeks: np.ndarray  # (N, 4) normalised weights over VALUE_KINDS

    @property
    def n(self) -> int:
        """Number of partners."""
        return len(self.names)


def _lognormal(rng: np.random.Generator, mean: float, cv: float, size: int) -> np.ndarray:
    if mean <= 0:
        return np.zeros(size)
    if cv <= 0:
        return np.full(size, float(mean))
    sigma2 = np.log1p(cv**2)
    return rng.lognormal(np.log(mean) - sigma2 / 2, np.sqrt(sigma2), size)


def build_partners(sc: Scenario, rng: np.random.Generator) -> PartnerTable:
    """Build the partner table from the listed and generated partners.

    Args:
        sc: The scenario.
        rng: Generator for the initial draws (expertise, positions, generated partners).
    """
    areas = sc.strategy_areas
    A = len(areas)
    from cisim.scenario import _default_profiles

    gen = sc.partner_generation
    profiles = gen.profiles if gen is not None else _default_profiles()
    defaults = _default_profiles()
    rows: list[dict] = []
    for p in sc.partners:
        prof = profiles.get(p.sector) or defaults[p.sector]
        rows.append(
            dict(
                name=p.name, sector=p.sector, staff=p.staff_fte, budget=p.budget_per_year,
                grant=p.grant_per_year, grant_years=p.grant_years, expertise=p.expertise,
                commitment=p.commitment, data=p.data_maturity, influence=p.influence,
                position=p.agenda_position, seeks=p.seeks.model_dump(),
                strong=[a for a in prof.strong_areas if a in areas],
            )
        )
    if gen is not None:
        generated = []
        for sector in SECTORS:
            count = gen.counts.get(sector, 0)
            if count == 0:
                continue
            prof = gen.profiles.get(sector) or defaults[sector]
            staff = _lognormal(rng, prof.staff_fte.mean, prof.staff_fte.cv, count)
            budget = _lognormal(rng, prof.budget_per_year.mean, prof.budget_per_year.cv, count)
            grant = _lognormal(rng, prof.grant_per_year.mean, prof.grant_per_year.cv, count)
            for k in range(count):
                generated.append(
                    dict(
                        name=f"{sector}-{k + 1}", sector=sector, staff=staff[k],
                        budget=budget[k], grant=grant[k], grant_years=3.0, expertise=None,
                        commitment=prof.commitment, data=prof.data_maturity, influence=1.0,
                        position=None, seeks=None, strong=prof.strong_areas,
                    )
                )
        # Champions: the largest generated organisations by staff.
        order = sorted(range(len(generated)), key=lambda k: -generated[k]["staff"])
        for k in order[: gen.champions]:
            generated[k]["influence"] = gen.champion_influence
        rows.extend(generated)

    N = len(rows)
    expertise = np.empty((N, A))
    position = np.empty((N, 2))
    seeks = np.empty((N, 4))
    for k, r in enumerate(rows):
        if r["expertise"] is not None:
            expertise[k] = r["expertise"]
        else:
            base = rng.uniform(0.15, 0.45, A)
            # a default profile's strong areas may not exist in a scenario's own area list
            for a_name in (a for a in r["strong"] if a in areas):
                base[areas.index(a_name)] = rng.uniform(0.6, 0.95)
            expertise[k] = base
        position[k] = r["position"] if r["position"] is not None else rng.uniform(0, 1, 2)
        s = r["seeks"] or dict(
            social_impact=0.5, knowledge=0.2, reputation=0.15, engagement=0.15
        )
        seeks[k] = [s[v] for v in VALUE_KINDS]
    seeks /= seeks.sum(axis=1, keepdims=True)
    # Alone, an organisation spreads its effort by its own priorities: mostly where it is expert,
    # with idiosyncratic preferences (its own definition of the problem, Kania & Kramer 2011).
    taste = rng.gamma(2.0, 1.0, (N, A))
    own = np.maximum(expertise, 1e-3) * taste
    own /= own.sum(axis=1, keepdims=True)
    return PartnerTable(
        names=[r["name"] for r in rows],
        sector=np.array([SECTORS.index(r["sector"]) for r in rows], dtype=np.int64),
        staff_fte=np.array([r["staff"] for r in rows], dtype=float),
        budget=np.array([r["budget"] for r in rows], dtype=float),
        grant=np.array([r["grant"] for r in rows], dtype=float),
        grant_years=np.array([r["grant_years"] for r in rows], dtype=float),
        expertise=expertise,
        own_priority=own,
        commitment0=np.array([r["commitment"] for r in rows], dtype=float),
        data_maturity=np.array([r["data"] for r in rows], dtype=float),
        influence=np.array([r["influence"] for r in rows], dtype=float),
        position0=position,
        seeks=seeks,
    )


@dataclass
class FundingLine:
    """One source of money into the pooled fund (an external stream or a partner's grant)."""

    name: str
    amount: float  # per year
    start_step: int
    end_step: float  # step at which the current commitment ends (inf: open-ended)
    renewable: bool
    early: bool  # involved from the initial phase (anchor, or a partner at the table)
    partner: int = -1  # index of the granting partner, -1 for external streams
    active: bool = True
    paid: float = 0.0  # money paid into the fund this step (recorded by the cost ledger)


#: The figures' values in a new world (the rest start at 0).
_INITIAL_FIGURES = {
    F_EFFECT_MULTIPLIER: 1.0, F_BARRIER_MULTIPLIER: 1.0, F_STRUCTURAL_MULTIPLIER: 1.0,
    F_MEASURED_RATE: math.nan, F_MEASURED_BASELINE: math.nan, F_MEASURED_SROI: math.nan,
}


def _figure(index: int, doc: str) -> property:
    """The attribute of the world's figure ``index``: a Python float kept in its array."""

    def get(world: World) -> float:
        return world._fv[index]

    def put(world: World, value: float) -> None:
        world._fv[index] = value

    return property(get, put, doc=doc)


@dataclass
class World:
    """The mutable state of one world (factual or counterfactual).

    The partner-level state is a struct of arrays (one row per organisation); the scalar
    figures live in one float array, :attr:`figures` (laid out as :data:`FIGURES`), so that a
    compiled rule takes them all in one argument, and each reads as an attribute.
    """

    isolated: bool
    partners: PartnerTable
    n_areas: int
    # partner-level state
    active: np.ndarray = field(init=False)
    commitment: np.ndarray = field(init=False)
    allocation: np.ndarray = field(init=False)
    position: np.ndarray = field(init=False)
    trust: np.ndarray = field(init=False)
    damage: np.ndarray = field(init=False)
    contacted: np.ndarray = field(init=False)
    attended: np.ndarray = field(init=False)
    realised: np.ndarray = field(init=False)  # (N, 4) cumulative value-years
    value_rate: np.ndarray = field(init=False)  # (N, 4) this step
    capacity: np.ndarray = field(init=False)  # (N,) service-years per year this step
    burden_hours: np.ndarray = field(init=False)  # (N,) coordination hours this week
    funding: list[FundingLine] = field(default_factory=list)
    # needs as the partners see them, and the plan
    assumed_need: np.ndarray = field(init=False)  # (A,) shares
    perceived_need: np.ndarray = field(init=False)
    plan: np.ndarray = field(init=False)  # (N, A)
    ideal_plan: np.ndarray = field(init=False)
    coverage: np.ndarray = field(init=False)  # (A,)

    # component indicators (0-1 unless noted)
    trust_mean = _figure(F_TRUST_MEAN, "Mean trust between the active partners, 0-1.")
    agreement = _figure(F_AGREEMENT, "Agreement on the common agenda, 0-1.")
    alignment = _figure(F_ALIGNMENT, "Alignment of the partners' plans with the agenda, 0-1.")
    measurement = _figure(F_MEASUREMENT, "Maturity of the shared measurement system, 0-1.")
    engagement = _figure(F_ENGAGEMENT, "Beneficiary engagement, 0-1.")
    runway_years = _figure(F_RUNWAY_YEARS, "Committed funding at the current rate, years.")
    backbone_capacity = _figure(F_BACKBONE_CAPACITY, "Backbone capacity, 0-1.")
    facilitation = _figure(F_FACILITATION, "Quality of facilitation, 0-1.")
    coordination = _figure(F_COORDINATION, "Coordination capacity, 0-1.")
    data_capacity = _figure(F_DATA_CAPACITY, "The backbone's data capacity, 0-1.")
    absorbed = _figure(F_ABSORBED, "Share of the coordination burden the backbone absorbs.")
    services_change = _figure(F_SERVICES_CHANGE, "Systems change in services, 0-1.")
    practices_change = _figure(F_PRACTICES_CHANGE, "Systems change in practices, 0-1.")
    policy_change = _figure(F_POLICY_CHANGE, "Systems change in policy, 0-1.")
    # what they do to the population (see cisim.mechanisms.systems_change.set_multipliers)
    effect_multiplier = _figure(F_EFFECT_MULTIPLIER, "Multiplier on the help services give.")
    barrier_multiplier = _figure(F_BARRIER_MULTIPLIER, "Multiplier on everyone's barriers.")
    structural_multiplier = _figure(F_STRUCTURAL_MULTIPLIER,
                                    "Multiplier on structural barriers.")
    # money this step
    income = _figure(F_INCOME, "Money into the pooled fund this week.")
    backbone_spend = _figure(F_BACKBONE_SPEND, "Money spent on the backbone this week.")
    measurement_spend = _figure(F_MEASUREMENT_SPEND,
                                "Money spent on shared measurement this week.")
    programme_money = _figure(F_PROGRAMME_MONEY, "Money left for programmes this week.")
    backbone_funded = _figure(F_BACKBONE_FUNDED, "Share of the backbone's budget funded, 0-1.")
    # the services
    fit = _figure(F_FIT, "Fit of services to the beneficiaries' real needs, 0-1.")
    learned = _figure(F_LEARNED, "What organisations learnt of real needs on their own, 0-1.")
    service_capacity = _figure(F_SERVICE_CAPACITY, "Effective service-years per year.")
    # measurement
    measured_rate = _figure(F_MEASURED_RATE, "The measured outcome rate (NaN before setup).")
    measured_baseline = _figure(F_MEASURED_BASELINE, "The measured baseline outcome rate.")
    # interactions this step
    interactions = _figure(F_INTERACTIONS, "Partner interactions this week.")
    good_interactions = _figure(F_GOOD_INTERACTIONS, "Good partner interactions this week.")
    # the partnership's own books (see book_week)
    coordination_cost = _figure(F_COORDINATION_COST,
                                "The partners' coordination time this week, valued.")
    investment = _figure(F_INVESTMENT, "Money into the fund plus coordination time this week.")
    investment_pv = _figure(F_INVESTMENT_PV, "Present value of the investment so far.")
    measured_value_pv = _figure(F_MEASURED_VALUE_PV,
                                "Present value of the measured change so far.")
    measured_sroi = _figure(F_MEASURED_SROI,
                            "What the partnership can show from its own data (SROI).")

    def __post_init__(self) -> None:
        p = self.partners
        N, A = p.n, self.n_areas
        self.active = np.ones(N, dtype=bool)
        self.commitment = p.commitment0.copy()
        self.allocation = p.own_priority.copy()
        self.position = p.position0.copy()
        self.trust = np.zeros((N, N))
        self.damage = np.zeros((N, N))
        self.contacted = np.zeros((N, N), dtype=bool)
        self.attended = np.zeros(N, dtype=bool)
        self.realised = np.zeros((N, 4))
        self.value_rate = np.zeros((N, 4))
        self.capacity = p.budget.copy()
        self.burden_hours = np.zeros(N)
        self._figures = np.zeros(len(FIGURES))
        for index, value in _INITIAL_FIGURES.items():
            self._figures[index] = value
        self._fv = memoryview(self._figures)  # its items as Python floats (the attributes')
        self.assumed_need = np.full(A, 1.0 / A)
        self.perceived_need = np.full(A, 1.0 / A)
        self.plan = p.own_priority.copy()
        self.ideal_plan = p.own_priority.copy()
        self.coverage = np.ones(A)

    @property
    def figures(self) -> np.ndarray:
        """The scalar figures, laid out as :data:`FIGURES`.

        Written in place, never replaced: the figures' attributes read this array.
        """
        return self._figures

    def __getstate__(self) -> dict:
        """The world's state for a copy or a pickle (a memoryview is neither)."""
        state = self.__dict__.copy()
        del state["_fv"]
        return state

    def __setstate__(self, state: dict) -> None:
        """Restore a copied or unpickled world."""
        self.__dict__.update(state)
        self._fv = memoryview(self._figures)


def book_week(world: World, sc: Scenario, step: int, population: int) -> None:
    """Book the week ``step`` in the world's own accounts (after the week's dynamics).

    The investment is the money into the pooled fund plus the partners' coordination time
    (hours of coordination work and meetings valued at ``valuation.coordination_hour_cost``;
    contributions in kind, Nicholls, Lawlor, Neitzert & Goodspeed 2012); nothing is invested
    at step 0. The *measured* SROI is what the partnership can show from its own data: the
    measured change against its measured baseline (the flat "curve" of Results-Based
    Accountability, without the counterfactual), valued with the valuation's adjusted proxy,
    over the investment, both discounted. The Exponential Value phase asks for it
    (:mod:`cisim.phases`); the recorder only copies these figures.

    One compiled call (:func:`cisim._world.book_figures`) reads and writes the world's figures.
    """
    v = sc.valuation
    hours = world.burden_hours
    # numpy's sum of the hours where the compiled pairwise sum stops (see above)
    burden = float(np.add.reduce(hours)) if hours.shape[0] > MAX_PAIRWISE else 0.0
    book_figures(world.figures, hours, world.attended, burden, not world.isolated, step,
               population, sc.meetings.hours_per_meeting, v.coordination_hour_cost,
               v.discount_rate, v.value_per_outcome_year, v.attribution, v.displacement)


def equity_focus(sc: Scenario, world: World) -> float:
    """The world's equity focus: the scenario's, none in an isolated world.

    It aims policy at structural barriers
    (:func:`cisim.mechanisms.systems_change.set_multipliers`) and services at those in most
    need (the population's parameter rows, :func:`cisim.population.world_rows`).
    """
    return 0.0 if world.isolated else sc.engagement.equity_focus


def meeting_interval(sc: Scenario) -> int:
    """Weeks between meetings (0: no meetings)."""
    return CADENCE_WEEKS.get(sc.meetings.cadence, 0)

