"""Costs: who paid what, on what, in each year of a run (a tidy ledger).

The investment the SROI counts (Nicholls, Lawlor, Neitzert & Goodspeed 2012, *A guide to Social
Return on Investment*: "inputs" include contributions in kind) is the money into the pooled fund
plus the partners' coordination time valued at ``valuation.coordination_hour_cost``; it is
recorded week by week in the factual world only (the counterfactual spends the same money).
The ledger splits it by funder and by use, and adds the partners' own service budgets, which are
spent in both worlds alike and are therefore *not* counted as investment in the partnership.

Rows (one per year, side, category and item; amounts in the scenario's currency, undiscounted):

- ``side = "source"``: ``funding stream`` (one row per stream), ``partner grant`` (per granting
  partner), ``coordination time`` (per partner: hours of coordination work and meetings times
  the hourly cost), ``partner budget`` (per partner, not counted);
- ``side = "use"``: ``backbone``, ``shared measurement``, ``programmes`` (the pooled fund, in
  the order the investment mechanism pays them), ``coordination`` (the time) and ``partner
  services`` (the own budgets, not counted).

In every year the counted sources equal the counted uses, and their sum over the years equals
the trajectory's ``cumulative_investment``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cisim.scenario import STEPS_PER_YEAR

if TYPE_CHECKING:
    from cisim.context import RunView

__all__ = ["COST_COLUMNS", "CostLedger", "cost_totals"]

#: Columns of a run's cost frame (an ensemble's adds ``replication`` first).
COST_COLUMNS = ("year", "side", "category", "item", "counted", "amount")

_USES = ("backbone", "shared measurement", "programmes", "coordination", "partner services")


class CostLedger:
    """Accumulates a run's money flows per year of the horizon (year k: steps 52(k-1)+1..52k)."""

    def __init__(self, model: RunView):
        sc = model.design
        self.model = model
        self.n_years = max(1, int(np.ceil(sc.steps / STEPS_PER_YEAR)))
        world = model.factual
        self.lines = list(world.funding)
        n = world.partners.n
        self.funding = np.zeros((self.n_years, len(self.lines)))
        self.time = np.zeros((self.n_years, n))
        self.budget = np.zeros((self.n_years, n))
        self.uses = np.zeros((self.n_years, len(_USES)))
        # the partners' own service money a week (their budgets are fixed for the run)
        self._weekly_budget = world.partners.budget / STEPS_PER_YEAR
        self._weekly_budget_total = float(self._weekly_budget.sum())

    def record(self, step: int) -> None:
        """Add this week's flows (nothing at step 0, as the recorder's investment)."""
        if step <= 0:
            return
        m = self.model
        f = m.factual
        year = min(self.n_years - 1, (step - 1) // STEPS_PER_YEAR)
        self.funding[year] += [line.paid for line in self.lines]
        time = 0.0
        if not f.isolated:
            hours = f.burden_hours + m.design.meetings.hours_per_meeting * f.attended
            week = hours * m.design.valuation.coordination_hour_cost
            self.time[year] += week
            time = float(np.add.reduce(week))  # week.sum() without its wrapper
        self.budget[year] += self._weekly_budget
        self.uses[year] += (f.backbone_spend, f.measurement_spend, f.programme_money, time,
                            self._weekly_budget_total)

    def frame(self) -> pd.DataFrame:
        """The ledger as a tidy frame with :data:`COST_COLUMNS`."""
        names = self.model.factual.partners.names
        rows: list[tuple[Any, ...]] = []
        for y in range(self.n_years):
            for j, line in enumerate(self.lines):
                kind = "partner grant" if line.partner >= 0 else "funding stream"
                rows.append((y + 1, "source", kind, line.name, True, self.funding[y, j]))
            for k, name in enumerate(names):
                if self.time[:, k].any():
                    rows.append((y + 1, "source", "coordination time", name, True,
                                 self.time[y, k]))
                if self.budget[:, k].any():
                    rows.append((y + 1, "source", "partner budget", name, False,
                                 self.budget[y, k]))
            for u, use in enumerate(_USES):
                rows.append((y + 1, "use", use, use, use != "partner services",
                             self.uses[y, u]))
        frame = pd.DataFrame(rows, columns=list(COST_COLUMNS))
        frame["amount"] = frame["amount"].astype(float)
        return frame


def cost_totals(costs: pd.DataFrame) -> pd.DataFrame:
    """Per replication, the counted investment in total and by source category.

    Args:
        costs: An ensemble's cost frame (with ``replication``) or one run's.

    Returns:
        One row per replication: ``total`` (counted sources) and one column per source
        category (``funding stream``, ``partner grant``, ``coordination time``, ``partner
        budget``; the last is not part of ``total``), and one per use.

    """
    if costs is None or costs.empty:
        return pd.DataFrame(columns=["replication", "total"])
    costs = costs if "replication" in costs.columns else costs.assign(replication=0)
    src = costs[costs["side"] == "source"]
    by_cat = src.pivot_table(index="replication", columns="category", values="amount",
                             aggfunc="sum", fill_value=0.0)
    counted = src[src["counted"].astype(bool)].groupby("replication")["amount"].sum()
    uses = costs[costs["side"] == "use"].pivot_table(
        index="replication", columns="category", values="amount", aggfunc="sum", fill_value=0.0)
    uses.columns = [f"use: {c}" for c in uses.columns]
    out = by_cat.join(uses, how="outer")
    out.insert(0, "total", counted.reindex(out.index).fillna(0.0))
    out.columns.name = None
    return out.reset_index()
