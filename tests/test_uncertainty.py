"""Parameter uncertainty in ensembles: draws, common random numbers, the variance split, the report.

The model runs here are tiny (a few hundred people, a year or two); the statistics are checked on
synthetic ensembles whose variance components are known.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cisim.cli import main
from cisim.priors import ParameterDistribution, _schema_default, registry
from cisim.report.compare import run_comparison
from cisim.report.html import report_html
from cisim.scenario import Scenario
from cisim.simulate import (
    combine,
    ensemble,
    forecast_distribution,
    parameter_plan,
    replication_seeds,
    simulate,
)
from cisim.uncertainty import (
    KEY_OUTCOMES,
    chance_band,
    top_assumptions,
    uncertainty_summary,
    variance_shares,
)

pytestmark = pytest.mark.usefixtures("one_numba_thread")


@pytest.fixture(scope="module")
def tiny(default_scenario: Scenario) -> Scenario:
    return default_scenario.with_overrides({"population.size": 400, "horizon_years": 1.0})


@pytest.fixture(scope="module")
def drawn() -> ParameterDistribution:
    dist = forecast_distribution(ParameterDistribution.from_priors())
    assert dist.names, "the priors table has no parameter to draw"
    return dist


def _float_path(paths: list[str]) -> str:
    """The first path whose field takes any real number (integer fields round the draws)."""
    return next(p for p in paths if isinstance(_schema_default(p), float))


# ---- draws ---------------------------------------------------------------------------------------


def test_plan_is_a_pure_function_of_seed_and_replication(tiny, drawn):
    _, four = parameter_plan(tiny, drawn, 4, seed=11)
    _, ten = parameter_plan(tiny, drawn, 10, seed=11)
    _, again = parameter_plan(tiny, drawn, 4, seed=11)
    _, other = parameter_plan(tiny, drawn, 4, seed=12)
    pd.testing.assert_frame_equal(four, again)
    pd.testing.assert_frame_equal(four, ten.iloc[:4])  # set j does not depend on the count
    assert list(four["parameter_set"]) == [0, 0, 1, 1]
    names = list(drawn.names)
    assert not four[names].equals(other[names])
    free = [p for p in names if p not in drawn.pinned(tiny)]
    assert free, "every drawn path is pinned by the default scenario"
    # two replications of a set share values; different sets differ
    assert (ten.groupby("parameter_set")[free].nunique() == 1).all().all()
    assert ten.groupby("parameter_set")[free].first().drop_duplicates().shape[0] == 5
    for p in free:
        lo, hi = registry()[p].support()
        assert ten[p].between(lo, hi).all()


def test_draws_are_reproducible_and_independent_of_workers(tiny):
    one = ensemble(tiny, 4, seed=5, n_jobs=1)
    two = ensemble(tiny, 4, seed=5, n_jobs=2)
    pd.testing.assert_frame_equal(one.parameters, two.parameters)
    pd.testing.assert_frame_equal(one.trajectories, two.trajectories)
    assert one.distribution["kind"] in ("prior", "posterior")
    assert one.distribution["seeds_per_draw"] == 2


def test_drawn_values_reach_the_runs(tiny, drawn):
    plan, table = parameter_plan(tiny, drawn, 4, seed=3)
    free = [p for p in drawn.names if p not in drawn.pinned(tiny)]
    for k, sc in enumerate(plan):
        data = sc.to_dict()
        for p in free:
            node: Any = data
            for part in p.split("."):
                node = node[part]
            assert node == pytest.approx(table.loc[k, p])


def test_seed_only_reproduces_fixed_parameter_runs_bit_for_bit(tiny):
    fixed = ensemble(tiny, 3, seed=9, parameters="seed_only", n_jobs=1)
    by_hand = combine(tiny, [simulate(tiny, s) for s in replication_seeds(9, 3)])
    for attr in ("trajectories", "summaries", "events", "phases", "partners"):
        pd.testing.assert_frame_equal(getattr(fixed, attr), getattr(by_hand, attr),
                                      check_exact=True)
    assert fixed.distribution["kind"] == "none"
    assert list(fixed.parameters.columns) == ["replication", "parameter_set"]
    drawn = ensemble(tiny, 3, seed=9, n_jobs=1)
    assert drawn.seeds == fixed.seeds  # the same seeds: only the assumptions differ
    assert not drawn.summaries["sroi_final"].equals(fixed.summaries["sroi_final"])


def test_forecasts_leave_the_valuation_judgments_to_the_strategist(tiny):
    everything = ParameterDistribution.from_priors()
    assert any(p.startswith("valuation.") for p in everything.names)
    res = ensemble(tiny, 2, seed=1, n_jobs=1)
    assert not any(str(c).startswith("valuation.") for c in res.parameters.columns)
    assert res.distribution["names"] and not any(
        p.startswith("valuation.") for p in res.distribution["names"])
    # an explicit distribution is used as given, valuation included
    _, table = parameter_plan(tiny, everything, 2, seed=1)
    assert any(str(c).startswith("valuation.") for c in table.columns)


def test_unknown_parameters_keyword_is_refused(tiny):
    with pytest.raises(ValueError, match="seed_only"):
        ensemble(tiny, 2, parameters="seeds")


# ---- common random numbers in compare --------------------------------------------------------


def test_compare_gives_every_design_the_same_draws_except_pinned_paths(tiny, drawn):
    free = [p for p in drawn.names if p not in drawn.pinned(tiny)]
    pin = _float_path(free)
    lo, hi = registry()[pin].support()
    value = lo + 0.37 * (min(hi, 10 * lo + 1) - lo)
    other = tiny.with_overrides({pin: value})
    comparison = run_comparison([tiny, other], ["a", "b"], replications=4, seed=21, n_jobs=1)
    pa = comparison.designs[0].result.parameters
    pb = comparison.designs[1].result.parameters
    rest = [p for p in free if p != pin]
    pd.testing.assert_frame_equal(pa[["replication", "parameter_set", *rest]],
                                  pb[["replication", "parameter_set", *rest]])
    assert pa[pin].nunique() == 2
    assert np.allclose(pb[pin], value)
    assert comparison.designs[0].result.seeds == comparison.designs[1].result.seeds


# ---- the variance split on synthetic ensembles with known shares ---------------------------------


@dataclass
class _Synthetic:
    summaries: pd.DataFrame
    parameters: pd.DataFrame
    scenario: Any
    distribution: dict[str, Any] = field(default_factory=dict)


def _synthetic(sets: int, seeds: int, slope: float, noise: float, seed: int = 0) -> _Synthetic:
    """outcome = slope * a + noise: Var from a is slope^2, from chance noise^2; b is inert."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(sets)
    b = rng.standard_normal(sets)
    g = np.repeat(np.arange(sets), seeds)
    y = slope * a[g] + noise * rng.standard_normal(sets * seeds)
    reps = np.arange(sets * seeds)
    summaries = pd.DataFrame({"replication": reps, "population_change_vs_cf_final": y,
                              "sroi_final": -y, "first_significant_change_year": np.nan})
    parameters = pd.DataFrame({"replication": reps, "parameter_set": g, "x.a": a[g],
                               "x.b": b[g]})

    class _Sc:
        horizon_years = 10.0

    return _Synthetic(summaries, parameters, _Sc(),
                      {"kind": "prior", "source": "test", "names": ["x.a", "x.b"], "pinned": [],
                       "seeds_per_draw": seeds})


