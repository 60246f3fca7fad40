"""Scenario: the validated description of a collective impact partnership design.

A scenario is everything a strategist decides or assumes before a run: the partners, the backbone
(orchestrator), the money, the meeting cadence, the shared-measurement plan, the beneficiary
population, the phase model, the horizon and the SROI valuation. It is read from and written to
TOML; every field has a unit, a default and bounds, and every default names its source (published
work and practice documents by author, title and year, or "assumption" where no source gives the
number; "assumption; mechanism after X" where X motivates the mechanism but not its value). Each
parameter's evidence class and prior live in ``cisim/data/priors.toml`` (:mod:`cisim.priors`);
``docs/model.md`` lists them all.

Bad input never passes silently: wrong types, out-of-range values, unknown or misspelt keys, an
empty partnership and a zero horizon raise :class:`ScenarioError`, which names the file and the
field of every problem at once.
"""

from __future__ import annotations

import difflib
import math
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

import tomli_w
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from cisim.schema import drop_none, inner_model, loads_toml, pydantic_problems

__all__ = [
    "BUNDLED_SCENARIOS",
    "MEMORY_LIMIT_BYTES",
    "MIN_MONEY",
    "MIN_SUBGROUP_PEOPLE",
    "SECTORS",
    "Scenario",
    "ScenarioError",
    "bundled_scenario_names",
    "estimate_memory",
    "load_scenario",
    "parameter_table",
]

STEPS_PER_YEAR = 52
SECTORS = ("nonprofit", "public", "private", "philanthropy", "academia", "community")
Sector = Literal["nonprofit", "public", "private", "philanthropy", "academia", "community"]
BackboneType = Literal[
    "funder_based",
    "new_nonprofit",
    "existing_nonprofit",
    "government",
    "shared",
    "steering_committee",
]
Cadence = Literal["none", "weekly", "biweekly", "monthly", "quarterly"]
CADENCE_WEEKS = {"weekly": 1, "biweekly": 2, "monthly": 4, "quarterly": 13}
#: The scenarios shipped as package data (the repository's ``scenarios`` folder links here).
BUNDLED_SCENARIOS = Path(__file__).resolve().parent / "data" / "scenarios"

ASSUMPTION = "assumption"
DESIGN = "scenario author"
RCIM = "Save the Children Sweden, Refined Collective Impact Model (2021)"
SOPACT = "Pierce, The power of collective impact model, Sopact (2019)"
KANIA = "Kania & Kramer, Collective Impact (2011)"
NCIOM = "Clark, Collective Impact: A Framework for Systemic Change, NCIOM task force (undated)"
HANLEYBROWN = "Hanleybrown, Kania & Kramer, Channeling Change (2012)"
TURNER = "Turner et al., Understanding the Value of Backbone Organizations (2012)"
ORS = "ORS Impact & Spark Policy Institute, When Collective Impact Has an Impact (2018)"
ANSELL = "Ansell & Gash, Collaborative Governance in Theory and Practice (2008)"
VANGEN = "Vangen & Huxham, Nurturing Collaborative Relations (2003)"
HUXHAM = "Huxham & Vangen, Managing to Collaborate (2005)"

#: Smallest positive amount of money a scenario may name (one cent, the smallest unit books
#: keep in most currencies): every field whose unit is a currency is 0 or at least this. A
#: denormal "cost" such as 1e-310 an hour is no plausible amount and would make ratios over it
#: (the SROI) overflow.
MIN_MONEY = 0.01

#: Fewest people a subgroup may be expected to hold (``share * population.size``): a subgroup
#: expected to hold less than one person is empty in most runs, and its outcome rate and the
#: equity gap against it would be read from nobody.
MIN_SUBGROUP_PEOPLE = 1.0

#: Largest memory one run may be estimated to need (:func:`estimate_memory`), 16 GiB: a
#: workstation's or a cluster node's share. A fixed limit, so a scenario valid on one machine
#: is valid on every machine; the message also names this machine's memory.
MEMORY_LIMIT_BYTES = 16 * 2**30


def after(*sources: str) -> str:
    """The source text of an assumed number whose mechanism the sources motivate."""
    return "assumption; mechanism after " + "; ".join(sources)


def design(*sources: str) -> str:
    """The source text of a design input whose default value no source gives."""
    return "scenario author (default assumed); after " + "; ".join(sources)


def P(default: Any, unit: str, source: str, description: str, **bounds: Any) -> Any:  # noqa: N802
    """Declare a scenario parameter with its unit and the source of its default."""
    return Field(
        default,
        description=description,
        json_schema_extra={"unit": unit, "source": source},
        **bounds,
    )


def PF(factory: Any, unit: str, source: str, description: str, **bounds: Any) -> Any:  # noqa: N802
    """Like :func:`P` for defaults that must be built fresh (lists, sub-sections)."""
    return Field(
        default_factory=factory,
        description=description,
        json_schema_extra={"unit": unit, "source": source},
        **bounds,
    )


