"""The sensitivity study (experiments/sensitivity): specs, verdicts, floors, and the quick run."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cisim.priors import uncertain_parameters
from cisim.scenario import Scenario
from cisim.sweep import load_spec
from cisim.sweep.spec import check_spec
from experiments.sensitivity.__main__ import main
from experiments.sensitivity.report import SECTIONS, separated_leaders
from experiments.sensitivity.study import (
    ASSUMPTIONS_SPEC,
    DUMMY,
    LEVERS_SPEC,
    OUTCOMES,
    QUICK,
    StudyConfig,
    adapt_spec,
    compare_sizes,
    convergence_verdict,
    morris_noise_floor,
    outcome_columns,
    runs_of,
    screening_ranking,
    select_for_sobol,
    sobol_stage_spec,
)

ROOT = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------------------------------------
# Spec files
# ---------------------------------------------------------------------------------------------


def test_levers_spec_validates_and_covers_every_lever() -> None:
    spec, base = load_spec(LEVERS_SPEC)
    assert base is not None
    assert spec.sampler.method == "sobol" and spec.sampler.n >= 512
    assert spec.replications >= 1
    paths = {p.path for p in spec.parameters}
    for lever in ("backbone.present", "backbone.staff.project_manager",
                  "backbone.staff.data_manager", "backbone.staff.facilitator", "backbone.skill",
                  "meetings.cadence", "measurement.shared", "measurement.investment_per_year",
                  "funding.streams[0].amount_per_year", "funding.streams[1].amount_per_year",
                  "funding.max_years", "engagement.intensity", "engagement.equity_focus"):
        assert lever in paths
    # the full population: a reduced one biases population change (docs/sensitivity.md)
    default = Scenario.load(ROOT / "scenarios" / "default.toml")
    assert base.population.size == default.population.size and base.population.mesa_agents == 0
    # the default design's own values lie inside every numeric lever's range
    defaults = {"backbone.skill": base.backbone.skill,
                "measurement.investment_per_year": base.measurement.investment_per_year,
                "funding.streams[0].amount_per_year": base.funding.streams[0].amount_per_year,
                "funding.streams[1].amount_per_year": base.funding.streams[1].amount_per_year,
                "engagement.intensity": base.engagement.intensity,
                "engagement.equity_focus": base.engagement.equity_focus}
    for p in spec.parameters:
        if p.path in defaults:
            assert p.bounds[0] <= defaults[p.path] <= p.bounds[1], p.path


def test_assumptions_spec_screens_exactly_the_sampled_priors() -> None:
    spec, base = load_spec(ASSUMPTIONS_SPEC)
    assert base is not None
    assert spec.sampler.method == "morris"
    assert all(p.prior for p in spec.parameters)
    listed = [p.path for p in spec.parameters]
    wanted = [e.path for e in uncertain_parameters()]
    missing = sorted(set(wanted) - set(listed))
    extra = sorted(set(listed) - set(wanted))
    assert not missing and not extra, (
        f"experiments/sensitivity/assumptions.toml must list every sampled prior of "
        f"cisim/data/priors.toml; missing {missing}, not a sampled prior {extra}; run "
        "`python -m experiments.sensitivity --sync-assumptions`")
    # the dummy really has no effect on the base design: no champions are generated
    assert DUMMY in listed and base.partner_generation.champions == 0


def test_sync_rewrites_only_the_generated_list(tmp_path: Path) -> None:
    from experiments.sensitivity.study import StudyError, sync_assumptions_spec

    copy = tmp_path / "assumptions.toml"
    text = ASSUMPTIONS_SPEC.read_text()
    head, rest = text.split("# BEGIN generated parameter list\n")
    _, tail = rest.split("# END generated parameter list\n")
    stale = (head + "# BEGIN generated parameter list\n[[parameters]]\npath = "
             '"backbone.skill"\nprior = true\n# END generated parameter list\n' + tail)
    copy.write_text(stale)
    assert sync_assumptions_spec(copy)
    synced = copy.read_text()
    assert synced.startswith(head) and synced.endswith(tail)
    assert [p.path for p in _spec_parameters(synced)] == [e.path for e in uncertain_parameters()]
    assert not sync_assumptions_spec(copy)  # idempotent
    copy.write_text("name = 'x'\n")
    with pytest.raises(StudyError, match="markers"):
        sync_assumptions_spec(copy)


def test_the_levers_study_fixes_the_shipped_posteriors_medians(tmp_path: Path) -> None:
    """levers.toml's [set] is the shipped posterior's medians (but the levers'), so a new
    posterior cannot ship while the levers study still runs the old model."""
    from cisim.priors import posterior_median, value_at
    from experiments.sensitivity.study import LEVERS_SPEC, sync_levers_spec

    spec, base = load_spec(LEVERS_SPEC)
    levers = {p.path for p in spec.parameters}
    medians = posterior_median()
    assert medians, "no shipped posterior"
    fixed = base.to_dict()
    for path, value in medians.items():
        if path in levers:
            continue
        have = value_at(fixed, path)
        assert float(have) == pytest.approx(float(value), rel=1e-5), (
            f"{path}: levers.toml has {have}, the posterior's median is {value}; run "
            "`python -m experiments.sensitivity --sync-levers`")
    copy = tmp_path / "levers.toml"
    copy.write_text(LEVERS_SPEC.read_text())
    assert not sync_levers_spec(copy)


def test_the_report_says_whether_the_study_ran_the_shipped_posterior(tmp_path: Path) -> None:
    """The document names the posterior the levers study ran, and says so when it ran another."""
    from experiments.sensitivity.report import _model_note
    from experiments.sensitivity.study import LEVERS_SPEC, Paths

    paths = Paths(tmp_path)
    assert _model_note(paths) == []  # no levers study yet: nothing to say
    store = tmp_path / "levers"
    store.mkdir()
    text = LEVERS_SPEC.read_text()
    (store / "spec.toml").write_text(text)
    note = " ".join(_model_note(paths))
    assert "ships with the package" in note and "not the shipped one" not in note
    name, value = next(line for line in text.splitlines()
                       if line.startswith('"dynamics.')).split(" = ")
    (store / "spec.toml").write_text(text.replace(f"{name} = {value}",
                                                  f"{name} = {float(value) * 1.5 + 0.1}", 1))
    note = " ".join(_model_note(paths))
    assert "not the shipped one" in note and "1 of the levers study's" in note
    assert name.strip('"') in note


def test_sync_levers_rewrites_only_the_generated_medians(tmp_path: Path) -> None:
    from experiments.sensitivity.study import LEVERS_SPEC, StudyError, sync_levers_spec

    text = LEVERS_SPEC.read_text()
    head, rest = text.split("# BEGIN generated posterior medians\n")
    _, tail = rest.split("# END generated posterior medians\n")
    copy = tmp_path / "levers.toml"
    copy.write_text(head + "# BEGIN generated posterior medians\n"
                    '"dynamics.trust_gain" = 0.9\n# END generated posterior medians\n' + tail)
    assert sync_levers_spec(copy)
    assert copy.read_text() == text
    copy.write_text("name = 'x'\n")
    with pytest.raises(StudyError, match="markers"):
        sync_levers_spec(copy)
    copy.write_text("# END generated posterior medians\n# BEGIN generated posterior medians\n")
    with pytest.raises(StudyError, match="in that order"):
        sync_levers_spec(copy)


def _spec_parameters(text: str) -> list:
    import tomllib

    from cisim.sweep import SweepSpec

    data = tomllib.loads(text)
    data["base"] = str(ROOT / "scenarios" / "default.toml")
    return SweepSpec.from_dict(data).parameters


@pytest.mark.parametrize("path", [LEVERS_SPEC, ASSUMPTIONS_SPEC])
def test_specs_keep_every_outcome_and_no_new_switches(path: Path) -> None:
    spec, _ = load_spec(path)
    keys = {o.key for o in OUTCOMES} - {"significant_change_reached"}  # stored beside the time
    assert keys <= set(spec.outcomes.scalars)
    assert spec.discovery is not None and spec.discovery.outcome == "significant_change_reached"
    text = path.read_text()
    for switch in ("phases.effect", "dynamics.trust_rule", "dynamics.persistence"):
        assert switch not in text


def test_quick_adaptation_validates_and_reads_outcomes_within_its_horizon() -> None:
    for path in (LEVERS_SPEC, ASSUMPTIONS_SPEC):
        spec = adapt_spec(load_spec(path)[0], QUICK)
        base = check_spec(spec)  # raises on an outcome beyond the horizon
        assert base.horizon_years == QUICK.horizon_years
        assert base.population.size == QUICK.population_size
    cols = outcome_columns(QUICK)
    assert cols["population_change_year10"] == "population_change_vs_cf@3"
    assert cols["population_change_year5"] == "population_change_vs_cf@1.5"
    assert outcome_columns(StudyConfig())["sroi_year10"] == "sroi_year10"


def test_sobol_stage_keeps_the_selected_priors_and_counts_runs() -> None:
    morris, _ = load_spec(ASSUMPTIONS_SPEC)
    chosen = ["dynamics.service_efficacy", "backbone.skill"]
    stage = sobol_stage_spec(morris, chosen, 512)
    assert stage.labels == chosen
    assert stage.sampler.method == "sobol" and stage.sampler.n == 512
    assert stage.seed != morris.seed
    check_spec(stage)
    assert runs_of(stage) == 512 * (2 + 2) * stage.replications
    assert runs_of(morris) == morris.sampler.n * (len(morris.parameters) + 1) * 2
    with pytest.raises(ValueError, match="not in the screening spec"):
        sobol_stage_spec(morris, ["dynamics.no_such_thing"], 8)


# ---------------------------------------------------------------------------------------------
# Convergence verdict, rankings, floors (synthetic numbers)
# ---------------------------------------------------------------------------------------------


def _conv(rows: list[tuple[int, str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame([{"outcome": "y", "n": n, "parameter": p, "index": "ST", "value": v,
                          "conf": c} for n, p, v, c in rows]
                        + [{"outcome": "y", "n": 512, "parameter": "a", "index": "S1",
                            "value": 9.0, "conf": 0.0}])


def test_convergence_verdict_compares_the_change_with_the_half_width() -> None:
    conv = _conv([(128, "a", 0.30, 0.2), (256, "a", 0.50, 0.08), (512, "a", 0.52, 0.05),
                  (256, "b", 0.30, 0.05), (512, "b", 0.40, 0.05),
                  (256, "c", 0.25, 0.25), (512, "c", 0.5, 0.25),
                  (512, "d", 0.10, 0.05)])
    v = convergence_verdict(conv).set_index("parameter")
    assert v.loc["a", "verdict"] == "converged"  # moved 0.02 < 0.05 (N/4 is not compared)
    assert v.loc["a", "n_half"] == 256 and v.loc["a", "n"] == 512
    assert v.loc["a", "change"] == pytest.approx(0.02)
    assert v.loc["b", "verdict"] == "not converged"  # moved 0.10 > 0.05
    assert v.loc["c", "verdict"] == "not converged"  # moved exactly the half-width: not less
    assert v.loc["d", "verdict"] == "not assessable"  # no N/2 design
    assert set(v.index) == {"a", "b", "c", "d"}  # S1 rows are not judged


def test_convergence_verdict_on_random_numbers() -> None:
    rng = np.random.default_rng(11)
    for st_half, st_full, conf in zip(rng.random(60), rng.random(60),
                                      rng.uniform(0.001, 0.5, 60), strict=True):
        v = convergence_verdict(_conv([(256, "x", st_half, conf), (512, "x", st_full, conf)]))
        assert (v["verdict"].iloc[0] == "converged") == (abs(st_full - st_half) < conf)


def test_separated_leaders_finds_non_overlapping_groups() -> None:
    f = pd.DataFrame({"value": [0.6, 0.5, 0.2, 0.05, 0.04],
                      "lower": [0.55, 0.45, 0.15, 0.0, 0.0],
                      "upper": [0.65, 0.56, 0.25, 0.1, 0.08]})
    # 0.55 < 0.56: the first alone overlaps the second; the first two clear the rest; the
    # first three clear the last two
    assert separated_leaders(f) == [2, 3]
    flat = pd.DataFrame({"value": [0.3, 0.2], "lower": [0.0, 0.0], "upper": [0.5, 0.4]})
    assert separated_leaders(flat) == []


def test_findings_are_computed_from_the_indices() -> None:
    from experiments.sensitivity.report import _sobol_findings

    rows = []
    for p, (st, lo, hi, s1) in {"a": (0.6, 0.5, 0.7, 0.5), "b": (0.3, 0.2, 0.45, 0.2),
                                "c": (0.005, -0.01, 0.02, 0.0)}.items():
        rows.append({"outcome": "y", "parameter": p, "index": "ST", "value": st, "lower": lo,
                     "upper": hi})
        rows.append({"outcome": "y", "parameter": p, "index": "S1", "value": s1,
                     "lower": s1 - 0.05, "upper": s1 + 0.05})
    idx = pd.DataFrame(rows)
    noise = pd.DataFrame({"outcome": ["y"], "noise_share_of_means": [0.2]})
    verdict = pd.DataFrame({"outcome": ["y"] * 3, "parameter": ["a", "b", "c"],
                            "verdict": ["converged", "not converged", "converged"],
                            "conf": [0.1, 0.1, 0.01]})
    text = " ".join(_sobol_findings(idx, OUTCOMES[0], "y", noise, verdict, "levers"))
    assert "largest total effect on population change at year 10 is `a` (ST 0.6 [0.5, 0.7])" \
        in text
    assert "The ST interval of `a` does not overlap" in text
    assert "after the first 2 levers" in text  # a and b together clear c
    assert "`c` has no measurable influence" in text
    assert "add up to 0.7" in text and "the rest (0.3)" in text
    assert "(above 0.1)" in text and "more replications" in text
    assert "ST has not converged for `b`" in text
    # no separation when the intervals overlap
    idx.loc[(idx["parameter"] == "b") & (idx["index"] == "ST"), "upper"] = 0.65
    idx.loc[(idx["parameter"] == "c") & (idx["index"] == "ST"), "upper"] = 0.55
    text = " ".join(_sobol_findings(idx, OUTCOMES[0], "y", noise, verdict, "levers"))
    assert "No group of levers is separated" in text


def test_screening_ranking_normalises_each_outcome_and_uses_lower_bounds() -> None:
    rows = []
    for outcome, mus in {"pc": {"a": 4.0, "b": 2.0, "c": 0.1},
                         "sroi": {"a": 0.001, "b": 0.01, "c": 0.002}}.items():
        for p, m in mus.items():
            rows.append({"outcome": outcome, "parameter": p, "index": "mu_star", "value": m,
                         "lower": 0.8 * m, "upper": 1.2 * m})
    idx = pd.DataFrame(rows)
    r = screening_ranking(idx, ["pc", "sroi"], floors={"pc": 1.0, "sroi": 0.005})
    assert list(r["parameter"]) == ["a", "b", "c"]  # a: 1.0 on pc; b: 1.0 on sroi (tie: name)
    assert r.set_index("parameter").loc["b", "best_outcome"] == "sroi"
    assert r.set_index("parameter").loc["c", "score"] == pytest.approx(0.2)
    above = r.set_index("parameter")["above_noise"]
    assert bool(above["a"]) and bool(above["b"]) and not bool(above["c"])
    # a mu* above the floor whose interval reaches below it is not above noise
    r2 = screening_ranking(idx, ["pc"], floors={"pc": 1.7})
    assert not bool(r2.set_index("parameter").loc["b", "above_noise"])  # lower 1.6 < 1.7
    assert select_for_sobol(r, 5) == ["a", "b"]


def test_morris_noise_floor_matches_simulated_noise() -> None:
    rng = np.random.default_rng(3)
    s2, R, p = 4.0, 2, 4
    delta = p / (2 * (p - 1))
    a = rng.normal(0, math.sqrt(s2), (200_000, R)).mean(axis=1)
    b = rng.normal(0, math.sqrt(s2), (200_000, R)).mean(axis=1)
    simulated = float(np.mean(np.abs(b - a) / delta))
    assert morris_noise_floor(s2, R, p) == pytest.approx(simulated, rel=0.01)
    assert math.isnan(morris_noise_floor(float("nan"), R, p))


def step_and_dummies(params: dict, seed: int) -> dict:
    """A rare event driven by x1 alone (x2 and x3 do nothing)."""
    return {"y": float(params["x1"] > 0.8)}


def test_pawn_floor_sits_at_the_dummies_and_below_the_driver(tmp_path: Path) -> None:
    from cisim.sweep import analyze, sweep_function
    from experiments.sensitivity.study import pawn_floor

    store = sweep_function(step_and_dummies, {"x1": [0, 1], "x2": [0, 1], "x3": [0, 1]},
                           tmp_path / "s", sampler="sobol", n=256, seed=5)
    floor = pawn_floor(store, "y", seed=1)
    pawn = analyze(store, num_resamples=50).indices.query("index == 'PAWN'").set_index(
        "parameter")
    assert pawn.loc["x1", "lower"] > floor
    for dummy in ("x2", "x3"):
        assert pawn.loc[dummy, "lower"] <= floor <= pawn.loc[dummy, "upper"]


def test_compare_sizes_tells_noise_from_a_shift() -> None:
    rng = np.random.default_rng(0)
    same = pd.DataFrame({"size": [2000] * 10 + [10000] * 10,
                         "population_change": np.r_[rng.normal(6, 1, 10), rng.normal(6, 1, 10)]})
    assert compare_sizes(same)["within_noise"]
    shifted = same.copy()
    shifted.loc[shifted["size"] == 2000, "population_change"] += 5.0
    c = compare_sizes(shifted)
    assert not c["within_noise"] and c["difference"] > 3.0 and c["lower"] > 0


# ---------------------------------------------------------------------------------------------
# The runner
# ---------------------------------------------------------------------------------------------


def test_cli_rejects_bad_arguments(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--quick", "--jobs", "0"])
    assert e.value.code == 2 and "--jobs" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["--study", "everything"])
    assert e.value.code == 2


def test_cli_reports_an_output_path_that_is_a_file(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert main(["--quick", "--out", str(blocker / "sub"), "--no-progress"]) == 2
    assert "--out" in capsys.readouterr().err


def test_quick_run_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "q"
    cpu = time.process_time()
    assert main(["--quick", "--out", str(out), "--no-progress"]) == 0
    cpu = time.process_time() - cpu
    assert cpu < 45, f"the quick study took {cpu:.0f} s of CPU"
    doc = (out / "sensitivity.md").read_text()
    for section in SECTIONS:
        assert f"\n## {section}\n" in doc, section
    assert "Quick mode" in doc and "_Not run in this output directory._" not in doc
    for sub in ("### Findings", "### Step 1: Morris screening",
                "### Step 2: Sobol study of the leading assumptions",
                "Convergence: ST on the leading", "Scenario discovery (PRIM"):
        assert sub in doc, sub
    spec, _ = load_spec(LEVERS_SPEC)
    for lab in spec.labels:
        assert f"`{lab}`" in doc
    for name in ("levers_sobol.png", "levers_pawn.png", "assumptions_morris.png",
                 "assumptions_sobol.png"):
        data = (out / "figures" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) < 300_000
        assert f"figures/{name}" in doc
    for store in ("levers", "assumptions_morris", "assumptions_sobol"):
        assert (out / store / "analysis" / "indices.csv").exists()
    assert (out / "levers" / "analysis" / "convergence_verdict.csv").exists()
    ranking = pd.read_csv(out / "assumptions_morris" / "analysis" / "ranking.csv")
    sobol_params = load_spec(out / "assumptions_sobol" / "spec.toml")[0].labels
    assert sobol_params == list(ranking[ranking["above_noise"]]["parameter"].head(
        QUICK.top_k)) or sobol_params == list(ranking["parameter"].head(QUICK.top_k))
    # the same directory again without --resume: a clear error, no traceback
    capsys.readouterr()
    assert main(["--quick", "--out", str(out), "--no-progress"]) == 2
    assert "--resume" in capsys.readouterr().err
    # a full-size study cannot reuse the quick directory
    assert main(["--out", str(out), "--no-progress", "--resume", "--study", "check"]) == 2
    assert "other settings" in capsys.readouterr().err
