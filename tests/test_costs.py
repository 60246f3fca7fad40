"""Tests of the cost ledger, the honest subset statistics of ``compare``, provenance records and
the summary's account of where futures ended."""

from __future__ import annotations

import math
import re
import tomllib
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cisim.costs import cost_totals
from cisim.provenance import changes_of, derive, format_change, strip_changes, toml_header
from cisim.report.compare import MIN_FOR_INTERVAL, _reach_text, describe_subset
from cisim.report.summary import format_summary
from cisim.scenario import Scenario, ScenarioError
from cisim.simulate import simulate

SMALL = """
name = "small"
description = "A small test design."
horizon_years = 3

[[partners]]
name = "Youth NGO"
sector = "nonprofit"
staff_fte = 4.0
budget_per_year = 60000.0

[[partners]]
name = "Foundation"
sector = "philanthropy"
staff_fte = 1.0
budget_per_year = 0.0
grant_per_year = 100000.0
grant_years = 3

[[partners]]
name = "Employer"
sector = "private"
staff_fte = 2.0
budget_per_year = 30000.0

[backbone]
budget_per_year = 150000.0

[measurement]
investment_per_year = 20000.0

[[funding.streams]]
name = "Anchor grant"
amount_per_year = 260000.0
years = 3
anchor = true

[population]
size = 400
mesa_agents = 0
"""


@pytest.fixture(scope="module")
def small() -> Scenario:
    return Scenario.from_toml(SMALL, source="SMALL")


@pytest.fixture(scope="module")
def run(small):
    return simulate(small, 11)


@pytest.fixture(scope="module")
def cliff_run(small):
    return simulate(small.with_overrides({"funding.max_years": 1.5}), 11)


# ---- the cost ledger ------------------------------------------------------------------------


def test_counted_sources_add_up_to_the_recorded_investment(run):
    costs = run.costs
    counted = costs[(costs["side"] == "source") & costs["counted"]]["amount"].sum()
    assert counted == pytest.approx(run.trajectory["cumulative_investment"].iloc[-1], rel=1e-12)
    assert counted > 0


def test_sources_equal_uses_every_year(run):
    costs = run.costs
    by = costs.groupby(["year", "side", "counted"])["amount"].sum().unstack("side")
    assert len(by) == 2 * 3  # three years, counted and not counted
    np.testing.assert_allclose(by["source"], by["use"], rtol=1e-12)


def test_funders_pay_their_amounts_and_budgets_are_not_counted(run, small):
    src = run.costs[run.costs["side"] == "source"]
    anchor = src[src["item"] == "Anchor grant"]
    assert set(anchor["category"]) == {"funding stream"}
    # weekly payments of amount / 52 from week 1; the commitment ends at week 156, where the
    # line is reviewed: renewed, it pays that week too, ended, it does not
    ended = run.events["message"].eq("Anchor grant ended its funding").any()
    last = 260000.0 * (51 / 52 if ended else 1.0)
    np.testing.assert_allclose(anchor.sort_values("year")["amount"], [260000.0, 260000.0, last],
                               rtol=1e-12)
    grant = src[src["item"] == "Foundation"]
    assert set(grant["category"]) == {"partner grant", "coordination time"}
    budgets = src[src["category"] == "partner budget"]
    assert not budgets["counted"].any()
    assert set(budgets["item"]) == {"Youth NGO", "Employer"}  # the foundation runs no services
    assert budgets["amount"].sum() == pytest.approx(3 * 90000.0, rel=1e-12)
    # the backbone is paid first, then the data system, while the fund has the money: in full
    # in the first two years; the third year's last week may fall short
    uses = run.costs[run.costs["side"] == "use"].pivot_table(
        index="year", columns="category", values="amount")
    np.testing.assert_allclose(uses.loc[[1, 2], "backbone"], 150000.0, rtol=1e-9)
    np.testing.assert_allclose(uses.loc[[1, 2], "shared measurement"], 20000.0, rtol=1e-9)
    assert uses.loc[3, "backbone"] <= 150000.0 * (1 + 1e-12)
    assert (uses["programmes"] >= 0).all()


