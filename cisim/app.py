"""The cisim teaching app: a browser page with sliders for a partnership's main levers.

Run it with ``cisim app`` (or ``solara run cisim/app.py``). A teacher or student moves the
sliders (meeting cadence, facilitation, backbone staff, shared measurement, funding years,
beneficiary engagement, equity focus, partners per sector), presses *Reset* to build the
partnership they describe, and plays it: population change against the same organisations working
in isolation (ORS Impact 2018), SROI, the seven components of the refined collective impact model
(Save the Children Sweden 2021), the partner network and a sample of the young people, with the
current phase shown at the top. The model is :class:`cisim.model.CollectiveImpactModel` over the
bundled default scenario (``scenarios/default.toml``) with a smaller population (2,000) so each
step renders quickly.

The page is a Solara app (https://solara.dev) built on Mesa 3.5's visualisation update
counter: the page lays out its own charts (matplotlib) and controls rather than SolaraViz's
draggable grid, so that the main charts sit above the fold and Mesa's developer controls (page
tabs, threads) stay out of a class's way, and its play loop waits for each update to be drawn
before stepping on, so a busy server slows the play down instead of running ahead unseen.
Every browser session gets its own model (:func:`Page` builds it per session), so one visitor's
steps never move another's run. Nothing on the page reads or writes files on the server: the only
file is the scenario a visitor downloads (:func:`design_toml`).

Sliders carry identifier names (the keyword arguments of :class:`TeachingModel`);
:func:`lever_overrides` maps them to the scenario's dotted paths.
"""

from __future__ import annotations

import contextlib
import functools
import html
import sys
import threading
import time
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import solara
from matplotlib.collections import LineCollection
from matplotlib.colors import ListedColormap, to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from mesa.visualization.utils import force_update, update_counter

from cisim.agents import Beneficiary
from cisim.model import DEFAULT_SCENARIO, CollectiveImpactModel
from cisim.report.figures import phase_colour
from cisim.scenario import SECTORS, STEPS_PER_YEAR, Scenario, ScenarioError

__all__ = [
    "CADENCES",
    "LEVERS",
    "STEP_CHOICES",
    "TEACHING_POPULATION",
    "Page",
    "TeachingModel",
    "base_scenario",
    "default_params",
    "design_toml",
    "lever_defaults",
    "lever_overrides",
    "lever_text",
    "pending_changes",
    "teaching_scenario",
]

#: Population of the teaching runs: small enough that a step and its plots stay quick.
TEACHING_POPULATION = 2_000
#: Beneficiaries drawn in the population view (a square grid).
GRID_SIDE = 20
#: Meeting cadences offered in the app, most to least frequent.
CADENCES = ["weekly", "biweekly", "monthly", "quarterly", "none"]
#: Backbone budget per FTE of staff: the default scenario's $300k for three FTE.
BUDGET_PER_FTE = 100_000.0
#: How far one press of *Step* (and one update while playing) moves the run, in weeks.
STEP_CHOICES = {
    "1 week": 1,
    "4 weeks (a month)": 4,
    "13 weeks (a quarter)": 13,
    "26 weeks (half a year)": 26,
    "52 weeks (a year)": 52,
}
DEFAULT_STEP = "4 weeks (a month)"
#: Pause between updates while playing (milliseconds).
PLAY_INTERVAL_MS = 50
#: Longest wait for the page to draw an update before playing on (seconds; a closed tab).
RENDER_WAIT_S = 30.0

SECTOR_COLOURS = {
    "nonprofit": "#1f77b4",
    "public": "#2ca02c",
    "private": "#ff7f0e",
    "philanthropy": "#9467bd",
    "academia": "#8c564b",
    "community": "#e377c2",
}
#: The component indicators (recorded columns) with their plain-language names and colours.
INDICATORS = {
    "trust": ("Trust between partners", "#1f77b4"),
    "agreement": ("Agreement on a common agenda", "#ff7f0e"),
    "alignment": ("Mutually reinforcing activities", "#2ca02c"),
    "measurement": ("Shared measurement", "#d62728"),
    "engagement": ("Engagement of young people", "#9467bd"),
    "funding_runway": ("Funding runway", "#8c564b"),
    "backbone_capacity": ("Backbone capacity", "#7f7f7f"),
}
#: Page styling: compact sidebar controls, charts that shrink to their column.
CSS = """
.cisim-chart img { max-width: 100%; height: auto; display: block; }
.cisim-lever { margin-bottom: 2px; }
.cisim-lever .v-input { margin-top: 0 !important; padding-top: 0 !important; }
.cisim-lever .v-messages { display: none; }
.cisim-lever-name { font-size: 0.85em; }
.cisim-lever-value { font-size: 0.85em; font-weight: bold; }
.cisim-section { font-size: 0.8em; font-weight: bold; text-transform: uppercase;
                 color: #555; margin: 8px 0 2px 0; }
"""