class Section(BaseModel):
    """Base of every scenario section: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @field_validator("*", mode="after")
    @classmethod
    def _plausible_money(cls, value: Any, info: ValidationInfo) -> Any:
        """A field whose unit is a currency holds 0 or at least :data:`MIN_MONEY`."""
        field = cls.model_fields.get(info.field_name or "")
        extra = field.json_schema_extra if field is not None else None
        unit = str(extra.get("unit", "")) if isinstance(extra, dict) else ""
        if (unit.startswith("currency") and isinstance(value, float)
                and 0 < value < MIN_MONEY):
            raise ValueError(
                f"an amount of money must be 0 or at least {MIN_MONEY} ({unit})"
            )
        return value


# --------------------------------------------------------------------------------------------
# Partners
# --------------------------------------------------------------------------------------------


class ValueSought(Section):
    """What a partner seeks from the partnership (Save the Children Sweden 2021: a broad value)."""

    social_impact: float = P(0.5, "weight", after(RCIM), "Weight on population change.", ge=0, le=1)
    knowledge: float = P(0.2, "weight", after(RCIM), "Weight on learning from others.", ge=0, le=1)
    reputation: float = P(0.15, "weight", after(RCIM), "Weight on visibility.", ge=0, le=1)
    engagement: float = P(
        0.15, "weight", after(RCIM), "Weight on reaching beneficiaries.", ge=0, le=1
    )

    @model_validator(mode="after")
    def _some_value(self) -> ValueSought:
        if self.social_impact + self.knowledge + self.reputation + self.engagement <= 0:
            raise ValueError("at least one kind of value sought must be positive")
        return self


class PartnerSpec(Section):
    """One organisation, listed by hand."""

    name: str = Field(
        ..., min_length=1, description="Unique name of the organisation.",
        json_schema_extra={"unit": "label", "source": "scenario author"},
    )
    sector: Sector = Field(
        ..., description="Sector: one of " + ", ".join(SECTORS) + ".",
        json_schema_extra={"unit": "category", "source": KANIA},
    )
    staff_fte: float = P(
        5.0, "FTE", DESIGN, "Staff time the organisation gives to the problem.", ge=0, le=1e5
    )
    budget_per_year: float = P(
        400_000.0,
        "currency/year",
        DESIGN,
        "Own money spent on services for the population (buys service-years).",
        ge=0,
        le=1e11,
    )
    grant_per_year: float = P(
        0.0,
        "currency/year",
        DESIGN,
        "Money given to the initiative's pooled fund (funders' main contribution).",
        ge=0,
        le=1e11,
    )
    grant_years: float = P(
        3.0, "years", HANLEYBROWN, "Years the grant is committed before review.", ge=0, le=50
    )
    expertise: list[float] | None = P(
        None,
        "0-1 per strategy area",
        ASSUMPTION,
        "Effectiveness in each strategy area; drawn from the sector profile when omitted.",
    )
    commitment: float = P(
        0.7, "probability", after(KANIA), "Base chance that a CEO-level leader attends.", ge=0, le=1
    )
    data_maturity: float = P(
        0.3, "0-1", ASSUMPTION, "Readiness to collect and share data.", ge=0, le=1
    )
    influence: float = P(
        1.0, "relative weight", after(HANLEYBROWN),
        "Weight in agenda setting (a champion has 3-5).", gt=0,
        le=100,
    )
    agenda_position: list[float] | None = P(
        None,
        "point in [0,1]^2",
        after(KANIA),
        "The organisation's own definition of problem and goal; random when omitted.",
    )
    seeks: ValueSought = PF(ValueSought, "weights", RCIM, "Value sought from the partnership.")

    @model_validator(mode="after")
    def _positions(self) -> PartnerSpec:
        position = self.agenda_position
        if position is not None and (len(position) != 2 or not all(0 <= v <= 1 for v in position)):
            raise ValueError("agenda_position must be two numbers in [0, 1]")
        if self.expertise is not None and not all(0 <= v <= 1 for v in self.expertise):
            raise ValueError("expertise values must lie in [0, 1]")
        return self


class Distribution(Section):
    """A positive quantity drawn per generated partner (lognormal by mean and variation)."""

    mean: float = Field(
        ..., ge=0, description="Mean of the distribution.",
        json_schema_extra={"unit": "as the quantity", "source": DESIGN},
    )
    cv: float = P(0.5, "ratio", ASSUMPTION, "Coefficient of variation (sd / mean).", ge=0, le=5)


class SectorProfile(Section):
    """How generated partners of one sector look."""

    staff_fte: Distribution
    budget_per_year: Distribution
    grant_per_year: Distribution = Field(default_factory=lambda: Distribution(mean=0.0, cv=0.0))
    commitment: float = P(0.7, "probability", after(KANIA), "Base attendance chance.", ge=0, le=1)
    data_maturity: float = P(0.3, "0-1", ASSUMPTION, "Readiness to share data.", ge=0, le=1)
    strong_areas: list[str] = PF(
        list, "areas", DESIGN, "Strategy areas where the sector is expert."
    )


def _default_profiles() -> dict[str, SectorProfile]:
    d = Distribution
    return {
        "nonprofit": SectorProfile(
            staff_fte=d(mean=6, cv=0.6),
            budget_per_year=d(mean=450_000, cv=0.6),
            commitment=0.75,
            data_maturity=0.3,
            strong_areas=["skills", "wellbeing"],
        ),
        "public": SectorProfile(
            staff_fte=d(mean=15, cv=0.5),
            budget_per_year=d(mean=1_200_000, cv=0.5),
            commitment=0.6,
            data_maturity=0.5,
            strong_areas=["education", "transport"],
        ),
        "private": SectorProfile(
            staff_fte=d(mean=3, cv=0.5),
            budget_per_year=d(mean=150_000, cv=0.6),
            commitment=0.55,
            data_maturity=0.5,
            strong_areas=["employment"],
        ),
        "philanthropy": SectorProfile(
            staff_fte=d(mean=2, cv=0.3),
            budget_per_year=d(mean=0, cv=0),
            grant_per_year=d(mean=500_000, cv=0.4),
            commitment=0.7,
            data_maturity=0.4,
            strong_areas=[],
        ),
        "academia": SectorProfile(
            staff_fte=d(mean=2, cv=0.4),
            budget_per_year=d(mean=50_000, cv=0.4),
            commitment=0.6,
            data_maturity=0.8,
            strong_areas=["education"],
        ),
        "community": SectorProfile(
            staff_fte=d(mean=2, cv=0.6),
            budget_per_year=d(mean=80_000, cv=0.6),
            commitment=0.8,
            data_maturity=0.15,
            strong_areas=["wellbeing"],
        ),
    }


class PartnerGeneration(Section):
    """Partners generated from counts per sector, each drawn from its sector's profile."""

    counts: dict[Sector, int] = PF(
        dict, "organisations", DESIGN, "Number of generated partners per sector."
    )
    profiles: dict[Sector, SectorProfile] = PF(
        _default_profiles, "per sector", ASSUMPTION, "Distributions per sector."
    )
    champions: int = P(
        1, "organisations", HANLEYBROWN, "Generated partners made influential champions.", ge=0,
        le=1000,
    )
    champion_influence: float = P(
        4.0, "relative weight", after(HANLEYBROWN), "Influence of a champion (others have 1).",
        ge=1, le=100,
    )

    @model_validator(mode="after")
    def _counts(self) -> PartnerGeneration:
        for sector, n in self.counts.items():
            if n < 0 or n > 5000:
                raise ValueError(f"counts.{sector} must be between 0 and 5000, got {n}")
        return self


# --------------------------------------------------------------------------------------------
# Backbone, money, meetings, measurement, engagement
# --------------------------------------------------------------------------------------------


class BackboneStaff(Section):
    """Backbone staff in Strive's three roles (Kania & Kramer 2011)."""

    project_manager: float = P(1.0, "FTE", KANIA, "Project manager: coordination.", ge=0, le=100)
    data_manager: float = P(1.0, "FTE", KANIA, "Data manager: shared measurement.", ge=0, le=100)
    facilitator: float = P(1.0, "FTE", KANIA, "Facilitator: meetings and trust.", ge=0, le=100)


class Backbone(Section):
    """The orchestrator organisation; ``present = false`` models a design without one."""

    present: bool = P(True, "flag", KANIA, "Whether the design has a backbone at all.")
    type: BackboneType = P(
        "new_nonprofit", "category", TURNER, "One of the six backbone types (Turner et al. 2012)."
    )
    staff: BackboneStaff = PF(BackboneStaff, "FTE", KANIA, "Staff in the three roles.")
    budget_per_year: float = P(
        300_000.0,
        "currency/year",
        DESIGN,
        "Backbone running cost, paid from the initiative's fund before programmes.",
        ge=0,
        le=1e10,
    )
    neutrality: float | None = P(
        None,
        "0-1",
        design(NCIOM, TURNER),
        "Perceived neutrality; the backbone type's typical value when omitted.",
        ge=0,
        le=1,
    )
    skill: float = P(
        0.7, "0-1", after(NCIOM), "Adaptive leadership and facilitation skill.", ge=0, le=1
    )
    advocacy: float = P(
        0.5, "0-1", design(NCIOM), "Effort on building public will and advancing policy.", ge=0,
        le=1,
    )


