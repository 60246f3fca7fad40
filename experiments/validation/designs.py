"""The population of plausible collective impact initiatives that the validation study samples.

Pattern-oriented modelling (Grimm et al. 2005, Science 310) checks a model against patterns
observed across *many* real initiatives, so the study simulates a population of designs rather
than one scenario. Each design is a point of the unit hypercube (one coordinate per row of
:data:`DIMENSIONS`), sampled as a Latin hypercube by :mod:`cisim.sweep`, and mapped here to
scenario overrides through the distributions below. Every distribution names its basis: Save
the Children Sweden 2021 (Refined Collective Impact Model), Kania & Kramer 2011 (Collective
Impact), the NCIOM task force slides (Clark, Collective Impact: A Framework for Systemic
Change), ORS Impact & Spark Policy Institute 2018 (When Collective Impact Has an Impact) and
other published work; where no source gives a number the distribution is a modelling
assumption, wide enough that the sensitivity analysis shows how much it matters.

Everything not listed keeps the documented default of :class:`cisim.scenario.Scenario`
(``docs/model.md``), so the study validates the model *with its defaults*.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from cisim.scenario import SECTORS, Scenario

__all__ = [
    "CADENCES",
    "DIMENSIONS",
    "NAMES",
    "POPULATION_SIZE",
    "SECTOR_WEIGHTS",
    "Dimension",
    "base_scenario",
    "design_overrides",
    "design_scenario",
    "sample_designs",
]

#: Beneficiaries per simulated initiative: the default city's 10,000 youth. The cost of a run is
#: dominated by the partner-level mechanisms (about 1.5-2 s for 500 or 10,000 beneficiaries), so a
#: smaller population would not make the study faster; it would add binomial noise of about
#: 0.7 percentage points to outcome rates at 2,000 people (0.3 at 10,000), the size of the
#: 1-point threshold of significant change, and it would also give each person more of the same
#: service budget. See docs/validation.md.
POPULATION_SIZE = 10_000

#: Expected mix of sectors among partners (shares; a Dirichlet draw around them per design).
#: Kania & Kramer 2011: "nonprofits, corporations, and government agencies"; NCIOM task force:
#: "corporate and government sectors are essential partners"; Save the Children Sweden 2021:
#: beneficiaries' own organisations.
#: The shares follow the default scenario's 20 partners (6 nonprofit, 3 public, 5 private,
#: 1 philanthropy, 1 academia, 4 community, rounded). Assumption.
SECTOR_WEIGHTS = {
    "nonprofit": 0.32,
    "public": 0.16,
    "private": 0.2,
    "philanthropy": 0.07,
    "academia": 0.07,
    "community": 0.18,
}

#: Meeting cadences and their weights. Kania & Kramer 2011: every initiative studied held "monthly
#: or even biweekly" meetings, so most designs meet monthly or biweekly; weekly work groups
#: (Strive's networks met every two weeks) and designs that meet rarely or not at all are the tails
#: that the trust pattern needs. Assumption for the weights.
CADENCES = {"weekly": 0.1, "biweekly": 0.3, "monthly": 0.35, "quarterly": 0.2, "none": 0.05}

BACKBONE_TYPES = ("funder_based", "new_nonprofit", "existing_nonprofit", "government", "shared",
                  "steering_committee")


@dataclass(frozen=True)
class Dimension:
    """One coordinate of the design space: its name, distribution and the basis of it."""

    name: str
    distribution: str
    source: str


#: The design space, in the order of the unit-hypercube coordinates.
DIMENSIONS: tuple[Dimension, ...] = (
    Dimension("partners", "integer, triangular on [6, 40], mode 15",
              "Kania & Kramer 2011 (Strive: 300+ leaders in 15 networks of ~20); default "
              "scenario 20; capped at 40 for run time. Assumption."),
    Dimension("partner_mix", "Dirichlet(20 x SECTOR_WEIGHTS), multinomial counts",
              "Kania & Kramer 2011; NCIOM task force (cross-sector); default scenario. "
              "Assumption."),
    Dimension("champion_influence", "uniform on [1, 5] (1 = no champion)",
              "NCIOM task force: influential champion(s). Assumption for the weight."),
    Dimension("backbone_present", "Bernoulli(0.75)",
              "Kania & Kramer 2011: lack of a backbone is among the most frequent causes of "
              "failure; Turner et al. 2012: the number one reason. Share is an assumption."),
    Dimension("backbone_fte_per_role", "uniform on [0.25, 1.5] FTE in each of the three roles",
              "Kania & Kramer 2011: Strive's three roles, one person each; under-staffing is "
              "common (NCIOM task force: should be sufficiently well-resourced). Assumption for"
              " the range."),
    Dimension("backbone_type", "the six types, equal weight",
              "NCIOM task force; Turner et al. 2012: six types, selection situation-specific."),
    Dimension("backbone_skill", "uniform on [0.4, 0.9]",
              "NCIOM task force: adaptive leadership skills vary. Assumption."),
    Dimension("anchor_funder", "Bernoulli(0.7)",
              "NCIOM task force: an anchor funder is a condition for success (not always "
              "present)."),
    Dimension("anchor_amount", "uniform on [300k, 1.5M] a year",
              "default scenario's anchor 900k. Assumption."),
    Dimension("anchor_years", "integer 1-5 years, equal weight",
              "NCIOM task force: at least 2-3 years; Hanleybrown, Kania & Kramer 2012."),
    Dimension("second_stream", "with probability 0.5 a stream of 200k-800k a year from year 1",
              "default scenario's municipal stream (600k from year 1). Assumption."),
    Dimension("measurement_shared", "Bernoulli(0.8)",
              "Kania & Kramer 2011: shared measurement essential; NCIOM task force: one of the "
              "most challenging aspects. Assumption."),
    Dimension("measurement_investment", "uniform on [0, 150k] a year",
              "NCIOM task force: needs substantial funding; default 50k. Assumption."),
    Dimension("engagement_intensity", "uniform on [0.1, 0.9]",
              "Save the Children Sweden 2021: beneficiary engagement foundational, practice "
              "varies. Assumption."),
    Dimension("equity_focus", "uniform on [0, 1]",
              "ORS Impact & Spark Policy Institute 2018: equity intent and action vary from "
              "none to strongest."),
    Dimension("meeting_cadence", "categorical, weights CADENCES",
              "Kania & Kramer 2011: monthly or biweekly CEO-level meetings."),
)

NAMES = tuple(d.name for d in DIMENSIONS)


def _categorical(u: float, weights: dict[str, float]) -> str:
    total = sum(weights.values())
    acc = 0.0
    for key, w in weights.items():
        acc += w / total
        if u < acc:
            return key
    return list(weights)[-1]


def _triangular_int(u: float, lo: float, hi: float, mode: float) -> int:
    c = (mode - lo) / (hi - lo)
    x = lo + math.sqrt(u * (hi - lo) * (mode - lo)) if u < c else hi - math.sqrt(
        (1 - u) * (hi - lo) * (hi - mode))
    return round(x)


def sector_counts(n: int, u: float) -> dict[str, int]:
    """Partners per sector: a Dirichlet draw around :data:`SECTOR_WEIGHTS`, seeded by ``u``."""
    rng = np.random.default_rng(int(u * 2**32))
    alpha = 20.0 * np.array([SECTOR_WEIGHTS[s] for s in SECTORS])
    shares = rng.dirichlet(alpha)
    counts = rng.multinomial(n, shares)
    return {s: int(c) for s, c in zip(SECTORS, counts, strict=True)}


def design_overrides(u: dict[str, float]) -> dict[str, Any]:
    """Scenario overrides of one design from its unit coordinates.

    Args:
        u: One value in [0, 1] per name of :data:`DIMENSIONS`.

    Returns:
        Dotted-path overrides for :meth:`cisim.scenario.Scenario.with_overrides`.
    """
    n = _triangular_int(u["partners"], 6, 40, 15)
    counts = sector_counts(n, u["partner_mix"])
    present = u["backbone_present"] < 0.75
    fte = 0.25 + 1.25 * u["backbone_fte_per_role"]
    streams = []
    if u["anchor_funder"] < 0.7:
        streams.append({
            "name": "anchor", "amount_per_year": 300_000 + 1_200_000 * u["anchor_amount"],
            "start_year": 0.0, "years": float(min(5, 1 + int(5 * u["anchor_years"]))),
            "renewable": True, "anchor": True,
        })
    if u["second_stream"] < 0.5:
        streams.append({
            "name": "second", "amount_per_year": 200_000 + 600_000 * (u["second_stream"] / 0.5),
            "start_year": 1.0, "years": 3.0, "renewable": True, "anchor": False,
        })
    return {
        "partner_generation.counts": counts,
        "partner_generation.champions": 1,
        "partner_generation.champion_influence": 1.0 + 4.0 * u["champion_influence"],
        "backbone.present": bool(present),
        "backbone.staff.project_manager": fte,
        "backbone.staff.data_manager": fte,
        "backbone.staff.facilitator": fte,
        "backbone.budget_per_year": 100_000.0 * 3 * fte,
        "backbone.type": BACKBONE_TYPES[min(5, int(6 * u["backbone_type"]))],
        "backbone.skill": 0.4 + 0.5 * u["backbone_skill"],
        "funding.streams": streams,
        "measurement.shared": bool(u["measurement_shared"] < 0.8),
        "measurement.investment_per_year": 150_000.0 * u["measurement_investment"],
        "engagement.intensity": 0.1 + 0.8 * u["engagement_intensity"],
        "engagement.equity_focus": float(u["equity_focus"]),
        "meetings.cadence": _categorical(u["meeting_cadence"], CADENCES),
    }


def base_scenario(population_size: int = POPULATION_SIZE, horizon_years: float = 10.0
                  ) -> Scenario:
    """The scenario every design starts from: the documented defaults, generated partners.

    The default subgroups (70% majority, 30% marginalised, flagged disadvantaged), the default
    phase model, valuation and dynamics apply; no Mesa beneficiary agents are built.
    """
    return Scenario.from_dict({
        "name": "validation_design",
        "description": "A sampled design of the validation study (experiments/validation).",
        "horizon_years": horizon_years,
        "partner_generation": {"counts": {"nonprofit": 10}},
        "population": {"size": population_size, "mesa_agents": 0},
    }, source="experiments/validation/designs.py")


def design_scenario(u: dict[str, float], base: Scenario | None = None,
                    extra: dict[str, Any] | None = None) -> Scenario:
    """The scenario of one design (optionally with extra overrides, e.g. no systems change)."""
    base = base if base is not None else base_scenario()
    overrides = design_overrides(u)
    if extra:
        overrides.update(extra)
    return base.with_overrides(overrides, source="validation design")


def sample_designs(n: int, seed: int) -> list[dict[str, Any]]:
    """Overrides of ``n`` designs of the study's design space, a Latin hypercube seeded by seed.

    A fixed small sample for calibration targets about a population of initiatives (see
    ``docs/calibration.md``): the same designs for every parameter set.
    """
    from scipy.stats import qmc

    u = qmc.LatinHypercube(d=len(NAMES), seed=np.random.default_rng(seed)).random(n)
    return [design_overrides(dict(zip(NAMES, map(float, row), strict=True))) for row in u]