@pytest.mark.parametrize(("slope", "noise"), [(2.0, 1.0), (1.0, 1.0), (0.5, 1.5), (0.0, 1.0)])
def test_variance_shares_recover_known_shares(slope, noise):
    truth = slope**2 / (slope**2 + noise**2)
    syn = _synthetic(3000, 2, slope, noise, seed=1)
    y = syn.summaries["population_change_vs_cf_final"].to_numpy()
    shares = variance_shares(y, syn.parameters["parameter_set"].to_numpy(), n_boot=300)
    assert shares is not None
    assert shares["share_parameters"] == pytest.approx(truth, abs=0.04)
    assert shares["var_chance"] == pytest.approx(noise**2, rel=0.08)
    assert shares["share_parameters"] + shares["share_chance"] == pytest.approx(1.0)
    assert shares["low"] - 0.02 <= truth <= shares["high"] + 0.02


def test_variance_share_intervals_cover_the_truth_at_small_sizes():
    """At report-like sizes (50 draws of 2) the 90% interval covers the truth most of the time."""
    truth = 0.5
    covered = 0
    for rep in range(60):
        syn = _synthetic(50, 2, 1.0, 1.0, seed=100 + rep)
        s = variance_shares(syn.summaries["population_change_vs_cf_final"],
                            syn.parameters["parameter_set"], n_boot=300, seed=rep)
        covered += s["low"] <= truth <= s["high"]
    assert covered / 60 >= 0.75


@settings(max_examples=30, deadline=None)
@given(sets=st.integers(3, 30), seeds=st.integers(2, 4), slope=st.floats(0, 5),
       seed=st.integers(0, 2**16))