class FundingStream(Section):
    """Money from outside the partnership into the initiative's pooled fund."""

    name: str = Field(
        ..., min_length=1, description="Name of the funder or grant.",
        json_schema_extra={"unit": "label", "source": "scenario author"},
    )
    amount_per_year: float = P(0.0, "currency/year", DESIGN, "Money per year.", ge=0, le=1e11)
    start_year: float = P(0.0, "years", DESIGN, "When the money starts.", ge=0, le=100)
    years: float = P(3.0, "years", HANLEYBROWN, "Years committed before a review.", ge=0, le=100)
    renewable: bool = P(True, "flag", RCIM, "Whether it may be renewed at review.")
    anchor: bool = P(False, "flag", HANLEYBROWN, "An anchor funder: involved from the start.")


class Funding(Section):
    """The initiative's money and how funders react to results."""

    streams: list[FundingStream] = PF(
        list, "streams", DESIGN, "External funding streams into the pooled fund."
    )
    conditional_on_results: bool = P(
        True, "flag", RCIM, "Funders renew only when measured results justify it."
    )
    renewal_term_years: float = P(
        2.0, "years", after(HANLEYBROWN), "Length of a renewed commitment.", gt=0, le=50
    )
    renewal_base_probability: float = P(
        0.5,
        "probability",
        ASSUMPTION,
        "Chance of renewal with no measured change and no early involvement.",
        ge=0,
        le=1,
    )
    renewal_per_point: float = P(
        0.6,
        "logit per percentage point",
        ASSUMPTION,
        "How strongly a measured point of population change raises the odds of renewal.",
        ge=0,
        le=20,
    )
    early_involvement_bonus: float = P(
        1.0,
        "logit",
        after(RCIM),
        "Extra odds of renewal for funders involved from the initial phase.",
        ge=0,
        le=10,
    )
    max_years: float | None = P(
        None,
        "years",
        DESIGN,
        "Hard stop: no money after this year whatever funders decide (a funding cliff).",
        ge=0,
        le=100,
    )


class Meetings(Section):
    """Leaders' meetings: the continuous communication condition."""

    cadence: Cadence = P(
        "biweekly", "category", KANIA, "How often leaders meet (monthly or biweekly in Strive)."
    )
    attendance: float = P(
        0.85,
        "probability",
        after(KANIA),
        "Chance that a committed leader attends (scaled by the partner's commitment).",
        ge=0,
        le=1,
    )
    contacts_per_meeting: int = P(
        10,
        "pairs per attendee",
        ASSUMPTION,
        "Partners each attendee works with in one meeting (work groups).",
        ge=1,
        le=1000,
    )
    hours_per_meeting: float = P(
        2.0, "hours", KANIA, "Length of a meeting (two hours at Strive).", ge=0, le=40
    )
    agenda_work: bool = P(
        True, "switch", design(KANIA),
        "Whether the meetings work out a common agenda (differences in the definition of the "
        "problem and the goal discussed and resolved); false: partners meet and build trust "
        "but keep their own agendas (the common agenda condition removed).",
    )


class Measurement(Section):
    """The shared-measurement plan."""

    shared: bool = P(True, "flag", KANIA, "Whether a shared measurement system is built.")
    investment_per_year: float = P(
        50_000.0,
        "currency/year",
        design(NCIOM),
        "Money for the data system (needs substantial funding).",
        ge=0,
        le=1e10,
    )
    initial_maturity: float = P(
        0.1, "0-1", ASSUMPTION, "Maturity of data practice at the start.", ge=0, le=1
    )
    report_lag_weeks: float = P(
        26.0,
        "weeks",
        ASSUMPTION,
        "Delay of measured outcomes with an immature system (shrinks as it matures).",
        ge=0,
        le=260,
    )
    noise_pp: float = P(
        3.0,
        "percentage points",
        ASSUMPTION,
        "Error of measured outcome rates with an immature system (shrinks as it matures).",
        ge=0,
        le=50,
    )


class Engagement(Section):
    """Beneficiary engagement (the component Save the Children Sweden 2021 adds)."""

    intensity: float = P(
        0.4, "0-1", design(RCIM), "Effort spent engaging beneficiaries throughout.", ge=0, le=1
    )
    initial_level: float = P(
        0.1, "0-1", ASSUMPTION, "Engagement of beneficiaries before the initiative.", ge=0, le=1
    )
    equity_focus: float = P(
        0.2,
        "0-1",
        design(ORS),
        "Intent and action on equity: targeting toward the most disadvantaged subgroups.",
        ge=0,
        le=1,
    )


# --------------------------------------------------------------------------------------------
# Population, phases, valuation, dynamics
# --------------------------------------------------------------------------------------------


class Subgroup(Section):
    """A subgroup of the beneficiary population, for equity."""

    name: str = Field(
        ..., min_length=1, description="Name of the subgroup.",
        json_schema_extra={"unit": "label", "source": "scenario author"},
    )
    share: float = P(0.5, "fraction", DESIGN, "Share of the population.", gt=0, le=1)
    baseline_rate: float = P(
        0.89,
        "fraction",
        "Measure of America 2022 (10.9% opportunity youth)",
        "Share in the outcome state (in education or employment) at the start.",
        gt=0,
        lt=1,
    )
    need_level: float = P(
        0.35, "0-1", ASSUMPTION, "Mean barrier in each strategy area.", ge=0, le=1
    )
    needs: list[float] | None = P(
        None,
        "0-1 per strategy area",
        ASSUMPTION,
        "Mean barrier per strategy area; need_level in every area when omitted.",
    )
    disadvantaged: bool = P(
        False, "flag", ORS, "Whether an equity focus targets this subgroup."
    )
    structural_barrier: float | None = P(
        None,
        "fraction",
        ORS,
        "Share of the subgroup's barriers that services do not reach (only policy change "
        "lowers it); dynamics.structural_barrier for a disadvantaged subgroup, 0 otherwise, "
        "when omitted.",
        ge=0,
        lt=1,
    )

    @model_validator(mode="after")
    def _needs(self) -> Subgroup:
        if self.needs is not None and not all(0 <= v <= 1 for v in self.needs):
            raise ValueError("needs must lie in [0, 1]")
        return self


def _default_subgroups() -> list[Subgroup]:
    return [
        Subgroup(name="majority", share=0.7, baseline_rate=0.91, need_level=0.3),
        Subgroup(
            name="marginalised", share=0.3, baseline_rate=0.80, need_level=0.45, disadvantaged=True
        ),
    ]


