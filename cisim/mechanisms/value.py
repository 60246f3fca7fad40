"""Partners' realised value, commitment and exit (accountability, momentum, leaving).

Save the Children Sweden 2021: partners seek different value (social impact, knowledge,
reputation, engagement) and "the partner values can be very different for each partner"; Sopact
2019: maintaining momentum is a challenge; Kania & Kramer 2011: shared measurement lets
participants hold each other accountable; Ansell & Gash (2008): small wins feed commitment. Each
week a partner realises value of each kind at a rate in [0, 1]; its satisfaction is the rate
weighted by what it seeks. Commitment relaxes toward a target that rises with satisfaction and
accountability (measurement maturity) and falls with unabsorbed coordination work and with the
cadence of meetings (each meeting costs leaders' time beyond the hours at the table: Kania & Kramer
2011's leaders met monthly or biweekly; Huxham & Vangen 2005 on collaborative inertia); fatigue
erodes it. A partner leaves the partnership (and keeps serving the population alone) with a weekly
hazard that rises as both its satisfaction and its commitment fall below exit thresholds (members
leave collaborations that do not deliver the value they joined for: Huxham & Vangen 2005), or at
once if its commitment falls below 0.1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from cisim.kernels import S_EXIT
from cisim.mechanisms._value import (
    EXIT_COMMITMENT,
    MAX_PARTNERS,
    V_MEETING_COST,
    exit_chance,
    exits_possible,
    value_params,
    value_terms_rule,
    value_week,
)
from cisim.mechanisms.base import RunParams
from cisim.mechanisms.communication import own_trust
from cisim.rng import _u01_at, uniforms
from cisim.rng import key as rng_key
from cisim.scenario import STEPS_PER_YEAR
from cisim.world import World

if TYPE_CHECKING:
    from cisim.context import StepContext

VISIBILITY = {
    "initiation": 0.2, "run": 0.5, "redesign": 0.5, "exponential": 1.0,  # refined model (2021)
    "initiate": 0.2, "organize": 0.4, "sustain": 0.7,  # NCIOM (NCIOM task force)
}


class PartnerValue:
    """Realised value per partner and the commitment dynamics."""

    component = "value"

    def __init__(self) -> None:
        self._run: RunParams | None = None  # the run's constants of the week's terms

    def setup(self, model: StepContext, world: World) -> None:
        """No value realised yet."""
        world.realised[:] = 0.0
        world.value_rate[:] = 0.0
        # how far each partner's influence makes its work visible (fixed for the run)
        self._reach = np.minimum(1.0, world.partners.influence / 2.0) ** 0.5
        self._satisfaction = np.zeros(world.partners.n)  # the compiled week writes it

    def constants(self, model: StepContext) -> RunParams:
        """The run's constants of the mechanism's compiled rules (made once a run, kept)."""
        run = self._run = RunParams.kept(self._run, model, value_params)
        return run

    def step(self, model: StepContext, world: World) -> None:
        """Realise this week's value and update commitment; partners may leave."""
        if world.isolated:
            return
        p = world.partners
        visibility = model.phase_value(world, VISIBILITY, 0.3)
        run = self.constants(model)
        win, friction, fatigue_rate = _terms(world.figures, run.params)
        # meeting fatigue: each meeting costs leaders' time (subtracting 0.0 changes nothing)
        meeting_cost = run.params[V_MEETING_COST]
        compiled = p.n <= MAX_PARTNERS
        if compiled:  # with numpy's operations in numpy's order
            satisfaction = self._satisfaction
            # the kernel returns the lowest commitment (np.minimum.reduce's, NaN included)
            low = value_week(
                win, world.measurement, visibility, world.engagement, friction, meeting_cost,
                fatigue_rate, world.trust, self._reach, world.capacity, world.active, p.seeks,
                p.commitment0, world.value_rate, world.realised, world.commitment,
                satisfaction)
        else:
            satisfaction = self._numpy_week(world, win, visibility, friction, meeting_cost,
                                            fatigue_rate)
            low = float(np.minimum.reduce(world.commitment))  # (a Python float compares faster)
        self.leave(model, world, satisfaction, low)

    def leave(self, model: StepContext, world: World, satisfaction: np.ndarray,
              low: float) -> None:
        """This week's exits, after the commitment update (``low``: the lowest commitment).

        The end of :meth:`step` (and of the compiled week's, which hands over when ``low``
        says someone may leave): each partner that leaves is marked inactive and logged.
        """
        dyn = model.design.dynamics
        p = world.partners
        compiled = p.n <= MAX_PARTNERS
        # the hazard is zero for every partner whose commitment is at or above the exit
        # threshold: the draws are taken only when someone's is below it; and nobody leaves
        # while every commitment is at or above both thresholds (NaN: the full test)
        if not exits_possible(low, dyn.exit_commitment):
            return
        hazard_on = dyn.exit_commitment > 0 and low < dyn.exit_commitment
        if compiled:  # a few partners: the same draws and comparisons as Python floats
            leaving = _exits(model, world, satisfaction, hazard_on)
        else:
            leaving = world.active & (world.commitment < EXIT_COMMITMENT)
            if hazard_on:
                hazard = exit_hazard(satisfaction, world.commitment, dyn.exit_rate_per_year,
                                     dyn.exit_satisfaction, dyn.exit_commitment)
                if (hazard[world.active] > 0).any():
                    u = uniforms(model.kseed, model.steps, p.n, S_EXIT)
                    leaving |= world.active & (u < hazard)
            leaving = leaving.nonzero()[0]  # np.flatnonzero of a 1-D array without its wrappers
        for k in leaving:
            world.active[k] = False
            model.log(world, "partner", f"{p.names[k]} left the partnership")

    def _numpy_week(self, world: World, win: float, visibility: float, friction: float,
                    meeting_cost: float, fatigue_rate: float) -> np.ndarray:
        """:func:`cisim.mechanisms._value.value_week` in numpy; returns the satisfaction.

        The reference the compiled week is held to (``tests/test_mechanisms.py``), and the
        path for more than :data:`cisim.mechanisms._value.MAX_PARTNERS` partners.
        """
        p = world.partners
        rate = world.value_rate
        rate[:, 0] = win
        rate[:, 1] = world.measurement * own_trust(world)
        rate[:, 2] = visibility * self._reach
        rate[:, 3] = world.engagement * np.minimum(1.0, world.capacity / max(
            np.add.reduce(world.capacity) / p.n, 1e-9))  # the mean capacity
        if np.count_nonzero(world.active) < p.n:  # (a product by one changes no number)
            rate *= world.active[:, None]
        world.realised += rate / STEPS_PER_YEAR
        satisfaction = np.add.reduce(rate * p.seeks, axis=1)  # .sum(axis=1) without its wrapper
        target = p.commitment0 * (0.6 + 0.4 * world.measurement) + 0.3 * satisfaction
        target -= friction
        target -= meeting_cost
        fatigue = fatigue_rate * world.commitment
        world.commitment += (target - world.commitment - fatigue) / STEPS_PER_YEAR
        world.commitment.clip(0.0, 1.0, out=world.commitment)  # np.clip, one wrapper fewer
        return satisfaction


