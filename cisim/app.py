"""The cisim teaching app: a Mesa SolaraViz page with sliders for a partnership's main levers.

Run it with ``cisim app`` or ``solara run cisim/app.py``. A teacher moves the sliders (meeting
cadence, facilitation, backbone staff, shared measurement, funding years, beneficiary engagement,
equity focus, partners per sector), presses *Reset* to build the partnership they describe, and
plays it week by week: the partner network (agenda positions, trust as edge strength), a sample
of the beneficiaries, the seven components of the refined collective impact model (Save the Children
Sweden 2021), population change against the counterfactual (ORS Impact 2018) and SROI, with the
current phase shown at the top. The page is built on Mesa's SolaraViz (Mesa 3.5) and matplotlib; the
model is :class:`cisim.model.CollectiveImpactModel` over the bundled default scenario
(``scenarios/default.toml``) with a smaller population (2,000) so each step renders quickly.

Sliders carry identifier names (SolaraViz passes them to the model as keyword arguments);
:func:`lever_overrides` maps them to the scenario's dotted paths, and :class:`TeachingModel`
builds the model from them.
"""

from __future__ import annotations

import functools
import html
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
from mesa.visualization import SolaraViz, make_plot_component
from mesa.visualization.utils import update_counter

from cisim.agents import Beneficiary
from cisim.model import DEFAULT_SCENARIO, CollectiveImpactModel
from cisim.report.figures import phase_colour
from cisim.scenario import SECTORS, Scenario

__all__ = [
    "CADENCES",
    "LEVERS",
    "TEACHING_POPULATION",
    "TeachingModel",
    "base_scenario",
    "lever_defaults",
    "lever_overrides",
    "make_page",
    "model_params",
    "page",
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

SECTOR_COLOURS = {
    "nonprofit": "#1f77b4",
    "public": "#2ca02c",
    "private": "#ff7f0e",
    "philanthropy": "#9467bd",
    "academia": "#8c564b",
    "community": "#e377c2",
}
#: Component indicators plotted together (DataCollector model reporters of the model).
INDICATOR_COLOURS = {
    "trust": "#1f77b4",
    "agreement": "#ff7f0e",
    "alignment": "#2ca02c",
    "measurement": "#d62728",
    "engagement": "#9467bd",
    "funding_runway": "#8c564b",
    "backbone_capacity": "#7f7f7f",
}


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
        rng: Any = 42,
        scenario: Any = None,
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
            scenario: Ignored; SolaraViz's reset passes Mesa's own scenario object here.
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
        super().__init__(teaching_scenario(**levers), rng=_seed(rng))


def _slider(label: str, lever: str, lo: float, hi: float, step: float) -> dict[str, Any]:
    kind = "SliderFloat" if isinstance(step, float) else "SliderInt"
    value = _D[lever]
    return {"type": kind, "label": label, "value": float(value) if kind == "SliderFloat"
            else int(value), "min": lo, "max": hi, "step": step}


#: The app's inputs (SolaraViz ``model_params``), keyed by :class:`TeachingModel` keyword.
LEVERS: dict[str, dict[str, Any]] = {
    "rng": {"type": "InputText", "value": "42", "label": "Seed"},
    "cadence": {"type": "Select", "value": _D["cadence"], "values": CADENCES,
                "label": "Meeting cadence"},
    "backbone_present": {"type": "Checkbox", "value": _D["backbone_present"],
                         "label": "Backbone organisation"},
    "facilitator_fte": _slider("Facilitator (FTE)", "facilitator_fte", 0.0, 3.0, 0.25),
    "facilitation_skill": _slider("Facilitation skill", "facilitation_skill", 0.0, 1.0, 0.05),
    "project_manager_fte": _slider("Project manager (FTE)", "project_manager_fte", 0.0, 3.0, 0.25),
    "data_manager_fte": _slider("Data manager (FTE)", "data_manager_fte", 0.0, 3.0, 0.25),
    "shared_measurement": {"type": "Checkbox", "value": _D["shared_measurement"],
                           "label": "Shared measurement system"},
    "measurement_budget_k": _slider("Data system budget ($k/year)", "measurement_budget_k",
                                    10.0, 200.0, 10.0),
    "funding_years": _slider("Funding stops after (years; 10 = never)", "funding_years",
                             1.0, 10.0, 0.5),
    "engagement_intensity": _slider("Beneficiary engagement", "engagement_intensity",
                                    0.0, 1.0, 0.05),
    "equity_focus": _slider("Equity focus", "equity_focus", 0.0, 1.0, 0.05),
    **{
        f"{s}_partners": _slider(f"Extra {s} partners", f"{s}_partners", 0, 15, 1)
        for s in SECTORS
    },
    "population_size": _slider("Young people (population)", "population_size",
                               500, 10_000, 500),
}


def model_params() -> dict[str, Any]:
    """A fresh copy of :data:`LEVERS` for a SolaraViz page."""
    return {k: dict(v) for k, v in LEVERS.items()}


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
        "year": f"{model.steps / 52:.1f}",
        "phase": model.phase_label(model.factual),
        "population change vs counterfactual (pp)": _fmt(row[col["population_change_vs_cf"]],
                                                         "{:+.2f}"),
        "SROI": _fmt(row[col["sroi"]]),
        "active partners": f"{row[col['active_partners']]:.0f}",
    }
    for name in INDICATOR_COLOURS:
        out[name.replace("_", " ")] = _fmt(row[col[name]], "{:.3f}")
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