class Population(Section):
    """The beneficiaries: by default youth aged 16-24 in one city."""

    size: int = P(10_000, "people", DESIGN, "Number of beneficiaries.", ge=10, le=50_000_000)
    outcome: str = P(
        "in education or employment", "label", RCIM, "What the outcome state means."
    )
    subgroups: list[Subgroup] = PF(
        _default_subgroups, "subgroups", ORS, "Subgroups (shares must sum to 1).",
        min_length=1,
    )
    need_spread: float = P(
        0.15, "0-1", ASSUMPTION, "Standard deviation of individual barriers.", ge=0, le=0.5
    )
    exit_rate_per_year: float = P(
        0.10,
        "1/year",
        ASSUMPTION,
        "Yearly hazard of leaving education or employment (at least 0.001: a spell of a "
        "thousand years is no exit, and without exits no entry hazard gives a baseline rate).",
        ge=0.001,
        le=5,
    )
    years_in_population: float = P(
        9.0,
        "years",
        "Belfield, Levin & Rosen 2012 (ages 16-24)",
        "Time a person stays in the population before ageing out; 0 for a closed cohort.",
        ge=0,
        le=100,
    )
    cost_per_service_year: float = P(
        10_000.0,
        "currency/service-year",
        "assumption, calibrated to ORS Impact 2018's equity pattern (docs/validation.md)",
        "What one youth-year of service costs a provider.",
        gt=0,
        le=1e8,
    )
    mesa_agents: int = P(
        500,
        "agents",
        DESIGN,
        "Beneficiaries also shown as Mesa agents (a random sample; the state is in arrays).",
        ge=0,
        le=100_000,
    )

    @model_validator(mode="after")
    def _shares(self) -> Population:
        total = sum(g.share for g in self.subgroups)
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValueError(f"subgroup shares must sum to 1, they sum to {total:.4g}")
        names = [g.name for g in self.subgroups]
        if len(set(names)) != len(names):
            raise ValueError("subgroup names must be unique")
        for g in self.subgroups:
            expected = g.share * self.size
            if expected < MIN_SUBGROUP_PEOPLE:
                raise ValueError(
                    f"subgroup '{g.name}' is expected to hold {expected:.3g} people (share "
                    f"{g.share:g} of {self.size}); at least {MIN_SUBGROUP_PEOPLE:g} is needed for "
                    "its outcome rate and the equity gap to mean anything: raise population.size "
                    "or the share"
                )
        return self


class Phases(Section):
    """The phase model, its entry conditions and how the phases act on the dynamics."""

    model: Literal["refined", "nciom"] = P(
        "refined", "category", RCIM,
        "refined (Save the Children Sweden 2021, four phases) or nciom (NCIOM, three phases).",
    )
    effect: Literal["graded", "gated"] = P(
        "graded", "category", "model structure (variants compared by fit)",
        "How phases act on the mechanisms: graded (emphasis rises smoothly with readiness, "
        "a weighted power mean of the Run conditions) or gated (each phase's emphasis table "
        "applies in full from the step the phase is entered).",
    )
    readiness_exponent: float = P(
        0.5, "power-mean exponent", ASSUMPTION,
        "Exponent of the weighted power mean that makes readiness from the four conditions: "
        "1 arithmetic (conditions substitute for each other), 0 geometric, negative values "
        "approach the weakest condition (conditions complement each other).",
        ge=-4, le=1,
    )
    readiness_weight_agreement: float = P(
        1.0, "relative weight", ASSUMPTION,
        "Weight of agenda agreement in readiness (weights are normalised to sum to one).",
        ge=0, le=10,
    )
    readiness_weight_trust: float = P(
        1.0, "relative weight", ASSUMPTION, "Weight of mean trust in readiness.", ge=0, le=10,
    )
    readiness_weight_coordination: float = P(
        1.0, "relative weight", ASSUMPTION,
        "Weight of coordination capacity (backbone capacity, or the partners' own "
        "self-coordination without a backbone) in readiness.", ge=0, le=10,
    )
    readiness_weight_runway: float = P(
        1.0, "relative weight", ASSUMPTION, "Weight of the funding runway in readiness.",
        ge=0, le=10,
    )
    run_min_agreement: float = P(
        0.55, "0-1", after(RCIM), "Agenda agreement needed to enter Run.", ge=0, le=1
    )
    run_min_trust: float = P(
        0.3, "0-1", after(KANIA), "Mean trust needed to enter Run.", ge=0, le=1
    )
    run_min_backbone: float = P(
        0.5, "0-1", after(KANIA), "Backbone capacity needed to enter Run (none: never).", ge=0,
        le=1,
    )
    run_min_runway_years: float = P(
        1.0, "years", after(HANLEYBROWN), "Secured funding needed to enter Run.", ge=0, le=20
    )
    min_initiation_years: float = P(
        0.5, "years", after(RCIM), "Shortest Initiation phase.", ge=0, le=20
    )
    run_years_before_redesign: float = P(
        2.0, "years", after(RCIM), "Time in Run before a Re-design.", gt=0, le=20
    )
    redesign_years: float = P(0.5, "years", after(RCIM), "Length of Re-design.", gt=0, le=10)
    exponential_min_systems_change: float = P(
        0.4, "0-1", after(RCIM),
        "Systems change (mean of services, practices and policy) needed for Exponential Value.",
        ge=0, le=1,
    )
    exponential_min_sroi: float = P(
        1.0, "ratio", after(RCIM, "Nicholls et al. 2012"),
        "SROI the partnership can show from its own measurements, for Exponential Value.",
        ge=0, le=1000,
    )


class Valuation(Section):
    """SROI valuation (Nicholls et al. 2012, the SROI guide)."""

    currency: str = P("USD", "ISO code", DESIGN, "Currency of all money in the scenario.")
    value_per_outcome_year: float = P(
        37_450.0,
        "currency/outcome-year",
        "Belfield, Levin & Rosen 2012 (social burden per opportunity youth per year)",
        "Financial proxy: value of one person-year in the outcome state.",
        ge=0,
        le=1e9,
    )
    deadweight: float = P(
        0.0,
        "fraction",
        ASSUMPTION,
        "Share of the change against the start-of-run rate that would have happened anyway "
        "through trends the model leaves out (initiative SROI only; the model's status quo is "
        "flat by calibration, and the collaboration SROI's deadweight is the simulated "
        "counterfactual). Prior range 0-0.5; the report's sensitivity table shows its effect.",
        ge=0,
        lt=1,
    )
    attribution: float = P(
        0.25,
        "fraction",
        ASSUMPTION,
        "Share of the change due to others' contributions.",
        ge=0,
        lt=1,
    )
    displacement: float = P(
        0.10,
        "fraction",
        ASSUMPTION,
        "Share of the change that displaces others' outcomes (e.g. jobs).",
        ge=0,
        lt=1,
    )
    drop_off: float = P(
        0.20,
        "fraction/year",
        ASSUMPTION,
        "Yearly fading of the final-year outcome projected after the horizon.",
        ge=0,
        le=1,
    )
    projection_years: float = P(
        0.0,
        "years",
        "scenario author; Nicholls et al. 2012",
        "Years the final-year outcome is projected after the horizon (with drop-off).",
        ge=0,
        le=50,
    )
    discount_rate: float = P(
        0.035, "1/year", "HM Treasury, The Green Book (2022)", "Yearly discount rate.", ge=0, le=0.5
    )
    coordination_hour_cost: float = P(
        60.0,
        "currency/hour",
        ASSUMPTION,
        "Value of partners' time in meetings and coordination (an in-kind investment).",
        ge=0,
        le=1e5,
    )


