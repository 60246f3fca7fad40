"""cisim calibrate: a known posterior, reproducibility, resume, outputs and bad input."""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cisim.calibrate import CalibrationError, calibrate, load_calibration
from cisim.calibrate.run import IntervalDistance, to_natural
from cisim.calibrate.summaries import ParticleModel
from cisim.calibrate.targets import Target, statistic
from cisim.cli import main
from cisim.priors import ParameterEvidence
from cisim.sweep.examples import NORMAL_MEAN_OBSERVATIONS

ROOT = Path(__file__).resolve().parents[1]
SOURCE = 'source = { author = "Tester", title = "A test", year = 2024 }'

NORMAL_TARGETS = f"""
[[target]]
id = "ybar"
description = "the observed mean of four draws"
role = "calibration"
outcome = "y"
statistic = "mean"
observed = 1.0
scale = 1.0
{SOURCE}

[[target]]
id = "ybar_median"
description = "a held-out check"
role = "validation"
outcome = "y"
statistic = "median"
interval = [0.0, 2.0]
scale = 1.0
{SOURCE}
"""


def normal_spec(tmp_path: Path, *, seed: int = 1, particles: int = 200, generations: int = 4,
                extra: str = "", name: str = "spec.toml") -> Path:
    (tmp_path / "targets.toml").write_text(NORMAL_TARGETS)
    spec = tmp_path / name
    spec.write_text(f"""
name = "normal_mean"
model = "cisim.sweep.examples:normal_mean"
targets = "targets.toml"
population_size = {particles}
max_generations = {generations}
replications = 1
seed = {seed}
backend = "serial"
{extra}
[[parameters]]
path = "mu"
distribution = "uniform"
bounds = [-5.0, 5.0]

[ppc]
draws = 30
""")
    return spec


@pytest.fixture(autouse=True)
def _quiet_pyabc():
    logging.getLogger("ABC").setLevel(logging.WARNING)


def weighted_moments(frame: pd.DataFrame, col: str) -> tuple[float, float]:
    w = frame["weight"].to_numpy(float)
    w = w / w.sum()
    x = frame[col].to_numpy(float)
    m = float((w * x).sum())
    return m, float(math.sqrt((w * (x - m) ** 2).sum()))


# ---- statistics and distance -----------------------------------------------------------------


def target(**kw) -> Target:
    base = {"id": "t", "description": "d", "role": "calibration", "outcome": "y", "scale": 0.5,
            "source": {"author": "A", "title": "T", "year": 2020}}
    base.update(kw)
    return Target.model_validate(base)


def test_statistics_over_runs():
    x = [0.5, 2.0, 11.0, float("nan"), 4.0]  # NaN dropped; 11 = a censored 'never'
    assert statistic(target(statistic="share_below", threshold=3.0, observed=0.0), x) == 0.5
    assert statistic(target(statistic="share_above", threshold=3.0, observed=0.0), x) == 0.5
    assert statistic(target(statistic="median", observed=0.0), x) == 3.0
    assert statistic(target(statistic="quantile", q=0.75, observed=0.0), x) == pytest.approx(
        np.quantile([0.5, 2.0, 11.0, 4.0], 0.75))
    assert math.isnan(statistic(target(observed=0.0), [float("nan")]))


def test_interval_distance_counts_misses_in_scales():
    a = target(id="a", interval=[1.0, 6.0], scale=1.0)
    b = target(id="b", observed=0.0, scale=0.5)
    d = IntervalDistance([a, b])
    assert d({"a": 3.0, "b": 0.0}, {}) == 0.0  # inside the interval, on the point
    assert d({"a": 8.0, "b": 0.0}, {}) == pytest.approx(2.0)
    assert d({"a": 0.0, "b": 1.5}, {}) == pytest.approx(math.hypot(1.0, 3.0))
    assert d({"a": float("nan"), "b": 0.0}, {}) == math.inf


# ---- a problem with a known posterior ----------------------------------------------------------