@functools.cache
def base_scenario() -> Scenario:
    """The bundled default scenario (``scenarios/default.toml``), read once."""
    return Scenario.load(DEFAULT_SCENARIO)


def lever_defaults(scenario: Scenario | None = None) -> dict[str, Any]:
    """The slider values that reproduce a scenario (the default scenario when None).

    Args:
        scenario: The base design.

    Returns:
        One value per lever of :data:`LEVERS`, plus ``population_size`` (the teaching size).
    """
    sc = scenario or base_scenario()
    counts = sc.partner_generation.counts if sc.partner_generation else {}
    staff = sc.backbone.staff
    out: dict[str, Any] = {
        "cadence": sc.meetings.cadence,
        "backbone_present": sc.backbone.present,
        "facilitator_fte": staff.facilitator,
        "facilitation_skill": sc.backbone.skill,
        "project_manager_fte": staff.project_manager,
        "data_manager_fte": staff.data_manager,
        "shared_measurement": sc.measurement.shared,
        "measurement_budget_k": sc.measurement.investment_per_year / 1000.0,
        "funding_years": min(sc.funding.max_years or sc.horizon_years, sc.horizon_years),
        "engagement_intensity": sc.engagement.intensity,
        "equity_focus": sc.engagement.equity_focus,
        "population_size": TEACHING_POPULATION,
    }
    for sector in SECTORS:
        out[f"{sector}_partners"] = int(counts.get(sector, 0))
    return out


def lever_overrides(levers: dict[str, Any], scenario: Scenario | None = None) -> dict[str, Any]:
    """Map slider values to dotted scenario overrides.

    Backbone staff are paid: the backbone budget is $100k a year per FTE (the default's $300k
    for three FTE). A funding horizon at or beyond the scenario's horizon means no funding
    cliff (``funding.max_years`` unset).

    Args:
        levers: Slider values by lever name (any subset of :func:`lever_defaults`' keys).
        scenario: The base design (the default scenario when None).

    Returns:
        ``{"dotted.path": value}`` for :meth:`cisim.scenario.Scenario.with_overrides`.

    Raises:
        KeyError: An unknown lever name.
    """
    sc = scenario or base_scenario()
    values = {**lever_defaults(sc), **levers}
    unknown = sorted(set(values) - set(lever_defaults(sc)))
    if unknown:
        raise KeyError(f"unknown levers: {', '.join(unknown)}")
    fte = {
        "project_manager": float(values["project_manager_fte"]),
        "data_manager": float(values["data_manager_fte"]),
        "facilitator": float(values["facilitator_fte"]),
    }
    out: dict[str, Any] = {
        "meetings.cadence": str(values["cadence"]),
        "backbone.present": bool(values["backbone_present"]),
        "backbone.staff.project_manager": fte["project_manager"],
        "backbone.staff.data_manager": fte["data_manager"],
        "backbone.staff.facilitator": fte["facilitator"],
        "backbone.budget_per_year": BUDGET_PER_FTE * sum(fte.values()),
        "backbone.skill": float(values["facilitation_skill"]),
        "measurement.shared": bool(values["shared_measurement"]),
        "measurement.investment_per_year": 1000.0 * float(values["measurement_budget_k"]),
        "engagement.intensity": float(values["engagement_intensity"]),
        "engagement.equity_focus": float(values["equity_focus"]),
        "population.size": int(values["population_size"]),
        "population.mesa_agents": GRID_SIDE * GRID_SIDE,
    }
    years = float(values["funding_years"])
    out["funding.max_years"] = years if years < sc.horizon_years else None
    counts = {s: int(values[f"{s}_partners"]) for s in SECTORS}
    out["partner_generation.counts"] = {s: n for s, n in counts.items() if n > 0}
    return out


def teaching_scenario(**levers: Any) -> Scenario:
    """The default scenario with the levers applied (see :func:`lever_overrides`).

    Raises:
        ScenarioError: The levers describe an invalid design (e.g. no partners at all).
    """
    sc = base_scenario()
    overrides = lever_overrides(levers, sc)
    if sc.partner_generation is None:
        overrides.pop("partner_generation.counts")
    return sc.with_overrides(overrides, source="teaching app sliders")


def _seed(value: Any) -> int:
    """An integer seed from the seed box (any text: digits as a number, else a hash of it)."""
    if isinstance(value, int | np.integer):
        return abs(int(value))
    text = str(value).strip()
    return int(text) if text.isdigit() else zlib.crc32(text.encode("utf-8"))


_D = lever_defaults()


