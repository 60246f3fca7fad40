"""Tests of cisim.report on synthetic ensemble-like results (no engine needed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from cisim.report import (
    components_figure,
    format_summary,
    phase_colour,
    phase_timeline_figure,
    population_change_figure,
    save_figures,
    sroi_figure,
)
from cisim.report.figures import COMPONENTS, PHASE_COLOURS, bands, trajectories_of
from cisim.scenario import Scenario

STEPS_PER_YEAR = 52


def _trajectory(rep: int, years: float, phases: list[tuple[float, str]], blockers: str
                ) -> pd.DataFrame:
    steps = np.arange(round(years * STEPS_PER_YEAR) + 1)
    year = steps / STEPS_PER_YEAR
    rng = np.random.default_rng(rep)
    effect = (0.5 + 0.2 * rep) * year
    cf = -0.1 * year + rng.normal(0, 0.05, len(steps))
    phase = np.full(len(steps), phases[0][1], dtype=object)
    for start, name in phases[1:]:
        phase[year >= start] = name
    investment = 100_000 * (year + 0.01)
    value = 40_000 * year**2 * (1 + 0.1 * rep)
    df = pd.DataFrame(
        {
            "step": steps,
            "year": year,
            "phase": phase,
            "phase_blockers": np.where(phase == phases[0][1], blockers, ""),
            "population_change": cf + effect,
            "population_change_cf": cf,
            "population_change_vs_cf": effect,
            "equity_gap": 10 - 0.3 * year,
            "equity_gap_cf": 10 + 0.1 * year,
            "cumulative_investment": investment,
            "social_value": value,
            "sroi": np.where(steps == 0, np.inf, value / investment),
        }
    )
    for i, (_, col) in enumerate(COMPONENTS):
        df[col] = np.clip(0.1 * i + 0.08 * year, 0, 1)
    return df


@dataclass
class FakeEnsemble:
    """Has the attributes of cisim.simulate.EnsembleResult that the report reads."""

    scenario: Scenario
    seeds: list[int]
    trajectories: pd.DataFrame
    summaries: pd.DataFrame
    phases: pd.DataFrame = field(default_factory=pd.DataFrame)


def make_ensemble(years: float = 6.0, name: str = "synthetic design") -> FakeEnsemble:
    blockers = "trust 0.21 < 0.3; agenda agreement 0.40 < 0.55"
    plans = [
        [(0, "Initiation"), (1.0, "Run"), (3.0, "Re-design"), (3.5, "Run"),
         (5.0, "Exponential Value")],
        [(0, "Initiation"), (1.5, "Run"), (3.5, "Re-design"), (4.0, "Run")],
        [(0, "Initiation")],
        [(0, "Initiation"), (2.0, "Run"), (2.5, "Some New Phase")],
    ]
    trajs = []
    for rep, plan in enumerate(plans):
        t = _trajectory(rep, years, plan, blockers)
        t.insert(0, "replication", rep)
        t.insert(1, "seed", 100 + rep)
        trajs.append(t)
    traj = pd.concat(trajs, ignore_index=True)
    last = traj.groupby("replication").tail(1).reset_index(drop=True)
    summaries = pd.DataFrame(
        {
            "replication": range(len(plans)),
            "population_change_vs_cf_final": last["population_change_vs_cf"],
            "population_change_final": last["population_change"],
            "population_change_cf_final": last["population_change_cf"],
            "sroi_final": last["sroi"],
            "sroi_projected": last["sroi"] * 1.3,
            "break_even_year": [2.5, 3.0, np.nan, 4.0],
            "final_phase": last["phase"],
            "phase_blockers": last["phase_blockers"],
            "equity_gap_final": last["equity_gap"],
        }
    )
    scenario = Scenario.from_dict(
        {"name": name, "horizon_years": years, "partner_generation": {"counts": {"public": 2}}}
    )
    return FakeEnsemble(scenario, [100 + r for r in range(len(plans))], traj, summaries)


@pytest.fixture(scope="module")
def ens() -> FakeEnsemble:
    return make_ensemble()


def _texts(fig: Figure) -> str:
    parts = [fig.get_suptitle()]
    for ax in fig.axes:
        parts += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        legend = ax.get_legend()
        if legend is not None:
            parts += [t.get_text() for t in legend.get_texts()]
    return "\n".join(parts)


# ---- data helpers ----------------------------------------------------------------------------


def test_bands_are_percentiles_per_step(ens):
    b = bands(ens.trajectories, "population_change_vs_cf")
    assert list(b.columns) == ["year", "p5", "p25", "p50", "p75", "p95"]
    assert len(b) == ens.trajectories["step"].nunique()
    last = ens.trajectories.groupby("replication")["population_change_vs_cf"].last()
    assert b["p50"].iloc[-1] == pytest.approx(last.median())
    assert (b["p5"] <= b["p50"]).all() and (b["p50"] <= b["p95"]).all()


def test_bands_ignore_infinite_values(ens):
    b = bands(ens.trajectories, "sroi")
    assert b["p50"].iloc[0] != np.inf
    assert np.isfinite(b["p50"].iloc[1:]).all()


def test_bands_unknown_column(ens):
    with pytest.raises(KeyError, match="no_such_column"):
        bands(ens.trajectories, "no_such_column")


def test_single_run_becomes_replication_zero(ens):
    run = SimpleNamespace(trajectory=ens.trajectories.query("replication == 1").drop(
        columns=["replication", "seed"]))
    traj = trajectories_of(run)
    assert set(traj["replication"]) == {0}
    with pytest.raises(TypeError):
        trajectories_of(object())


def test_phase_colours_are_stable_and_distinct():
    refined = ["Initiation", "Run", "Re-design", "Exponential Value"]
    nciom = ["Initiate Action", "Organize for Impact", "Sustain Action & Impact"]
    assert len({phase_colour(p) for p in refined}) == 4
    assert len({phase_colour(p) for p in nciom}) == 3
    assert phase_colour("Run") == PHASE_COLOURS["Run"]
    assert phase_colour("Some New Phase") == phase_colour("Some New Phase")
    assert phase_colour("Some New Phase").startswith("#")


# ---- figures ---------------------------------------------------------------------------------


def test_population_change_figure(ens):
    fig = population_change_figure(ens)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2
    text = _texts(fig)
    assert "synthetic design" in text
    assert "Counterfactual" in text and "With the partnership" in text
    assert "90% of replications" in text and "50% of replications" in text
    assert "(pp)" in text and "Years since start" in text
    # Right panel: the median line ends at the median final effect.
    line = next(ln for ln in fig.axes[1].get_lines() if ln.get_label() == "Median")
    expected = ens.summaries["population_change_vs_cf_final"].median()
    assert line.get_ydata()[-1] == pytest.approx(expected)


def test_sroi_figure_has_break_even_line(ens):
    fig = sroi_figure(ens)
    text = _texts(fig)
    assert "Break-even (SROI = 1)" in text
    assert "3/4 replications break even" in text
    ax = fig.axes[0]
    assert any(
        np.allclose(ln.get_ydata(), 1.0) for ln in ax.get_lines() if len(ln.get_ydata()) == 2
    )
    assert ax.get_ylim()[0] <= 0 < 1 < ax.get_ylim()[1]


def test_components_figure_shows_seven_medians(ens):
    fig = components_figure(ens)
    ax = fig.axes[0]
    labels = [ln.get_label() for ln in ax.get_lines()]
    assert labels == [label for label, _ in COMPONENTS]
    assert ax.get_ylim() == pytest.approx((-0.02, 1.02))
    assert "Years since start" in _texts(fig)


def test_components_figure_needs_some_component(ens):
    bare = SimpleNamespace(trajectory=ens.trajectories[["step", "year"]])
    with pytest.raises(KeyError, match="component"):
        components_figure(bare)


def test_phase_timeline_one_bar_per_replication(ens):
    fig = phase_timeline_figure(ens)
    ax = fig.axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["Initiation", "Run", "Re-design", "Exponential Value", "Some New Phase"]
    rows = {round(float(c.get_paths()[0].vertices[:, 1].mean())) for c in ax.collections}
    assert rows == {0, 1, 2, 3}
    # Every bar spans the whole horizon with no gaps.
    for rep in range(4):
        spans = []
        for c in ax.collections:
            for path in c.get_paths():
                v = path.vertices
                if round(float(v[:, 1].mean())) == rep:
                    spans.append((v[:, 0].min(), v[:, 0].max()))
        spans.sort()
        assert spans[0][0] == pytest.approx(0)
        assert spans[-1][1] == pytest.approx(6 + 1 / STEPS_PER_YEAR)
        for (_, end), (start, _) in pairwise(spans):
            assert start == pytest.approx(end)


def test_phase_timeline_nciom_names_and_single_run():
    traj = _trajectory(0, 3, [(0, "Initiate Action"), (1, "Organize for Impact"),
                             (2, "Sustain Action & Impact")], "")
    fig = phase_timeline_figure(SimpleNamespace(trajectory=traj))
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["Initiate Action", "Organize for Impact", "Sustain Action & Impact"]
    colours = {tuple(c.get_facecolor()[0]) for c in fig.axes[0].collections}
    assert len(colours) == 3


def test_figures_work_for_a_single_run(ens):
    run = SimpleNamespace(
        scenario=ens.scenario,
        trajectory=ens.trajectories.query("replication == 0").drop(columns="replication"),
        summary=ens.summaries.iloc[0].to_dict(),
    )
    for make in (population_change_figure, sroi_figure, components_figure,
                 phase_timeline_figure):
        assert isinstance(make(run), Figure)


def test_save_figures_writes_pngs_atomically(ens, tmp_path):
    out = tmp_path / "figs"
    paths = save_figures(ens, out)
    assert [p.name for p in paths] == [
        "population_change.png", "sroi.png", "components.png", "phase_timeline.png"
    ]
    for p in paths:
        assert p.parent == out
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert p.stat().st_size > 5_000
    assert sorted(x.name for x in out.iterdir()) == sorted(p.name for p in paths)


def test_save_figures_does_not_use_pyplot(ens, tmp_path):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    save_figures(ens, tmp_path)
    assert plt.get_fignums() == before


# ---- summary text ----------------------------------------------------------------------------


def test_format_summary_mentions_the_essentials(ens):
    text = format_summary(ens, outdir=Path("out/x"), files=["a.csv", "b.png"])
    assert text.startswith("Scenario: synthetic design")
    assert "4 replication(s)" in text
    assert "at the horizon (year 6)" in text
    assert "at year 5" in text
    effect = ens.summaries["population_change_vs_cf_final"]
    assert f"median {effect.median():+.2f} pp" in text
    assert "90% interval" in text
    assert "3 of 4 replications (75%), median year 3.0" in text
    assert "projected" in text
    # phases: share and median first year
    assert "Initiation:" in text and "4/4 (100%)" in text
    assert "Run:" in text and "3/4 (75%), year 1.5" in text
    assert "Exponential Value: 1/4 (25%), year 5.0" in text
    # the replication stuck in Initiation and its blockers, without its own numbers
    assert "1 of 4 replication(s) never left Initiation" in text
    assert "trust < 0.3 (in 1 of 1, median value 0.21)" in text
    assert "agenda agreement < 0.55" in text
    assert "Equity gap" in text and "-1.80 pp" in text
    assert "Results written to out/x" in text and "a.csv, b.png" in text


def test_format_summary_short_horizon_and_no_break_even():
    ens = make_ensemble(years=2.0, name="short")
    ens.summaries["break_even_year"] = np.nan
    text = format_summary(ens)
    assert "at year 5" not in text
    assert "none of 4 replications" in text
    assert "Results written" not in text


def test_format_summary_without_summaries_uses_trajectories(ens):
    bare = SimpleNamespace(scenario=ens.scenario, trajectories=ens.trajectories)
    text = format_summary(bare)
    assert "Scenario: synthetic design" in text
    assert "break-even: not reported" in text
    assert "never left Initiation" in text