@solara.component
def PhaseBanner(model: CollectiveImpactModel) -> None:  # noqa: N802 (Solara components)
    """The current phase in large type, what blocks the next one, and the headline numbers."""
    update_counter.get()
    values = readout(model)
    phase = values["phase"]
    colour = phase_colour(phase)  # the report's palette; dark text on its light colours
    r, g, b = to_rgb(colour)
    text = "#1a1a1a" if 0.299 * r + 0.587 * g + 0.114 * b > 0.6 else "white"
    blockers = model.phase_state[0].blockers
    with solara.Column(style={"padding": "4px 8px", "row-gap": "4px"}):
        solara.Text(
            phase,
            classes=["cisim-phase"],
            style={"font-size": "2em", "font-weight": "bold", "color": text,
                   "background": colour, "padding": "2px 16px", "border-radius": "6px"},
        )
        solara.Text(f"Week {values['week']} (year {values['year']}) of "
                    f"{model.n_steps}", classes=["cisim-week"])
        solara.Text("Design: " + design_text(model), classes=["cisim-design"],
                    style={"font-size": "0.75em", "line-height": "1.2"})
        if blockers:
            solara.Text("Waiting for: " + "; ".join(blockers), classes=["cisim-blockers"],
                        style={"font-style": "italic", "font-size": "0.85em"})
        items = [(k, v) for k, v in values.items() if k not in ("week", "year", "phase")]
        cells = [f"<td>{html.escape(k)}</td><td style='text-align:right; padding-right:18px'>"
                 f"<b>{html.escape(v)}</b></td>" for k, v in items]
        rows = "".join(f"<tr>{''.join(cells[i:i + 2])}</tr>" for i in range(0, len(cells), 2))
        solara.HTML(tag="table", unsafe_innerHTML=rows, classes=["cisim-readout"],
                    style="border-spacing: 8px 1px; font-size: 0.85em")


def _partner_figure(model: CollectiveImpactModel) -> Figure:
    world = model.factual
    p = world.partners
    fig = Figure(figsize=(5.5, 5))
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
    ax.set_xlabel("agenda dimension 1 (converges as partners agree)", fontsize=8)
    return fig


@solara.component
def PartnerNetwork(model: CollectiveImpactModel) -> None:  # noqa: N802
    """Partners at their agenda positions, coloured by sector; edges are trust."""
    update_counter.get()
    solara.FigureMatplotlib(_partner_figure(model), format="png", bbox_inches="tight")


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


def _population_figure(model: CollectiveImpactModel) -> Figure:
    codes, names = population_grid(model)
    fig = Figure(figsize=(5, 5))
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
    ax.set_xlabel(f"{codes.size} of {model.population.n} people; whole population "
                  f"{model.design.population.outcome}: {rate:.1%} "
                  f"(counterfactual {rate_cf:.1%})", fontsize=8)
    return fig


@solara.component
def PopulationView(model: CollectiveImpactModel) -> None:  # noqa: N802
    """A sample of the beneficiaries as a grid, coloured by outcome and subgroup."""
    update_counter.get()
    solara.FigureMatplotlib(_population_figure(model), format="png", bbox_inches="tight")


def _titled(title: str, zero: float | None = None) -> Callable[[Any], None]:
    def post(ax: Any) -> None:
        ax.set_title(title, fontsize=9)
        if zero is not None:
            ax.axhline(zero, color="black", lw=0.8, ls="--")
        for line in ax.get_lines():
            line.set_linewidth(1.5)
    return post


def make_page(model: CollectiveImpactModel | None = None, *, play_interval: int = 50,
              render_interval: int = 5) -> Any:
    """Build the SolaraViz page.

    Args:
        model: The initial model (a default :class:`TeachingModel` when None).
        play_interval: Milliseconds between rendered updates while playing.
        render_interval: Weeks stepped per update (and per *Step* click); five weeks (the
            render-interval slider moves in odd steps) keeps the page responsive.

    Returns:
        The SolaraViz element (Solara renders it as the page).
    """
    model = model if model is not None else TeachingModel()
    indicators = make_plot_component(
        INDICATOR_COLOURS, post_process=_titled("The components (0-1), by week"))
    change = make_plot_component(
        {"population_change_vs_cf": "#2ca02c"},
        post_process=_titled("Population change vs counterfactual (pp), by week", zero=0.0))
    sroi = make_plot_component(
        {"sroi": "#9467bd"}, post_process=_titled("SROI (value / investment), by week", zero=1.0))
    return SolaraViz(
        model,
        components=[PhaseBanner, PartnerNetwork, indicators, PopulationView, change, sroi],
        model_params=model_params(),
        name="cisim: a collective impact partnership, week by week",
        play_interval=play_interval,
        render_interval=render_interval,
    )


page = make_page()
page  # noqa: B018