class TeachingModel(CollectiveImpactModel):
    """The collective impact model built from the app's sliders.

    Every keyword is a lever of :data:`LEVERS`; defaults reproduce the default scenario with
    a population of :data:`TEACHING_POPULATION`.

    Attributes:
        levers: The lever values the model was built from.
        seed_text: The seed as typed in the seed box.
        lock: Held while the model steps and while a view reads it: while playing, Mesa's
            controller steps the model in one thread as the page draws it in another.
    """

    def __init__(
        self,
        *,
        cadence: str = _D["cadence"],
        backbone_present: bool = _D["backbone_present"],
        facilitator_fte: float = _D["facilitator_fte"],
        facilitation_skill: float = _D["facilitation_skill"],
        project_manager_fte: float = _D["project_manager_fte"],
        data_manager_fte: float = _D["data_manager_fte"],
        shared_measurement: bool = _D["shared_measurement"],
        measurement_budget_k: float = _D["measurement_budget_k"],
        funding_years: float = _D["funding_years"],
        engagement_intensity: float = _D["engagement_intensity"],
        equity_focus: float = _D["equity_focus"],
        nonprofit_partners: int = _D["nonprofit_partners"],
        public_partners: int = _D["public_partners"],
        private_partners: int = _D["private_partners"],
        philanthropy_partners: int = _D["philanthropy_partners"],
        academia_partners: int = _D["academia_partners"],
        community_partners: int = _D["community_partners"],
        population_size: int = _D["population_size"],
        rng: Any = "42",
    ):
        """Build the model from slider values.

        Args:
            cadence: How often leaders meet (``meetings.cadence``).
            backbone_present: Whether the design has a backbone (``backbone.present``).
            facilitator_fte: Backbone facilitator staff (FTE).
            facilitation_skill: Backbone facilitation skill, 0-1 (``backbone.skill``).
            project_manager_fte: Backbone project manager staff (FTE).
            data_manager_fte: Backbone data manager staff (FTE).
            shared_measurement: Whether a shared measurement system is built.
            measurement_budget_k: Data-system budget, thousand dollars a year.
            funding_years: Years after which no money flows (10 = no cliff).
            engagement_intensity: Beneficiary engagement effort, 0-1.
            equity_focus: Targeting toward the disadvantaged subgroup, 0-1.
            nonprofit_partners: Generated non-profit partners (on top of the eight named).
            public_partners: Generated public partners.
            private_partners: Generated private partners.
            philanthropy_partners: Generated philanthropy partners.
            academia_partners: Generated academic partners.
            community_partners: Generated community partners.
            population_size: Number of beneficiaries.
            rng: Seed (an integer, or text from the seed box).
        """
        levers = {
            "cadence": cadence,
            "backbone_present": backbone_present,
            "facilitator_fte": facilitator_fte,
            "facilitation_skill": facilitation_skill,
            "project_manager_fte": project_manager_fte,
            "data_manager_fte": data_manager_fte,
            "shared_measurement": shared_measurement,
            "measurement_budget_k": measurement_budget_k,
            "funding_years": funding_years,
            "engagement_intensity": engagement_intensity,
            "equity_focus": equity_focus,
            "nonprofit_partners": nonprofit_partners,
            "public_partners": public_partners,
            "private_partners": private_partners,
            "philanthropy_partners": philanthropy_partners,
            "academia_partners": academia_partners,
            "community_partners": community_partners,
            "population_size": population_size,
        }
        self.levers = levers
        self.seed_text = str(rng)
        self.lock = threading.RLock()
        super().__init__(teaching_scenario(**levers), rng=_seed(rng))
        # Mesa binds ``step`` per instance (its clock, then the class's step); Mesa's Step
        # button runs a fixed number of weeks, so past the horizon stepping must do nothing.
        self._mesa_step = self.step
        self.step = self._step_while_running

    def _step_while_running(self) -> None:
        """One week; nothing once the horizon is reached."""
        with self.lock:
            if self.running:
                self._mesa_step()


def _slider(label: str, lever: str, lo: float, hi: float, step: float,
            fmt: str) -> dict[str, Any]:
    kind = "SliderFloat" if isinstance(step, float) else "SliderInt"
    value = _D[lever]
    return {"type": kind, "label": label, "value": float(value) if kind == "SliderFloat"
            else int(value), "min": lo, "max": hi, "step": step, "format": fmt}