def test_variance_shares_are_shares(sets, seeds, slope, seed):
    syn = _synthetic(sets, seeds, slope, 1.0, seed)
    s = variance_shares(syn.summaries["population_change_vs_cf_final"],
                        syn.parameters["parameter_set"], n_boot=50)
    assert s is not None
    assert 0.0 <= s["share_parameters"] <= 1.0
    assert s["share_parameters"] + s["share_chance"] == pytest.approx(1.0)
    assert 0.0 <= s["low"] <= s["high"] <= 1.0


def test_no_split_without_repeated_sets():
    assert variance_shares(np.arange(10.0), np.arange(10)) is None
    assert variance_shares(np.arange(4.0), [0, 0, 1, 1]) is None  # two sets are too few


def test_top_assumptions_name_the_driving_parameter_with_its_direction():
    syn = _synthetic(200, 2, 1.5, 1.0, seed=4)
    top = top_assumptions(syn, KEY_OUTCOMES[0])
    assert top[0]["path"] == "x.a" and top[0]["direction"] == "raises"
    assert top[0]["rho"] > 0.6
    assert abs(next(t["rho"] for t in top if t["path"] == "x.b")) < 0.2
    sroi = top_assumptions(syn, KEY_OUTCOMES[1])
    assert sroi[0]["path"] == "x.a" and sroi[0]["direction"] == "lowers"


def test_summary_censors_time_to_change_at_the_horizon():
    syn = _synthetic(40, 2, 1.0, 1.0, seed=5)
    summary = uncertainty_summary(syn)
    assert summary["shares"]["time_to_change"] is None or \
        summary["shares"]["time_to_change"]["var_total"] == 0.0
    assert summary["shares"]["population_change"]["sets"] == 40
    assert not summary["seed_only"]


def test_chance_band_is_the_within_set_spread():
    """Three sets far apart, each with seeds one either side: chance is +-1.645 sd of them."""
    steps = np.arange(3)
    rows = []
    for rep, (offset, jitter) in enumerate([(0, -1), (0, 1), (10, -1), (10, 1), (20, -1),
                                            (20, 1)]):
        rows += [{"replication": rep, "step": s, "population_change_vs_cf": offset + jitter}
                 for s in steps]

    @dataclass
    class _R:
        trajectories: pd.DataFrame
        parameters: pd.DataFrame

    res = _R(pd.DataFrame(rows), pd.DataFrame({"replication": range(6),
                                               "parameter_set": [0, 0, 1, 1, 2, 2]}))
    band = chance_band(res)
    half = (band["chance_high"] - band["chance_low"]) / 2
    assert half.to_numpy() == pytest.approx(1.6448536 * math.sqrt(2.0))
    assert (band["high"] - band["low"] > band["chance_high"] - band["chance_low"]).all()
    # law of total variance: set means 0, 10, 20 (variance 100), chance 2 -> (100 - 1) / 101
    assert band["share_parameters"].to_numpy() == pytest.approx(99 / 101)
    # without three repeated sets there is nothing to split
    two = _R(res.trajectories[res.trajectories["replication"] < 4],
             res.parameters.iloc[:4])
    assert chance_band(two)["share_parameters"].isna().all()


# ---- the report ----------------------------------------------------------------------------