@pytest.mark.parametrize("space", ["natural", "logit"])
def test_normal_mean_posterior_matches_the_analytic_one(tmp_path, space):
    """mu ~ U(-5, 5); ybar | mu ~ N(mu, 1/4); observed ybar = 1 -> posterior N(1, 0.5^2).

    ABC with a uniform kernel of half-width eps on ybar targets N(1, 1/4 + eps^2/3) exactly,
    whether pyabc perturbs mu or its prior quantile's logit (the posterior is written in mu).
    """
    spec = normal_spec(tmp_path, extra=f'space = "{space}"\n')
    loaded = load_calibration(spec, output=tmp_path / "out")
    result = calibrate(loaded, figures=False)
    post = pd.read_csv(tmp_path / "out" / "posterior.csv")
    assert list(post.columns) == ["mu", "weight"]
    assert len(post) == 200
    mean, sd = weighted_moments(post, "mu")
    abc_sd = math.sqrt(1 / NORMAL_MEAN_OBSERVATIONS + result.epsilon**2 / 3)
    assert result.epsilon < 0.5
    assert mean == pytest.approx(1.0, abs=0.2)
    assert sd == pytest.approx(abc_sd, rel=0.25)
    # the prior's sd is 10/sqrt(12) = 2.9: the sample has really moved
    meta = json.loads((tmp_path / "out" / "posterior.json").read_text())
    assert meta["method"]["package"].startswith("pyabc 0.13")
    assert meta["method"]["space"] == space
    gens = meta["generations"]
    assert [g["t"] for g in gens] == [0, 1, 2, 3]
    assert all(0 < g["acceptance_rate"] <= 1 for g in gens)
    eps = [g["epsilon"] for g in gens]
    assert eps == sorted(eps, reverse=True)
    assert meta["simulations"] >= sum(g["samples"] for g in gens)
    assert meta["targets"]["calibration"] == ["ybar"]
    assert meta["targets"]["validation"] == ["ybar_median"]
    ppc = pd.read_csv(tmp_path / "out" / "ppc.csv")
    assert set(ppc["target"]) == {"ybar", "ybar_median"}
    row = ppc.set_index("target").loc["ybar"]
    assert row["predicted_low"] < 1.0 < row["predicted_high"]
    assert bool(row["covered"])
    assert "ybar_median" in (tmp_path / "out" / "ppc.txt").read_text()


def test_one_fixed_tolerance_is_rejection_abc_with_the_analytic_posterior(tmp_path):
    """epsilons = [e]: one generation from the prior, every kept set within e, equal weights;
    ybar's posterior under a uniform kernel of half-width e is N(1, 1/4 + e^2/3)."""
    e = 0.3
    spec = normal_spec(tmp_path, generations=9, extra=f"epsilons = [{e}]\n")
    result = calibrate(load_calibration(spec, output=tmp_path / "out"), figures=False)
    assert result.generations == 1 and result.epsilon == pytest.approx(e)
    post = pd.read_csv(tmp_path / "out" / "posterior.csv")
    assert len(post) == 200 and np.allclose(post["weight"], post["weight"].iloc[0])
    mean, sd = weighted_moments(post, "mu")
    assert mean == pytest.approx(1.0, abs=0.15)
    assert sd == pytest.approx(math.sqrt(1 / NORMAL_MEAN_OBSERVATIONS + e**2 / 3), rel=0.2)
    meta = json.loads((tmp_path / "out" / "posterior.json").read_text())
    assert "rejection ABC" in meta["method"]["epsilon"]
    bad = normal_spec(tmp_path, extra="epsilons = [0.5, 1.0]\n", name="bad.toml")
    assert main(["calibrate", str(bad), "--out", str(tmp_path / "bad")]) == 2


REJECTION = "epsilons = [0.3]\nbatch_size = 16\n"


def rejection_run(tmp_path: Path, name: str, extra: str = "", backend: str = "serial"
                  ) -> tuple[Path, Path]:
    """A rejection ABC spec of the normal-mean problem in its own directory, and its output."""
    d = tmp_path / name
    d.mkdir()
    spec = normal_spec(d, particles=60, extra=REJECTION + extra)
    spec.write_text(spec.read_text().replace('backend = "serial"', f'backend = "{backend}"'))
    return spec, d / "out"


def test_rejection_abc_resumes_from_its_stored_batches_to_the_same_posterior(tmp_path, capsys):
    """A run stopped at its wall-time limit, or killed with batches lost, resumes: only the
    missing batches are simulated again and the posterior is the uninterrupted run's, to the bit
    (the first 60 kept draws in draw order)."""
    spec, out = rejection_run(tmp_path, "whole")
    calibrate(load_calibration(spec, output=out), figures=False)
    whole = pd.read_csv(out / "posterior.csv")
    meta = json.loads((out / "posterior.json").read_text())
    batches = sorted((out / "rejection").glob("batch-*.parquet"))
    assert len(batches) >= 3 and meta["method"]["reproducible"]
    assert meta["simulations"] == meta["generations"][0]["samples"] < 16 * len(batches) + 1
    assert meta["generations"][0]["acceptance_rate"] == pytest.approx(60 / meta["simulations"])
    stored = pd.concat(pd.read_parquet(b) for b in batches)
    kept = stored[stored["distance"] <= 0.3].head(60)
    assert np.array_equal(kept["mu"].to_numpy(), whole["mu"].to_numpy())

    # stopped before its first batch: exit 130, how far it got and how to go on
    stop, stop_out = rejection_run(tmp_path, "stopped", "max_walltime_minutes = 1e-9\n")
    assert main(["calibrate", str(stop), "--out", str(stop_out), "--quiet"]) == 130
    err = capsys.readouterr().err
    assert "0 of 60 parameter sets kept" in err and "--resume" in err
    assert not (stop_out / "posterior.csv").exists()
    stop.write_text(stop.read_text().replace("max_walltime_minutes = 1e-9\n", ""))
    assert main(["calibrate", str(stop), "--out", str(stop_out), "--resume", "--quiet",
                 "--no-figures"]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(stop_out / "posterior.csv"), whole)

    # killed with the first and the last batch lost (in flight): they alone are run again
    lost = [batches[0], batches[-1]]
    kept_mtimes = {b: b.stat().st_mtime_ns for b in batches if b not in lost}
    for b in [*lost, out / "posterior.csv", out / "posterior.json"]:
        b.unlink()
    calibrate(load_calibration(spec, output=out), resume=True, figures=False)
    pd.testing.assert_frame_equal(pd.read_csv(out / "posterior.csv"), whole)
    assert all(b.exists() for b in lost)
    assert {b: b.stat().st_mtime_ns for b in kept_mtimes} == kept_mtimes
    again = json.loads((out / "posterior.json").read_text())
    assert again["simulations"] == meta["simulations"]
    assert [s["batches_before"] for s in again["sessions"]] == [0, len(batches) - 2]
    with pytest.raises(CalibrationError, match="already holds"):
        calibrate(load_calibration(spec, output=out), figures=False)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["loky", "dask"])