#: The app's inputs, keyed by :class:`TeachingModel` keyword, in display order. ``format``
#: renders a slider's value next to its name; ``section`` starts a group of controls.
LEVERS: dict[str, dict[str, Any]] = {
    "cadence": {"type": "Select", "value": _D["cadence"], "values": CADENCES,
                "label": "Meeting cadence", "section": "Meetings and backbone"},
    "backbone_present": {"type": "Checkbox", "value": _D["backbone_present"],
                         "label": "Backbone organisation"},
    "facilitator_fte": _slider("Facilitator", "facilitator_fte", 0.0, 3.0, 0.25, "{:g} FTE"),
    "facilitation_skill": _slider("Facilitation skill", "facilitation_skill", 0.0, 1.0, 0.05,
                                  "{:.2f}"),
    "project_manager_fte": _slider("Project manager", "project_manager_fte", 0.0, 3.0, 0.25,
                                   "{:g} FTE"),
    "data_manager_fte": _slider("Data manager", "data_manager_fte", 0.0, 3.0, 0.25, "{:g} FTE"),
    "shared_measurement": {"type": "Checkbox", "value": _D["shared_measurement"],
                           "label": "Shared measurement system",
                           "section": "Measurement and money"},
    "measurement_budget_k": _slider("Data system budget", "measurement_budget_k",
                                    10.0, 200.0, 10.0, "${:g}k a year"),
    "funding_years": _slider("Funding stops after", "funding_years", 1.0, 10.0, 0.5,
                             "{:g} years"),
    "engagement_intensity": _slider("Engagement of young people", "engagement_intensity",
                                    0.0, 1.0, 0.05, "{:.2f}"),
    "equity_focus": _slider("Equity focus", "equity_focus", 0.0, 1.0, 0.05, "{:.2f}"),
    "population_size": _slider("Young people in the city", "population_size",
                               500, 10_000, 500, "{:,}"),
    **{
        f"{s}_partners": {**_slider(f"Extra {s} partners", f"{s}_partners", 0, 15, 1, "{:d}"),
                          **({"section": "Partners (on top of the eight named)"}
                             if s == SECTORS[0] else {})}
        for s in SECTORS
    },
    "rng": {"type": "InputText", "value": "42", "label": "Seed (same seed, same history)",
            "section": "Chance"},
}


def lever_text(name: str, value: Any) -> str:
    """A lever's value as shown beside its slider (e.g. ``"1.5 FTE"``, ``"never"``).

    Args:
        name: A key of :data:`LEVERS`.
        value: The lever's value.
    """
    spec = LEVERS[name]
    if name == "funding_years" and float(value) >= base_scenario().horizon_years:
        return "never"
    if spec["type"] == "SliderInt":
        return spec["format"].format(int(value))
    if spec["type"] == "SliderFloat":
        return spec["format"].format(float(value))
    if spec["type"] == "Checkbox":
        return "on" if value else "off"
    return str(value)


def default_params() -> dict[str, Any]:
    """The lever values the page starts with (the default scenario, seed 42)."""
    return {k: v["value"] for k, v in LEVERS.items()}


def pending_changes(params: dict[str, Any], model: TeachingModel) -> list[str]:
    """The levers whose slider value differs from the design the model runs.

    Args:
        params: Slider values by lever name.
        model: The model shown.

    Returns:
        The changed levers' labels with their new values, in :data:`LEVERS` order.
    """
    applied = {**model.levers, "rng": model.seed_text}
    out = []
    for name, spec in LEVERS.items():
        if name in params and params[name] != applied.get(name):
            out.append(f"{spec['label']} → {lever_text(name, params[name])}")
    return out


def design_toml(params: dict[str, Any]) -> str:
    """The design on the sliders as a scenario file (TOML), for ``cisim run`` or ``Scenario.load``.

    Args:
        params: Slider values by lever name (``rng``, the seed, is noted in a comment: a seed
            is a property of a run, not of a design).

    Returns:
        The TOML text: a comment header, then the default scenario with the levers applied.

    Raises:
        ScenarioError: The levers describe an invalid design.
    """
    levers = {k: v for k, v in params.items() if k != "rng"}
    sc = teaching_scenario(**levers)
    seed = str(params.get("rng", "42")).replace("\n", " ")
    header = (
        "# A collective impact design saved from the cisim teaching app: the bundled default\n"
        "# scenario with the app's sliders applied.\n"
        f"# The app ran it with seed {_seed(seed)} (seed box: {seed!r}).\n"
        f"# Run it with: cisim run FILE --seed {_seed(seed)}\n\n"
    )
    return header + sc.to_toml()


# ---- views ------------------------------------------------------------------------------------


def _fmt(value: float, pattern: str = "{:.2f}") -> str:
    return "—" if value is None or not np.isfinite(value) else pattern.format(value)


def readout(model: CollectiveImpactModel) -> dict[str, str]:
    """The current values shown in the status panel (formatted text)."""
    rec = model.recorder
    row = rec.data[len(rec.phase) - 1]
    col = rec.cols
    out = {
        "week": str(model.steps),
        "year": f"{model.steps / STEPS_PER_YEAR:.1f}",
        "phase": model.phase_label(model.factual),
        "population change vs isolation (pp)": _fmt(row[col["population_change_vs_cf"]],
                                                    "{:+.2f}"),
        "SROI": _fmt(row[col["sroi"]]),
        "active partners": f"{row[col['active_partners']]:.0f}",
    }
    for name, (label, _colour) in INDICATORS.items():
        out[label.lower()] = _fmt(row[col[name]], "{:.3f}")
    return out


