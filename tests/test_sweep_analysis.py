"""Known answers of the analysis: Ishigami's analytic indices, NaN runs, seed noise."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cisim.sweep import analyze, sweep_function
from cisim.sweep.examples import (
    ISHIGAMI_S1,
    ISHIGAMI_ST,
    failing_ishigami,
    ishigami,
    noisy_ishigami,
)

PI = math.pi
SPACE = {"x1": [-PI, PI], "x2": [-PI, PI], "x3": [-PI, PI]}


def test_analytic_ishigami_values():
    # Saltelli et al. 2008 give S1 = 0.3139, 0.4424, 0 and ST = 0.5576, 0.4424, 0.2437
    assert np.allclose(ISHIGAMI_S1, [0.3139, 0.4424, 0.0], atol=1e-4)
    assert np.allclose(ISHIGAMI_ST, [0.5576, 0.4424, 0.2437], atol=1e-4)


def test_sobol_indices_of_ishigami_within_their_intervals(tmp_path):
    store = sweep_function(ishigami, SPACE, tmp_path / "s", sampler="sobol", n=2048, seed=11)
    a = analyze(store, num_resamples=300)
    idx = a.indices.set_index(["parameter", "index"])
    for j, name in enumerate(["x1", "x2", "x3"]):
        for kind, truth in (("S1", ISHIGAMI_S1[j]), ("ST", ISHIGAMI_ST[j])):
            row = idx.loc[(name, kind)]
            # the analytic value lies in the 95% interval (conf is its half-width, < 0.1)
            assert 0 < row["conf"] < 0.1
            assert abs(row["value"] - truth) <= row["conf"], (name, kind, row["value"], truth)
    assert a.runs.loc[0, ["runs", "failed", "nan"]].tolist() == [2048 * 5, 0, 0]


def test_fast_and_morris_rank_ishigami(tmp_path):
    fast = analyze(sweep_function(ishigami, SPACE, tmp_path / "f", sampler="fast", n=1025,
                                  seed=2))
    s1 = fast.indices.query("index == 'S1'").set_index("parameter")["value"]
    assert np.allclose(s1.to_numpy(), ISHIGAMI_S1, atol=0.03)
    morris = analyze(sweep_function(ishigami, SPACE, tmp_path / "m", sampler="morris", n=40,
                                    seed=2))
    mu_star = morris.indices.query("index == 'mu_star'").set_index("parameter")["value"]
    # x3 acts only through its interaction with x1: the smallest elementary effects
    assert mu_star["x3"] < mu_star["x1"] and mu_star["x3"] < mu_star["x2"]


def test_failed_and_nan_runs_are_counted_and_excluded(tmp_path):
    store = sweep_function(failing_ishigami, SPACE, tmp_path / "s", sampler="sobol", n=256,
                           seed=5)
    runs = store.read()
    x1 = store.sample().set_index(["point", "replication"])["x1"].to_numpy()
    raised = x1 < -2.8
    nan = x1 > 2.5
    assert raised.any() and nan.any()
    assert (runs["error"] != "").to_numpy().tolist() == raised.tolist()
    assert runs.loc[raised, "error"].str.contains("RuntimeError: model diverged").all()
    a = analyze(store)
    counts = a.runs.iloc[0]
    assert counts["failed"] == raised.sum() and counts["nan"] == nan.sum()
    # whole Saltelli blocks (3 + 2 rows) holding a bad point are dropped
    bad_blocks = (raised | nan).reshape(-1, 5).any(axis=1).sum()
    assert counts["points_dropped"] == 5 * bad_blocks
    assert counts["points_used"] == len(runs) - 5 * bad_blocks
    assert np.isfinite(a.indices["value"]).all() and np.isfinite(a.indices["conf"]).all()


def test_seed_noise_is_separated_with_replications(tmp_path):
    store = sweep_function(noisy_ishigami, SPACE, tmp_path / "s", sampler="sobol", n=256,
                           replications=4, seed=9)
    a = analyze(store)
    noise = a.noise.set_index("outcome").loc["y"]
    # noise sd 1 against Ishigami's variance 13.84: within-point variance ~ 1
    assert noise["replications"] == 4
    assert 0.85 < noise["within_var"] < 1.15
    assert noise["noise_share"] == pytest.approx(noise["within_var"] / noise["total_var"])
    assert 0.04 < noise["noise_share"] < 0.1
    # means over 4 replications keep a quarter of the noise
    assert noise["noise_share_of_means"] == pytest.approx(
        noise["within_var"] / 4 / noise["between_var"])
    # indices over time: the trajectory (y + e) * t has the same indices at every t > 0,
    # and none at t = 0 (constant zero)
    ot = a.over_time.query("index == 'S1'")
    assert sorted(ot["time"].unique()) == [1.0, 2.0, 3.0]
    per_t = ot.pivot(index="time", columns="parameter", values="value")
    assert np.allclose(per_t.to_numpy(), per_t.to_numpy()[0], atol=1e-9)
    zero = a.runs.query("outcome == 'traj' and time == 0").iloc[0]
    assert "constant" in zero["note"]


def test_factorial_main_effects(tmp_path):
    def additive(params, seed):
        return {"y": 2.0 * params["a"] + params["b"]}

    store = sweep_function(additive, {"a": [0, 1], "b": [0, 1]}, tmp_path / "s",
                           sampler="factorial", n=1, sampler_options={"levels": 5})
    assert len(store.points()) == 25
    a = analyze(store)
    s1 = a.indices.query("index == 'S1'").set_index("parameter")["value"]
    # additive: eta^2 = 4 / 5 and 1 / 5 exactly
    assert s1["a"] == pytest.approx(0.8) and s1["b"] == pytest.approx(0.2)


def test_pawn_sees_an_interaction_only_parameter_and_not_a_dummy(tmp_path):
    def ishigami_and_dummy(params, seed):
        return ishigami({k: params[k] for k in ("x1", "x2", "x3")}, seed)

    space = {**SPACE, "dummy": [0.0, 1.0]}
    store = sweep_function(ishigami_and_dummy, space, tmp_path / "s", sampler="latin", n=2000,
                           seed=4)
    a = analyze(store, num_resamples=50)
    pawn = a.indices.query("index == 'PAWN'").set_index("parameter")
    # x3 has no first-order effect (S1 = 0) but changes the output's distribution with x1
    assert pawn.loc["x3", "lower"] > pawn.loc["dummy", "value"]
    assert pawn.loc["x3", "value"] - pawn.loc["dummy", "value"] > 0.02
    assert min(pawn.loc["x1", "lower"], pawn.loc["x2", "lower"]) > pawn.loc["x3", "upper"]
    assert (pawn["conf"] > 0).all()


def test_sobol_convergence_reports_the_leading_blocks(tmp_path):
    from cisim.sweep.analyze import sobol_convergence

    store = sweep_function(ishigami, SPACE, tmp_path / "s", sampler="sobol", n=1024, seed=3)
    conv = sobol_convergence(store, "y", num_resamples=50)
    assert sorted(conv["n"].unique()) == [256, 512, 1024]
    st = conv.query("index == 'ST'").pivot(index="n", columns="parameter", values="value")
    # the estimates settle toward the analytic values as N grows
    err = (st - np.asarray(ISHIGAMI_ST)).abs().max(axis=1)
    assert err.loc[1024] < 0.1
    ci = conv.query("index == 'ST'").groupby("n")["conf"].mean()
    assert ci.loc[1024] < ci.loc[256]


def test_pawn_median_is_salibs():
    from SALib.analyze import pawn

    from cisim.sweep.analyze import pawn_median

    rng = np.random.default_rng(5)
    X = rng.random((1501, 3))
    for y in (X @ [1.0, 2.0, 0.0] + rng.random(1501), np.round(X @ [1.0, 0.5, 0.2], 1)):
        ours = pawn_median(X, y)
        theirs = pawn.analyze({"num_vars": 3, "names": ["a", "b", "c"],
                               "bounds": [[0.0, 1.0]] * 3}, X, y, S=10)["median"]
        assert np.allclose(ours, theirs, atol=1e-12)


def test_a_zero_bootstrap_seed_is_refused(tmp_path):
    store = sweep_function(ishigami, SPACE, tmp_path / "s", sampler="latin", n=20, seed=3)
    with pytest.raises(ValueError, match="positive"):
        analyze(store, seed=0)


def test_cisim_analyze_twice_writes_byte_identical_files(tmp_path):
    """Two ``cisim analyze`` of one store, in separate processes with other hash seeds, agree to
    the byte in every table and figure (bootstrap and discovery are seeded; no time stamps)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    sweep_function(noisy_ishigami, SPACE, tmp_path / "store", sampler="sobol", n=32,
                   replications=2, seed=4)
    root = Path(__file__).resolve().parents[1]
    outs = []
    for hash_seed in ("1", "2"):
        out = tmp_path / f"analysis{hash_seed}"
        done = subprocess.run(
            [sys.executable, "-m", "cisim", "analyze", str(tmp_path / "store"), "--out",
             str(out), "--discover", "y>5", "--probability", "0.5", "--resamples", "50"],
            cwd=root, capture_output=True, text=True, timeout=300,
            env=dict(os.environ, PYTHONHASHSEED=hash_seed))
        assert done.returncode == 0, done.stderr
        outs.append(out)
    names = sorted(p.relative_to(outs[0]).as_posix() for p in outs[0].rglob("*") if p.is_file())
    assert {"indices.csv", "indices_over_time.csv", "runs.csv", "noise.csv"} <= set(names)
    assert any(n.endswith(".png") for n in names) and any("prim" in n for n in names), names
    assert names == sorted(p.relative_to(outs[1]).as_posix() for p in outs[1].rglob("*")
                           if p.is_file())
    differ = [n for n in names if (outs[0] / n).read_bytes() != (outs[1] / n).read_bytes()]
    assert differ == []