def _exits(model: StepContext, world: World, satisfaction: np.ndarray,
           hazard_on: bool) -> list[int]:
    """The partners who leave this week: the numpy path's test, partner by partner.

    An active partner leaves when its commitment is below :data:`EXIT_COMMITMENT`, or, with
    ``hazard_on``, when its draw is below :func:`exit_chance`. The chance is worked out only
    below the exit commitment (at or above it the commitment's shortfall is 0, so the chance
    is 0, or NaN with an infinite rate, and no draw falls below either) and the draw taken
    only for a positive chance (a draw is at least 0). The same doubles as
    :func:`exit_hazard` and :func:`cisim.rng.uniforms`; in Python floats, since exits are
    tested in a few weeks only and a dozen numpy calls on a few partners cost more than the
    loop.
    """
    dyn = model.design.dynamics
    min_commitment = dyn.exit_commitment
    commitment = world.commitment.tolist()
    active = world.active.tolist()
    leaving = []
    key = None
    for k, c in enumerate(commitment):
        if not active[k]:
            continue
        if c < EXIT_COMMITMENT:
            leaving.append(k)
        elif hazard_on and c < min_commitment:
            h = exit_chance(float(satisfaction[k]), c, dyn.exit_rate_per_year,
                            dyn.exit_satisfaction, min_commitment)
            if h > 0.0:
                if key is None:
                    key = rng_key(model.kseed, model.steps, S_EXIT)
                if _u01_at(key, k) < h:
                    leaving.append(k)
    return leaving


def _shortfall(value: np.ndarray, threshold: float) -> np.ndarray:
    """How far below ``threshold`` ``value`` lies, as a share of it, in [0, 1]."""
    if threshold <= 0:
        return np.zeros_like(value)
    share = (threshold - value) / threshold
    return share.clip(0.0, 1.0)  # np.clip, one wrapper fewer


def exit_hazard(satisfaction: np.ndarray, commitment: np.ndarray, rate_per_year: float,
                min_satisfaction: float, min_commitment: float) -> np.ndarray:
    """Weekly chance that each partner leaves.

    ``rate_per_year / 52 x s x c``, where ``s`` and ``c`` are the shortfalls of satisfaction
    and commitment below their exit thresholds as shares of the thresholds (0 at or above the
    threshold, 1 at zero). Both must fall: a committed partner stays through a lean spell, and
    a partner that gets what it came for stays even when its commitment wanes.

    Args:
        satisfaction: (N,) this week's satisfaction, 0-1.
        commitment: (N,) commitment, 0-1.
        rate_per_year: Hazard per year at zero satisfaction and zero commitment.
        min_satisfaction: Satisfaction below which the hazard is positive.
        min_commitment: Commitment below which the hazard is positive.

    Returns:
        (N,) weekly probabilities in [0, 1].
    """
    h = rate_per_year / STEPS_PER_YEAR * _shortfall(satisfaction, min_satisfaction) * _shortfall(
        commitment, min_commitment)
    return np.minimum(1.0, h)


# the compiled rule as a Python function (one copy of the rule)
_terms = getattr(value_terms_rule, "py_func", value_terms_rule)