def design_text(model: CollectiveImpactModel) -> str:
    """The design in effect (the scenario's values of the levers), in one line."""
    sc = model.design
    staff = sc.backbone.staff
    backbone = (f"backbone {staff.project_manager:g}/{staff.data_manager:g}/"
                f"{staff.facilitator:g} FTE (PM/data/facilitator), skill {sc.backbone.skill:g}"
                if sc.backbone.present else "no backbone")
    cliff = sc.funding.max_years
    counts = sc.partner_generation.counts if sc.partner_generation else {}
    return (f"meetings {sc.meetings.cadence}; {backbone}; shared measurement "
            f"{'on' if sc.measurement.shared else 'off'} "
            f"(${sc.measurement.investment_per_year / 1000:g}k/yr); funding "
            f"{'to the horizon' if cliff is None else f'stops after {cliff:g} yr'}; "
            f"engagement {sc.engagement.intensity:g}; equity focus "
            f"{sc.engagement.equity_focus:g}; {model.factual.partners.n} partners "
            f"({len(sc.partners)} named + {sum(counts.values())} generated); "
            f"{sc.population.size:,} young people")


def _years(model: CollectiveImpactModel) -> np.ndarray:
    return np.arange(model.steps + 1) / STEPS_PER_YEAR


def _series(model: CollectiveImpactModel, column: str) -> np.ndarray:
    rec = model.recorder
    return rec.data[: model.steps + 1, rec.cols[column]].copy()


def _time_axis(ax: Any, model: CollectiveImpactModel) -> None:
    horizon = model.n_steps / STEPS_PER_YEAR
    ax.set_xlim(0, horizon)
    ax.set_xticks(np.arange(0, horizon + 0.5, 1 if horizon <= 12 else 2))
    ax.set_xlabel("Years since the partnership started", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.25)


def _now_marker(ax: Any, model: CollectiveImpactModel, column: str, colour: str) -> None:
    """A dot at the latest value: where the run is now (a lone week-0 value shows too)."""
    y = _series(model, column)[-1]
    if np.isfinite(y):
        ax.plot([model.steps / STEPS_PER_YEAR], [y], "o", color=colour, ms=5)


def _phase_bands(ax: Any, model: CollectiveImpactModel) -> None:
    """Shade the phases behind a time chart, each band named at its top."""
    phases = model.recorder.phase[: model.steps + 1]
    start = 0
    for i in range(1, len(phases) + 1):
        if i == len(phases) or phases[i] != phases[start]:
            colour = phase_colour(phases[start])
            x0, x1 = start / STEPS_PER_YEAR, i / STEPS_PER_YEAR
            ax.axvspan(x0, x1, color=colour, alpha=0.18, lw=0)
            if x1 - x0 >= 0.6:  # room for the name
                ax.text((x0 + x1) / 2, 0.97, phases[start], transform=ax.get_xaxis_transform(),
                        ha="center", va="top", fontsize=7, color="#333333")
            start = i


def change_figure(model: CollectiveImpactModel) -> Figure:
    """Population change against the same organisations working in isolation, by year."""
    fig = Figure(figsize=(5.0, 2.7), dpi=90)
    ax = fig.subplots()
    _phase_bands(ax, model)
    ax.plot(_years(model), _series(model, "population_change_vs_cf"), color="#2ca02c",
                    lw=1.8, label="This design minus working in isolation")
    _now_marker(ax, model, "population_change_vs_cf", "#2ca02c")
    ax.axhline(0.0, color="black", lw=0.8, ls="--")
    _time_axis(ax, model)
    ax.set_ylabel("percentage points", fontsize=8)
    ax.set_title("Population change vs. isolation (pp)", fontsize=10)
    ax.legend(loc="lower right", fontsize=7, framealpha=0.8)
    fig.subplots_adjust(left=0.13, right=0.98, top=0.9, bottom=0.17)
    return fig


def sroi_figure(model: CollectiveImpactModel) -> Figure:
    """The social return on investment so far, by year."""
    fig = Figure(figsize=(5.0, 2.7), dpi=90)
    ax = fig.subplots()
    line, = ax.plot(_years(model), _series(model, "sroi"), color="#9467bd", lw=1.8,
                    label="Value created per dollar invested, so far")
    _now_marker(ax, model, "sroi", "#9467bd")
    even = ax.axhline(1.0, color="black", lw=0.8, ls="--", label="Break-even (1)")
    _time_axis(ax, model)
    ax.set_ylabel("SROI (value ÷ investment)", fontsize=8)
    ax.set_title("Social return on investment (SROI)", fontsize=10)
    ax.legend(handles=[line, even], loc="lower right", fontsize=7, framealpha=0.8)
    fig.subplots_adjust(left=0.13, right=0.98, top=0.9, bottom=0.17)
    return fig


def components_figure(model: CollectiveImpactModel) -> Figure:
    """The seven components of the partnership (each 0-1), by year."""
    fig = Figure(figsize=(5.0, 3.4), dpi=90)
    ax = fig.subplots()
    years = _years(model)
    for name, (label, colour) in INDICATORS.items():
        ax.plot(years, _series(model, name), color=colour, lw=1.4, label=label)
    _time_axis(ax, model)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("level (0 = absent, 1 = full)", fontsize=8)
    ax.set_title("The components of collective impact", fontsize=10)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=7,
              frameon=False)
    fig.subplots_adjust(left=0.12, right=0.98, top=0.92, bottom=0.36)
    return fig


