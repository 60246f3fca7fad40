"""The compiled week against the mechanisms stepped one by one, bit for bit.

:class:`cisim.mechanisms.week.CompiledWeek` runs the week of the nine default mechanisms in one
compiled call (:func:`cisim.mechanisms._week.week_rule`) and must give the numbers of stepping
them one by one (``USE_COMPILED_WEEK = False``). This module holds:

- whole runs of both paths equal bit for bit, every frame of the result and the summary, on
  the six shipped scenarios and on designs that make the week hand back to Python for each of
  its reasons (a funding line's review, the funding cliff's log, Re-design's revisit of needs,
  the monthly re-plan, the payments copied to the lines, a policy win's log, partners
  leaving), each case also checked to have made those hand-backs and logged their events, so
  that none of them passes without the path it is there for;
- the models that get no compiled week (mechanisms that are not the defaults in their order,
  replaced after construction, more than :data:`cisim.kernels.MAX_PAIRWISE` partners) and
  still run, with the same numbers where their mechanisms do the same;
- the compiled helpers the week calls against their numpy twins, bit for bit:
  :func:`cisim.kernels.pairwise_long` against ``np.add.reduce``,
  :func:`cisim.mechanisms._communication.mean_trust` against the communication's
  ``_mean_trust``, :func:`cisim.mechanisms._measurement.data_practice` against the
  measurement's ``_data_practice``, :func:`cisim._population.past_rate_rule` against its
  plain definition, and the exits' test :func:`cisim.mechanisms._value.anyone_leaves` against
  the mechanism's ``_exits``.

The helpers are ``_inner`` functions (callable only from compiled code), so each is called
through a small ``numba.njit`` function here (plain Python under ``NUMBA_DISABLE_JIT=1``).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import struct
from collections import Counter
from collections.abc import Iterable
from functools import cache
from typing import Any

import numba
import numpy as np
import pandas as pd
import pytest

import cisim.mechanisms.week as week_module
from cisim._population import past_rate_rule
from cisim.kernels import MAX_PAIRWISE, pairwise_long
from cisim.mechanisms import DEFAULT_MECHANISMS
from cisim.mechanisms._communication import mean_trust
from cisim.mechanisms._measurement import data_practice
from cisim.mechanisms._value import anyone_leaves, exit_stream, exits_possible, value_params
from cisim.mechanisms._week import (
    AFTER,
    M_ACTIVITIES,
    M_AGENDA,
    M_BACKBONE,
    M_COMMUNICATION,
    M_ENGAGEMENT,
    M_INVESTMENT,
    M_MEASUREMENT,
    M_SYSTEMS_CHANGE,
    M_VALUE,
    NEEDS,
    STAGES,
)
from cisim.mechanisms.communication import _mean_trust
from cisim.mechanisms.measurement import _data_practice
from cisim.mechanisms.value import PartnerValue, _exits
from cisim.model import CollectiveImpactModel
from cisim.scenario import BUNDLED_SCENARIOS, Scenario
from cisim.simulate import SimulationResult, result_of, simulate
from cisim.world import World, build_partners

pytestmark = pytest.mark.usefixtures("one_numba_thread")

# ---- comparing results bit for bit ------------------------------------------------------------


def _bits(x: float) -> bytes:
    """The double's bytes; every NaN alike (numpy and the frames do not tell NaNs apart)."""
    return b"nan" if math.isnan(x) else struct.pack("<d", x)


def _float_difference(a: np.ndarray, b: np.ndarray) -> int | None:
    """The first position where two float arrays differ bit for bit (NaNs alike), or None."""
    a = np.ascontiguousarray(a, dtype=float)
    b = np.ascontiguousarray(b, dtype=float)
    same = (a.view(np.uint64) == b.view(np.uint64)) | (np.isnan(a) & np.isnan(b))
    bad = np.flatnonzero(~same)
    return int(bad[0]) if bad.size else None


def _assert_frames_identical(a: pd.DataFrame, b: pd.DataFrame, what: str) -> None:
    """``a`` and ``b`` equal exactly, float columns also bit for bit (so -0.0 is not 0.0).

    On a difference the message names the frame, the column and the first differing row with
    both values (the compiled run's first).
    """
    try:
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=what)
    except AssertionError as error:
        detail = ""
        if list(a.columns) == list(b.columns) and len(a) == len(b):
            for column in a.columns:
                x, y = a[column].to_numpy(), b[column].to_numpy()
                rows = np.flatnonzero(~((x == y) | (pd.isna(x) & pd.isna(y))))
                if rows.size:
                    r = int(rows[0])
                    detail = (f"; first difference: column {column!r}, row {r} "
                              f"({a.iloc[r].to_dict()}): compiled {x[r]!r}, one by one {y[r]!r}")
                    break
        raise AssertionError(f"{what} differ{detail}\n{error}") from None
    for column in a.columns:
        if a[column].dtype.kind == "f":
            row = _float_difference(a[column].to_numpy(), b[column].to_numpy())
            assert row is None, (
                f"{what}: column {column!r}, row {row}: compiled "
                f"{a[column].iloc[row]!r} is not one by one's {b[column].iloc[row]!r} bit for bit")