def test_nothing_is_paid_into_the_fund_after_a_funding_cliff(cliff_run):
    src = cliff_run.costs[cliff_run.costs["side"] == "source"]
    fund = src[src["category"].isin(["funding stream", "partner grant"])]
    per_year = fund.groupby("year")["amount"].sum()
    assert per_year[1] == pytest.approx(360000.0, rel=1e-9)
    # money flows while the week number is below the cliff's (78): weeks 53 to 77 of year 2
    assert per_year[2] == pytest.approx(360000.0 * 25 / 52, rel=1e-9)
    assert per_year[3] == 0.0


def test_cost_totals_per_replication(run, cliff_run):
    frames = [r.costs.assign(replication=i) for i, r in enumerate((run, cliff_run))]
    totals = cost_totals(pd.concat(frames, ignore_index=True)).set_index("replication")
    for i, r in enumerate((run, cliff_run)):
        assert totals.loc[i, "total"] == pytest.approx(
            r.trajectory["cumulative_investment"].iloc[-1], rel=1e-12)
        parts = totals.loc[i, ["funding stream", "partner grant", "coordination time"]].sum()
        assert parts == pytest.approx(totals.loc[i, "total"], rel=1e-12)
    assert totals.loc[1, "total"] < totals.loc[0, "total"]


# ---- honest subset statistics ----------------------------------------------------------------


def test_one_future_of_twenty_is_not_an_interval():
    text = describe_subset([2.2] + [math.nan] * 19, kind="year")
    assert text == "2.2 (1 of 20 futures; too few for an interval)"
    assert "2.2 to 2.2" not in text


def test_equal_values_are_not_shown_as_certainty():
    text = describe_subset([2.2] * 7 + [math.nan] * 13, kind="year")
    assert text == "2.2 in each (7 of 20 futures; no spread)"


def test_few_values_are_listed():
    text = describe_subset([3.1, 2.2, 2.5, math.nan], kind="year")
    assert text == "values 2.2, 2.5, 3.1 (3 of 4 futures; too few for an interval)"


def test_enough_values_give_a_median_and_interval():
    values = np.arange(21, dtype=float)  # 5th, 50th, 95th percentiles: 1, 10, 19
    assert describe_subset(values, kind="year") == "median 10.0 (90% interval 1.0 to 19.0)"
    values[:2] = np.nan
    assert describe_subset(values, kind="year").endswith("(19 of 21 futures)")


def test_an_interval_never_reads_the_same_at_both_ends():
    values = 3.47e6 + np.arange(8.0)  # differ by a few dollars: "3.47 M" at both ends
    assert describe_subset(values, kind="money", currency="USD") == \
        "3.47 M USD in each (differences below the precision shown)"


def test_money_is_shortened_and_no_value_is_said():
    assert describe_subset([9.8e6], 20, "money", "USD") == \
        "9.8 M USD (1 of 20 futures; too few for an interval)"
    assert describe_subset([math.nan] * 3, kind="money") == "none of 3 futures"


def test_share_reaching_is_shown_next_to_the_time():
    assert _reach_text([2.2] + [math.nan] * 19, 20) == \
        "in 1 of 20 futures (5%), in year 2.2 (too few for an interval)"
    assert _reach_text([math.nan] * 4, 4) == "in none of 4 futures by the horizon"
    assert _reach_text(np.linspace(2, 4, 10), 10).startswith("in 10 of 10 futures (100%), "
                                                            "median year 3.0 (90% interval")


@given(st.lists(st.one_of(st.none(), st.floats(-1e9, 1e9, allow_nan=False)), min_size=1,
                max_size=40))
def test_subset_text_never_overstates(values):
    arr = np.array([np.nan if v is None else v for v in values], dtype=float)
    k, n = int(np.isfinite(arr).sum()), arr.size
    text = describe_subset(arr, kind="level")
    if 0 < k < n:
        assert f"{k} of {n} futures" in text
    if k == 0:
        assert text == f"none of {n} futures"
    m = re.search(r"interval (\S+) to (\S+)\)", text)
    if m:  # an interval only from enough values that differ, as shown
        assert k >= MIN_FOR_INTERVAL
        assert np.ptp(arr[np.isfinite(arr)]) > 0
        assert m.group(1) != m.group(2)
    else:  # no interval: too few values, no spread, or a spread the format cannot show
        assert (k < MIN_FOR_INTERVAL or np.ptp(arr[np.isfinite(arr)]) == 0
                or "below the precision shown" in text)