def partner_figure(model: CollectiveImpactModel) -> Figure:
    """Partners at their agenda positions, coloured by sector; lines are trust."""
    world = model.factual
    p = world.partners
    fig = Figure(figsize=(4.2, 4.0), dpi=90)
    ax = fig.subplots()
    x = world.position
    trust = world.trust
    i, j = np.triu_indices(p.n, k=1)
    both = world.active[i] & world.active[j]
    w = trust[i, j]
    keep = both & (w > 0.02)
    if keep.any():
        segs = np.stack([x[i[keep]], x[j[keep]]], axis=1)
        colours = np.zeros((keep.sum(), 4))
        colours[:, 3] = np.clip(w[keep], 0.05, 1.0)
        ax.add_collection(LineCollection(segs, linewidths=0.3 + 4.0 * w[keep], colors=colours,
                                         zorder=1))
    sectors = [SECTORS[int(s)] for s in p.sector]
    face = [SECTOR_COLOURS[s] if a else "white" for s, a in zip(sectors, world.active,
                                                                 strict=True)]
    edge = [SECTOR_COLOURS[s] for s in sectors]
    ax.scatter(x[:, 0], x[:, 1], s=40 + 40 * p.influence, c=face, edgecolors=edge,
               linewidths=1.5, zorder=2)
    present = [s for s in SECTORS if s in sectors]
    handles = [Patch(color=SECTOR_COLOURS[s], label=s) for s in present]
    handles.append(Line2D([], [], color="black", lw=3, label="trust"))
    ax.legend(handles=handles, loc="upper left", fontsize=7, framealpha=0.8)
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-0.05, 1.05)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"Partners on the agenda map: mean trust {world.trust_mean:.2f}, "
                 f"agreement {world.agreement:.2f}", fontsize=9)
    ax.set_xlabel("points converge as partners agree a common agenda", fontsize=8)
    fig.subplots_adjust(left=0.02, right=0.98, top=0.92, bottom=0.07)
    return fig


#: Colours of the population grid: (subgroup index, in outcome) -> colour.
GRID_COLOURS = ["#c6dbef", "#08519c", "#fdd0a2", "#a63603"]


def population_grid(model: CollectiveImpactModel) -> tuple[np.ndarray, list[str]]:
    """The beneficiary sample as a grid of colour codes.

    Codes: 0/1 first (majority) subgroup not in / in the outcome state, 2/3 any other
    subgroup; people are ordered by subgroup, then by row, so each subgroup forms a block.

    Returns:
        A ``GRID_SIDE x GRID_SIDE`` integer array (-1 where the sample is smaller) and the
        subgroup names.
    """
    agents = list(model.agents_by_type[Beneficiary]) if Beneficiary in model.agents_by_type \
        else []
    names = list(model.population.group_names)
    group = np.array([names.index(a.subgroup) for a in agents], dtype=int)
    state = np.array([a.in_outcome for a in agents], dtype=int)
    order = np.lexsort((np.array([a.index for a in agents]), group)) if agents else []
    codes = np.full(GRID_SIDE * GRID_SIDE, -1, dtype=int)
    k = min(len(agents), codes.size)
    codes[:k] = (2 * np.minimum(group, 1) + state)[order][:k]
    return codes.reshape(GRID_SIDE, GRID_SIDE), names


def population_figure(model: CollectiveImpactModel) -> Figure:
    """A sample of the young people as a grid, coloured by subgroup and outcome."""
    codes, names = population_grid(model)
    fig = Figure(figsize=(4.0, 4.0), dpi=90)
    ax = fig.subplots()
    masked = np.ma.masked_less(codes, 0)
    ax.imshow(masked, cmap=ListedColormap(GRID_COLOURS), vmin=0, vmax=3,
              interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    other = names[1] if len(names) == 2 else "other groups"
    handles = [Patch(color=GRID_COLOURS[1], label=f"{names[0]}, in outcome"),
               Patch(color=GRID_COLOURS[0], label=f"{names[0]}, not"),
               Patch(color=GRID_COLOURS[3], label=f"{other}, in outcome"),
               Patch(color=GRID_COLOURS[2], label=f"{other}, not")]
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2,
              fontsize=7, frameon=False)
    rate = model.population.rate(0)
    rate_cf = model.population.rate(1)
    ax.set_xlabel(f"{codes.size} of {model.population.n:,} young people shown\n"
                  f"{model.design.population.outcome}: {rate:.1%} "
                  f"(in isolation: {rate_cf:.1%})", fontsize=8)
    fig.subplots_adjust(left=0.02, right=0.98, top=0.86, bottom=0.12)
    return fig


# ---- the page ---------------------------------------------------------------------------------


def _reading(model: CollectiveImpactModel) -> Any:
    """The model's lock (a :class:`TeachingModel`'s), or no lock for any other model."""
    return getattr(model, "lock", None) or contextlib.nullcontext()


