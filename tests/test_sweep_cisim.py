"""The cisim adapter: sweeps of the engine itself, through the API and the CLI."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from cisim.cli import main
from cisim.scenario import Scenario
from cisim.simulate import simulate
from cisim.sweep import analyze, run_sweep

ROOT = Path(__file__).resolve().parents[1]

TINY = """
name = "tiny sweep scenario"
horizon_years = 2
[partner_generation.counts]
nonprofit = 3
public = 1
philanthropy = 1
[population]
size = 200
mesa_agents = 0
"""


def spec_text(base: Path, method: str = "latin", n: int = 2) -> str:
    return f"""
name = "tiny"
base = "{base.as_posix()}"
seed = 5
replications = 2
[[parameters]]
path = "backbone.staff.facilitator"
bounds = [0.0, 2.0]
[[parameters]]
path = "meetings.cadence"
values = ["weekly", "quarterly"]
[sampler]
method = "{method}"
n = {n}
[outcomes]
scalars = ["population_change_vs_cf@1", "sroi_final", "first_significant_change_year"]
trajectories = ["trust"]
"""


@pytest.fixture
def files(tmp_path):
    base = tmp_path / "tiny.toml"
    base.write_text(TINY, encoding="utf-8")
    spec = tmp_path / "spec.toml"
    spec.write_text(spec_text(base), encoding="utf-8")
    return base, spec


def test_sweep_of_cisim_stores_what_simulate_gives(files, tmp_path):
    base_path, spec_path = files
    spec_path.write_text(spec_path.read_text().replace("replications = 2", "replications = 1"))
    store = run_sweep(spec_path, tmp_path / "store", runs_per_task=2)
    runs = store.read()
    sample = store.sample()
    assert len(runs) == 2 and (runs["error"] == "").all()
    assert [c for c in runs.columns if c.startswith("trust@")] == ["trust@0", "trust@1",
                                                                   "trust@2"]
    row = sample.iloc[1]
    direct = simulate(Scenario.load(base_path).with_overrides({
        "backbone.staff.facilitator": float(row["backbone.staff.facilitator"]),
        "meetings.cadence": row["meetings.cadence"]}), int(row["seed"]))
    t = direct.trajectory
    got = runs.iloc[1]
    assert got["population_change_vs_cf@1"] == t["population_change_vs_cf"].iloc[52]
    assert [got[f"trust@{y}"] for y in range(3)] == t["trust"].iloc[[0, 52, 104]].tolist()
    assert got["sroi_final"] == direct.summary["sroi_final"]
    first = direct.summary["first_significant_change_year"]
    if math.isnan(first):  # never significant: censored at horizon + 1
        assert got["first_significant_change_year"] == 3.0
        assert got["significant_change_reached"] == 0.0
    else:
        assert got["first_significant_change_year"] == first
        assert got["significant_change_reached"] == 1.0
    assert Scenario.from_toml(store.base_toml()) == Scenario.load(base_path)


def test_result_without_details_has_the_same_trajectory_and_summary(files):
    """A sweep packages a run without its detail frames: the numbers it keeps are the same."""
    scenario = Scenario.load(files[0])
    full = simulate(scenario, 3)
    lean = simulate(scenario, 3, details=False)
    assert lean.trajectory.equals(full.trajectory)
    assert lean.events.equals(full.events) and lean.phases.equals(full.phases)
    assert list(lean.summary) == list(full.summary)
    for key, value in full.summary.items():
        same = lean.summary[key] == value or (isinstance(value, float) and math.isnan(value)
                                              and math.isnan(lean.summary[key]))
        assert same, key
    assert len(full.subgroups) and len(full.partners) and len(full.costs)
    assert lean.subgroups.empty and lean.partners.empty and lean.costs.empty
    assert lean.partner_values.empty


def test_censoring_of_time_to_significant_change():
    import pandas as pd

    from cisim.sweep.model_function import extract

    traj = pd.DataFrame({"year": [0.0, 1.0], "trust": [0.1, 0.2]})
    never = extract(traj, {"first_significant_change_year": float("nan")}, 4.0,
                    ["time_to_significant_change"], [])
    assert never == {"time_to_significant_change": 5.0, "significant_change_reached": 0.0}
    seen = extract(traj, {"first_significant_change_year": 2.5}, 4.0,
                   ["first_significant_change_year"], [])
    assert seen == {"first_significant_change_year": 2.5, "significant_change_reached": 1.0}


@pytest.mark.slow
def test_cli_sweep_resume_and_analyze(files, tmp_path, capsys):
    base_path, _ = files
    spec = tmp_path / "sobol.toml"
    spec.write_text(spec_text(base_path, "sobol", 2) + '[discovery]\noutcome = "trust@2"\n'
                    "above = 0.2\nprobability = 0.5\n", encoding="utf-8")
    out = tmp_path / "store"
    assert main(["sweep", str(spec), "--out", str(out), "-j", "1", "--no-progress"]) == 0
    assert "16 runs" in capsys.readouterr().out
    assert main(["sweep", str(spec), "--out", str(out), "-j", "1"]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["sweep", str(spec), "--out", str(out), "--resume", "--no-progress"]) == 0
    assert main(["analyze", str(out), "--out", str(tmp_path / "an"), "--resamples", "20"]) == 0
    text = capsys.readouterr().out
    assert "sobol analysis" in text and "discovery: trust@2 > 0.2" in text
    for name in ["indices.csv", "indices_over_time.csv", "runs.csv", "noise.csv",
                 "indices_sroi_final.png", "indices_over_time_trust.png"]:
        assert (tmp_path / "an" / name).is_file(), name
    a = analyze(out, num_resamples=20)
    assert set(a.over_time["time"]) <= {1.0, 2.0}


@pytest.mark.slow
def test_cisim_sweep_same_on_one_and_two_workers(files, tmp_path):
    _, spec_path = files
    one = run_sweep(spec_path, tmp_path / "one", jobs=1, runs_per_task=1).read()
    two = run_sweep(spec_path, tmp_path / "two", jobs=2, runs_per_task=1).read()
    import pandas as pd

    pd.testing.assert_frame_equal(one, two)