def _same_value(a: Any, b: Any) -> bool:
    """Equal, floats bit for bit (NaNs alike), containers item by item."""
    if isinstance(a, float | np.floating) and isinstance(b, float | np.floating):
        return _bits(float(a)) == _bits(float(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_value(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _assert_results_identical(compiled: SimulationResult, reference: SimulationResult,
                              label: str) -> None:
    """Every DataFrame of the two results, and the summary, equal bit for bit."""
    frames = [f.name for f in dataclasses.fields(SimulationResult)
              if isinstance(getattr(compiled, f.name), pd.DataFrame)]
    # the result's frames as the class has them (a frame added later is compared too)
    assert {"trajectory", "subgroups", "partners", "partner_values", "events", "phases",
            "costs"} <= set(frames)
    assert len(compiled.trajectory) == compiled.scenario.steps + 1
    for name in frames:
        _assert_frames_identical(getattr(compiled, name), getattr(reference, name),
                                 f"{label}: {name}")
    assert compiled.summary, label
    for key in compiled.summary.keys() | reference.summary.keys():
        assert key in compiled.summary and key in reference.summary, f"{label}: summary {key}"
        assert _same_value(compiled.summary[key], reference.summary[key]), (
            f"{label}: summary {key!r}: compiled {compiled.summary[key]!r}, "
            f"one by one {reference.summary[key]!r}")


# ---- the week's hand-backs to Python ---------------------------------------------------------

_MECHANISM_NAMES = {M_INVESTMENT: "investment", M_BACKBONE: "backbone",
                    M_COMMUNICATION: "communication", M_AGENDA: "agenda",
                    M_ENGAGEMENT: "engagement", M_MEASUREMENT: "measurement",
                    M_ACTIVITIES: "activities", M_SYSTEMS_CHANGE: "systems_change",
                    M_VALUE: "value"}

#: The hand-backs of a week (see :mod:`cisim.mechanisms._week`): the mechanism's own step in
#: Python ("... step") or the Python ending of a stage that ran compiled ("... ending").
REVIEW = "investment step"  # a funding line's review, or the funding cliff's log
PAYMENTS = "investment ending"  # the week's payments copied to the funding lines
REDESIGN = "engagement step"  # Re-design: needs revisited with beneficiaries (and logged)
REPLAN = "activities step"  # the re-plan every PLAN_INTERVAL weeks, with 8 or more areas
POLICY_WIN = "systems_change ending"  # a policy win's log
EXITS = "value ending"  # partners who may leave, tested and logged in Python


def _handback(result: int) -> str | None:
    """The hand-back a return value of ``week_rule`` asks for (None: the week is done)."""
    if result == STAGES:
        return None
    if result == NEEDS:
        return "needs"
    stage = result - AFTER if result >= AFTER else result
    kind = "ending" if result >= AFTER else "step"
    return f"{_MECHANISM_NAMES[stage >> 1]} {kind}"


class _WeekSpy:
    """``week_rule`` as the week calls it, noting the weeks begun and each value returned."""

    def __init__(self, rule: Any) -> None:
        self.rule = rule
        self.weeks = 0
        self.returns: Counter[int] = Counter()

    def __call__(self, stage: int, *args: Any) -> int:
        if stage == 0:
            self.weeks += 1
        result = self.rule(stage, *args)
        self.returns[result] += 1
        return result

    def handbacks(self) -> set[str]:
        return {h for h in map(_handback, self.returns) if h is not None}


# ---- the cases of whole runs -----------------------------------------------------------------

SMALL = {"population.size": 400}

#: A partnership that goes badly, so partners leave (tests/test_mechanisms.py's value test).
BADLY = {"backbone.present": False, "dynamics.good_experience_facilitation": 0.0,
         "dynamics.good_experience_base": 0.35}

#: What every run hands back: the payments (the money starts in week 1). (The re-plan runs
#: compiled below eight strategy areas, and hands back from eight on: its own case.)
EVERY_RUN = frozenset({PAYMENTS})


@dataclasses.dataclass(frozen=True)
class Case:
    """A design whose whole runs the two paths must give alike.

    Attributes:
        name: The test's id.
        scenario: The bundled scenario's file name (without ``.toml``).
        overrides: Dotted-path overrides of it.
        seeds: The seeds run (the events and hand-backs are those of all of them).
        events: Substrings of log messages the runs must hold (the hand-back really ran).
        handbacks: Hand-backs the compiled runs must make (besides :data:`EVERY_RUN`).
    """

    name: str
    scenario: str
    overrides: dict[str, Any]
    seeds: tuple[int, ...] = (0, 1)
    events: tuple[str, ...] = ()
    handbacks: frozenset[str] = frozenset()


_REVIEWED = ("renewed for",)
_SHIPPED_EVENTS = {
    "default": (*_REVIEWED, "needs revisited", "policy change won", "left the partnership"),
    "equity_engagement": (*_REVIEWED, "needs revisited", "policy change won"),
    "funding_cliff": ("funding cliff", "ended its funding", "left the partnership"),
    "nciom_phases": (*_REVIEWED, "policy change won"),
    "no_backbone": (*_REVIEWED, "left the partnership", "stopped its grant on leaving"),
    "thin_measurement": (*_REVIEWED, "ended its funding", "left the partnership"),
}
_HANDBACKS_OF_EVENT = {"renewed for": REVIEW, "ended its funding": REVIEW,
                       "funding cliff": REVIEW, "stopped its grant on leaving": REVIEW,
                       "needs revisited": REDESIGN, "policy change won": POLICY_WIN,
                       "left the partnership": EXITS}


def _case(name: str, scenario: str, overrides: dict[str, Any], events: Iterable[str] = (),
          seeds: tuple[int, ...] = (0, 1), handbacks: Iterable[str] = ()) -> Case:
    events = tuple(events)
    return Case(name, scenario, {**SMALL, **overrides}, seeds, events,
                frozenset(_HANDBACKS_OF_EVENT[e] for e in events) | frozenset(handbacks))


CASES = [
    # the six shipped scenarios over their ten years (Re-design comes after year five)
    *(_case(stem, stem, {}, events) for stem, events in _SHIPPED_EVENTS.items()),
    # the money: a cliff, renewals that mostly fail, unconditional renewals
    _case("cliff at 1.5 years", "default",
          {"horizon_years": 3.0, "funding.max_years": 1.5}, ["funding cliff"]),
    _case("renewals conditional, rarely given", "default",
          {"horizon_years": 4.0, "funding.conditional_on_results": True,
           "funding.renewal_base_probability": 0.1, "funding.renewal_per_point": 0.0,
           "funding.early_involvement_bonus": 0.0}, ["ended its funding", "renewed for"]),
    _case("renewals unconditional", "default",
          {"horizon_years": 4.0, "funding.conditional_on_results": False}, ["renewed for"]),
    # partners leaving: 8, 13 and 37 partners (a remainder in the pairwise sums' eight lanes,
    # or full lanes), and 128 (the compiled limit: the trust matrix's 16,384 doubles)
    _case("badly, 8 partners", "default",
          {**BADLY, "horizon_years": 4.0, "partner_generation.counts": {}},
          ["left the partnership", "stopped its grant on leaving"]),
    _case("badly, 13 partners", "default",
          {**BADLY, "horizon_years": 4.0, "partner_generation.counts": {"nonprofit": 5}},
          ["left the partnership"]),
    _case("badly, 37 partners", "default",
          {**BADLY, "horizon_years": 4.0, "partner_generation.counts": {"nonprofit": 29}},
          ["left the partnership"]),
    _case("badly, 128 partners", "default",
          {**BADLY, "horizon_years": 3.0, "partner_generation.counts": {"nonprofit": 120}},
          ["left the partnership"], seeds=(0,)),
    # meetings
    *(_case(f"meetings {cadence}", "default",
            {"horizon_years": 3.0, "meetings.cadence": cadence}, ["renewed for"])
      for cadence in ("none", "weekly", "monthly", "quarterly")),
    _case("meetings without agenda work", "default",
          {"horizon_years": 3.0, "meetings.agenda_work": False}, ["renewed for"]),
    _case("measurement not shared", "default",
          {"horizon_years": 3.0, "measurement.shared": False}, ["renewed for"]),
    _case("isolated", "default", {"horizon_years": 3.0, "isolated": True}, ["renewed for"]),
    # the phases: gated and graded effects, both phase models, a fast Re-design
    _case("refined, gated", "default", {"phases.effect": "gated"},
          ["needs revisited", "policy change won"]),
    _case("nciom, gated", "nciom_phases", {"phases.effect": "gated"}, ["policy change won"]),
    _case("nciom, graded", "nciom_phases", {"horizon_years": 6.0, "phases.effect": "graded"},
          ["policy change won"]),
    _case("Re-design early and often", "default",
          {"horizon_years": 6.0, "phases.run_years_before_redesign": 0.5,
           "phases.min_initiation_years": 0.25, "phases.redesign_years": 0.25},
          ["needs revisited"]),
    # persistence, policy wins, the other trust rule
    _case("lock in", "default", {"dynamics.persistence": "lock_in"},
          ["needs revisited", "policy change won"]),
    _case("fade, faster", "default",
          {"horizon_years": 6.0, "dynamics.persistence": "fade",
           "dynamics.fade_rate_per_year": 2.0, "funding.max_years": 3.0},
          ["funding cliff"]),
    _case("policy wins often", "default",
          {"horizon_years": 6.0, "dynamics.policy_change_rate_per_year": 52.0},
          ["policy change won"]),
    _case("Pant and Yu's trust rule", "default",
          {"horizon_years": 4.0, "dynamics.trust_rule": "pant_yu"}, ["renewed for"]),
    # eight strategy areas: the plans are fitted in numpy, so the re-plan hands back
    _case("eight strategy areas", "default",
          {"horizon_years": 2.0, "strategy_areas": [f"area {k}" for k in range(8)],
           "partners": [], "partner_generation.profiles": {},
           "partner_generation.counts": {"nonprofit": 9, "public": 4}}, handbacks=[REPLAN]),
]


def test_the_cases_cover_every_handback():
    """Between them the cases ask for every reason the week hands back to Python.

    (A guard against a case being dropped: each case checks its own hand-backs.)
    """
    asked = set(EVERY_RUN).union(*(case.handbacks for case in CASES))
    assert asked >= {REVIEW, PAYMENTS, REDESIGN, REPLAN, POLICY_WIN, EXITS}


def _scenario(case: Case) -> Scenario:
    return Scenario.load(BUNDLED_SCENARIOS / f"{case.scenario}.toml").with_overrides(
        case.overrides)


def _run_both(sc: Scenario, seed: int, monkeypatch: pytest.MonkeyPatch
              ) -> tuple[SimulationResult, SimulationResult, _WeekSpy]:
    """The run compiled, the run one by one, and what the compiled week did.

    Checks that the compiled run called the compiled week every week and the other never.
    """
    spy = _WeekSpy(week_module.week_rule)
    with monkeypatch.context() as m:
        m.setattr(week_module, "week_rule", spy)
        assert CollectiveImpactModel(sc, rng=seed)._week is not None
        compiled = simulate(sc, seed)
        assert spy.weeks == sc.steps, "the compiled week did not run every week"
        m.setattr(week_module, "USE_COMPILED_WEEK", False)
        assert CollectiveImpactModel(sc, rng=seed)._week is None
        calls = spy.returns.total()
        reference = simulate(sc, seed)
        assert spy.returns.total() == calls, "the one-by-one run called the compiled week"
    return compiled, reference, spy


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_run_with_the_compiled_week_is_the_run_mechanism_by_mechanism(
        case: Case, monkeypatch: pytest.MonkeyPatch):
    """Whole runs of the compiled week equal those stepping each mechanism, bit for bit.

    Every frame of the result (trajectory, subgroups, partners, partner values, events,
    phases, costs) and the summary. The case's events show that the Python it is there for
    (a review, the cliff, Re-design, a policy win, an exit) ran, and the compiled week's
    returns that it handed back for them.
    """
    sc = _scenario(case)
    messages: set[str] = set()
    handbacks: set[str] = set()
    for seed in case.seeds:
        compiled, reference, spy = _run_both(sc, seed, monkeypatch)
        _assert_results_identical(compiled, reference, f"{case.name}, seed {seed}")
        messages.update(compiled.events["message"])
        handbacks |= spy.handbacks()
    for event in case.events:
        assert any(event in message for message in messages), f"no {event!r} in the runs"
    missing = (EVERY_RUN | case.handbacks) - handbacks
    assert not missing, f"the compiled week never handed back for {sorted(missing)}"


# ---- models without a compiled week ----------------------------------------------------------


class _CountedValue(PartnerValue):
    """The partners' value, counting its steps (a mechanism that is not a default one)."""

    steps_taken = 0

    def step(self, model, world) -> None:
        self.steps_taken += 1
        super().step(model, world)


def _finish(model: CollectiveImpactModel) -> SimulationResult:
    while model.running:
        model.step()
    return result_of(model)


@pytest.fixture(scope="module")
def badly(default_scenario: Scenario) -> Scenario:
    """Two years of a partnership that loses partners (the value step matters)."""
    return default_scenario.with_overrides({**SMALL, **BADLY, "horizon_years": 2.0})


def test_a_subclass_among_the_mechanisms_gets_no_compiled_week_and_the_same_numbers(
        badly: Scenario):
    """A default list with one mechanism replaced by a subclass steps one by one.

    The subclass does what its base does, so the run is the compiled run, bit for bit.
    """
    mechanisms = DEFAULT_MECHANISMS()
    counted = mechanisms[M_VALUE] = _CountedValue()
    model = CollectiveImpactModel(badly, rng=4, mechanisms=mechanisms)
    assert model._week is None
    result = _finish(model)
    assert counted.steps_taken == 2 * badly.steps  # both worlds, every week
    assert result.events["message"].str.contains("left the partnership").any()
    compiled = simulate(badly, 4)
    _assert_results_identical(compiled, result, "a subclass among the mechanisms")


def test_reordered_mechanisms_get_no_compiled_week_and_run(default_scenario: Scenario):
    """The default mechanisms in another order step one by one, every one every week."""
    sc = default_scenario.with_overrides({**SMALL, "horizon_years": 1.0})
    mechanisms = DEFAULT_MECHANISMS()
    mechanisms[M_VALUE] = _CountedValue()
    mechanisms[M_COMMUNICATION], mechanisms[M_AGENDA] = (mechanisms[M_AGENDA],
                                                         mechanisms[M_COMMUNICATION])
    model = CollectiveImpactModel(sc, rng=2, mechanisms=mechanisms)
    assert model._week is None
    result = _finish(model)
    assert model.steps == sc.steps
    assert mechanisms[M_VALUE].steps_taken == 2 * sc.steps
    assert len(result.trajectory) == sc.steps + 1
    assert np.isfinite(result.trajectory["trust"].to_numpy()).all()
    assert result.trajectory["trust"].iloc[-1] > 0.0  # the meetings ran


#: A backbone paid 0.867 of its budget in the first year and in full after (its figures change
#: at week 52: switching at week 51, the first week one by one has the inputs of the set-up,
#: whose figures the compiled weeks overwrote).
THIN_FIRST_YEAR = {**SMALL, "horizon_years": 1.5, "backbone.budget_per_year": 1.5e6}


@pytest.mark.parametrize(("design", "switch"), [("badly", None), ("thin first year", 51)])
def test_mechanisms_replaced_after_construction_step_one_by_one(
        design: str, switch: int | None, badly: Scenario, default_scenario: Scenario,
        monkeypatch: pytest.MonkeyPatch):
    """Mechanisms replaced mid-run are no longer served by the week made for the old ones.

    The value mechanism is replaced mid-run by a counting copy of itself (the same state):
    the week no longer serves the model, the model steps one by one from then on (the copy
    steps every week after, the compiled week no more), and the run is the compiled run bit
    for bit. With a backbone whose funding changes after the switch, to the share it had at
    set-up (its memory of the inputs must not survive the compiled weeks).
    """
    sc = badly if design == "badly" else default_scenario.with_overrides(THIN_FIRST_YEAR)
    spy = _WeekSpy(week_module.week_rule)
    monkeypatch.setattr(week_module, "week_rule", spy)
    model = CollectiveImpactModel(sc, rng=4)
    week = model._week
    assert week is not None and week.serves(model)
    if switch is None:
        switch = sc.steps // 2
    for _ in range(switch):
        model.step()
    assert spy.weeks == switch
    counted = copy.copy(model.mechanisms[M_VALUE])
    counted.__class__ = _CountedValue
    model.mechanisms = [*model.mechanisms[:M_VALUE], counted]
    assert not week.serves(model)
    result = _finish(model)
    assert spy.weeks == switch  # no compiled week after the switch
    assert counted.steps_taken == 2 * (sc.steps - switch)
    monkeypatch.undo()
    reference = simulate(sc, 4)
    funded = reference.trajectory["backbone_capacity"].to_numpy()
    if design != "badly":  # the backbone's capacity changed after the switch
        assert funded[switch] != funded[-1]
    _assert_results_identical(reference, result, "mechanisms replaced mid-run")


def test_no_compiled_week_for_another_phase_model_class_or_a_coordinating_counterfactual(
        default_scenario: Scenario):
    """The week reads the phase through PhaseModel's own methods and only the factual
    world's phase and draws: a subclass of the phase model, or a counterfactual that is not
    isolated, gets no compiled week."""
    from cisim.phases import PhaseModel

    sc = default_scenario.with_overrides({**SMALL, "horizon_years": 1.0})
    model = CollectiveImpactModel(sc, rng=1)
    assert week_module.CompiledWeek.of(model, model.population) is not None

    class Phases(PhaseModel):
        pass

    model.phase_model.__class__ = Phases
    assert week_module.CompiledWeek.of(model, model.population) is None
    model.phase_model.__class__ = PhaseModel
    model.counterfactual.isolated = False
    assert week_module.CompiledWeek.of(model, model.population) is None


@pytest.mark.parametrize(("generated", "compiled"), [(120, True), (121, False), (122, False)])
def test_above_the_compiled_limits_there_is_no_compiled_week(
        default_scenario: Scenario, generated: int, compiled: bool):
    """Up to MAX_PAIRWISE (128) partners the week is compiled; above, one by one (and runs)."""
    sc = default_scenario.with_overrides({
        **SMALL, "horizon_years": 1.0, "partner_generation.counts": {"nonprofit": generated}})
    model = CollectiveImpactModel(sc, rng=1)
    assert model.factual.partners.n == 8 + generated
    assert (model.factual.partners.n <= MAX_PAIRWISE) == compiled
    assert (model._week is not None) == compiled
    if not compiled:
        result = _finish(model)
        assert len(result.trajectory) == sc.steps + 1
        assert np.isfinite(result.trajectory["outcome_rate"].to_numpy()).all()


# ---- the compiled helpers against their numpy twins ------------------------------------------


@numba.njit
def _pairwise_long(a, n):
    return pairwise_long(a, n)


@numba.njit
def _compiled_mean_trust(trust, active, flat):
    return mean_trust(trust, active, flat)


@numba.njit
def _compiled_data_practice(data_maturity, active, flat):
    return data_practice(data_maturity, active, flat)


@numba.njit
def _compiled_past_rate(history, step):
    return past_rate_rule(history, step)


def _exact_bits(x: float) -> bytes:
    return struct.pack("<d", x)


def _values(rng: np.random.Generator, size: int, kind: int) -> np.ndarray:
    """Doubles of one of several kinds: magnitudes and signs spread wide, or not."""
    if kind == 0:  # both signs, magnitudes over 30 orders
        return rng.standard_normal(size) * 10.0 ** rng.uniform(-15, 15, size)
    if kind == 1:  # in [0, 1)
        return rng.random(size)
    if kind == 2:  # large values that cancel, and small ones the cancelling loses
        big = rng.choice([1e16, -1e16, 3e15, -3e15], size)
        return big + rng.uniform(-1.0, 1.0, size)
    if kind == 3:  # whole numbers, signed zeros among them
        values = rng.integers(-3, 4, size).astype(float)
        values[rng.random(size) < 0.2] = -0.0
        return values
    return rng.standard_normal(size) * 1e300 / max(size, 1)  # near the top of the range


_LENGTHS = sorted({0, 1, 2, 7, 8, 9, 15, 16, 17, 63, 64, 65, 127, 128, 129, 130, 135, 136,
                   137, 255, 256, 257, 511, 512, 513, 1000, 1023, 1024, 1025, 4095, 4096, 4097,
                   8191, 8192, 8193, 8200, 12345, 16383, 16384, 16385, 16900, 20000,
                   *np.random.default_rng(11).integers(0, 20001, 16).tolist()})


@pytest.mark.parametrize("length", _LENGTHS)
def test_pairwise_long_is_numpys_sum(length: int):
    """``pairwise_long(a, n)`` is ``np.add.reduce(a[:n])`` bit for bit, at any length.

    Lengths about the leaves (128), the halvings, numpy's buffer (8,192) and 128 x 128;
    ``a`` longer than ``n`` too (only the first ``n`` are read).
    """
    rng = np.random.default_rng(length)
    for kind in range(5):
        a = _values(rng, length + int(rng.integers(0, 3)) * 17, kind)
        expected = float(np.add.reduce(a[:length]))
        got = _pairwise_long(a, length)
        assert _exact_bits(got) == _exact_bits(expected), (length, kind, got, expected)
        # the whole of a contiguous slice of another array
        b = _values(rng, length + 9, kind)[9:]
        assert _exact_bits(_pairwise_long(b, length)) == _exact_bits(
            float(np.add.reduce(b))), (length, kind)


@cache
def _world_of(n: int) -> World:
    """A world of ``n`` generated partners (shared: each test sets the arrays it reads)."""
    sc = Scenario.load(BUNDLED_SCENARIOS / "default.toml").with_overrides(
        {"partners": [], "partner_generation.counts": {"nonprofit": n}})
    return World(isolated=False, partners=build_partners(sc, np.random.default_rng(n)),
                 n_areas=len(sc.strategy_areas))


def _active_sets(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    """All active, none, one, two, and random subsets."""
    sets = [np.ones(n, bool), np.zeros(n, bool)]
    for count in {1, min(2, n)}:
        one = np.zeros(n, bool)
        one[rng.choice(n, count, replace=False)] = True
        sets.append(one)
    sets += [rng.random(n) < p for p in (0.1, 0.5, 0.9, 0.97)]
    all_but_one = np.ones(n, bool)
    all_but_one[rng.integers(n)] = False
    return [*sets, all_but_one]


@pytest.mark.parametrize("n", [2, 3, 5, 8, 9, 11, 12, 16, 17, 33, 64, 90, 127, 128])
def test_mean_trust_is_the_numpy_mean_trust(n: int):
    """``mean_trust`` is the communication's numpy ``_mean_trust(world)`` bit for bit.

    On random trust matrices (a zero diagonal, values of several magnitudes, some exactly 0
    or 1), with all partners active, none, one, two, all but one and random subsets.
    """
    world = _world_of(n)
    rng = np.random.default_rng(100 + n)
    for trial in range(6):
        trust = rng.random((n, n))
        if trial % 2:
            trust = trust ** 8  # magnitudes spread wide
        if trial % 3 == 2:
            trust[rng.random((n, n)) < 0.3] = rng.choice([0.0, 1.0])
        np.fill_diagonal(trust, 0.0)
        world.trust[...] = trust
        for active in _active_sets(rng, n):
            world.active[...] = active
            flat = np.full(n * n, math.nan)  # scratch: only what is gathered is read
            expected = _mean_trust(world)
            got = _compiled_mean_trust(world.trust, world.active, flat)
            assert _exact_bits(got) == _exact_bits(expected), (n, trial, active.sum())
            if active.sum() < 2:
                assert got == 0.0


def _with_maturity(world: World, maturity: np.ndarray) -> World:
    world.partners = dataclasses.replace(world.partners, data_maturity=maturity)
    return world


@pytest.mark.parametrize("n", [1, 2, 5, 8, 9, 16, 20, 37, 100, 127, 128])
def test_data_practice_is_the_numpy_data_practice(n: int):
    """``data_practice`` is the measurement's numpy ``_data_practice(world)`` bit for bit.

    The mean and the best maturity of the active partners: nobody active (both 0), one, all,
    random subsets; maturities with ties and exact 0 and 1; a NaN maturity among the active
    (both NaN) and among the inactive only (no NaN).
    """
    world = _world_of(n)
    rng = np.random.default_rng(200 + n)
    for trial in range(8):
        maturity = rng.random(n)
        if trial % 4 == 1:  # ties, and the ends of [0, 1]
            maturity = rng.choice([0.0, 0.25, 0.5, 1.0], n)
        for active in _active_sets(rng, n):
            values = maturity.copy()
            nan_among = None
            if trial >= 4 and active.any():  # a NaN among the active, or the inactive
                nan_among = bool(trial % 2) or active.all()
                pool = np.flatnonzero(active if nan_among else ~active)
                values[rng.choice(pool)] = math.nan
            _with_maturity(world, values)
            world.active[...] = active
            expected = _data_practice(world)
            got = _compiled_data_practice(values, world.active, np.full(n, math.nan))
            assert [_exact_bits(v) for v in got] == [_exact_bits(v) for v in expected], (
                n, trial, active.sum(), got, expected)
            if not active.any():
                assert got == (0.0, 0.0)
            elif nan_among:
                assert math.isnan(got[0]) and math.isnan(got[1])
            else:
                assert not (math.isnan(got[0]) or math.isnan(got[1]))


def test_data_practice_with_signed_zero_maturities_is_numpys_in_value():
    """Maturities of 0.0 and -0.0 only: the mean is numpy's bit for bit, the best its value.

    The best of tied zeros is the first active partner's (``>`` keeps it); numpy's max of
    tied zeros depends on its SIMD order (``max([-0.0] * 20 + [0.0])`` is +0.0,
    ``max([0.0] * 20 + [-0.0])`` is -0.0), so the sign can differ: equal as numbers only.
    A maturity of -0.0 can come only from a scenario that writes it.
    """
    world = _world_of(24)
    rng = np.random.default_rng(7)
    for _ in range(50):
        values = rng.choice([0.0, -0.0], 24)
        active = rng.random(24) < 0.7
        active[0] = True
        _with_maturity(world, values)
        world.active[...] = active
        (data, best), (data_np, best_np) = (
            _compiled_data_practice(values, active, np.full(24, math.nan)),
            _data_practice(world))
        assert _exact_bits(data) == _exact_bits(data_np)
        assert best == best_np == 0.0
        assert _exact_bits(best) == _exact_bits(float(values[np.flatnonzero(active)[0]]))


def _past_rate_reference(history: np.ndarray, step: int) -> float:
    """The rate after ``step`` clamped to [0, last]: the latest known (not NaN) up to it."""
    step = min(max(step, 0), len(history) - 1)
    while math.isnan(history[step]):
        step -= 1
    return float(history[step])


def test_past_rate_rule_is_the_latest_known_rate():
    """``past_rate_rule`` (compiled, and as the Python the population calls) is its definition.

    Random histories (the first week known, signed zeros among the rates) with NaN tails (the
    weeks not reached yet, none to all but the first) and sometimes NaN holes, at every step
    from before the first week to past the last.
    """
    as_python = getattr(past_rate_rule, "py_func", past_rate_rule)
    rng = np.random.default_rng(3)
    for trial in range(60):
        length = int(rng.integers(1, 120))
        history = rng.random(length)
        history[rng.random(length) < 0.1] = rng.choice([0.0, -0.0, 1.0])
        known = int(rng.integers(1, length + 1))
        history[known:] = math.nan
        if trial % 3 == 0 and known > 2:
            holes = rng.random(known) < 0.3
            holes[0] = False
            history[:known][holes] = math.nan
        for step in range(-3, length + 4):
            expected = _past_rate_reference(history, step)
            assert not math.isnan(expected)
            for got in (_compiled_past_rate(history, step), as_python(history, step)):
                assert _exact_bits(got) == _exact_bits(expected), (trial, step, got, expected)


@numba.njit
def _compiled_anyone_leaves(t, stream, params, low, commitment, active, satisfaction):
    return anyone_leaves(t, stream, params, low, commitment, active, satisfaction)


class _ExitContext:
    """The members of a run that the mechanism's exits read."""

    def __init__(self, sc: Scenario, seed: int, step: int) -> None:
        self.design = sc
        self.kseed = np.uint64(seed)
        self.steps = step


@pytest.mark.parametrize("n", [1, 5, 13, 40])
def test_the_compiled_exit_test_agrees_with_the_mechanisms_exits(
        default_scenario: Scenario, n: int):
    """``anyone_leaves`` is True exactly when the mechanism's ``_exits`` names someone.

    On random commitments about both exit thresholds (some NaN, some exactly at them),
    satisfactions, partners who already left, exit parameters (the hazard off, on, at its highest)
    and weeks, in the weeks the week's first test (``exits_possible``) lets through, as the
    compiled week asks it; and the draws are the mechanism's (a partner's draw at the week).
    """
    rng = np.random.default_rng(n)
    world = _world_of(n)
    asked = left = 0
    for trial in range(400):
        rate = float(rng.choice([0.0, 1.0, 26.0, 52.0]))
        min_s = float(rng.choice([0.0, 0.3, 0.6]))
        min_c = float(rng.choice([0.0, 0.2, 0.4]))
        sc = default_scenario.with_overrides({
            "dynamics.exit_rate_per_year": rate, "dynamics.exit_satisfaction": min_s,
            "dynamics.exit_commitment": min_c})
        commitment = rng.uniform(0.0, 0.5, n)
        commitment[rng.random(n) < 0.1] = rng.choice([0.1, min_c, math.nan])
        satisfaction = rng.uniform(0.0, 1.0, n)
        active = rng.random(n) < 0.8
        world.commitment = commitment
        world.active = active
        low = float(np.minimum.reduce(commitment))
        if not exits_possible(low, min_c):
            continue
        asked += 1
        seed, step = int(rng.integers(1, 2**31)), int(rng.integers(1, 600))
        context = _ExitContext(sc, seed, step)
        hazard_on = min_c > 0 and low < min_c
        expected = bool(_exits(context, world, satisfaction, hazard_on))
        left += expected
        got = _compiled_anyone_leaves(step, exit_stream(np.uint64(seed)), value_params(sc),
                                      low, commitment, active, satisfaction)
        assert bool(got) == expected, (trial, commitment, active, satisfaction)
    assert asked > 100 and 0 < left < asked  # both answers were asked for