@solara.component
def Chart(model: CollectiveImpactModel, draw: Callable[[CollectiveImpactModel], Figure],  # noqa: N802
          name: str) -> None:
    """One matplotlib view of the model, redrawn when the model steps or is replaced.

    Args:
        model: The model shown.
        draw: Builds the figure from the model.
        name: CSS class suffix (``cisim-chart-<name>``) that locates the chart on the page.
    """
    counter = update_counter.get()

    def drawn() -> Figure:
        with _reading(model):
            return draw(model)

    figure = solara.use_memo(drawn, [model, counter])
    with solara.Div(classes=["cisim-chart", f"cisim-chart-{name}"]):
        solara.FigureMatplotlib(figure, dependencies=[model, counter], format="png")


@solara.component
def PhaseBanner(model: CollectiveImpactModel) -> None:  # noqa: N802 (Solara components)
    """The current phase in large type, the week and year, what blocks the next phase."""
    update_counter.get()
    with _reading(model):
        values = readout(model)
        blockers = list(model.phase_state[0].blockers)
        running = model.running
    phase = values["phase"]
    colour = phase_colour(phase)  # the report's palette; dark text on its light colours
    r, g, b = to_rgb(colour)
    text = "#1a1a1a" if 0.299 * r + 0.587 * g + 0.114 * b > 0.6 else "white"
    horizon = model.n_steps / STEPS_PER_YEAR
    with solara.Row(style={"align-items": "center", "flex-wrap": "wrap", "gap": "4px 16px",
                           "padding": "0 4px"}):
        solara.Text(
            phase,
            classes=["cisim-phase"],
            style={"font-size": "1.6em", "font-weight": "bold", "color": text,
                   "background": colour, "padding": "0 14px", "border-radius": "6px"},
        )
        solara.Text(f"Week {values['week']} (year {values['year']} of {horizon:g})",
                    classes=["cisim-week"], style={"font-size": "1.1em"})
        solara.Text(f"Population change {values['population change vs isolation (pp)']} pp"
                    f" · SROI {values['SROI']} · {values['active partners']} active partners",
                    classes=["cisim-headline"])
        if not running:
            solara.Text("The run is over: press Reset to start again.",
                        classes=["cisim-finished"], style={"font-weight": "bold"})
    if blockers:
        solara.Text("Waiting for: " + "; ".join(blockers), classes=["cisim-blockers"],
                    style={"font-style": "italic", "font-size": "0.85em", "padding": "0 4px"})


@solara.component
def Readout(model: CollectiveImpactModel) -> None:  # noqa: N802
    """The design in effect and the current values, as a table."""
    update_counter.get()
    with _reading(model):
        values = readout(model)
        design = design_text(model)
    items = [(k, v) for k, v in values.items() if k not in ("year", "phase")]
    cells = [f"<td>{html.escape(k)}</td><td style='text-align:right; padding-right:18px'>"
             f"<b>{html.escape(v)}</b></td>" for k, v in items]
    rows = "".join(f"<tr>{''.join(cells[i:i + 2])}</tr>" for i in range(0, len(cells), 2))
    with solara.Card("Now", margin=0):
        solara.HTML(tag="table", unsafe_innerHTML=rows, classes=["cisim-readout"],
                    style="border-spacing: 8px 1px; font-size: 0.85em")
        solara.Text("Design in this run: " + design, classes=["cisim-design"],
                    style={"font-size": "0.8em", "line-height": "1.3"})


@solara.component
def LeverInput(name: str, value: Any, on_change: Callable[[str, Any], None]) -> None:  # noqa: N802
    """One lever: its name and current value, then its slider, box or menu."""
    spec = LEVERS[name]
    kind = spec["type"]

    def changed(new: Any) -> None:
        on_change(name, new)

    if "section" in spec:
        solara.Text(spec["section"], classes=["cisim-section"])
    with solara.Div(classes=["cisim-lever", f"cisim-lever-{name}"]):
        if kind in ("SliderFloat", "SliderInt"):
            with solara.Row(justify="space-between", style={"margin": "0"}):
                solara.Text(spec["label"], classes=["cisim-lever-name"])
                solara.Text(lever_text(name, value), classes=["cisim-lever-value"])
            slider = solara.SliderFloat if kind == "SliderFloat" else solara.SliderInt
            slider("", value=value, on_value=changed, min=spec["min"], max=spec["max"],
                   step=spec["step"])
        elif kind == "Select":
            solara.Select(spec["label"], values=spec["values"], value=value, on_value=changed,
                          dense=True)
        elif kind == "Checkbox":
            solara.Checkbox(label=spec["label"], value=value, on_value=changed)
        else:
            solara.InputText(spec["label"], value=value, on_value=changed)