class Target(Section):
    """A result the partnership commits to reach by a year (Results-Based Accountability).

    The NCIOM task force asks "what is the result you want to achieve?" and "what indicator(s)
    do we need to examine?". A target names one indicator, exactly one of ``outcome_rate`` (the
    population's outcome rate itself) or ``population_change_pp`` (its change since the start),
    and the year by which it should be reached. It does not change the simulation; the report
    reads it to give the probability of reaching it with and without the initiative.
    """

    outcome_rate: float | None = P(
        None, "fraction", NCIOM,
        "Population outcome rate to reach (e.g. 0.9 = 90% in the outcome state).", gt=0, lt=1,
    )
    population_change_pp: float | None = P(
        None, "percentage points", NCIOM,
        "Rise of the population outcome rate since the start to reach.", ge=-100, le=100,
    )
    year: float = P(
        5.0, "years", NCIOM, "Year (since the start) by which the target is to be reached.",
        gt=0, le=50,
    )

    @model_validator(mode="after")
    def _one_indicator(self) -> Target:
        if (self.outcome_rate is None) == (self.population_change_pp is None):
            raise ValueError("set exactly one of outcome_rate and population_change_pp")
        return self


class Dynamics(Section):
    """Rate constants of the mechanisms; the sensitivity analysis shows how much each matters."""

    trust_rule: Literal["smoothing", "pant_yu"] = P(
        "smoothing", "category", "Jonker & Treur 1999; Pant & Yu 2025",
        "Trust update at an interaction: smoothing (a good one closes trust_gain of the gap to "
        "the ceiling, a bad one removes trust_negativity x trust_gain, or all trust left: "
        "asymmetric at every trust level) or pant_yu (a bad one removes trust_loss of the "
        "trust there is).",
    )
    trust_negativity: float = P(
        3.0, "ratio", "Pant & Yu 2025 (3:1); Baumeister et al. 2001",
        "Under the smoothing rule, how many good interactions' largest gain one bad "
        "interaction removes.", ge=1, le=20,
    )
    exit_rate_per_year: float = P(
        1.0, "1/year", ASSUMPTION,
        "Exit hazard of a partner with no satisfaction and no commitment left; it falls "
        "linearly to 0 as either reaches its exit threshold.", ge=0, le=52,
    )
    exit_satisfaction: float = P(
        0.25, "0-1", ASSUMPTION,
        "Satisfaction (value realised, weighted by what the partner seeks) below which a "
        "partner may leave.", ge=0, le=1,
    )
    exit_commitment: float = P(
        0.4, "0-1", ASSUMPTION, "Commitment below which a partner may leave.", ge=0, le=1,
    )
    trust_gain: float = P(
        0.10, "per good interaction", "Pant & Yu 2025; Slovic 1993",
        "Share of the gap to the trust ceiling closed by a good interaction.", gt=0, le=1,
    )
    trust_loss: float = P(
        0.30, "per bad interaction", "Pant & Yu 2025; Slovic 1993",
        "Under the pant_yu trust rule, share of trust lost in a bad interaction (three times "
        "the gain).", gt=0, le=1,
    )
    trust_damage: float = P(
        0.1, "ceiling", after("Pant & Yu 2025"),
        "Fall of the trust ceiling after a bad interaction.",
        ge=0, le=1,
    )
    trust_damage_recovery_per_year: float = P(
        0.8, "1/year", "Pant & Yu 2025 (0.03 a period)", "Recovery of the trust ceiling.",
        ge=0, le=52,
    )
    trust_decay_per_year: float = P(
        0.1, "1/year", ASSUMPTION, "Decay of trust between partners without contact.",
        ge=0, le=52,
    )
    initial_trust: float = P(0.1, "0-1", after(KANIA), "Trust between partners at the start.",
                             ge=0, le=1)
    good_experience_base: float = P(
        0.68, "probability",
        "assumption, calibrated (docs/validation.md); mechanism after Kania & Kramer 2011; "
        "Slovic 1993",
        "Chance that an unfacilitated interaction between strangers is good.", ge=0, le=1,
    )
    good_experience_facilitation: float = P(
        0.35, "probability", after(KANIA),
        "Extra chance of a good interaction with full facilitation quality.", ge=0, le=1,
    )
    distance_penalty: float = P(
        0.25, "probability per unit distance",
        "assumption, calibrated (docs/validation.md); mechanism after Kania & Kramer 2011",
        "Lower chance of a good interaction between partners far apart on the agenda.",
        ge=0, le=2,
    )
    confidence_bound: float = P(
        0.3, "agenda distance", after("Deffuant et al. 2000"),
        "Bounded confidence: partners further apart do not move toward each other.", gt=0, le=2,
    )
    facilitation_bound: float = P(
        0.3, "agenda distance", after(KANIA), "How much full facilitation widens the bound.",
        ge=0, le=2,
    )
    convergence_rate: float = P(
        0.25, "per interaction", "Deffuant et al. 2000 (mu <= 0.5)",
        "Step toward the other partner's position at full trust.", gt=0, le=0.5,
    )
    proposal_pull: float = P(
        0.05, "per meeting", after(NCIOM),
        "Pull toward the backbone's shared proposal at full facilitation and trust.", ge=0, le=1,
    )
    alignment_rate_per_year: float = P(
        1.0, "1/year", ASSUMPTION,
        "Speed of re-tuning allocations toward the plan with full trust, agreement and "
        "coordination.", ge=0, le=52,
    )
    duplication_waste: float = P(
        0.35, "fraction", after(KANIA),
        "Effort lost when uncoordinated partners crowd into the same area.", ge=0, le=1,
    )
    service_efficacy: float = P(
        0.6, "fraction", ASSUMPTION,
        "Share of a barrier that a full year of fitting, well-covered service removes.",
        gt=0, le=1,
    )
    fit_floor: float = P(
        0.5, "0-1", after(RCIM),
        "Effectiveness of services designed on assumed rather than real needs.", ge=0, le=1,
    )
    engagement_rate_per_year: float = P(
        0.5, "1/year", after(RCIM), "Growth of engagement at full intensity.", ge=0, le=52,
    )
    measurement_rate_per_year: float = P(
        0.8, "1/year", after(NCIOM),
        "Maturation of the shared data system with a full data manager and willing partners.",
        ge=0, le=52,
    )
    measurement_decay_per_year: float = P(
        0.1, "1/year", ASSUMPTION, "Decay of an unmaintained data system.", ge=0, le=52,
    )
    commitment_fatigue_per_year: float = P(
        0.15, "1/year", after(SOPACT),
        "Loss of commitment without accountability or visible results.", ge=0, le=52,
    )
    coordination_hours_per_partner: float = P(
        1.5, "hours/week per partner", after(KANIA),
        "Coordination work (logistics, data, communications) the initiative needs per "
        "partner; the backbone absorbs it if staffed.", ge=0, le=40,
    )
    partners_per_backbone_fte: float = P(
        20.0, "partners per FTE", after(KANIA),
        "Partners one FTE in each backbone role can serve (Strive started with one person "
        "per role).", gt=0, le=1000,
    )
    non_neutral_penalty: float = P(
        0.3, "probability", after(NCIOM, TURNER),
        "Lower chance of a good interaction with a backbone of no perceived neutrality.",
        ge=0, le=1,
    )
    overload_friction: float = P(
        0.15, "probability", after(KANIA),
        "Lower chance of a good interaction, and lower commitment, when no one absorbs the "
        "coordination work.", ge=0, le=1,
    )
    small_win_trust: float = P(
        0.075, "probability", after(ANSELL, VANGEN),
        "Higher chance of a good interaction when the partnership's measured outcome has "
        "improved (a full win: 5 points against the baseline): small wins feed trust.",
        ge=0, le=1,
    )
    meeting_fatigue: float = P(
        0.15, "0-1 per weekly meeting", after(KANIA, HUXHAM),
        "Fall of the commitment partners settle at, per meeting a week (weekly 1, every two "
        "weeks 0.5, monthly 0.25, quarterly 1/13): meetings cost leaders' time beyond the "
        "hours at the table.", ge=0, le=1,
    )
    self_coordination: float = P(
        0.25, "0-1", after(KANIA, TURNER),
        "Coordination capacity of a partnership without a backbone.", ge=0, le=1,
    )
    systems_change_rate_per_year: float = P(
        0.25, "1/year", after(ORS),
        "Growth of services/practices change under full alignment and agreement.", ge=0, le=52,
    )
    policy_change_rate_per_year: float = P(
        1.0, "events/year", after(ORS),
        "Rate of policy wins with full advocacy and changed practices.", ge=0, le=52,
    )
    policy_step: float = P(
        0.2, "0-1", after(ORS), "Rise of the policy level with one policy win.", ge=0, le=1,
    )
    policy_barrier_reduction: float = P(
        0.3, "fraction", after(ORS),
        "Reduction of everyone's barriers at full policy change (served or not).", ge=0, le=1,
    )
    practice_effectiveness_gain: float = P(
        0.4, "fraction", after(ORS),
        "Extra effectiveness of services at fully changed practices.", ge=0, le=2,
    )
    systems_change_decay_per_year: float = P(
        0.05, "1/year", after("Bailey et al. 2017", "Economos et al. 2013"),
        "Erosion of changed services and practices without aligned work.", ge=0, le=52,
    )
    # Persistence, the counterfactual's own learning and trend, structural barriers.
    persistence: Literal["fade", "lock_in"] = P(
        "fade", "category", "Bailey, Duncan, Odgers & Yu 2017",
        "fade: alignment, fit, changed services/practices and policy fade without "
        "coordination; lock_in: they stay when coordination and money stop.",
    )
    fade_rate_per_year: float = P(
        0.5, "1/year", "Economos et al. 2013 (Shape Up Somerville); Bailey et al. 2017",
        "Fade of alignment, fit and changed services and practices without coordination "
        "(ln(0.10/0.06): 40% of an effect lost a year).", ge=0, le=52,
    )
    policy_fade_rate_per_year: float = P(
        0.1, "1/year", after("Oesterle et al. 2015 (Communities That Care)"),
        "Fade of won policy change without coordination (slower than practice).", ge=0, le=52,
    )
    isolated_learning_per_year: float = P(
        0.03, "1/year", ASSUMPTION,
        "Organisational learning without engagement or shared data: each year partners "
        "close this share of the gap between their services' fit and the real needs.",
        ge=0, le=52,
    )
    isolated_coordination: float = P(
        0.05, "0-1", ASSUMPTION,
        "Ad hoc coordination of organisations working alone (no backbone or agenda): the "
        "share of duplication they avoid.", ge=0, le=1,
    )
    trend_pp_per_year: float = P(
        0.0, "points/year",
        "Measure of America, A Decade Undone (2020); Ensuring an Equitable Recovery (2022)",
        "Secular drift of the baseline outcome rate, the same in both worlds (applied to the "
        "odds of entering the outcome state).", ge=-5, le=5,
    )
    structural_barrier: float = P(
        0.3, "fraction", after(ORS),
        "Share of a disadvantaged subgroup's barriers that services do not reach, unless the "
        "subgroup sets its own.", ge=0, lt=1,
    )


