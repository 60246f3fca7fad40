"""The default mechanisms' week in one compiled call: each mechanism's rule, in order, both worlds.

:func:`week_rule` runs the week of :func:`cisim.mechanisms.DEFAULT_MECHANISMS` as their ``step``
methods do, mechanism by mechanism, the factual world then the counterfactual, calling the same
compiled rules that live beside each mechanism (``_investment.py``, ``_backbone.py``,
``_communication.py``, ``_agenda.py``, ``_engagement.py``, ``_measurement.py``,
``_activities.py``, ``_systems_change.py``, ``_value.py``): the same operations in the same
order, so the same doubles (``tests/test_week_kernel.py`` holds whole runs of both paths equal
bit for bit). A week called from Python paid ~40 dispatches and the Python between them; here it
pays one (:mod:`cisim.mechanisms.week` is its Python side).

What stays in Python hands the week back: the call returns the stage (a mechanism in a world,
``2 x mechanism + world``) where Python must run the mechanism's own step (a funding line's
review or the funding cliff's log, the Re-design's revisit of needs, the re-plan with eight or
more strategy areas (numpy's fitting), a week past the run's tables of draws), or
:data:`AFTER` plus the stage whose compiled week needs a Python ending (the payments copied to
the funding lines, a policy win's log, the partners who leave); the Python side does it and
calls again from the next stage. Python works out what changes with the
phase (the emphases, the visibility) before the call.
"""

from __future__ import annotations

import numpy as np

from cisim._population import past_rate_rule
from cisim.kernels import _inner, _jit, pairwise
from cisim.mechanisms._activities import activities_week, replan_rule
from cisim.mechanisms._agenda import agenda_terms_rule, agenda_week
from cisim.mechanisms._backbone import backbone_rule
from cisim.mechanisms._communication import communication_week, good_chance_rule, mean_trust
from cisim.mechanisms._engagement import engagement_week
from cisim.mechanisms._investment import MIRROR, PAID_CHANGED, WEEK, investment_week
from cisim.mechanisms._measurement import clip01, data_practice, measurement_week
from cisim.mechanisms._systems_change import systems_change_week
from cisim.mechanisms._value import (
    V_EXIT_COMMITMENT,
    V_MEETING_COST,
    anyone_leaves,
    exits_possible,
    value_terms_rule,
    value_week,
)
from cisim.world import (
    F_AGREEMENT,
    F_ENGAGEMENT,
    F_GOOD_INTERACTIONS,
    F_INTERACTIONS,
    F_MEASURED_RATE,
    F_MEASUREMENT,
    F_TRUST_MEAN,
)

__all__ = ["AFTER", "NEEDS", "STAGES", "week_rule"]

# The entries the week alone calls in a default run, as helpers compiled into it: the same
# functions, without the Python wrapper and cache entry of their own that a compiled call of
# their entries makes numba build (their entries compile when a mechanism's own step calls
# them). The money's and the activities' entries are called from Python at set-up already.
def _helper(entry):
    """``entry``'s function as an :func:`cisim.kernels._inner` helper (itself without the JIT)."""
    return _inner(getattr(entry, "py_func", entry))


communication_week = _helper(communication_week)
agenda_week = _helper(agenda_week)
engagement_week = _helper(engagement_week)
measurement_week = _helper(measurement_week)
systems_change_week = _helper(systems_change_week)
value_week = _helper(value_week)

#: The mechanisms in the order of :func:`cisim.mechanisms.DEFAULT_MECHANISMS`.
(M_INVESTMENT, M_BACKBONE, M_COMMUNICATION, M_AGENDA, M_ENGAGEMENT, M_MEASUREMENT, M_ACTIVITIES,
 M_SYSTEMS_CHANGE, M_VALUE, MECHANISMS) = range(10)

#: A week's stages: each mechanism in the factual world (0), then the counterfactual (1).
STAGES = 2 * MECHANISMS

#: Returned plus a stage: that stage ran compiled and needs its Python ending.
AFTER = 100

#: Returned when Python must give the needs' shares (nobody left with unmet need).
NEEDS = 200

#: Entries of the week's inputs from Python (the factual world's; an isolated world's emphases
#: are 1): the phase's emphasis on each component, the value's visibility, whether Re-design
#: began, whether the funding cliff is due to be logged.
(I_COMMUNICATION, I_AGENDA, I_ENGAGEMENT, I_MEASUREMENT, I_ACTIVITIES, I_SYSTEMS_CHANGE,
 I_VISIBILITY, I_REDESIGN, I_CLIFF, I_NEEDS_GIVEN, I_N) = range(11)