@solara.component
def Controls(model: solara.Reactive[TeachingModel],  # noqa: N802
             params: solara.Reactive[dict[str, Any]], frame: threading.Event) -> None:
    """Reset / play / Step, how far a step goes, and whether the sliders are applied yet.

    Playing steps the model in a thread and waits for each update to be drawn (``frame`` is
    set once the page has rendered) before the next: a busy server slows the play down rather
    than stepping ahead of what the page shows.
    """
    update_counter.get()  # re-render as the run moves (Play and Step turn off at the end)
    step_label = solara.use_reactive(DEFAULT_STEP)
    playing = solara.use_reactive(False)
    error = solara.use_reactive(None)
    weeks = STEP_CHOICES[step_label.value]

    def advance(m: TeachingModel) -> None:
        for _ in range(weeks):
            m.step()

    def play(cancel: threading.Event) -> None:
        try:
            while playing.value and not cancel.is_set() and model.value.running:
                advance(model.value)
                frame.clear()
                force_update()
                frame.wait(timeout=RENDER_WAIT_S)
                time.sleep(PLAY_INTERVAL_MS / 1000)
        except Exception as exc:  # shown on the page rather than lost in a thread
            error.set(f"The run stopped: {exc}")
        finally:
            if not cancel.is_set():
                playing.set(False)

    solara.use_thread(play, dependencies=[playing.value], intrusive_cancel=False)

    def step() -> None:
        advance(model.value)
        force_update()

    def reset() -> None:
        playing.set(False)
        try:
            model.set(TeachingModel(**params.value))
        except (ScenarioError, ValueError) as exc:
            error.set(f"This design cannot be built: {exc}")
        else:
            error.set(None)
            force_update()

    running = model.value.running
    with solara.Row(justify="space-between"):
        solara.Button("Reset", color="primary", on_click=reset)
        solara.Button("❚❚" if playing.value else "▶", color="primary",
                      on_click=lambda: playing.set(not playing.value), disabled=not running)
        solara.Button("Step", color="primary", on_click=step,
                      disabled=playing.value or not running)
    if error.value:
        solara.Error(error.value, classes=["cisim-error"])
    solara.Select("Each Step (and each update while playing) moves", values=list(STEP_CHOICES),
                  value=step_label.value, on_value=step_label.set, dense=True)
    pending = pending_changes(params.value, model.value)
    if pending:
        solara.Warning("Not applied yet: " + "; ".join(pending) + ". Press Reset to start a "
                       "new run with them (the run shown keeps its design).",
                       classes=["cisim-pending"], dense=True)
    else:
        solara.Text("Changes to the design apply when you press Reset.",
                    classes=["cisim-apply-hint"], style={"font-size": "0.85em"})


@solara.component
def FrameDrawn(frame: threading.Event) -> None:  # noqa: N802
    """Sets ``frame`` once the page has rendered the latest update (placed after the views)."""
    counter = update_counter.get()
    solara.use_effect(frame.set, [counter])


@solara.component
def SaveDesign(params: solara.Reactive[dict[str, Any]]) -> None:  # noqa: N802
    """A button that downloads the design on the sliders as a scenario file."""

    def data() -> bytes:
        return design_toml(params.value).encode("utf-8")

    solara.FileDownload(data, filename="cisim-design.toml", mime_type="application/toml",
                        label="Save this design (scenario .toml)")
    solara.Text("The file holds the sliders' values and runs with `cisim run`.",
                style={"font-size": "0.8em"})


@solara.component
def Page() -> None:  # noqa: N802
    """The app. Each browser session renders its own Page, so each has its own model."""
    initial = solara.use_memo(TeachingModel, [])
    model = solara.use_reactive(initial)
    params = solara.use_reactive(default_params())
    frame = solara.use_memo(threading.Event, [])

    def on_change(name: str, value: Any) -> None:
        params.value = {**params.value, name: value}

    solara.Title("cisim: a collective impact partnership")
    solara.Style(CSS)
    with solara.AppBar(), solara.AppBarTitle():
        solara.Text("cisim: a collective impact partnership, year by year")
    with solara.Sidebar():
        with solara.Card("Run", margin=0):
            Controls(model, params, frame)
        with solara.Card("Design", margin=0):
            for name in LEVERS:
                LeverInput(name, params.value[name], on_change)
            SaveDesign(params)
    m = model.value
    with solara.Column(gap="6px", style={"padding": "0"}):
        PhaseBanner(m)
        with solara.Columns([1, 1], gutters_dense=True):
            Chart(m, change_figure, "change")
            Chart(m, sroi_figure, "sroi")
        with solara.Columns([4, 3, 3], gutters_dense=True):
            Chart(m, components_figure, "components")
            Chart(m, partner_figure, "partners")
            Chart(m, population_figure, "population")
        Readout(m)
        FrameDrawn(frame)


def _quiet_solara_badge() -> None:
    """Hide Solara's "This website runs on Solara" badge, which sits over a chart.

    Only inside Solara's server (its settings module is loaded); nothing happens elsewhere.
    """
    settings = sys.modules.get("solara.server.settings")
    if settings is not None:
        settings.theme.show_banner = False


_quiet_solara_badge()
