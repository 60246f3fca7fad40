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

from cisim.numeric import pairwise_rows
from cisim.scenario import STEPS_PER_YEAR
from cisim.world import F_BACKBONE_SPEND, F_MEASUREMENT_SPEND, F_PROGRAMME_MONEY

if TYPE_CHECKING:
    from cisim.context import RunView

__all__ = ["COST_COLUMNS", "CostLedger", "cost_totals"]

#: Columns of a run's cost frame (an ensemble's adds ``replication`` first).
COST_COLUMNS = ("year", "side", "category", "item", "counted", "amount")

_USES = ("backbone", "shared measurement", "programmes", "coordination", "partner services")
#: The world's figures of the first three uses (the money spent on them in the week).
_SPENT = [F_BACKBONE_SPEND, F_MEASUREMENT_SPEND, F_PROGRAMME_MONEY]


class CostLedger:
    """Accumulates a run's money flows per year of the horizon (year k: steps 52(k-1)+1..52k).

    A week keeps its flows (what each funding line paid, each partner's coordination hours;
    the spending is in the recorder's record of the world's figures); the yearly sums are
    worked out when they are read, adding the weeks in order from zero as week by week (the
    same bits).
    """

    def __init__(self, model: RunView, figures: np.ndarray):
        """Start an empty ledger.

        Args:
            model: The run.
            figures: The recorder's record of the factual world's figures, a row per step
                (:class:`cisim.outcomes.Recorder`; columns as :data:`cisim.world.FIGURES`),
                where the ledger reads each week's spending.
        """
        sc = model.design
        self.model = model
        self._figures = figures
        self.n_years = max(1, int(np.ceil(sc.steps / STEPS_PER_YEAR)))
        world = model.factual
        self.lines = list(world.funding)
        n = world.partners.n
        # the partners' own service money a week (their budgets are fixed for the run)
        self._weekly_budget = world.partners.budget / STEPS_PER_YEAR
        self._weekly_budget_total = float(self._weekly_budget.sum())
        self._steps: list[int] = []  # the weeks recorded (from 1)
        self._paid: list[list[float]] = []  # what each funding line paid, a week each
        self._coordinated: list[bool] = []  # whether the week's coordination time counts
        #: The meeting's hours for a partner that attends (the scenario's).
        self.hours_per_meeting = float(sc.meetings.hours_per_meeting)
        #: Each partner's coordination hours (work plus meetings), a row a week recorded
        #: (the recorder's compiled week writes them, :func:`cisim._outcomes.record_week`;
        #: zero where the time does not count).
        self.hours = np.zeros((sc.steps, n))
        self._sums: tuple[int, dict[str, np.ndarray]] = (-1, {})

    def record(self, step: int) -> int:
        """Keep this week's funding lines (nothing at step 0, as the recorder's investment).

        Returns:
            The week's row of :attr:`hours` (-1 at step 0), which the recorder's compiled week
            fills (:func:`cisim._outcomes.record_week`): recording a week is one compiled call.
        """
        if step <= 0:
            return -1
        week = len(self._steps)
        self._steps.append(step)
        self._paid.append([line.paid for line in self.lines])
        self._coordinated.append(not self.model.factual.isolated)
        return week

    @property
    def funding(self) -> np.ndarray:
        """Paid into the fund per year and funding line."""
        return self._yearly()["funding"]

    @property
    def time(self) -> np.ndarray:
        """Coordination time (valued) per year and partner."""
        return self._yearly()["time"]

    @property
    def budget(self) -> np.ndarray:
        """The partners' own service budgets per year and partner (not counted)."""
        return self._yearly()["budget"]

    @property
    def uses(self) -> np.ndarray:
        """Spent per year on each use (``_USES``)."""
        return self._yearly()["uses"]

    def _yearly(self) -> dict[str, np.ndarray]:
        """The yearly sums of the weeks recorded so far (kept until another week comes)."""
        k = len(self._steps)
        if self._sums[0] == k:
            return self._sums[1]
        design = self.model.design
        n = self.hours.shape[1]
        steps = np.array(self._steps, dtype=np.int64)
        # each year's weeks (steps come in order; the last year takes any beyond the horizon)
        year = np.minimum(self.n_years - 1, (steps - 1) // STEPS_PER_YEAR)
        bounds = np.searchsorted(year, np.arange(self.n_years + 1))
        # the week's coordination time, zero in a week that does not count it (adding a zero
        # to a total that started at zero changes no bit)
        counted = np.array(self._coordinated, dtype=np.bool_)
        time = np.where(counted[:, None], self.hours[:k] * design.valuation.coordination_hour_cost,
                        0.0)
        time_total = np.zeros(k)
        time_total[counted] = pairwise_rows(time[counted])  # each week's sum as np.add.reduce
        spent = self._figures[steps[:, None], _SPENT]  # (weeks, 3)
        uses = np.column_stack([spent, time_total, np.full(k, self._weekly_budget_total)])
        sums = {
            "funding": _year_sums(np.array(self._paid, dtype=float).reshape(k, len(self.lines)),
                                  bounds),
            "time": _year_sums(time, bounds),
            "budget": _year_sums(np.broadcast_to(self._weekly_budget, (k, n)), bounds),
            "uses": _year_sums(uses, bounds),
        }
        for array in sums.values():  # kept: a write into one would stay in the frames
            array.flags.writeable = False
        self._sums = (k, sums)
        return sums

    def frame(self) -> pd.DataFrame:
        """The ledger as a tidy frame with :data:`COST_COLUMNS`."""
        names = self.model.factual.partners.names
        sums = self._yearly()
        funding, time, budget, uses = sums["funding"], sums["time"], sums["budget"], sums["uses"]
        # a partner has rows of coordination time (of budget) if it has any in some year
        timed, budgeted = time.any(axis=0).tolist(), budget.any(axis=0).tolist()
        rows: list[tuple[Any, ...]] = []
        for y in range(self.n_years):
            for j, line in enumerate(self.lines):
                kind = "partner grant" if line.partner >= 0 else "funding stream"
                rows.append((y + 1, "source", kind, line.name, True, funding[y, j]))
            for k, name in enumerate(names):
                if timed[k]:
                    rows.append((y + 1, "source", "coordination time", name, True, time[y, k]))
                if budgeted[k]:
                    rows.append((y + 1, "source", "partner budget", name, False, budget[y, k]))
            for u, use in enumerate(_USES):
                rows.append((y + 1, "use", use, use, use != "partner services", uses[y, u]))
        frame = pd.DataFrame(rows, columns=list(COST_COLUMNS))
        frame["amount"] = frame["amount"].astype(float)
        return frame


def _year_sums(weeks: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Each year's sum of its weeks' rows, added in order from zero (``total += week``).

    Args:
        weeks: One row a week, in order.
        bounds: Where each year's weeks start in ``weeks``, and where the last year's end.
    """
    out = np.zeros((bounds.size - 1, weeks.shape[1]))
    for y, (a, b) in enumerate(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)):
        if b > a:  # np.cumsum adds in order; + 0.0 as the first addition to zero would (-0.0)
            out[y] = np.cumsum(weeks[a:b], axis=0)[-1] + 0.0
    return out


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
