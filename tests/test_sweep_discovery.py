"""Scenario discovery finds a region planted in a model function."""

from __future__ import annotations

import numpy as np
import pytest

from cisim.sweep import discover, sweep_function

pytest.importorskip("ema_workbench")
pytest.importorskip("sklearn")


def planted(params, seed):
    """10 inside x1 > 0.6 and x2 < 0.3, 0 outside, plus seed noise (sd 1)."""
    inside = params["x1"] > 0.6 and params["x2"] < 0.3
    return {"y": 10.0 * inside + np.random.default_rng(seed).normal()}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    store = sweep_function(planted, {"x1": [0, 1], "x2": [0, 1], "x3": [0, 1]},
                           tmp_path_factory.mktemp("d") / "s", sampler="latin", n=400,
                           replications=3, seed=4)
    return discover(store, {"outcome": "y", "above": 5.0, "probability": 0.8})


def test_points_of_interest_follow_the_probability_over_replications(found):
    pts = found.points
    inside = (pts["x1"] > 0.6) & (pts["x2"] < 0.3)
    # noise sd 1 cannot push 10 below 5 or 0 above 5 (5 sd): the label is the planted region
    assert (pts["of_interest"] == inside).all()
    assert set(pts["p_success"].round(6)) <= {0.0, 1.0}
    assert found.rule == "y > 5 in at least 80% of replications"


def test_prim_box_recovers_the_region(found):
    box = found.prim_box.set_index("parameter")
    assert box.loc["x1", "restricted"] and box.loc["x2", "restricted"]
    assert not box.loc["x3", "restricted"]
    # the chosen box is the widest with density >= 0.8: it holds the region, a little wider
    assert 0.5 <= box.loc["x1", "lower"] <= 0.62
    assert 0.28 <= box.loc["x2", "upper"] <= 0.4
    traj = found.prim_trajectory
    chosen = traj.iloc[found.prim_selected]
    assert chosen["density"] >= 0.8 and chosen["coverage"] >= 0.9
    assert (traj["density"].iloc[: found.prim_selected] < 0.8).all()
    # further along the trade-off, a pure box still covers most of the region
    assert ((traj["density"] == 1.0) & (traj["coverage"] >= 0.9)).any()


def test_tree_and_feature_scores_point_at_x1_and_x2(found):
    best = found.tree_boxes.iloc[0]
    assert "x1 >" in best["rule"] and "x2 <=" in best["rule"] and "x3" not in best["rule"]
    assert best["density"] > 0.9 and best["coverage"] > 0.9
    assert set(found.feature_scores["parameter"].iloc[:2]) == {"x1", "x2"}


def test_no_region_when_nothing_clears_the_threshold(found, tmp_path):
    store = sweep_function(planted, {"x1": [0, 0.5], "x2": [0, 1]}, tmp_path / "s",
                           sampler="latin", n=30, seed=1)
    res = discover(store, {"outcome": "y", "above": 5.0})
    assert "0 of 30" in res.note and res.prim_box.empty