# ---- provenance ------------------------------------------------------------------------------


def test_derive_names_and_records_the_changes(small):
    changed = derive(small, [("--set", {"funding.max_years": 5, "backbone.present": False})],
                     "scenarios/small.toml")
    assert changed.name == "small (funding.max_years=5, backbone.present=false)"
    assert changed.funding.max_years == 5 and changed.backbone.present is False
    assert changes_of(changed) == ["Changed from scenarios/small.toml: --set "
                                   "funding.max_years=5 --set backbone.present=false"]
    assert strip_changes(changed.description) == "A small test design."
    assert derive(small, [("--set", {})], "x.toml") is small
    assert changes_of(small) == []


def test_what_if_after_set_and_a_renamed_design(small):
    changed = derive(small, [("--set", {"population.size": 200}),
                             ("--what-if", {"meetings.cadence": "monthly"})], "a.toml")
    assert changed.name == "small (population.size=200, meetings.cadence=monthly)"
    assert changes_of(changed)[0].endswith("--set population.size=200 --what-if "
                                           "meetings.cadence=monthly")
    renamed = derive(small, [("--set", {"name": "mine", "valuation.currency": "euro zone"})],
                     "a.toml")
    assert renamed.name == 'mine (valuation.currency="euro zone")'


def test_derive_reports_bad_overrides_like_files(small):
    with pytest.raises(ScenarioError, match=r"funding\.max_years"):
        derive(small, [("--set", {"funding.max_years": -1})], "a.toml", source="--set")


def test_saved_scenario_with_header_round_trips(small, tmp_path):
    changed = derive(small, [("--set", {"funding.max_years": 2})], "small.toml")
    path = tmp_path / "scenario.toml"
    path.write_text(toml_header(changed, "cisim run") + changed.to_toml(), encoding="utf-8")
    again = Scenario.load(path)
    assert again == changed
    assert changes_of(again) == changes_of(changed)
    assert tomllib.loads(path.read_text(encoding="utf-8"))["name"] == changed.name
    assert "#   Changed from small.toml: --set funding.max_years=2" in path.read_text()
    assert format_change("a.b", [1, 2.5]) == "a.b=[1, 2.5]"
    assert format_change("a", {"x": True, "y": "p q"}) == 'a={x = true, y = "p q"}'


# ---- the summary: where futures ended --------------------------------------------------------


def _fake(phases_per_rep: list[list[str]]) -> SimpleNamespace:
    frames = []
    for rep, phases in enumerate(phases_per_rep):
        steps = np.arange(len(phases)) * 52
        frames.append(pd.DataFrame({
            "replication": rep, "step": steps, "year": steps / 52.0, "phase": phases,
            "phase_blockers": "", "population_change_vs_cf": 0.0,
        }))
    return SimpleNamespace(trajectories=pd.concat(frames, ignore_index=True),
                           summaries=pd.DataFrame({"replication": range(len(phases_per_rep))}),
                           scenario=None)


def test_summary_says_where_futures_ended_and_who_fell_back():
    result = _fake([
        ["Initiation", "Run", "Run", "Initiation", "Initiation"],   # fell back in year 3, stayed
        ["Initiation", "Run", "Initiation", "Initiation", "Initiation"],  # fell back in year 2
        ["Initiation", "Run", "Re-design", "Run", "Run"],          # ended in Run
        ["Initiation", "Initiation", "Initiation", "Initiation", "Initiation"],  # never left
    ])
    text = format_summary(result)
    block = text[text.index("Phase at the horizon"):]
    assert "Initiation: 3/4 (75%)" in block
    assert "Run:        1/4 (25%)" in block
    assert "Re-design:  0/4 (0%)" in block
    assert "2 of 4 replication(s) (50%) left Initiation, fell back to it and stayed there" in text
    assert "(median year of the fall 2.5)" in text
    assert "1 of 4 replication(s) never left Initiation" in text


def test_summary_says_when_no_future_fell_back():
    text = format_summary(_fake([["Initiation", "Run"], ["Initiation", "Run"]]))
    assert "Run:        2/2 (100%)" in text[text.index("Phase at the horizon"):]
    assert "no replication fell back to its first phase and stayed there" in text