def test_rejection_abc_is_bit_identical_on_two_workers(tmp_path, backend):
    spec, out = rejection_run(tmp_path, "serial")
    calibrate(load_calibration(spec, output=out), figures=False)
    loky, loky_out = rejection_run(tmp_path, backend, "n_jobs = 2\n", backend=backend)
    calibrate(load_calibration(loky, output=loky_out), figures=False)
    pd.testing.assert_frame_equal(pd.read_csv(loky_out / "posterior.csv"),
                                  pd.read_csv(out / "posterior.csv"))
    assert (json.loads((loky_out / "posterior.json").read_text())["simulations"]
            == json.loads((out / "posterior.json").read_text())["simulations"])


def test_rejection_abc_does_not_depend_on_the_order_batches_finish_in(tmp_path, monkeypatch):
    """Batches that finish out of order, with several read ahead from the task generator (as
    parallel workers take them), give the serial run's posterior and draw count."""
    import random

    from cisim.sweep import execute

    spec, out = rejection_run(tmp_path, "serial")
    calibrate(load_calibration(spec, output=out), figures=False)
    reference = pd.read_csv(out / "posterior.csv")
    sims = json.loads((out / "posterior.json").read_text())["simulations"]

    def shuffled(model, tasks, *, ahead, rng, **_):
        queue = []
        for task in tasks:
            queue.append(task)
            if len(queue) >= ahead:
                yield execute.run_task(model, queue.pop(rng.randrange(len(queue))))
        while queue:
            yield execute.run_task(model, queue.pop(rng.randrange(len(queue))))

    for k, ahead in enumerate((2, 5)):
        monkeypatch.setattr(execute, "_map", lambda model, tasks, ahead=ahead, k=k, **kw:
                            shuffled(model, tasks, ahead=ahead, rng=random.Random(k)))
        spec_k, out_k = rejection_run(tmp_path, f"shuffled{k}")
        calibrate(load_calibration(spec_k, output=out_k), figures=False)
        pd.testing.assert_frame_equal(pd.read_csv(out_k / "posterior.csv"), reference)
        assert json.loads((out_k / "posterior.json").read_text())["simulations"] == sims


