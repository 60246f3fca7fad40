"""The reduced validation study (experiments/validation): patterns that hold must keep holding.

Runs a small sample of the study's population of initiatives (Latin hypercube over the design
space of ``experiments/validation/designs.py``) through :mod:`cisim.sweep` and checks the
patterns with the criteria of their sources (ORS Impact 2018; Kania & Kramer 2011,
Kania & Kramer 2011). Only patterns the full study reproduces are asserted; the others are
documented as not reproduced in docs/validation.md. Assertions use each pattern's own criterion,
never numbers copied from a run; where the reduced sample is too small for the source's criterion
(the five conditions, "many take longer"), the test asks that the sample does not contradict it (its
95% interval reaches the criterion).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from experiments.validation import patterns as pat
from experiments.validation.designs import DIMENSIONS, NAMES, design_overrides
from experiments.validation.study import StudyConfig, run_study


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("validation")
    return run_study(out, StudyConfig(designs=32, paired_designs=4, seed=7, jobs=2))


def test_designs_cover_the_documented_space() -> None:
    rng = np.random.default_rng(0)
    seen_backbone, seen_cadence, totals = set(), set(), []
    for _ in range(200):
        o = design_overrides({n: rng.random() for n in NAMES})
        seen_backbone.add(o["backbone.present"])
        seen_cadence.add(o["meetings.cadence"])
        totals.append(sum(o["partner_generation.counts"].values()))
        assert 0 <= o["engagement.equity_focus"] <= 1
        for s in o["funding.streams"]:
            assert 1 <= s["years"] <= 5
    assert seen_backbone == {True, False}
    assert seen_cadence == {"weekly", "biweekly", "monthly", "quarterly", "none"}
    assert min(totals) >= 6 and max(totals) <= 40
    assert all(d.source for d in DIMENSIONS)


def test_study_runs_every_design(study) -> None:
    assert len(study.population) == 32
    assert len(study.paired) == 4
    assert np.isfinite(study.population["pc@10"]).all()


def test_most_initiatives_with_the_five_conditions_change(study) -> None:
    """ORS Impact 2018: 20 of 25 sites with the five conditions showed population change.

    The reduced sample holds few such initiatives, so the test asks that it does not contradict
    the pattern: its interval overlaps the interval of ORS's 20/25, and initiatives with the
    five conditions change at least as often as those without.
    """
    r = pat.p_five_conditions(study)
    assert r.n > 0
    ors_low, ors_high = pat.share_ci(20, 25)
    assert r.interval[1] >= ors_low and r.interval[0] <= ors_high, r
    assert r.value >= r.details["share_without"], r


def test_many_take_much_longer_than_three_years(study) -> None:
    """ORS Impact 2018: many sites with population change had run much longer than three years."""
    r = pat.p_many_take_longer(study)
    assert r.n > 0
    assert r.interval[1] >= 0.25, r  # the reduced sample does not contradict 'many'


def test_failures_lack_backbone_or_common_agenda(study) -> None:
    """Kania & Kramer 2011; ORS Impact 2018: no backbone or common agenda, the commonest failure."""
    r = pat.p_failure_causes(study)
    assert r.holds, r


def test_systems_change_reaches_the_unserved(study) -> None:
    """ORS Impact 2018: population change reaches beyond the served through systems change."""
    r = pat.p_unserved(study)
    assert r.holds, r


def test_every_pattern_reports_value_interval_and_criterion(study) -> None:
    for r in pat.check_all(study):
        assert r.source and r.criterion and r.measure
        assert isinstance(r.holds, bool)
        lo, hi = r.interval
        if math.isfinite(r.value) and math.isfinite(lo) and math.isfinite(hi):
            assert lo <= r.value + 1e-9 or r.key == "meeting_intensity"