class Scenario(Section):
    """A partnership design: the single input of a run."""

    name: str = P("unnamed", "label", "scenario author", "Short name of the design.",
                  min_length=1)
    description: str = P("", "text", "scenario author", "What the design represents.")
    horizon_years: float = P(10.0, "years", ORS, "Simulated time.", gt=0, le=50)
    strategy_areas: list[str] = PF(
        lambda: ["education", "skills", "employment", "wellbeing", "transport"],
        "areas",
        RCIM,
        "Strategy areas over which needs and activities are spread.",
        min_length=1,
        max_length=16,
    )
    partners: list[PartnerSpec] = PF(list, "organisations", KANIA, "Partners listed one by one.")
    partner_generation: PartnerGeneration | None = P(
        None, "section", DESIGN, "Partners generated from counts per sector."
    )
    backbone: Backbone = PF(Backbone, "section", KANIA, "The backbone organisation.")
    funding: Funding = PF(Funding, "section", NCIOM, "Money and funders' reactions.")
    meetings: Meetings = PF(Meetings, "section", KANIA, "Leaders' meetings.")
    measurement: Measurement = PF(Measurement, "section", KANIA, "Shared measurement plan.")
    engagement: Engagement = PF(Engagement, "section", RCIM, "Beneficiary engagement.")
    population: Population = PF(Population, "section", RCIM, "Beneficiary population.")
    phases: Phases = PF(Phases, "section", RCIM, "Phase model.")
    valuation: Valuation = PF(Valuation, "section", "Nicholls et al. 2012", "SROI valuation.")
    dynamics: Dynamics = PF(Dynamics, "section", ASSUMPTION, "Mechanism rate constants.")
    target: Target | None = P(
        None, "section", NCIOM, "Result to reach by a year (Results-Based Accountability)."
    )
    isolated: bool = P(
        False,
        "flag",
        "model design (the counterfactual)",
        "Organisations work in isolation: no backbone, no shared measurement, no alignment. "
        "Set on counterfactual scenarios.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        areas = self.strategy_areas
        if len(set(areas)) != len(areas):
            raise ValueError("strategy_areas must be unique")
        gen = self.partner_generation
        n_generated = sum(gen.counts.values()) if gen else 0
        if not self.partners and n_generated == 0:
            raise ValueError(
                "the partnership has no partners: list [[partners]] or set "
                "partner_generation.counts"
            )
        names = [p.name for p in self.partners]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"partner names must be unique; repeated: {', '.join(dup)}")
        for i, p in enumerate(self.partners):
            if p.expertise is not None and len(p.expertise) != len(areas):
                raise ValueError(
                    f"partners[{i}].expertise has {len(p.expertise)} values for "
                    f"{len(areas)} strategy areas"
                )
        for g in self.population.subgroups:
            if g.needs is not None and len(g.needs) != len(areas):
                raise ValueError(
                    f"population.subgroups '{g.name}': needs has {len(g.needs)} values for "
                    f"{len(areas)} strategy areas"
                )
        if gen and "profiles" in gen.model_fields_set:  # only profiles the author wrote
            for sector, prof in gen.profiles.items():
                unknown = [a for a in prof.strong_areas if a not in areas]
                if unknown and gen.counts.get(sector, 0) > 0:
                    raise ValueError(
                        f"partner_generation.profiles.{sector}.strong_areas names unknown "
                        f"strategy areas {unknown}; known: {areas}"
                    )
        if self.horizon_years * STEPS_PER_YEAR < 1:
            raise ValueError("horizon_years is shorter than one week")
        need = estimate_memory(self)
        if need > MEMORY_LIMIT_BYTES:
            raise ValueError(memory_message(self, need, MEMORY_LIMIT_BYTES))
        return self

    @property
    def n_partners(self) -> int:
        """Partners listed by hand plus those generated."""
        gen = self.partner_generation
        return len(self.partners) + (sum(gen.counts.values()) if gen else 0)

    # ---- derived quantities -----------------------------------------------------------------

    @property
    def steps(self) -> int:
        """Number of weekly steps in the horizon."""
        return max(1, round(self.horizon_years * STEPS_PER_YEAR))

    def counterfactual(self) -> Scenario:
        """The same population and money with organisations working in isolation.

        Returns:
            A copy with ``isolated = true``: no backbone, no shared measurement and no alignment.
            The same partners keep their own priorities; the backbone's budget goes to programmes.
        """
        return self.model_copy(update={"isolated": True}, deep=True)

    def with_overrides(self, overrides: Mapping[str, Any], source: str = "--set") -> Scenario:
        """Return a copy with dotted-path overrides applied, validated like a file.

        Args:
            overrides: ``{"backbone.staff.facilitator": 0.5, ...}``.
            source: Where the overrides came from, for error messages.

        Raises:
            ScenarioError: An unknown path or an invalid value.
        """
        data = self.to_dict()
        for path, value in overrides.items():
            _set_path(data, path, value, source)
        return Scenario.from_dict(data, source=source)

    # ---- TOML -------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The scenario as plain data, without unset optional fields (TOML has no null)."""
        return drop_none(self.model_dump(mode="json"))

    def to_toml(self) -> str:
        """The scenario as a TOML document."""
        return tomli_w.dumps(self.to_dict())

    def save(self, path: str | Path) -> None:
        """Write the scenario to a TOML file (atomically)."""
        from cisim.io import write_text_atomic

        write_text_atomic(Path(path), self.to_toml())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<dict>",
                  strict: bool = False) -> Scenario:
        """Validate plain data into a scenario.

        Args:
            data: The scenario as plain data.
            source: Where it came from, for error messages.
            strict: Refuse values of the wrong type instead of converting them (a boolean
                where a number is expected, ``1.5`` or ``"2"`` for an integer); used for files.

        Raises:
            ScenarioError: With every problem found, each naming its field.
        """
        try:
            return cls.model_validate(dict(data), strict=strict)
        except ValidationError as err:
            raise ScenarioError(source, pydantic_problems(err, cls)) from None

    @classmethod
    def from_toml(cls, text: str, source: str = "<string>") -> Scenario:
        """Parse and validate a TOML document."""
        try:
            data = loads_toml(text)
        except tomllib.TOMLDecodeError as err:
            raise ScenarioError(source, [("(file)", f"not valid TOML: {err}")]) from None
        return cls.from_dict(data, source=source, strict=True)

    @classmethod
    def load(cls, path: str | Path) -> Scenario:
        """Read and validate a scenario file, or a bundled scenario by name (``"default"``).

        A bare name without a suffix that is not a file names a scenario shipped with the
        package (:data:`BUNDLED_SCENARIOS`), so ``cisim run default`` works from any directory.
        """
        path = Path(path)
        bundled = BUNDLED_SCENARIOS / f"{path}.toml"
        if len(path.parts) == 1 and not path.suffix and not path.exists() and bundled.is_file():
            path = bundled
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            names = ", ".join(bundled_scenario_names())
            raise ScenarioError(str(path), [("(file)", f"no such file (bundled scenarios, by "
                                             f"name: {names})")]) from None
        except (OSError, UnicodeDecodeError) as err:
            raise ScenarioError(str(path), [("(file)", f"cannot be read: {err}")]) from None
        return cls.from_toml(text, source=str(path))