class _Keyed(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.spans: dict[str, float] = {}
        self.tables: list[str] = []
        self.ids: dict[str, str] = {}
        self._id: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "span" and "data-key" in a:
            self.spans[a["data-key"]] = float(a["data-value"])
        if tag == "table" and a.get("class"):
            self.tables.append(a["class"])
        if tag == "p" and a.get("id"):
            self._id = a["id"]
            self.ids[self._id] = ""

    def handle_endtag(self, tag):
        if tag == "p":
            self._id = None

    def handle_data(self, data):
        if self._id is not None:
            self.ids[self._id] += data


@pytest.fixture(scope="module")
def drawn_ensemble(tiny):
    return ensemble(tiny.with_overrides({"horizon_years": 2.0}), 12, seed=2, n_jobs=1)


def test_report_states_variance_shares_and_the_distribution(drawn_ensemble):
    text = report_html(drawn_ensemble, seed=2, source="tiny")
    page = _Keyed()
    page.feed(text)
    expected = uncertainty_summary(drawn_ensemble)
    shares = expected["shares"]["population_change"]
    assert shares is not None
    key = "uncertainty.shares.population_change.share_parameters"
    assert page.spans[key] == pytest.approx(shares["share_parameters"])
    assert page.spans["uncertainty.shares.population_change.share_chance"] == pytest.approx(
        shares["share_chance"])
    assert "variance-shares" in page.tables
    source = page.ids["uncertainty-source"]
    assert ("documented priors" in source) or ("calibrated posterior" in source)
    assert "understates the uncertainty" in source
    embedded = json.loads(text.split('id="cisim-numbers">', 1)[1].split("</script>", 1)[0])
    assert embedded["uncertainty"]["kind"] == drawn_ensemble.distribution["kind"]


def test_cli_seed_only_summary_says_it_understates(tiny_file, tmp_path):
    code, stdout, err = _run_cli(["run", str(tiny_file), "-n", "1", "-j", "1", "--no-figures",
                                  "--seed-only", "-o", str(tmp_path / "o")])
    assert code == 0, err
    assert "understate the uncertainty" in stdout
    info = json.loads((tmp_path / "o" / "distribution.json").read_text(encoding="utf-8"))
    assert info["kind"] == "none"


def test_seed_only_report_says_it_understates(tiny):
    fixed = ensemble(tiny, 2, seed=2, parameters="seed_only", n_jobs=1)
    page = _Keyed()
    page.feed(report_html(fixed))
    assert "understate the uncertainty" in page.ids["uncertainty-source"]
    assert "variance-shares" not in page.tables


# ---- the command line ----------------------------------------------------------------------


def _run_cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def tiny_file(tiny, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("scen") / "tiny.toml"
    tiny.save(path)
    return path


def test_cli_parameter_options_are_validated(tiny_file, tmp_path):
    code, _, err = _run_cli(["run", str(tiny_file), "--seed-only", "--parameters", "x.csv"])
    assert code == 2 and "not allowed with" in err
    code, _, err = _run_cli(["report", str(tiny_file), "--parameters",
                             str(tmp_path / "missing.csv")])
    assert code == 2 and "missing.csv" in err and "no such file" in err
    bad = tmp_path / "bad.csv"
    bad.write_text("dynamics.not_a_thing,weight\n0.1,1\n", encoding="utf-8")
    code, _, err = _run_cli(["compare", str(tiny_file), str(tiny_file), "--parameters", str(bad)])
    assert code == 2 and "bad.csv" in err and "dynamics.not_a_thing" in err
    assert "Traceback" not in err


def test_cli_run_with_a_posterior_file_records_and_reports_it(tiny_file, tmp_path, drawn):
    free = [p for p in drawn.names if p not in drawn.pinned(Scenario.from_toml(
        tiny_file.read_text(encoding="utf-8")))]
    p = _float_path(free)
    lo, hi = registry()[p].support()
    values = [lo + 0.25 * (min(hi, 10 * lo + 1) - lo), lo + 0.5 * (min(hi, 10 * lo + 1) - lo)]
    post = tmp_path / "post.csv"
    pd.DataFrame({p: values, "weight": [1.0, 3.0]}).to_csv(post, index=False)
    out = tmp_path / "run"
    code, stdout, err = _run_cli(["run", str(tiny_file), "-n", "4", "-j", "1", "--no-figures",
                                  "--parameters", str(post), "-o", str(out)])
    assert code == 0, err
    assert f"drew 1 uncertain assumption(s) from {post}" in stdout
    table = pd.read_csv(out / "parameters.csv")
    assert all(min(abs(x - v) for v in values) < 1e-12 for x in table[p])
    info = json.loads((out / "distribution.json").read_text(encoding="utf-8"))
    assert info["kind"] == "posterior" and info["source"] == str(post)
    code, _, err = _run_cli(["report", str(out)])
    assert code == 0, err
    page = _Keyed()
    page.feed((out / "report.html").read_text(encoding="utf-8"))
    assert "calibrated posterior" in page.ids["uncertainty-source"]
    code, _, err = _run_cli(["report", str(out), "--seed-only"])
    assert code == 2 and "--seed-only" in err


def test_forecasts_from_a_partial_posterior_still_draw_the_other_assumptions(tmp_path):
    import pandas as pd

    from cisim.priors import ParameterDistribution
    from cisim.simulate import forecast_distribution

    f = tmp_path / "post.csv"
    pd.DataFrame({"dynamics.service_efficacy": [0.5, 0.6], "weight": [1.0, 1.0]}).to_csv(
        f, index=False)
    dist = forecast_distribution(ParameterDistribution.from_posterior(f, rest_from_priors=True))
    assert not any(n.startswith("valuation.") for n in dist.names)
    draw = dist.draw(50, seed=2)
    assert set(draw["dynamics.service_efficacy"]) <= {0.5, 0.6}
    assert draw["dynamics.trust_gain"].nunique() == 50
