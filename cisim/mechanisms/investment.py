"""Investment: money into the pooled fund, funders reacting to measured results.

Save the Children Sweden 2021 (investment component: early financial and human capital, funders
involved from the initial phase) and NCIOM task force (financial resources for at least 2-3 years
with an anchor funder). Each funding line is reviewed when its commitment ends; with
``conditional_on_results`` a funder renews with log-odds rising with the measured population change
and with early involvement. The backbone is paid first, then the data system, then programmes. The
counterfactual world gets exactly the factual world's money each week, all of it for programmes
("the same money").

The week's arithmetic (payments, spending, runway, the mirror) is compiled
(:func:`cisim.mechanisms._investment.investment_week`) over a table of the lines' figures kept
beside ``world.funding``; the reviews stay here (they draw, ask the phase's emphasis and log).
The lines in ``world.funding`` are what the cost ledger and the report read: the mechanism
writes their fields as it changes its table, and reads the table back from them when the list
is replaced.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from cisim.kernels import S_RENEW
from cisim.mechanisms._investment import (
    L_ACTIVE,
    L_AMOUNT,
    L_END,
    L_N,
    L_PAID,
    L_PARTNER,
    L_START,
    MIRROR,
    PAID_CHANGED,
    R_BACKBONE,
    R_BACKBONE_COST,
    R_MEASUREMENT,
    R_MEASUREMENT_COST,
    R_N,
    R_STOP,
    RUNWAY,
    WEEK,
    investment_week,
)
from cisim.mechanisms.base import is_counterfactual
from cisim.rng import u01
from cisim.scenario import STEPS_PER_YEAR
from cisim.world import FundingLine, World

if TYPE_CHECKING:
    from cisim.context import StepContext


#: What the counterfactual's mirror passes for the lines and the rules it does not read.
_NO_LINES = np.zeros((0, L_N))
_NO_RULES = np.zeros(R_N)


class Investment:
    """Funding lines, renewals, the funding cliff, and the spending order."""

    component = "investment"

    def __init__(self) -> None:
        # per world (by id): its funding list, the list's table, the spending rules, the step
        # the money stops at (the list is kept: no other list can have its id)
        self._books: dict[int, tuple[list[FundingLine], np.ndarray, np.ndarray, float]] = {}
        self._cliff_logged = False

    def setup(self, model: StepContext, world: World) -> None:
        """Open the funding lines: external streams and partners' grants."""
        sc = model.design
        lines = []
        for s in sc.funding.streams:
            start = round(s.start_year * STEPS_PER_YEAR)
            lines.append(
                FundingLine(
                    name=s.name, amount=s.amount_per_year, start_step=start,
                    end_step=start + s.years * STEPS_PER_YEAR, renewable=s.renewable,
                    early=s.anchor or s.start_year <= sc.phases.min_initiation_years,
                )
            )
        p = world.partners
        for k in range(p.n):
            if p.grant[k] > 0:
                lines.append(
                    FundingLine(
                        name=p.names[k], amount=float(p.grant[k]), start_step=0,
                        # a Python float (the same double): a numpy scalar here made the
                        # runway, and every comparison with the week, numpy arithmetic
                        end_step=float(p.grant_years[k]) * STEPS_PER_YEAR, renewable=True,
                        early=True, partner=k,
                    )
                )
        world.funding = lines
        self._cliff_logged = False
        _, table, rules, _ = self._book(model, world)
        investment_week(RUNWAY, 0, 0, world.figures, world.figures, table, world.active, rules)

    def step(self, model: StepContext, world: World) -> None:
        """Review lines whose commitment ends, collect this week's money and spend it."""
        t = model.steps
        if is_counterfactual(model, world):  # (the mirror reads no line and no rule)
            investment_week(MIRROR, t, 0, world.figures, model.factual.figures, _NO_LINES,
                            world.active, _NO_RULES)
            return
        lines, table, rules, stop = self._book(model, world)
        figures = world.figures
        # each due line in turn is reviewed, then all pay (a review changes only its line, and
        # the draws are counter-based, so this is the same as a pass of each in turn)
        due = investment_week(WEEK, t, 0, figures, figures, table, world.active, rules)
        while due >= 0:
            line = lines[due]
            if line.partner >= 0 and not world.active[line.partner]:
                line.active = False
                model.log(world, "funding", f"{line.name} stopped its grant on leaving")
            else:
                self._review(model, world, due, line, t)
            table[due, L_ACTIVE] = line.active
            table[due, L_END] = line.end_step
            due = investment_week(WEEK, t, due + 1, figures, figures, table, world.active,
                                  rules)
        if due == PAID_CHANGED:  # (the lines' payments change in a few weeks of a run)
            self.copy_payments(world)
        if not t < stop and not self._cliff_logged:
            self._cliff_logged = True
            model.log(world, "funding", "funding cliff: all money stops after "
                      f"{model.design.funding.max_years:g} years")

    def copy_payments(self, world: World) -> None:
        """Copy the week's payments from the world's funding table to its funding lines.

        The compiled rule writes them into the table; the cost ledger reads the lines.
        """
        lines, table, _, _ = self._books[id(world)]
        for line, paid in zip(lines, table[:, L_PAID].tolist(), strict=True):
            line.paid = paid

    # -- helpers -------------------------------------------------------------------------------

    def _book(self, model: StepContext, world: World
              ) -> tuple[list[FundingLine], np.ndarray, np.ndarray, float]:
        """The world's funding lines, their table, the spending rules and the cliff's step.

        The table holds each line's figures in the columns ``L_*`` of
        :mod:`cisim.mechanisms._investment`; it is made again from the lines when
        ``world.funding`` is another list than the one it was made from (at set-up).
        """
        w = id(world)
        book = self._books.get(w)
        if book is not None and book[0] is world.funding:
            return book
        lines = world.funding
        table = np.zeros((len(lines), L_N))
        for i, line in enumerate(lines):
            table[i, L_AMOUNT] = line.amount
            table[i, L_START] = line.start_step
            table[i, L_END] = line.end_step
            table[i, L_ACTIVE] = line.active
            table[i, L_PARTNER] = line.partner
            table[i, L_PAID] = line.paid
        sc = model.design
        cliff = sc.funding.max_years
        rules = np.zeros(R_N)
        stop = math.inf if cliff is None else cliff * STEPS_PER_YEAR
        rules[R_STOP] = stop
        rules[R_BACKBONE] = sc.backbone.present and not world.isolated
        rules[R_BACKBONE_COST] = sc.backbone.budget_per_year / STEPS_PER_YEAR
        rules[R_MEASUREMENT] = sc.measurement.shared and not world.isolated
        rules[R_MEASUREMENT_COST] = sc.measurement.investment_per_year / STEPS_PER_YEAR
        book = self._books[w] = (lines, table, rules, stop)
        return book

    def _review(self, model: StepContext, world: World, idx: int, line: FundingLine,
                t: int) -> None:
        f = model.design.funding
        renew = line.renewable
        if renew and f.conditional_on_results:
            base = min(max(f.renewal_base_probability, 1e-6), 1 - 1e-6)
            logit = math.log(base / (1 - base))
            change = world.measured_rate - world.measured_baseline
            if math.isfinite(change):
                logit += f.renewal_per_point * 100.0 * change
            if line.early:
                logit += f.early_involvement_bonus
            logit += 2.0 * (model.emphasis(world, self.component) - 1.0)
            if line.partner >= 0:
                logit += 2.0 * (world.commitment[line.partner] - 0.5)
            prob = 1.0 / (1.0 + math.exp(-logit))
            renew = u01(model.kseed, t, idx, S_RENEW) < prob
        if renew:
            line.end_step = t + f.renewal_term_years * STEPS_PER_YEAR
            model.log(world, "funding", f"{line.name} renewed for {f.renewal_term_years:g} years")
        else:
            line.active = False
            model.log(world, "funding", f"{line.name} ended its funding")