def test_rejection_abc_refuses_foreign_or_broken_batches_and_a_new_batch_size(tmp_path,
                                                                               capsys):
    spec, out = rejection_run(tmp_path, "a")
    calibrate(load_calibration(spec, output=out), figures=False)
    other, other_out = rejection_run(tmp_path, "b")
    other.write_text(other.read_text().replace("seed = 1", "seed = 2"))
    calibrate(load_calibration(other, output=other_out), figures=False)
    batch = out / "rejection" / "batch-0000001.parquet"
    saved = batch.read_bytes()
    (out / "posterior.csv").unlink()
    args = ["calibrate", str(spec), "--out", str(out), "--resume", "--quiet", "--no-figures"]
    batch.write_bytes((other_out / "rejection" / batch.name).read_bytes())  # another seed's
    assert main(args) == 2
    err = capsys.readouterr().err
    assert str(batch) in err and "other draws" in err and "delete it" in err
    batch.write_bytes(saved[: len(saved) // 2])  # cut short
    assert main(args) == 2
    assert str(batch) in capsys.readouterr().err
    batch.write_bytes(saved)
    (out / "rejection" / "notes.txt").write_text("mine")  # not a batch: left alone
    assert main(args) == 0
    capsys.readouterr()
    spec.write_text(spec.read_text().replace("batch_size = 16", "batch_size = 8"))
    assert main(args) == 2
    assert "spec" in capsys.readouterr().err
    # batch_size does nothing in ABC-SMC, so it does not enter its fingerprint
    smc = [load_calibration(normal_spec(tmp_path / "a", extra=f"batch_size = {b}\n",
                                        name=f"smc{b}.toml")).digest() for b in (8, 16)]
    assert smc[0] == smc[1]


def test_rejection_abc_refuses_the_adaptive_distance(tmp_path, capsys):
    spec, out = rejection_run(tmp_path, "adaptive", 'distance = "adaptive"\n')
    assert main(["calibrate", str(spec), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert str(spec) in err and "rejection ABC" in err and "interval" in err


def test_the_logit_space_gives_back_each_prior_exactly():
    """z ~ standard logistic, mapped by to_natural, is a sample of the prior: its quantile
    at the logistic's quantile, monotone, the median at z = 0 and inside bounded supports."""
    from scipy import stats

    priors = [ParameterEvidence("a", "assumption", "none", "", "uniform", (0.5, 0.8)),
              ParameterEvidence("b", "assumption", "none", "", "loguniform", (0.02, 0.3)),
              ParameterEvidence("c", "assumption", "none", "", "triangular", (0.0, 1.0, 0.2))]
    u = np.array([0.001, 0.1, 0.5, 0.9, 0.999])
    z = np.log(u / (1 - u))
    for p in priors:
        got = [to_natural(priors, {q.path: zi for q in priors}, "logit")[p.path] for zi in z]
        assert got == pytest.approx(p.scipy().ppf(u), rel=1e-9)
        assert np.all(np.diff(got) > 0)
        lo, hi = p.support()
        far = to_natural(priors, {q.path: 40.0 for q in priors}, "logit")[p.path]
        assert lo < far <= hi
    draws = stats.logistic.rvs(size=4000, random_state=np.random.default_rng(3))
    b = np.array([to_natural(priors[1:2], {"b": zi}, "logit")["b"] for zi in draws])
    assert stats.kstest(b, priors[1].scipy().cdf).pvalue > 0.01
    assert to_natural(priors, {"a": 0.7, "b": 0.1, "c": 0.3}) == {"a": 0.7, "b": 0.1, "c": 0.3}


def test_serial_backend_is_reproducible_and_seed_dependent(tmp_path):
    runs = []
    for k, seed in enumerate((5, 5, 6)):
        d = tmp_path / str(k)
        d.mkdir()
        loaded = load_calibration(normal_spec(d, seed=seed, particles=40, generations=2),
                                  output=d / "out")
        calibrate(loaded, figures=False)
        runs.append(pd.read_csv(d / "out" / "posterior.csv"))
    pd.testing.assert_frame_equal(runs[0], runs[1])
    assert not runs[0].equals(runs[2])


# ---- resume ----------------------------------------------------------------------------------


def test_resume_continues_the_generations(tmp_path):
    spec = normal_spec(tmp_path, particles=40, generations=1)
    out = tmp_path / "out"
    first = calibrate(load_calibration(spec, output=out), figures=False)
    assert first.generations == 1
    with pytest.raises(CalibrationError, match="--resume"):
        calibrate(load_calibration(spec, output=out), figures=False)
    # raising max_generations is allowed on resume: it says how long to run, not what
    spec.write_text(spec.read_text().replace("max_generations = 1", "max_generations = 3"))
    second = calibrate(load_calibration(spec, output=out), resume=True, figures=False)
    assert second.generations == 3
    meta = json.loads((out / "posterior.json").read_text())
    assert [g["t"] for g in meta["generations"]] == [0, 1, 2]
    assert [s["resumed"] for s in meta["sessions"]] == [False, True]
    assert len(pd.read_csv(out / "posterior.csv")) == 40


def test_resume_refuses_a_changed_problem(tmp_path, capsys):
    spec = normal_spec(tmp_path, particles=20, generations=1)
    out = tmp_path / "out"
    calibrate(load_calibration(spec, output=out), figures=False)
    targets = tmp_path / "targets.toml"
    targets.write_text(targets.read_text().replace("observed = 1.0", "observed = 1.5"))
    assert main(["calibrate", str(spec), "--out", str(out), "--resume", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "targets" in err and "changed" in err
    assert main(["calibrate", str(spec), "--out", str(tmp_path / "none"), "--resume"]) == 2
    assert "no calibration to resume" in capsys.readouterr().err


@pytest.mark.slow
def test_a_killed_run_resumes(tmp_path):
    spec = normal_spec(tmp_path, particles=100, generations=4)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "cisim.cli", "calibrate", str(spec), "--out", str(out),
           "--no-figures"]
    env = dict(os.environ, ABC_LOG_LEVEL="INFO")
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stderr is not None
    deadline = time.time() + 120
    for line in proc.stderr:  # "t: 2," starts generation 2: generations 0 and 1 are stored
        if line.startswith("ABC INFO: t: 2,") or time.time() > deadline:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "posterior.csv").exists()
    import pyabc

    assert pyabc.History(f"sqlite:///{out / 'history.db'}").max_t in (1, 2)
    done = subprocess.run([*cmd, "--resume", "--quiet"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    meta = json.loads((out / "posterior.json").read_text())
    assert [g["t"] for g in meta["generations"]] == [0, 1, 2, 3]
    assert len(pd.read_csv(out / "posterior.csv")) == 100
    killed, resumed = meta["sessions"]
    assert killed["seconds"] is None and not killed["resumed"]
    assert resumed["resumed"] and resumed["generations_before"] in (2, 3)


# ---- bad input -------------------------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_bad_specs_exit_2_naming_file_and_field(tmp_path, capsys):
    targets = write(tmp_path / "targets.toml", NORMAL_TARGETS)
    scenario = ROOT / "scenarios" / "default.toml"
    cases = {
        "unknown_key": (f'scenario = "{scenario}"\ntargets = "targets.toml"\npopulation = 5\n',
                        "population"),
        "bad_scenario": ('scenario = "no_such.toml"\ntargets = "targets.toml"\n', "scenario"),
        "no_targets": (f'scenario = "{scenario}"\ntargets = "missing.toml"\n', "targets"),
        "no_prior": (f'scenario = "{scenario}"\ntargets = "targets.toml"\n'
                     '[[parameters]]\npath = "horizon_years"\n', "parameters[0]"),
        "wrong_type": (f'scenario = "{scenario}"\ntargets = "targets.toml"\n'
                       'population_size = "many"\n', "population_size"),
        "bad_backend": (f'scenario = "{scenario}"\ntargets = "targets.toml"\n'
                        'backend = "spark"\n', "backend"),
    }
    for name, (text, field) in cases.items():
        spec = write(tmp_path / f"{name}.toml", text)
        assert main(["calibrate", str(spec)]) == 2, name
        err = capsys.readouterr().err
        assert str(spec) in err, name
        assert field in err, (name, err)
        assert "Traceback" not in err
    assert targets.exists()


def test_targets_without_a_calibration_role_are_refused(tmp_path, capsys):
    write(tmp_path / "targets.toml", NORMAL_TARGETS.replace('role = "calibration"',
                                                            'role = "validation"'))
    spec = normal_spec(tmp_path)
    (tmp_path / "targets.toml").write_text(NORMAL_TARGETS.replace('role = "calibration"',
                                                                  'role = "validation"'))
    assert main(["calibrate", str(spec)]) == 2
    err = capsys.readouterr().err
    assert str(spec) in err and "targets" in err and "no target with role" in err


def test_bad_targets_file_names_its_own_file_and_field(tmp_path, capsys):
    spec = normal_spec(tmp_path)
    bad = NORMAL_TARGETS.replace('statistic = "mean"', 'statistic = "mean"\nthreshold = 2.0')
    bad = bad.replace('interval = [0.0, 2.0]', 'interval = [2.0, 0.0]\ncolour = "red"')
    (tmp_path / "targets.toml").write_text(bad)
    assert main(["calibrate", str(spec)]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "targets.toml") in err
    assert "target[0]" in err and "threshold" in err
    assert "target[1].colour" in err and "unknown key" in err


def test_a_target_outcome_the_model_does_not_have_is_named(tmp_path, capsys):
    write(tmp_path / "targets.toml", NORMAL_TARGETS.replace('outcome = "y"',
                                                            'outcome = "populaton_change@3"', 1))
    spec = write(tmp_path / "spec.toml", f'scenario = "{ROOT / "scenarios" / "default.toml"}"\n'
                 'targets = "targets.toml"\n')
    assert main(["calibrate", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "target[0] (ybar).outcome" in err and "populaton_change" in err


def test_where_keeps_only_the_designs_a_pattern_was_observed_among():
    from cisim.scenario import load_scenario

    t = target(id="t", outcome="years_to_trust", statistic="median", observed=3.0,
               over="designs", where={"meetings.cadence": ["weekly", "monthly"]})
    designs = [{"meetings.cadence": "monthly"}, {"meetings.cadence": "none"},
               {"meetings.cadence": "weekly"}, {"backbone.present": False}]
    model = ParticleModel([t], replications=1, scenario=load_scenario("default"),
                          designs=designs)
    rows = [{"over": "designs", "design": d, "replication": 0, "years_to_trust": y}
            for d, y in enumerate([2.0, 11.0, 4.0, 11.0])]
    assert model.statistics(rows) == {"t": 3.0}  # the median of designs 0 and 2 only
    everyone = ParticleModel([target(id="t", outcome="years_to_trust", statistic="median",
                                     observed=3.0, over="designs")], replications=1,
                             scenario=load_scenario("default"), designs=designs)
    assert everyone.statistics(rows) == {"t": 7.5}


@pytest.mark.parametrize("where, message", [
    ('where = { "meetings.cadence" = ["weekly"] }', 'needs over = "designs"'),
    ('over = "designs"\nwhere = { "meetings.cadence" = [] }', "empty: meetings.cadence"),
])
def test_a_malformed_where_is_refused_naming_the_target(tmp_path, capsys, where, message):
    spec = normal_spec(tmp_path)
    (tmp_path / "targets.toml").write_text(
        NORMAL_TARGETS.replace('statistic = "mean"', f'statistic = "mean"\n{where}', 1))
    assert main(["calibrate", str(spec)]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "targets.toml") in err and "target[0]" in err and message in err


def test_a_where_no_design_matches_is_refused(tmp_path, capsys):
    write(tmp_path / "targets.toml", REAL_TARGETS.replace(
        'over = "designs"', 'over = "designs"\nwhere = { "meetings.cadence" = ["weekly"] }'))
    spec = write(tmp_path / "spec.toml", f"""
scenario = "{ROOT / "scenarios" / "default.toml"}"
targets = "targets.toml"
[designs]
sets = [{{"meetings.cadence" = "monthly"}}, {{"backbone.present" = false}}]
""")
    assert main(["calibrate", str(spec)]) == 2
    err = capsys.readouterr().err
    assert str(spec) in err and "(reached).where" in err and "no design" in err
    assert "Traceback" not in err


def test_the_shipped_files_load():
    loaded = load_calibration(ROOT / "experiments" / "calibration" / "default.toml")
    assert loaded.calibration_targets
    assert {t.role for t in loaded.targets.target} == {"calibration", "validation"}
    assert len(loaded.designs) == loaded.spec.designs.n
    from cisim.priors import uncertain_parameters

    # every uncertain parameter is either calibrated or drawn from its prior in every run
    every = [e.path for e in uncertain_parameters()]
    assert sorted(loaded.names + [e.path for e in loaded.uncalibrated]) == sorted(every)
    assert len(set(loaded.names)) == len(loaded.names) and set(loaded.names) <= set(every)


# ---- the real model, end to end ----------------------------------------------------------------

REAL_TARGETS = f"""
[[target]]
id = "near_zero_year1"
description = "median change at year 1"
role = "calibration"
outcome = "population_change_vs_cf@1"
statistic = "median"
interval = [-0.5, 0.5]
scale = 0.5
{SOURCE}

[[target]]
id = "reached"
description = "share of designs with sustained change"
role = "validation"
outcome = "significant_change_reached"
statistic = "mean"
interval = [0.0, 0.5]
scale = 0.1
over = "designs"
{SOURCE}
"""


# the same targets, both calibrating, the scenario's one tight enough to reject some particles
STAGED_TARGETS = (REAL_TARGETS.replace("interval = [-0.5, 0.5]\nscale = 0.5",
                                       "interval = [-0.02, 0.02]\nscale = 0.02")
                  .replace('role = "validation"', 'role = "calibration"'))


def test_rejection_skips_the_design_runs_of_particles_the_scenario_rejects(tmp_path):
    """A particle whose scenario runs already put it beyond the tolerance is not run on the
    designs; every other particle gets the statistics of all its runs, to the bit, so the
    kept particles are those the full computation keeps."""
    write(tmp_path / "targets.toml", STAGED_TARGETS)
    spec = write(tmp_path / "spec.toml", f"""
scenario = "{ROOT / "scenarios" / "default.toml"}"
targets = "targets.toml"
population_size = 4
epsilons = [1.0]
batch_size = 6
replications = 1
seed = 4
backend = "serial"
[set]
"population.size" = 300
"population.mesa_agents" = 0
horizon_years = 1.5
[designs]
sets = [{{"meetings.cadence" = "monthly"}}, {{"backbone.present" = false}}]
[ppc]
draws = 2
""")
    loaded = load_calibration(spec, output=tmp_path / "out")
    calibrate(loaded, figures=False)
    stored = pd.concat(pd.read_parquet(b)
                       for b in sorted((tmp_path / "out" / "rejection").glob("*.parquet")))
    early = stored["runs"] == 1
    assert set(stored["runs"]) == {1, 3} and early.any() and (~early).any()
    near = (stored["stat:near_zero_year1"] - 0.0).abs().sub(0.02).clip(lower=0) / 0.02
    assert (near[early] > 1.0).all() and stored.loc[early, "stat:reached"].isna().all()
    assert stored.loc[~early, "stat:reached"].notna().all()
    full = ParticleModel(loaded.calibration_targets, 1, scenario=loaded.scenario,
                         designs=loaded.designs)
    kept = stored[stored["distance"] <= 1.0].head(4)
    for _, row in kept.iterrows():
        stats = full({p: row[p] for p in loaded.names}, int(row["seed"]))
        assert stats == {t: row[f"stat:{t}"] for t in ("near_zero_year1", "reached")}
    meta = json.loads((tmp_path / "out" / "posterior.json").read_text())
    used = stored.head(meta["simulations"])
    assert meta["model_runs"] == int(used["runs"].sum()) < 3 * meta["simulations"]


@pytest.mark.slow
def test_calibrate_the_real_model_end_to_end(tmp_path, monkeypatch, capsys):
    write(tmp_path / "targets.toml", REAL_TARGETS)
    spec = write(tmp_path / "spec.toml", f"""
scenario = "{ROOT / "scenarios" / "default.toml"}"
targets = "targets.toml"
population_size = 12
max_generations = 2
replications = 1
seed = 4
backend = "serial"
output = "out"
[set]
"population.size" = 500
"population.mesa_agents" = 0
horizon_years = 1.5
[designs]
sets = [{{"meetings.cadence" = "monthly"}}, {{"backbone.present" = false}}]
[ppc]
draws = 4
""")
    data = tmp_path / "data"
    data.mkdir()
    import cisim.calibrate.run as run_mod
    import cisim.priors as priors_mod

    for mod in (run_mod, priors_mod):
        monkeypatch.setattr(mod, "POSTERIOR_FILE", data / "posterior.csv")
        monkeypatch.setattr(mod, "POSTERIOR_PROVENANCE", data / "posterior.json")
    assert main(["calibrate", str(spec), "--ship", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "near_zero_year1" in printed and "reached" in printed
    out = tmp_path / "out"
    for name in ("posterior.csv", "posterior.json", "ppc.csv", "ppc.txt", "marginals.png",
                 "history.db"):
        assert (out / name).is_file(), name
    from cisim.priors import ParameterDistribution, uncertain_parameters

    dist = ParameterDistribution.default()
    assert dist.kind == "posterior"
    assert list(dist.names) == [e.path for e in uncertain_parameters()]
    draws = dist.draw(50, seed=1)
    post = pd.read_csv(out / "posterior.csv")
    assert set(draws.round(12).itertuples(index=False)) <= set(
        post[list(dist.names)].round(12).itertuples(index=False))
    meta = json.loads((data / "posterior.json").read_text())
    assert meta["method"]["model_runs_per_particle"] == 1
    assert meta["designs"] == [{"meetings.cadence": "monthly"}, {"backbone.present": False}]


def test_log_odds_gap_weights_subgroups_by_share():
    from cisim.outcomes import log_odds_gap

    frame = pd.DataFrame({
        "step": [3, 3, 3, 3], "world": ["factual"] * 3 + ["counterfactual"],
        "subgroup": ["a", "b", "c", "a"], "outcome_rate": [0.6, 0.3, 0.2, 0.9],
    })
    shares = {"a": 0.5, "b": 0.25, "c": 0.25}
    gap = log_odds_gap(frame, shares, {"b", "c"}, "factual", 3)
    assert gap == pytest.approx(math.log(0.6 / 0.4) - math.log(0.25 / 0.75))


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["loky", "dask"])
def test_parallel_backends_give_a_posterior(tmp_path, backend):
    spec = normal_spec(tmp_path, particles=30, generations=2,
                       extra='n_jobs = 2\n').read_text()
    spec = spec.replace('backend = "serial"', f'backend = "{backend}"')
    path = write(tmp_path / "parallel.toml", spec)
    result = calibrate(load_calibration(path, output=tmp_path / "out"), figures=False)
    assert result.generations == 2
    post = pd.read_csv(tmp_path / "out" / "posterior.csv")
    assert len(post) == 30
    mean, sd = weighted_moments(post, "mu")
    assert abs(mean - 1.0) < 1.0 and sd < 1.5  # the prior's sd is 2.9


def test_adaptive_distance_runs_and_concentrates(tmp_path):
    spec = normal_spec(tmp_path, particles=60, generations=3, extra='distance = "adaptive"')
    result = calibrate(load_calibration(spec, output=tmp_path / "out"), figures=False)
    assert result.generations == 3
    mean, sd = weighted_moments(pd.read_csv(tmp_path / "out" / "posterior.csv"), "mu")
    assert abs(mean - 1.0) < 0.5 and sd < 1.2  # the prior: mean 0, sd 2.9
    meta = json.loads((tmp_path / "out" / "posterior.json").read_text())
    assert "Adaptive" in meta["method"]["distance"]


def test_a_failing_run_rejects_its_particle_and_is_logged(caplog):
    from cisim.sweep.examples import failing_ishigami

    t = target(id="y", outcome="y", statistic="mean", observed=0.0)
    model = ParticleModel([t], replications=2, function=failing_ishigami)
    with caplog.at_level(logging.WARNING, logger="cisim.calibrate.summaries"):
        stats = model({"x1": -3.0, "x2": 0.0, "x3": 0.0}, seed=1)  # x1 < -2.8 raises
    assert math.isnan(stats["y"])
    assert "model diverged" in caplog.text
    assert IntervalDistance([t])(stats, {}) == math.inf
    ok = model({"x1": 0.5, "x2": 0.0, "x3": 0.0}, seed=1)
    assert ok["y"] == pytest.approx(math.sin(0.5))


def test_uncalibrated_parameters_are_drawn_from_their_priors_in_every_run(monkeypatch):
    """uncalibrated = "prior": each run draws the parameters the calibration does not name from
    their priors (a pure function of the run's seed); the particle's own values are kept."""
    from cisim.priors import registry
    from cisim.scenario import load_scenario

    seen = []

    def fake(scenario, seed):
        seen.append((seed, scenario.dynamics.trust_gain, scenario.dynamics.initial_trust))
        raise RuntimeError("not simulated")

    monkeypatch.setattr(sys.modules["cisim.simulate"], "simulate", fake)
    t = target(id="y", outcome="population_change_vs_cf@10", statistic="median", observed=0.0)
    gain = registry()["dynamics.trust_gain"]
    model = ParticleModel([t], replications=4, scenario=load_scenario("default"),
                          uncalibrated=[gain])
    model({"dynamics.initial_trust": 0.25}, seed=7)
    first, seen[:] = list(seen), []
    model({"dynamics.initial_trust": 0.25}, seed=7)
    assert seen == first  # a pure function of the particle's seed
    gains = [g for _, g, _ in first]
    lo, hi = gain.support()
    assert all(lo <= g <= hi for g in gains) and len(set(gains)) == 4
    assert {trust for *_, trust in first} == {0.25}
    held = ParticleModel([t], replications=4, scenario=load_scenario("default"))
    seen.clear()
    held({"dynamics.initial_trust": 0.25}, seed=7)
    assert {g for _, g, _ in seen} == {load_scenario("default").dynamics.trust_gain}


# ---- trust outcomes (calibration targets and validation patterns share them) -----------------


def trust_record(good_effect: float, bad_effect: float, weeks: int = 300,
                 seed: int = 5) -> pd.DataFrame:
    """A weekly record whose trust moves by known effects of good and bad interactions."""
    rng = np.random.default_rng(seed)
    partners = 10
    pairs = partners * (partners - 1) / 2
    good = rng.integers(0, 30, weeks).astype(float)
    bad = rng.integers(0, 10, weeks).astype(float)
    trust = np.empty(weeks)
    trust[0] = 0.2
    for w in range(1, weeks):  # week w's interactions move trust from w - 1 to w
        trust[w] = (trust[w - 1] + good_effect * good[w] / pairs + bad_effect * bad[w] / pairs
                    + 0.001 * rng.standard_normal())
    return pd.DataFrame({"year": np.arange(weeks) / 52, "trust": trust,
                         "active_partners": float(partners),
                         "interactions": good + bad, "good_interactions": good})


def test_trust_interaction_effects_recover_the_effects_and_their_ratio():
    from cisim.calibrate.summaries import trust_asymmetry_ratio, trust_interaction_effects

    good, bad = trust_interaction_effects(trust_record(0.01, -0.03))
    assert good == pytest.approx(0.01, rel=0.05)
    assert bad == pytest.approx(-0.03, rel=0.05)

    class Run:
        trajectory = trust_record(0.01, -0.03)

    assert trust_asymmetry_ratio(Run()) == pytest.approx(3.0, rel=0.1)
    quiet = trust_record(0.01, -0.03)
    quiet.loc[:, "interactions"] = quiet["good_interactions"]  # no bad interactions at all
    assert all(math.isnan(v) for v in trust_interaction_effects(quiet))


def test_years_to_trust_is_censored_at_the_horizon_plus_a_year():
    from types import SimpleNamespace

    from cisim.calibrate.summaries import years_to_trust

    record = trust_record(0.01, -0.001)  # trust rises steadily
    scenario = SimpleNamespace(phases=SimpleNamespace(run_min_trust=0.5), horizon_years=10)
    run = SimpleNamespace(trajectory=record, scenario=scenario)
    first = record["year"][record["trust"] >= 0.5].iloc[0]
    assert years_to_trust(run) == pytest.approx(first)
    scenario.phases.run_min_trust = 2.0  # never reached
    assert years_to_trust(run) == 11.0


def test_transition_scaling_is_recorded_and_refused_when_not_positive(tmp_path, capsys):
    spec = normal_spec(tmp_path, generations=3, extra="transition_scaling = 0.5\n")
    calibrate(load_calibration(spec, output=tmp_path / "out"), figures=False)
    meta = json.loads((tmp_path / "out" / "posterior.json").read_text())
    assert meta["method"]["transition_scaling"] == 0.5
    # a narrower kernel changes the proposals, not the posterior (importance weights): N(1, .5^2)
    mean, _ = weighted_moments(pd.read_csv(tmp_path / "out" / "posterior.csv"), "mu")
    assert mean == pytest.approx(1.0, abs=0.2)
    bad = normal_spec(tmp_path, extra="transition_scaling = 0\n", name="bad.toml")
    assert main(["calibrate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.toml" in err and "transition_scaling" in err