# --------------------------------------------------------------------------------------------
# Memory
# --------------------------------------------------------------------------------------------

#: Bytes per pair of partners: trust, damage and contact matrices in each of the two worlds
#: (8 + 8 + 1 bytes, twice) and the temporaries of the trust update; 40 measured with
#: ``tracemalloc`` at 3,000 partners (359 MB peak).
_BYTES_PER_PARTNER_PAIR = 40
#: Bytes per beneficiary and strategy area (float32 needs and their draw), and per beneficiary
#: besides (state, caches and the calibration's temporaries): 217 bytes a person measured at
#: 400,000 people and five areas (87 MB peak).
_BYTES_PER_PERSON_AREA = 8
_BYTES_PER_PERSON = 180
#: Bytes per recorded step and partner: the recorder's value arrays (20) and the cost ledger's
#: weekly coordination hours (8), and the result's partner-value frame (44); per recorded
#: step: the trajectory and the subgroup frame.
_BYTES_PER_STEP_PARTNER_RUN = 28
_BYTES_PER_STEP_PARTNER_KEPT = 44
_BYTES_PER_STEP = 1_000


def memory_parts(scenario: Scenario) -> dict[str, int]:
    """The parts of :func:`estimate_memory` for one run, in bytes, by what needs them.

    Keys: ``partners`` (the partner-pair matrices), ``population`` (the beneficiaries' arrays),
    ``record`` (the per-step record the run keeps while it runs) and ``result`` (the frames a
    finished run keeps).
    """
    n = scenario.n_partners
    steps = scenario.steps + 1
    areas = len(scenario.strategy_areas)
    groups = len(scenario.population.subgroups)
    return {
        "partners": _BYTES_PER_PARTNER_PAIR * n * n,
        "population": scenario.population.size * (_BYTES_PER_PERSON_AREA * areas
                                                  + _BYTES_PER_PERSON),
        "record": steps * (n * _BYTES_PER_STEP_PARTNER_RUN + 100 * groups),
        "result": steps * (n * _BYTES_PER_STEP_PARTNER_KEPT + _BYTES_PER_STEP + 100 * groups),
    }


def estimate_memory(scenario: Scenario, *, replications: int = 1, workers: int = 1) -> int:
    """Bytes a scenario's runs are estimated to need at their peak.

    One run holds its partner-pair matrices (both worlds), its population's arrays and its
    per-step record; a finished run keeps its result frames. ``workers`` runs go at once and
    the results of all ``replications`` are kept (an ensemble, or the points of a sweep times
    their replications). The constants were measured with ``tracemalloc`` (see
    :func:`memory_parts`); the interpreter and libraries (a few hundred MB per process) are not
    counted. Scenario validation refuses a scenario whose single run needs more than
    :data:`MEMORY_LIMIT_BYTES`; ensembles and sweeps can check their size with the same
    function.

    Args:
        scenario: The scenario.
        replications: Runs whose results are kept together.
        workers: Runs in memory at the same time.

    Returns:
        The estimate, in bytes.
    """
    parts = memory_parts(scenario)
    one_run = parts["partners"] + parts["population"] + parts["record"] + parts["result"]
    return int(max(1, min(workers, replications)) * one_run
               + max(0, replications - 1) * parts["result"])


