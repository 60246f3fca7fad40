"""Investment: the compiled week's money against the rule, line by line and week by week.

The mechanism keeps its lines' figures in a table beside ``world.funding`` and writes a line's
``paid`` only in weeks some payment changes; these tests hold the lines the cost ledger reads,
and both worlds' money figures, to the rule stated in Python.
"""

from __future__ import annotations

import math

import pytest

from cisim import Scenario
from cisim.model import CollectiveImpactModel
from cisim.scenario import STEPS_PER_YEAR
from cisim.world import FundingLine

pytestmark = pytest.mark.usefixtures("one_numba_thread")

STREAMS = [
    {"name": "Anchor", "amount_per_year": 520000.0, "start_year": 0.0, "years": 1.0,
     "renewable": True, "anchor": True},
    {"name": "Late", "amount_per_year": 104000.0, "start_year": 0.5, "years": 0.5,
     "renewable": False, "anchor": False},
]


def _runway(lines: list[FundingLine], t: int, stop: float) -> float:
    committed = rate = 0.0
    for line in lines:
        if not line.active:
            continue
        end = min(line.end_step, stop)
        start = max(t, line.start_step)
        if end > start:
            committed += line.amount * (end - start) / STEPS_PER_YEAR
        if line.start_step <= t < end or (t == 0 and line.start_step == 0):
            rate += line.amount
    return min(20.0, committed / rate) if rate > 0 else 0.0


@pytest.mark.parametrize("cliff", [None, 1.25])
def test_lines_pay_and_both_worlds_get_the_money_as_the_rule_says(small: Scenario, cliff):
    """Each week: every line's payment, the income, the spending order, the runway, the mirror."""
    sc = small.with_overrides({"population.size": 300, "horizon_years": 2.0,
                               "funding.streams": STREAMS, "funding.max_years": cliff})
    model = CollectiveImpactModel(sc, rng=3)
    f, cf = model.factual, model.counterfactual
    stop = math.inf if cliff is None else cliff * STEPS_PER_YEAR
    backbone = sc.backbone.budget_per_year / STEPS_PER_YEAR
    data = sc.measurement.investment_per_year / STEPS_PER_YEAR
    changes = 0
    while model.running:
        before = [line.paid for line in f.funding]
        model.step()
        t = model.steps
        paid = [line.amount / STEPS_PER_YEAR if t < stop and line.active and t >= line.start_step
                else 0.0 for line in f.funding]
        assert [line.paid for line in f.funding] == paid
        changes += paid != before
        income = 0.0
        for p in paid:
            income += p
        assert f.income == income
        spend = min(income, backbone)
        assert (f.backbone_spend, f.backbone_funded) == (spend, spend / backbone)
        assert f.measurement_spend == min(income - spend, data)
        assert f.programme_money == income - spend - f.measurement_spend
        assert f.runway_years == _runway(f.funding, t, stop)
        assert (cf.income, cf.programme_money, cf.runway_years) == (income, income,
                                                                   f.runway_years)
        assert cf.backbone_spend == cf.backbone_funded == cf.measurement_spend == 0.0
    assert changes >= 3  # the late stream starts, a line ends or renews, the cliff


def test_a_new_funding_list_is_read_again(small: Scenario):
    """The table beside ``world.funding`` is made again when the list is another."""
    model = CollectiveImpactModel(small.with_overrides({"population.size": 300}), rng=1)
    for _ in range(3):
        model.step()
    world = model.factual
    world.funding = [FundingLine(name="only", amount=5200.0, start_step=0, end_step=1000.0,
                                 renewable=False, early=True)]
    model.step()
    assert world.funding[0].paid == 100.0
    assert world.income == 100.0
    assert model.counterfactual.income == 100.0