#: Entries of the run's constants of the week's control flow (the rules' own constants are in
#: their own arrays): the weeks between meetings and between re-plans, whether the re-plan runs
#: compiled (fewer than 8 areas) and the ideal plan's total weight, the contacts each
#: attendee seeks, the trust kept without contact and the damage's recovery a week, whether the
#: design does agenda work and pulls toward a proposal, whether measurement is shared, where
#: the unmet needs start in a row of the population's aggregates, and whether each world is
#: isolated (the counterfactual always is: the week reads the factual world's inputs and
#: draws only).
(K_INTERVAL, K_PLAN_INTERVAL, K_REPLAN, K_IDEAL_TOTAL, K_CONTACTS, K_KEEP, K_RECOVERY,
 K_AGENDA_WORK, K_PULLS, K_SHARED, K_NEEDS, K_ISOLATED) = range(12)
K_N = K_ISOLATED + 2  # (K_ISOLATED + w: whether world w is isolated)


@_jit(opt=1, no_cfunc_wrapper=True)
def week_rule(stage: int, t: int, inputs: np.ndarray, aggregates: np.ndarray,
              consts: np.ndarray, lines: np.ndarray,
              rules: np.ndarray, backbone: np.ndarray, streams: np.ndarray, meeting: np.ndarray,
              good: np.ndarray, agenda: np.ndarray, engagement: np.ndarray,
              measurement: np.ndarray, noise: np.ndarray, activities: np.ndarray,
              perceived: np.ndarray, start: np.ndarray, ideal_weights: np.ndarray,
              systems: np.ndarray, policy: np.ndarray, value: np.ndarray,
              exit_stream: np.ndarray, history: np.ndarray,
              influence: np.ndarray, budget: np.ndarray, staff_fte: np.ndarray,
              expertise: np.ndarray, own_priority: np.ndarray, seeks: np.ndarray,
              commitment0: np.ndarray, data_maturity: np.ndarray, reach: np.ndarray,
              flat: np.ndarray, moved: np.ndarray, work: np.ndarray, scratch: np.ndarray,
              satisfaction: np.ndarray, no_contacts: np.ndarray, need: tuple,
              figures: tuple, active: tuple, commitment: tuple, trust: tuple, damage: tuple,
              contacted: tuple, attended: tuple, position: tuple, allocation: tuple,
              capacity: tuple, coverage: tuple, plan: tuple, ideal_plan: tuple,
              perceived_need: tuple,
              burden_hours: tuple, assumed_need: tuple, value_rate: tuple,
              realised: tuple) -> int:
    """The week ``t`` of the default mechanisms from ``stage`` on, in place, in both worlds.

    Each stage is what the mechanism's ``step`` does in that world, with the same rules (see
    the module docstring); the run's constants are the mechanisms' own (``lines`` and
    ``rules`` the investment's, ``backbone`` the backbone's, ``streams``, ``meeting`` and
    ``good`` the communication's, ``agenda``, ``engagement``, ``measurement`` and ``noise``
    (the week's draws), ``activities``, ``perceived`` (the factual world's draws of each
    re-plan), ``start`` and ``ideal_weights`` (the plans' start and the ideal plan's weights),
    ``systems`` and ``policy`` (the week's draws), ``value`` and ``exit_stream``), ``consts``
    the control flow's (``K_*``), ``inputs`` the week's (``I_*``), ``history`` the factual
    world's outcome rate by week. The partners' arrays are the
    partner table's; the scratch arrays are the mechanisms'; each tuple holds an array of the
    factual world and one of the counterfactual.

    ``need`` receives, at stage 0 (unless ``inputs[I_NEEDS_GIVEN]``), each world's shares of
    unmet need over the strategy areas from the population's ``aggregates``:
    :meth:`cisim.model.CollectiveImpactModel.need_share`, which Python gives instead when
    nobody is left with unmet need.

    Returns:
        :data:`STAGES` when the week is done; a stage, which Python runs with the mechanism's
        own step before calling again from the next; :data:`AFTER` plus a stage that ran and
        needs its Python ending; or :data:`NEEDS`.
    """
    # The mechanisms' compiled entries are called with what Python gives them: int64s and
    # run-time bools, not literals (numba compiles a function again for a literal argument).
    yes = stage < STAGES
    no = not yes
    zero = np.int64(0)
    if stage == 0 and inputs[I_NEEDS_GIVEN] == 0.0:
        first = np.int64(consts[K_NEEDS])
        for w in range(2):
            share = need[w]
            areas = share.shape[0]
            for a in range(areas):
                share[a] = aggregates[w, first + a]
            total = pairwise(share, areas)
            if total <= 0.0:
                return NEEDS
            for a in range(areas):
                share[a] = share[a] / total
    for s in range(stage, STAGES):
        m = s >> 1
        w = s & 1
        isolated = consts[K_ISOLATED + w] != 0.0
        f = figures[w]
        if m == M_INVESTMENT:
            if w == 1:  # the counterfactual's money mirrors the factual world's
                investment_week(np.int64(MIRROR), t, zero, f, figures[0], lines, active[1],
                                rules)
                continue
            if inputs[I_CLIFF] != 0.0:
                return s
            due = investment_week(np.int64(WEEK), t, zero, f, f, lines, active[0], rules)
            if due >= 0:  # a line to review (nothing was changed)
                return s
            if due == PAID_CHANGED:
                return AFTER + s
        elif m == M_BACKBONE:
            backbone_rule(f, backbone, isolated, active[w], burden_hours[w])
        elif m == M_COMMUNICATION:
            interval = np.int64(consts[K_INTERVAL])
            meets = not isolated and interval > 0 and t % interval == 0
            contacts = 0.0
            p_good = 0.0
            if meets:
                contacts = consts[K_CONTACTS] * inputs[I_COMMUNICATION]
                p_good = good_chance_rule(f, good)
            interactions, good_ones = communication_week(
                t, streams, meeting, active[w], commitment[w], contacts, p_good, attended[w],
                trust[w], damage[w], contacted[w], position[w], meets, consts[K_KEEP],
                1.0 if isolated else consts[K_RECOVERY])
            f[F_INTERACTIONS] = interactions
            f[F_GOOD_INTERACTIONS] = good_ones
            f[F_TRUST_MEAN] = mean_trust(trust[w], active[w], flat)
        elif m == M_AGENDA:
            if isolated or consts[K_AGENDA_WORK] == 0.0:  # the agreement alone
                _, value_ = agenda_week(yes, position[w], influence, no_contacts, trust[w],
                                        0.0, 0.0, attended[w], active[w], no, 0.0, moved, work)
            else:
                bound, rate, pull = agenda_terms_rule(f, agenda, inputs[I_AGENDA])
                _, value_ = agenda_week(yes, position[w], influence, contacted[w], trust[w],
                                        bound, rate, attended[w], active[w],
                                        consts[K_PULLS] != 0.0, pull, moved, work)
            f[F_AGREEMENT] = value_
        elif m == M_ENGAGEMENT:
            if isolated:
                continue
            if inputs[I_REDESIGN] != 0.0:  # needs revisited (and logged)
                return s
            engagement_week(engagement, f, inputs[I_ENGAGEMENT], no, need[w],
                            assumed_need[w])
        elif m == M_MEASUREMENT:
            if w == 1:  # nothing reads the counterfactual's measurement
                continue
            if t >= noise.shape[0] or history[0] != history[0]:
                return s
            matures = not isolated and consts[K_SHARED] != 0.0
            data = 0.0
            best = 0.0
            emph = 0.0
            if matures:
                data, best = data_practice(data_maturity, active[0], flat)
                emph = inputs[I_MEASUREMENT]
            lag, error = measurement_week(f, measurement, matures, emph, data, best, noise[t])
            if lag - lag != 0.0:  # (NaN or infinite: Python's int fails on it)
                return AFTER + s
            f[F_MEASURED_RATE] = clip01(past_rate_rule(history, t - np.int64(lag)) + error)
        elif m == M_ACTIVITIES:
            row, rest = divmod(t, np.int64(consts[K_PLAN_INTERVAL]))
            if rest == 0:  # a re-plan
                if consts[K_REPLAN] == 0.0 or (not isolated and row >= perceived.shape[0]):
                    return s
                replan_rule(isolated, f, perceived[row if row < perceived.shape[0] else 0],
                            start, ideal_weights, consts[K_IDEAL_TOTAL], need[w],
                            assumed_need[w], capacity[w], ideal_plan[w], perceived_need[w],
                            plan[w], scratch[0], scratch[1], scratch[2])
            activities_week(isolated, yes, activities, f,
                            1.0 if isolated else inputs[I_ACTIVITIES], trust[w], active[w],
                            attended[w], burden_hours[w], allocation[w], capacity[w],
                            coverage[w], plan[w], ideal_plan[w], budget, staff_fte, expertise,
                            own_priority, need[w], scratch)
        elif m == M_SYSTEMS_CHANGE:
            if isolated:
                continue
            if t >= policy.shape[0]:
                return s
            if systems_change_week(f, systems, inputs[I_SYSTEMS_CHANGE], policy[t], active[w],
                                   influence):
                return AFTER + s  # the win is logged
        elif m == M_VALUE:
            if isolated:
                continue
            win, friction, fatigue_rate = value_terms_rule(f, value)
            low = value_week(win, f[F_MEASUREMENT], inputs[I_VISIBILITY], f[F_ENGAGEMENT],
                             friction, value[V_MEETING_COST], fatigue_rate, trust[w], reach,
                             capacity[w], active[w], seeks, commitment0, value_rate[w],
                             realised[w], commitment[w], satisfaction)
            if exits_possible(low, value[V_EXIT_COMMITMENT]) and anyone_leaves(
                    t, exit_stream, value, low, commitment[w], active[w], satisfaction):
                return AFTER + s  # (the mechanism's exits name who leaves, and log it)
    return STAGES
