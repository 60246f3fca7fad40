"""Investment: money into the pooled fund, funders reacting to measured results.

Save the Children Sweden 2021 (investment component: early financial and human capital, funders
involved from the initial phase) and NCIOM task force (financial resources for at least 2-3 years
with an anchor funder). Each funding line is reviewed when its commitment ends; with
``conditional_on_results`` a funder renews with log-odds rising with the measured population change
and with early involvement. The backbone is paid first, then the data system, then programmes. The
counterfactual world gets exactly the factual world's money each week, all of it for programmes
("the same money").
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from cisim.kernels import S_RENEW
from cisim.mechanisms.base import is_counterfactual
from cisim.rng import u01
from cisim.scenario import STEPS_PER_YEAR
from cisim.world import FundingLine, World

if TYPE_CHECKING:
    from cisim.context import StepContext


class Investment:
    """Funding lines, renewals, the funding cliff, and the spending order."""

    component = "investment"

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
        self._update_runway(model, world, 0)

    def step(self, model: StepContext, world: World) -> None:
        """Review lines whose commitment ends, collect this week's money and spend it."""
        t = model.steps
        if is_counterfactual(model, world):
            self._mirror(model.factual, world)
            return
        cliff = model.design.funding.max_years
        paying = cliff is None or t < cliff * STEPS_PER_YEAR
        income = 0.0
        # each line in turn: its review, then what it pays (a review changes only its line,
        # and the draws are counter-based, so one pass is the same as a pass of each)
        for idx, line in enumerate(world.funding):
            if line.active:
                if line.partner >= 0 and not world.active[line.partner]:
                    line.active = False
                    model.log(world, "funding", f"{line.name} stopped its grant on leaving")
                elif t >= line.end_step:
                    self._review(model, world, idx, line, t)
            line.paid = (line.amount / STEPS_PER_YEAR
                         if paying and line.active and t >= line.start_step else 0.0)
            income += line.paid
        if not paying and not self._cliff_logged:
            self._cliff_logged = True
            model.log(world, "funding", f"funding cliff: all money stops after {cliff:g} years")
        world.income = income
        self._spend(model, world)
        self._update_runway(model, world, t)

    # -- helpers -------------------------------------------------------------------------------

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

    def _spend(self, model: StepContext, world: World) -> None:
        sc = model.design
        money = world.income
        world.backbone_spend = world.measurement_spend = 0.0
        world.backbone_funded = 0.0
        if sc.backbone.present and not world.isolated:
            cost = sc.backbone.budget_per_year / STEPS_PER_YEAR
            pay = min(money, cost)
            world.backbone_spend = pay
            world.backbone_funded = pay / cost if cost > 0 else 1.0
            money -= pay
        if sc.measurement.shared and not world.isolated:
            pay = min(money, sc.measurement.investment_per_year / STEPS_PER_YEAR)
            world.measurement_spend = pay
            money -= pay
        world.programme_money = money

    def _update_runway(self, model: StepContext, world: World, t: int) -> None:
        cliff = model.design.funding.max_years
        stop = math.inf if cliff is None else cliff * STEPS_PER_YEAR
        committed = 0.0
        rate = 0.0
        for line in world.funding:
            if not line.active:
                continue
            # min(line.end_step, stop) and max(t, line.start_step), the same objects, without
            # the builtins' calls (every week, every line)
            end = stop if stop < line.end_step else line.end_step
            start = line.start_step if line.start_step > t else t
            if end > start:
                committed += line.amount * (end - start) / STEPS_PER_YEAR
            if line.start_step <= t < end or (t == 0 and line.start_step == 0):
                rate += line.amount
        world.runway_years = min(20.0, committed / rate) if rate > 0 else 0.0

    @staticmethod
    def _mirror(source: World, world: World) -> None:
        world.income = source.income
        world.backbone_spend = world.measurement_spend = 0.0
        world.backbone_funded = 0.0
        world.programme_money = source.income
        world.runway_years = source.runway_years