def machine_memory() -> int | None:
    """Physical memory of this machine in bytes (None where the platform does not say)."""
    import os

    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def memory_message(scenario: Scenario, need: int, limit: int, what: str = "one run") -> str:
    """A refusal that names the estimate, its largest part, the limit and this machine."""
    parts = memory_parts(scenario)
    biggest = max(parts, key=lambda k: parts[k])
    sizes = {
        "partners": f"{scenario.n_partners:,} partners ({scenario.n_partners:,}^2 pairs of "
                    "trust, damage and contact in two worlds)",
        "population": f"{scenario.population.size:,} beneficiaries",
        "record": f"{scenario.steps:,} weekly steps of {scenario.n_partners:,} partners",
        "result": f"{scenario.steps:,} weekly steps of {scenario.n_partners:,} partners",
    }
    have = machine_memory()
    machine = f"; this machine has {have / 1e9:.3g} GB" if have else ""
    return (f"{what} needs about {need / 1e9:.3g} GB, mostly for {sizes[biggest]} "
            f"({parts[biggest] / 1e9:.3g} GB); the limit is {limit / 2**30:.3g} GiB{machine}")


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario TOML file or bundled scenario (see :meth:`Scenario.load`)."""
    return Scenario.load(path)


def bundled_scenario_names() -> list[str]:
    """Names of the scenarios shipped with the package (``load_scenario(name)`` reads one)."""
    return sorted(p.stem for p in BUNDLED_SCENARIOS.glob("*.toml"))


class ScenarioError(ValueError):
    """A scenario (or override) failed validation; lists every problem with its field."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        lines = [f"{source}: {len(problems)} problem(s)"]
        lines += [f"  {source}: {field}: {msg}" for field, msg in problems]
        super().__init__("\n".join(lines))


# --------------------------------------------------------------------------------------------
# Error messages with field paths and suggestions
# --------------------------------------------------------------------------------------------


def _path_parts(path: str, source: str) -> list[str | int]:
    """``a.b[2].c`` -> ``["a", "b", 2, "c"]``; a malformed or empty path raises ScenarioError."""
    parts: list[str | int] = []
    for chunk in path.split("."):
        name, _, rest = chunk.partition("[")
        if name:
            parts.append(name)
        elif not rest:
            raise ScenarioError(source, [(path, "malformed path (an empty name between dots)")])
        while rest:
            idx, _, rest = rest.partition("]")
            if not idx.isdigit():
                raise ScenarioError(source, [(path, "malformed path")])
            parts.append(int(idx))
            rest = rest.removeprefix("[")
    if not parts:
        raise ScenarioError(source, [(path, "empty path")])
    return parts


def _unknown(part: str, names: Iterable[str], path: str, source: str) -> ScenarioError:
    names = list(names)
    near = difflib.get_close_matches(part, names, n=1, cutoff=0.5)
    hint = f"; did you mean '{near[0]}'?" if near else "; valid: " + ", ".join(names)
    return ScenarioError(source, [(path, f"unknown field '{part}'{hint}")])


def _annotation_at(path: str, source: str) -> Any:
    """The type annotation of the scenario field at a dotted path (ScenarioError if none)."""
    annotation: Any = Scenario
    done = ""
    for part in _path_parts(path, source):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if get_origin(annotation) in (Union, UnionType) and len(args) == 1:
            annotation = args[0]  # X | None
        origin = get_origin(annotation)
        if isinstance(part, int):
            if origin is not list:
                raise ScenarioError(source, [(path, f"'{done}' is not a list")])
            annotation = get_args(annotation)[0]
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if part not in annotation.model_fields:
                raise _unknown(part, annotation.model_fields, path, source)
            annotation = annotation.model_fields[part].annotation
        elif origin is dict:
            key_type, annotation = get_args(annotation)
            keys = get_args(key_type) if get_origin(key_type) is Literal else ()
            if keys and part not in keys:
                raise _unknown(part, keys, path, source)
        else:
            raise ScenarioError(source, [(path, f"'{done}' is a value, not a section")])
        done += f"[{part}]" if isinstance(part, int) else ("." if done else "") + part
    return annotation


def check_overrides(overrides: Mapping[str, Any], source: str = "--set") -> None:
    """Check dotted-path overrides strictly against the type of each field.

    Stricter than a scenario file's validation: a boolean is not a number, ``1.5`` or ``"2"`` is
    not an integer, and an unknown path is refused. Ranges and cross-field rules are checked
    later, when the overrides are applied (:meth:`Scenario.with_overrides`).

    Args:
        overrides: ``{"backbone.staff.facilitator": 0.5, ...}``.
        source: Where the overrides came from, for error messages.

    Raises:
        ScenarioError: Every bad path or value, each naming its path.
    """
    problems: list[tuple[str, str]] = []
    for path, value in overrides.items():
        try:
            annotation = _annotation_at(path, source)
        except ScenarioError as err:
            problems.extend(err.problems)
            continue
        try:
            TypeAdapter(annotation).validate_python(value, strict=True)
        except ValidationError as err:
            for sub, msg in pydantic_problems(err, Scenario):
                where = path if sub == "(top level)" else (
                    path + sub if sub.startswith("[") else f"{path}.{sub}")
                problems.append((where, msg))
    if problems:
        raise ScenarioError(source, problems)


def _set_path(data: dict[str, Any], path: str, value: Any, source: str) -> None:
    """Set ``a.b[2].c`` in nested plain data; unknown paths raise ScenarioError with a hint."""
    parts = _path_parts(path, source)
    model: Any = Scenario
    node: Any = data
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                raise ScenarioError(source, [(path, f"index {part} is out of range")])
            if last:
                node[part] = value
            else:
                node = node[part]
            continue
        if model is not None and part not in model.model_fields:
            raise _unknown(part, model.model_fields, path, source)
        if model is not None:
            model = inner_model(model.model_fields[part].annotation)
        if not isinstance(node, dict):
            raise ScenarioError(source, [(path, "is not a section")])
        if last:
            node[part] = value
        else:
            node = node.setdefault(part, {})


# --------------------------------------------------------------------------------------------
# Documentation
# --------------------------------------------------------------------------------------------


def parameter_table(model: type[BaseModel] = Scenario, prefix: str = "") -> list[dict[str, str]]:
    """Every scenario parameter with its path, unit, default, bounds, source and description.

    Used to write and check the parameter tables of ``docs/model.md``.
    """
    rows: list[dict[str, str]] = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        inner = inner_model(field.annotation)
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        if inner is not None:
            sub_prefix = path + ("[]." if _is_list(field.annotation) else ".")
            if _is_dict(field.annotation):
                sub_prefix = path + ".<sector>."
            rows.extend(parameter_table(inner, sub_prefix))
            continue
        default = field.get_default(call_default_factory=True)
        bounds = []
        for m in field.metadata:
            for attr, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
                if getattr(m, attr, None) is not None:
                    bounds.append(f"{sym} {getattr(m, attr)}")
        rows.append(
            {
                "path": path,
                "unit": str(extra.get("unit", "")),
                "default": "required" if field.is_required() else _fmt_default(default),
                "bounds": ", ".join(bounds),
                "source": str(extra.get("source", "")),
                "description": field.description or "",
            }
        )
    return rows


def _is_list(annotation: Any) -> bool:
    return getattr(annotation, "__origin__", None) is list or any(
        getattr(a, "__origin__", None) is list for a in getattr(annotation, "__args__", ()) or ()
    )


def _is_dict(annotation: Any) -> bool:
    return getattr(annotation, "__origin__", None) is dict


def _fmt_default(value: Any) -> str:
    if isinstance(value, BaseModel):
        return "(section)"
    if value is None:
        return "(derived)"
    if isinstance(value, float) and value >= 10_000:
        return f"{value:,.0f}"
    return str(value)
